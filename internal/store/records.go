package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors of the record operations, beside ErrNotFound, ErrTooLarge and
// ErrInvalid.
var (
	// ErrConflict: an insert would break a unique index or reuse a primary
	// key. The error is a *ConflictError that names the field.
	ErrConflict = errors.New("unique violation")
	// ErrSchemaChanged: the record types declared in embly.hcl and the
	// .proto differ from the ones applied to the store in a way that needs
	// `embly db migrate`.
	ErrSchemaChanged = errors.New("the schema changed")
)

// ConflictError is the error of an insert that breaks a unique index.
type ConflictError struct {
	Type  string // the record type
	Field string // the field of the unique index, or the primary key
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("unique violation: a %s with this %s exists", e.Type, e.Field)
}

// Unwrap makes the error match ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ColumnType is how a record field is kept in its column. Several protobuf
// types share one: every integer and enum is an Int (a 64-bit signed integer
// in both engines), float and double are Float.
type ColumnType string

// Column types.
const (
	Int   ColumnType = "int"
	Float ColumnType = "float"
	Text  ColumnType = "text"
	Bytes ColumnType = "bytes"
	Bool  ColumnType = "bool"
)

// Field is a record field kept in a column of its own, so queries can
// filter on it and indexes can cover it. Fields that are not scalars
// (messages, repeated, maps) live only in the record's encoded bytes.
type Field struct {
	Name   string     `json:"name"`
	Number int32      `json:"number"`
	Type   ColumnType `json:"type"`
	// Nullable is true for fields with presence (proto3 `optional`, proto2
	// fields): an unset one is NULL. Others are never NULL: an unset
	// proto3 field is its zero value.
	Nullable bool `json:"nullable,omitempty"`
}

// Index is an index on one field.
type Index struct {
	Field  string `json:"field"`
	Unique bool   `json:"unique,omitempty"`
}

// RecordType is one `record "NAME" { ... }` block, resolved against its
// message: a table in the store.
type RecordType struct {
	Name       string  `json:"name"`
	Message    string  `json:"message"` // the message's full name
	PrimaryKey string  `json:"primary_key"`
	AutoKey    bool    `json:"auto_key,omitempty"` // an integer key, assigned when zero
	Fields     []Field `json:"fields"`
	Indexes    []Index `json:"indexes,omitempty"`
	// Retired are fields that were declared once and no longer are: their
	// columns stay, and their numbers and names may not be reused with
	// another meaning. Only the applied schema has them.
	Retired []Field `json:"retired,omitempty"`
}

