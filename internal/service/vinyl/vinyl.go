// Package vinyl is the embly/vinyl/NAME host service: a function's access
// to the record databases its project declares with
// `database "vinyl" "NAME" { definition = "data.proto" record "User" {...} }`.
//
// The package holds the whole capability: the schema (the .proto compiled
// with protocompile, each record block resolved against its message), the
// codec (records travel as protobuf binary or protojson, since the host has
// the descriptors), and the conn service, which mirrors embly/kv's framing
// (protocol.go, docs/abi.md). The tables themselves are the store's
// (internal/store): one per record type, with real indexes.
package vinyl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/service/frames"
	"github.com/embly/embly/internal/store"
)

// Prefix is the spawn target prefix of this service: "embly/vinyl/NAME".
const Prefix = "embly/vinyl"

// Service serves the vinyl databases of one project.
type Service struct {
	dbs map[string]*opened
	kv  map[string]bool // declared kv databases, named in messages
}

type opened struct {
	db      *Database
	records store.Records
}

// New opens the project's vinyl databases dbs in backend. Record types new
// to the store are created; other schema changes fail with an error
// matching store.ErrSchemaChanged that shows the plan. kvNames are the
// project's kv databases, for messages.
func New(ctx context.Context, backend store.Backend, dbs []*Database, kvNames []string) (*Service, error) {
	s := &Service{dbs: map[string]*opened{}, kv: map[string]bool{}}
	for _, n := range kvNames {
		s.kv[n] = true
	}
	for _, db := range dbs {
		r, err := backend.Records(ctx, db.Name, db.Schema)
		if err != nil {
			return nil, fmt.Errorf("vinyl database %q: %w", db.Name, err)
		}
		s.dbs[db.Name] = &opened{db: db, records: r}
	}
	return s, nil
}

// Records returns the store of database name, or nil (for benchmarks and
// `embly db inspect`).
func (s *Service) Records(name string) store.Records {
	if o := s.dbs[name]; o != nil {
		return o.records
	}
	return nil
}

// Open implements service.Service: a declared vinyl database, else ENOENT.
func (s *Service) Open(target string, c service.Caller) (service.Handler, error) {
	name, _ := strings.CutPrefix(target, Prefix+"/")
	if o := s.dbs[name]; o != nil && name != "" {
		return &session{opened: o, name: name, caller: c}, nil
	}
	var why string
	switch {
	case !strings.HasPrefix(target, Prefix+"/") || name == "":
		why = fmt.Sprintf("name the database: %s/NAME", Prefix)
	case s.kv[name]:
		why = fmt.Sprintf("database %q is a kv database, not a vinyl one", name)
	default:
		why = fmt.Sprintf("no vinyl database %q in embly.hcl; declare it with database \"vinyl\" %q { definition = \"data.proto\" record \"MESSAGE\" { primary_key = \"id\" } }", name, name)
	}
	return nil, service.NotFound(c, target, why)
}

// session is one conn: requests in, responses out, until the function
// closes its side or ends.
type session struct {
	*opened
	name   string
	caller service.Caller
}

// Serve implements service.Handler.
func (s *session) Serve(ctx context.Context, conn *bus.Conn) {
	frames.Serve(ctx, conn, MaxRequestBytes, func(out, body []byte, n uint32) []byte {
		if body == nil {
			return appendError(out, StatusTooLarge, fmt.Sprintf("the request is %d bytes; the limit is %d", n, MaxRequestBytes))
		}
		return s.handle(ctx, out, body)
	}, s.logf)
}

