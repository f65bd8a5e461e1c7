package embly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// kvTarget is the spawn target prefix of the key-value service.
const kvTarget = "embly/kv/"

// Limits of the key-value store (docs/abi.md). Requests past them fail with
// an error matching [ErrTooLarge] before anything is sent.
const (
	MaxKeySize   = 1 << 10 // bytes in a key
	MaxValueSize = 1 << 20 // bytes in a value
	MaxPageSize  = 1000    // keys in one List page; 0 asks for the default, 100
)

// Errors of the key-value store; the errors of [KVStore]'s methods match one
// of them with errors.Is when the host answered.
var (
	// ErrNotFound: no such key, or it has expired.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a key, value or page size passes its limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: an empty key, a negative TTL, a malformed request.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the host's store failed; retrying later may work.
	ErrUnavailable = errors.New("store unavailable")
)

// Statuses of the kv protocol's responses.
const (
	kvOK byte = iota
	kvNotFound
	kvTooLarge
	kvBadRequest
	kvUnavailable
)

// Operations of the kv protocol's requests.
const (
	kvGet    byte = 1
	kvSet    byte = 2
	kvDelete byte = 3
	kvList   byte = 4
)

// KVStore is a key-value database of the project, declared in embly.hcl as
// `database "kv" "NAME" {}`. Keys and values are bytes (a Go string holds
// any bytes); keys sort bytewise. Get it with [KV].
//
// A KVStore talks to the host over one conn, spawned on first use and kept
// for the invocation; its methods may be called from several goroutines
// (they take turns on the conn).
type KVStore struct {
	name string

	mu sync.Mutex
	serviceConn
	buf []byte
}

// KV returns the key-value database name. It does not talk to the host:
// a database embly.hcl does not declare fails at the first call, with an
// error matching [ENOENT]. KV may be called at package level:
//
//	var cache = embly.KV("cache")
func KV(name string) *KVStore {
	return &KVStore{name: name, serviceConn: serviceConn{target: kvTarget + name}}
}

// KVError is the error of a request the host refused or failed.
type KVError struct {
	DB      string // the database's name
	Op      string // "get", "set", "delete", "list"
	Key     string // the key (the prefix, for list)
	Err     error  // ErrNotFound, ErrTooLarge, ErrInvalid or ErrUnavailable
	Message string // the host's explanation, when it gave one
}

// Error says what failed and why.
func (e *KVError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("embly: kv %q: %s %q: %s", e.DB, e.Op, truncate(e.Key), msg)
}

// Unwrap returns one of the package's Err values.
func (e *KVError) Unwrap() error { return e.Err }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Get returns the value of key, or an error matching [ErrNotFound].
func (s *KVStore) Get(key string) ([]byte, error) {
	if err := s.checkKey("get", key); err != nil {
		return nil, err
	}
	req := s.begin(kvGet)
	req = appendField(req, key)
	return s.do("get", key, req)
}

// Set stores value under key, for good.
func (s *KVStore) Set(key string, value []byte) error {
	return s.SetTTL(key, value, 0)
}

// SetTTL stores value under key for ttl (rounded up to a millisecond): then
// the key expires and reads as not found. A ttl of 0 keeps it for good.
func (s *KVStore) SetTTL(key string, value []byte, ttl time.Duration) error {
	if err := s.checkKey("set", key); err != nil {
		return err
	}
	switch {
	case len(value) > MaxValueSize:
		return &KVError{DB: s.name, Op: "set", Key: key, Err: ErrTooLarge,
			Message: fmt.Sprintf("the value is %d bytes; the limit is %d", len(value), MaxValueSize)}
	case ttl < 0:
		return &KVError{DB: s.name, Op: "set", Key: key, Err: ErrInvalid, Message: fmt.Sprintf("negative TTL %s", ttl)}
	}
	ms := uint64((ttl + time.Millisecond - 1) / time.Millisecond)
	req := s.begin(kvSet)
	req = appendField(req, key)
	req = binary.BigEndian.AppendUint64(req, ms)
	req = append(req, value...)
	_, err := s.do("set", key, req)
	return err
}

// Delete removes key. Deleting a missing key is not an error.
func (s *KVStore) Delete(key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	req := s.begin(kvDelete)
	req = appendField(req, key)
	_, err := s.do("delete", key, req)
	return err
}

