package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// FuzzFastResponse: whenever fastResponse accepts a response, it reads it
// exactly as http.ReadResponse does: status, headers, length and body.
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
		"nonsense\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptestRequest()
		fast, ok := fastResponse(bufio.NewReaderSize(strings.NewReader(raw), 64<<10), req)
		if !ok {
			return
		}
		slow, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), req)
		if err != nil {
			t.Fatalf("fastResponse accepted what http.ReadResponse refuses (%v): %q", err, raw)
		}
		if fast.StatusCode != slow.StatusCode || fast.Status != slow.Status || fast.ContentLength != slow.ContentLength {
			t.Fatalf("%q: fast %d %q %d, slow %d %q %d", raw, fast.StatusCode, fast.Status, fast.ContentLength,
				slow.StatusCode, slow.Status, slow.ContentLength)
		}
		if !reflect.DeepEqual(fast.Header, slow.Header) {
			t.Fatalf("%q: headers differ:\nfast %v\nslow %v", raw, fast.Header, slow.Header)
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
