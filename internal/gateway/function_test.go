package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failsafe bounds waits that only a bug could make long, so a broken
// gateway fails the test instead of hanging it. It is never slept on.
const failsafe = 10 * time.Second

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(failsafe):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestHelloSeesTheRequest(t *testing.T) {
	seen := make(chan *http.Request, 1)
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		seen <- req
		// The seed's C hello world: no length, the body ends when we return.
		_, err = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World")
		return err
	})
	req, _ := http.NewRequest("GET", tg.url("/greet/x?name=ann&b=%20"), nil)
	req.Header.Set("X-Real-IP", "6.6.6.6") // forged: must be replaced
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "dropped")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Hello World" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}

	got := <-seen
	if got.Method != "GET" || got.RequestURI != "/greet/x?name=ann&b=%20" || got.Host != req.URL.Host {
		t.Errorf("request line/host: %s %s host %s", got.Method, got.RequestURI, got.Host)
	}
	want := map[string]string{
		"X-Forwarded-For":   "10.0.0.1, 127.0.0.1",
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"Connection":        "close",
		"X-Hop":             "",
		"User-Agent":        "Go-http-client/1.1",
	}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("function saw %s: %q, want %q", k, g, v)
		}
	}
	if got.ContentLength != 0 || len(got.TransferEncoding) != 0 {
		t.Errorf("a GET without body arrived with length %d, %v", got.ContentLength, got.TransferEncoding)
	}
}

// TestFunctionResponses feeds raw function output through the gateway.
func TestFunctionResponses(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		status  int
		body    string
		header  map[string]string // "" means absent
		trailer map[string]string
		log     string // a substring of the log
	}{
		{
			name: "content length", status: 201, body: "hello",
			raw:    "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Custom: a\r\n\r\nhello and bytes past the length",
			header: map[string]string{"X-Custom": "a", "Content-Length": "5"},
			log:    "Completed 201 Created in ",
		},
		{
			name: "hop-by-hop headers dropped", status: 200, body: "ok",
			raw:    "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: s\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
			header: map[string]string{"X-Private": "", "Keep-Alive": ""},
		},
		{
			name: "chunked with trailer", status: 200, body: "hello world",
			raw:     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\n\r\n",
			trailer: map[string]string{"X-Sum": "42"},
		},
		{
			name: "informational responses skipped", status: 204,
			raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		},
		{
			name: "HTTP/1.0 response", status: 200, body: "old",
			raw: "HTTP/1.0 200 OK\r\n\r\nold",
		},
		{
			name: "garbage", status: 502, body: "502 Bad Gateway\n",
			raw: "this is not http\r\n\r\n",
			log: `Error in function "function.fn": invalid HTTP response: malformed HTTP status code "is"; it began "this is not http\r\n\r\n"`,
		},
		{
			name: "nothing written", status: 502, body: "502 Bad Gateway\n",
			log: "the function closed conn 1 without writing a response",
		},
		{
			name: "head cut short", status: 502, body: "502 Bad Gateway\n",
			raw: "HTTP/1.1 200 OK\r\nContent-Ty",
			log: `it began "HTTP/1.1 200 OK\r\nContent-Ty"`,
		},
		{
			name: "bad content length", status: 502, body: "502 Bad Gateway\n",
			raw: "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nsecret",
			log: "invalid HTTP response: ",
		},
		{
			name: "switching protocols", status: 502, body: "502 Bad Gateway\n",
			raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
			log: "does not upgrade connections",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := functionGateway(t, reply(tt.raw))
			resp, body := get(t, tg.url("/"))
			if resp.StatusCode != tt.status || body != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			for k, v := range tt.header {
				if g := resp.Header.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			for k, v := range tt.trailer {
				if g := resp.Trailer.Get(k); g != v {
					t.Errorf("trailer %s = %q, want %q", k, g, v)
				}
			}
			tg.close(t)
			log := tg.log.String()
			if !strings.Contains(log, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
			if resp.StatusCode >= 500 && (strings.Contains(body, "secret") || strings.Contains(body, "not http")) {
				t.Errorf("the reason leaked to the client: %q", body)
			}
		})
	}
}

