// Package outbound is the embly/http host service: outbound HTTP for
// functions, limited to the hosts each function lists in allowed_hosts.
//
// A function spawns "embly/http", writes one raw HTTP/1.1 request whose
// target is an absolute URL (GET https://api.example.com/v1 HTTP/1.1),
// closes its write side, and reads back one raw HTTP/1.1 response, streamed
// as it arrives. Whatever the host refuses or fails at, it answers with a
// response of its own carrying an X-Embly-Error header (docs/abi.md).
package outbound

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
)

// Target is the spawn target of this service.
const Target = "embly/http"

// ErrorHeader marks a response the host wrote itself; its value is one of
// the Code* constants. The header is removed from upstream responses, so
// its presence always means the host.
const ErrorHeader = "X-Embly-Error"

// The values of ErrorHeader.
const (
	// CodeBadRequest (400): the function's request is malformed.
	CodeBadRequest = "bad-request"
	// CodeNotAllowed (403): the URL or the address it resolves to is not
	// allowed for the function.
	CodeNotAllowed = "not-allowed"
	// CodeUnreachable (502): DNS, connection or TLS failure, or an invalid
	// response from upstream.
	CodeUnreachable = "unreachable"
	// CodeTooLarge (502): the response declares more than MaxResponseBytes.
	CodeTooLarge = "too-large"
	// CodeTimeout (504): connecting or waiting for the response header took
	// too long.
	CodeTimeout = "timeout"
)

// Defaults for Options fields left zero; docs/abi.md explains each.
const (
	// DefaultConnectTimeout bounds resolving, connecting and the TLS
	// handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHeaderTimeout bounds the wait for the response header once the
	// request is sent.
	DefaultHeaderTimeout = 30 * time.Second
	// DefaultIdleTimeout bounds the upstream's silence while the body
	// streams. There is no bound on the whole exchange: a stream may last as
	// long as the instance does.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxResponseBytes bounds a response body.
	DefaultMaxResponseBytes = 64 << 20
)

// Options configure the service. The zero value is usable.
type Options struct {
	ConnectTimeout time.Duration
	HeaderTimeout  time.Duration
	IdleTimeout    time.Duration
	// MaxResponseBytes bounds the body of one response; < 0 is no bound.
	MaxResponseBytes int64
	// Resolver looks up host names; nil is net.DefaultResolver.
	Resolver Resolver
	// TLSConfig is the client TLS configuration (tests set their roots
	// here); nil is the system's.
	TLSConfig *tls.Config
}

// Service is embly/http. One Service serves every function of a runtime;
// connections to upstreams are pooled across them.
type Service struct {
	opts      Options
	transport *http.Transport
}

