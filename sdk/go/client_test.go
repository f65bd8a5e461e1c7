package embly

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fakeHTTP plays the host's embly/http service on the fake host: once the
// guest has sent its request and closed its side, answer turns the request
// into the raw response the host sends back (in parts, each sent when the
// guest next waits). It returns the requests it saw.
func fakeHTTP(t *testing.T, f *fakeSys, answer func(req *http.Request, body string) []string) *[]*http.Request {
	t.Helper()
	f.targets[httpTarget] = true
	var seen []*http.Request
	var parts []string
	f.peer = func(f *fakeSys) bool {
		const id = 2 // the first spawn
		c := f.conn(id)
		f.mu.Lock()
		closed := c.closed
		f.mu.Unlock()
		switch {
		case len(parts) > 0:
			f.send(id, parts[0])
			if parts = parts[1:]; len(parts) == 0 {
				f.closeIn(id)
			}
			return true
		case !closed || len(seen) > 0:
			return false
		}
		f.take(id)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(f.output(id))))
		if err != nil {
			t.Errorf("the guest sent a malformed request: %v\n%q", err, f.output(id))
			return false
		}
		body, _ := io.ReadAll(req.Body)
		seen = append(seen, req)
		parts = answer(req, string(body))
		return true
	}
	return &seen
}

func testClient(f *fakeSys) *http.Client {
	return &http.Client{Transport: &Transport{h: newTestHost(f)}}
}

func TestClientGet(t *testing.T) {
	f := newFakeSys(t)
	seen := fakeHTTP(t, f, func(req *http.Request, body string) []string {
		return []string{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"}
	})
	resp, err := testClient(f).Get("https://api.example.com/v1/items?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("got %d %q, %v", resp.StatusCode, body, err)
	}
	req := (*seen)[0]
	if req.RequestURI != "https://api.example.com/v1/items?x=1" || req.Host != "api.example.com" {
		t.Errorf("the host got target %q, Host %q; want the absolute URL", req.RequestURI, req.Host)
	}
}

func TestClientPostAndStream(t *testing.T) {
	f := newFakeSys(t)
	fakeHTTP(t, f, func(req *http.Request, body string) []string {
		return []string{
			"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
			"6\r\nsecond\r\n0\r\n\r\n",
		}
	})
	resp, err := testClient(f).Post("http://127.0.0.1:8080/items", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("first = %q, %v", first, err)
	}
	if f.conn(2).inEOF {
		t.Fatal("the host sent the whole response before the guest read the first part: not streamed")
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" || resp.StatusCode != 201 {
		t.Fatalf("rest = %q, %v (status %d)", rest, err, resp.StatusCode)
	}
}

func TestClientBody(t *testing.T) {
	f := newFakeSys(t)
	var got string
	fakeHTTP(t, f, func(req *http.Request, body string) []string {
		got = req.Method + " " + req.Header.Get("Content-Type") + " " + body
		return []string{"HTTP/1.1 204 No Content\r\n\r\n"}
	})
	resp, err := testClient(f).Post("http://api.example.com/", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != `POST application/json {"a":1}` {
		t.Errorf("the host got %q", got)
	}
}

func TestClientHostError(t *testing.T) {
	f := newFakeSys(t)
	const msg = `embly/http: https://evil.example.com is not in allowed_hosts of function "fn"; add "https://evil.example.com" to reach it`
	fakeHTTP(t, f, func(*http.Request, string) []string {
		return []string{"HTTP/1.1 403 Forbidden\r\nX-Embly-Error: not-allowed\r\nContent-Length: " +
			itoa(len(msg)+1) + "\r\n\r\n" + msg + "\n"}
	})
	_, err := testClient(f).Get("https://evil.example.com/")
	var herr *HostError
	if !errors.As(err, &herr) {
		t.Fatalf("err = %v, want a *HostError", err)
	}
	if herr.StatusCode != 403 || herr.Code != "not-allowed" || herr.Message != msg {
		t.Errorf("got %+v", herr)
	}
	if want := `Get "https://evil.example.com/": ` + msg; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestClientRefusedSpawn(t *testing.T) {
	f := newFakeSys(t)
	f.refuse = map[string]Errno{httpTarget: EACCES}
	_, err := testClient(f).Get("https://api.example.com/")
	if !errors.Is(err, EACCES) || !strings.Contains(err.Error(), "allowed_hosts") {
		t.Errorf("err = %v, want EACCES with a hint about allowed_hosts", err)
	}
}

func TestClientBadURL(t *testing.T) {
	f := newFakeSys(t)
	_, err := testClient(f).Get("ftp://files.example.com/")
	if err == nil || !strings.Contains(err.Error(), `unsupported protocol scheme "ftp"`) {
		t.Errorf("err = %v", err)
	}
	if f.next != 2 {
		t.Error("spawned embly/http for a request it cannot send")
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
