package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// Dialect is what differs between the SQL engines for records: placeholders,
// column types, literals. Everything else (tables, queries, plans) is built
// here once, so the engines cannot drift apart.
type Dialect struct {
	// Placeholder returns the i-th (1-based) argument's placeholder.
	Placeholder func(int) string
	// Types maps column types to SQL types.
	Types map[ColumnType]string
	// Zeros maps column types to the SQL literal of their zero value.
	Zeros map[ColumnType]string
	// AutoKey is the column definition of an auto-assigned integer key.
	AutoKey string
	// Arg converts a column value to a driver argument (nil: unchanged).
	Arg func(any) any
	// ConcurrentIndexes says CREATE INDEX CONCURRENTLY exists: indexes on
	// existing tables are built without blocking writes.
	ConcurrentIndexes bool
	// AddColumnIfNotExists says ALTER TABLE ... ADD COLUMN IF NOT EXISTS
	// exists, so a plan half applied (a failed concurrent index build after
	// its columns were added) can simply run again.
	AddColumnIfNotExists bool
}

func (d Dialect) arg(v any) any {
	if d.Arg != nil {
		return d.Arg(v)
	}
	return v
}

// Engine is a SQL connection the shared record code runs statements on.
type Engine interface {
	// Exec runs a statement and returns the rows it affected.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	// Query runs a query whose rows are (key, data) and calls scan on each.
	Query(ctx context.Context, q string, args []any, scan func(key any, data []byte) error) error
	// Count runs a query of one integer.
	Count(ctx context.Context, q string, args ...any) (int64, error)
	// Conflict returns the column of a unique violation, if err is one.
	Conflict(err error) (column string, ok bool)
}

// SQLRecords implements Records for a SQL engine: one table per record
// type, one column per scalar field, the encoded record in DataColumn.
type SQLRecords struct {
	DB      string
	Schema  Schema
	Dialect Dialect
	// Write runs inserts and deletes; Read runs loads and queries.
	Write, Read Engine
}

func (r *SQLRecords) recordType(typ string) (*RecordType, string, error) {
	t := r.Schema.Type(typ)
	if t == nil {
		var names []string
		for _, t := range r.Schema.Types {
			names = append(names, fmt.Sprintf("%q", t.Name))
		}
		return nil, "", fmt.Errorf("%w: no record type %q in vinyl database %q (it has %s)", ErrInvalid, typ, r.DB, strings.Join(names, ", "))
	}
	return t, Quote(TableName(r.DB, t.Name)), nil
}

func (r *SQLRecords) key(t *RecordType, key any) (any, error) {
	v, err := Coerce(t.Key().Type, key)
	if err != nil {
		return nil, fmt.Errorf("the primary key %s: %w", t.PrimaryKey, err)
	}
	return v, nil
}

