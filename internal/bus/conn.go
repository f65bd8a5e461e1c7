package bus

import (
	"context"
	"errors"
	"io"
)

// ErrPeerGone is returned by Conn.Write when the other actor has ended or
// released the conn.
var ErrPeerGone = errors.New("bus: peer is gone")

// Conn is a blocking, Go-side view of one conn of a mailbox, for actors
// written in Go (gateways, host services, tests). Read and Write may be used
// from two goroutines at once.
type Conn struct {
	mb  *Mailbox
	id  int32
	ctx context.Context
}

// NewConn returns the blocking view of conn id of mb. ctx bounds every wait.
func NewConn(ctx context.Context, mb *Mailbox, id int32) *Conn {
	return &Conn{mb: mb, id: id, ctx: ctx}
}

// ID returns the conn's id in its mailbox.
func (c *Conn) ID() int32 { return c.id }

// Read blocks until data or EOF arrives.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, errno := c.mb.Read(c.id, p)
		var wake <-chan struct{}
		if errno == EAGAIN {
			// Take the wake channel, then look again, so news between
			// the two is not lost. Only now: data is usually there.
			wake = c.mb.waitChan()
			n, errno = c.mb.Read(c.id, p)
		}
		switch errno {
		case ESUCCESS:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case EAGAIN:
			if err := c.wait(wake); err != nil {
				return 0, err
			}
		case EBADF:
			return 0, io.ErrClosedPipe
		default:
			return 0, errno
		}
	}
}

// Write blocks until all of p is in the conn's window or the peer is gone.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, errno := c.mb.Write(c.id, p[written:])
		var wake <-chan struct{}
		if errno == EAGAIN {
			wake = c.mb.waitChan()
			n, errno = c.mb.Write(c.id, p[written:])
		}
		written += n
		switch errno {
		case ESUCCESS:
		case EAGAIN:
			if err := c.wait(wake); err != nil {
				return written, err
			}
		case EPIPE:
			return written, ErrPeerGone
		case EBADF:
			return written, io.ErrClosedPipe
		default:
			return written, errno
		}
	}
	return written, nil
}

func (c *Conn) wait(wake <-chan struct{}) error {
	select {
	case <-wake:
		return nil
	case <-c.ctx.Done():
		// An instance that ends closes its conns and then cancels its
		// context, so both may be ready at once; select picks at random.
		// News that came first still counts: the caller reads what the
		// instance wrote, and its EOF, rather than a spurious error.
		select {
		case <-wake:
			return nil
		default:
			return c.ctx.Err()
		}
	}
}

// Ready reports whether Read would return without waiting: data is
// buffered, or the peer has closed its side.
func (c *Conn) Ready() bool {
	e := c.mb.get(c.id)
	return e == nil || e.in.ready()
}

// CloseWrite closes our write side; the peer reads EOF after draining.
func (c *Conn) CloseWrite() error {
	if errno := c.mb.CloseWrite(c.id); errno != ESUCCESS {
		return errno
	}
	return nil
}

// Close releases the conn: the peer reads EOF and its writes fail with EPIPE.
func (c *Conn) Close() error {
	if errno := c.mb.Release(c.id); errno != ESUCCESS && errno != EBADF {
		return errno
	}
	return nil
}
