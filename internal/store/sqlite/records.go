package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/embly/embly/internal/store"
)

// dialect is SQLite's side of the record tables. Booleans are integers; an
// INTEGER PRIMARY KEY is the rowid, which SQLite assigns (the largest key
// plus one) when the insert leaves it out.
var dialect = store.Dialect{
	Placeholder: store.Question,
	Types: map[store.ColumnType]string{
		store.Int: "INTEGER", store.Float: "REAL", store.Text: "TEXT", store.Bytes: "BLOB", store.Bool: "INTEGER",
	},
	Zeros: map[store.ColumnType]string{
		store.Int: "0", store.Float: "0", store.Text: "''", store.Bytes: "X''", store.Bool: "0",
	},
	AutoKey: "INTEGER PRIMARY KEY",
	Arg: func(v any) any {
		if b, ok := v.(bool); ok {
			if b {
				return int64(1)
			}
			return int64(0)
		}
		return v
	},
}

// Records implements store.Backend.
func (b *Backend) Records(ctx context.Context, name string, schema store.Schema) (store.Records, error) {
	if err := store.PrepareRecords(ctx, b, name, schema); err != nil {
		return nil, err
	}
	return &store.SQLRecords{DB: name, Schema: schema, Dialect: dialect, Write: engine{b.write}, Read: engine{b.read}}, nil
}

// Migrate implements store.Backend. SQLite runs the whole plan in one
// transaction: its DDL is transactional, so a plan is applied entirely or
// not at all. Building an index holds the write lock while it scans the
// table, but in WAL mode readers never wait for the writer: reads go on.
func (b *Backend) Migrate(ctx context.Context, name string, schema store.Schema, apply bool) (*store.Plan, error) {
	return store.Migrate(ctx, b, name, schema, apply)
}

// Applied implements store.Applier.
func (b *Backend) Applied(ctx context.Context, db string) (map[string]store.RecordType, error) {
	rows, err := b.write.QueryContext(ctx, `SELECT def FROM `+store.MetaTable+` WHERE db = ?`, db)
	if err != nil {
		return nil, fmt.Errorf("store: reading the schema of vinyl %q: %w", db, err)
	}
	defer rows.Close()
	out := map[string]store.RecordType{}
	for rows.Next() {
		var def []byte
		if err := rows.Scan(&def); err != nil {
			return nil, err
		}
		var t store.RecordType
		if err := json.Unmarshal(def, &t); err != nil {
			return nil, fmt.Errorf("store: the applied schema of vinyl %q is corrupt: %w", db, err)
		}
		out[t.Name] = t
	}
	return out, rows.Err()
}

// Apply implements store.Applier.
func (b *Backend) Apply(ctx context.Context, plan *store.Plan) error {
	tx, err := b.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, step := range plan.Steps {
		for _, s := range dialect.StepSQL(plan.DB, step) {
			if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
				return fmt.Errorf("store: vinyl %q: %s: %w", plan.DB, step, err)
			}
		}
	}
	for name, t := range plan.Next {
		def, _ := json.Marshal(t)
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+store.MetaTable+` (db, type, def) VALUES (?, ?, ?)
ON CONFLICT (db, type) DO UPDATE SET def = excluded.def`, plan.DB, name, string(def)); err != nil {
			return fmt.Errorf("store: vinyl %q: recording the schema: %w", plan.DB, err)
		}
	}
	return tx.Commit()
}

// engine runs the shared record SQL on a database/sql pool.
type engine struct{ db *sql.DB }

func (e engine) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e engine) Query(ctx context.Context, q string, args []any, scan func(key any, data []byte) error) error {
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key any
		var data []byte
		if err := rows.Scan(&key, &data); err != nil {
			return err
		}
		if err := scan(key, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (e engine) Count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := e.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// Conflict reads the column from SQLite's message, "UNIQUE constraint
// failed: TABLE.COLUMN" (the extended result codes say only that it is a
// unique or primary-key violation, not where).
func (engine) Conflict(err error) (string, bool) {
	const marker = "UNIQUE constraint failed: "
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", false
	}
	col := msg[i+len(marker):]
	if j := strings.IndexAny(col, " ,("); j >= 0 {
		col = col[:j]
	}
	if j := strings.LastIndexByte(col, '.'); j >= 0 {
		col = col[j+1:]
	}
	return col, true
}
