package bus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is one actor's end of a conn: it reads from one pipe and writes
// to the other.
type Endpoint struct {
	in, out *pipe
	// owner is set once, when the endpoint joins a mailbox; the peer may
	// notify concurrently, hence atomic.
	owner atomic.Pointer[owner]
	// queued: the conn is in its mailbox's ready list. Guarded by the
	// mailbox's mutex.
	queued bool
	// ownedBy is what owner points to, kept here to save an allocation.
	ownedBy owner
}

type owner struct {
	mb *Mailbox
	id int32
}

// notify tells the endpoint's mailbox that this conn may have news.
func (e *Endpoint) notify() {
	if e == nil {
		return
	}
	if o := e.owner.Load(); o != nil {
		o.mb.mark(o.id)
	}
}

// news reports whether the conn has something for its owner: data or an
// unread EOF (level-triggered), or a window that reopened (reported once).
func (e *Endpoint) news() bool {
	readable := e.in.readable()
	reopened := e.out.takeReopened()
	return readable || reopened
}

// release closes both directions: the peer reads EOF and its writes fail.
func (e *Endpoint) release() {
	e.out.closeWrite()
	e.in.closeRead()
}

// NewPair makes a conn: two endpoints joined by a pipe each way, each
// direction with its own window of the given size (DefaultWindow if <= 0).
func NewPair(window int) (a, b *Endpoint) {
	// One allocation for the whole conn: one is made for every invocation.
	c := &struct {
		ab, ba pipe
		a, b   Endpoint
	}{}
	ab, ba := &c.ab, &c.ba
	ab.init(window)
	ba.init(window)
	a, b = &c.a, &c.b
	a.in, a.out = ba, ab
	b.in, b.out = ab, ba
	ab.writer, ab.reader = a, b
	ba.writer, ba.reader = b, a
	return a, b
}

// Mailbox is one actor's table of conns and the news about them. Conn ids
// start at 1; conn 1 is whoever started the actor.
//
// Conns live in a slice indexed by id and the conns that may have news in a
// list, rather than in maps: a mailbox is made for every invocation, and
// most hold one or two conns.
type Mailbox struct {
	mu    sync.Mutex
	conns []*Endpoint // conns[id-1]; nil once released. Ids are not reused.
	ready []int32     // conns that may have news, each once (Endpoint.queued)
	// wake is closed (and forgotten) when news arrives, waking every waiter
	// at once: a Go-side conn may wait to read and to write concurrently.
	wake   chan struct{}
	closed bool

	// Backing arrays for the first conns, which is all most mailboxes need.
	connsArr [2]*Endpoint
	readyArr [2]int32
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox {
	m := &Mailbox{}
	m.conns, m.ready = m.connsArr[:0], m.readyArr[:0]
	return m
}

// Add puts e in the mailbox under the next free id and returns the id. It
// fails with EPIPE once the mailbox is closed, so nothing attaches to an
// actor that has ended.
func (m *Mailbox) Add(e *Endpoint) (int32, Errno) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, EPIPE
	}
	m.conns = append(m.conns, e)
	id := int32(len(m.conns))
	e.ownedBy = owner{mb: m, id: id}
	e.owner.Store(&e.ownedBy)
	// A peer may have written before the endpoint had an owner.
	m.queueLocked(id, e)
	m.signalLocked()
	m.mu.Unlock()
	return id, ESUCCESS
}

// Len returns how many conns the mailbox holds.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.conns {
		if e != nil {
			n++
		}
	}
	return n
}

func (m *Mailbox) get(id int32) *Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.getLocked(id)
}

func (m *Mailbox) getLocked(id int32) *Endpoint {
	if id < 1 || int(id) > len(m.conns) {
		return nil
	}
	return m.conns[id-1]
}

// queueLocked adds id to the ready list unless it is there already.
func (m *Mailbox) queueLocked(id int32, e *Endpoint) {
	if !e.queued {
		e.queued = true
		m.ready = append(m.ready, id)
	}
}

func (m *Mailbox) mark(id int32) {
	m.mu.Lock()
	if e := m.getLocked(id); e != nil {
		m.queueLocked(id, e)
	}
	m.signalLocked()
	m.mu.Unlock()
}

func (m *Mailbox) signalLocked() {
	if m.wake != nil {
		close(m.wake)
		m.wake = nil
	}
}

