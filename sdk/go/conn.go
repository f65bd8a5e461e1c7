package embly

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Conn is a byte stream between this instance and another actor: the one
// that started it ([Parent]), or one it started ([Spawn]). It implements
// [io.ReadWriteCloser]. Read and Write block until they can make progress;
// while they wait, other goroutines get their turn.
//
// A Conn may be used by one reader and one writer goroutine at a time.
type Conn struct {
	h  *host
	id int32
}

var _ io.ReadWriteCloser = (*Conn)(nil)

// ID returns the conn's id in the host ABI. Conn 1 is the parent.
func (c *Conn) ID() int32 { return c.id }

// String returns "embly conn ID".
func (c *Conn) String() string { return fmt.Sprintf("embly conn %d", c.id) }

// Parent returns conn 1: whoever started this instance (the HTTP gateway,
// another function, or the CLI). [HandleHTTP] reads and answers it for HTTP
// functions; other functions read their input from it and write their answer
// to it.
func Parent() *Conn { return parent }

// parent is conn 1 of defaultHost. A Conn is only its host and id, so one
// serves every invocation.
var parent = defaultHost.conn(1)

func (h *host) conn(id int32) *Conn { return &Conn{h: h, id: id} }

// Read reads up to len(p) bytes. It blocks until some data is there, and
// returns io.EOF once the peer has closed its side and all data is read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, errno, done := c.tryRead(p)
		if done {
			switch {
			case errno != 0:
				return 0, c.error("read", errno)
			case n == 0:
				return 0, io.EOF
			}
			return n, nil
		}
		if _, err := c.h.await([]int32{c.id}, waitRead, -1); err != nil {
			return 0, err
		}
	}
}

// tryRead serves p from the stash, or else from the host. done is false when
// nothing is there yet.
func (c *Conn) tryRead(p []byte) (n int, errno Errno, done bool) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	st := c.h.state(c.id)
	if len(st.stash) > 0 {
		n = copy(p, st.stash)
		st.stash = st.stash[n:]
		if len(st.stash) == 0 {
			st.stash = nil
		}
		return n, 0, true
	}
	if st.eof {
		return 0, 0, true
	}
	n, errno = c.h.sys.read(c.id, p)
	switch {
	case errno == EAGAIN:
		return 0, 0, false
	case errno == 0 && n == 0:
		st.eof = true
	}
	return n, errno, true
}

// Write writes all of p. It blocks while the conn's window is full, until the
// peer has read enough. It fails with an error matching [EPIPE] once the peer
// is gone or after Close.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, errno := c.tryWrite(p[written:])
		written += n
		switch {
		case errno == EAGAIN || errno == 0 && n == 0:
			if _, err := c.h.await([]int32{c.id}, waitWrite, -1); err != nil {
				return written, err
			}
		case errno != 0:
			return written, c.error("write", errno)
		}
	}
	return written, nil
}

func (c *Conn) tryWrite(p []byte) (int, Errno) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if c.h.state(c.id).closed {
		return 0, EPIPE
	}
	return c.h.sys.write(c.id, p)
}

// Close closes this side of the conn for writing: the peer reads EOF once it
// has read what was written. Reading goes on until the peer closes too. A
// second Close does nothing.
func (c *Conn) Close() error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	st := c.h.state(c.id)
	if st.closed {
		return nil
	}
	st.closed = true
	if errno := c.h.sys.close(c.id); errno != 0 {
		return c.error("close", errno)
	}
	return nil
}

func (c *Conn) error(op string, errno Errno) error {
	return fmt.Errorf("embly: %s conn %d: %w", op, c.id, errno)
}

// Spawn starts a fresh instance of the project's function name and returns a
// conn to it; the new instance sees it as its [Parent]. The error matches
// [ENOENT] when the project has no such function.
func Spawn(name string) (*Conn, error) {
	return defaultHost.spawn("function/" + name)
}

