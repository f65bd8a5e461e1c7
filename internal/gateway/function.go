package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// copyBufferSize is the largest piece of a body moved in one read. Responses
// are flushed after every read, so it bounds latency only for fast producers.
const copyBufferSize = 32 << 10

// readerPool and bufferPool recycle the per-request buffers of function
// routes: allocating (and collecting) two of copyBufferSize per request was
// a large part of the gateway's cost.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, copyBufferSize) }}
	bufferPool = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}
)

// invocation is one request's instance, with the bookkeeping that makes sure
// it has ended before the handler returns.
type invocation struct {
	inv     Invocation
	done    <-chan struct{} // closed when the instance has ended
	timeout time.Duration
	ready   interface{ Ready() bool } // inv, when it can tell

	finished bool
	exitErr  error
	stopped  bool // we stopped it: exitErr is ours, not the function's
	overran  bool // we stopped it because it ran past timeout
}

// finish releases conn 1 and waits for the instance to end, stopping it if it
// is still running after the timeout. Calling it again does nothing.
func (c *invocation) finish() {
	if c.finished {
		return
	}
	c.finished = true
	_ = c.inv.Close()
	select {
	case <-c.done: // usually: the function answered and returned
	default:
		t := time.NewTimer(c.timeout)
		select {
		case <-c.done:
		case <-t.C:
			c.overran = true
			c.kill()
			<-c.done
		}
		t.Stop()
	}
	c.exitErr = c.inv.Wait()
}

// more reports whether the function has more output ready to read now.
func (c *invocation) more() bool { return c.ready != nil && c.ready.Ready() }

// kill stops the instance now.
func (c *invocation) kill() {
	c.stopped = true
	c.inv.Stop()
}

// failed reports whether the function itself failed (trap, non-zero exit,
// blown budget), as opposed to being stopped by us or finishing cleanly.
func (c *invocation) failed() error {
	if c.stopped {
		return nil
	}
	return c.exitErr
}

// serveFunction serves r with a fresh instance of rt.function, speaking raw
// HTTP/1.1 on its conn 1 (see the package doc).
func (g *HTTP) serveFunction(x *exchange, r *http.Request, rt *route) {
	w, rl, rc := &x.sw, &x.rl, &x.rc
	// Copied out of NewResponseController's result, so that it is part of x.
	*rc = *http.NewResponseController(w)
	// The instance lives in the request's context: when the client goes away
	// the runtime stops it. inv.Stop is how we stop it ourselves. A route
	// with a timeout gives it a context of its own.
	if r.ContentLength > rt.maxBody {
		rl.errorf("request body of %d bytes is larger than max_body (%d bytes)", r.ContentLength, rt.maxBody)
		_ = rc.EnableFullDuplex() // the body is read after the answer
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		writeError(w, http.StatusRequestEntityTooLarge)
		linger(rc, r, r.Body)
		return
	}
	ctx := r.Context()
	if rt.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	// A request without a body is in the instance's conn 1 before it
	// starts, so the instance can run on this goroutine (see runInline).
	var inv Invocation
	var inline InlineInvocation
	var err error
	if sp, ok := g.spawner.(InlineSpawner); ok && !hasBody(r) {
		inline, err = sp.Prepare(ctx, rt.function)
		inv = inline
	} else {
		inv, err = g.spawner.Spawn(ctx, rt.function)
	}
	if err != nil {
		rl.errorf("could not start: %v", err)
		code := spawnStatus(err)
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", RetryAfter)
		}
		writeError(w, code)
		return
	}
	defer inv.Stop()
	x.ctx, x.r, x.rt = ctx, r, rt
	x.c = invocation{inv: inv, done: inv.Done(), timeout: g.ExitTimeout}
	x.c.ready, _ = inv.(interface{ Ready() bool })

	up := &x.up
	up.body = r.Body
	if hasBody(r) {
		if r.ContentLength < 0 {
			// A body of unknown length is cut at max_body; the
			// function sees a chunked body without its last chunk.
			r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)
		}
		// Without full duplex, net/http's HTTP/1 server would stop the
		// request body once the response starts; a function may stream
		// both at once.
		_ = rc.EnableFullDuplex()
		up.done = make(chan struct{})
		go func() {
			defer close(up.done)
			// Errors here are the function leaving early or the client's
			// upload failing; both show up on the response side, or do
			// not matter.
			var tooLarge *http.MaxBytesError
			if err := sendRequest(inv, r, &up.complete); errors.As(err, &tooLarge) {
				// The answer is 413, whatever the function says; it
				// does not get to see the end of its input.
				up.tooLarge.Store(true)
				inv.Stop()
				return
			}
			_ = inv.CloseWrite()
		}()
	} else {
		// A small head alone fits in the empty window, and then there is
		// nothing to wait for: send it here, without a goroutine.
		sendHead(inv, r, &up.complete)
	}
	defer x.endInvocation()

	if inline != nil {
		x.runInline(inline)
		return
	}
	x.respond()
}

