// Package store is where Embly keeps the data of a project's databases: the
// kv databases now, the vinyl record databases later. It defines the small
// interfaces the host services use and the limits every backend enforces;
// each backend (internal/store/sqlite, internal/store/postgres) is a package
// of its own, and internal/store/builtin picks one from a store URL.
//
// A Backend holds one project's data and nothing else: SQLite keeps one file
// per project, PostgreSQL one schema per project. So projects are isolated by
// construction, not by a project column that a query could forget.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of the KV operations. Backends wrap them with details; test with
// errors.Is. The kv host service maps each to a status the guest can tell
// apart (docs/abi.md).
var (
	// ErrNotFound: no such key (or it has expired).
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a key, value or page size passes its limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: a malformed request (an empty key, a negative TTL).
	ErrInvalid = errors.New("invalid request")
)

// Limits of the KV store, the same on every backend. docs/datastores.md says
// why each is what it is.
const (
	// MaxKeyBytes bounds a key. Keys are primary-key columns: SQLite keeps
	// them in its B-tree's pages and PostgreSQL in a btree index, whose
	// entries must stay well under a page (8 KiB) to be indexable at all.
	MaxKeyBytes = 1 << 10
	// MaxValueBytes bounds a value. A value travels in one frame on a conn
	// and is held in memory by the host while it moves; larger blobs belong
	// in files.
	MaxValueBytes = 1 << 20
	// MaxPageKeys bounds the keys one List returns (at most 1000 × 1 KiB,
	// so a page stays about a megabyte, like a value).
	MaxPageKeys = 1000
	// DefaultPageKeys is the page size of a List that asks for 0.
	DefaultPageKeys = 100
)

// Backend is the data of one project.
type Backend interface {
	// KV returns the kv database name, creating it on first use. Names are
	// those of embly.hcl's `database "kv" "NAME"` blocks.
	KV(ctx context.Context, name string) (KV, error)
	// Records returns the vinyl database name with the record types of
	// schema. Types new to the store are created; any other difference from
	// the applied schema fails with an error matching ErrSchemaChanged that
	// shows the plan (`embly db migrate` applies it).
	Records(ctx context.Context, name string, schema Schema) (Records, error)
	// Migrate computes the plan that brings vinyl database name to schema,
	// and applies it when apply is true and nothing is refused.
	Migrate(ctx context.Context, name string, schema Schema, apply bool) (*Plan, error)
	// Close releases the backend's connections and files.
	Close() error
}

// KV is one kv database. Keys and values are bytes; keys sort bytewise.
// Implementations must be safe for concurrent use.
type KV interface {
	// Get returns the value of key, or an error matching ErrNotFound.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Set stores value under key. ttl > 0 makes the key expire after ttl:
	// from then on it is invisible (Get says not found, List skips it) and
	// it is deleted lazily. ttl == 0 keeps it until it is deleted or set
	// again; setting a key again replaces its TTL too.
	Set(ctx context.Context, key, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key []byte) error
	// List returns, in byte order, up to limit keys that start with prefix
	// and sort after cursor (cursor empty: from the start). next is the
	// cursor of the following page, or nil when there are no more keys.
	// limit 0 is DefaultPageKeys.
	List(ctx context.Context, prefix, cursor []byte, limit int) (keys [][]byte, next []byte, err error)
}

// Options are what a backend needs to know of the project it serves.
type Options struct {
	// Dir is the project's state directory (PROJECT/.embly); SQLite keeps
	// its file there.
	Dir string
	// Project names the project; PostgreSQL derives the schema from it.
	Project string
	// Now is the clock of TTLs; nil is time.Now. Tests move it.
	Now func() time.Time
}

// Clock returns o.Now, or time.Now.
func (o Options) Clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// CheckKey returns an error matching ErrInvalid or ErrTooLarge when key
// cannot be stored.
func CheckKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: the key is empty", ErrInvalid)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: the key is %d bytes; the limit is %d", ErrTooLarge, len(key), MaxKeyBytes)
	}
	return nil
}

// CheckSet checks the arguments of Set.
func CheckSet(key, value []byte, ttl time.Duration) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("%w: the value is %d bytes; the limit is %d", ErrTooLarge, len(value), MaxValueBytes)
	}
	if ttl < 0 {
		return fmt.Errorf("%w: the TTL is negative (%s)", ErrInvalid, ttl)
	}
	return nil
}

// CheckList checks the arguments of List and returns the page size to use.
func CheckList(prefix, cursor []byte, limit int) (int, error) {
	switch {
	case len(prefix) > MaxKeyBytes:
		return 0, fmt.Errorf("%w: the prefix is %d bytes; the limit is %d", ErrTooLarge, len(prefix), MaxKeyBytes)
	case len(cursor) > MaxKeyBytes:
		return 0, fmt.Errorf("%w: the cursor is %d bytes; the limit is %d", ErrTooLarge, len(cursor), MaxKeyBytes)
	case limit < 0:
		return 0, fmt.Errorf("%w: the page size is negative (%d)", ErrInvalid, limit)
	case limit > MaxPageKeys:
		return 0, fmt.Errorf("%w: the page size is %d; the limit is %d", ErrTooLarge, limit, MaxPageKeys)
	case limit == 0:
		return DefaultPageKeys, nil
	}
	return limit, nil
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil when there is none (the prefix is empty or all 0xff): the
// exclusive upper bound of a prefix scan, which both SQL engines answer
// with an index range instead of a LIKE.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ExpiresAt returns the expiry of a key set at now with ttl, in Unix
// milliseconds, or 0 for none. Both backends store it so.
func ExpiresAt(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ms := ttl.Milliseconds()
	if ms == 0 {
		ms = 1 // a sub-millisecond TTL still expires, rather than never
	}
	return now.UnixMilli() + ms
}
