package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzFunctionOutput feeds arbitrary bytes to the gateway as a function's
// response. Whatever a guest writes, the gateway must answer (or abort the
// response) without crashing or hanging, and a 5xx it makes up must not
// carry the function's bytes.
func FuzzFunctionOutput(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\n\r\nHello World",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 999 Whatever\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add([]byte(seed))
	}
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"fn": func(ctx context.Context, conn *end) error {
		req, err := readReq(conn)
		if err != nil {
			return err
		}
		out, err := io.ReadAll(req.Body)
		if err != nil {
			return err
		}
		_, err = conn.Write(out)
		return err
	}}}
	g, err := NewHTTP(fnGateway(), testProject(sp), sp, nil)
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	// The timeout turns a hung gateway into a failing input.
	client := &http.Client{Timeout: failsafe}

	f.Fuzz(func(t *testing.T, out []byte) {
		// PUT, being idempotent, is retried when an idle connection turns
		// out to have been closed by an earlier input's aborted response.
		req, _ := http.NewRequest("PUT", srv.URL, bytes.NewReader(out))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body) // an aborted response is fine
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode <= 504 {
			generic := http.StatusText(resp.StatusCode)
			if !strings.Contains(string(out), generic) && string(body) != "" && !strings.Contains(string(body), generic) {
				t.Errorf("%d with body %q", resp.StatusCode, body)
			}
		}
	})
}
