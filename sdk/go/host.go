package embly

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Tuning of the wait loop; each value is explained where it is used.
const (
	// stashCap bounds the bytes read ahead of the reader on one conn.
	stashCap = 256 << 10
	// eventsCap is how many ids one _events call may report.
	eventsCap = 64
	// yieldSlice bounds one blocking _events call while other goroutines
	// exist: the host call blocks the whole (single-threaded) program, so a
	// goroutine that sleeps on a timer would otherwise never wake.
	yieldSlice = 10 * time.Millisecond
	// minBackoff and maxBackoff bound the pause when _events keeps reporting
	// only stalled conns (full stashes nobody reads): short enough that a
	// writer retrying behind such a conn keeps moving, long enough that the
	// instance sleeps in the host instead of spinning on the CPU.
	minBackoff = time.Millisecond
	maxBackoff = 10 * time.Millisecond
)

// waitMode says which news ends a wait.
type waitMode int

const (
	waitRead  waitMode = iota // data or EOF to read
	waitWrite                 // the window reopened
	waitAny                   // anything
)

// host is the instance's view of the embly host: the raw calls plus what
// this side must remember between them.
//
// _events has no interest set: it reports every conn with news, and it keeps
// reporting a conn with unread data or an unread EOF until the guest reads
// it. Waiting on one conn while another has unread input would therefore
// spin. So every conn that _events reports is read into a per-conn stash (up
// to stashCap), which makes its news stop, and its news is remembered until a
// waiter on that conn takes it. That is the ready-set: a Wait or a Read on
// one conn never loses another conn's news.
//
// A conn whose stash is full is stalled: _events reports it at once, every
// time, and that report may or may not hide a reopened window. Its writers
// then retry after a pause that grows from minBackoff to maxBackoff, and the
// instance sleeps in between.
type host struct {
	sys sys

	mu      sync.Mutex
	parent  connState            // conn 1's, kept out of conns: every invocation has it
	conns   map[int32]*connState // the others
	ids     []int32              // _events scratch
	chunk   []byte               // stash read scratch
	backoff time.Duration
	// gen counts invocations (resets): a conn kept across calls, like a
	// KVStore's, belongs to the invocation that spawned it.
	gen    uint64
	others func() bool
	sleep  func(time.Duration)
	now    func() time.Time
}

// connState is what the host remembers about one conn.
type connState struct {
	stash []byte // bytes read from the host ahead of the reader
	eof   bool   // the host reported EOF; it will not report this conn for input again
	// readNews and writeNews: reported by _events and not yet taken by a
	// reader or a writer. _events does not say what the news was, so both
	// are set, and a reader taking its news cannot steal a reopened window
	// from a writer on the same conn.
	readNews, writeNews bool
	closed              bool // Close was called: our write side is shut
}

func newHost(s sys) *host {
	return &host{
		sys:     s,
		conns:   make(map[int32]*connState),
		ids:     make([]int32, eventsCap),
		chunk:   make([]byte, 32<<10),
		backoff: minBackoff,
		others:  func() bool { return runtime.NumGoroutine() > 1 },
		sleep:   time.Sleep,
		now:     time.Now,
	}
}

// reset forgets every conn: a new invocation starts with only its conn 1.
func (h *host) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.parent = connState{}
	clear(h.conns)
	h.backoff = minBackoff
	h.gen++
}

// generation returns the current invocation's number.
func (h *host) generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// defaultHost is the instance this program runs in. There is exactly one per
// process, as there is one set of host imports.
var defaultHost = newHost(defaultSys)

// state returns id's state, creating it. h.mu must be held.
func (h *host) state(id int32) *connState {
	if id == 1 {
		return &h.parent
	}
	st := h.conns[id]
	if st == nil {
		st = &connState{}
		h.conns[id] = st
	}
	return st
}

// ready reports whether st satisfies a waiter in mode, taking its news.
// h.mu must be held.
func (st *connState) ready(mode waitMode) bool {
	input := len(st.stash) > 0 || st.eof // level-triggered, as in _events
	switch mode {
	case waitRead:
		ok := st.readNews || input
		st.readNews = false
		return ok
	case waitWrite:
		ok := st.writeNews
		st.writeNews = false
		return ok
	}
	ok := st.readNews || st.writeNews || input
	st.readNews, st.writeNews = false, false
	return ok
}

// takeReady returns the ids among ids that satisfy mode. h.mu must be held.
func (h *host) takeReady(ids []int32, mode waitMode) []int32 {
	var ready []int32
	for _, id := range ids {
		if h.state(id).ready(mode) {
			ready = append(ready, id)
		}
	}
	return ready
}

// await blocks until one of ids has news for mode, or timeout passes
// (timeout < 0 waits forever, 0 polls once). It returns the ids with news; an
// empty result means the timeout passed.
func (h *host) await(ids []int32, mode waitMode, timeout time.Duration) ([]int32, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = h.now().Add(timeout)
	}
	for {
		h.mu.Lock()
		if ready := h.takeReady(ids, mode); len(ready) > 0 {
			h.mu.Unlock()
			return ready, nil
		}
		wait := timeout
		if timeout > 0 {
			wait = max(deadline.Sub(h.now()), 0)
		}
		yield := wait != 0 && h.others()
		if yield && (wait < 0 || wait > yieldSlice) {
			wait = yieldSlice
		}
		n, errno := h.sys.events(timeoutNS(wait), h.ids)
		if errno != 0 {
			h.mu.Unlock()
			return nil, fmt.Errorf("embly: waiting for events: %w", errno)
		}
		stalled := h.stashNews(h.ids[:n])
		ready := h.takeReady(ids, mode)
		pause := time.Duration(0)
		if len(stalled) > 0 && len(stalled) == n && len(ready) == 0 {
			pause = h.backoff
			h.backoff = min(2*h.backoff, maxBackoff)
		} else if len(stalled) < n {
			h.backoff = minBackoff
		}
		h.mu.Unlock()
		switch {
		case len(ready) > 0:
			return ready, nil
		case timeout == 0, timeout > 0 && !h.now().Before(deadline):
			return nil, nil
		}
		if pause > 0 {
			// Only stalled conns were reported, and _events would report
			// them again at once: sleep (in the host, not on the CPU), then
			// let their writers retry.
			h.sleep(pause)
			h.mu.Lock()
			for _, id := range stalled {
				h.state(id).writeNews = true
			}
			h.mu.Unlock()
		}
		if yield {
			runtime.Gosched()
		}
	}
}

// timeoutNS converts a wait to _events' argument: <0 forever, 0 poll.
func timeoutNS(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d)
}

// stashNews records the news of the reported ids and reads their pending
// input into their stashes, so that _events stops reporting them. It returns
// the stalled ids: those whose stash was already full, so their input stays
// pending, and whose report may or may not also mean a reopened window. They
// get read news now and write news only after a pause (see await). h.mu must
// be held.
func (h *host) stashNews(ids []int32) (stalled []int32) {
	for _, id := range ids {
		st := h.state(id)
		st.readNews = true
		if len(st.stash) >= stashCap {
			stalled = append(stalled, id)
			continue
		}
		st.writeNews = true
		for !st.eof && len(st.stash) < stashCap {
			p := h.chunk[:min(len(h.chunk), stashCap-len(st.stash))]
			n, errno := h.sys.read(id, p)
			if errno == 0 && n > 0 {
				st.stash = append(st.stash, p[:n]...)
				continue
			}
			// EOF; EAGAIN: all input taken; any other errno: the reader
			// will meet it again on its own _read.
			st.eof = errno == 0
			break
		}
	}
	return stalled
}
