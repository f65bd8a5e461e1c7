// Package builtin opens a project's store from a store URL: the one place
// that knows every backend (internal/store/sqlite, internal/store/postgres).
package builtin

import (
	"context"
	"fmt"

	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/postgres"
	"github.com/embly/embly/internal/store/sqlite"
)

// Open opens the backend loc names. A relative loc.Path is the caller's to
// resolve (against the project directory) before calling.
func Open(ctx context.Context, loc store.Location, opts store.Options) (store.Backend, error) {
	switch loc.Kind {
	case store.KindSQLite:
		return sqlite.Open(ctx, loc.Path, opts)
	case store.KindPostgres:
		return postgres.Open(ctx, loc.URL, opts)
	}
	return nil, fmt.Errorf("store: unknown backend %q", loc.Kind)
}
