package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// fastResponse parses the common shape of a function's response head without
// net/http: HTTP/1.x, a final status, at most maxFastHeaders plain header
// lines, a Content-Length or no length at all, all of it already buffered in
// br. That is nearly every response, and http.ReadResponse spends more on its
// generality (a header reader, a string per line, a slice per value) than the
// rest of the gateway's work on a small response. On success it fills resp,
// whose Header stays nil: the end-to-end headers go straight into dst, the
// client's header map, as copyHeader would put them there, so a response
// costs no header map of its own. Anything else (chunked bodies, trailers,
// 1xx, HEAD, odd bytes, a head not yet fully buffered) returns false with br
// and dst untouched, and http.ReadResponse reads it.
func fastResponse(br *bufio.Reader, r *http.Request, dst http.Header, resp *parsedResponse) bool {
	if r.Method == http.MethodHead {
		return false
	}
	if _, err := br.Peek(1); err != nil {
		return false // the slow path reports the error
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	// One string for the whole head: names and values are substrings of it.
	// A bare CR or LF, which net/http may read as the end of a line, is
	// refused below as a byte that has no place in a name or value.
	head := string(buf[:end+2])

	status, rest, _ := cut(head)
	if len(status) < len("HTTP/1.1 200") || (status[:9] != "HTTP/1.1 " && status[:9] != "HTTP/1.0 ") ||
		(len(status) > 12 && status[12] != ' ') {
		return false
	}
	code, err := strconv.Atoi(status[9:12])
	if err != nil || code < 200 || code > 999 || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	if !isFieldText(status) {
		return false
	}

	// Every line is checked before any reaches dst.
	var linesArr [maxFastHeaders]headerLine
	lines := linesArr[:0]
	length := int64(-1)
	for rest != "" {
		if len(lines) == maxFastHeaders {
			return false
		}
		var line string
		line, rest, _ = cut(rest)
		colon, canonical := -1, true
		for j, upper := 0, true; j < len(line); j++ {
			c := line[j]
			if c == ':' {
				colon = j
				break
			}
			if !isTokenByte(c) {
				return false
			}
			if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
				canonical = false
			}
			upper = c == '-'
		}
		if colon <= 0 {
			return false
		}
		// Names are nearly always canonical already: seen in the scan
		// above, that spares CanonicalHeaderKey's own.
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !canonical {
			name = http.CanonicalHeaderKey(name)
		}
		if !isFieldText(value) {
			return false
		}
		switch name {
		case "Transfer-Encoding", "Trailer":
			return false
		case "Content-Length":
			if length >= 0 {
				return false
			}
			// Digits only, as net/http takes them: no sign.
			n, err := strconv.ParseUint(value, 10, 63)
			if err != nil {
				return false
			}
			length = int64(n)
		}
		lines = append(lines, headerLine{name: name, value: value})
	}
	if _, err := br.Discard(end + 4); err != nil {
		return false // cannot happen: the bytes are buffered
	}
	relayLines(dst, lines)
	*resp = parsedResponse{
		Response: http.Response{
			Status:        status[9:],
			StatusCode:    code,
			Proto:         status[:8],
			ProtoMajor:    1,
			ProtoMinor:    int(status[7] - '0'),
			ContentLength: length,
			Request:       r,
		},
		body: fastBody{r: br, left: length},
	}
	resp.Body = &resp.body
	return true
}

// maxFastHeaders is the most header lines fastResponse takes, so that it can
// check them all before the first reaches the client's header map; a
// response with more (rare) takes the slow path.
const maxFastHeaders = 32

// headerLine is one header line fastResponse read, its name canonical.
type headerLine struct {
	name, value string
	hop         bool // not relayed: hop-by-hop, or named by Connection
}

// parsedResponse is a response fastResponse read, with its body, in one
// piece that a request's pooled state can hold.
type parsedResponse struct {
	http.Response
	body fastBody
}

// relayLines adds the end-to-end headers among lines to dst, with the
// semantics of copyHeader: no hop-by-hop headers and none that a Connection
// line names, a name's values in order, replacing what dst held under that
// name. The values of all names share one slice.
func relayLines(dst http.Header, lines []headerLine) {
	n := 0
	for i := range lines {
		l := &lines[i]
		l.hop = isHopByHop(l.name) || namedByConnection(lines, l.name)
		if !l.hop {
			n++
		}
	}
	if n == 0 {
		return
	}
	values := make([]string, 0, n)
	for i, l := range lines {
		if l.hop {
			continue
		}
		values = append(values, l.value)
		if seenName(lines[:i], l.name) {
			dst[l.name] = append(dst[l.name], l.value)
		} else {
			dst[l.name] = values[len(values)-1 : len(values) : len(values)]
		}
	}
}

// namedByConnection reports whether a Connection line among lines names name,
// a canonical header name, as connectionNamed would; the names are compared
// without making them canonical, which would allocate for "close".
func namedByConnection(lines []headerLine, name string) bool {
	for _, l := range lines {
		if l.name != "Connection" {
			continue
		}
		for token := range strings.SplitSeq(l.value, ",") {
			// name is canonical and all token bytes, so it is the
			// canonical form of token exactly when the two are equal
			// but for the case of ASCII letters.
			if asciiEqualFold(strings.TrimSpace(token), name) {
				return true
			}
		}
	}
	return false
}

// asciiEqualFold reports whether a and b are equal but for the case of ASCII
// letters. Unlike strings.EqualFold it folds nothing else: "\u212a" (the
// Kelvin sign) is not "K".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// seenName reports whether one of lines has name.
func seenName(lines []headerLine, name string) bool {
	for _, l := range lines {
		if l.name == name {
			return true
		}
	}
	return false
}

// isFieldText reports whether s holds no control character but tab; what
// does takes the slow path, which knows what net/http makes of it.
func isFieldText(s string) bool {
	for j := 0; j < len(s); j++ {
		if c := s[j]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
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

// fastBody is the body of a response fastResponse read: of its declared
// length, where ending early is an error as with net/http's own, or, when
// left < 0, up to the end of conn 1.
type fastBody struct {
	r    io.Reader
	left int64
}

func (b *fastBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return b.r.Read(p)
	}
	if b.left == 0 {
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

func (b *fastBody) Close() error { return nil }
