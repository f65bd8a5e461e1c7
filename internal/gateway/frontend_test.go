package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzFastHead: a request head the front end accepts reads the same
// through http.ReadRequest, so a request means the same whether the front
// end or net/http serves it.
func FuzzFastHead(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"HEAD /a/b?c=d&e HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: wrk 4.2\r\nAccept: */*\r\n\r\n",
		"GET /%7Euser/a%20b?q=%41 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET /a#frag HTTP/1.1\r\nhost: h\r\n\r\n",
		"GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET //double//slash HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a;b=c,d:e@f$g HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \t\r\nX-Empty:\r\nPragma: no-cache\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
		"POST / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		b := []byte(raw)
		n := headEnd(b)
		var h fastHead
		if n == 0 || !h.parse(b[:n]) {
			return
		}
		got, ok := h.request(context.Background(), b[:n], func(name []byte) string { return http.CanonicalHeaderKey(string(name)) })
		if !ok {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw[:n])))
		if err != nil {
			t.Fatalf("the front end accepts %q, net/http refuses it: %v", raw[:n], err)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
			got.Proto != want.Proto || got.Close != want.Close || want.ContentLength != 0 {
			t.Errorf("%q:\nfront end %s %q %q %s close=%v\nnet/http  %s %q %q %s close=%v length=%d", raw[:n],
				got.Method, got.RequestURI, got.Host, got.Proto, got.Close,
				want.Method, want.RequestURI, want.Host, want.Proto, want.Close, want.ContentLength)
		}
		if !reflect.DeepEqual(got.URL, want.URL) {
			t.Errorf("%q: URL %#v, net/http %#v", raw[:n], got.URL, want.URL)
		}
		if !reflect.DeepEqual(got.Header, want.Header) {
			t.Errorf("%q: header %v, net/http %v", raw[:n], got.Header, want.Header)
		}
	})
}

// pathEcho answers with the method and target it was sent.
func pathEcho(ctx context.Context, conn *end) error {
	req, err := readReq(conn)
	if err != nil {
		return err
	}
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
	}
	body := req.Method + " " + req.RequestURI
	_, err = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return err
}

// rawConn is a client connection that writes raw bytes and reads
// responses.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(failsafe))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(raw string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, raw); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response to a request of method and returns it with its
// body.
func (rc *rawConn) read(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatal(err)
	}
	return resp, string(body)
}

// tryRead is read, with the error of reading the body returned.
func (rc *rawConn) tryRead(method string) (*http.Response, string, error) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// closed reports whether the server closed the connection.
func (rc *rawConn) closed() bool {
	_, err := rc.br.ReadByte()
	return errors.Is(err, io.EOF)
}

