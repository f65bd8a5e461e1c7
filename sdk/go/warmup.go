package embly

import (
	"io"
	"net/http"
	"strings"
)

// warmUp serves one made-up request through the same code a real request
// takes, over an in-memory conn. The host calls it (through embly_warmup)
// after initialization and before it snapshots the instance, so the lazy
// set-up inside net/http, textproto, bufio, strconv and the Go runtime's
// first calls is in the snapshot instead of being redone by every request.
// It touches no state of the user's program: the handler is its own.
func warmUp() {
	const req = "POST /warm-up?q=1 HTTP/1.1\r\nHost: embly\r\nUser-Agent: embly\r\nAccept: */*\r\n" +
		"Accept-Encoding: gzip\r\nX-Forwarded-For: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"
	conn := &memConn{Reader: strings.NewReader(req)}
	_ = serveHTTP(conn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		_ = r.URL.Query()
		w.Header().Set("X-Warm-Up", "1")
		_, _ = io.WriteString(w, "Hello World")
	}), onPanic{stderr: io.Discard, exit: func(int) {}})
}

// memConn is an in-memory io.ReadWriteCloser for warmUp.
type memConn struct {
	io.Reader
}

func (*memConn) Write(p []byte) (int, error) { return len(p), nil }
func (*memConn) Close() error                { return nil }
