package gateway

// Parsing the plain request heads the front end serves (frontend.go).

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// headEnd returns the length of the head at the start of b, through the
// empty line that ends it (CRLF CRLF, or a bare LF the parser refuses), or
// 0 when b does not hold all of it.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// request makes the request of the head h parsed from raw, as
// http.ReadRequest would, with context ctx, or reports that its target is
// one net/http refuses. canonical gives the canonical form of a header
// name.
func (h *fastHead) request(ctx context.Context, raw []byte, canonical func([]byte) string) (*http.Request, bool) {
	// One string for the head; the target and the values are pieces of it.
	s := string(raw)
	target := s[h.target.start:h.target.end]
	u, ok := requestURL(target)
	if !ok {
		return nil, false
	}
	header := make(http.Header, len(h.fields))
	values := make([]string, len(h.fields))
	host := ""
	for i, f := range h.fields {
		name := canonical(raw[f.name.start:f.name.end])
		v := s[f.value.start:f.value.end]
		if name == "Host" {
			host = v // in Host alone, as net/http has it
			continue
		}
		values[i] = v
		if old, ok := header[name]; ok {
			header[name] = append(old, v)
		} else {
			header[name] = values[i : i+1 : i+1]
		}
	}
	// As net/http's reading does, an HTTP/1.0 cache directive becomes the
	// HTTP/1.1 one.
	if p, ok := header["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	method := "GET"
	if h.head {
		method = "HEAD"
	}
	req := http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Host:       host,
		RequestURI: target,
		Close:      h.close,
	}
	return req.WithContext(ctx), true
}

// requestURL is url.ParseRequestURI of an origin-form target, without its
// work for a target in which nothing needs unescaping.
func requestURL(target string) (*url.URL, bool) {
	path, query, hasQuery := target, "", false
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c == '?' {
			path, query, hasQuery = target[:i], target[i+1:], true
			break
		}
		if !plainPathByte(c) {
			u, err := url.ParseRequestURI(target)
			return u, err == nil
		}
	}
	if hasQuery && query == "" {
		u, err := url.ParseRequestURI(target) // ForceQuery
		return u, err == nil
	}
	return &url.URL{Path: path, RawQuery: query}, true
}

// plainPathByte reports whether url.URL keeps c as it is in a path, so
// that the path needs no unescaping and no RawPath.
func plainPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '/', '$', '&', '+', ',', ':', ';', '=', '@':
		return true
	}
	return false
}

// fastHead is a parsed request head: offsets into its bytes.
type fastHead struct {
	head   bool // HEAD, else GET
	close  bool // Connection: close
	target span
	fields []field
}

type span struct{ start, end int }

type field struct{ name, value span }

// parse accepts a request head in the plain shape only: GET or HEAD, an
// origin-form target of visible ASCII, HTTP/1.1, CRLF line ends, one
// valid Host, header names of token characters and values of visible
// ASCII, spaces and tabs; no Content-Length, Transfer-Encoding, Expect,
// Upgrade or HTTP2-Settings, and Connection only "close" or "keep-alive".
// Anything else is for net/http, which accepts more, or answers 400.
func (h *fastHead) parse(b []byte) bool {
	*h = fastHead{fields: h.fields[:0]}
	i := 0
	switch {
	case bytes.HasPrefix(b, []byte("GET ")):
		i = 4
	case bytes.HasPrefix(b, []byte("HEAD ")):
		i, h.head = 5, true
	default:
		return false
	}
	h.target.start = i
	for i < len(b) && b[i] > ' ' && b[i] < 0x7f {
		i++
	}
	h.target.end = i
	if i == h.target.start || b[h.target.start] != '/' || !bytes.HasPrefix(b[i:], []byte(" HTTP/1.1\r\n")) {
		return false
	}
	i += len(" HTTP/1.1\r\n")
	hosts := 0
	for {
		if bytes.HasPrefix(b[i:], []byte("\r\n")) {
			return hosts == 1 && i+2 == len(b)
		}
		var f field
		f.name.start = i
		for i < len(b) && isTokenByte(b[i]) {
			i++
		}
		f.name.end = i
		if f.name.end == f.name.start || i >= len(b) || b[i] != ':' {
			return false
		}
		i++
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		f.value.start = i
		for i < len(b) && (b[i] >= ' ' && b[i] < 0x7f || b[i] == '\t') {
			i++
		}
		if !bytes.HasPrefix(b[i:], []byte("\r\n")) {
			return false
		}
		f.value.end = i
		for f.value.end > f.value.start && (b[f.value.end-1] == ' ' || b[f.value.end-1] == '\t') {
			f.value.end--
		}
		i += 2
		name, value := b[f.name.start:f.name.end], b[f.value.start:f.value.end]
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			hosts++
			if !validHost(value) {
				return false
			}
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				switch {
				case bytes.EqualFold(tok, []byte("close")):
					h.close = true
				case bytes.EqualFold(tok, []byte("keep-alive")):
				default:
					return false
				}
			}
		case bytes.EqualFold(name, []byte("Content-Length")),
			bytes.EqualFold(name, []byte("Transfer-Encoding")),
			bytes.EqualFold(name, []byte("Expect")),
			bytes.EqualFold(name, []byte("Upgrade")),
			bytes.EqualFold(name, []byte("HTTP2-Settings")):
			return false
		}
		h.fields = append(h.fields, f)
	}
}

// validHost accepts a Host of letters, digits and ".-:[]_", a subset of
// what net/http accepts.
func validHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}
