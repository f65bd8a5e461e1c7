package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embly/embly/internal/config"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawGet sends target exactly as given, which http.Client would not always do.
func rawGet(t *testing.T, addr, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// filesGateway serves a fresh assets directory under /static; a secret file
// sits next to it, outside the root.
func filesGateway(t *testing.T) (*testGateway, string) {
	t.Helper()
	top := t.TempDir()
	writeFile(t, top, "secret.txt", "TOP SECRET")
	dir := filepath.Join(top, "assets")
	writeFile(t, dir, "index.html", "<h1>home</h1>")
	writeFile(t, dir, "style.css", "body { color: red }")
	writeFile(t, dir, "app.js", "console.log(1)")
	writeFile(t, dir, "noext", "%PDF-1.4 a pdf without an extension")
	writeFile(t, dir, "docs/index.html", "<h1>docs</h1>")
	writeFile(t, dir, "docs/a b.txt", "spaced")
	writeFile(t, dir, "empty/.keep", "")
	if err := os.Symlink("../secret.txt", filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("style.css", filepath.Join(dir, "alias.css")); err != nil {
		t.Fatal(err)
	}
	sp := &fakeSpawner{funcs: map[string]fakeFunc{"hello": named("hello")}}
	tg := newTestGateway(t, &config.Gateway{
		Function: "hello",
		Routes:   []*config.Route{{Prefix: "/static/", Files: "assets"}},
	}, sp, &config.Files{Name: "assets", Path: dir})
	return tg, dir
}

func TestFiles(t *testing.T) {
	tg, _ := filesGateway(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path     string
		status   int
		body     string
		ctype    string
		location string
	}{
		{"/static/style.css", 200, "body { color: red }", "text/css; charset=utf-8", ""},
		{"/static/app.js", 200, "console.log(1)", "text/javascript; charset=utf-8", ""},
		{"/static/noext", 200, "%PDF-1.4 a pdf without an extension", "application/pdf", ""},
		{"/static/", 200, "<h1>home</h1>", "text/html; charset=utf-8", ""},
		{"/static/index.html", 200, "<h1>home</h1>", "text/html; charset=utf-8", ""},
		{"/static/docs/", 200, "<h1>docs</h1>", "text/html; charset=utf-8", ""},
		{"/static/docs/a%20b.txt", 200, "spaced", "text/plain; charset=utf-8", ""},
		{"/static/alias.css", 200, "body { color: red }", "text/css; charset=utf-8", ""},
		{"/static", 301, "", "", "./static/"},
		{"/static/docs?x=1", 301, "", "", "./docs/?x=1"},
		{"/static/empty/", 404, "404 Not Found\n", "", ""},
		{"/static/nope.css", 404, "404 Not Found\n", "", ""},
		{"/static/style.css/", 404, "404 Not Found\n", "", ""},
		{"/elsewhere", 200, "hello", "", ""}, // not under the files route
	}
	for _, tt := range tests {
		resp, err := noRedirect.Get(tg.url(tt.path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || string(b) != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, b, tt.status, tt.body)
		}
		if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, resp.Header.Get("Content-Type"), tt.ctype)
		}
		if resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: Location %q, want %q", tt.path, resp.Header.Get("Location"), tt.location)
		}
		if tt.status == 200 && tt.ctype != "" {
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("%s: caching headers %v", tt.path, resp.Header)
			}
		}
	}
	// Following the redirect lands on the index.
	if resp, body := get(t, tg.url("/static")); resp.StatusCode != 200 || body != "<h1>home</h1>" {
		t.Errorf("/static followed: %d %q", resp.StatusCode, body)
	}
}

func TestFilesConditionalAndRange(t *testing.T) {
	tg, dir := filesGateway(t)
	resp, _ := get(t, tg.url("/static/style.css"))
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")

	do := func(header, value string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", tg.url("/static/style.css"), nil)
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := do("If-None-Match", etag); resp.StatusCode != 304 || body != "" {
		t.Errorf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do("If-None-Match", `"something-else"`); resp.StatusCode != 200 {
		t.Errorf("If-None-Match other: %d", resp.StatusCode)
	}
	if resp, _ := do("If-Modified-Since", lastMod); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", resp.StatusCode)
	}
	resp, body := do("Range", "bytes=5-9")
	if resp.StatusCode != 206 || body != "{ col" || resp.Header.Get("Content-Range") != "bytes 5-9/19" {
		t.Errorf("Range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if resp, _ := do("Range", "bytes=100-"); resp.StatusCode != 416 {
		t.Errorf("unsatisfiable Range: %d", resp.StatusCode)
	}

	// A rewritten file gets a new ETag, so the old one no longer matches.
	writeFile(t, dir, "style.css", "body { color: blue; }")
	if resp, body := do("If-None-Match", etag); resp.StatusCode != 200 || body != "body { color: blue; }" {
		t.Errorf("after a change: %d %q", resp.StatusCode, body)
	}

	head, err := http.Head(tg.url("/static/app.js"))
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len("console.log(1)")) {
		t.Errorf("HEAD: %d length %d", head.StatusCode, head.ContentLength)
	}
	post, err := http.Post(tg.url("/static/app.js"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != 405 || post.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", post.StatusCode, post.Header.Get("Allow"))
	}
}

func TestFilesCannotEscapeRoot(t *testing.T) {
	tg, _ := filesGateway(t)
	addr := tg.addr
	for _, target := range []string{
		"/static/../secret.txt",
		"/static/%2e%2e/secret.txt",
		"/static/%2E%2E%2Fsecret.txt",
		"/static/..%2fsecret.txt",
		"/static/docs/../../secret.txt",
		"/static/..\\secret.txt",
		"/static/%2e%2e%5csecret.txt",
		"/static//../secret.txt",
		"/static/escape", // a symlink pointing outside the root
		"/static/%00",
	} {
		resp, body := rawGet(t, addr, target)
		if resp.StatusCode != 404 || strings.Contains(body, "SECRET") {
			t.Errorf("GET %s: %d %q", target, resp.StatusCode, body)
		}
	}
}

func TestFilesMissingDirectory(t *testing.T) {
	sp := &fakeSpawner{funcs: map[string]fakeFunc{}}
	tg := newTestGateway(t, &config.Gateway{Routes: []*config.Route{{Prefix: "/", Files: "assets"}}}, sp,
		&config.Files{Name: "assets", Path: filepath.Join(t.TempDir(), "missing")})
	if resp, _ := get(t, tg.url("/x.css")); resp.StatusCode != 404 {
		t.Errorf("got %d", resp.StatusCode)
	}
	tg.close(t)
	if log := tg.log.String(); !strings.Contains(log, `Error in files "files.assets": cannot open its directory: `) {
		t.Errorf("log:\n%s", log)
	}
}
