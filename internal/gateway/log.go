package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// logTimeFormat is the seed's (and Rails') timestamp: local time with the offset.
const logTimeFormat = "2006-01-02 15:04:05 -0700"

// statusClientClosedRequest is logged when the client went away before it
// got a response. There is no standard code for it; 499 is nginx's, which
// people reading logs already know.
const statusClientClosedRequest = 499

// Logger is the request log. Each Write reaches the underlying writer whole,
// so it is safe for concurrent use and lines from concurrent requests never
// mix mid-line. The CLI passes os.Stdout; tests pass a buffer.
type Logger struct {
	mu sync.Mutex
	w  io.Writer

	// For an asynchronous logger: lines wait in buf until the flusher
	// writes them, many at once under load.
	async   bool
	buf     []byte
	wake    chan struct{}
	stopped chan struct{}
}

// NewLogger returns a Logger writing to w as each line comes. A nil w
// discards everything.
func NewLogger(w io.Writer) *Logger {
	if w == nil {
		w = io.Discard
	}
	return &Logger{w: w}
}

// NewAsyncLogger returns a Logger whose lines are written by a goroutine of
// its own, so a request never waits for the terminal: at high request rates
// three writes to stdout per request cost more than serving a small
// function. Lines keep their order; Close writes what is left.
func NewAsyncLogger(w io.Writer) *Logger {
	l := NewLogger(w)
	l.async = true
	l.wake = make(chan struct{}, 1)
	l.stopped = make(chan struct{})
	go l.flusher(l.wake)
	return l
}

// flusher writes what waits in buf each time wake is signalled, until Close
// closes wake. It gets wake as an argument because Close clears l.wake.
//
// After each write it pauses for logBatch, so that under load the lines of
// many requests leave in one write, and the goroutine is woken hundreds of
// times a second rather than once per line: at 40,000 requests a second the
// writes and wake-ups cost 4% of the server's CPU. A line waits at most
// logBatch.
func (l *Logger) flusher(wake <-chan struct{}) {
	defer close(l.stopped)
	var out []byte
	for range wake {
		l.mu.Lock()
		out, l.buf = l.buf, out[:0]
		l.mu.Unlock()
		if len(out) > 0 {
			_, _ = l.w.Write(out)
			time.Sleep(logBatch)
		}
	}
}

// logBatch is how long the flusher gathers lines after a write.
const logBatch = time.Millisecond

// Close writes any buffered lines and stops an asynchronous logger.
func (l *Logger) Close() {
	if !l.async {
		return
	}
	l.mu.Lock()
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	l.mu.Unlock()
	<-l.stopped
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		_, _ = l.w.Write(l.buf)
		l.buf = nil
	}
	l.async = false
}

// Write writes p in one piece.
func (l *Logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.async {
		return l.w.Write(p)
	}
	l.buf = append(l.buf, p...)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Printf writes one line.
func (l *Logger) Printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	_, _ = l.Write([]byte(line))
}

// requestLog collects one request's log lines. Only the request's handler
// goroutine uses it.
type requestLog struct {
	log     *Logger
	start   time.Time
	subject string // `function "function.hello"`, for Error lines
	errors  []string
	status  int // when set, logged instead of what the handler wrote
}

// begin writes Started plus what serves the request (Processing by ... or No
// route matches ...: second and subject) in one write.
func (rl *requestLog) begin(r *http.Request, second, subject string) {
	// Appended by hand rather than with fmt: this runs on every request.
	bp := lineBufs.Get().(*[]byte)
	b := append((*bp)[:0], "Started "...)
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, r.URL.RequestURI())
	b = append(b, " for "...)
	b = append(b, r.RemoteAddr...)
	b = append(b, " at "...)
	b = logStamp.append(b, rl.start)
	b = append(b, '\n')
	if second != "" {
		b = append(b, second...)
		b = append(b, subject...)
		b = append(b, '\n')
	}
	_, _ = rl.log.Write(b)
	*bp = b
	lineBufs.Put(bp)
}

// processing is begin for a request served by subject (`function "function.x"`).
func (rl *requestLog) processing(r *http.Request, subject string) {
	rl.subject = subject
	rl.begin(r, "Processing by ", subject)
}

// lineBufs holds the buffers log lines are put together in; Logger.Write
// copies them.
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// secondStamp formats times in layout, only once a second: the request
// log's timestamps, the front end's Date headers.
type secondStamp struct {
	layout string
	last   atomic.Pointer[stampCache]
}

// stampCache is the formatted time of one second.
type stampCache struct {
	unix int64
	text []byte
}

var logStamp = secondStamp{layout: logTimeFormat}

// append appends t in s's layout.
func (s *secondStamp) append(b []byte, t time.Time) []byte {
	if c := s.last.Load(); c != nil && c.unix == t.Unix() {
		return append(b, c.text...)
	}
	c := &stampCache{unix: t.Unix(), text: t.AppendFormat(nil, s.layout)}
	s.last.Store(c)
	return append(b, c.text...)
}

// errorf records why the request failed; it is written with Completed. A
// reason that spans lines (a trap's wasm stack trace) has its further lines
// indented, so every line that starts in column one is a log line.
func (rl *requestLog) errorf(format string, args ...any) {
	reason := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	reason = strings.ReplaceAll(reason, "\n", "\n  ")
	rl.errors = append(rl.errors, fmt.Sprintf("Error in %s: %s", rl.subject, reason))
}

// clientGone records that the client left before the response was complete.
func (rl *requestLog) clientGone(responded bool) {
	if !responded {
		rl.status = statusClientClosedRequest
	}
	rl.errors = append(rl.errors, fmt.Sprintf("Error in %s: the client closed the connection", rl.subject))
}

// completed writes the Error lines and the Completed line in one write.
func (rl *requestLog) completed(status int) {
	if rl.status != 0 {
		status = rl.status
	}
	text := http.StatusText(status)
	if status == statusClientClosedRequest {
		text = "Client Closed Request"
	}
	bp := lineBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for _, e := range rl.errors {
		b = append(b, e...)
		b = append(b, '\n')
	}
	b = append(b, "Completed "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, " in "...)
	b = append(b, time.Since(rl.start).String()...)
	b = append(b, '\n')
	_, _ = rl.log.Write(b)
	*bp = b
	lineBufs.Put(bp)
}