// Field returns the field named name, or nil.
func (t *RecordType) Field(name string) *Field {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// Index returns the index on field, or nil.
func (t *RecordType) Index(field string) *Index {
	for i := range t.Indexes {
		if t.Indexes[i].Field == field {
			return &t.Indexes[i]
		}
	}
	return nil
}

// Key returns the primary key's field.
func (t *RecordType) Key() *Field { return t.Field(t.PrimaryKey) }

// Schema is the record types of one vinyl database.
type Schema struct {
	Types []RecordType
}

// Type returns the record type named name, or nil.
func (s *Schema) Type(name string) *RecordType {
	for i := range s.Types {
		if s.Types[i].Name == name {
			return &s.Types[i]
		}
	}
	return nil
}

// Record is a record as the store keeps it: the encoded message and the
// values of its column fields (the primary key among them).
type Record struct {
	// Key is the primary key: int64, string, []byte or bool.
	Key any
	// Values holds the column fields by name: int64, float64, string,
	// []byte, bool, or nil for an unset nullable field. Set on insert;
	// Load and Query leave it empty.
	Values map[string]any
	// Data is the record, encoded as protobuf binary.
	Data []byte
}

// Limits of the record store.
const (
	// MaxRecordBytes bounds an encoded record, like a kv value.
	MaxRecordBytes = 1 << 20
	// MaxQueryRecords bounds the records one query returns.
	MaxQueryRecords = 1000
	// DefaultQueryRecords is the limit of a query that sets none.
	DefaultQueryRecords = 100
	// MaxFilterNodes bounds the size of a filter.
	MaxFilterNodes = 256
)

// Records is one vinyl database. Implementations are safe for concurrent use.
type Records interface {
	// Insert adds rec as a new record of type typ and returns its primary
	// key. An integer key that is zero in a type with AutoKey is assigned.
	// A record whose key or unique field is taken fails with a
	// *ConflictError.
	Insert(ctx context.Context, typ string, rec Record) (key any, err error)
	// Load returns the record with primary key key, or ErrNotFound.
	Load(ctx context.Context, typ string, key any) (Record, error)
	// Query returns the records that match q.
	Query(ctx context.Context, typ string, q Query) ([]Record, error)
	// Delete removes the record with primary key key and says whether
	// there was one.
	Delete(ctx context.Context, typ string, key any) (bool, error)
	// DeleteWhere removes the records that match f (nil: every record)
	// and returns how many.
	DeleteWhere(ctx context.Context, typ string, f *Filter) (int64, error)
	// Count returns the number of records of type typ.
	Count(ctx context.Context, typ string) (int64, error)
}

// Filter operators.
const (
	OpAnd   = "and"
	OpOr    = "or"
	OpNot   = "not"
	OpEq    = "eq"
	OpGt    = "gt"
	OpLt    = "lt"
	OpGe    = "ge"
	OpLe    = "le"
	OpNull  = "null"  // the field is unset (only fields with presence can be)
	OpEmpty = "empty" // unset, or its zero value ("", 0, false, empty bytes)
)

// Filter is a condition on records: and/or/not of other filters, or a
// comparison of a field with a value.
type Filter struct {
	Op    string
	Field string
	Value any // for eq, gt, lt, ge, le: a value of the field's type
	Args  []*Filter
}

// Query selects records.
type Query struct {
	Filter *Filter // nil: every record
	// OrderBy is the primary key or an indexed field; "" is the primary key.
	OrderBy string
	Desc    bool
	Limit   int // 0: DefaultQueryRecords
	Skip    int
}

// TableName returns the table of record type typ of database db. Long names
// are cut and made unique with a hash, since PostgreSQL identifiers hold at
// most 63 bytes.
func TableName(db, typ string) string { return shortName("vinyl_" + db + "_" + typ) }

// IndexName returns the name of the index on field of table.
func IndexName(table, field string) string { return shortName(table + "__" + field) }

func shortName(s string) string {
	if len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:54] + "_" + hex.EncodeToString(sum[:4])
}

// Quote quotes an identifier for both SQL engines.
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// DataColumn is the column that holds the encoded record.
const DataColumn = "_embly_record"

// Coerce converts v to the Go value of a column of type typ: int64,
// float64, string, []byte or bool. It accepts what a JSON decoder yields
// (float64, json.Number, strings for 64-bit integers and base64 bytes, as
// protojson writes them) and the column types themselves.
func Coerce(typ ColumnType, v any) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("%w: %v (%T) is not a %s", ErrInvalid, v, v, typ)
	}
	switch typ {
	case Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		case uint64:
			return int64(x), nil
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<63 {
				return bad()
			}
			return int64(x), nil
		case json.Number:
			return parseInt(string(x), bad)
		case string:
			return parseInt(x, bad)
		}
	case Float:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case json.Number:
			if f, err := x.Float64(); err == nil {
				return f, nil
			}
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f, nil
			}
		}
	case Text:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Bytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return decodeBase64(x, bad)
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	}
	return bad()
}

func parseInt(s string, bad func() (any, error)) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return int64(u), nil // uint64 above 2^63 wraps, as it is stored
	}
	return bad()
}

// Zero returns the zero value of a column type.
func Zero(typ ColumnType) any {
	switch typ {
	case Int:
		return int64(0)
	case Float:
		return float64(0)
	case Text:
		return ""
	case Bytes:
		return []byte{}
	case Bool:
		return false
	}
	return nil
}

// IsZero reports whether v is the zero value of its column type (or nil).
func IsZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case int64:
		return x == 0
	case float64:
		return x == 0
	case string:
		return x == ""
	case []byte:
		return len(x) == 0
	case bool:
		return !x
	}
	return false
}
