package outbound

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
)

// syncBuffer is a log the service writes from its goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// guest is the function's side of one spawn of embly/http, served by the
// service on its own goroutine as the runtime would.
type guest struct {
	*bus.Conn
	log    *syncBuffer
	cancel context.CancelFunc // ends the "instance"
	mb     *bus.Mailbox
	done   chan struct{} // closed when Serve has returned
}

func spawn(t *testing.T, s *Service, allowed ...string) *guest {
	t.Helper()
	log := &syncBuffer{}
	h, err := s.Open(Target, service.Caller{Function: "fn", AllowedHosts: allowed, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mine, theirs := bus.NewPair(4 << 10)
	g := &guest{log: log, cancel: cancel, mb: bus.NewMailbox(), done: make(chan struct{})}
	id, _ := g.mb.Add(mine)
	g.Conn = bus.NewConn(ctx, g.mb, id)
	smb := bus.NewMailbox()
	sid, _ := smb.Add(theirs)
	go func() {
		defer close(g.done)
		defer smb.Close()
		h.Serve(ctx, bus.NewConn(ctx, smb, sid))
	}()
	t.Cleanup(func() {
		g.end()
		g.wait(t)
	})
	return g
}

// end is the instance ending: its conns close and its context ends.
func (g *guest) end() {
	g.mb.Close()
	g.cancel()
}

func (g *guest) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not return")
	}
}