// Insert implements Records.
func (r *SQLRecords) Insert(ctx context.Context, typ string, rec Record) (any, error) {
	t, table, err := r.recordType(typ)
	if err != nil {
		return nil, err
	}
	if len(rec.Data) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: the record is %d bytes; the limit is %d", ErrTooLarge, len(rec.Data), MaxRecordBytes)
	}
	var cols, phs []string
	var args []any
	for _, f := range t.Fields {
		v, ok := rec.Values[f.Name]
		if f.Name == t.PrimaryKey {
			if rec.Key != nil {
				v, ok = rec.Key, true
			}
			if t.AutoKey && IsZero(v) {
				continue // the engine assigns it
			}
			if !ok || v == nil {
				return nil, fmt.Errorf("%w: the record has no primary key (%s)", ErrInvalid, t.PrimaryKey)
			}
		}
		switch {
		case !ok || v == nil:
			if !f.Nullable {
				v = Zero(f.Type)
			} else {
				v = nil
			}
		default:
			if v, err = Coerce(f.Type, v); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		cols = append(cols, Quote(f.Name))
		args = append(args, r.Dialect.arg(v))
		phs = append(phs, r.Dialect.Placeholder(len(args)))
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	cols = append(cols, Quote(DataColumn))
	args = append(args, data)
	phs = append(phs, r.Dialect.Placeholder(len(args)))
	// Engine.Query scans (key, data) rows: return the key and a NULL.
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING %s, NULL", table, strings.Join(cols, ", "), strings.Join(phs, ", "), Quote(t.PrimaryKey))
	var key any
	err = r.Write.Query(ctx, q, args, func(k any, _ []byte) error { key = k; return nil })
	if err != nil {
		if col, ok := r.Write.Conflict(err); ok {
			return nil, &ConflictError{Type: t.Name, Field: col}
		}
		return nil, fmt.Errorf("store: vinyl %q: insert %s: %w", r.DB, t.Name, err)
	}
	return normalizeKey(t, key), nil
}

// normalizeKey makes a key read back from an engine the Go type of its
// column (SQLite gives int64 for a bool, for instance).
func normalizeKey(t *RecordType, key any) any {
	if v, err := Coerce(t.Key().Type, key); err == nil {
		return v
	}
	if t.Key().Type == Bool {
		if i, ok := key.(int64); ok {
			return i != 0
		}
	}
	if s, ok := key.([]byte); ok && t.Key().Type == Text {
		return string(s)
	}
	return key
}

// Load implements Records.
func (r *SQLRecords) Load(ctx context.Context, typ string, key any) (Record, error) {
	t, table, err := r.recordType(typ)
	if err != nil {
		return Record{}, err
	}
	k, err := r.key(t, key)
	if err != nil {
		return Record{}, err
	}
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = %s", Quote(t.PrimaryKey), Quote(DataColumn), table, Quote(t.PrimaryKey), r.Dialect.Placeholder(1))
	var rec *Record
	err = r.Read.Query(ctx, q, []any{r.Dialect.arg(k)}, func(key any, data []byte) error {
		rec = &Record{Key: normalizeKey(t, key), Data: data}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("store: vinyl %q: load %s: %w", r.DB, t.Name, err)
	}
	if rec == nil {
		return Record{}, fmt.Errorf("%w: no %s with %s %v", ErrNotFound, t.Name, t.PrimaryKey, k)
	}
	return *rec, nil
}

// Query implements Records.
func (r *SQLRecords) Query(ctx context.Context, typ string, q Query) ([]Record, error) {
	t, table, err := r.recordType(typ)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit < 0 || q.Skip < 0:
		return nil, fmt.Errorf("%w: a negative limit or skip", ErrInvalid)
	case limit > MaxQueryRecords:
		return nil, fmt.Errorf("%w: the limit is %d records; at most %d", ErrTooLarge, limit, MaxQueryRecords)
	case limit == 0:
		limit = DefaultQueryRecords
	}
	order := q.OrderBy
	if order == "" {
		order = t.PrimaryKey
	}
	if order != t.PrimaryKey && t.Index(order) == nil {
		return nil, fmt.Errorf("%w: cannot order %s by %q: order by the primary key (%s) or an indexed field%s", ErrInvalid, t.Name, order, t.PrimaryKey, indexList(t))
	}
	w := whereBuilder{t: t, d: r.Dialect}
	sql := fmt.Sprintf("SELECT %s, %s FROM %s", Quote(t.PrimaryKey), Quote(DataColumn), table)
	if q.Filter != nil {
		cond, err := w.build(q.Filter)
		if err != nil {
			return nil, err
		}
		sql += " WHERE " + cond
	}
	dir := ""
	if q.Desc {
		dir = " DESC"
	}
	sql += " ORDER BY " + Quote(order) + dir
	if order != t.PrimaryKey {
		sql += ", " + Quote(t.PrimaryKey) + dir
	}
	sql += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, q.Skip)
	var out []Record
	err = r.Read.Query(ctx, sql, w.args, func(key any, data []byte) error {
		out = append(out, Record{Key: normalizeKey(t, key), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: vinyl %q: query %s: %w", r.DB, t.Name, err)
	}
	return out, nil
}

func indexList(t *RecordType) string {
	if len(t.Indexes) == 0 {
		return " (it has no indexes)"
	}
	var names []string
	for _, i := range t.Indexes {
		names = append(names, i.Field)
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// Delete implements Records.
func (r *SQLRecords) Delete(ctx context.Context, typ string, key any) (bool, error) {
	t, table, err := r.recordType(typ)
	if err != nil {
		return false, err
	}
	k, err := r.key(t, key)
	if err != nil {
		return false, err
	}
	n, err := r.Write.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = %s", table, Quote(t.PrimaryKey), r.Dialect.Placeholder(1)), r.Dialect.arg(k))
	if err != nil {
		return false, fmt.Errorf("store: vinyl %q: delete %s: %w", r.DB, t.Name, err)
	}
	return n > 0, nil
}

// DeleteWhere implements Records.
func (r *SQLRecords) DeleteWhere(ctx context.Context, typ string, f *Filter) (int64, error) {
	t, table, err := r.recordType(typ)
	if err != nil {
		return 0, err
	}
	w := whereBuilder{t: t, d: r.Dialect}
	sql := "DELETE FROM " + table
	if f != nil {
		cond, err := w.build(f)
		if err != nil {
			return 0, err
		}
		sql += " WHERE " + cond
	}
	n, err := r.Write.Exec(ctx, sql, w.args...)
	if err != nil {
		return 0, fmt.Errorf("store: vinyl %q: delete-where %s: %w", r.DB, t.Name, err)
	}
	return n, nil
}

// Count implements Records.
func (r *SQLRecords) Count(ctx context.Context, typ string) (int64, error) {
	_, table, err := r.recordType(typ)
	if err != nil {
		return 0, err
	}
	return r.Read.Count(ctx, "SELECT count(*) FROM "+table)
}

// whereBuilder turns a Filter into a SQL condition and its arguments.
type whereBuilder struct {
	t     *RecordType
	d     Dialect
	args  []any
	nodes int
}

func (w *whereBuilder) build(f *Filter) (string, error) {
	if f == nil {
		return "", fmt.Errorf("%w: an empty filter", ErrInvalid)
	}
	if w.nodes++; w.nodes > MaxFilterNodes {
		return "", fmt.Errorf("%w: the filter has more than %d terms", ErrTooLarge, MaxFilterNodes)
	}
	switch f.Op {
	case OpAnd, OpOr:
		if len(f.Args) == 0 {
			return "", fmt.Errorf("%w: %q needs at least one filter", ErrInvalid, f.Op)
		}
		parts := make([]string, len(f.Args))
		for i, a := range f.Args {
			s, err := w.build(a)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "(" + strings.Join(parts, " "+strings.ToUpper(f.Op)+" ") + ")", nil
	case OpNot:
		if len(f.Args) != 1 {
			return "", fmt.Errorf("%w: \"not\" takes one filter", ErrInvalid)
		}
		s, err := w.build(f.Args[0])
		if err != nil {
			return "", err
		}
		return "(NOT " + s + ")", nil
	}
	field := w.t.Field(f.Field)
	if field == nil {
		return "", fmt.Errorf("%w: %s has no field %q that a filter can use (scalar fields only)", ErrInvalid, w.t.Name, f.Field)
	}
	col := Quote(field.Name)
	switch f.Op {
	case OpNull:
		return col + " IS NULL", nil
	case OpEmpty:
		return fmt.Sprintf("(%s IS NULL OR %s = %s)", col, col, w.d.Zeros[field.Type]), nil
	}
	sqlOp, ok := map[string]string{OpEq: "=", OpGt: ">", OpLt: "<", OpGe: ">=", OpLe: "<="}[f.Op]
	if !ok {
		return "", fmt.Errorf("%w: unknown filter operator %q (and, or, not, eq, gt, lt, ge, le, null, empty)", ErrInvalid, f.Op)
	}
	v, err := Coerce(field.Type, f.Value)
	if err != nil {
		return "", fmt.Errorf("filter on %s: %w", field.Name, err)
	}
	w.args = append(w.args, w.d.arg(v))
	return col + " " + sqlOp + " " + w.d.Placeholder(len(w.args)), nil
}

// Stmt is one DDL statement of a migration step.
type Stmt struct {
	SQL string
	// Concurrent statements build an index without blocking writes and
	// must run outside a transaction (PostgreSQL's CREATE INDEX
	// CONCURRENTLY).
	Concurrent bool
}

// StepSQL returns the statements that apply step s of database db.
func (d Dialect) StepSQL(db string, s Step) []Stmt {
	table := TableName(db, s.Type)
	switch s.Kind {
	case StepCreateType:
		return d.createType(table, s.Def)
	case StepAddField:
		ifNot := ""
		if d.AddColumnIfNotExists {
			ifNot = "IF NOT EXISTS "
		}
		return []Stmt{{SQL: fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s%s", Quote(table), ifNot, d.column(*s.Field))}}
	case StepCreateIndex:
		return []Stmt{d.createIndex(table, *s.Index, d.ConcurrentIndexes)}
	case StepDropIndex:
		return []Stmt{{SQL: "DROP INDEX IF EXISTS " + Quote(IndexName(table, s.Index.Field))}}
	}
	return nil // steps without DDL (a field no longer declared keeps its column)
}

func (d Dialect) column(f Field) string {
	s := Quote(f.Name) + " " + d.Types[f.Type]
	if !f.Nullable {
		s += " NOT NULL DEFAULT " + d.Zeros[f.Type]
	}
	return s
}

func (d Dialect) createType(table string, t RecordType) []Stmt {
	var cols []string
	for _, f := range t.Fields {
		switch {
		case f.Name == t.PrimaryKey && t.AutoKey:
			cols = append(cols, Quote(f.Name)+" "+d.AutoKey)
		case f.Name == t.PrimaryKey:
			cols = append(cols, Quote(f.Name)+" "+d.Types[f.Type]+" NOT NULL PRIMARY KEY")
		default:
			cols = append(cols, d.column(f))
		}
	}
	cols = append(cols, Quote(DataColumn)+" "+d.Types[Bytes]+" NOT NULL")
	stmts := []Stmt{{SQL: fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n)", Quote(table), strings.Join(cols, ",\n\t"))}}
	for _, idx := range t.Indexes {
		stmts = append(stmts, d.createIndex(table, idx, false)) // an empty table: nothing to wait for
	}
	return stmts
}

func (d Dialect) createIndex(table string, idx Index, concurrent bool) Stmt {
	unique, how := "", ""
	if idx.Unique {
		unique = "UNIQUE "
	}
	if concurrent {
		how = "CONCURRENTLY "
	}
	return Stmt{
		SQL:        fmt.Sprintf("CREATE %sINDEX %sIF NOT EXISTS %s ON %s (%s)", unique, how, Quote(IndexName(table, idx.Field)), Quote(table), Quote(idx.Field)),
		Concurrent: concurrent,
	}
}

func decodeBase64(s string, bad func() (any, error)) (any, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return bad()
}
