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
//
// The head is copied into one string, and the method, the target, the
// header names and values are pieces of it; the values share one backing
// array, as in textproto's reader. Each allocation is expensive in a fresh
// instance: a string per name and per value made this function a fifth of a
// hello world's time in the guest.
func parseSimpleHead(head []byte) *http.Request {
	s := string(head)
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !isToken(method) ||
		len(target) == 0 || target[0] != '/' || !isTarget(target) {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	values := make([]string, lines)
	for i := 0; len(rest) > 0; i++ {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil
		}
		value = strings.Trim(value, " \t")
		if !isFieldValue(value) {
			return nil
		}
		// No allocation for a name that is canonical already, as the
		// gateway's are.
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Expect", "Pragma", "Upgrade", "Host":
			// Body framing and headers with side effects in
			// http.ReadRequest; Host is done below.
			if key != "Host" {
				return nil
			}
		}
		if vv, ok := h[key]; ok {
			h[key] = append(vv, value)
		} else {
			values[i] = value
			h[key] = values[i : i+1 : i+1]
		}
	}
	host := h["Host"]
	if len(host) > 1 {
		return nil
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		RequestURI: target,
	}
	if len(host) == 1 {
		req.Host = host[0]
		delete(h, "Host") // as http.ReadRequest does
	}
	req.Close = hasToken(h["Connection"], "close")
	return req
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken[T string | []byte](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

// isTarget reports whether b has only visible ASCII, as an origin-form
// request target must.
func isTarget(b string) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b has only visible ASCII, spaces and tabs.
func isFieldValue(b string) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; (c < ' ' && c != '\t') || c >= 0x7f {
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
