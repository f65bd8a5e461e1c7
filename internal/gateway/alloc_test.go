package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/embly/embly/internal/config"
)

// helloResponse is what the C hello world answers, with a length.
const helloResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nHello World"

// cannedInvocation is an instance that has already answered: its conn 1
// holds a fixed response and RunInline returns at once. It allocates
// nothing per request, so what a request through it allocates is the
// gateway's own.
type cannedInvocation struct {
	out  string
	rd   strings.Reader
	done chan struct{}
}

func (c *cannedInvocation) Read(p []byte) (int, error)  { return c.rd.Read(p) }
func (c *cannedInvocation) Write(p []byte) (int, error) { return len(p), nil }
func (c *cannedInvocation) CloseWrite() error           { return nil }
func (c *cannedInvocation) Close() error                { return nil }
func (c *cannedInvocation) Stop()                       {}
func (c *cannedInvocation) Done() <-chan struct{}       { return c.done }
func (c *cannedInvocation) Wait() error                 { return nil }
func (c *cannedInvocation) RunInline(func())            {}
func (c *cannedInvocation) Ready() bool                 { return c.rd.Len() > 0 }

// cannedSpawner hands out its one cannedInvocation, rewound; requests
// through it must not overlap.
type cannedSpawner struct{ inv *cannedInvocation }

func newCannedSpawner(out string) *cannedSpawner {
	inv := &cannedInvocation{out: out, done: make(chan struct{})}
	close(inv.done)
	return &cannedSpawner{inv: inv}
}

func (s *cannedSpawner) Spawn(ctx context.Context, fn string) (Invocation, error) {
	return s.Prepare(ctx, fn)
}

func (s *cannedSpawner) Prepare(context.Context, string) (InlineInvocation, error) {
	s.inv.rd.Reset(s.inv.out)
	return s.inv, nil
}

// recycledWriter is a ResponseWriter that allocates nothing: its header map
// is cleared and reused between requests.
type recycledWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *recycledWriter) Header() http.Header         { return w.h }
func (w *recycledWriter) WriteHeader(code int)        { w.code = code }
func (w *recycledWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *recycledWriter) Flush()                      {}

func (w *recycledWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

// cannedGateway is a gateway whose default function "fn" answers out.
func cannedGateway(tb testing.TB, out string) *HTTP {
	tb.Helper()
	proj := &config.Project{Functions: []*config.Function{{Name: "fn"}}}
	g, err := NewHTTP(fnGateway(), proj, newCannedSpawner(out), NewLogger(io.Discard))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkFunctionRoute counts what the gateway allocates to serve a
// bodiless GET on a function route whose function answers the hello world:
// "handler" calls the handler alone, with an instance and a ResponseWriter
// that allocate nothing; "loopback" goes through a real net/http server and
// a keep-alive client, whose own allocations are included; "frontend"
// through ListenAndServe, whose front end serves such requests without
// net/http, and the same client.
func BenchmarkFunctionRoute(b *testing.B) {
	g := cannedGateway(b, helloResponse)
	h := g.Handler()

	b.Run("handler", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/", nil)
		w := &recycledWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != 200 || w.n != len("Hello World") || w.h.Get("Content-Type") != "text/plain; charset=utf-8" {
				b.Fatalf("%d, %d bytes, %v", w.code, w.n, w.h)
			}
		}
	})

	b.Run("loopback", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			getHello(b, client, srv.URL)
		}
	})

	b.Run("frontend", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		addrc, done := make(chan string, 1), make(chan error, 1)
		go func() {
			done <- g.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a.String() })
		}()
		var url string
		select {
		case url = <-addrc:
			url = "http://" + url + "/"
		case err := <-done:
			b.Fatal(err)
		}
		defer func() { cancel(); <-done }()
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			getHello(b, client, url)
		}
	})
}

// getHello GETs url with client and checks that the answer is the hello
// world.
func getHello(b *testing.B, client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != int64(len("Hello World")) {
		b.Fatalf("%d, %d bytes", resp.StatusCode, n)
	}
}
