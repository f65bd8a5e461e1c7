// Package service is the registry of host services: Go code that a function
// reaches through `_spawn` like another function ("embly/http", later
// "embly/kv/..." and "embly/vinyl/..."). A service speaks the conn protocol
// from the other end of the conn: it reads what the instance writes and
// writes back, on a bus.Conn, on its own goroutine.
//
// The runtime knows only this package's small interface; each service lives
// in a package of its own (internal/service/outbound for embly/http) and the
// builtin package registers them all in one place.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/embly/embly/internal/bus"
)

// Errors Open returns to refuse a spawn. The runtime maps them to the errno
// _spawn returns: ErrNotFound to ENOENT, ErrLimit to EAGAIN, and every other
// error (ErrRefused included) to EACCES.
var (
	// ErrNotFound: the service has no such target.
	ErrNotFound = errors.New("no such target")
	// ErrRefused: the calling function may not use the target.
	ErrRefused = errors.New("not allowed")
	// ErrLimit: a limit of the service is reached; try later.
	ErrLimit = errors.New("limit reached")
)

// NotFound writes why target was refused to the caller's log, and returns
// the ErrNotFound that says the same to Open's caller.
func NotFound(c Caller, target, why string) error {
	fmt.Fprintf(c.Log, "%s refused: %s\n", target, why)
	return fmt.Errorf("%w: %s", ErrNotFound, why)
}

// Caller is the instance that spawns a service: who it is and what its
// function may do, as embly.hcl says.
type Caller struct {
	// Function is the name of the calling instance's function.
	Function string
	// AllowedHosts is the function's allowed_hosts, as written.
	AllowedHosts []string
	// Log receives the service's messages about this caller, one line per
	// Write, already prefixed with "[FUNCTION]: ". Never nil.
	Log io.Writer
}

// Service answers spawns of the targets under one name.
type Service interface {
	// Open decides whether caller may spawn target (the full name passed to
	// _spawn, such as "embly/http"), before any conn exists. It must be
	// quick and have no effect when it fails: the runtime may still refuse
	// the spawn afterwards (a child limit), and then never calls the
	// Handler.
	Open(target string, caller Caller) (Handler, error)
}

// Handler serves one conn with the spawning instance.
type Handler interface {
	// Serve runs on its own goroutine. conn is the service's end; ctx ends
	// when the spawning instance ends, and Serve must return soon after.
	// When Serve returns, the conn is closed: the instance reads EOF after
	// draining what Serve wrote.
	Serve(ctx context.Context, conn *bus.Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, conn *bus.Conn)

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, conn *bus.Conn) { f(ctx, conn) }

// Registry maps target names to services. It is filled once, before the
// runtime starts, and only read afterwards.
type Registry struct {
	services map[string]Service
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{services: make(map[string]Service)}
}

// Register makes s answer target name and every target below it
// (name + "/..."). name is like "embly/http". Registering a name twice
// panics: it is a wiring mistake.
func (r *Registry) Register(name string, s Service) {
	if _, dup := r.services[name]; dup {
		panic("service: " + name + " registered twice")
	}
	r.services[name] = s
}

// Lookup returns the service that answers target: the one registered under
// the longest name that is target itself or a prefix of it ending at a "/".
// A nil Registry has no services.
func (r *Registry) Lookup(target string) Service {
	if r == nil {
		return nil
	}
	for name := target; name != ""; {
		if s := r.services[name]; s != nil {
			return s
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[:i]
	}
	return nil
}

// Errno maps an error from Open to the errno _spawn returns.
func Errno(err error) bus.Errno {
	switch {
	case err == nil:
		return bus.ESUCCESS
	case errors.Is(err, ErrNotFound):
		return bus.ENOENT
	case errors.Is(err, ErrLimit):
		return bus.EAGAIN
	}
	return bus.EACCES
}
