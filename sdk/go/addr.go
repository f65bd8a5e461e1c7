package embly

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Addresses let an instance talk to one it did not spawn (docs/abi.md,
// "Addresses"): one publishes an address with [Listen], passes it on (in a
// message, a kv record), and whoever holds it calls [Dial].

// addrPrefix starts every address, and listenTarget publishes one.
const (
	addrPrefix   = "addr/"
	listenTarget = addrPrefix + "listen"
)

// Listener is an address this instance published. Conns dialed to it arrive
// through [Listener.Accept].
type Listener struct {
	conn *Conn // the listen conn: the address, then one line per dialed conn
	r    *bufio.Reader
	addr string
}

// Listen publishes an address for this instance. It stays valid until the
// instance ends or the listener is closed; the host makes it unguessable,
// and it means nothing outside this project.
func Listen() (*Listener, error) { return defaultHost.listen() }

func (h *host) listen() (*Listener, error) {
	c, err := h.spawn(listenTarget)
	if err != nil {
		return nil, err
	}
	l := &Listener{conn: c, r: bufio.NewReaderSize(c, 64)}
	line, err := l.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("embly: listen: reading the address: %w", err)
	}
	l.addr = strings.TrimSuffix(line, "\n")
	return l, nil
}

// Addr returns the address, "addr/" and 32 hex digits: what [Dial] takes.
func (l *Listener) Addr() string { return l.addr }

// Accept waits for the next conn dialed to the address and returns this
// instance's end of it.
func (l *Listener) Accept() (*Conn, error) {
	line, err := l.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("embly: accept on %s: %w", l.addr, err)
	}
	id, err := strconv.ParseInt(strings.TrimSuffix(line, "\n"), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("embly: accept on %s: the host sent %q", l.addr, line)
	}
	return l.conn.h.conn(int32(id)), nil
}

// Close withdraws the address: later dials fail with an error matching
// [ENOENT]. Conns accepted before stay open.
func (l *Listener) Close() error { return l.conn.Close() }

// Dial opens a conn to the instance that published addr with [Listen]. The
// error matches [ENOENT] when no instance of this project has that address
// now, and [EAGAIN] when it has too many conns waiting to be accepted or
// this instance has dialed as often as it may.
func Dial(addr string) (*Conn, error) { return defaultHost.dial(addr) }

func (h *host) dial(addr string) (*Conn, error) {
	if !strings.HasPrefix(addr, addrPrefix) || addr == listenTarget {
		return nil, fmt.Errorf("embly: dial %q: not an address (one is \"addr/\" and 32 hex digits, from Listener.Addr): %w", addr, ENOENT)
	}
	return h.spawn(addr)
}
