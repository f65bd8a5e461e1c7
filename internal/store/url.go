package store

import (
	"fmt"
	"net/url"
	"strings"
)

// Kinds of backend a store URL names.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// Location is a parsed store URL: where a project's data lives.
type Location struct {
	// Kind is KindSQLite or KindPostgres.
	Kind string
	// Path is the SQLite file, as written (relative to the project
	// directory when not absolute); "" is the default, .embly/store.db.
	Path string
	// URL is the PostgreSQL connection URL, as written.
	URL string
}

// ParseURL reads a store URL, the value of `store` in embly.hcl and of
// `embly run --store`:
//
//	""                              SQLite in PROJECT/.embly/store.db (the default)
//	"sqlite"                        the same
//	"sqlite:PATH"                   SQLite in PATH, relative to the project directory
//	"postgres://USER@HOST:PORT/DB"  PostgreSQL (also postgresql://), any libpq URL
//
// The error says what is wrong and how a valid one looks.
func ParseURL(s string) (Location, error) {
	switch {
	case s == "" || s == KindSQLite:
		return Location{Kind: KindSQLite}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		p = strings.TrimPrefix(p, "//") // sqlite://PATH, the form some tools write
		if p == "" {
			return Location{Kind: KindSQLite}, nil
		}
		return Location{Kind: KindSQLite, Path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Location{}, fmt.Errorf("is not a valid URL (%v); write it like \"postgres://user:password@localhost:5432/embly\"", unwrapURLError(err))
		}
		if u.Opaque != "" {
			return Location{}, fmt.Errorf("must have a host part; write it like \"postgres://user:password@localhost:5432/embly\"")
		}
		return Location{Kind: KindPostgres, URL: s}, nil
	}
	return Location{}, fmt.Errorf("must start with postgres:// (PostgreSQL) or sqlite: (the default, a file under .embly/), like \"postgres://user:password@localhost:5432/embly\"")
}

// Redacted returns the location for messages and logs, without a password.
func (l Location) Redacted() string {
	if l.Kind == KindPostgres {
		if u, err := url.Parse(l.URL); err == nil {
			return u.Redacted()
		}
		return "postgres://…"
	}
	if l.Path == "" {
		return "sqlite:.embly/store.db"
	}
	return "sqlite:" + l.Path
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
