package embly

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

const getHello = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"

// serve runs serveHTTP on a fake conn 1 that carries request, and returns
// what the guest wrote back.
func serve(t *testing.T, request string, h http.Handler) (string, error) {
	t.Helper()
	f := newFakeSys(t)
	f.send(1, request)
	f.closeIn(1)
	err := serveHTTP(newTestHost(f).conn(1), h, noPanics(t))
	if !f.conn(1).closed {
		t.Error("conn 1 was not closed")
	}
	return f.output(1), err
}

func TestResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		request string
		handler http.HandlerFunc
		want    string
	}{{
		name:    "hello",
		handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello World") },
		want:    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello World",
	}, {
		name:    "empty",
		handler: func(w http.ResponseWriter, r *http.Request) {},
		want:    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	}, {
		name:    "sniffed html",
		handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<!DOCTYPE html><p>hi") },
		want:    "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<!DOCTYPE html><p>hi",
	}, {
		name: "status and headers",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("X-Many", "a")
			w.Header().Add("X-Many", "b")
			w.WriteHeader(http.StatusNotFound)
			w.Header().Set("X-Too-Late", "1")
			w.WriteHeader(http.StatusTeapot) // superfluous
			io.WriteString(w, `{"error":"not found"}`)
		},
		want: "HTTP/1.1 404 Not Found\r\nContent-Length: 21\r\nContent-Type: application/json\r\nX-Many: a\r\nX-Many: b\r\n\r\n" +
			`{"error":"not found"}`,
	}, {
		name: "no sniffing when Content-Type is nil",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "raw")
		},
		want: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw",
	}, {
		name:    "no content",
		handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		want:    "HTTP/1.1 204 No Content\r\n\r\n",
	}, {
		name:    "unknown status",
		handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) },
		want:    "HTTP/1.1 599 status code 599\r\nContent-Length: 0\r\n\r\n",
	}, {
		name:    "informational status is not sent",
		handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(201) },
		want:    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
	}, {
		name:    "head",
		request: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello World") },
		want:    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
	}, {
		name: "chunked after Flush",
		handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
			w.(http.Flusher).Flush()
			io.WriteString(w, " world")
			w.(http.Flusher).Flush()
			w.Write(nil)
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	}, {
		name: "flush first, through ResponseController",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			io.WriteString(w, "data: 1\n\n")
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"9\r\ndata: 1\n\n\r\n0\r\n\r\n",
	}, {
		name: "streamed with a declared Content-Length",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "hello")
			w.(http.Flusher).Flush()
			io.WriteString(w, "world")
		},
		want: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhelloworld",
	}, {
		name: "trailers",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "abc")
			w.Header().Set("X-Sum", "6")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		},
		want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\nX-Late: yes\r\nX-Sum: 6\r\n\r\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.request == "" {
				tc.request = getHello
			}
			got, err := serve(t, tc.request, tc.handler)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("response:\n got %q\nwant %q", got, tc.want)
			}
			checkParses(t, got, tc.request)
		})
	}
}

// checkParses reads resp as net/http's client would, body and trailers
// included, as the gateway will.
func checkParses(t *testing.T, resp, request string) {
	t.Helper()
	req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(request)))
	r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(resp)), req)
	if err != nil {
		t.Fatalf("http.ReadResponse: %v", err)
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Fatalf("reading the body: %v", err)
	}
}

func TestRequest(t *testing.T) {
	const request = "POST /submit?name=embly HTTP/1.1\r\nHost: example.com\r\n" +
		"X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
	var got struct {
		method, uri, path, name, host, remote, xff, body string
	}
	_, err := serve(t, request, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got.method, got.uri, got.path = r.Method, r.RequestURI, r.URL.Path
		got.name, got.host, got.remote = r.URL.Query().Get("name"), r.Host, r.RemoteAddr
		got.xff, got.body = r.Header.Get("X-Forwarded-For"), string(b)
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := got
	want.method, want.uri, want.path, want.name = "POST", "/submit?name=embly", "/submit", "embly"
	want.host, want.remote, want.xff, want.body = "example.com", "192.0.2.7", "10.0.0.1, 192.0.2.7", "hello"
	if got != want {
		t.Errorf("request seen by the handler:\n got %+v\nwant %+v", got, want)
	}
}

func TestChunkedRequestBody(t *testing.T) {
	const request = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	resp, err := serve(t, request, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	if err != nil || !strings.HasSuffix(resp, "\r\n\r\nabcde") {
		t.Fatalf("echo = %q, %v", resp, err)
	}
}

func TestRemoteAddr(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", ""},
		{"X-Forwarded-For: 192.0.2.7\r\n", "192.0.2.7"},
		{"X-Forwarded-For: a\r\nX-Forwarded-For: b, c\r\n", "c"},
		{"Forwarded: for=192.0.2.1, for=\"[::1]:59335\";proto=http\r\nX-Forwarded-For: 1.1.1.1\r\n", "[::1]:59335"},
	} {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: h\r\n" + tc.header + "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if got := remoteAddr(req.Header); got != tc.want {
			t.Errorf("remoteAddr(%q) = %q; want %q", tc.header, got, tc.want)
		}
	}
}

func TestBadRequest(t *testing.T) {
	resp, err := serve(t, "NOT HTTP\r\n\r\n", http.NotFoundHandler())
	if err == nil {
		t.Fatal("no error for a malformed request")
	}
	if want := "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"; resp != want {
		t.Fatalf("response = %q; want %q", resp, want)
	}
}

func TestHandlerWriteErrors(t *testing.T) {
	var errs []error
	_, err := serve(t, getHello, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
		_, err := io.WriteString(w, "x")
		errs = append(errs, err)
	}))
	if err != nil || !errors.Is(errs[0], http.ErrBodyNotAllowed) {
		t.Errorf("Write on a 304: %v (serve: %v); want ErrBodyNotAllowed", errs, err)
	}

	errs = nil
	resp, err := serve(t, getHello, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		_, err := io.WriteString(w, "12345")
		errs = append(errs, err)
		_, err = io.WriteString(w, "12")
		errs = append(errs, err)
	}))
	if !errors.Is(errs[0], http.ErrContentLength) || errs[1] != nil {
		t.Errorf("Writes past Content-Length: %v", errs)
	}
	if err == nil || !strings.Contains(err.Error(), "declared Content-Length 4 but wrote 2") {
		t.Errorf("short body: %v", err)
	}
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n") {
		t.Errorf("response = %q", resp)
	}
}