// endInvocation waits for the instance and the upload to end.
func (x *exchange) endInvocation() {
	x.c.finish()
	x.up.stop(&x.rc, x.r)
}

// runInline runs a prepared instance on this goroutine, then answers with
// respond. An instance that has to wait for anything (its window is full,
// it waits for a child or for time to pass) cannot be answered after it
// ends: then respond starts on a goroutine of its own while the instance
// goes on (respondElsewhere), and this one waits for both. respond may end
// the handler with http.ErrAbortHandler; that panic is carried back to this
// goroutine.
func (x *exchange) runInline(inv InlineInvocation) {
	inv.RunInline(x.onBlock)
	if x.responded == nil {
		x.respond()
		return
	}
	if p := <-x.responded; p != nil {
		panic(p)
	}
}

// respondElsewhere is runInline's onBlock.
func (x *exchange) respondElsewhere() {
	x.responded = make(chan any, 1)
	go func() {
		defer func() { x.responded <- recover() }()
		x.respond()
	}()
}

// respond reads the function's response from conn 1 and relays it, or
// answers the error that kept it from coming.
func (x *exchange) respond() {
	w, rc, r, rt, rl, c, up, limit := &x.sw, &x.rc, x.r, x.rt, &x.rl, &x.c, &x.up, &x.limit
	*limit = headerLimit{r: c.inv, n: maxResponseHeaderBytes}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(limit)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	resp, err := readResponse(br, r, w.Header(), &x.resp)
	limit.disarmed = true
	if err != nil {
		c.finish()
		switch {
		case up.tooLarge.Load():
			rl.errorf("request body is larger than max_body (%d bytes)", rt.maxBody)
			up.closeIfIncomplete(w, r)
			writeError(w, http.StatusRequestEntityTooLarge)
			<-up.done // it stopped reading at max_body
			if up.closing {
				linger(rc, r, up.body)
			}
		case r.Context().Err() != nil:
			rl.clientGone(false)
		case errors.Is(x.ctx.Err(), context.DeadlineExceeded):
			rl.errorf("no response within the route's timeout of %s", rt.timeout)
			up.closeIfIncomplete(w, r)
			writeError(w, http.StatusGatewayTimeout)
		case c.failed() != nil:
			rl.errorf("%v", c.failed())
			up.closeIfIncomplete(w, r)
			writeError(w, exitStatus(c.failed()))
		default:
			rl.errorf("invalid HTTP response: %s", describeResponseError(err, limit))
			up.closeIfIncomplete(w, r)
			writeError(w, http.StatusBadGateway)
		}
		return
	}
	x.relay(resp)
}

// upload is the request body on its way to the function, streamed by its own
// goroutine so that a function can answer before reading all of it.
//
// The handler must not return while that goroutine may still read the body,
// and the only way to wake a read blocked on a stalled client is a read
// deadline on the connection. That deadline must never hit net/http's own
// background read, which it starts once the body is at its end and which
// would take a timeout for a dead client and cancel the context of every
// later request on the connection. So: when the response starts before the
// body is complete, the response says "Connection: close" (the rest of the
// upload is unwanted anyway), and only then may the deadline be used.
type upload struct {
	done     chan struct{} // closed when the goroutine ends; nil without a body
	complete atomic.Bool   // the body was read to its end, or there is none
	tooLarge atomic.Bool   // the body was cut at max_body
	closing  bool          // the response closes the connection
	// body is the request's own body, under any limit put on it.
	body io.ReadCloser
}

