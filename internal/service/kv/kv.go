// Package kv is the embly/kv/NAME host service: a function's access to the
// key-value databases its project declares with `database "kv" "NAME" {}`.
//
// A function spawns "embly/kv/NAME" and then sends requests on the conn,
// as many as it likes, each a length-prefixed frame; the service answers
// each in order (protocol.go, docs/abi.md). One conn per database is all a
// function needs: spawning is the expensive part, a request is a round trip
// through the conn.
package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/service/frames"
	"github.com/embly/embly/internal/store"
)

// Prefix is the spawn target prefix of this service: "embly/kv/NAME".
const Prefix = "embly/kv"

// Service serves the kv databases of one project.
type Service struct {
	dbs   map[string]store.KV
	vinyl map[string]bool // declared vinyl databases, named in messages
}

// Database is a database declared in embly.hcl.
type Database struct {
	Type string // "kv" or "vinyl"
	Name string
}

// New returns the service for the project's databases, kept in backend.
// Only the kv databases among dbs are reachable.
func New(ctx context.Context, backend store.Backend, dbs []Database) (*Service, error) {
	s := &Service{dbs: map[string]store.KV{}, vinyl: map[string]bool{}}
	for _, db := range dbs {
		if db.Type != "kv" {
			s.vinyl[db.Name] = true
			continue
		}
		k, err := backend.KV(ctx, db.Name)
		if err != nil {
			return nil, fmt.Errorf("kv database %q: %w", db.Name, err)
		}
		s.dbs[db.Name] = k
	}
	return s, nil
}

// Open implements service.Service: a declared kv database, else ENOENT.
func (s *Service) Open(target string, c service.Caller) (service.Handler, error) {
	name, _ := strings.CutPrefix(target, Prefix+"/")
	if k := s.dbs[name]; k != nil && name != "" {
		return &session{kv: k, name: name, caller: c}, nil
	}
	var why string
	switch {
	case !strings.HasPrefix(target, Prefix+"/") || name == "":
		why = fmt.Sprintf("name the database: %s/NAME", Prefix)
	case s.vinyl[name]:
		why = fmt.Sprintf("database %q is a vinyl database, not a kv one", name)
	default:
		why = fmt.Sprintf("no kv database %q in embly.hcl; declare it with database \"kv\" %q {}", name, name)
	}
	return nil, service.NotFound(c, target, why)
}

// session is one conn: requests in, responses out, until the function
// closes its side or ends.
type session struct {
	kv     store.KV
	name   string
	caller service.Caller
}

// Serve implements service.Handler.
func (s *session) Serve(ctx context.Context, conn *bus.Conn) {
	frames.Serve(ctx, conn, MaxRequestBytes, func(out, body []byte, n uint32) []byte {
		if body == nil {
			return appendError(out, StatusTooLarge, fmt.Sprintf("the request is %d bytes; the limit is %d (a value may be %d bytes, a key %d)",
				n, MaxRequestBytes, store.MaxValueBytes, store.MaxKeyBytes))
		}
		return s.handle(ctx, out, body)
	}, s.logf)
}

// handle runs one request and appends its response frame to out.
func (s *session) handle(ctx context.Context, out, body []byte) []byte {
	req, err := DecodeRequest(body)
	if err != nil {
		return appendError(out, StatusBadRequest, err.Error())
	}
	switch req.Op {
	case OpGet:
		v, err := s.kv.Get(ctx, req.Key)
		if err != nil {
			return s.appendStoreError(out, "get", err)
		}
		return appendFrame(out, StatusOK, v)
	case OpSet:
		ttl := time.Duration(min(req.TTLms, uint64(1<<62)/uint64(time.Millisecond))) * time.Millisecond
		if err := s.kv.Set(ctx, req.Key, req.Value, ttl); err != nil {
			return s.appendStoreError(out, "set", err)
		}
		return appendFrame(out, StatusOK, nil)
	case OpDelete:
		if err := s.kv.Delete(ctx, req.Key); err != nil {
			return s.appendStoreError(out, "delete", err)
		}
		return appendFrame(out, StatusOK, nil)
	case OpList:
		keys, next, err := s.kv.List(ctx, req.Prefix, req.Cursor, int(min(req.Limit, 1<<30)))
		if err != nil {
			return s.appendStoreError(out, "list", err)
		}
		return appendList(out, keys, next)
	}
	return appendError(out, StatusBadRequest, "unknown operation")
}

func (s *session) appendStoreError(out []byte, op string, err error) []byte {
	msg := fmt.Sprintf("%s/%s: %s: %v", Prefix, s.name, op, err)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return appendError(out, StatusNotFound, msg)
	case errors.Is(err, store.ErrTooLarge):
		return appendError(out, StatusTooLarge, msg)
	case errors.Is(err, store.ErrInvalid):
		return appendError(out, StatusBadRequest, msg)
	}
	s.logf("%s: %v", op, err)
	return appendError(out, StatusUnavailable, msg)
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.caller.Log, "%s/%s: %s\n", Prefix, s.name, fmt.Sprintf(format, args...))
}

func appendFrame(out []byte, status byte, payload []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(1+len(payload)))
	out = append(out, status)
	return append(out, payload...)
}

func appendError(out []byte, status byte, msg string) []byte {
	return appendFrame(out, status, []byte(msg))
}

func appendList(out []byte, keys [][]byte, next []byte) []byte {
	start := len(out)
	out = append(out, 0, 0, 0, 0, StatusOK)
	out = binary.BigEndian.AppendUint32(out, uint32(len(keys)))
	for _, k := range keys {
		out = appendBytes(out, k)
	}
	out = append(out, next...)
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out
}