// noPanics fails the test if the handler panics.
func noPanics(t *testing.T) onPanic {
	return onPanic{stderr: io.Discard, exit: func(code int) { t.Errorf("the handler panicked; exit(%d)", code) }}
}

// servePanic serves getHello with h, which panics, and returns the response,
// what was reported on stderr, and the exit code.
func servePanic(t *testing.T, h http.HandlerFunc) (resp, stderr string, code int) {
	t.Helper()
	f := newFakeSys(t)
	f.send(1, getHello)
	f.closeIn(1)
	var log strings.Builder
	code = -1
	err := serveHTTP(newTestHost(f).conn(1), h, onPanic{stderr: &log, exit: func(c int) {
		if !f.conn(1).closed {
			t.Error("exit before conn 1 was closed")
		}
		code = c
	}})
	if !errors.Is(err, errPanicked) {
		t.Errorf("serveHTTP = %v; want errPanicked", err)
	}
	return f.output(1), log.String(), code
}

func TestPanicBeforeWriting(t *testing.T) {
	resp, stderr, code := servePanic(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic("boom")
	})
	const want = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 22\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInternal Server Error\n"
	if resp != want {
		t.Errorf("response = %q; want %q", resp, want)
	}
	if code != 2 {
		t.Errorf("exit code %d; want 2", code)
	}
	if !strings.HasPrefix(stderr, "embly: panic serving GET /: boom\n\ngoroutine ") || !strings.Contains(stderr, "TestPanicBeforeWriting") {
		t.Errorf("stderr = %q; want the panic and its stack", stderr)
	}
}

func TestPanicWhileStreaming(t *testing.T) {
	got, _, code := servePanic(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom")
	})
	if code != 2 {
		t.Errorf("exit code %d; want 2", code)
	}
	if !strings.HasSuffix(got, "7\r\npartial\r\n") {
		t.Errorf("response = %q; want it cut after the flushed chunk, with no final chunk", got)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the cut body: %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestAbortHandler(t *testing.T) {
	resp, stderr, code := servePanic(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	})
	if resp != "" || stderr != "" || code != 2 {
		t.Errorf("abort: response %q, stderr %q, exit %d; want nothing sent or logged, exit 2", resp, stderr, code)
	}
}

// A big unflushed body is streamed rather than held whole.
func TestLargeBodyStreams(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", autoFlushSize/16+1)
	f := newFakeSys(t)
	f.send(1, getHello)
	f.closeIn(1)
	f.conn(1).windowCap = 64 << 10
	f.peer = func(f *fakeSys) bool { f.take(1); return true }
	err := serveHTTP(newTestHost(f).conn(1), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
		io.WriteString(w, "tail")
	}), noPanics(t))
	if err != nil {
		t.Fatal(err)
	}
	out := f.output(1)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != body+"tail" {
		t.Fatalf("body: %d bytes, %v", len(got), err)
	}
	if fmt.Sprint(resp.TransferEncoding) != "[chunked]" {
		t.Errorf("TransferEncoding = %v; want chunked", resp.TransferEncoding)
	}
}

// Whatever the gateway sends, the guest answers something a client can
// parse, or reports an error; it never crashes.
func FuzzServeHTTP(f *testing.F) {
	f.Add(getHello)
	f.Add("POST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	f.Add("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Fuzz(func(t *testing.T, request string) {
		fs := newFakeSys(t)
		fs.send(1, request)
		fs.closeIn(1)
		err := serveHTTP(newTestHost(fs).conn(1), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Path", r.URL.Path)
			io.Copy(w, r.Body)
		}), noPanics(t))
		if _, perr := http.ReadResponse(bufio.NewReader(strings.NewReader(fs.output(1))), nil); perr != nil {
			t.Fatalf("unparsable response %q (serve error %v): %v", fs.output(1), err, perr)
		}
	})
}

// BenchmarkServeHTTP serves the gateway's GET to a hello world handler
// natively, over the warm-up's in-memory host, reset between requests as an
// instance's host is: what the SDK's HTTP path allocates per request, and a
// native reference for its time (compiled to wasm the same code runs about
// ten times slower).
func BenchmarkServeHTTP(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello World") })
	crash := onPanic{stderr: io.Discard, exit: func(int) {}}
	sys := &memSys{req: strings.NewReader(warmUpRequests[0])}
	h := newHost(sys)
	b.ReportAllocs()
	for range b.N {
		sys.req.Reset(warmUpRequests[0])
		h.reset()
		if err := serveHTTP(h.conn(1), hello, crash); err != nil {
			b.Fatal(err)
		}
	}
}
