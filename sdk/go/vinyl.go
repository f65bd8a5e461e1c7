package embly

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// vinylTarget is the spawn target prefix of the record service.
const vinylTarget = "embly/vinyl/"

// ErrConflict: an insert would break a unique index or reuse a primary key.
// The error is a *[VinylError] whose Field names the index's field.
var ErrConflict = errors.New("unique violation")

// Operations, formats and statuses of the embly/vinyl protocol (docs/abi.md).
const (
	vinylInsert      byte = 1
	vinylLoad        byte = 2
	vinylQuery       byte = 3
	vinylDelete      byte = 4
	vinylDeleteWhere byte = 5

	formatBinary byte = 0
	formatJSON   byte = 1

	vinylConflict byte = 5

	// maxVinylResponse bounds a response frame: a query's answer may hold
	// up to 16 MiB of records.
	maxVinylResponse = 16<<20 + 64<<10
)

// VinylDB is a record database of the project, declared in embly.hcl as
// `database "vinyl" "NAME" { definition = "data.proto" record "User" {...} }`.
// Get it with [Vinyl].
//
// Records are protobuf messages of the database's .proto. The host holds
// the descriptors, so a record travels either as JSON (protojson: the
// .proto's field names; 64-bit integers as strings, so tag them
// `json:",string"` in a Go struct) or as protobuf binary. The SDK has no
// protobuf dependency (builds of functions are offline, and
// google.golang.org/protobuf is not among what the embly binary carries):
// with a protoc-gen-go type, marshal it yourself:
//
//	b, _ := proto.Marshal(user)
//	stored, err := db.InsertProto("User", b)
//	proto.Unmarshal(stored, user) // now with its id
//
// or use the JSON methods with a plain Go struct:
//
//	type User struct {
//		ID    int64  `json:"id,string"`
//		Email string `json:"email"`
//	}
//	u := User{Email: "ada@example.com"}
//	err := db.Insert("User", &u) // u.ID is assigned
//
// A VinylDB talks to the host over one conn, spawned on first use and kept
// for the invocation; its methods may be called from several goroutines.
type VinylDB struct {
	name string

	mu sync.Mutex
	serviceConn
}

// Vinyl returns the record database name. It does not talk to the host: a
// database embly.hcl does not declare fails at the first call, with an
// error matching [ENOENT]. Vinyl may be called at package level.
func Vinyl(name string) *VinylDB {
	return &VinylDB{name: name, serviceConn: serviceConn{target: vinylTarget + name}}
}

// VinylError is the error of a request the host refused or failed.
type VinylError struct {
	DB      string // the database
	Op      string // "insert", "load", "query", "delete", "delete-where"
	Type    string // the record type
	Field   string // for ErrConflict: the field of the unique index
	Err     error  // ErrNotFound, ErrConflict, ErrTooLarge, ErrInvalid or ErrUnavailable
	Message string // the host's explanation
}

// Error says what failed and why.
func (e *VinylError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("embly: vinyl %q: %s %s: %s", e.DB, e.Op, e.Type, msg)
}

// Unwrap returns one of the package's Err values.
func (e *VinylError) Unwrap() error { return e.Err }

// Filter is a condition on records, built with [Eq], [Gt], [Lt], [Ge],
// [Le], [IsNull], [IsEmpty], [And], [Or] and [Not]. Fields are the
// record's scalar fields, by their .proto names.
type Filter struct{ m map[string]any }

// MarshalJSON writes the filter as the protocol has it.
func (f *Filter) MarshalJSON() ([]byte, error) { return json.Marshal(f.m) }

func cmpFilter(op, field string, v any) *Filter {
	return &Filter{map[string]any{"field": field, op: v}}
}

// Eq matches records whose field equals v.
func Eq(field string, v any) *Filter { return cmpFilter("eq", field, v) }

// Gt matches records whose field is greater than v.
func Gt(field string, v any) *Filter { return cmpFilter("gt", field, v) }

// Lt matches records whose field is less than v.
func Lt(field string, v any) *Filter { return cmpFilter("lt", field, v) }

// Ge matches records whose field is v or greater.
func Ge(field string, v any) *Filter { return cmpFilter("ge", field, v) }

// Le matches records whose field is v or less.
func Le(field string, v any) *Filter { return cmpFilter("le", field, v) }

