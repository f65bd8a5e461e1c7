package embly

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeSys is an in-memory host with the ABI's semantics: bounded windows,
// level-triggered input news, window news reported once. When the guest
// would block forever in _events, the test's peer callback runs instead; it
// plays the other actors.
type fakeSys struct {
	t *testing.T

	mu      sync.Mutex
	conns   map[int32]*fakeConn
	next    int32
	targets map[string]bool
	// refuse makes _spawn of a target fail with the errno.
	refuse map[string]Errno
	// spawned maps each spawned conn to its target.
	spawned map[int32]string
	// peer is called when _events would block. It returns false when the
	// peers have nothing more to do: a deadlock in the guest.
	peer func(f *fakeSys) bool
	// tick, if set, runs at every _events call: peers acting concurrently.
	tick func(f *fakeSys)
	// clock is the fake time; _events with a timeout advances it.
	clock time.Time

	eventsCalls int
	readCalls   int
}

type fakeConn struct {
	in      []byte // sent by the peer, unread by the guest
	inEOF   bool   // the peer closed its side
	eofRead bool   // the guest read the EOF
	maxRead int    // bytes per _read at most; 0: no limit

	out        []byte // written by the guest and taken by the peer
	window     []byte // written by the guest, not yet taken
	windowCap  int    // 0: unlimited
	blocked    bool   // a write met a full window
	windowNews bool
	closed     bool
	gone       bool // the peer is gone: writes fail with EPIPE
}

func newFakeSys(t *testing.T) *fakeSys {
	return &fakeSys{
		t:       t,
		conns:   map[int32]*fakeConn{1: {}},
		next:    2,
		targets: map[string]bool{},
		clock:   time.Date(2019, 10, 11, 21, 1, 4, 0, time.UTC),
	}
}

// newTestHost returns a host over f that never yields to other goroutines
// nor really sleeps, so tests are deterministic.
func newTestHost(f *fakeSys) *host {
	h := newHost(f)
	h.others = func() bool { return false }
	h.sleep = func(time.Duration) {}
	h.now = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.clock
	}
	return h
}

func (f *fakeSys) conn(id int32) *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[id]
	if c == nil {
		f.t.Fatalf("no fake conn %d", id)
	}
	return c
}

// send is the peer writing to the guest on id.
func (f *fakeSys) send(id int32, s string) {
	c := f.conn(id)
	f.mu.Lock()
	c.in = append(c.in, s...)
	f.mu.Unlock()
}

// closeIn is the peer closing its side of id.
func (f *fakeSys) closeIn(id int32) {
	c := f.conn(id)
	f.mu.Lock()
	c.inEOF = true
	f.mu.Unlock()
}

// take is the peer reading what the guest wrote on id, reopening the window.
func (f *fakeSys) take(id int32) {
	c := f.conn(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	c.out = append(c.out, c.window...)
	c.window = nil
	if c.blocked {
		c.blocked, c.windowNews = false, true
	}
}

// output returns everything the guest wrote on id, taken or not.
func (f *fakeSys) output(id int32) string {
	c := f.conn(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(c.out) + string(c.window)
}

func (f *fakeSys) read(id int32, p []byte) (int, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readCalls++
	c := f.conns[id]
	switch {
	case c == nil:
		return 0, EBADF
	case len(c.in) > 0:
		n := len(p)
		if c.maxRead > 0 {
			n = min(n, c.maxRead)
		}
		n = copy(p[:n], c.in)
		c.in = c.in[n:]
		return n, 0
	case c.inEOF:
		c.eofRead = true
		return 0, 0
	}
	return 0, EAGAIN
}

func (f *fakeSys) write(id int32, p []byte) (int, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[id]
	switch {
	case c == nil:
		return 0, EBADF
	case c.closed, c.gone:
		return 0, EPIPE
	}
	n := len(p)
	if c.windowCap > 0 {
		n = min(n, c.windowCap-len(c.window))
	}
	if n == 0 && len(p) > 0 {
		c.blocked = true
		return 0, EAGAIN
	}
	c.window = append(c.window, p[:n]...)
	return n, 0
}

func (f *fakeSys) spawn(target string) (int32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno, ok := f.refuse[target]; ok {
		return 0, errno
	}
	if !f.targets[target] {
		return 0, ENOENT
	}
	id := f.next
	f.next++
	f.conns[id] = &fakeConn{}
	if f.spawned == nil {
		f.spawned = map[int32]string{}
	}
	f.spawned[id] = target
	return id, 0
}

func (f *fakeSys) close(id int32) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[id]
	if c == nil {
		return EBADF
	}
	c.closed = true
	return 0
}

func (f *fakeSys) events(timeoutNS int64, ids []int32) (int, Errno) {
	f.mu.Lock()
	f.eventsCalls++
	if f.eventsCalls > 10000 {
		f.mu.Unlock()
		panic("fake host: _events called 10000 times: the guest spins")
	}
	f.mu.Unlock()
	if f.tick != nil {
		f.tick(f)
	}
	for {
		n := f.news(ids)
		if n > 0 || timeoutNS == 0 {
			return n, 0
		}
		if timeoutNS > 0 {
			f.mu.Lock()
			f.clock = f.clock.Add(time.Duration(timeoutNS))
			f.mu.Unlock()
			return 0, 0
		}
		if f.peer == nil || !f.peer(f) {
			panic(fmt.Sprintf("fake host: the guest waits forever and no peer acts (events call %d)", f.eventsCalls))
		}
	}
}

// news reports conns with unread input, an unread EOF, or a reopened window.
func (f *fakeSys) news(ids []int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for id := int32(1); id < f.next && n < len(ids); id++ {
		c := f.conns[id]
		if c == nil {
			continue
		}
		if len(c.in) > 0 || c.inEOF && !c.eofRead || c.windowNews {
			c.windowNews = false
			ids[n] = id
			n++
		}
	}
	return n
}
