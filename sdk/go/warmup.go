package embly

import (
	"io"
	"net/http"
	"strings"
)

// warmUpRequests are the requests warmUp serves: one of the shape the
// gateway sends for a GET (parseSimpleHead's path), then one with a body,
// a query and more headers (http.ReadRequest's path).
var warmUpRequests = []string{
	"GET /warm-up HTTP/1.1\r\nHost: embly\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-Ip: 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\nConnection: close\r\n\r\n",
	"POST /warm-up?q=1 HTTP/1.1\r\nHost: embly\r\nUser-Agent: embly\r\nAccept: */*\r\n" +
		"Accept-Encoding: gzip\r\nX-Forwarded-For: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
}

// warmUp serves made-up requests through the same code a real request
// takes, a *Conn included, over a host whose conn 1 is in memory. The host
// calls it (through embly_warmup) after initialization and before it
// snapshots the instance, so the lazy set-up inside net/http, textproto,
// bufio, strconv and the Go runtime's first calls is in the snapshot
// instead of being redone by every request. That includes the runtime's
// itabs: converting a *Conn to io.Reader or io.Writer builds one the first
// time, which cost a fresh instance about 5% of a hello world's time while
// the warm-up used a conn of another type. It touches no state of the
// user's program: the handler and the host are its own.
func warmUp() {
	for _, req := range warmUpRequests {
		conn := newHost(&memSys{req: strings.NewReader(req)}).conn(1)
		_ = serveHTTP(conn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			_ = r.URL.Query()
			w.Header().Set("X-Warm-Up", "1")
			_, _ = io.WriteString(w, "Hello World")
		}), onPanic{stderr: io.Discard, exit: func(int) {}})
	}
}

// memSys is a host for warmUp: conn 1 reads req, then EOF, and takes any
// write; there is nothing else to reach.
type memSys struct {
	req *strings.Reader
}

func (m *memSys) read(id int32, p []byte) (int, Errno) {
	if id != 1 {
		return 0, EBADF
	}
	n, _ := m.req.Read(p) // 0 at the end: EOF
	return n, 0
}

func (m *memSys) write(id int32, p []byte) (int, Errno) {
	if id != 1 {
		return 0, EBADF
	}
	return len(p), 0
}

func (*memSys) spawn(string) (int32, Errno)        { return 0, ENOENT }
func (*memSys) events(int64, []int32) (int, Errno) { return 0, 0 }
func (*memSys) close(int32) Errno                  { return 0 }
