// Package postgres is the store backend for production: PostgreSQL through
// pgx. Each project gets a schema of its own, named from the project, so
// projects that share a server cannot see each other's data; a kv database
// is its rows in the schema's kv table.
//
// Durability is PostgreSQL's: with the default synchronous_commit = on, a
// commit has reached the server's WAL on disk before Set or Delete returns.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/embly/embly/internal/store"
)

const (
	purgeEvery = 256 // Sets of one kv database between two purges
	purgeBatch = 256 // expired keys one purge deletes at most
)

// Backend is a project's store in a PostgreSQL schema.
type Backend struct {
	pool   *pgxpool.Pool
	schema string // quoted identifier
	name   string // the schema's name, unquoted
	now    func() time.Time
}

// SchemaName returns the schema that holds project's data: "embly_" and the
// project's name in lower case, with anything but letters, digits and
// underscores replaced. When that changes the name (or it is too long for
// PostgreSQL's 63-byte identifiers), a short hash of the original is
// appended, so that "My-App" and "my_app" stay apart.
func SchemaName(project string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(project) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == project && len(name) <= 48 && name != "" {
		return "embly_" + name
	}
	sum := sha256.Sum256([]byte(project))
	if len(name) > 48 {
		name = name[:48]
	}
	return "embly_" + name + "_" + hex.EncodeToString(sum[:4])
}

// Open connects to the server at url and prepares the project's schema.
func Open(ctx context.Context, url string, opts store.Options) (*Backend, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: the PostgreSQL URL is not valid: %w", err)
	}
	name := SchemaName(opts.Project)
	// Record tables are named without their schema (the SQL is shared with
	// SQLite), so every connection looks in the project's schema first.
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{name}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach PostgreSQL at %s:%d (database %q): %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	b := &Backend{pool: pool, schema: pgx.Identifier{name}.Sanitize(), name: name, now: opts.Clock()}
	if err := b.migrate(ctx, name); err != nil {
		pool.Close()
		return nil, err
	}
	return b, nil
}

// migrate creates the schema and its tables. Several embly processes may
// start on one project at once: an advisory lock on the schema's name makes
// CREATE ... IF NOT EXISTS safe (on its own it can race to a unique
// violation in the catalog).
func (b *Backend) migrate(ctx context.Context, name string) error {
	h := fnv.New64a()
	h.Write([]byte("embly schema " + name))
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: PostgreSQL: %w", err)
	}
	defer tx.Rollback(ctx)
	stmts := []string{
		`SELECT pg_advisory_xact_lock($1)`,
		`CREATE SCHEMA IF NOT EXISTS ` + b.schema,
		`CREATE TABLE IF NOT EXISTS ` + b.schema + `.kv (
	db      text   NOT NULL,
	key     bytea  NOT NULL,
	value   bytea  NOT NULL,
	expires bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (db, key)
)`,
		`CREATE INDEX IF NOT EXISTS kv_expires ON ` + b.schema + `.kv (db, expires) WHERE expires > 0`,
		`CREATE TABLE IF NOT EXISTS ` + b.schema + `.` + store.MetaTable + ` (
	db   text NOT NULL,
	type text NOT NULL,
	def  text NOT NULL,
	PRIMARY KEY (db, type)
)`,
	}
	for i, s := range stmts {
		var args []any
		if i == 0 {
			args = []any{int64(h.Sum64())}
		}
		if _, err := tx.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("store: preparing schema %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: preparing schema %s: %w", name, err)
	}
	return nil
}

// Schema returns the project's schema, quoted.
func (b *Backend) Schema() string { return b.schema }

// Close closes the connections.
func (b *Backend) Close() error {
	b.pool.Close()
	return nil
}

// KV implements store.Backend.
func (b *Backend) KV(ctx context.Context, name string) (store.KV, error) {
	return &kv{b: b, name: name, table: b.schema + ".kv"}, nil
}

type kv struct {
	b     *Backend
	name  string
	table string
	sets  atomic.Uint64
}

func (k *kv) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	var value []byte
	var expires int64
	err := k.b.pool.QueryRow(ctx, `SELECT value, expires FROM `+k.table+` WHERE db = $1 AND key = $2`, k.name, key).Scan(&value, &expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("store: kv %q: get: %w", k.name, err)
	}
	now := k.b.now().UnixMilli()
	if expires > 0 && expires <= now {
		k.b.pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE db = $1 AND key = $2 AND expires > 0 AND expires <= $3`, k.name, key, now)
		return nil, store.ErrNotFound
	}
	if value == nil {
		value = []byte{}
	}
	return value, nil
}

func (k *kv) Set(ctx context.Context, key, value []byte, ttl time.Duration) error {
	if err := store.CheckSet(key, value, ttl); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	now := k.b.now()
	_, err := k.b.pool.Exec(ctx, `INSERT INTO `+k.table+` (db, key, value, expires) VALUES ($1, $2, $3, $4)
ON CONFLICT (db, key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires`,
		k.name, key, value, store.ExpiresAt(now, ttl))
	if err != nil {
		return fmt.Errorf("store: kv %q: set: %w", k.name, err)
	}
	if k.sets.Add(1)%purgeEvery == 0 {
		k.b.pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE db = $1 AND key IN (
	SELECT key FROM `+k.table+` WHERE db = $1 AND expires > 0 AND expires <= $2 LIMIT $3)`,
			k.name, now.UnixMilli(), purgeBatch)
	}
	return nil
}

func (k *kv) Delete(ctx context.Context, key []byte) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if _, err := k.b.pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE db = $1 AND key = $2`, k.name, key); err != nil {
		return fmt.Errorf("store: kv %q: delete: %w", k.name, err)
	}
	return nil
}

func (k *kv) List(ctx context.Context, prefix, cursor []byte, limit int) ([][]byte, []byte, error) {
	limit, err := store.CheckList(prefix, cursor, limit)
	if err != nil {
		return nil, nil, err
	}
	q, args := store.ListQuery(k.table, store.Dollar, k.name, prefix, cursor, k.b.now().UnixMilli(), limit)
	rows, err := k.b.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("store: kv %q: list: %w", k.name, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, nil, fmt.Errorf("store: kv %q: list: %w", k.name, err)
	}
	keys, next := store.Page(keys, limit)
	return keys, next, nil
}
