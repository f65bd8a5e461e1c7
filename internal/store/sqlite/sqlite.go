// Package sqlite is the default store backend: one SQLite file per project,
// through modernc.org/sqlite (pure Go, so the embly binary stays free of cgo).
//
// Durability: the file is in WAL mode with synchronous=FULL, so every commit
// fsyncs the write-ahead log before Set or Delete returns. An acknowledged
// write therefore survives kill -9 of the host (it would with
// synchronous=NORMAL too, since the WAL is already in the OS's page cache)
// and also a power loss or kernel crash, which NORMAL does not promise. The
// cost is one fsync per write; docs/datastores.md has the numbers.
//
// Writes go through a pool of one connection: SQLite admits one writer at a
// time anyway, and queueing in Go avoids SQLITE_BUSY and its sleep-and-retry
// loop. Reads use a pool of their own and, thanks to WAL, never wait for the
// writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/embly/embly/internal/store"
)

// FileName is the database file's name in the project's state directory.
const FileName = "store.db"

// purgeEvery is how many Sets of one kv database pass between two purges
// of its expired keys. Expired keys are invisible at once; deleting them
// is housekeeping, batched so that a Set rarely pays for it.
const purgeEvery = 256

// purgeBatch bounds the keys one purge deletes, so no Set waits long.
const purgeBatch = 256

// Backend is a project's store in one SQLite file.
type Backend struct {
	write, read *sql.DB
	now         func() time.Time
	path        string
}

// Open opens (creating it if needed) the SQLite store at path; "" is
// opts.Dir/store.db.
func Open(ctx context.Context, path string, opts store.Options) (*Backend, error) {
	if path == "" {
		path = filepath.Join(opts.Dir, FileName)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(ON)")
		for _, p := range extra {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
	}
	w, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	b := &Backend{write: w, now: opts.Clock(), path: path}
	if err := b.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("query_only(ON)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, goruntime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, goruntime.GOMAXPROCS(0)))
	b.read = r
	return b, nil
}

// migrate creates the tables. Keys are the primary key with the database's
// name, WITHOUT ROWID so the rows live in the key's B-tree: a Get is one
// lookup and a prefix List one range scan. expires is Unix milliseconds, 0
// for none; the partial index finds expired keys for purges without
// touching the keys that never expire.
func (b *Backend) migrate(ctx context.Context) error {
	const schema = `
CREATE TABLE IF NOT EXISTS kv (
	db      TEXT    NOT NULL,
	key     BLOB    NOT NULL,
	value   BLOB    NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (db, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (db, expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS ` + store.MetaTable + ` (
	db   TEXT NOT NULL,
	type TEXT NOT NULL,
	def  TEXT NOT NULL,
	PRIMARY KEY (db, type)
);`
	if _, err := b.write.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("store: preparing %s: %w", b.path, err)
	}
	return nil
}

// Path returns the database file.
func (b *Backend) Path() string { return b.path }

// Close closes the database.
func (b *Backend) Close() error {
	return errors.Join(b.read.Close(), b.write.Close())
}

// KV implements store.Backend. A kv database is its rows in the shared
// table, so creating one costs nothing.
func (b *Backend) KV(ctx context.Context, name string) (store.KV, error) {
	return &kv{b: b, name: name}, nil
}

type kv struct {
	b    *Backend
	name string
	sets atomic.Uint64
}

func (k *kv) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	var value []byte
	var expires int64
	err := k.b.read.QueryRowContext(ctx, `SELECT value, expires FROM kv WHERE db = ? AND key = ?`, k.name, key).Scan(&value, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("store: kv %q: get: %w", k.name, err)
	}
	now := k.b.now().UnixMilli()
	if expires > 0 && expires <= now {
		// Purge lazily; only if it is still the expired version.
		k.b.write.ExecContext(ctx, `DELETE FROM kv WHERE db = ? AND key = ? AND expires > 0 AND expires <= ?`, k.name, key, now)
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
		value = []byte{} // a nil []byte would be NULL
	}
	now := k.b.now()
	_, err := k.b.write.ExecContext(ctx, `INSERT INTO kv (db, key, value, expires) VALUES (?, ?, ?, ?)
ON CONFLICT (db, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
		k.name, key, value, store.ExpiresAt(now, ttl))
	if err != nil {
		return fmt.Errorf("store: kv %q: set: %w", k.name, err)
	}
	if k.sets.Add(1)%purgeEvery == 0 {
		k.purge(ctx, now)
	}
	return nil
}

// purge deletes up to purgeBatch expired keys. Failing is harmless: they
// stay invisible and the next purge tries again.
func (k *kv) purge(ctx context.Context, now time.Time) {
	k.b.write.ExecContext(ctx, `DELETE FROM kv WHERE db = ? AND key IN (
	SELECT key FROM kv WHERE db = ? AND expires > 0 AND expires <= ? LIMIT ?)`,
		k.name, k.name, now.UnixMilli(), purgeBatch)
}

func (k *kv) Delete(ctx context.Context, key []byte) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if _, err := k.b.write.ExecContext(ctx, `DELETE FROM kv WHERE db = ? AND key = ?`, k.name, key); err != nil {
		return fmt.Errorf("store: kv %q: delete: %w", k.name, err)
	}
	return nil
}

func (k *kv) List(ctx context.Context, prefix, cursor []byte, limit int) ([][]byte, []byte, error) {
	limit, err := store.CheckList(prefix, cursor, limit)
	if err != nil {
		return nil, nil, err
	}
	q, args := store.ListQuery("kv", store.Question, k.name, prefix, cursor, k.b.now().UnixMilli(), limit)
	keys, err := k.scanKeys(ctx, q, args)
	if err != nil {
		return nil, nil, fmt.Errorf("store: kv %q: list: %w", k.name, err)
	}
	keys, next := store.Page(keys, limit)
	return keys, next, nil
}

func (k *kv) scanKeys(ctx context.Context, q string, args []any) ([][]byte, error) {
	rows, err := k.b.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys [][]byte
	for rows.Next() {
		var key []byte
		if err := rows.Scan(&key); err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, rows.Err()
}