// TestStreamedResponse proves that the client gets each piece of a streamed
// response before the function writes the next one.
func TestStreamedResponse(t *testing.T) {
	for _, framing := range []string{"chunked", "close-delimited"} {
		t.Run(framing, func(t *testing.T) {
			next := make(chan struct{})
			tg := functionGateway(t, func(ctx context.Context, conn *end) error {
				if _, err := readReq(conn); err != nil {
					return err
				}
				piece := func(s string) string {
					if framing == "chunked" {
						return fmt.Sprintf("%x\r\n%s\r\n", len(s), s)
					}
					return s
				}
				head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				if framing == "chunked" {
					head += "Transfer-Encoding: chunked\r\n"
				}
				if _, err := io.WriteString(conn, head+"\r\n"+piece("first")); err != nil {
					return err
				}
				<-next // written only once the client has "first"
				end := ""
				if framing == "chunked" {
					end = "0\r\n\r\n"
				}
				_, err := io.WriteString(conn, piece("second")+end)
				return err
			})
			resp, err := http.Get(tg.url("/events"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			first := make(chan string, 1)
			go func() {
				buf := make([]byte, len("first"))
				_, err := io.ReadFull(resp.Body, buf)
				if err != nil {
					first <- err.Error()
					return
				}
				first <- string(buf)
			}()
			if got := waitFor(t, first, "the first piece"); got != "first" {
				t.Fatalf("first piece: %q", got)
			}
			close(next)
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != "second" {
				t.Fatalf("rest: %q, %v", rest, err)
			}
		})
	}
}

// echo reads the whole request and sends it back, with what it learned about
// the request's framing.
func echo(ctx context.Context, conn *end) error {
	req, err := readReq(conn)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Seen-Length: %d\r\nX-Seen-Chunked: %t\r\n\r\n%s",
		len(body), req.ContentLength, len(req.TransferEncoding) > 0, body)
	return err
}

func TestEchoLargeBody(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB, 25 windows
	for _, known := range []bool{true, false} {
		t.Run("known length "+strconv.FormatBool(known), func(t *testing.T) {
			tg := functionGateway(t, echo)
			var body io.Reader = bytes.NewReader(payload)
			if !known {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, err := http.Post(tg.url("/echo"), "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			wantLength, wantChunked := strconv.Itoa(len(payload)), "false"
			if !known {
				wantLength, wantChunked = "-1", "true"
			}
			if resp.Header.Get("X-Seen-Length") != wantLength || resp.Header.Get("X-Seen-Chunked") != wantChunked {
				t.Errorf("function saw length %s chunked %s", resp.Header.Get("X-Seen-Length"), resp.Header.Get("X-Seen-Chunked"))
			}
		})
	}
}

// TestFullDuplex: the function echoes each piece of the upload as it arrives,
// and the client sends the next piece only after it got the echo.
func TestFullDuplex(t *testing.T) {
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			return err
		}
		buf := make([]byte, 64)
		for {
			n, err := req.Body.Read(buf)
			if n > 0 {
				if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", n, buf[:n]); err != nil {
					return err
				}
			}
			if err == io.EOF {
				_, err = io.WriteString(conn, "0\r\n\r\n")
				return err
			}
			if err != nil {
				return err
			}
		}
	})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", tg.url("/duplex"), pr)
	respc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errc <- err
			return
		}
		respc <- resp
	}()
	if _, err := io.WriteString(pw, "ping1"); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	select {
	case resp = <-respc:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(failsafe):
		t.Fatal("no response while the upload is open")
	}
	defer resp.Body.Close()
	for _, msg := range []string{"ping1", "ping2", "ping3"} {
		if msg != "ping1" {
			if _, err := io.WriteString(pw, msg); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo of %s: %q %v", msg, buf, err)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the upload: %q %v", rest, err)
	}
}

// TestAnswerBeforeReadingBody: the function answers from the head alone, while
// the client is still uploading, or has more upload than the window holds.
func TestAnswerBeforeReadingBody(t *testing.T) {
	answer := func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		_, err := io.WriteString(conn, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
		return err
	}
	t.Run("upload still open", func(t *testing.T) {
		tg := functionGateway(t, answer)
		pr, pw := io.Pipe()
		defer pw.Close()
		go io.WriteString(pw, "the start of a long upload")
		req, _ := http.NewRequest("POST", tg.url("/upload"), pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || string(body) != "too big\n" || err != nil {
			t.Fatalf("got %d %q %v", resp.StatusCode, body, err)
		}
	})
	t.Run("upload larger than the window", func(t *testing.T) {
		tg := functionGateway(t, answer)
		resp, err := http.Post(tg.url("/upload"), "application/octet-stream", bytes.NewReader(make([]byte, 1<<20)))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || string(body) != "too big\n" || err != nil {
			t.Fatalf("got %d %q %v", resp.StatusCode, body, err)
		}
	})
}

type timeoutError struct{}

func (timeoutError) Error() string { return "function \"fn\" exceeded its CPU budget" }
func (timeoutError) Timeout() bool { return true }

// TestFailures: what the client and the log see when the function fails
// before it answers, or cannot be started.
func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		fn       fakeFunc
		spawnErr error
		status   int
		log      string
	}{
		{
			name: "trap before reading",
			fn: func(context.Context, *end) error {
				return errors.New("function \"fn\" trapped: wasm error: unreachable")
			},
			status: 500, log: `Error in function "function.fn": function "fn" trapped: wasm error: unreachable`,
		},
		{
			name: "trap after half a head",
			fn: func(ctx context.Context, conn *end) error {
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Half")
				return errors.New("function \"fn\" exited with code 3")
			},
			status: 500, log: `exited with code 3`,
		},
		{
			name:   "blown budget",
			fn:     func(context.Context, *end) error { return fmt.Errorf("stopped: %w", timeoutError{}) },
			status: 504, log: "exceeded its CPU budget",
		},
		{
			name:     "spawn failure",
			spawnErr: errors.New("instantiating function \"fn\": out of memory"),
			status:   500, log: `Error in function "function.fn": could not start: instantiating function "fn": out of memory`,
		},
		{
			name:     "spawn limit",
			spawnErr: errors.New("too many instances: the limit of 100 is reached"),
			status:   503, log: "could not start: too many instances",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": tt.fn}, spawnErr: tt.spawnErr}
			tg := newTestGateway(t, fnGateway(), sp)
			resp, body := get(t, tg.url("/"))
			want := fmt.Sprintf("%d %s\n", tt.status, http.StatusText(tt.status))
			if resp.StatusCode != tt.status || body != want {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, want)
			}
			tg.close(t)
			log := tg.log.String()
			if !strings.Contains(log, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
			if !strings.Contains(log, fmt.Sprintf("Completed %d %s in ", tt.status, http.StatusText(tt.status))) {
				t.Errorf("log lacks Completed %d:\n%s", tt.status, log)
			}
		})
	}
}