// New returns the service.
func New(opts Options) *Service {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.HeaderTimeout <= 0 {
		opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	d := &dialer{resolver: opts.Resolver, timeout: opts.ConnectTimeout}
	return &Service{opts: opts, transport: &http.Transport{
		// Never through an environment's proxy: the address checks must
		// apply to the upstream itself.
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       opts.TLSConfig,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// The function sees the body as the upstream sent it: compressed
		// only if the function asked for it with Accept-Encoding, and then
		// it decodes it itself.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
		MaxIdleConns:       100,
		IdleConnTimeout:    90 * time.Second,
	}}
}

// Close closes idle upstream connections.
func (s *Service) Close() { s.transport.CloseIdleConnections() }

// Open implements service.Service. A function without allowed_hosts may not
// spawn embly/http at all (EACCES).
func (s *Service) Open(target string, c service.Caller) (service.Handler, error) {
	if target != Target {
		return nil, service.ErrNotFound
	}
	if len(c.AllowedHosts) == 0 {
		fmt.Fprintf(c.Log, "%s refused: function %q has no allowed_hosts; list what it may reach in embly.hcl, like allowed_hosts = [\"https://api.example.com\"]\n", Target, c.Function)
		return nil, fmt.Errorf("%w: function %q has no allowed_hosts", service.ErrRefused, c.Function)
	}
	allow, err := ParseAllowList(c.AllowedHosts)
	if err != nil {
		fmt.Fprintf(c.Log, "%s refused: %v\n", Target, err)
		return nil, fmt.Errorf("%w: %v", service.ErrRefused, err)
	}
	return &exchange{s: s, caller: c, allow: allow}, nil
}

// exchange is one spawn of embly/http: one request, one response.
type exchange struct {
	s      *Service
	caller service.Caller
	allow  AllowList
}

// Serve implements service.Handler.
func (x *exchange) Serve(ctx context.Context, conn *bus.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		if ctx.Err() == nil {
			x.fail(conn, nil, http.StatusBadRequest, CodeBadRequest, "the request is not valid HTTP/1.1: %v", err)
		}
		return
	}
	body := &guestBody{r: req.Body}
	defer body.drain()
	if msg := checkRequest(req); msg != "" {
		x.fail(conn, req, http.StatusBadRequest, CodeBadRequest, "%s", msg)
		return
	}
	if !x.allow.Allows(req.URL.Scheme, req.URL.Hostname(), req.URL.Port()) {
		x.fail(conn, req, http.StatusForbidden, CodeNotAllowed, "%s is not in allowed_hosts of function %q; add %q to reach it",
			origin(req), x.caller.Function, origin(req))
		return
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req.RequestURI = ""
	req.Body = body
	if req.ContentLength == 0 && req.Body != nil && len(req.TransferEncoding) == 0 {
		req.Body = nil
	}
	resp, err := x.s.transport.RoundTrip(req.WithContext(ctx))
	if err != nil {
		x.failRoundTrip(ctx, conn, req, err)
		return
	}
	defer resp.Body.Close()
	// The upstream answered: whatever the function still sends of its body
	// is not needed, and must not keep it blocked in _write while the host
	// writes the response (a function sends its whole request before it
	// reads the response).
	go body.drain()
	if max := x.s.opts.MaxResponseBytes; max >= 0 && resp.ContentLength > max {
		x.fail(conn, req, http.StatusBadGateway, CodeTooLarge, "the response of %s is %d bytes, more than the limit of %d",
			origin(req), resp.ContentLength, max)
		return
	}
	if err := x.relay(ctx, cancel, conn, resp); err != nil && ctx.Err() == nil {
		x.logf("%s %s: response cut short: %v", req.Method, req.URL, err)
	} else if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		x.logf("%s %s: response cut short: %v", req.Method, req.URL, cause)
	}
}

// checkRequest returns why req cannot be sent, or "".
func checkRequest(req *http.Request) string {
	switch {
	case req.Method == http.MethodConnect:
		return "CONNECT is not supported"
	case !req.URL.IsAbs() || req.URL.Host == "":
		return fmt.Sprintf("the request target must be an absolute URL, like GET https://api.example.com/path HTTP/1.1; got %q", req.RequestURI)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Sprintf("scheme %q is not supported; use http or https", req.URL.Scheme)
	case req.Header.Get("Upgrade") != "":
		return "protocol upgrades (Upgrade: " + req.Header.Get("Upgrade") + ") are not supported"
	}
	return ""
}

// origin is the scheme://host[:port] of req, as an allowed_hosts entry
// would list it.
func origin(req *http.Request) string {
	return req.URL.Scheme + "://" + strings.ToLower(req.URL.Host)
}

// failRoundTrip answers a request that got no response.
func (x *exchange) failRoundTrip(ctx context.Context, conn *bus.Conn, req *http.Request, err error) {
	var addrErr *AddressError
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		// The instance ended: nobody is there to answer.
	case errors.As(err, &addrErr):
		x.fail(conn, req, http.StatusForbidden, CodeNotAllowed, "%v", addrErr)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		x.fail(conn, req, http.StatusGatewayTimeout, CodeTimeout, "%s did not answer in time: %v", origin(req), err)
	default:
		x.fail(conn, req, http.StatusBadGateway, CodeUnreachable, "%s: %v", origin(req), err)
	}
}