// IsNull matches records whose field (one with presence: proto3 optional)
// is unset.
func IsNull(field string) *Filter { return cmpFilter("null", field, true) }

// IsEmpty matches records whose field is unset or its zero value.
func IsEmpty(field string) *Filter { return cmpFilter("empty", field, true) }

// And matches records that match every filter.
func And(fs ...*Filter) *Filter { return &Filter{map[string]any{"and": fs}} }

// Or matches records that match any filter.
func Or(fs ...*Filter) *Filter { return &Filter{map[string]any{"or": fs}} }

// Not matches records that f does not.
func Not(f *Filter) *Filter { return &Filter{map[string]any{"not": f}} }

// Query selects records: those Filter matches (nil: all), ordered by
// OrderBy (the primary key when empty, else an indexed field), at most
// Limit (0: 100; at most 1000) after skipping Skip.
type Query struct {
	Filter  *Filter `json:"filter,omitempty"`
	OrderBy string  `json:"order_by,omitempty"`
	Desc    bool    `json:"desc,omitempty"`
	Limit   int     `json:"limit,omitempty"`
	Skip    int     `json:"skip,omitempty"`
}

// Insert stores record, a value encoding/json turns into the record type's
// JSON, and fills record (a pointer) with the record as stored: with its
// key when it was assigned.
func (d *VinylDB) Insert(typ string, record any) error {
	js, err := json.Marshal(record)
	if err != nil {
		return &VinylError{DB: d.name, Op: "insert", Type: typ, Err: ErrInvalid, Message: err.Error()}
	}
	stored, err := d.InsertJSON(typ, js)
	if err != nil {
		return err
	}
	return d.unmarshal("insert", typ, stored, record)
}

// InsertJSON stores a record given as protojson and returns it as stored,
// in JSON.
func (d *VinylDB) InsertJSON(typ string, record []byte) ([]byte, error) {
	return d.insert(typ, formatJSON, record)
}

// InsertProto stores a record given as protobuf binary and returns it as
// stored, in protobuf binary.
func (d *VinylDB) InsertProto(typ string, record []byte) ([]byte, error) {
	return d.insert(typ, formatBinary, record)
}

func (d *VinylDB) insert(typ string, format byte, record []byte) ([]byte, error) {
	p, err := d.do(vinylInsert, format, typ, record)
	if err != nil {
		return nil, err
	}
	if len(p) < 4 || uint64(binary.BigEndian.Uint32(p)) > uint64(len(p)-4) {
		return nil, d.malformed("insert", typ)
	}
	return p[4+binary.BigEndian.Uint32(p):], nil
}

// Load finds the record of type typ whose primary key is key and decodes
// its JSON into record (a pointer). A missing one is an error matching
// [ErrNotFound].
func (d *VinylDB) Load(typ string, key, record any) error {
	js, err := d.LoadJSON(typ, key)
	if err != nil {
		return err
	}
	return d.unmarshal("load", typ, js, record)
}

// LoadJSON returns the record with primary key key as JSON.
func (d *VinylDB) LoadJSON(typ string, key any) ([]byte, error) {
	return d.keyed(vinylLoad, formatJSON, "load", typ, key)
}

// LoadProto returns the record with primary key key as protobuf binary.
func (d *VinylDB) LoadProto(typ string, key any) ([]byte, error) {
	return d.keyed(vinylLoad, formatBinary, "load", typ, key)
}

func (d *VinylDB) keyed(op, format byte, name, typ string, key any) ([]byte, error) {
	k, err := json.Marshal(key)
	if err != nil {
		return nil, &VinylError{DB: d.name, Op: name, Type: typ, Err: ErrInvalid, Message: err.Error()}
	}
	return d.do(op, format, typ, k)
}

// Query decodes the records q selects into records, a pointer to a slice.
func (d *VinylDB) Query(typ string, q Query, records any) error {
	list, err := d.QueryJSON(typ, q)
	if err != nil {
		return err
	}
	arr := append([]byte{'['}, bytes.Join(list, []byte{','})...)
	return d.unmarshal("query", typ, append(arr, ']'), records)
}

// QueryJSON returns the records q selects, each as JSON.
func (d *VinylDB) QueryJSON(typ string, q Query) ([][]byte, error) {
	return d.query(typ, formatJSON, q)
}

// QueryProto returns the records q selects, each as protobuf binary.
func (d *VinylDB) QueryProto(typ string, q Query) ([][]byte, error) {
	return d.query(typ, formatBinary, q)
}

