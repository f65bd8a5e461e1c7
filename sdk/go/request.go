package embly

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unsafe"
)

// readRequest reads one request head from br, as http.ReadRequest does,
// and sets its RemoteAddr (see remoteAddr).
//
// Requests from the gateway have a plain shape: a request line, a handful
// of headers, no body framing when there is no body. http.ReadRequest took
// 40% of a hello world's time in the guest (textproto's general reader,
// its allocations, running cold in a fresh instance), so a head of that
// shape, when it is all in the buffer, is parsed here into the same
// *http.Request. Anything else (a body, obsolete line folding, an unusual
// byte, HTTP/1.0, Pragma, Expect, ...) goes to http.ReadRequest, which then
// reads the head from the start: parseSimpleHead only peeks.
//
// A request parsed here comes with its response writer, allocated with it;
// for the others w is nil.
func readRequest(br *bufio.Reader) (req *http.Request, w *responseWriter, err error) {
	if _, err := br.Peek(1); err == nil {
		buffered, _ := br.Peek(br.Buffered())
		if end := bytes.Index(buffered, []byte("\r\n\r\n")); end >= 0 {
			if sr := parseSimpleHead(buffered[:end+2]); sr != nil {
				br.Discard(end + 4)
				return &sr.Request, &sr.w, nil
			}
		}
	}
	if req, err = http.ReadRequest(br); err != nil {
		return nil, nil, err
	}
	req.RemoteAddr = remoteAddr(req.Header)
	return req, nil, nil
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
func parseSimpleHead(head []byte) *simpleRequest {
	// The request, its URL, the values' array (for a few fields), its
	// response writer and (when it fits) the head are one allocation
	// instead of three: a fresh hello-go invocation took 8% less time.
	sr := new(simpleRequest)
	var s string
	if len(head) <= len(sr.head) {
		copy(sr.head[:], head)
		s = unsafe.String(&sr.head[0], len(head)) // never written again
	} else {
		s = string(head)
	}
	line, rest, ok := cutLine(s)
	if !ok {
		return nil
	}
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !isToken(method) ||
		len(target) == 0 || target[0] != '/' || !isTarget(target) {
		return nil
	}
	u, err := parseTarget(target, &sr.url)
	if err != nil {
		return nil
	}
	values := sr.values[:0]
	var keysArr [16]string
	keys := keysArr[:0]
	// What the request needs from its fields is noted as they go by: a
	// map lookup for each afterwards would hash their names again.
	var host, forwarded, xff string
	haveHost, closing := false, false
	for len(rest) > 0 {
		var key, value string
		if key, value, rest, ok = cutField(rest); !ok {
			return nil
		}
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Expect", "Pragma", "Upgrade":
			// Body framing and headers with side effects in
			// http.ReadRequest.
			return nil
		case "Host":
			// Not a field of the request's header, as in http.ReadRequest.
			if haveHost {
				return nil
			}
			host, haveHost = value, true
			continue
		case "Connection":
			closing = closing || listHas(value, "close")
		case "Forwarded":
			forwarded = value
		case "X-Forwarded-For":
			xff = value
		}
		values = append(values, value)
		keys = append(keys, key)
	}
	sr.Request = http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     fields(keys, values),
		Body:       http.NoBody,
		RequestURI: target,
		Host:       host,
		Close:      closing,
		RemoteAddr: clientAddr(forwarded, xff),
	}
	return sr
}

// simpleRequest holds what parseSimpleHead allocates for a request.
type simpleRequest struct {
	http.Request
	url    url.URL
	values [8]string
	w      responseWriter
	head   [simpleHeadCap]byte
}

// simpleHeadCap is how long a head may be to be kept in its simpleRequest:
// the gateway's head for a request with a Host alone (as from wrk or curl)
// is about 150 bytes.
const simpleHeadCap = 256

// cutLine cuts s at its first CRLF; ok is false when s has none, or a CR
// that does not start one (the head is then not simple).
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\r')
	if i < 0 || i+1 == len(s) || s[i+1] != '\n' {
		return "", "", false
	}
	return s[:i], s[i+2:], true
}

// cutField parses the field line at the start of s: its name in canonical
// form, its value trimmed, and what follows its CRLF. ok is false when the
// line is not of the simple shape: a name that is not a token, a byte in
// the value that is neither visible ASCII, space nor tab, no CRLF. Each
// byte is looked at once; in wasm every loop iteration has its cost.
func cutField(s string) (key, value, rest string, ok bool) {
	canonical, upper := true, true
	i := 0
	for ; i < len(s) && s[i] != ':'; i++ {
		c := s[i]
		if c >= 0x80 || !tokenChar[c] {
			return "", "", "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if i == 0 || i == len(s) {
		return "", "", "", false
	}
	j := i + 1
	for ; j < len(s) && s[j] != '\r'; j++ {
		if c := s[j]; (c < ' ' && c != '\t') || c >= 0x7f {
			return "", "", "", false
		}
	}
	if j+1 >= len(s) || s[j+1] != '\n' {
		return "", "", "", false
	}
	key = s[:i]
	if !canonical {
		key = textproto.CanonicalMIMEHeaderKey(key)
	}
	return key, trimOWS(s[i+1 : j]), s[j+2:], true
}

// trimOWS trims spaces and tabs from both ends of v, as strings.Trim(v, " \t")
// does without building its set of bytes each time.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// fields makes the header of keys[i]: values[i], a key's values in their
// order. A key seen once gets a one-element piece of values. Duplicates
// are found by comparing keys rather than by a map lookup per field:
// hashing strings is slow in wasm, and a request has a handful of fields.
func fields(keys, values []string) http.Header {
	h := make(http.Header, len(keys))
	if len(keys) > 32 {
		for i, k := range keys {
			h[k] = append(h[k], values[i])
		}
		return h
	}
	for i, k := range keys {
		if k == "" {
			continue // a duplicate, already taken
		}
		n := 1
		for _, other := range keys[i+1:] {
			if other == k {
				n++
			}
		}
		if n == 1 {
			h[k] = values[i : i+1 : i+1]
			continue
		}
		vv := make([]string, 0, n)
		for j := i; j < len(keys); j++ {
			if keys[j] == k {
				vv = append(vv, values[j])
				keys[j] = ""
			}
		}
		h[k] = vv
	}
	return h
}

// parseTarget is url.ParseRequestURI, which a target of path characters
// alone (as "/" and most paths are) does not need: that one is parsed into
// u.
func parseTarget(target string, u *url.URL) (*url.URL, error) {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c >= 0x80 || !pathChar[c] {
			return url.ParseRequestURI(target)
		}
	}
	*u = url.URL{Path: target}
	return u, nil
}

// pathChar marks the bytes a path may have that url.ParseRequestURI keeps
// as they are: unreserved characters and slashes.
var pathChar = alnumAnd("-._~/")

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b string) bool {
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

// listHas reports whether any comma-separated element of list is token,
// ignoring case, as net/http reads Connection.
func listHas(list, token string) bool {
	for list != "" {
		var elem string
		elem, list, _ = strings.Cut(list, ",")
		if strings.EqualFold(strings.TrimSpace(elem), token) {
			return true
		}
	}
	return false
}

// tokenChar marks the bytes of RFC 9110 tokens.
var tokenChar = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd returns a table of the ASCII letters and digits and of extra.
func alnumAnd(extra string) (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}
