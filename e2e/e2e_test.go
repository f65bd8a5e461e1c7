// Package e2e builds the real embly binary, runs `embly run` on real
// projects with real toolchains, and talks to it with a real HTTP client.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/wasmtest"
)

var emblyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "embly-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emblyBin = filepath.Join(dir, "embly")
	build := exec.Command("go", "build", "-o", emblyBin, "../cmd/embly")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building embly: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `embly run`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT

	mu   sync.Mutex
	out  bytes.Buffer
	seen chan struct{} // closed and renewed on every output line
	done chan struct{}
}

// Output returns everything the server printed so far.
func (s *server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor polls the output for re (woken by each new line) until timeout.
func (s *server) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		m := re.FindStringSubmatch(s.out.String())
		seen := s.seen
		s.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-seen:
		case <-s.done:
			s.t.Fatalf("embly exited before printing %q:\n%s", re, s.Output())
		case <-deadline:
			s.t.Fatalf("timed out waiting for %q:\n%s", re, s.Output())
		}
	}
}

var listening = regexp.MustCompile(`HTTP gateway listening on port (\d+)`)

// start runs `embly run` in dir, with extra flags, and waits until its
// gateway listens.
func start(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, seen: make(chan struct{}), done: make(chan struct{})}
	s.cmd = exec.Command(emblyBin, append([]string{"run", "--dir", dir}, extra...)...)
	s.cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-modcacherw")
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			close(s.seen)
			s.seen = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			t.Errorf("embly did not stop on SIGTERM:\n%s", s.Output())
		}
		if t.Failed() {
			t.Logf("embly output:\n%s", s.Output())
		}
	})
	m := s.waitFor(listening, 5*time.Minute)
	s.base = "http://127.0.0.1:" + m[1]
	return s
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var portAttr = regexp.MustCompile(`port\s*=\s*\d+`)

// project copies the project at src into a temp dir, giving its gateway a
// free port, and returns the copy's path.
func project(t *testing.T, src string) string {
	t.Helper()
	dst := wasmtest.CopyProject(t, src)
	hcl := filepath.Join(dst, "embly.hcl")
	data, err := os.ReadFile(hcl)
	if err != nil {
		t.Fatal(err)
	}
	data = portAttr.ReplaceAll(data, []byte("port = "+strconv.Itoa(freePort(t))))
	if err := os.WriteFile(hcl, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// runEmbly runs embly with args and returns its combined output and error.
func runEmbly(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, emblyBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-modcacherw")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("missing %q in:\n%s", sub, s)
		}
	}
}