func (d *VinylDB) query(typ string, format byte, q Query) ([][]byte, error) {
	js, err := json.Marshal(q)
	if err != nil {
		return nil, &VinylError{DB: d.name, Op: "query", Type: typ, Err: ErrInvalid, Message: err.Error()}
	}
	p, err := d.do(vinylQuery, format, typ, js)
	if err != nil {
		return nil, err
	}
	if len(p) < 4 {
		return nil, d.malformed("query", typ)
	}
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	out := make([][]byte, 0, min(n, 1000))
	for range n {
		if len(p) < 4 || uint64(binary.BigEndian.Uint32(p)) > uint64(len(p)-4) {
			return nil, d.malformed("query", typ)
		}
		l := binary.BigEndian.Uint32(p)
		out = append(out, p[4:4+l:4+l])
		p = p[4+l:]
	}
	return out, nil
}

// Delete removes the record with primary key key and says whether there
// was one.
func (d *VinylDB) Delete(typ string, key any) (bool, error) {
	p, err := d.keyed(vinylDelete, formatJSON, "delete", typ, key)
	if err != nil {
		return false, err
	}
	if len(p) != 8 {
		return false, d.malformed("delete", typ)
	}
	return binary.BigEndian.Uint64(p) > 0, nil
}

// DeleteWhere removes the records f matches (nil: every record of the
// type) and returns how many.
func (d *VinylDB) DeleteWhere(typ string, f *Filter) (int64, error) {
	js, err := json.Marshal(Query{Filter: f})
	if err != nil {
		return 0, &VinylError{DB: d.name, Op: "delete-where", Type: typ, Err: ErrInvalid, Message: err.Error()}
	}
	p, err := d.do(vinylDeleteWhere, formatJSON, typ, js)
	if err != nil {
		return 0, err
	}
	if len(p) != 8 {
		return 0, d.malformed("delete-where", typ)
	}
	return int64(binary.BigEndian.Uint64(p)), nil
}

func (d *VinylDB) unmarshal(op, typ string, js []byte, v any) error {
	if err := json.Unmarshal(js, v); err != nil {
		return &VinylError{DB: d.name, Op: op, Type: typ, Err: ErrInvalid,
			Message: fmt.Sprintf("decoding the record's JSON: %v (tag 64-bit integers `json:\",string\"`)", err)}
	}
	return nil
}

func (d *VinylDB) malformed(op, typ string) error {
	return &VinylError{DB: d.name, Op: op, Type: typ, Err: ErrUnavailable, Message: "malformed response from the host"}
}

// do sends one request and returns the payload of an ok answer.
func (d *VinylDB) do(op, format byte, typ string, rest []byte) ([]byte, error) {
	name := [...]string{"", "insert", "load", "query", "delete", "delete-where"}[op]
	req := make([]byte, 0, 10+len(typ)+len(rest))
	req = append(req, 0, 0, 0, 0, op, format)
	req = appendField(req, typ)
	req = append(req, rest...)
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))

	d.mu.Lock()
	defer d.mu.Unlock()
	conn, err := d.connect()
	if err != nil {
		return nil, err
	}
	status, payload, err := roundTripMax(conn, req, maxVinylResponse)
	if err != nil {
		d.drop()
		return nil, fmt.Errorf("embly: vinyl %q: %s %s: %w", d.name, name, typ, err)
	}
	if status == kvOK {
		return payload, nil
	}
	e := &VinylError{DB: d.name, Op: name, Type: typ, Message: string(payload), Err: statusErr(status)}
	if status == vinylConflict {
		e.Err = ErrConflict
		if len(payload) >= 4 && uint64(binary.BigEndian.Uint32(payload)) <= uint64(len(payload)-4) {
			n := binary.BigEndian.Uint32(payload)
			e.Field, e.Message = string(payload[4:4+n]), string(payload[4+n:])
		}
	}
	return nil, e
}

// vinylSpawnReason explains an ENOENT from spawning embly/vinyl/NAME.
func vinylSpawnReason(target string) string {
	name := strings.TrimPrefix(target, vinylTarget)
	return fmt.Sprintf("no vinyl database %q in embly.hcl; declare it with database \"vinyl\" %q { definition = \"data.proto\" record \"MESSAGE\" { primary_key = \"id\" } }", name, name)
}