// do sends raw, closes the guest's side and parses the response.
func (g *guest) do(t *testing.T, raw string) *http.Response {
	t.Helper()
	go func() {
		io.WriteString(g, raw)
		g.CloseWrite()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(g), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return resp
}

// roundTrip sends raw and returns the whole response.
func (g *guest) roundTrip(t *testing.T, raw string) (*http.Response, string) {
	t.Helper()
	resp := g.do(t, raw)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, string(body)
}

// upstream is a test server on 127.0.0.1 that counts connections.
type upstream struct {
	*httptest.Server
	conns atomic.Int32
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{Server: httptest.NewUnstartedServer(h)}
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// origin is http://127.0.0.1:PORT.
func (u *upstream) origin() string { return u.URL }

func (u *upstream) port() string {
	_, port, _ := net.SplitHostPort(u.Listener.Addr().String())
	return port
}

func get(url string) string { return "GET " + url + " HTTP/1.1\r\nHost: ignored\r\n\r\n" }

func mustHostError(t *testing.T, resp *http.Response, body string, status int, code string, msgs ...string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get(ErrorHeader) != code {
		t.Fatalf("got %d %s=%q, want %d %s; body %q", resp.StatusCode, ErrorHeader, resp.Header.Get(ErrorHeader), status, code, body)
	}
	if !strings.HasPrefix(body, Target+": ") {
		t.Errorf("body %q does not start with %q", body, Target+": ")
	}
	for _, m := range msgs {
		if !strings.Contains(body, m) {
			t.Errorf("body %q does not say %q", body, m)
		}
	}
}

func TestAllowedRequest(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Embly-Error", "spoofed")
		w.Header().Set("X-Seen", r.Method+" "+r.Host+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Custom"))
		fmt.Fprintf(w, "got %d bytes", len(body))
	})
	s := New(Options{})
	defer s.Close()
	g := spawn(t, s, up.origin())
	payload := strings.Repeat("x", 100<<10) // many windows
	resp, body := g.roundTrip(t, "POST "+up.URL+"/echo?q=1 HTTP/1.1\r\nHost: elsewhere.example\r\nX-Custom: yes\r\n"+
		"Content-Length: "+fmt.Sprint(len(payload))+"\r\n\r\n"+payload)
	if resp.StatusCode != 200 || body != "got 102400 bytes" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if want := "POST " + up.Listener.Addr().String() + " /echo?q=1 yes"; resp.Header.Get("X-Seen") != want {
		t.Errorf("upstream saw %q, want %q (the URL's host wins over the Host header)", resp.Header.Get("X-Seen"), want)
	}
	if resp.Header.Get(ErrorHeader) != "" {
		t.Error("the upstream's X-Embly-Error header was relayed")
	}
	g.wait(t)
}

// The response reaches the function while the upstream is still sending it.
func TestResponseStreams(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	g := spawn(t, New(Options{}), up.origin())
	resp := g.do(t, get(up.URL+"/"))
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("a body of unknown length is relayed with %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v", line, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

func TestRefused(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached") })
	other := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached") })
	rebinding := resolverFunc(func(host string) []netip.Addr {
		switch host {
		case "api.example.org":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		case "metadata.example.org":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		}
		return nil
	})
	s := New(Options{Resolver: rebinding})
	defer s.Close()
	allowed := []string{up.origin(), "http://*.example.org:*", "http://*:" + other.port()}
	for _, tc := range []struct {
		name, url string
		msgs      []string
	}{
		{"not listed", "https://api.example.com/",
			[]string{`https://api.example.com is not in allowed_hosts of function "fn"; add "https://api.example.com" to reach it`}},
		{"scheme", "https://" + up.Listener.Addr().String() + "/", []string{"is not in allowed_hosts"}},
		{"loopback, other port", other.URL + "/", []string{"is not in allowed_hosts"}},
		{"localhost not listed", "http://localhost:" + other.port() + "/", []string{"is not in allowed_hosts"}},
		{"rebinding to loopback", "http://api.example.org:" + up.port() + "/",
			[]string{"api.example.org resolves to 127.0.0.1, a loopback address"}},
		{"rebinding to metadata", "http://metadata.example.org/latest/",
			[]string{"169.254.169.254, a link-local address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := spawn(t, s, allowed...)
			resp, body := g.roundTrip(t, get(tc.url))
			mustHostError(t, resp, body, http.StatusForbidden, CodeNotAllowed, tc.msgs...)
			if !strings.Contains(g.log.String(), "embly/http: GET "+tc.url+" refused: ") {
				t.Errorf("log = %q", g.log.String())
			}
		})
	}
	if n := up.conns.Load() + other.conns.Load(); n != 0 {
		t.Errorf("refused requests made %d connections", n)
	}
}

type resolverFunc func(host string) []netip.Addr

func (f resolverFunc) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips := f(host); ips != nil {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestLocalhostListed(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached") })
	s := New(Options{Resolver: resolverFunc(func(string) []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	})})
	defer s.Close()
	g := spawn(t, s, "http://localhost:"+up.port())
	if resp, body := g.roundTrip(t, get("http://localhost:"+up.port()+"/")); resp.StatusCode != 200 || body != "reached" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestBadRequests(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	for _, tc := range []struct{ name, raw, msg string }{
		{"not HTTP", "hello\r\n\r\n", "the request is not valid HTTP/1.1"},
		{"origin form", "GET /path HTTP/1.1\r\nHost: api.example.com\r\n\r\n", `must be an absolute URL, like GET https://api.example.com/path HTTP/1.1; got "/path"`},
		{"scheme", "GET ftp://files.example.com/x HTTP/1.1\r\n\r\n", `scheme "ftp" is not supported`},
		{"connect", "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n", "CONNECT is not supported"},
		{"upgrade", "GET http://api.example.com/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "protocol upgrades"},
		{"empty", "", "not valid HTTP/1.1: EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := spawn(t, s, "http://api.example.com")
			resp, body := g.roundTrip(t, tc.raw)
			mustHostError(t, resp, body, http.StatusBadRequest, CodeBadRequest, tc.msg)
		})
	}
}

func TestOpen(t *testing.T) {
	s := New(Options{})
	log := &syncBuffer{}
	if _, err := s.Open(Target, service.Caller{Function: "fn", Log: log}); !errors.Is(err, service.ErrRefused) {
		t.Errorf("no allowed_hosts: %v, want ErrRefused", err)
	}
	if !strings.Contains(log.String(), `function "fn" has no allowed_hosts`) {
		t.Errorf("log = %q", log)
	}
	if _, err := s.Open(Target+"/x", service.Caller{Function: "fn", AllowedHosts: []string{"https://a.b"}, Log: log}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("sub-target: %v, want ErrNotFound", err)
	}
	if _, err := s.Open(Target, service.Caller{Function: "fn", AllowedHosts: []string{"ftp://a.b"}, Log: log}); !errors.Is(err, service.ErrRefused) {
		t.Errorf("bad entry: %v, want ErrRefused", err)
	}
}

func TestUpstreamFailures(t *testing.T) {
	gone := newUpstream(t, nil)
	gone.Close() // nobody listens on its port any more
	t.Run("connection refused", func(t *testing.T) {
		g := spawn(t, New(Options{}), gone.origin())
		resp, body := g.roundTrip(t, get(gone.URL+"/"))
		mustHostError(t, resp, body, http.StatusBadGateway, CodeUnreachable, gone.origin(), "connection refused")
	})
	t.Run("no such host", func(t *testing.T) {
		s := New(Options{Resolver: resolverFunc(func(string) []netip.Addr { return nil })})
		g := spawn(t, s, "http://nowhere.example")
		resp, body := g.roundTrip(t, get("http://nowhere.example/"))
		mustHostError(t, resp, body, http.StatusBadGateway, CodeUnreachable, "no such host")
	})
	t.Run("header timeout", func(t *testing.T) {
		stall := make(chan struct{})
		defer close(stall)
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-stall })
		g := spawn(t, New(Options{HeaderTimeout: 50 * time.Millisecond}), up.origin())
		resp, body := g.roundTrip(t, get(up.URL+"/"))
		mustHostError(t, resp, body, http.StatusGatewayTimeout, CodeTimeout, "did not answer in time")
	})
}

func TestResponseLimit(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", "20")
		}
		io.WriteString(w, strings.Repeat("y", 20))
		w.(http.Flusher).Flush() // no Content-Length: chunked
	})
	s := New(Options{MaxResponseBytes: 10})
	defer s.Close()
	t.Run("declared", func(t *testing.T) {
		g := spawn(t, s, up.origin())
		resp, body := g.roundTrip(t, get(up.URL+"/sized"))
		mustHostError(t, resp, body, http.StatusBadGateway, CodeTooLarge, "is 20 bytes, more than the limit of 10")
	})
	t.Run("streamed", func(t *testing.T) {
		g := spawn(t, s, up.origin())
		resp := g.do(t, get(up.URL+"/chunked"))
		body, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("body %q, err %v; want it cut short with an error", body, err)
		}
		g.wait(t)
		if !strings.Contains(g.log.String(), "response cut short: the response body passed the size limit") {
			t.Errorf("log = %q", g.log.String())
		}
	})
	t.Run("exactly at the limit", func(t *testing.T) {
		g := spawn(t, New(Options{MaxResponseBytes: 20}), up.origin())
		resp, body := g.roundTrip(t, get(up.URL+"/chunked"))
		if resp.StatusCode != 200 || len(body) != 20 {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "some")
		w.(http.Flusher).Flush()
		<-stall
	})
	g := spawn(t, New(Options{IdleTimeout: 50 * time.Millisecond}), up.origin())
	resp := g.do(t, get(up.URL+"/"))
	body, err := io.ReadAll(resp.Body)
	if string(body) != "some" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q, err %v; want \"some\" then an error", body, err)
	}
	g.wait(t)
	if !strings.Contains(g.log.String(), "the upstream sent nothing for 50ms") {
		t.Errorf("log = %q", g.log.String())
	}
}