// relay writes resp to conn as raw HTTP/1.1, streaming the body: each read
// from upstream is written at once, and conn's window is the back-pressure
// (the host stops reading from upstream while the function does not read).
// A body of unknown length is sent chunked, so that a response cut short
// (limit, idle timeout, upstream failure) lacks its last chunk and the
// function sees an error instead of a shorter body.
func (x *exchange) relay(ctx context.Context, cancel context.CancelCauseFunc, conn *bus.Conn, resp *http.Response) error {
	resp.Header.Del(ErrorHeader)
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	if resp.ContentLength < 0 && bodyAllowed(resp) {
		resp.TransferEncoding = []string{"chunked"}
	}
	idle := time.AfterFunc(time.Hour, func() {
		cancel(fmt.Errorf("the upstream sent nothing for %s", x.s.opts.IdleTimeout))
	})
	idle.Stop()
	defer idle.Stop()
	// Small writes (status line, headers, chunk framing) are gathered, and
	// sent each time the host is about to wait for upstream: the function
	// gets every byte as soon as the host has it, in few conn writes.
	bw := bufio.NewWriterSize(conn, 4<<10)
	resp.Body = &upstreamBody{r: resp.Body, left: x.s.opts.MaxResponseBytes, idle: idle, wait: x.s.opts.IdleTimeout, flush: bw.Flush}
	// Only Write is exposed: bufio.Writer's ReadFrom would read into its
	// buffer while the body's Read flushes that same buffer.
	if err := resp.Write(struct{ io.Writer }{bw}); err != nil {
		return err
	}
	return bw.Flush()
}

func bodyAllowed(resp *http.Response) bool {
	s := resp.StatusCode
	return resp.Request.Method != http.MethodHead && !(s >= 100 && s <= 199 || s == http.StatusNoContent || s == http.StatusNotModified)
}

// upstreamBody is the response body as relayed: bounded in size, and in how
// long each read may wait.
type upstreamBody struct {
	r     io.ReadCloser
	left  int64 // bytes still allowed; < 0 no bound
	idle  *time.Timer
	wait  time.Duration
	flush func() error // sends what is buffered for the function
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if err := b.flush(); err != nil {
		return 0, err
	}
	limited := b.left >= 0
	if limited && int64(len(p)) > b.left+1 {
		// One byte more than allowed tells "exactly at the limit" from
		// "over it".
		p = p[:b.left+1]
	}
	b.idle.Reset(b.wait)
	n, err := b.r.Read(p)
	b.idle.Stop()
	if limited {
		if int64(n) > b.left {
			return 0, errTooLarge
		}
		b.left -= int64(n)
	}
	return n, err
}

func (b *upstreamBody) Close() error { return b.r.Close() }

var errTooLarge = errors.New("the response body passed the size limit")

// guestBody is the request body as the function sends it. The transport
// reads it; once the response has arrived, drain discards the rest (the
// transport may still be reading it, hence the lock). Close is the
// transport's signal that it is done and does not close the conn.
type guestBody struct {
	mu      sync.Mutex
	r       io.ReadCloser
	drained sync.Once
}

func (b *guestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r.Read(p)
}

func (b *guestBody) Close() error { return nil }

// drain reads the body to its end. It returns when the function has sent
// it all, or closed its side, or ended.
func (b *guestBody) drain() {
	b.drained.Do(func() {
		io.Copy(io.Discard, b)
	})
}

// fail answers the function with a response from the host: status, the
// X-Embly-Error code, and the reason as a text body. req may be nil.
func (x *exchange) fail(w io.Writer, req *http.Request, status int, code, format string, args ...any) {
	msg := Target + ": " + fmt.Sprintf(format, args...)
	what := "request"
	if req != nil {
		what = req.Method + " " + req.URL.String()
	}
	x.logf("%s refused: %s", what, msg)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s: %s\r\n\r\n%s\n",
		status, http.StatusText(status), len(msg)+1, ErrorHeader, code, msg)
}

func (x *exchange) logf(format string, args ...any) {
	fmt.Fprintf(x.caller.Log, Target+": "+format+"\n", args...)
}
