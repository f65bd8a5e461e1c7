package embly

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// httpTarget is the host service that makes outbound HTTP requests.
const httpTarget = "embly/http"

// errorHeader marks a response written by the host's embly/http service
// itself (docs/abi.md); its value is a code such as "not-allowed".
const errorHeader = "X-Embly-Error"

// Transport is an [http.RoundTripper] that makes each request through the
// host's embly/http service: the host sends it and streams the response
// back, if the function's allowed_hosts in embly.hcl lists the request's
// scheme, host and port.
//
// Inside an Embly function (a wasip1 build) [http.DefaultTransport] is a
// Transport, so [http.Get], [http.DefaultClient] and any client without a
// Transport of its own already use it; [HTTPClient] returns a client that
// names it explicitly.
//
// Each request is a new spawn of embly/http; the host pools the upstream
// connections. The request is sent in full before the response is read.
// When the host refuses the request or cannot make it, RoundTrip returns a
// [*HostError] (errors.As works through [http.Client]'s wrapping).
//
// The response body streams: reading it reads what the upstream has sent
// so far. A body that is not read to its end keeps the upstream connection
// until the function returns.
type Transport struct {
	h *host // nil: the instance's host
}

var _ http.RoundTripper = (*Transport)(nil)

// HTTPClient returns an [http.Client] whose requests go through embly/http.
func HTTPClient() *http.Client { return &http.Client{Transport: &Transport{}} }

// HostError is the error of a request that embly/http refused or could not
// make, from the response the host wrote in place of the upstream's.
type HostError struct {
	// StatusCode is the host's status: 400 a malformed request, 403 a host
	// not in allowed_hosts (or a name that resolves to a private address),
	// 502 an unreachable upstream or a too large response, 504 a timeout.
	StatusCode int
	// Code is the X-Embly-Error value: "bad-request", "not-allowed",
	// "unreachable", "too-large" or "timeout".
	Code string
	// Message is the host's explanation, starting with "embly/http: ".
	Message string
}

// Error returns the host's explanation.
func (e *HostError) Error() string { return e.Message }

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.h
	if h == nil {
		h = defaultHost
	}
	return h.roundTrip(req)
}

func (h *host) roundTrip(req *http.Request) (*http.Response, error) {
	if err := checkOutbound(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	conn, err := h.spawn(httpTarget)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	// The request line carries the absolute URL, as to a proxy.
	bw := bufio.NewWriter(conn)
	werr := req.WriteProxy(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	conn.Close() // the host reads EOF after the request
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	switch {
	case err != nil && werr != nil:
		// The host may have answered without reading all of the request
		// (then err is nil and the answer says why); if not, the write
		// failed first.
		return nil, fmt.Errorf("embly: sending the request to %s: %w", httpTarget, werr)
	case err != nil:
		return nil, fmt.Errorf("embly: reading the response from %s: %w", httpTarget, err)
	}
	if code := resp.Header.Get(errorHeader); code != "" {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &HostError{StatusCode: resp.StatusCode, Code: code, Message: strings.TrimSpace(string(msg))}
	}
	return resp, nil
}

// checkOutbound refuses what embly/http cannot send, before spawning it.
func checkOutbound(req *http.Request) error {
	switch {
	case req.URL == nil:
		return errors.New("embly: http: nil Request.URL")
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("embly: unsupported protocol scheme %q", req.URL.Scheme)
	case req.URL.Host == "":
		return errors.New("embly: http: no Host in request URL")
	}
	return req.Context().Err()
}
