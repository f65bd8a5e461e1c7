package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/embly/embly/internal/config"
	"github.com/hashicorp/hcl/v2"
)

// Defaults of the HTTP fields NewHTTP sets. Each says why.
const (
	// DefaultShutdownTimeout bounds a graceful shutdown: long enough for
	// ordinary requests to finish, short enough that Ctrl-C feels responsive
	// even while a client holds a streaming response open.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultReadHeaderTimeout stops slowloris clients from holding a
	// connection by trickling headers. There is no whole-request or write
	// timeout: uploads and streamed responses may legitimately take long, and
	// a function's running time is bounded by its CPU budget instead.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive connections nobody uses.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes is 64 KiB, not net/http's 1 MiB: the headers are
	// copied into the function's conn and parsed by guest code in a small
	// linear memory, and real clients stay far below it (nginx allows 32 KiB).
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultExitTimeout is how long an instance may keep running once its
	// response is complete (or rejected) before the gateway stops it, so that
	// no instance outlives its request by more than this.
	DefaultExitTimeout = 5 * time.Second
	// DefaultMaxBody is the largest request body a function route accepts
	// when its route sets no max_body: 10 MiB, enough for forms and
	// uploads of documents, small enough that a client cannot keep a
	// function reading for long. Larger bodies get 413.
	DefaultMaxBody = 10 << 20
	// RetryAfter is what a 503 for a function at its max_concurrency tells
	// clients to wait, in seconds.
	RetryAfter = "1"
	// DefaultFilesCacheControl makes browsers and proxies revalidate static
	// files on every use. Revalidation is one cheap 304 thanks to the ETag, and
	// files change under `embly dev` all the time; a stale asset costs more
	// than a round trip.
	DefaultFilesCacheControl = "no-cache"
)

// maxResponseHeaderBytes bounds the header block a function may write before
// its body, so a runaway function cannot make the host buffer without limit.
const maxResponseHeaderBytes = 1 << 20

// HTTP is one HTTP gateway: a config.Gateway of type "http", its routes
// resolved against the project. It is an http.Handler factory (Handler) and a
// server (ListenAndServe). Set the exported fields, if at all, before serving.
type HTTP struct {
	// ShutdownTimeout bounds how long ListenAndServe waits for in-flight
	// requests once its context is done; then it closes their connections
	// (which stops their instances).
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes configure the
	// http.Server that ListenAndServe runs.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// ExitTimeout is how long an instance may keep running after its response
	// is complete, or after its output was rejected, before it is stopped.
	ExitTimeout time.Duration
	// FilesCacheControl is the Cache-Control header of files routes.
	FilesCacheControl string

	name     string // "HTTP gateway" or `HTTP gateway "api"`, for messages
	port     int
	routes   []*route // longest base first
	fallback *route   // the gateway's default function, or nil
	spawner  Spawner
	log      *Logger

	// testHookShutdown, when set, is called once shutdown has closed the
	// listener and is waiting for requests in flight.
	testHookShutdown func()
}

// route is one way a request can be served: a route block of the gateway, or
// its default function.
type route struct {
	// base is the prefix without trailing slashes: "/api" for "/api/", "" for "/".
	base string
	// function is the function's name for function routes; files is set for
	// files routes.
	function string
	files    *config.Files
	// subject names the target in the log: `function "function.hello"`.
	subject string
	// timeout is the route's wall-clock limit (0: none); maxBody the
	// largest request body it accepts.
	timeout time.Duration
	maxBody int64
}

// matches reports whether the route serves path, respecting segments: "/api"
// serves "/api" and "/api/x" but not "/apix".
func (rt *route) matches(path string) bool {
	if !strings.HasPrefix(path, rt.base) {
		return false
	}
	return len(path) == len(rt.base) || path[len(rt.base)] == '/'
}

