package service

import (
	"errors"
	"fmt"
	"testing"

	"github.com/embly/embly/internal/bus"
)

type named string

func (n named) Open(string, Caller) (Handler, error) { return nil, nil }

func TestLookup(t *testing.T) {
	r := NewRegistry()
	r.Register("embly/http", named("http"))
	r.Register("embly/kv", named("kv"))
	r.Register("embly/kv/special", named("special"))
	for _, tc := range []struct {
		target string
		want   Service
	}{
		{"embly/http", named("http")},
		{"embly/http/x", named("http")},
		{"embly/httpx", nil},
		{"embly/kv/cache", named("kv")},
		{"embly/kv/special", named("special")},
		{"embly/kv/special/x", named("special")},
		{"embly", nil},
		{"", nil},
		{"function/x", nil},
	} {
		if got := r.Lookup(tc.target); got != tc.want {
			t.Errorf("Lookup(%q) = %v, want %v", tc.target, got, tc.want)
		}
	}
	var none *Registry
	if none.Lookup("embly/http") != nil {
		t.Error("a nil registry found a service")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := NewRegistry()
	r.Register("embly/http", named("a"))
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	r.Register("embly/http", named("b"))
}

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bus.Errno
	}{
		{nil, bus.ESUCCESS},
		{ErrNotFound, bus.ENOENT},
		{fmt.Errorf("kv %q: %w", "x", ErrNotFound), bus.ENOENT},
		{ErrLimit, bus.EAGAIN},
		{ErrRefused, bus.EACCES},
		{errors.New("anything else"), bus.EACCES},
	} {
		if got := Errno(tc.err); got != tc.want {
			t.Errorf("Errno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
