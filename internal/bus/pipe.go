package bus

import "sync"

// DefaultWindow is how many bytes a conn buffers in each direction before
// writes return EAGAIN. 64 KiB keeps a request/response in one window for most
// HTTP traffic while bounding what a slow reader can make the host hold.
const DefaultWindow = 64 << 10

// pipe carries bytes one way, from a writer end to a reader end, through a
// bounded buffer. It never blocks: the ends poll it and are told of changes
// through their mailboxes.
type pipe struct {
	mu     sync.Mutex
	buf    []byte
	off    int // buf[off:] is unread
	window int

	closed  bool // the writer closed: the reader gets EOF once drained
	gone    bool // the reader is gone: writes fail with EPIPE
	blocked bool // the writer saw EAGAIN and waits for the window to reopen

	// reopened is set when the window reopened (or the reader left) after the
	// writer saw EAGAIN; the writer's _events reports it once.
	reopened bool
	// eofSeen is set once the reader has been handed EOF, so a drained,
	// closed conn stops being reported by _events.
	eofSeen bool

	reader, writer *Endpoint
}

func (p *pipe) init(window int) {
	if window <= 0 {
		window = DefaultWindow
	}
	p.window = window
}

func (p *pipe) buffered() int { return len(p.buf) - p.off }

// write copies as much of b as fits. It tells the reader when data arrived.
func (p *pipe) write(b []byte) (int, Errno) {
	p.mu.Lock()
	if p.gone || p.closed {
		p.mu.Unlock()
		return 0, EPIPE
	}
	if len(b) == 0 {
		p.mu.Unlock()
		return 0, ESUCCESS
	}
	room := p.window - p.buffered()
	if room <= 0 {
		p.blocked = true
		p.mu.Unlock()
		return 0, EAGAIN
	}
	if len(b) > room {
		b = b[:room]
	}
	if p.off > 0 && p.off >= len(p.buf)/2 {
		// Compact so the buffer does not grow past the window over time.
		n := copy(p.buf, p.buf[p.off:])
		p.buf = p.buf[:n]
		p.off = 0
	}
	p.buf = append(p.buf, b...)
	wasEmpty := p.buffered() == len(b)
	reader := p.reader
	p.mu.Unlock()
	if wasEmpty {
		reader.notify()
	}
	return len(b), ESUCCESS
}

// writeAtomic copies all of b, or nothing (EAGAIN) when it does not fit.
func (p *pipe) writeAtomic(b []byte) Errno {
	p.mu.Lock()
	if p.gone || p.closed {
		p.mu.Unlock()
		return EPIPE
	}
	if p.window-p.buffered() < len(b) {
		p.mu.Unlock()
		return EAGAIN
	}
	p.mu.Unlock()
	// Only one writer writes a pipe, so the room seen above stays.
	if _, errno := p.write(b); errno != ESUCCESS {
		return errno
	}
	return ESUCCESS
}

// read copies buffered bytes into b. n == 0 with ESUCCESS is EOF.
func (p *pipe) read(b []byte) (int, Errno) {
	p.mu.Lock()
	if p.buffered() == 0 {
		defer p.mu.Unlock()
		if p.closed {
			p.eofSeen = true
			return 0, ESUCCESS
		}
		return 0, EAGAIN
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	}
	var wake *Endpoint
	if p.blocked {
		p.blocked = false
		p.reopened = true
		wake = p.writer
	}
	p.mu.Unlock()
	if wake != nil {
		wake.notify()
	}
	return n, ESUCCESS
}

// closeWrite marks the end of the stream; the reader gets EOF once drained.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	reader := p.reader
	p.mu.Unlock()
	reader.notify()
}

// closeRead says the reader is gone: buffered bytes are dropped and the
// writer's next write fails with EPIPE.
func (p *pipe) closeRead() {
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return
	}
	p.gone = true
	p.buf, p.off = nil, 0
	var wake *Endpoint
	if p.blocked {
		p.blocked = false
		p.reopened = true
		wake = p.writer
	}
	p.mu.Unlock()
	if wake != nil {
		wake.notify()
	}
}

// readable reports whether the reader has news: data, or an EOF not yet read.
func (p *pipe) readable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buffered() > 0 || (p.closed && !p.eofSeen)
}

// ready reports whether a read would return at once: data, or EOF.
func (p *pipe) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buffered() > 0 || p.closed
}

// takeReopened reports, once, that the window reopened after an EAGAIN.
func (p *pipe) takeReopened() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reopened
	p.reopened = false
	return r
}