// NewHTTP resolves gw's routes against proj. Function routes are served by
// instances that sp starts; requests are logged to log (nil discards them).
func NewHTTP(gw *config.Gateway, proj *config.Project, sp Spawner, log *Logger) (*HTTP, error) {
	if gw == nil || proj == nil {
		return nil, errors.New("HTTP gateway: no gateway or project given")
	}
	if log == nil {
		log = NewLogger(nil)
	}
	g := &HTTP{
		ShutdownTimeout:   DefaultShutdownTimeout,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ExitTimeout:       DefaultExitTimeout,
		FilesCacheControl: DefaultFilesCacheControl,
		name:              "HTTP gateway",
		port:              gw.Port,
		spawner:           sp,
		log:               log,
	}
	if gw.Name != "" {
		g.name = fmt.Sprintf("HTTP gateway %q", gw.Name)
	}
	if gw.Type != "http" {
		return nil, fmt.Errorf("%s%s: type is %q, not \"http\"", at(gw.Range), g.name, gw.Type)
	}
	functions := map[string]bool{}
	for _, f := range proj.Functions {
		functions[f.Name] = true
	}
	files := map[string]*config.Files{}
	for _, f := range proj.Files {
		files[f.Name] = f
	}
	needSpawner := false
	seen := map[string]string{}
	for _, r := range gw.Routes {
		rt, err := g.newRoute(r, functions, files)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[rt.base]; ok {
			return nil, fmt.Errorf("%s%s: routes %q and %q serve the same paths; keep one", at(r.Range), g.name, prev, r.Prefix)
		}
		seen[rt.base] = r.Prefix
		needSpawner = needSpawner || rt.function != ""
		g.routes = append(g.routes, rt)
	}
	sort.SliceStable(g.routes, func(i, j int) bool { return len(g.routes[i].base) > len(g.routes[j].base) })
	if gw.Function != "" {
		if !functions[gw.Function] {
			return nil, fmt.Errorf("%s%s: default function %q is not declared; add a `function %q` block", at(gw.Range), g.name, gw.Function, gw.Function)
		}
		g.fallback = functionRoute("", gw.Function)
		needSpawner = true
	}
	if needSpawner && sp == nil {
		return nil, fmt.Errorf("%s: function routes need a Spawner", g.name)
	}
	return g, nil
}

func (g *HTTP) newRoute(r *config.Route, functions map[string]bool, files map[string]*config.Files) (*route, error) {
	if !strings.HasPrefix(r.Prefix, "/") {
		return nil, fmt.Errorf("%s%s: route %q must start with \"/\"", at(r.Range), g.name, r.Prefix)
	}
	base := strings.TrimRight(r.Prefix, "/")
	switch {
	case r.Function != "" && r.Files != "":
		return nil, fmt.Errorf("%s%s: route %q names both a function and files; keep one", at(r.Range), g.name, r.Prefix)
	case r.Function != "":
		if !functions[r.Function] {
			return nil, fmt.Errorf("%s%s: route %q names function %q, which is not declared", at(r.Range), g.name, r.Prefix, r.Function)
		}
		rt := functionRoute(base, r.Function)
		rt.timeout = r.Timeout
		if r.MaxBody > 0 {
			rt.maxBody = r.MaxBody
		}
		return rt, nil
	case r.Files != "":
		f := files[r.Files]
		if f == nil {
			return nil, fmt.Errorf("%s%s: route %q names files %q, which are not declared", at(r.Range), g.name, r.Prefix, r.Files)
		}
		return &route{base: base, files: f, subject: fmt.Sprintf("files %q", f.Ref())}, nil
	}
	return nil, fmt.Errorf("%s%s: route %q needs `function` or `files`", at(r.Range), g.name, r.Prefix)
}

func functionRoute(base, name string) *route {
	ref := (&config.Function{Name: name}).Ref()
	return &route{base: base, function: name, subject: fmt.Sprintf("function %q", ref), maxBody: DefaultMaxBody}
}

// at formats a source position as a message prefix, or "" when unknown.
func at(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d: ", r.Filename, r.Start.Line, r.Start.Column)
}

// match finds the route that serves path: the longest matching prefix, else
// the default function, else nil.
func (g *HTTP) match(path string) *route {
	for _, rt := range g.routes {
		if rt.matches(path) {
			return rt
		}
	}
	return g.fallback
}

// Handler returns the gateway as an http.Handler, for ListenAndServe and for
// tests that run it under httptest.
func (g *HTTP) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

func (g *HTTP) serveHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.sw.ResponseWriter = w
	x.rl = requestLog{log: g.log, start: time.Now()}
	g.serve(x, r)
	// Not deferred: after a panic, x may still be in use (see exchange).
	x.reset()
	exchanges.Put(x)
}

func (g *HTTP) serve(x *exchange, r *http.Request) {
	// Deferred so that it also runs when an aborted response panics with
	// http.ErrAbortHandler.
	defer x.completed()

	rt := g.match(r.URL.Path)
	switch {
	case rt == nil:
		x.rl.begin(r, fmt.Sprintf("No route matches [%s] %q", r.Method, r.URL.Path), "")
		writeError(&x.sw, http.StatusNotFound)
	case rt.files != nil:
		x.rl.processing(r, rt.subject)
		g.serveFiles(&x.sw, r, rt, &x.rl)
	default:
		x.rl.processing(r, rt.subject)
		g.serveFunction(x, r, rt)
	}
}

