package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The front end: HTTP/1.1 without net/http for the requests that make up
// nearly all of a function's traffic.
//
// Under load net/http costs more per request than everything the gateway
// and the runtime do around a C function: parsing into maps and a URL, a
// goroutine per request to notice a client that leaves, four deadlines,
// cloning and sorting the response's headers, formatting the date. A loop
// that serves a keep-alive connection directly answered 1.6 times as many
// requests per second on one core as net/http's hello world.
//
// So ListenAndServe accepts connections itself. A request in the plain
// shape (a bodiless GET or HEAD in HTTP/1.1 with ordinary headers, for a
// function route) is parsed here, strictly, and served by the gateway's
// own handler through fastWriter. The first request of any other shape
// (a body, an upgrade, HTTP/1.0, a header the parser does not accept, a
// files route, a head larger than the buffer) hands the connection over to
// net/http together with every byte read from it so far, and net/http
// serves it from then on: whatever the front end does not accept, net/http
// handles exactly as it did before. FuzzFastHead checks that a request
// this parser accepts reads the same through http.ReadRequest.
//
// A client that leaves while its request runs is noticed as net/http
// would notice it, without its goroutine per request: every watchPeriod,
// the front end looks at the connections whose request has run for longer
// than that (a non-blocking peek on the socket) and cancels the context of
// one whose peer has closed or reset it.

// fastBufferSize is each connection's read and write buffer: a request
// head that does not fit goes to net/http.
const fastBufferSize = 4 << 10

// fastHoldMax is how much of a response body fastWriter holds, waiting
// to learn its length, before it sends the head and streams: net/http's
// limit for the same decision is 2 KiB.
const fastHoldMax = 4 << 10

// peerWatchPeriod is how often the front end looks for clients that left;
// a request is looked at every maxProbeTicks periods at most.
const (
	peerWatchPeriod = 5 * time.Millisecond
	maxProbeTicks   = 40
)

type frontEnd struct {
	g       *HTTP
	handler http.Handler
	ln      net.Listener
	handoff *handoffListener
	errLog  *log.Logger
	maxHead int // a longer request head goes to net/http

	closing atomic.Bool
	// busy counts the connections serving a request; the peer watch
	// sleeps while it is 0, and wake wakes it. tick counts its rounds.
	busy atomic.Int32
	wake chan struct{}
	tick atomic.Int64

	mu    sync.Mutex
	conns map[*fastConn]struct{}
	gone  *sync.Cond // signalled when conns shrinks
	stop  chan struct{}
}

func newFrontEnd(g *HTTP, ln net.Listener, handler http.Handler, errLog *log.Logger) *frontEnd {
	fe := &frontEnd{
		g:       g,
		handler: handler,
		ln:      ln,
		handoff: &handoffListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})},
		errLog:  errLog,
		maxHead: fastBufferSize,
		conns:   make(map[*fastConn]struct{}),
		stop:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	if g.MaxHeaderBytes > 0 && g.MaxHeaderBytes < fe.maxHead {
		fe.maxHead = g.MaxHeaderBytes
	}
	fe.gone = sync.NewCond(&fe.mu)
	return fe
}

// serve accepts connections until the listener is closed.
func (fe *frontEnd) serve() error {
	go fe.watchPeers()
	var delay time.Duration
	for {
		c, err := fe.ln.Accept()
		if err != nil {
			if fe.closing.Load() {
				return nil
			}
			// Like net/http: back off on temporary errors (out of
			// file descriptors), give up on the others.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				fe.errLog.Printf("accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := fe.newConn(c)
		if fc == nil {
			c.Close()
			continue
		}
		go fc.serve()
	}
}

// shutdown stops accepting and closes the idle connections; the busy ones
// close once their request is answered.
func (fe *frontEnd) shutdown() {
	if fe.closing.Swap(true) {
		return
	}
	fe.ln.Close()
	close(fe.stop)
	fe.mu.Lock()
	for fc := range fe.conns {
		if fc.state.CompareAndSwap(connIdle, connClosed) {
			fc.c.Close()
		}
	}
	fe.mu.Unlock()
}

// wait waits until every connection the front end serves is closed; when
// ctx ends first, it closes them all (which stops their instances), waits
// for that, and reports it.
func (fe *frontEnd) wait(ctx context.Context) (forced bool) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		fe.mu.Lock()
		forced = len(fe.conns) > 0
		for fc := range fe.conns {
			fc.state.Store(connClosed)
			fc.c.Close()
			fc.cancel()
		}
		fe.gone.Broadcast()
		fe.mu.Unlock()
	})
	fe.mu.Lock()
	for len(fe.conns) > 0 {
		fe.gone.Wait()
	}
	fe.mu.Unlock()
	if !stop() {
		<-closed // it ran, or runs now: wait for its verdict
	}
	return forced
}

