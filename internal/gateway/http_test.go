package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/config"
	"github.com/hashicorp/hcl/v2"
)

// named is a function that answers with its own name.
func named(name string) fakeFunc {
	return reply(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name))
}

func TestRouting(t *testing.T) {
	funcs := map[string]fakeFunc{
		"api": named("api"), "v2": named("v2"), "fallback": named("fallback"), "root": named("root"),
	}
	withDefault := newTestGateway(t, &config.Gateway{
		Function: "fallback",
		Routes: []*config.Route{
			{Prefix: "/api", Function: "api"},
			{Prefix: "/api/v2/", Function: "v2"},
		},
	}, &fakeSpawner{funcs: funcs})
	withRoot := newTestGateway(t, &config.Gateway{
		Routes: []*config.Route{
			{Prefix: "/", Function: "root"},
			{Prefix: "/api/", Function: "api"},
		},
	}, &fakeSpawner{funcs: funcs})
	bare := newTestGateway(t, &config.Gateway{
		Routes: []*config.Route{{Prefix: "/api", Function: "api"}},
	}, &fakeSpawner{funcs: funcs})

	tests := []struct {
		gw   *testGateway
		path string
		want string // the function's name, or "404"
	}{
		{withDefault, "/api", "api"},
		{withDefault, "/api/", "api"},
		{withDefault, "/api/users?id=1", "api"},
		{withDefault, "/apix", "fallback"}, // segment-aware: "/api" is not "/apix"
		{withDefault, "/api/v2", "v2"},     // "/api/v2/" also serves "/api/v2"
		{withDefault, "/api/v2/x", "v2"},
		{withDefault, "/api/v2x", "api"},
		{withDefault, "/", "fallback"},
		{withDefault, "/other/page", "fallback"},
		{withRoot, "/", "root"},
		{withRoot, "/anything/at/all", "root"},
		{withRoot, "/api", "api"},
		{withRoot, "/api/x", "api"},
		{withRoot, "/apix", "root"},
		{bare, "/api/x", "api"},
		{bare, "/", "404"},
		{bare, "/nothing", "404"},
		{bare, "/apix", "404"},
	}
	for _, tt := range tests {
		resp, body := get(t, tt.gw.url(tt.path))
		got := body
		if resp.StatusCode != 200 {
			got = fmt.Sprint(resp.StatusCode)
		}
		if got != tt.want {
			t.Errorf("%s: served by %q, want %q", tt.path, got, tt.want)
		}
	}
	bare.close(t)
	if log := bare.log.String(); !strings.Contains(log, `No route matches [GET] "/nothing"`+"\nCompleted 404 Not Found in ") {
		t.Errorf("log:\n%s", log)
	}
}

