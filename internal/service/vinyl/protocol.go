package vinyl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/embly/embly/internal/store"
)

// The wire protocol on a conn to embly/vinyl/NAME (docs/abi.md, "Record
// store"). It mirrors embly/kv's: frames of a 4-byte big-endian length and
// that many bytes, one response per request, in order.
//
// Request: op u8, format u8, type bytes (u32 length + the record type's
// name), then the rest of the frame, which depends on op.

// Operations, the first byte of a request.
const (
	OpInsert      byte = 1 // rest: the record, in format
	OpLoad        byte = 2 // rest: the primary key as a JSON value (42, "ada")
	OpQuery       byte = 3 // rest: a query as JSON (empty: every record, by key)
	OpDelete      byte = 4 // rest: the primary key as a JSON value
	OpDeleteWhere byte = 5 // rest: a query as JSON; only its filter counts ({} is every record)
)

// Formats of records, the second byte of a request.
const (
	FormatBinary byte = 0 // protobuf binary
	FormatJSON   byte = 1 // protojson: field names as in the .proto, unset fields included
)

// Statuses, the first byte of a response. After StatusOK comes the result;
// after StatusConflict the field (bytes) and a message; after any other, a
// UTF-8 message.
const (
	// StatusOK: insert: the key (bytes, as JSON) and the record as stored
	// (the rest, in format). load: the record. query: count u32 and count
	// records (bytes each). delete, delete-where: how many went, u64.
	StatusOK byte = 0
	// StatusNotFound: load of a missing key.
	StatusNotFound byte = 1
	// StatusTooLarge: a record, query or answer passes its limit.
	StatusTooLarge byte = 2
	// StatusBadRequest: a malformed frame, record or query; an unknown
	// record type or field.
	StatusBadRequest byte = 3
	// StatusUnavailable: the store failed; retrying later may work.
	StatusUnavailable byte = 4
	// StatusConflict: an insert broke a unique index or reused a key.
	StatusConflict byte = 5
)

// Limits of the protocol.
const (
	// MaxRequestBytes bounds a request frame: a record in JSON may be
	// larger than its binary form, which the store bounds at 1 MiB.
	MaxRequestBytes = 4 << 20
	// MaxResponseBytes bounds the records one query answer carries.
	MaxResponseBytes = 16 << 20
)

// Request is a decoded request frame.
type Request struct {
	Op     byte
	Format byte
	Type   string
	Body   []byte // the rest of the frame
}

var errMalformed = errors.New("malformed request")

// DecodeRequest parses a request frame's body. Body aliases body.
func DecodeRequest(body []byte) (Request, error) {
	if len(body) < 6 {
		return Request{}, fmt.Errorf("%w: a frame of %d bytes is too short", errMalformed, len(body))
	}
	r := Request{Op: body[0], Format: body[1]}
	if r.Op < OpInsert || r.Op > OpDeleteWhere {
		return Request{}, fmt.Errorf("%w: unknown operation %d; use 1 insert, 2 load, 3 query, 4 delete or 5 delete-where", errMalformed, r.Op)
	}
	if r.Format > FormatJSON {
		return Request{}, fmt.Errorf("%w: unknown format %d; use 0 protobuf binary or 1 JSON", errMalformed, r.Format)
	}
	n := binary.BigEndian.Uint32(body[2:])
	if uint64(len(body)-6) < uint64(n) {
		return Request{}, fmt.Errorf("%w: the record type's name ends past the frame", errMalformed)
	}
	r.Type = string(body[6 : 6+n])
	r.Body = body[6+n:]
	return r, nil
}

