package embly

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// readRequest reads one request head from br, as http.ReadRequest does.
//
// Requests from the gateway have a plain shape: a request line, a handful
// of headers, no body framing when there is no body. http.ReadRequest took
// 40% of a hello world's time in the guest (textproto's general reader,
// its allocations, running cold in a fresh instance), so a head of that
// shape, when it is all in the buffer, is parsed here into the same
// *http.Request. Anything else (a body, obsolete line folding, an unusual
// byte, HTTP/1.0, Pragma, Expect, ...) goes to http.ReadRequest, which then
// reads the head from the start: parseSimpleHead only peeks.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	if _, err := br.Peek(1); err == nil {
		buffered, _ := br.Peek(br.Buffered())
		if end := bytes.Index(buffered, []byte("\r\n\r\n")); end >= 0 {
			if req := parseSimpleHead(buffered[:end+2]); req != nil {
				br.Discard(end + 4)
				return req, nil
			}
		}
	}
	return http.ReadRequest(br)
}

// parseSimpleHead parses head (the request line and header lines, each
// ending in CRLF, without the empty line) or returns nil when it is not of
// the simple shape readRequest describes.
func parseSimpleHead(head []byte) *http.Request {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	method, line, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || string(proto) != "HTTP/1.1" || !isToken(method) ||
		len(target) == 0 || target[0] != '/' || !isTarget(target) {
		return nil
	}
	rawURL := string(target)
	u, err := url.ParseRequestURI(rawURL)
	if err != nil {
		return nil
	}
	h := make(http.Header, 8)
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return nil
		}
		value = bytes.Trim(value, " \t")
		if !isFieldValue(value) {
			return nil
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Expect", "Pragma", "Upgrade", "Host":
			// Body framing and headers with side effects in
			// http.ReadRequest; Host is done below.
			if key != "Host" {
				return nil
			}
		}
		h[key] = append(h[key], string(value))
	}
	host := h["Host"]
	if len(host) > 1 {
		return nil
	}
	req := &http.Request{
		Method:     string(method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		RequestURI: rawURL,
	}
	if len(host) == 1 {
		req.Host = host[0]
		delete(h, "Host") // as http.ReadRequest does
	}
	req.Close = hasToken(h["Connection"], "close")
	return req
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

// isTarget reports whether b has only visible ASCII, as an origin-form
// request target must.
func isTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b has only visible ASCII, spaces and tabs.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether any comma-separated element of values is token,
// ignoring case, as net/http reads Connection.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(elem), token) {
				return true
			}
		}
	}
	return false
}

// tokenChar marks the bytes of RFC 9110 tokens.
var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