// handle runs one request and appends its response frame to out.
func (s *session) handle(ctx context.Context, out, body []byte) []byte {
	req, err := DecodeRequest(body)
	if err != nil {
		return appendError(out, StatusBadRequest, fmt.Sprintf("%s/%s: %v", Prefix, s.name, err))
	}
	op := opName(req.Op)
	rt := s.db.Schema.Type(req.Type)
	if rt == nil {
		return s.storeError(out, op, req.Type, fmt.Errorf("%w: no record type %q in vinyl database %q (it has %s)", store.ErrInvalid, req.Type, s.name, typeList(s.db)))
	}
	switch req.Op {
	case OpInsert:
		m, _, err := s.db.Decode(rt.Name, req.Format, req.Body)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		rec, err := Record(rt, m)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		key, err := s.records.Insert(ctx, rt.Name, rec)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		rec.Key = key
		data, err := s.db.Encode(rt, rec, req.Format)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		start := begin(&out, StatusOK)
		out = appendBytes(out, KeyJSON(key))
		out = append(out, data...)
		return end(out, start)
	case OpLoad:
		key, err := ParseKey(req.Body)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		rec, err := s.records.Load(ctx, rt.Name, key)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		data, err := s.db.Encode(rt, rec, req.Format)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		start := begin(&out, StatusOK)
		out = append(out, data...)
		return end(out, start)
	case OpQuery:
		q, err := ParseQuery(req.Body)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		recs, err := s.records.Query(ctx, rt.Name, q)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		start := begin(&out, StatusOK)
		out = binary.BigEndian.AppendUint32(out, uint32(len(recs)))
		for _, rec := range recs {
			data, err := s.db.Encode(rt, rec, req.Format)
			if err != nil {
				return s.storeError(out[:start], op, rt.Name, err)
			}
			out = appendBytes(out, data)
			if len(out)-start > MaxResponseBytes {
				return s.storeError(out[:start], op, rt.Name, fmt.Errorf("%w: the answer passes %d bytes; ask for fewer records (limit)", store.ErrTooLarge, MaxResponseBytes))
			}
		}
		return end(out, start)
	case OpDelete:
		key, err := ParseKey(req.Body)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		ok, err := s.records.Delete(ctx, rt.Name, key)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		n := uint64(0)
		if ok {
			n = 1
		}
		return appendCount(out, n)
	case OpDeleteWhere:
		if len(req.Body) == 0 {
			return s.storeError(out, op, rt.Name, fmt.Errorf("%w: delete-where needs a query; {} deletes every record", store.ErrInvalid))
		}
		q, err := ParseQuery(req.Body)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		n, err := s.records.DeleteWhere(ctx, rt.Name, q.Filter)
		if err != nil {
			return s.storeError(out, op, rt.Name, err)
		}
		return appendCount(out, uint64(n))
	}
	return appendError(out, StatusBadRequest, "unknown operation")
}

func typeList(db *Database) string {
	var names []string
	for _, t := range db.Schema.Types {
		names = append(names, fmt.Sprintf("%q", t.Name))
	}
	return strings.Join(names, ", ")
}

func (s *session) storeError(out []byte, op, typ string, err error) []byte {
	msg := fmt.Sprintf("%s/%s: %s %s: %v", Prefix, s.name, op, typ, err)
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ce):
		start := begin(&out, StatusConflict)
		out = appendBytes(out, []byte(ce.Field))
		out = append(out, msg...)
		return end(out, start)
	case errors.Is(err, store.ErrNotFound):
		return appendError(out, StatusNotFound, msg)
	case errors.Is(err, store.ErrTooLarge):
		return appendError(out, StatusTooLarge, msg)
	case errors.Is(err, store.ErrInvalid):
		return appendError(out, StatusBadRequest, msg)
	}
	s.logf("%s %s: %v", op, typ, err)
	return appendError(out, StatusUnavailable, msg)
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.caller.Log, "%s/%s: %s\n", Prefix, s.name, fmt.Sprintf(format, args...))
}

func opName(op byte) string {
	return [...]string{"op 0", "insert", "load", "query", "delete", "delete-where"}[op]
}

// begin starts a response frame with status and returns where it starts;
// end fills in its length.
func begin(out *[]byte, status byte) int {
	start := len(*out)
	*out = append(*out, 0, 0, 0, 0, status)
	return start
}

func end(out []byte, start int) []byte {
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out
}

func appendError(out []byte, status byte, msg string) []byte {
	start := begin(&out, status)
	out = append(out, msg...)
	return end(out, start)
}

func appendCount(out []byte, n uint64) []byte {
	start := begin(&out, StatusOK)
	out = binary.BigEndian.AppendUint64(out, n)
	return end(out, start)
}