// List returns, in byte order, up to limit keys that start with prefix and
// sort after cursor ("" for the first page), and the cursor of the next
// page, "" after the last. limit 0 is 100; at most [MaxPageSize].
//
//	for cursor := ""; ; {
//		keys, next, err := cache.List("user:", cursor, 0)
//		...
//		if next == "" { break }
//		cursor = next
//	}
func (s *KVStore) List(prefix, cursor string, limit int) (keys []string, next string, err error) {
	switch {
	case limit < 0:
		return nil, "", &KVError{DB: s.name, Op: "list", Key: prefix, Err: ErrInvalid, Message: fmt.Sprintf("negative page size %d", limit)}
	case limit > MaxPageSize:
		return nil, "", &KVError{DB: s.name, Op: "list", Key: prefix, Err: ErrTooLarge,
			Message: fmt.Sprintf("the page size is %d; the limit is %d", limit, MaxPageSize)}
	case len(prefix) > MaxKeySize || len(cursor) > MaxKeySize:
		return nil, "", &KVError{DB: s.name, Op: "list", Key: prefix, Err: ErrTooLarge,
			Message: fmt.Sprintf("the prefix or cursor is longer than a key may be (%d bytes)", MaxKeySize)}
	}
	req := s.begin(kvList)
	req = binary.BigEndian.AppendUint32(req, uint32(limit))
	req = appendField(req, prefix)
	req = appendField(req, cursor)
	resp, err := s.do("list", prefix, req)
	if err != nil {
		return nil, "", err
	}
	keys, next, ok := parseList(resp)
	if !ok {
		return nil, "", &KVError{DB: s.name, Op: "list", Key: prefix, Err: ErrUnavailable, Message: "malformed response from the host"}
	}
	return keys, next, nil
}

// Keys iterates over every key that starts with prefix, in byte order, a
// page at a time; it is an iter.Seq2[string, error] (spelt out, so the SDK
// builds with Go 1.22):
//
//	for key, err := range cache.Keys("user:") { ... }
//
// An error ends the iteration after it is yielded.
func (s *KVStore) Keys(prefix string) func(yield func(string, error) bool) {
	return func(yield func(string, error) bool) {
		cursor := ""
		for {
			keys, next, err := s.List(prefix, cursor, MaxPageSize)
			if err != nil {
				yield("", err)
				return
			}
			for _, k := range keys {
				if !yield(k, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			cursor = next
		}
	}
}

func parseList(p []byte) (keys []string, next string, ok bool) {
	if len(p) < 4 {
		return nil, "", false
	}
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	keys = make([]string, 0, min(n, MaxPageSize))
	for range n {
		if len(p) < 4 {
			return nil, "", false
		}
		l := binary.BigEndian.Uint32(p)
		if uint64(len(p)-4) < uint64(l) {
			return nil, "", false
		}
		keys = append(keys, string(p[4:4+l]))
		p = p[4+l:]
	}
	return keys, string(p), true
}

func (s *KVStore) checkKey(op, key string) error {
	switch {
	case key == "":
		return &KVError{DB: s.name, Op: op, Err: ErrInvalid, Message: "the key is empty"}
	case len(key) > MaxKeySize:
		return &KVError{DB: s.name, Op: op, Key: key, Err: ErrTooLarge,
			Message: fmt.Sprintf("the key is %d bytes; the limit is %d", len(key), MaxKeySize)}
	}
	return nil
}

// begin starts a request frame: room for the length, then op. The caller
// appends the fields and passes it to do, which fills in the length.
func (s *KVStore) begin(op byte) []byte {
	s.mu.Lock() // released by do
	return append(s.buf[:0], 0, 0, 0, 0, op)
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// do sends the request frame and reads the answer. It holds s.mu (taken by
// begin), so requests of several goroutines take turns on the conn.
func (s *KVStore) do(op, key string, req []byte) ([]byte, error) {
	defer s.mu.Unlock()
	if cap(req) <= 64<<10 {
		s.buf = req[:0]
	}
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	conn, err := s.connect()
	if err != nil {
		return nil, err
	}
	status, payload, err := roundTrip(conn, req)
	if err != nil {
		// The conn is unusable (the host ended it); the next call spawns
		// another.
		s.drop()
		return nil, fmt.Errorf("embly: kv %q: %s %q: %w", s.name, op, truncate(key), err)
	}
	if status == kvOK {
		return payload, nil
	}
	return nil, &KVError{DB: s.name, Op: op, Key: key, Message: string(payload), Err: statusErr(status)}
}

// statusErr is the sentinel error of a status the store services share;
// every other status is ErrUnavailable.
func statusErr(status byte) error {
	switch status {
	case kvNotFound:
		return ErrNotFound
	case kvTooLarge:
		return ErrTooLarge
	case kvBadRequest:
		return ErrInvalid
	}
	return ErrUnavailable
}

func roundTrip(conn *Conn, req []byte) (status byte, payload []byte, err error) {
	return roundTripMax(conn, req, MaxValueSize+MaxPageSize*(MaxKeySize+4)+64)
}

// roundTripMax writes a request frame and reads the response frame, which
// may be up to max bytes.
func roundTripMax(conn *Conn, req []byte, max uint32) (status byte, payload []byte, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > max {
		return 0, nil, fmt.Errorf("malformed response from the host (a frame of %d bytes)", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return body[0], body[1:], nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// kvSpawnReason explains an ENOENT from spawning embly/kv/NAME.
func kvSpawnReason(target string) (string, bool) {
	name, ok := strings.CutPrefix(target, kvTarget)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("no kv database %q in embly.hcl; declare it with database \"kv\" %q {}", name, name), true
}