// newConn registers a connection, or returns nil once shutting down.
func (fe *frontEnd) newConn(c net.Conn) *fastConn {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.closing.Load() {
		return nil
	}
	fc := &fastConn{fe: fe, c: c}
	fc.ctx, fc.cancel = context.WithCancel(context.Background())
	fe.conns[fc] = struct{}{}
	return fc
}

func (fe *frontEnd) forget(fc *fastConn) {
	fe.mu.Lock()
	delete(fe.conns, fc)
	fe.gone.Broadcast()
	fe.mu.Unlock()
}

// watchPeers cancels the context of requests whose client left, once
// they have run for one to two periods.
func (fe *frontEnd) watchPeers() {
	t := time.NewTicker(peerWatchPeriod)
	defer t.Stop()
	var busy []*fastConn
	for {
		if fe.busy.Load() == 0 {
			t.Stop()
			select {
			case <-fe.stop:
				return
			case <-fe.wake:
			}
			t.Reset(peerWatchPeriod)
		}
		select {
		case <-fe.stop:
			return
		case <-t.C:
		}
		tick := fe.tick.Add(1)
		busy = busy[:0]
		fe.mu.Lock()
		for fc := range fe.conns {
			if fc.state.Load() == connBusy && tick >= fc.probe.Load() {
				// A long request (a stream) is looked at less often,
				// down to every maxProbeTicks.
				fc.probe.Store(tick + min(max(tick-fc.since.Load(), 1), maxProbeTicks))
				busy = append(busy, fc)
			}
		}
		fe.mu.Unlock()
		for _, fc := range busy {
			if peerGone(fc.c) {
				fc.cancel()
			}
		}
		clear(busy)
	}
}

// peerGone reports whether the peer of c has closed or reset the
// connection, without reading anything: bytes waiting (a pipelined
// request) mean it is still there. It does not wait, and does not take
// the connection's read lock.
func peerGone(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = err == nil && n == 0 ||
			err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
	})
	return gone
}

// A connection's state, for shutdown and the peer watch.
const (
	connIdle int32 = iota
	connBusy
	connClosed
)

// fastConn is one connection the front end serves.
type fastConn struct {
	fe *frontEnd
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// ctx is every request's context; cancel ends it when the client
	// leaves (or at a forced shutdown), and the connection closes after
	// the request.
	ctx    context.Context
	cancel context.CancelFunc
	state  atomic.Int32
	since  atomic.Int64 // the peer watch's tick when the request began
	// probe is the tick at which the peer watch next looks at the peer:
	// one or two periods into a request, then less and less often.
	probe atomic.Int64
	// counted: the request is in frontEnd.busy.
	counted bool

	remote string
	w      fastWriter
	head   fastHead
	// names interns the canonical header names seen on this connection.
	names map[string]string
}

var (
	fastReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastBufferSize) }}
	fastWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, fastBufferSize) }}
)