func TestNewHTTPRejects(t *testing.T) {
	proj := &config.Project{
		Functions: []*config.Function{{Name: "hello"}},
		Files:     []*config.Files{{Name: "assets", Path: t.TempDir()}},
	}
	rng := hcl.Range{Filename: "embly.hcl", Start: hcl.Pos{Line: 7, Column: 3}}
	tests := []struct {
		name string
		gw   config.Gateway
		want string
	}{
		{"type", config.Gateway{Type: "tcp"}, `HTTP gateway: type is "tcp", not "http"`},
		{"unknown function", config.Gateway{Routes: []*config.Route{{Prefix: "/", Function: "helo", Range: rng}}},
			`embly.hcl:7:3: HTTP gateway: route "/" names function "helo", which is not declared`},
		{"unknown files", config.Gateway{Name: "web", Routes: []*config.Route{{Prefix: "/s", Files: "asset"}}},
			`HTTP gateway "web": route "/s" names files "asset", which are not declared`},
		{"relative prefix", config.Gateway{Routes: []*config.Route{{Prefix: "api", Function: "hello"}}},
			`route "api" must start with "/"`},
		{"no target", config.Gateway{Routes: []*config.Route{{Prefix: "/api"}}},
			"route \"/api\" needs `function` or `files`"},
		{"two targets", config.Gateway{Routes: []*config.Route{{Prefix: "/api", Function: "hello", Files: "assets"}}},
			`names both a function and files`},
		{"same paths", config.Gateway{Routes: []*config.Route{{Prefix: "/api", Function: "hello"}, {Prefix: "/api/", Files: "assets"}}},
			`routes "/api" and "/api/" serve the same paths; keep one`},
		{"unknown default", config.Gateway{Function: "nope"}, `default function "nope" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.gw.Type == "" {
				tt.gw.Type = "http"
			}
			_, err := NewHTTP(&tt.gw, proj, &fakeSpawner{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// logLine matches every line the request log may hold.
var logLines = []*regexp.Regexp{
	regexp.MustCompile(`^Started (GET|POST|HEAD) "[^"]*" for (127\.0\.0\.1|\[::1\]):\d+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$`),
	regexp.MustCompile(`^Processing by (function "function\.[a-z]+"|files "files\.[a-z]+")$`),
	regexp.MustCompile(`^Completed \d{3} [A-Za-z ]+ in \d+(\.\d+)?(ns|µs|ms|s)$`),
}

func TestLogFormat(t *testing.T) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"hello": named("hi")}}
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a")
	tg := newTestGateway(t, &config.Gateway{Routes: []*config.Route{
		{Prefix: "/", Function: "hello"},
		{Prefix: "/static", Files: "assets"},
	}}, sp, &config.Files{Name: "assets", Path: dir})
	get(t, tg.url("/?a=1&b=two"))
	get(t, tg.url("/static/a.txt"))
	tg.close(t)

	want := regexp.MustCompile(`^` +
		`Started GET "/\?a=1&b=two" for 127\.0\.0\.1:\d+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\n` +
		`Processing by function "function\.hello"\n` +
		`Completed 200 OK in \d+(\.\d+)?(ns|µs|ms|s)\n` +
		`Started GET "/static/a\.txt" for 127\.0\.0\.1:\d+ at [-0-9]{10} [:0-9]{8} [+-]\d{4}\n` +
		`Processing by files "files\.assets"\n` +
		`Completed 200 OK in \d+(\.\d+)?(ns|µs|ms|s)\n$`)
	if log := tg.requestLog(); !want.MatchString(log) {
		t.Errorf("log does not match %s:\n%s", want, log)
	}
	// The timestamp is local time in the seed's layout.
	stamp := regexp.MustCompile(`at (\S+ \S+ \S+)\n`).FindStringSubmatch(tg.log.String())
	if ts, err := time.Parse(logTimeFormat, stamp[1]); err != nil || time.Since(ts) > time.Hour {
		t.Errorf("timestamp %q: %v", stamp[1], err)
	}
}

// TestLogConcurrent: lines of concurrent requests never mix.
func TestLogConcurrent(t *testing.T) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"hello": named("hi")}}
	tg := newTestGateway(t, &config.Gateway{Function: "hello"}, sp)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := http.Get(tg.url(fmt.Sprintf("/req/%d", i)))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	tg.close(t)
	lines := strings.Split(strings.TrimSuffix(tg.requestLog(), "\n"), "\n")
	if len(lines) != 3*n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 3*n, tg.log.String())
	}
	for _, line := range lines {
		ok := false
		for _, re := range logLines {
			ok = ok || re.MatchString(line)
		}
		if !ok {
			t.Errorf("mangled line %q", line)
		}
	}
}

// serveForTest serves g on a loopback port until the test ends, and
// returns its address.
func serveForTest(t *testing.T, g *HTTP) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := serve(t, ctx, g)
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return addr
}

// serve runs g.ListenAndServe on a loopback port and returns its address and
// the channel of its result.
func serve(t *testing.T, ctx context.Context, g *HTTP) (string, <-chan error) {
	t.Helper()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- g.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a.String() })
	}()
	select {
	case addr := <-addrc:
		return addr, done
	case err := <-done:
		t.Fatal(err)
	case <-time.After(failsafe):
		t.Fatal("gateway never became ready")
	}
	panic("unreachable")
}