// SpawnTarget is [Spawn] for a raw target name: "function/NAME", or a host
// service such as "embly/http".
func SpawnTarget(target string) (*Conn, error) {
	return defaultHost.spawn(target)
}

func (h *host) spawn(target string) (*Conn, error) {
	id, errno := h.sys.spawn(target)
	if errno != 0 {
		return nil, &SpawnError{Target: target, Err: errno}
	}
	return h.conn(id), nil
}

// SpawnError is returned by [Spawn] and [SpawnTarget] when the host refuses.
type SpawnError struct {
	Target string // as passed to the host: "function/NAME", "embly/http"
	Err    Errno
}

// Error says which target the host refused and why.
func (e *SpawnError) Error() string {
	fn, isFunction := strings.CutPrefix(e.Target, "function/")
	var why string
	switch {
	case e.Err == ENOENT && isFunction:
		why = fmt.Sprintf("no such function %q in this project", fn)
	case e.Err == ENOENT && strings.HasPrefix(e.Target, kvTarget):
		why, _ = kvSpawnReason(e.Target)
	case e.Err == ENOENT && strings.HasPrefix(e.Target, addrPrefix):
		why = "no such address: it was never published, was withdrawn, or its instance ended"
	case e.Err == EAGAIN && strings.HasPrefix(e.Target, addrPrefix):
		why = "the address has too many conns waiting to be accepted, or this instance dialed as often as it may; retry later"
	case e.Err == ENOENT && strings.HasPrefix(e.Target, vinylTarget):
		why = vinylSpawnReason(e.Target)
	case e.Err == ENOENT:
		why = "no such target"
	case e.Err == EACCES && e.Target == httpTarget:
		why = "not allowed for this function: list the hosts it may reach in embly.hcl, like allowed_hosts = [\"https://api.example.com\"]"
	case e.Err == EACCES:
		why = "not allowed for this function"
	case e.Err == EAGAIN:
		why = "spawn limit reached"
	default:
		why = e.Err.Error()
	}
	return fmt.Sprintf("embly: spawn %q: %s", e.Target, why)
}

// Unwrap returns the errno, so errors.Is(err, embly.ENOENT) works.
func (e *SpawnError) Unwrap() error { return e.Err }

// Wait blocks until some of conns have news: data or EOF to read, or a
// reopened window to write into. It returns those conns, in the order given.
// A timeout < 0 waits forever, 0 only polls; when the timeout passes first,
// Wait returns no conns and no error.
//
// Like poll(2), Wait is level-triggered for input: a conn with unread data
// or an unread EOF is returned every time until it is read.
func Wait(timeout time.Duration, conns ...*Conn) ([]*Conn, error) {
	if len(conns) == 0 {
		return nil, nil
	}
	h := conns[0].h
	ids := make([]int32, len(conns))
	for i, c := range conns {
		if c.h != h {
			return nil, fmt.Errorf("embly: Wait: conns of different hosts")
		}
		ids[i] = c.id
	}
	ready, err := h.await(ids, waitAny, timeout)
	if err != nil {
		return nil, err
	}
	var out []*Conn
	for _, c := range conns {
		for _, id := range ready {
			if c.id == id {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

// serviceConn is the conn to a host service (embly/kv/NAME,
// embly/vinyl/NAME): spawned on first use in each invocation (a reused
// instance's conns do not outlive the invocation), and again after drop.
// Its owner's lock guards it.
type serviceConn struct {
	target string
	h      *host // nil: the instance's host

	conn *Conn
	gen  uint64 // the host's invocation the conn belongs to
}

// connect returns the conn, spawning it if this invocation has none.
func (s *serviceConn) connect() (*Conn, error) {
	h := s.h
	if h == nil {
		h = defaultHost
	}
	gen := h.generation()
	if s.conn != nil && s.gen == gen {
		return s.conn, nil
	}
	conn, err := h.spawn(s.target)
	if err != nil {
		return nil, err
	}
	s.conn, s.gen = conn, gen
	return conn, nil
}

// drop closes a conn the host ended; the next connect spawns another.
func (s *serviceConn) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