// TestFailureAfterResponseStarted: the client must see a broken response, not
// a complete-looking short one.
func TestFailureAfterResponseStarted(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		err  error
		log  string
	}{
		{"close-delimited, trap", "HTTP/1.1 200 OK\r\n\r\npartial", errors.New("wasm error: unreachable"), "failed after the response started: wasm error: unreachable"},
		{"content length, trap", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", errors.New("wasm error: unreachable"), "failed after the response started"},
		{"chunked, trap", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n", errors.New("wasm error: unreachable"), "failed after the response started"},
		{"content length, clean exit", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", nil, "invalid response body: unexpected EOF"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\nzz\r\n", nil, "invalid response body: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := functionGateway(t, func(ctx context.Context, conn *end) error {
				reply(tt.raw)(ctx, conn)
				return tt.err
			})
			resp, err := http.Get(tg.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || err == nil {
				t.Errorf("got %d %q with %v; want 200 and a read error", resp.StatusCode, body, err)
			}
			tg.close(t)
			if log := tg.log.String(); !strings.Contains(log, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
		})
	}
}

// TestClientGoneStopsInstance: a client that leaves mid-stream stops the
// instance through the request's context.
func TestClientGoneStopsInstance(t *testing.T) {
	stopped := make(chan error, 1)
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		<-ctx.Done()
		stopped <- ctx.Err()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", tg.url("/stream"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	if err := waitFor(t, stopped, "the instance to stop"); !errors.Is(err, context.Canceled) {
		t.Errorf("instance ended with %v", err)
	}
	tg.close(t)
	if log := tg.log.String(); !strings.Contains(log, "the client closed the connection") {
		t.Errorf("log lacks the client leaving:\n%s", log)
	}
}

// TestExitTimeout: an instance that keeps running after its response is
// stopped, so it cannot outlive its request.
func TestExitTimeout(t *testing.T) {
	stopped := make(chan struct{})
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		reply("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")(ctx, conn)
		<-ctx.Done() // ignores that conn 1 is closed
		close(stopped)
		return ctx.Err()
	})
	tg.ExitTimeout = 10 * time.Millisecond
	resp, body := get(t, tg.url("/"))
	if resp.StatusCode != 200 || body != "done" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	waitFor(t, stopped, "the instance to be stopped")
	tg.close(t)
	if log := tg.log.String(); !strings.Contains(log, "still running 10ms after its response was complete; stopped it") ||
		!strings.Contains(log, "Completed 200 OK") {
		t.Errorf("log:\n%s", log)
	}
}

func TestHeadRequest(t *testing.T) {
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		if req.Method != "HEAD" {
			return fmt.Errorf("method %s", req.Method)
		}
		_, err = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
		return err
	})
	resp, err := http.Head(tg.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 1234 {
		t.Fatalf("got %d length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestResponseHeadTooLarge(t *testing.T) {
	tg := functionGateway(t, func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for {
			if _, err := io.WriteString(conn, line); err != nil {
				return nil // the gateway gave up on us
			}
		}
	})
	resp, body := get(t, tg.url("/"))
	if resp.StatusCode != 502 || body != "502 Bad Gateway\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	tg.close(t)
	if log := tg.log.String(); !strings.Contains(log, "the response head is larger than 1048576 bytes") {
		t.Errorf("log:\n%s", log)
	}
}

func BenchmarkHello(b *testing.B) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": reply("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello World")}}
	g, err := NewHTTP(fnGateway(), testProject(sp), sp, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for b.Loop() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