// AppendRequest appends r as a frame (length included) to b.
func AppendRequest(b []byte, r Request) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, r.Op, r.Format)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Type)))
	b = append(b, r.Type...)
	b = append(b, r.Body...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// jsonQuery is a query as the guest writes it:
//
//	{"filter": F, "order_by": "email", "desc": false, "limit": 10, "skip": 0}
//
// where F is one of
//
//	{"and": [F, ...]}  {"or": [F, ...]}  {"not": F}
//	{"field": "age", "eq" | "gt" | "lt" | "ge" | "le": VALUE}
//	{"field": "nick", "null": true}  {"field": "nick", "empty": true}
type jsonQuery struct {
	Filter  *jsonFilter `json:"filter"`
	OrderBy string      `json:"order_by"`
	Desc    bool        `json:"desc"`
	Limit   int         `json:"limit"`
	Skip    int         `json:"skip"`
}

type jsonFilter struct {
	And   []*jsonFilter `json:"and"`
	Or    []*jsonFilter `json:"or"`
	Not   *jsonFilter   `json:"not"`
	Field string        `json:"field"`
	Eq    any           `json:"eq"`
	Gt    any           `json:"gt"`
	Lt    any           `json:"lt"`
	Ge    any           `json:"ge"`
	Le    any           `json:"le"`
	Null  bool          `json:"null"`
	Empty bool          `json:"empty"`
}

// ParseQuery reads a query in JSON. Empty input is every record.
func ParseQuery(p []byte) (store.Query, error) {
	var q store.Query
	if len(bytes.TrimSpace(p)) == 0 {
		return q, nil
	}
	var jq jsonQuery
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(&jq); err != nil {
		return q, fmt.Errorf("%w: the query is not valid JSON of a query: %v", store.ErrInvalid, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return q, fmt.Errorf("%w: data after the query's JSON", store.ErrInvalid)
	}
	q.OrderBy, q.Desc, q.Limit, q.Skip = jq.OrderBy, jq.Desc, jq.Limit, jq.Skip
	if jq.Filter != nil {
		f, err := jq.Filter.filter()
		if err != nil {
			return q, err
		}
		q.Filter = f
	}
	return q, nil
}

func (j *jsonFilter) filter() (*store.Filter, error) {
	if j == nil {
		return nil, fmt.Errorf("%w: a null filter", store.ErrInvalid)
	}
	var set []*store.Filter
	add := func(f *store.Filter) { set = append(set, f) }
	sub := func(op string, list []*jsonFilter) error {
		f := &store.Filter{Op: op}
		for _, a := range list {
			sf, err := a.filter()
			if err != nil {
				return err
			}
			f.Args = append(f.Args, sf)
		}
		add(f)
		return nil
	}
	if j.And != nil {
		if err := sub(store.OpAnd, j.And); err != nil {
			return nil, err
		}
	}
	if j.Or != nil {
		if err := sub(store.OpOr, j.Or); err != nil {
			return nil, err
		}
	}
	if j.Not != nil {
		if err := sub(store.OpNot, []*jsonFilter{j.Not}); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		op string
		v  any
	}{{store.OpEq, j.Eq}, {store.OpGt, j.Gt}, {store.OpLt, j.Lt}, {store.OpGe, j.Ge}, {store.OpLe, j.Le}} {
		if c.v != nil {
			add(&store.Filter{Op: c.op, Field: j.Field, Value: c.v})
		}
	}
	if j.Null {
		add(&store.Filter{Op: store.OpNull, Field: j.Field})
	}
	if j.Empty {
		add(&store.Filter{Op: store.OpEmpty, Field: j.Field})
	}
	switch {
	case len(set) == 0:
		return nil, fmt.Errorf("%w: a filter needs and, or, not, or a field with eq, gt, lt, ge, le, null or empty", store.ErrInvalid)
	case len(set) == 1:
		return set[0], nil
	}
	// {"field": "age", "gt": 1, "lt": 9} is both.
	return &store.Filter{Op: store.OpAnd, Args: set}, nil
}

// ParseKey reads a primary key written as a JSON value.
func ParseKey(p []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: the key must be a JSON value (42, \"ada\"): %v", store.ErrInvalid, err)
	}
	switch v.(type) {
	case json.Number, string:
		return v, nil
	}
	return nil, fmt.Errorf("%w: the key must be a JSON number or string, not %s", store.ErrInvalid, p)
}

func appendBytes(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}