// Lingering after an early answer. A server that closes a connection with
// input it has not read makes its kernel reset the connection, and the
// reset makes the client's kernel drop what the client had not read yet:
// the answer itself (RFC 9112 9.6). So after answering 413 before the end
// of an upload, the gateway reads and drops the rest of the body, within
// these bounds, and only then lets net/http close the connection.
const (
	lingerTime = 5 * time.Second
	lingerMax  = 64 << 20
)

// linger sends the answer written to w, then reads and drops what is left
// of body, r's body or what lies under a limit put on it. The answer must
// close the connection (an HTTP/1 "Connection: close"): the read deadline
// linger sets must not outlive this request.
func linger(rc *http.ResponseController, r *http.Request, body io.Reader) {
	if r.ProtoMajor != 1 || rc.Flush() != nil {
		return // HTTP/2 resets the stream alone
	}
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, body, lingerMax)
}

// closeIfIncomplete is called before the response head is written.
func (up *upload) closeIfIncomplete(w http.ResponseWriter, r *http.Request) {
	if !up.complete.Load() && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
		up.closing = true
	}
}

// stop waits for the upload goroutine, waking it if it is stuck reading a
// body nobody will read. Call it once the instance has ended, so writes to
// conn 1 fail at once.
func (up *upload) stop(rc *http.ResponseController, r *http.Request) {
	if up.done == nil {
		return // no body, no goroutine
	}
	select {
	case <-up.done:
		return
	default:
	}
	// With HTTP/2 the deadline is the stream's alone; with HTTP/1 it is safe
	// only on a connection that is closing (see upload) or already dead.
	if up.closing || r.ProtoMajor != 1 || r.Context().Err() != nil {
		_ = rc.SetReadDeadline(time.Now())
	}
	<-up.done
}

// relay copies the function's response to the client, flushing after every
// read so streamed responses reach the client as they are written.
func (x *exchange) relay(resp *http.Response) {
	w, rc, r, rl, c, up := &x.sw, &x.rc, x.r, &x.rl, &x.c, &x.up
	// A response fastResponse read has its headers in w.Header() already,
	// and a nil Header.
	copyHeader(w.Header(), resp.Header)
	up.closeIfIncomplete(w, r)
	w.WriteHeader(resp.StatusCode)
	// Flush only when the function has nothing more ready: a response
	// the function has finished leaves in one write at the end, a stream
	// reaches the client as it is written.
	if !c.more() {
		_ = rc.Flush()
	}

	var readErr, writeErr error
	bufp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bufp)
	buf := *bufp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, writeErr = w.Write(buf[:n]); writeErr == nil && !c.more() {
				writeErr = rc.Flush()
			}
			if writeErr != nil {
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	if writeErr != nil {
		c.kill() // nobody is listening any more
	}
	c.finish()

	// A body that ends with conn 1 looks complete even when the instance
	// trapped half-way; only its exit tells.
	closeDelimited := resp.ContentLength < 0 && len(resp.TransferEncoding) == 0
	clientLeft := writeErr != nil || r.Context().Err() != nil
	switch {
	case clientLeft && readErr == nil && writeErr == nil && !closeDelimited:
		// The client had the whole response and then closed the
		// connection, which may have stopped the instance: all is well,
		// unless the instance overran first.
		if c.overran {
			rl.errorf("still running %s after its response was complete; stopped it", c.timeout)
		}
	case clientLeft:
		// A stopped instance may look like a failure or a cut body; when
		// the client left, the client is why.
		rl.clientGone(true)
	case c.failed() != nil && (readErr != nil || closeDelimited):
		rl.errorf("failed after the response started: %v", c.failed())
		abort(rc) // the client sees a truncated response
	case readErr != nil:
		rl.errorf("invalid response body: %v", readErr)
		abort(rc)
	case c.failed() != nil:
		rl.errorf("failed after its response was complete: %v", c.failed())
	case c.overran:
		rl.errorf("still running %s after its response was complete; stopped it", c.timeout)
	}
	for k, vv := range resp.Trailer {
		w.Header()[http.TrailerPrefix+k] = vv
	}
}

// abort cuts the response off: what the function wrote so far reaches the
// client (flushes were skipped while more was ready), then the connection
// closes without the end of the body.
func abort(rc *http.ResponseController) {
	_ = rc.Flush()
	panic(http.ErrAbortHandler)
}

