package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/embly/embly/internal/config"
)

// This file holds the test doubles: an in-memory conn with bounded windows and
// half-close (what the bus gives the real runtime), and a Spawner whose
// functions are Go funcs speaking raw HTTP/1.1 on it.

// testWindow is small so that ordinary tests exercise a full window.
const testWindow = 4 << 10

// pipe carries bytes one way through a bounded buffer. Write blocks while the
// buffer is full.
type pipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	window int
	closed bool // the writer closed: reads drain, then EOF
	gone   bool // the reader left: writes fail
}

func newPipe(window int) *pipe {
	p := &pipe{window: window}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf) >= p.window && !p.gone && !p.closed {
			p.cond.Wait()
		}
		if p.gone || p.closed {
			return n, io.ErrClosedPipe
		}
		k := min(len(b), p.window-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b, n = b[k:], n+k
		p.cond.Broadcast()
	}
	return n, nil
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed && !p.gone {
		p.cond.Wait()
	}
	switch {
	case p.gone:
		return 0, io.ErrClosedPipe
	case len(p.buf) > 0:
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		p.cond.Broadcast()
		return n, nil
	}
	return 0, io.EOF
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.gone = true
	p.buf = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}

// end is one side of a bidirectional conn.
type end struct{ in, out *pipe }

func (e *end) Read(b []byte) (int, error)  { return e.in.Read(b) }
func (e *end) Write(b []byte) (int, error) { return e.out.Write(b) }
func (e *end) CloseWrite() error           { e.out.closeWrite(); return nil }
func (e *end) Close() error {
	e.out.closeWrite()
	e.in.closeRead()
	return nil
}

// fakeFunc is a "function": it gets its conn 1 and the instance's context,
// and its error is what Wait returns.
type fakeFunc func(ctx context.Context, conn *end) error

type fakeInvocation struct {
	*end
	done chan struct{}
	err  error
	stop context.CancelFunc
}

func (i *fakeInvocation) Stop() { i.stop() }

func (i *fakeInvocation) Done() <-chan struct{} { return i.done }

func (i *fakeInvocation) Wait() error {
	<-i.done
	return i.err
}

// fakeSpawner runs fakeFuncs like the runtime runs instances: a fresh one per
// Spawn, stopped when ctx is cancelled, its conn closed when it ends.
type fakeSpawner struct {
	funcs    map[string]fakeFunc
	spawnErr error

	mu   sync.Mutex
	live int
}

func (s *fakeSpawner) Spawn(ctx context.Context, name string) (Invocation, error) {
	if s.spawnErr != nil {
		return nil, s.spawnErr
	}
	fn := s.funcs[name]
	if fn == nil {
		return nil, fmt.Errorf("no such function %q", name)
	}
	a, b := newPipe(testWindow), newPipe(testWindow)
	gw, theirs := &end{in: a, out: b}, &end{in: b, out: a}
	ctx, stop := context.WithCancel(ctx)
	inv := &fakeInvocation{end: gw, done: make(chan struct{}), stop: stop}
	s.mu.Lock()
	s.live++
	s.mu.Unlock()
	// Stopping an instance closes its conns, which wakes it wherever it blocks.
	unwatch := context.AfterFunc(ctx, func() { theirs.Close() })
	go func() {
		err := fn(ctx, theirs)
		unwatch()
		defer stop()
		theirs.Close()
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("function %q stopped: %w", name, ctx.Err())
		}
		inv.err = err
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
		close(inv.done)
	}()
	return inv, nil
}

func (s *fakeSpawner) liveInstances() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// readReq reads the request the gateway wrote on conn 1.
func readReq(conn io.Reader) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(conn))
}

// reply is a function that reads the request head and answers with raw.
func reply(raw string) fakeFunc {
	return func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		_, err := io.WriteString(conn, raw)
		return err
	}
}

// logBuffer is a log writer tests can read while the server writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testProject declares the functions named in sp and the given files blocks.
func testProject(sp *fakeSpawner, files ...*config.Files) *config.Project {
	p := &config.Project{Files: files}
	for name := range sp.funcs {
		p.Functions = append(p.Functions, &config.Function{Name: name})
	}
	return p
}

// testGateway is a gateway under test, served by its own ListenAndServe on
// loopback: front end and net/http both.
type testGateway struct {
	*HTTP
	addr string
	stop context.CancelFunc
	done <-chan error
	sp   *fakeSpawner
	log  *logBuffer
}

// newTestGateway serves gw on loopback. Its cleanup (or close) waits for every
// handler and then checks that no instance outlived its request.
func newTestGateway(t *testing.T, gw *config.Gateway, sp *fakeSpawner, files ...*config.Files) *testGateway {
	t.Helper()
	if gw.Type == "" {
		gw.Type = "http"
	}
	log := &logBuffer{}
	g, err := NewHTTP(gw, testProject(sp, files...), sp, NewLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	tg := &testGateway{HTTP: g, sp: sp, log: log, stop: stop}
	tg.addr, tg.done = serve(t, ctx, g)
	t.Cleanup(func() { tg.close(t) })
	return tg
}

// close stops the server, waiting for all handlers, and checks instances.
// Calling it again does nothing more.
func (tg *testGateway) close(t *testing.T) {
	t.Helper()
	if tg.stop == nil {
		return
	}
	tg.stop()
	tg.stop = nil
	if err := <-tg.done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if n := tg.sp.liveInstances(); n != 0 {
		t.Errorf("%d instances outlived their requests", n)
	}
}

// fnGateway is a gateway whose default function is "fn".
func fnGateway() *config.Gateway { return &config.Gateway{Type: "http", Function: "fn"} }

// functionGateway routes everything to one function named "fn".
func functionGateway(t *testing.T, fn fakeFunc) *testGateway {
	t.Helper()
	return newTestGateway(t, fnGateway(), &fakeSpawner{funcs: map[string]fakeFunc{"fn": fn}})
}

// requestLog is the gateway's log without what ListenAndServe itself says
// when it shuts down.
func (tg *testGateway) requestLog() string {
	var b strings.Builder
	for line := range strings.Lines(tg.log.String()) {
		if !strings.HasPrefix(line, "Shutting down ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (tg *testGateway) url(path string) string { return "http://" + tg.addr + path }

// get does a GET and returns the response with its whole body.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(body)
}
