package embly

import (
	"errors"
	"io"
	"strings"
	"testing"
)

const testAddr = "addr/0123456789abcdef0123456789abcdef"

func TestListenAcceptAndDial(t *testing.T) {
	f := newFakeSys(t)
	f.targets[listenTarget] = true
	f.targets[testAddr] = true
	h := newTestHost(f)
	step := 0
	f.peer = func(f *fakeSys) bool {
		step++
		switch step {
		case 1:
			// The host announces the address on the listen conn.
			f.send(2, testAddr+"\n")
			return true
		case 2:
			// Someone dials: conn 3 appears, announced on the listen conn.
			f.mu.Lock()
			f.conns[f.next] = &fakeConn{in: []byte("hi from a stranger"), inEOF: true}
			f.next++
			f.mu.Unlock()
			f.send(2, "3\n")
			return true
		}
		return false
	}
	l, err := h.listen()
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr() != testAddr {
		t.Fatalf("Addr() = %q", l.Addr())
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != 3 {
		t.Fatalf("accepted conn %d, want 3", c.ID())
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hi from a stranger" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !f.conn(2).closed {
		t.Fatal("Close did not close the listen conn")
	}

	d, err := h.dial(testAddr)
	if err != nil || d.ID() != 4 {
		t.Fatalf("dial = %v, %v", d, err)
	}
}

func TestDialErrors(t *testing.T) {
	f := newFakeSys(t)
	f.refuse = map[string]Errno{"addr/ffffffffffffffffffffffffffffffff": EAGAIN}
	h := newTestHost(f)
	for _, tc := range []struct {
		addr  string
		errno Errno
		text  string
	}{
		{"addr/00000000000000000000000000000000", ENOENT, "no such address"},
		{"x", ENOENT, "not an address"},
		{"addr/listen", ENOENT, "not an address"},
		{"addr/ffffffffffffffffffffffffffffffff", EAGAIN, "too many conns waiting"},
	} {
		_, err := h.dial(tc.addr)
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("dial %q: %v; want %v and %q", tc.addr, err, tc.errno, tc.text)
		}
	}
}