// readResponse reads the function's response head, skipping informational
// (1xx) responses such as 100 Continue, which the client does not expect from
// us: the gateway already handled Expect itself. A response in the common
// shape is read into fast, its headers straight into dst (see fastResponse).
func readResponse(br *bufio.Reader, r *http.Request, dst http.Header, fast *parsedResponse) (*http.Response, error) {
	if fastResponse(br, r, dst, fast) {
		return &fast.Response, nil
	}
	for range 10 {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("101 Switching Protocols: the http gateway does not upgrade connections (use a websocket gateway)")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		case resp.StatusCode < 100 || resp.StatusCode > 999:
			return nil, fmt.Errorf("status code %d is out of range", resp.StatusCode)
		}
		return resp, nil
	}
	return nil, errors.New("too many informational (1xx) responses")
}

// describeResponseError turns http.ReadResponse's error into a reason a
// function author can act on, quoting the start of what the function wrote.
func describeResponseError(err error, l *headerLimit) string {
	switch {
	case l.read == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return "the function closed conn 1 without writing a response"
	case errors.Is(err, errHeaderTooLarge):
		return fmt.Sprintf("the response head is larger than %d bytes", maxResponseHeaderBytes)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the response head ended early (unexpected EOF); it began %q", l.began())
	}
	return fmt.Sprintf("%v; it began %q", err, l.began())
}

var errHeaderTooLarge = errors.New("response head too large")

// headerLimit fails reads once more than n bytes have been read: it bounds the
// response head. The body is read through it too, so n also counts body bytes
// that bufio read ahead; disarm it once the head is parsed.
type headerLimit struct {
	r        io.Reader
	n        int64
	disarmed bool

	read  int64            // bytes read while armed
	first [quoteBytes]byte // the first of them, quoted in errors
}

// quoteBytes is how much of a bad response head the log quotes.
const quoteBytes = 64

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.disarmed {
		return l.r.Read(p)
	}
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.read < quoteBytes {
		copy(l.first[l.read:], p[:n])
	}
	l.read += int64(n)
	return n, err
}

// began returns the first bytes read, for errors.
func (l *headerLimit) began() []byte { return l.first[:min(l.read, quoteBytes)] }