// TestFrontEnd: requests of every shape, on one connection, get their
// answers in order, whether the front end or net/http serves them.
func TestFrontEnd(t *testing.T) {
	tg := functionGateway(t, pathEcho)
	rc := dialRaw(t, tg.addr)

	// Two plain requests in one write (pipelined).
	rc.send("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := rc.read("GET")
	if resp.StatusCode != 200 || body != "GET /a?x=1" || resp.Header.Get("Date") == "" || resp.Close {
		t.Errorf("GET: %d %q %v close=%v", resp.StatusCode, body, resp.Header, resp.Close)
	}
	resp, body = rc.read("HEAD")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("HEAD /b")) {
		t.Errorf("HEAD: %d %q length %d", resp.StatusCode, body, resp.ContentLength)
	}

	// A body hands the connection over to net/http, which serves it from
	// then on, plain requests included.
	rc.send("POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /d HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, body = rc.read("POST"); resp.StatusCode != 200 || body != "POST /c" {
		t.Errorf("POST: %d %q", resp.StatusCode, body)
	}
	if resp, body = rc.read("GET"); resp.StatusCode != 200 || body != "GET /d" {
		t.Errorf("GET after POST: %d %q", resp.StatusCode, body)
	}
	rc.send("GET /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if resp, body = rc.read("GET"); body != "GET /e" || !resp.Close || !rc.closed() {
		t.Errorf("Connection: close: %q close=%v", body, resp.Close)
	}

	// What the front end leaves to net/http, each on a connection of its
	// own: net/http's answer.
	for _, tt := range []struct {
		name, raw string
		code      int
		body      string
	}{
		{"HTTP/1.0", "GET /f HTTP/1.0\r\n\r\n", 200, "GET /f"},
		{"bare LF", "GET /g HTTP/1.1\nHost: h\n\n", 200, "GET /g"},
		{"large head", "GET /h HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n", 200, "GET /h"},
		{"escaped target", "GET /a%20b HTTP/1.1\r\nHost: h\r\n\r\n", 200, "GET /a%20b"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, ""},
		{"bad header", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400, ""},
		{"Expect", "GET /i HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", 200, "GET /i"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, tg.addr)
			rc.send(tt.raw)
			resp, body := rc.read("GET")
			if resp.StatusCode != tt.code || (tt.code == 200 && body != tt.body) {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

// TestFrontEndMatchesNetHTTP: for every kind of response a function may
// give, a client sees the same through the front end as through net/http
// (but for the Date).
func TestFrontEndMatchesNetHTTP(t *testing.T) {
	for _, tt := range []struct{ name, method, out string }{
		{"hello", "GET", helloResponse},
		{"hello HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"},
		{"until EOF", "GET", "HTTP/1.1 200 OK\r\n\r\n<html>the end"},
		{"chunked with a trailer", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\n"},
		{"no content", "GET", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
		{"not modified", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"},
		{"not found", "GET", "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"},
		{"odd status", "GET", "HTTP/1.1 299 Custom\r\nContent-Length: 0\r\n\r\n"},
		{"cookies", "GET", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"},
		{"short body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"},
		{"garbage", "GET", "garbage\r\n\r\n"},
		{"nothing", "GET", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := cannedGateway(t, tt.out)
			rc := dialRaw(t, serveForTest(t, g))
			rc.send(tt.method + " / HTTP/1.1\r\nHost: h\r\n\r\n")
			front, frontBody, frontErr := rc.tryRead(tt.method)

			// The same request through net/http alone.
			srv := httptest.NewServer(g.Handler())
			defer srv.Close()
			rc = dialRaw(t, srv.Listener.Addr().String())
			rc.send(tt.method + " / HTTP/1.1\r\nHost: h\r\n\r\n")
			want, wantBody, wantErr := rc.tryRead(tt.method)

			if (frontErr != nil) != (wantErr != nil) {
				t.Fatalf("front end: %v; net/http: %v", frontErr, wantErr)
			}
			front.Header.Del("Date")
			want.Header.Del("Date")
			if front.StatusCode != want.StatusCode || frontBody != wantBody ||
				!reflect.DeepEqual(front.Header, want.Header) || !reflect.DeepEqual(front.Trailer, want.Trailer) ||
				front.ContentLength != want.ContentLength || !reflect.DeepEqual(front.TransferEncoding, want.TransferEncoding) {
				t.Errorf("front end: %d %v %q trailer %v length %d %v\nnet/http:  %d %v %q trailer %v length %d %v",
					front.StatusCode, front.Header, frontBody, front.Trailer, front.ContentLength, front.TransferEncoding,
					want.StatusCode, want.Header, wantBody, want.Trailer, want.ContentLength, want.TransferEncoding)
			}
		})
	}
}

// TestFrontEndClientGone: a client that leaves before any answer stops
// the instance, though nothing is written to notice it.
func TestFrontEndClientGone(t *testing.T) {
	stopped := make(chan error, 1)
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		<-ctx.Done()
		stopped <- ctx.Err()
		return ctx.Err()
	})
	rc := dialRaw(t, tg.addr)
	rc.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	rc.c.Close()
	if err := waitFor(t, stopped, "the instance to stop"); !errors.Is(err, context.Canceled) {
		t.Errorf("instance ended with %v", err)
	}
	tg.close(t)
	if log := tg.log.String(); !strings.Contains(log, "the client closed the connection") {
		t.Errorf("log lacks the client leaving:\n%s", log)
	}
}

// TestFrontEndTimeouts: an idle connection, and one that stalls in its
// head, are closed.
func TestFrontEndTimeouts(t *testing.T) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": pathEcho}}
	g, err := NewHTTP(fnGateway(), testProject(sp), sp, NewLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	g.IdleTimeout = 50 * time.Millisecond
	g.ReadHeaderTimeout = 50 * time.Millisecond
	addr := serveForTest(t, g)
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := rc.read("GET"); body != "GET /" {
		t.Fatalf("got %q", body)
	}
	if !rc.closed() {
		t.Error("an idle connection stayed open")
	}
	rc = dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost:")
	if !rc.closed() {
		t.Error("a stalled head kept its connection open")
	}
}
