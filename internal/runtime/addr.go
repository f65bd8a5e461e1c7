package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"

	"github.com/embly/embly/internal/bus"
)

// Address passing: how an instance talks to one it did not spawn.
//
// An instance publishes an address with _spawn("addr/listen"). The conn it
// gets is its listen conn: the host writes the address on it first, as one
// line "addr/<token>\n", and then one line "<id>\n" for every conn dialed to
// it. Any instance of the same runtime (one project) that learns the
// address — through a message, a kv record — dials it with
// _spawn("addr/<token>") and gets a new conn; the published instance finds
// the other end of that conn under the id the line names, already in its
// mailbox. No ABI call is added: publishing and dialing are spawn targets,
// accepting is reading a conn.
//
// Why this shape:
//   - The token is 128 random bits, so an address cannot be guessed, only
//     passed. Tokens live in the Runtime, so they mean nothing to another
//     project.
//   - An address lives as long as the listen conn: the instance ending, or
//     its _close of the listen conn, makes every later dial ENOENT.
//   - The listen conn's window is the backlog: when the instance does not
//     read its listen conn and the lines fill the window, dials get EAGAIN
//     rather than pile up conns nobody accepts.
//   - Dialed conns are not children: neither side's end takes the other
//     down. They close when either instance ends, like any conn.

const (
	// addrPrefix starts the spawn targets of address passing.
	addrPrefix = "addr/"
	// listenTarget publishes an address.
	listenTarget = addrPrefix + "listen"
	// maxListeners bounds the addresses one instance may publish; past it
	// _spawn("addr/listen") is EAGAIN.
	maxListeners = 64
)

// addrBook maps the tokens instances published to their listeners.
type addrBook struct {
	mu        sync.Mutex
	listeners map[string]*listener
}

// listener is one published address: the host's end of the owner's listen
// conn, in a mailbox of its own.
type listener struct {
	owner *instance
	mb    *bus.Mailbox
	id    int32 // the listen conn in mb
	token string
	// mu serializes dials, so the ids they write stay whole lines in
	// order (the host is the listen conn's only writer).
	mu sync.Mutex
}

func (b *addrBook) add(l *listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.listeners == nil {
		b.listeners = make(map[string]*listener)
	}
	b.listeners[l.token] = l
}

func (b *addrBook) get(token string) *listener {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listeners[token]
}

func (b *addrBook) remove(l *listener) {
	b.mu.Lock()
	if b.listeners[l.token] == l {
		delete(b.listeners, l.token)
	}
	b.mu.Unlock()
	l.mb.Close()
}

// newToken returns 128 random bits in hex.
func newToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand's contract since Go 1.24)
	return hex.EncodeToString(b[:])
}

// spawnAddr serves the addr/ spawn targets: addr/listen publishes an
// address, addr/TOKEN dials one.
func (inst *instance) spawnAddr(rest string) (int32, bus.Errno) {
	if rest == "listen" {
		return inst.listen()
	}
	return inst.dial(rest)
}

// listen publishes an address for inst and returns the listen conn.
func (inst *instance) listen() (int32, bus.Errno) {
	if len(inst.listeners) >= maxListeners {
		return 0, bus.EAGAIN
	}
	mine, theirs := bus.NewPair(inst.rt.opts.Window)
	id, errno := inst.mb.Add(mine)
	if errno != bus.ESUCCESS {
		return 0, errno
	}
	l := &listener{owner: inst, mb: bus.NewMailbox(), token: newToken()}
	l.id, _ = l.mb.Add(theirs)
	l.mb.WriteAtomic(l.id, []byte(addrPrefix+l.token+"\n"))
	inst.listeners = append(inst.listeners, l)
	inst.rt.addrs.add(l)
	return id, bus.ESUCCESS
}

// unlisten withdraws every address inst published; run calls it when inst
// ends.
func (inst *instance) unlisten() {
	for _, l := range inst.listeners {
		inst.rt.addrs.remove(l)
	}
	inst.listeners = nil
}

// dial makes a conn between inst and the instance that published token,
// tells that instance the id of its end on the listen conn, and returns
// inst's end. ENOENT: no such address (never published, withdrawn, or its
// instance ended); EAGAIN: the listener's backlog is full, or inst has
// dialed as many times as it may have children.
func (inst *instance) dial(token string) (int32, bus.Errno) {
	l := inst.rt.addrs.get(token)
	if l == nil {
		return 0, bus.ENOENT
	}
	// Every dial takes a conn in both mailboxes for the rest of both
	// instances' lives, so an instance may dial as many times as it may
	// have children, and no more.
	if inst.dials >= inst.fn.opts.MaxChildren {
		return 0, bus.EAGAIN
	}
	id, errno := l.accept(inst)
	if errno == bus.ESUCCESS {
		inst.dials++
	} else {
		if errno == bus.ENOENT {
			inst.rt.addrs.remove(l)
		}
	}
	return id, errno
}

// accept wires a new conn between dialer and l's owner.
func (l *listener) accept(dialer *instance) (int32, bus.Errno) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.withdrawn() {
		return 0, bus.ENOENT
	}
	theirs, mine := bus.NewPair(dialer.rt.opts.Window)
	tid, errno := l.owner.mb.Add(theirs)
	if errno != bus.ESUCCESS {
		return 0, bus.ENOENT // the owner has ended
	}
	switch errno := l.mb.WriteAtomic(l.id, []byte(strconv.Itoa(int(tid))+"\n")); errno {
	case bus.ESUCCESS:
	case bus.EAGAIN:
		l.owner.mb.Release(tid)
		return 0, bus.EAGAIN
	default:
		l.owner.mb.Release(tid)
		return 0, bus.ENOENT
	}
	id, errno := dialer.mb.Add(mine)
	if errno != bus.ESUCCESS {
		l.owner.mb.Release(tid)
		return 0, errno
	}
	return id, bus.ESUCCESS
}

// withdrawn reports whether the owner closed its listen conn (it reads as
// EOF on the host's end). Whatever else the owner wrote there is dropped.
func (l *listener) withdrawn() bool {
	var scratch [256]byte
	for {
		n, errno := l.mb.Read(l.id, scratch[:])
		switch {
		case errno == bus.EAGAIN:
			return false
		case errno != bus.ESUCCESS, n == 0:
			return true
		}
	}
}

// isAddr reports whether target is one of address passing's.
func isAddr(target string) (rest string, ok bool) {
	return strings.CutPrefix(target, addrPrefix)
}