// spawnStatus is the status for a function that could not be started: 503
// when a limit was reached (the ABI's EAGAIN), else 500.
func spawnStatus(err error) int {
	if errors.Is(err, syscall.EAGAIN) || strings.Contains(strings.ToLower(err.Error()), "limit") {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// exitStatus is the status for an instance that failed before answering: 504
// when it ran out of time (a blown CPU budget is a timeout), else 500.
func exitStatus(err error) int {
	var t interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// isHopByHop reports whether the canonical header name describes one
// connection, not the message (RFC 9110 section 7.6.1); such headers are not
// forwarded in either direction. A switch, not a map: it runs for every
// header of every request and response.
func isHopByHop(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// copyHeader adds the end-to-end headers of src to dst. The values are
// shared, not copied: src is not used again.
func copyHeader(dst, src http.Header) {
	named := connectionNamed(src)
	for k, vv := range src {
		if !isHopByHop(k) && !named[k] {
			dst[k] = vv
		}
	}
}

// connectionNamed returns the headers that h's Connection header names, in
// canonical form; nil when there are none (almost always).
func connectionNamed(h http.Header) map[string]bool {
	var named map[string]bool
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if named == nil {
					named = make(map[string]bool)
				}
				named[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return named
}

// headPool recycles the buffers request heads are written into.
var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// hasBody reports whether r has a body to send after its head.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody
}

// skipInRequest are the client's headers the gateway does not pass on as
// they are: hop-by-hop ones, and those it sets itself.
var skipInRequest = map[string]bool{
	// The gateway answers Expect: 100-continue itself (net/http sends 100
	// when the body is first read); the function must not answer it again.
	"Expect":            true,
	"Content-Length":    true,
	"Host":              true,
	"X-Forwarded-For":   true,
	"X-Real-Ip":         true,
	"X-Forwarded-Proto": true,
}

// appendRequestHead appends r's head as the function receives it: the
// request line in origin form, Host, the end-to-end headers in sorted order,
// the forwarding headers and the framing of the body.
func appendRequestHead(b []byte, r *http.Request) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\n"...)

	var keysArr [32]string
	keys := keysArr[:0]
	named := connectionNamed(r.Header)
	for k := range r.Header {
		if !isHopByHop(k) && !skipInRequest[k] && !named[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			b = appendHeader(b, k, v)
		}
	}

	client := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		client = host
	}
	// X-Forwarded-For keeps what proxies before us said; X-Real-IP and
	// X-Forwarded-Proto are ours alone, so a client cannot forge them.
	b = append(b, "X-Forwarded-For: "...)
	for _, v := range r.Header["X-Forwarded-For"] {
		b = appendValue(b, v)
		b = append(b, ", "...)
	}
	b = append(b, client...)
	b = append(b, "\r\n"...)
	b = appendHeader(b, "X-Real-Ip", client)
	if r.TLS != nil {
		b = append(b, "X-Forwarded-Proto: https\r\n"...)
	} else {
		b = append(b, "X-Forwarded-Proto: http\r\n"...)
	}
	// One request per conn 1: say so, so HTTP libraries in the guest close
	// conn 1 after answering instead of waiting for another request.
	b = append(b, "Connection: close\r\n"...)

	switch {
	case hasBody(r) && r.ContentLength < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(r.Trailer) > 0 {
			names := make([]string, 0, len(r.Trailer))
			for k := range r.Trailer {
				names = append(names, k)
			}
			slices.Sort(names)
			b = appendHeader(b, "Trailer", strings.Join(names, ", "))
		}
	case hasBody(r) && r.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	return append(b, "\r\n"...)
}

func appendHeader(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = appendValue(b, v)
	return append(b, "\r\n"...)
}

// appendValue appends a header value with any CR or LF turned into a space,
// as http.Header.Write does; net/http's server already refuses them.
func appendValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// syncHeadMax is the largest head sendHead writes itself. Conn windows are
// far larger (64 KiB by default), so such a write never waits for the
// function to read.
const syncHeadMax = 4 << 10

// sendHead sends the head of a request that has no body and closes the
// gateway's side, without blocking on a function that does not read: a
// larger head goes through a goroutine like a body.
func sendHead(inv Invocation, r *http.Request, complete *atomic.Bool) {
	complete.Store(true)
	headp := headPool.Get().(*[]byte)
	head := appendRequestHead((*headp)[:0], r)
	if len(head) <= syncHeadMax {
		_, _ = inv.Write(head)
		_ = inv.CloseWrite()
		*headp = head
		headPool.Put(headp)
		return
	}
	go func() {
		_, _ = inv.Write(head)
		_ = inv.CloseWrite()
	}()
}

// sendRequest writes r to w as raw HTTP/1.1: origin-form request line, Host,
// end-to-end headers plus forwarding headers, then the body as it arrives
// (chunked when its length is unknown). Nothing is buffered beyond one read,
// so a function can consume an upload as it streams in.
// complete is set once the body has been read to its end (at once when there
// is none).
func sendRequest(w io.Writer, r *http.Request, complete *atomic.Bool) error {
	if !hasBody(r) {
		complete.Store(true)
	}
	headp := headPool.Get().(*[]byte)
	head := appendRequestHead((*headp)[:0], r)
	_, err := w.Write(head)
	*headp = head
	headPool.Put(headp)
	if err != nil || !hasBody(r) {
		return err
	}
	if r.ContentLength < 0 {
		return sendChunked(w, r, complete)
	}
	buf := make([]byte, copyBufferSize)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			complete.Store(true)
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// sendChunked writes r's body in chunked encoding, one chunk per read, then
// the last chunk and the trailers. A failed upload ends without the last
// chunk, so the function sees a truncated body rather than a short one.
func sendChunked(w io.Writer, r *http.Request, complete *atomic.Bool) error {
	buf := make([]byte, copyBufferSize)
	out := make([]byte, 0, copyBufferSize+32)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			out = strconv.AppendInt(out[:0], int64(n), 16)
			out = append(out, "\r\n"...)
			out = append(out, buf[:n]...)
			out = append(out, "\r\n"...)
			if _, werr := w.Write(out); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			complete.Store(true)
			break
		}
		if err != nil {
			return err
		}
	}
	var end strings.Builder
	end.WriteString("0\r\n")
	_ = r.Trailer.Write(&end)
	end.WriteString("\r\n")
	_, err := io.WriteString(w, end.String())
	return err
}
