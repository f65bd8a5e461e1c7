package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProxyExample runs examples/proxy against a local upstream that its
// embly.hcl allows, and checks what embly/http lets through and refuses.
func TestProxyExample(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "tick 1\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
		io.WriteString(w, "tick 2\n")
	}))
	defer upstream.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused request reached the other upstream")
	}))
	defer other.Close()

	dir := project(t, "../examples/proxy")
	hcl := filepath.Join(dir, "embly.hcl")
	src, err := os.ReadFile(hcl)
	if err != nil {
		t.Fatal(err)
	}
	allow := regexp.MustCompile(`allowed_hosts\s*=\s*\[.*\]`)
	src = allow.ReplaceAll(src, []byte(`allowed_hosts = ["`+upstream.URL+`"]`))
	if err := os.WriteFile(hcl, src, 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, dir)
	via := func(target string) string { return s.base + "/?url=" + url.QueryEscape(target) }

	t.Run("allowed, streamed", func(t *testing.T) {
		resp, err := http.Get(via(upstream.URL + "/stream"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "yes" {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
		br := bufio.NewReader(resp.Body)
		// The first line arrives while the upstream still holds the second.
		if line, err := br.ReadString('\n'); err != nil || line != "tick 1\n" {
			t.Fatalf("first line = %q, %v", line, err)
		}
		close(release)
		if rest, err := io.ReadAll(br); err != nil || string(rest) != "tick 2\n" {
			t.Fatalf("rest = %q, %v", rest, err)
		}
	})

	for _, tc := range []struct{ name, target, msg string }{
		{"not listed", "https://not-listed.example/",
			`embly/http: https://not-listed.example is not in allowed_hosts of function "proxy"; add "https://not-listed.example" to reach it`},
		{"loopback not listed", other.URL + "/",
			`embly/http: ` + other.URL + ` is not in allowed_hosts of function "proxy"`},
		{"localhost not listed", "http://localhost:" + strconv.Itoa(other.Listener.Addr().(*net.TCPAddr).Port) + "/",
			`is not in allowed_hosts of function "proxy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, via(tc.target))
			if code != http.StatusForbidden || !strings.Contains(body, tc.msg) {
				t.Fatalf("got %d %q, want 403 saying %q", code, body, tc.msg)
			}
		})
	}
	s.waitFor(regexp.MustCompile(`\[proxy\]: embly/http: GET https://not-listed\.example/ refused: `), 10*time.Second)
}
