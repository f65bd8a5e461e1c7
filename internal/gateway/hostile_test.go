package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/config"
)

// Hostile clients and the route limits: the server answers with the
// documented status and keeps serving (docs/reliability.md).

// limitedGateway routes /limited to "fn" with max_body and timeout set, and
// everything else to "fn" with the defaults.
func limitedGateway(t *testing.T, fn fakeFunc, maxBody int64, timeout time.Duration) *testGateway {
	t.Helper()
	gw := &config.Gateway{Type: "http", Function: "fn", Routes: []*config.Route{
		{Prefix: "/limited", Function: "fn", MaxBody: maxBody, Timeout: timeout},
	}}
	return newTestGateway(t, gw, &fakeSpawner{funcs: map[string]fakeFunc{"fn": fn}})
}

func TestMaxBody(t *testing.T) {
	var spawned sync.Map
	tg := limitedGateway(t, func(ctx context.Context, conn *end) error {
		spawned.Store("yes", true)
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, req.Body)
		if err != nil {
			return nil // cut at max_body: the gateway answers
		}
		_, err = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(fmt.Sprint(n)), fmt.Sprint(n))
		return err
	}, 1000, 0)

	post := func(body io.Reader, length int64) (*http.Response, string) {
		req, _ := http.NewRequest("POST", tg.url("/limited"), body)
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post(bytes.NewReader(make([]byte, 1000)), 1000); resp.StatusCode != 200 || body != "1000" {
		t.Fatalf("at the limit: %d %q", resp.StatusCode, body)
	}
	spawned.Delete("yes")
	if resp, _ := post(bytes.NewReader(make([]byte, 1001)), 1001); resp.StatusCode != 413 {
		t.Fatalf("declared over the limit: %d, want 413", resp.StatusCode)
	}
	if _, ok := spawned.Load("yes"); ok {
		t.Error("a body declared too large still started an instance")
	}
	// A chunked body is cut when it passes the limit.
	if resp, _ := post(io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("y", 600))), -1); resp.StatusCode != 413 {
		t.Fatalf("chunked over the limit: %d, want 413", resp.StatusCode)
	}
	// The default route has the default limit.
	req, _ := http.NewRequest("POST", tg.url("/"), bytes.NewReader(make([]byte, DefaultMaxBody+1)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("default route, %d bytes: %d, want 413", DefaultMaxBody+1, resp.StatusCode)
	}
	if !strings.Contains(tg.log.String(), "larger than max_body") {
		t.Errorf("the log does not say why:\n%s", tg.log.String())
	}
}

// A client still uploading when the 413 comes must get it: the gateway
// reads the rest of the body before closing, or the close would reset the
// connection and the client's kernel would drop the answer unread. The
// upload takes longer than net/http's own wait before closing (500 ms).
func TestMaxBodyAnswerReachesSlowUploader(t *testing.T) {
	tg := limitedGateway(t, func(ctx context.Context, conn *end) error {
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, req.Body)
		return err
	}, 1000, 0)
	for _, chunked := range []bool{false, true} {
		const pieces, size = 24, 64 << 10
		conn, err := net.Dial("tcp", strings.TrimPrefix(tg.url(""), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", pieces*size)
		if chunked {
			head = "POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		}
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		piece := bytes.Repeat([]byte("x"), size)
		for i := range pieces {
			if chunked {
				piece = fmt.Appendf(nil, "%x\r\n%s\r\n", size, bytes.Repeat([]byte("x"), size))
			}
			if _, err := conn.Write(piece); err != nil {
				t.Fatalf("chunked=%v: writing piece %d: %v", chunked, i, err)
			}
			time.Sleep(30 * time.Millisecond)
		}
		if chunked {
			io.WriteString(conn, "0\r\n\r\n")
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("chunked=%v: reading the answer: %v", chunked, err)
		}
		if resp.StatusCode != 413 {
			t.Errorf("chunked=%v: status %d, want 413", chunked, resp.StatusCode)
		}
		conn.Close()
	}
}

func TestRouteTimeout(t *testing.T) {
	tg := limitedGateway(t, func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		<-ctx.Done() // never answers
		return fmt.Errorf("function \"fn\" stopped: %w", context.Cause(ctx))
	}, DefaultMaxBody, 100*time.Millisecond)
	start := time.Now()
	resp, _ := get(t, tg.url("/limited"))
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("= %d, want 504", resp.StatusCode)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
}

func TestBusyIs503WithRetryAfter(t *testing.T) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": reply("HTTP/1.1 200 OK\r\n\r\n")},
		spawnErr: fmt.Errorf("function \"fn\" runs 5 instances, its max_concurrency: %w", syscall.EAGAIN)}
	tg := newTestGateway(t, fnGateway(), sp)
	resp, _ := get(t, tg.url("/"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != RetryAfter {
		t.Fatalf("= %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// hostileServer runs a hello gateway under ListenAndServe with short
// timeouts, and returns its address.
func hostileServer(t *testing.T) (string, *HTTP) {
	t.Helper()
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": reply("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")}}
	g, err := NewHTTP(fnGateway(), testProject(sp), sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.ReadHeaderTimeout = 500 * time.Millisecond
	g.IdleTimeout = 500 * time.Millisecond
	return serveForTest(t, g), g
}

// hello checks that the server still answers a normal request at once.
func hello(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("hello: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("hello = %d %q", resp.StatusCode, b)
	}
}

func TestSlowloris(t *testing.T) {
	addr, _ := hostileServer(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// A request line and the start of a header, never finished.
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	hello(t, addr)
	// Trickling bytes does not help: ReadHeaderTimeout bounds the head.
	deadline := time.Now().Add(5 * time.Second)
	closed := 0
	for _, c := range conns {
		io.WriteString(c, "a")
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
			closed++
		} else if err == nil {
			closed++ // it answered (408) and will close
		}
	}
	if closed != len(conns) {
		t.Fatalf("%d of %d slow connections were closed by the server", closed, len(conns))
	}
	hello(t, addr)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestHugeHeaderIs431(t *testing.T) {
	addr, _ := hostileServer(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
		c.Write(bytes.Repeat([]byte("a"), 2<<20))
		io.WriteString(c, "\r\n\r\n")
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("= %d, want 431", resp.StatusCode)
	}
	hello(t, addr)
}

func TestMalformedRequests(t *testing.T) {
	addr, _ := hostileServer(t)
	for _, raw := range []string{
		"\x00\x01\x02\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"GET /\r\n\r\n",
		strings.Repeat("A", 100<<10),
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		switch {
		case err != nil && isTimeout(err):
			t.Errorf("%.40q: no answer", raw)
		case err == nil && resp.StatusCode < 400 && !strings.Contains(raw, "chunked\r\n\r\nzz"):
			t.Errorf("%.40q: %d", raw, resp.StatusCode)
		}
		c.Close()
		hello(t, addr)
	}
}
