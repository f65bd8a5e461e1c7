package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
}

// NewLogger returns a Logger writing to w. A nil w discards everything.
func NewLogger(w io.Writer) *Logger {
	if w == nil {
		w = io.Discard
	}
	return &Logger{w: w}
}

// Write writes p in one piece.
func (l *Logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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

// request starts the clock for one request's log lines.
func (l *Logger) request() *requestLog {
	return &requestLog{log: l, start: time.Now()}
}

// begin writes Started plus what serves the request (Processing by ... or No
// route matches ...) in one write.
func (rl *requestLog) begin(r *http.Request, second string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Started %s %q for %s at %s\n",
		r.Method, r.URL.RequestURI(), r.RemoteAddr, rl.start.Format(logTimeFormat))
	if second != "" {
		b.WriteString(second)
		b.WriteByte('\n')
	}
	_, _ = rl.log.Write([]byte(b.String()))
}

// processing is begin for a request served by subject (`function "function.x"`).
func (rl *requestLog) processing(r *http.Request, subject string) {
	rl.subject = subject
	rl.begin(r, "Processing by "+subject)
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
	var b strings.Builder
	for _, e := range rl.errors {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "Completed %d %s in %s\n", status, text, time.Since(rl.start))
	_, _ = rl.log.Write([]byte(b.String()))
}