// A function that ends in the middle of a response leaves nothing behind:
// the service returns and the upstream connection is closed.
func TestGuestEndsEarly(t *testing.T) {
	upstreamDone := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		chunk := []byte(strings.Repeat("z", 1024))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			default:
			}
		}
	})
	g := spawn(t, New(Options{}), up.origin())
	resp := g.do(t, get(up.URL+"/endless"))
	if _, err := io.ReadFull(resp.Body, make([]byte, 10<<10)); err != nil {
		t.Fatal(err)
	}
	g.end()
	g.wait(t)
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream still streams to a function that ended")
	}
}

// An upstream may answer before it reads the request body; the function
// still sends its whole body first, and must not stay blocked on it.
func TestEarlyResponse(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too big", http.StatusRequestEntityTooLarge)
	})
	g := spawn(t, New(Options{}), up.origin())
	payload := strings.Repeat("x", 4<<20)
	resp, body := g.roundTrip(t, "PUT "+up.URL+"/ HTTP/1.1\r\nContent-Length: "+fmt.Sprint(len(payload))+"\r\n\r\n"+payload)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too big\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	g.wait(t)
}

func TestHead(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
	})
	g := spawn(t, New(Options{}), up.origin())
	go func() {
		io.WriteString(g, "HEAD "+up.URL+"/ HTTP/1.1\r\n\r\n")
		g.CloseWrite()
	}()
	req, _ := http.NewRequest("HEAD", up.URL, nil)
	resp, err := http.ReadResponse(bufio.NewReader(g), req)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 1234 {
		t.Fatalf("got %v, %v", resp, err)
	}
	if rest, _ := io.ReadAll(g); len(rest) != 0 {
		t.Errorf("a body after a HEAD response: %q", rest)
	}
}

// An https upstream that speaks HTTP/2 still reaches the function as
// HTTP/1.1.
func TestHTTPS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "over %s", r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	s := New(Options{TLSConfig: up.Client().Transport.(*http.Transport).TLSClientConfig})
	defer s.Close()
	g := spawn(t, s, up.URL)
	resp, body := g.roundTrip(t, get(up.URL+"/"))
	if resp.StatusCode != 200 || body != "over HTTP/2.0" || resp.Proto != "HTTP/1.1" {
		t.Fatalf("got %s %d %q", resp.Proto, resp.StatusCode, body)
	}
}