// writeError answers with a short generic body: reasons go to the log only.
func writeError(w http.ResponseWriter, code int) {
	http.Error(w, fmt.Sprintf("%d %s", code, http.StatusText(code)), code)
}

// statusWriter remembers the status code the handler sent, for the log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps net/http's sendfile path for static files.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach Flush and the deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *statusWriter) wroteHeader() bool { return w.code != 0 }

// ListenAndServe serves the gateway on addr until ctx is done, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish for up to
// ShutdownTimeout, then closes what is left and waits for those handlers (and
// so their instances) to end. addr is host:port; when the port is missing or
// empty ("127.0.0.1", "127.0.0.1:", ":") the gateway's configured port is
// used. ready, when not nil, is called with the bound address once the
// gateway accepts connections. It returns nil after a shutdown.
func (g *HTTP) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	addr = listenAddr(addr, g.port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return g.listenError(addr, err)
	}
	var inflight inflight
	handler := g.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.add()
			defer inflight.done()
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: g.ReadHeaderTimeout,
		IdleTimeout:       g.IdleTimeout,
		MaxHeaderBytes:    g.MaxHeaderBytes,
		ErrorLog:          log.New(g.log, g.name+": ", 0),
	}
	if g.testHookShutdown != nil {
		srv.RegisterOnShutdown(g.testHookShutdown)
	}
	// The front end accepts every connection and serves plain requests
	// itself; net/http serves the connections it hands over (frontend.go).
	fe := newFrontEnd(g, ln, srv.Handler, srv.ErrorLog)
	go func() { _ = srv.Serve(fe.handoff) }()
	served := make(chan error, 1)
	go func() { served <- fe.serve() }()
	if ready != nil {
		ready(ln.Addr())
	}
	var failed error
	select {
	case err := <-served:
		failed = fmt.Errorf("%s: serving on %s: %w", g.name, ln.Addr(), err)
	case <-ctx.Done():
		g.log.Printf("Shutting down %s on %s; waiting up to %s for requests in flight", g.name, ln.Addr(), g.ShutdownTimeout)
	}

	sctx, cancel := context.WithTimeout(context.Background(), g.ShutdownTimeout)
	defer cancel()
	fe.shutdown()
	slowHTTP := srv.Shutdown(sctx) != nil
	// Shutdown closes the listeners net/http serves, but one it had not
	// started serving yet is not among them; closed, it refuses
	// connections the front end would still hand over.
	fe.handoff.Close()
	if slowFast := fe.wait(sctx); slowHTTP || slowFast {
		g.log.Printf("%s: requests still running after %s; closing their connections", g.name, g.ShutdownTimeout)
	}
	if slowHTTP {
		_ = srv.Close()
	}
	if failed == nil {
		<-served
	}
	inflight.wait()
	return failed
}

// inflight counts running handlers, so ListenAndServe can return only after
// the last one (and its instance) has ended, even after a forced close.
// A sync.WaitGroup does not fit: a handler may start while we wait.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.zero != nil {
		f.zero.Broadcast()
	}
	f.mu.Unlock()
}

func (f *inflight) wait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.zero == nil {
		f.zero = sync.NewCond(&f.mu)
	}
	for f.n > 0 {
		f.zero.Wait()
	}
}

// listenAddr fills in the gateway's port when addr has none.
func listenAddr(addr string, port int) string {
	p := strconv.Itoa(port)
	if host, ap, err := net.SplitHostPort(addr); err == nil {
		if ap == "" {
			ap = p
		}
		return net.JoinHostPort(host, ap)
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), p)
}

// ListenError is returned by ListenAndServe when the gateway cannot bind its
// address. Its message says what to do; Unwrap gives the system error.
type ListenError struct {
	Msg string
	Err error
}

func (e *ListenError) Error() string { return e.Msg }
func (e *ListenError) Unwrap() error { return e.Err }

func (g *HTTP) listenError(addr string, err error) error {
	_, port, _ := net.SplitHostPort(addr)
	var msg string
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		msg = fmt.Sprintf("%s: port %s is already in use; change `port` in embly.hcl or stop the other process", g.name, port)
	case errors.Is(err, syscall.EACCES):
		msg = fmt.Sprintf("%s: not allowed to listen on port %s (ports below 1024 need privileges); change `port` in embly.hcl", g.name, port)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		msg = fmt.Sprintf("%s: cannot listen on %s: the address is not on this machine", g.name, addr)
	default:
		msg = fmt.Sprintf("%s: cannot listen on %s: %v", g.name, addr, err)
	}
	return &ListenError{Msg: msg, Err: err}
}