// waitChan returns a channel that is closed at the next news. Take it before
// checking for news so a notification between the check and the wait is
// not lost.
func (m *Mailbox) waitChan() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return closedChan
	}
	if m.wake == nil {
		m.wake = make(chan struct{})
	}
	return m.wake
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Read copies buffered bytes of conn id into b. A return of (0, ESUCCESS)
// with len(b) > 0 is EOF; EAGAIN means nothing yet; EBADF no such conn.
func (m *Mailbox) Read(id int32, b []byte) (int, Errno) {
	e := m.get(id)
	if e == nil {
		return 0, EBADF
	}
	if len(b) == 0 {
		return 0, ESUCCESS
	}
	return e.in.read(b)
}

// Write copies as much of b as fits in conn id's window. EAGAIN means the
// window is full (the conn is reported by Events once it reopens); EPIPE
// means the peer is gone or our side was closed.
func (m *Mailbox) Write(id int32, b []byte) (int, Errno) {
	e := m.get(id)
	if e == nil {
		return 0, EBADF
	}
	return e.out.write(b)
}

// WriteAtomic copies all of b into conn id's window, or nothing: EAGAIN
// when it does not fit. It is for a host-side writer of small records that
// a reader must never see cut (a dialed conn's id on a listen conn). The
// caller must be the conn's only writer.
func (m *Mailbox) WriteAtomic(id int32, b []byte) Errno {
	e := m.get(id)
	if e == nil {
		return EBADF
	}
	return e.out.writeAtomic(b)
}

// CloseWrite closes our write side of conn id; the peer reads EOF once it
// has drained the buffer. We can still read what the peer sends.
func (m *Mailbox) CloseWrite(id int32) Errno {
	e := m.get(id)
	if e == nil {
		return EBADF
	}
	e.out.closeWrite()
	return ESUCCESS
}

// Release drops conn id entirely: both directions close and the id is freed.
func (m *Mailbox) Release(id int32) Errno {
	m.mu.Lock()
	e := m.getLocked(id)
	if e != nil {
		m.conns[id-1] = nil // Poll drops it from the ready list
	}
	m.mu.Unlock()
	if e == nil {
		return EBADF
	}
	e.release()
	return ESUCCESS
}

// Close ends the actor's side of every conn: each peer reads EOF and its
// writes fail with EPIPE. Later Adds fail.
func (m *Mailbox) Close() {
	m.mu.Lock()
	conns := m.conns
	m.conns, m.ready = nil, nil
	m.closed = true
	m.signalLocked()
	m.mu.Unlock()
	for _, e := range conns {
		if e != nil {
			e.release()
		}
	}
}

// Poll writes into ids the conns that have news now, without waiting, and
// returns how many it wrote. Conns with more news than fits stay pending.
func (m *Mailbox) Poll(ids []int32) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	var rest []int32 // pending beyond what ids holds
	for i, id := range m.ready {
		if n == len(ids) {
			rest = m.ready[i:]
			break
		}
		e := m.getLocked(id)
		if e == nil {
			continue // released
		}
		// Lock order is mailbox, then pipe; pipes never take a mailbox lock
		// while holding their own, so checking news here is safe and a
		// notification cannot slip between the check and the removal.
		if !e.news() {
			e.queued = false
			continue
		}
		ids[n] = id
		n++
	}
	// Level-triggered news stays queued, to be reported again until the
	// guest takes it, behind what was left out this time so nothing starves.
	// (n <= the index rest starts at, so the copies never overtake.)
	keep := append(m.ready[:0], rest...)
	m.ready = append(keep, ids[:n]...)
	return n
}

// ErrClosed is returned by Events once the mailbox is closed.
var ErrClosed = errors.New("bus: mailbox closed")

// Events waits until some conns have news and writes their ids into ids. A
// timeout of 0 polls, a negative timeout waits forever. It returns 0 on
// timeout and ctx.Err() when ctx ends first.
func (m *Mailbox) Events(ctx context.Context, timeout time.Duration, ids []int32) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var deadline <-chan time.Time
	for {
		wake := m.waitChan()
		if n := m.Poll(ids); n > 0 || timeout == 0 {
			return n, nil
		}
		if wake == closedChan {
			return 0, ErrClosed
		}
		if deadline == nil && timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-wake:
		case <-deadline:
			return m.Poll(ids), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
