package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// FuzzFastResponse: whenever fastResponse accepts a response, the client
// gets what the slow path would give it: the status, length and body that
// http.ReadResponse reads, and the headers that copyHeader relays of those
// the function wrote. When it refuses one, it has consumed nothing and
// relayed nothing.
//
// The headers are those of the head as textproto reads it, not of
// http.ReadResponse's result: for HTTP/1.1 that drops a Connection header
// that says "close", and with it the other names it lists.
func FuzzFastResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello World",
		"HTTP/1.0 404 Not Found\r\ncontent-length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabc",
		"HTTP/1.1 500\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA:  spaced  \r\nB:\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nConnection: close, x-private\r\nX-Private: s\r\nKeep-Alive: 5\r\nKeep: k\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nConnection: \u212aeep\r\nKeep: k\r\nX-A: 1\r\nConnection: X-A\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nContent-Length: 1\r\n\r\nx",
		"nonsense\r\n\r\n",
	} {
		f.Add(s)
	}
	// dst starts with headers of its own, some of which a response may
	// replace: fastResponse must replace them as copyHeader does.
	before := func() http.Header { return http.Header{"X-A": {"before"}, "Keep": {"k0"}} }
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptestRequest()
		br := bufio.NewReaderSize(strings.NewReader(raw), 64<<10)
		dst := before()
		var fast parsedResponse
		if !fastResponse(br, req, dst, &fast) {
			if rest, _ := io.ReadAll(br); string(rest) != raw || !reflect.DeepEqual(dst, before()) {
				t.Fatalf("%q: refused, but left %q to read and headers %v", raw, rest, dst)
			}
			return
		}
		slow, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), req)
		if err != nil {
			t.Fatalf("fastResponse accepted what http.ReadResponse refuses (%v): %q", err, raw)
		}
		if fast.StatusCode != slow.StatusCode || fast.Status != slow.Status || fast.ContentLength != slow.ContentLength ||
			len(slow.TransferEncoding) != 0 || len(slow.Trailer) != 0 {
			t.Fatalf("%q: fast %d %q %d, slow %d %q %d %v %v", raw, fast.StatusCode, fast.Status, fast.ContentLength,
				slow.StatusCode, slow.Status, slow.ContentLength, slow.TransferEncoding, slow.Trailer)
		}
		tp := textproto.NewReader(bufio.NewReader(strings.NewReader(raw)))
		_, _ = tp.ReadLine()
		written, err := tp.ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: textproto refuses the head: %v", raw, err)
		}
		want := before()
		copyHeader(want, http.Header(written))
		if fast.Header != nil || !reflect.DeepEqual(dst, want) {
			t.Fatalf("%q: relayed headers differ:\nfast %v (and %v)\nslow %v", raw, dst, fast.Header, want)
		}
		fb, ferr := io.ReadAll(fast.Body)
		sb, serr := io.ReadAll(slow.Body)
		if !bytes.Equal(fb, sb) || (ferr == nil) != (serr == nil) {
			t.Fatalf("%q: bodies differ: fast %q (%v), slow %q (%v)", raw, fb, ferr, sb, serr)
		}
	})
}

func httptestRequest() *http.Request {
	req, _ := http.NewRequest("GET", "http://example.com/", nil)
	return req
}
