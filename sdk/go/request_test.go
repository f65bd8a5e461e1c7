package embly

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var requestHeads = []string{
	"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-Ip: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n",
	"GET /a/b?q=1&r=%20x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nAccept: text/html\r\nuser-agent:  curl/8 \t\r\n\r\n",
	"DELETE /users/1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n",
	"HEAD /x HTTP/1.1\r\n\r\n",
	"GET //double/slash HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",
	"OPTIONS /path;p HTTP/1.1\r\nHost: h\r\nCookie: a=b; c=d\r\n\r\n",
	// Each of these takes the slow path.
	"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
	"GET http://example.com/ HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Ctl: a\x01b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
	"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\n",
	"",
}

// readRequest must give exactly what http.ReadRequest gives, fast path or
// not, and leave the reader at the same place.
func TestReadRequestMatchesNetHTTP(t *testing.T) {
	for _, head := range requestHeads {
		checkReadRequest(t, head+"NEXT")
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, head := range requestHeads {
		f.Add(head)
	}
	f.Fuzz(func(t *testing.T, head string) {
		checkReadRequest(t, head)
	})
}

func checkReadRequest(t *testing.T, raw string) {
	t.Helper()
	want, wantErr := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	br := bufio.NewReader(strings.NewReader(raw))
	got, _, gotErr := readRequest(br)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: error %v, net/http says %v", raw, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	want.RemoteAddr = remoteAddr(want.Header) // readRequest sets it
	if !sameRequest(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, want)
	}
	gotRest, _ := io.ReadAll(got.Body)
	wantRest, _ := io.ReadAll(want.Body)
	if string(gotRest) != string(wantRest) {
		t.Fatalf("%q: body %q, want %q", raw, gotRest, wantRest)
	}
	// What follows the request is still there to read.
	rest, _ := io.ReadAll(br)
	wbr := bufio.NewReader(strings.NewReader(raw))
	http.ReadRequest(wbr)
	if w, _ := io.ReadAll(wbr); string(rest) != string(w) && got.Body == http.NoBody {
		t.Fatalf("%q: left %q, net/http leaves %q", raw, rest, w)
	}
}

func sameRequest(a, b *http.Request) bool {
	return a.Method == b.Method && a.URL.String() == b.URL.String() &&
		reflect.DeepEqual(a.URL, b.URL) && a.Proto == b.Proto &&
		a.ProtoMajor == b.ProtoMajor && a.ProtoMinor == b.ProtoMinor &&
		reflect.DeepEqual(a.Header, b.Header) && a.Host == b.Host &&
		a.RequestURI == b.RequestURI && a.Close == b.Close && a.RemoteAddr == b.RemoteAddr &&
		a.ContentLength == b.ContentLength &&
		reflect.DeepEqual(a.TransferEncoding, b.TransferEncoding) &&
		reflect.DeepEqual(a.Trailer, b.Trailer) &&
		(a.Body == http.NoBody) == (b.Body == http.NoBody)
}

// The gateway's requests take the fast path.
func TestGatewayHeadIsSimple(t *testing.T) {
	head := requestHeads[0]
	if parseSimpleHead([]byte(head[:len(head)-2])) == nil {
		t.Fatal("the gateway's request head took the slow path")
	}
}

func TestWriteFieldsMatchesWriteSubset(t *testing.T) {
	for _, h := range []http.Header{
		{},
		{"Content-Type": {"text/plain"}, "X-B": {"2", "1"}, "X-A": {" padded \t"}},
		{"X-Break": {"a\r\nb\nc"}, "Bad Key": {"dropped"}, "Trailer:X-T": {"t"}, "Empty": {""}},
	} {
		for _, added := range [][]field{
			nil,
			{{"Content-Length", "11"}},
			{{"Content-Type", "text/html"}, {"Transfer-Encoding", "chunked"}},
		} {
			var got, want strings.Builder
			bw := bufio.NewWriter(&got)
			writeFields(bw, h, added)
			bw.Flush()
			set := h.Clone()
			for _, f := range added {
				set.Set(f.key, f.value)
			}
			set.WriteSubset(&want, prefixedKeys(set))
			if got.String() != want.String() {
				t.Errorf("%v with %v:\n got %q\nwant %q", h, added, got.String(), want.String())
			}
		}
	}
}

func prefixedKeys(h http.Header) map[string]bool {
	m := map[string]bool{}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			m[k] = true
		}
	}
	return m
}
