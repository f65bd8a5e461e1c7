package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// fastResponse parses the common shape of a function's response head without
// net/http: HTTP/1.x, a final status, plain headers, a Content-Length or no
// length at all, all of it already buffered in br. That is nearly every
// response, and http.ReadResponse spends more on its generality (a header
// reader, a string per line, a slice per value) than the rest of the
// gateway's work on a small response. Anything else (chunked bodies,
// trailers, 1xx, HEAD, odd bytes, a head not yet fully buffered) returns
// ok == false with br untouched, and http.ReadResponse reads it.
func fastResponse(br *bufio.Reader, r *http.Request) (resp *http.Response, ok bool) {
	if r.Method == http.MethodHead {
		return nil, false
	}
	if _, err := br.Peek(1); err != nil {
		return nil, false // the slow path reports the error
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	crlf := bytes.Count(buf[:end+2], []byte("\r\n"))
	if bytes.Count(buf[:end+2], []byte("\n")) != crlf || bytes.Count(buf[:end+2], []byte("\r")) != crlf {
		return nil, false // a bare CR or LF: lines as net/http reads them
	}
	// One string for the whole head: header values are substrings of it.
	head := string(buf[:end+2])

	status, rest, _ := cut(head)
	if len(status) < len("HTTP/1.1 200") || (status[:9] != "HTTP/1.1 " && status[:9] != "HTTP/1.0 ") ||
		(len(status) > 12 && status[12] != ' ') {
		return nil, false
	}
	code, err := strconv.Atoi(status[9:12])
	if err != nil || code < 200 || code > 999 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false
	}

	for j := 0; j < len(status); j++ {
		if c := status[j]; c < ' ' && c != '\t' || c == 0x7f {
			return nil, false
		}
	}

	n := crlf - 1
	h := make(http.Header, n)
	values := make([]string, n)
	length := int64(-1)
	for i := 0; rest != ""; i++ {
		var line string
		line, rest, _ = cut(rest)
		colon := -1
		for j := 0; j < len(line); j++ {
			if line[j] == ':' {
				colon = j
				break
			}
			if !isTokenByte(line[j]) {
				return nil, false
			}
		}
		if colon <= 0 {
			return nil, false
		}
		name, value := http.CanonicalHeaderKey(line[:colon]), trimOWS(line[colon+1:])
		for j := 0; j < len(value); j++ {
			if c := value[j]; c < ' ' && c != '\t' || c == 0x7f {
				return nil, false
			}
		}
		switch name {
		case "Transfer-Encoding", "Trailer":
			return nil, false
		case "Content-Length":
			if length >= 0 {
				return nil, false
			}
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return nil, false
			}
		}
		if vv, dup := h[name]; dup {
			h[name] = append(vv, value)
			continue
		}
		values[i] = value
		h[name] = values[i : i+1 : i+1]
	}
	if _, err := br.Discard(end + 4); err != nil {
		return nil, false // cannot happen: the bytes are buffered
	}
	resp = &http.Response{
		Status:        status[9:],
		StatusCode:    code,
		Proto:         status[:8],
		ProtoMajor:    1,
		ProtoMinor:    int(status[7] - '0'),
		Header:        h,
		ContentLength: length,
		Request:       r,
	}
	if length >= 0 {
		resp.Body = &lengthBody{r: br, left: length}
	} else {
		resp.Body = io.NopCloser(br) // ends when the function closes conn 1
		resp.Close = true
	}
	return resp, true
}

// cut splits s at its first CRLF.
func cut(s string) (line, rest string, found bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTokenByte reports whether c may appear in a header name (RFC 9110 token).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// lengthBody is a body of a declared length: ending early is an error, as
// with net/http's own.
type lengthBody struct {
	r    io.Reader
	left int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }
