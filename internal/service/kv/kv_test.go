package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/service/frames"
	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/sqlite"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func newService(t testing.TB) *Service {
	t.Helper()
	b, err := sqlite.Open(context.Background(), "", store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s, err := New(context.Background(), b, []Database{{"kv", "cache"}, {"kv", "other"}, {"vinyl", "main"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is the function's side of one spawn of embly/kv/NAME.
type client struct {
	*bus.Conn
	mb   *bus.Mailbox
	done chan struct{}
}

func open(t testing.TB, s *Service, target string) *client {
	t.Helper()
	h, err := s.Open(target, service.Caller{Function: "fn", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mine, theirs := bus.NewPair(64 << 10)
	c := &client{mb: bus.NewMailbox(), done: make(chan struct{})}
	id, _ := c.mb.Add(mine)
	c.Conn = bus.NewConn(ctx, c.mb, id)
	smb := bus.NewMailbox()
	sid, _ := smb.Add(theirs)
	go func() {
		defer close(c.done)
		defer smb.Close()
		h.Serve(ctx, bus.NewConn(ctx, smb, sid))
	}()
	t.Cleanup(func() {
		c.mb.Close()
		cancel()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the service did not return")
		}
	})
	return c
}

// do sends one request and reads one response: status and payload.
func (c *client) do(t testing.TB, r Request) (byte, []byte) {
	t.Helper()
	if _, err := c.Write(AppendRequest(nil, r)); err != nil {
		t.Fatal(err)
	}
	return c.response(t)
}

func (c *client) response(t testing.TB) (byte, []byte) {
	t.Helper()
	body, _, err := frames.Read(c, nil, 4<<20)
	if err != nil || len(body) == 0 {
		t.Fatalf("reading the response: %q, %v", body, err)
	}
	return body[0], body[1:]
}

func TestRequests(t *testing.T) {
	c := open(t, newService(t), "embly/kv/cache")
	for _, tc := range []struct {
		name   string
		req    Request
		status byte
		want   string // payload, or a substring of the message
	}{
		{"get missing", Request{Op: OpGet, Key: []byte("a")}, StatusNotFound, "not found"},
		{"set", Request{Op: OpSet, Key: []byte("a"), Value: []byte("one")}, StatusOK, ""},
		{"get", Request{Op: OpGet, Key: []byte("a")}, StatusOK, "one"},
		{"set b", Request{Op: OpSet, Key: []byte("ab"), Value: []byte("two"), TTLms: 60000}, StatusOK, ""},
		{"list", Request{Op: OpList, Prefix: []byte("a")}, StatusOK, "\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02ab"},
		{"list page", Request{Op: OpList, Prefix: []byte("a"), Limit: 1}, StatusOK, "\x00\x00\x00\x01\x00\x00\x00\x01aa"},
		{"delete", Request{Op: OpDelete, Key: []byte("a")}, StatusOK, ""},
		{"get deleted", Request{Op: OpGet, Key: []byte("a")}, StatusNotFound, "embly/kv/cache: get: not found"},
		{"empty key", Request{Op: OpGet}, StatusBadRequest, "the key is empty"},
		{"key too large", Request{Op: OpSet, Key: make([]byte, store.MaxKeyBytes+1)}, StatusTooLarge, "the key is 1025 bytes; the limit is 1024"},
		{"page too large", Request{Op: OpList, Limit: 1001}, StatusTooLarge, "the page size is 1001; the limit is 1000"},
		{"unknown op", Request{Op: 9}, StatusBadRequest, "unknown operation 9"},
	} {
		status, payload := c.do(t, tc.req)
		ok := string(payload) == tc.want
		if status != StatusOK {
			ok = strings.Contains(string(payload), tc.want)
		}
		if status != tc.status || !ok {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, status, payload, tc.status, tc.want)
		}
	}
}

func TestMalformedFrames(t *testing.T) {
	c := open(t, newService(t), "embly/kv/cache")
	frame := func(body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "an empty frame"},
		{"short key", "\x01\x00\x00\x00\x05ab", "get frame of 7 bytes ends early"},
		{"trailing", "\x01\x00\x00\x00\x01ab", "1 bytes after the get request"},
		{"short ttl", "\x02\x00\x00\x00\x01a\x00\x00", "set frame of 8 bytes ends early"},
	} {
		c.Write(frame(tc.body))
		status, msg := c.response(t)
		if status != StatusBadRequest || !strings.Contains(string(msg), tc.want) {
			t.Errorf("%s: got %d %q, want %q", tc.name, status, msg, tc.want)
		}
	}
	// A frame over the limit is discarded and refused; the conn goes on.
	big := make([]byte, MaxRequestBytes+1)
	c.Write(frame(string(big)))
	if status, msg := c.response(t); status != StatusTooLarge || !strings.Contains(string(msg), "the limit is") {
		t.Errorf("huge frame: %d %q", status, msg)
	}
	// The largest value fits.
	value := bytes.Repeat([]byte("v"), store.MaxValueBytes)
	if status, msg := c.do(t, Request{Op: OpSet, Key: bytes.Repeat([]byte("k"), store.MaxKeyBytes), Value: value}); status != StatusOK {
		t.Fatalf("largest set: %d %q", status, msg)
	}
	if status, got := c.do(t, Request{Op: OpGet, Key: bytes.Repeat([]byte("k"), store.MaxKeyBytes)}); status != StatusOK || !bytes.Equal(got, value) {
		t.Fatalf("largest get: %d, %d bytes", status, len(got))
	}
}

func TestPipelined(t *testing.T) {
	c := open(t, newService(t), "embly/kv/cache")
	var reqs []byte
	const n = 200
	for i := range n {
		reqs = AppendRequest(reqs, Request{Op: OpSet, Key: fmt.Appendf(nil, "k%03d", i), Value: []byte("v")})
	}
	go c.Write(reqs)
	for i := range n {
		if status, msg := c.response(t); status != StatusOK {
			t.Fatalf("response %d: %d %q", i, status, msg)
		}
	}
	c.CloseWrite() // the function is done: the service ends
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestOpenOnlyDeclared(t *testing.T) {
	s := newService(t)
	for _, tc := range []struct{ target, log string }{
		{"embly/kv/nope", `no kv database "nope" in embly.hcl; declare it with database "kv" "nope" {}`},
		{"embly/kv/main", `database "main" is a vinyl database, not a kv one`},
		{"embly/kv", "name the database: embly/kv/NAME"},
		{"embly/kv/", "name the database"},
		{"embly/kv/cache/x", `no kv database "cache/x"`},
	} {
		log := &syncBuffer{}
		_, err := s.Open(tc.target, service.Caller{Function: "fn", Log: log})
		if !errors.Is(err, service.ErrNotFound) || service.Errno(err) != bus.ENOENT {
			t.Errorf("%s: err = %v, want ENOENT", tc.target, err)
		}
		if !strings.Contains(log.String(), tc.log) {
			t.Errorf("%s: log = %q, want %q", tc.target, log, tc.log)
		}
	}
	// Databases are separate.
	a, b := open(t, s, "embly/kv/cache"), open(t, s, "embly/kv/other")
	a.do(t, Request{Op: OpSet, Key: []byte("k"), Value: []byte("v")})
	if status, _ := b.do(t, Request{Op: OpGet, Key: []byte("k")}); status != StatusNotFound {
		t.Errorf("other sees cache's key: status %d", status)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []Request{
		{Op: OpGet, Key: []byte("k")},
		{Op: OpSet, Key: []byte("k"), Value: []byte("v"), TTLms: 5},
		{Op: OpList, Limit: 3, Prefix: []byte("p"), Cursor: []byte("c")},
	} {
		f.Add(AppendRequest(nil, r)[4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			return
		}
		if again := AppendRequest(nil, r)[4:]; !bytes.Equal(again, body) {
			t.Fatalf("round trip: %x -> %+v -> %x", body, r, again)
		}
	})
}