func (fc *fastConn) serve() {
	fe := fc.fe
	handedOff := false
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			fe.errLog.Printf("http: panic serving %v: %v\n%s", fc.remote, p, buf)
		}
		fc.end() // after a panic
		fc.cancel()
		if !handedOff {
			fc.c.Close()
		}
		// After a panic, what the handler started may still hold the
		// buffers: the collector takes them.
		if p == nil {
			fc.br.Reset(nil)
			fastReaders.Put(fc.br)
			fc.bw.Reset(nil)
			fastWriters.Put(fc.bw)
			fc.br, fc.bw = nil, nil
		}
		fe.forget(fc)
	}()
	fc.br = fastReaders.Get().(*bufio.Reader)
	fc.br.Reset(fc.c)
	fc.bw = fastWriters.Get().(*bufio.Writer)
	fc.bw.Reset(fc.c)
	fc.remote = fc.c.RemoteAddr().String()
	fc.w.fc = fc
	fc.w.header = make(http.Header)

	for {
		if fe.g.IdleTimeout > 0 {
			_ = fc.c.SetReadDeadline(time.Now().Add(fe.g.IdleTimeout))
		}
		if _, err := fc.br.Peek(1); err != nil {
			return
		}
		if !fc.begin() {
			return // shutting down
		}
		n, ok := fc.readHead()
		if !ok {
			fc.end()
			return
		}
		req, ok := fc.request(n)
		if !ok {
			fc.end()
			fc.handOff()
			handedOff = true
			return
		}
		// The read deadline stays: nothing reads the connection until the
		// next request, whose wait sets it again.
		fc.br.Discard(n)
		fc.w.start(req)
		fe.handler.ServeHTTP(&fc.w, req)
		keep := fc.w.finish()
		if !keep || fc.ctx.Err() != nil || !fc.end() || fe.closing.Load() {
			return
		}
	}
}

// begin marks the connection busy, unless shutdown closed it.
func (fc *fastConn) begin() bool {
	if !fc.state.CompareAndSwap(connIdle, connBusy) {
		return false
	}
	since := fc.fe.tick.Load()
	fc.since.Store(since)
	fc.probe.Store(since + 2)
	fc.counted = true
	if fc.fe.busy.Add(1) == 1 {
		select {
		case fc.fe.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// end marks the connection idle again, unless a forced shutdown closed
// it; it is called once after each begin, also when the request is not
// answered here.
func (fc *fastConn) end() bool {
	if fc.counted {
		fc.counted = false
		fc.fe.busy.Add(-1)
	}
	return fc.state.CompareAndSwap(connBusy, connIdle)
}

// readHead waits until the buffer holds a whole request head and returns
// its length. A head that does not fit is not read further: ok with n 0
// hands the connection to net/http. ok is false when the connection failed
// or timed out before the head was complete.
func (fc *fastConn) readHead() (n int, ok bool) {
	armed := false
	for {
		buf, _ := fc.br.Peek(fc.br.Buffered())
		if end := headEnd(buf); end > 0 {
			return end, true
		}
		if len(buf) >= fc.fe.maxHead {
			return 0, true
		}
		if !armed && fc.fe.g.ReadHeaderTimeout > 0 {
			armed = true
			_ = fc.c.SetReadDeadline(time.Now().Add(fc.fe.g.ReadHeaderTimeout))
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			return 0, false
		}
	}
}

// request parses the n bytes of head in the buffer into a request for
// the gateway's handler, or reports that net/http must serve it.
func (fc *fastConn) request(n int) (*http.Request, bool) {
	if n == 0 {
		return nil, false
	}
	raw, _ := fc.br.Peek(n)
	if !fc.head.parse(raw) {
		return nil, false
	}
	req, ok := fc.head.request(fc.ctx, raw, fc.canonical)
	if !ok {
		return nil, false
	}
	if rt := fc.fe.g.match(req.URL.Path); rt == nil || rt.function == "" {
		return nil, false // files and 404s: net/http's
	}
	req.RemoteAddr = fc.remote
	return req, true
}

// canonical returns the canonical form of a header name the parser
// accepted, interned per connection: a client sends the same few names on
// every request.
func (fc *fastConn) canonical(name []byte) string {
	if s, ok := fc.names[string(name)]; ok {
		return s
	}
	s := http.CanonicalHeaderKey(string(name))
	if fc.names == nil {
		fc.names = make(map[string]string)
	}
	if len(fc.names) < 64 {
		fc.names[string(name)] = s
	}
	return s
}

// handOff gives the connection, with what was read from it, to net/http.
func (fc *fastConn) handOff() {
	buffered, _ := fc.br.Peek(fc.br.Buffered())
	hc := &handedConn{Conn: fc.c, buf: bytes.Clone(buffered)}
	fc.state.Store(connClosed)
	fc.fe.handoff.give(hc)
}

// handedConn is a connection net/http serves after the front end: its
// reads start with the bytes the front end had read.
type handedConn struct {
	net.Conn
	buf []byte
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite keeps net/http's half-close after a rejected upload.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for static files.
func (c *handedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// handoffListener is what net/http serves: the connections the front end
// hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give hands c to net/http, or closes it once net/http has shut down.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}