func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"slow": func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		close(started)
		<-release
		_, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfinished")
		return err
	}}}
	log := &logBuffer{}
	g, err := NewHTTP(&config.Gateway{Type: "http", Function: "slow"}, testProject(sp), sp, NewLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	shuttingDown := make(chan struct{})
	g.testHookShutdown = func() { close(shuttingDown) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, g)

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	waitFor(t, started, "the request to reach the function")
	cancel()
	waitFor(t, shuttingDown, "shutdown to begin")
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the gateway still accepts connections while shutting down")
	}
	close(release)
	if r := waitFor(t, got, "the in-flight response"); r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := waitFor(t, done, "ListenAndServe to return"); err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if n := sp.liveInstances(); n != 0 {
		t.Errorf("%d instances left", n)
	}
	if !strings.Contains(log.String(), "Shutting down HTTP gateway on 127.0.0.1:") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestShutdownTimeout: a request that outlasts the grace period is cut, its
// instance stopped, and ListenAndServe returns once it has ended.
func TestShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"stream": func(ctx context.Context, conn *end) error {
		if _, err := readReq(conn); err != nil {
			return err
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntick\r\n")
		close(started)
		<-ctx.Done() // streams forever
		return ctx.Err()
	}}}
	log := &logBuffer{}
	g, err := NewHTTP(&config.Gateway{Type: "http", Function: "stream"}, testProject(sp), sp, NewLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	g.ShutdownTimeout = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, g)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitFor(t, started, "the stream to start")
	cancel()
	if err := waitFor(t, done, "ListenAndServe to return"); err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if n := sp.liveInstances(); n != 0 {
		t.Errorf("%d instances left after shutdown", n)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the cut stream looked complete")
	}
	if !strings.Contains(log.String(), "requests still running after 20ms; closing their connections") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"hello": named("hi")}}
	for _, tt := range []struct{ gwName, addr, prefix string }{
		{"", ln.Addr().String(), "HTTP gateway"},
		{"api", "127.0.0.1", `HTTP gateway "api"`}, // port from the config
	} {
		g, err := NewHTTP(&config.Gateway{Name: tt.gwName, Type: "http", Port: port, Function: "hello"}, testProject(sp), sp, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = g.ListenAndServe(context.Background(), tt.addr, nil)
		want := fmt.Sprintf("%s: port %d is already in use; change `port` in embly.hcl or stop the other process", tt.prefix, port)
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
		var le *ListenError
		if !errors.As(err, &le) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%v is not a ListenError wrapping EADDRINUSE", err)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ":8080"},
		{":", ":8080"},
		{"127.0.0.1", "127.0.0.1:8080"},
		{"127.0.0.1:", "127.0.0.1:8080"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"127.0.0.1:0", "127.0.0.1:0"},
		{"::1", "[::1]:8080"},
		{"[::1]", "[::1]:8080"},
		{"[::1]:9000", "[::1]:9000"},
		{"localhost", "localhost:8080"},
	} {
		if got := listenAddr(tt.in, 8080); got != tt.want {
			t.Errorf("listenAddr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestKeepAlive: requests with and without bodies share a connection, and
// none of them disturbs the next (a stray read deadline would cancel the
// context of every later request on the connection).
func TestKeepAlive(t *testing.T) {
	tg := functionGateway(t, echo)
	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused++
		}
	}}
	for i := range 30 {
		var body io.Reader
		method := "GET"
		if i%2 == 1 {
			method, body = "POST", strings.NewReader(strings.Repeat("x", i*100))
		}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, tg.url("/"), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (body != nil && len(b) != i*100) {
			t.Fatalf("request %d: %d, %d bytes", i, resp.StatusCode, len(b))
		}
	}
	if reused < 25 {
		t.Errorf("only %d of 30 requests reused a connection", reused)
	}
	tg.close(t)
	if log := tg.log.String(); strings.Contains(log, "Error") {
		t.Errorf("log:\n%s", log)
	}
}
