package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/wasmtest"
)

// wasmProject writes a project of prebuilt C guests (runtime = "wasm"), one
// route per guest at /NAME, and returns its directory.
func wasmProject(t *testing.T, guests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var hcl strings.Builder
	for name, file := range guests {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasmtest.BuildC(t, string(src)), 0o644); err != nil {
			t.Fatal(err)
		}
		hcl.WriteString("function \"" + name + "\" {\n  runtime = \"wasm\"\n  path = \"./" + name + ".wasm\"\n}\n")
	}
	hcl.WriteString("gateway {\n  type = \"http\"\n  port = " + strconv.Itoa(freePort(t)) + "\n")
	for name := range guests {
		hcl.WriteString("  route \"/" + name + "\" {\n    function = \"${function." + name + "}\"\n  }\n")
	}
	hcl.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "embly.hcl"), []byte(hcl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHelloGo(t *testing.T) {
	s := start(t, project(t, "../examples/hello-go"))
	mustContain(t, s.Output(),
		"Building function 'hello'\n",
		"Compiling hello.wasm to a local object file\n",
		"Compilation of function 'hello' complete (",
		"Starting dev server\n",
	)
	code, body := get(t, s.base+"/")
	if code != 200 || body != "Hello World" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	s.waitFor(regexp.MustCompile(`Started GET "/" for 127\.0\.0\.1:\d+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [-+]\d{4}\n`+
		`Processing by function "function\.hello"\n`+
		`Completed 200 OK in [0-9.]+(µs|ms|s)\n`), 10*time.Second)
}

func TestRestartSkipsBuildAndCompile(t *testing.T) {
	dir := project(t, "../examples/hello-go")
	out, err := runEmbly(t, dir, "build")
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, out)
	}
	out, err = runEmbly(t, dir, "build")
	if err != nil {
		t.Fatalf("second build: %v\n%s", err, out)
	}
	if strings.Contains(out, "[hello]: ") {
		t.Errorf("second build ran the toolchain again:\n%s", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, ".embly", "cache")); len(entries) == 0 {
		t.Error("no compilation cache under .embly/cache")
	}
	s := start(t, dir)
	if code, body := get(t, s.base+"/"); body != "Hello World" {
		t.Fatalf("GET / after restart = %d %q", code, body)
	}
}

func TestSpawnGoExample(t *testing.T) {
	s := start(t, project(t, "../examples/spawn-go"))
	code, body := get(t, s.base+"/")
	if code != 200 || !strings.Contains(body, "back got:") {
		t.Fatalf("GET / = %d %q", code, body)
	}
}

func TestFilesExample(t *testing.T) {
	s := start(t, project(t, "../examples/files"))
	resp, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" || len(body) == 0 {
		t.Fatalf("missing caching headers or body: %v", resp.Header)
	}
	req, _ := http.NewRequest("GET", s.base+"/", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET = %d, want 304", resp.StatusCode)
	}
}

func TestWasmGuests(t *testing.T) {
	rt := "../internal/runtime/testdata/"
	s := start(t, wasmProject(t, map[string]string{
		"hello":        rt + "hello.c",
		"echo":         "testdata/httpecho.c",
		"relay":        "testdata/relay.c",
		"spawnmissing": "testdata/spawnmissing.c",
		"garbage":      "testdata/garbage.c",
		"trap":         rt + "trap.c",
		"stream":       "testdata/stream.c",
	}))

	t.Run("hello", func(t *testing.T) {
		if code, body := get(t, s.base+"/hello"); code != 200 || body != "Hello World" {
			t.Fatalf("= %d %q", code, body)
		}
	})
	t.Run("echo 100KB", func(t *testing.T) {
		want := make([]byte, 100<<10)
		rand.Read(want)
		resp, err := http.Post(s.base+"/echo", "application/octet-stream", bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("= %d, %d bytes back, want %d", resp.StatusCode, len(got), len(want))
		}
	})
	t.Run("spawn", func(t *testing.T) {
		if code, body := get(t, s.base+"/relay"); code != 200 || body != "Hello World" {
			t.Fatalf("= %d %q", code, body)
		}
	})
	t.Run("spawn unknown", func(t *testing.T) {
		if code, body := get(t, s.base+"/spawnmissing"); code != 200 || body != "errno=44" {
			t.Fatalf("= %d %q", code, body)
		}
	})
	t.Run("garbage is 502", func(t *testing.T) {
		code, body := get(t, s.base+"/garbage")
		if code != 502 || strings.Contains(body, "not HTTP") {
			t.Fatalf("= %d %q", code, body)
		}
		s.waitFor(regexp.MustCompile(`Completed 502 Bad Gateway`), 10*time.Second)
	})
	t.Run("trap is 500", func(t *testing.T) {
		code, body := get(t, s.base+"/trap")
		if code != 500 || strings.Contains(body, "unreachable") {
			t.Fatalf("= %d %q", code, body)
		}
		s.waitFor(regexp.MustCompile(`trap.*unreachable|unreachable.*trap`), 10*time.Second)
	})
	t.Run("stream", func(t *testing.T) {
		resp, err := http.Get(s.base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		first, err := r.ReadString('\n')
		if err != nil || first != "first\n" {
			t.Fatalf("first piece = %q, %v", first, err)
		}
		rest, _ := io.ReadAll(r)
		if string(rest) != "second\n" {
			t.Fatalf("rest = %q", rest)
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	s := start(t, wasmProject(t, map[string]string{"slow": "testdata/slow.c"}))
	type result struct {
		code int
		body string
	}
	got := make(chan result)
	go func() {
		resp, err := http.Get(s.base + "/slow")
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp.StatusCode, string(b)}
	}()
	s.waitFor(regexp.MustCompile(`Started GET "/slow"`), 10*time.Second)
	s.cmd.Process.Signal(syscall.SIGTERM)
	if r := <-got; r.code != 200 || r.body != "slow" {
		t.Fatalf("in-flight request = %d %q, want it to finish", r.code, r.body)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("embly did not exit after SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	hcl := "function \"hello\" {\n  runtime = \"wasm\"\n  pth = \"./hello.wasm\"\n}\n"
	os.WriteFile(filepath.Join(dir, "embly.hcl"), []byte(hcl), 0o644)
	out, err := runEmbly(t, dir, "run")
	if err == nil {
		t.Fatalf("embly run accepted a bad config:\n%s", out)
	}
	mustContain(t, out, "embly.hcl:3:3", `pth = "./hello.wasm"`, `"path"`)
	if strings.Contains(out, "goroutine ") {
		t.Fatalf("stack trace in output:\n%s", out)
	}
}

func TestPortInUse(t *testing.T) {
	dir := wasmProject(t, map[string]string{"hello": "../internal/runtime/testdata/hello.c"})
	s := start(t, dir)
	out, err := runEmbly(t, dir, "run")
	if err == nil {
		t.Fatalf("second embly run on the same port succeeded:\n%s", out)
	}
	port := strings.TrimPrefix(s.base, "http://127.0.0.1:")
	mustContain(t, out, "port "+port, "in use")
	if strings.Contains(out, "goroutine ") {
		t.Fatalf("stack trace in output:\n%s", out)
	}
}

func TestNewScaffold(t *testing.T) {
	parent := t.TempDir()
	if out, err := runEmbly(t, parent, "new", "hello", "--lang", "go"); err != nil {
		t.Fatalf("embly new: %v\n%s", err, out)
	}
	s := start(t, project(t, filepath.Join(parent, "hello")))
	if code, body := get(t, s.base+"/"); code != 200 || body != "Hello World" {
		t.Fatalf("GET / = %d %q", code, body)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, err := runEmbly(t, t.TempDir(), "version")
	if err != nil || !strings.HasPrefix(out, "embly ") {
		t.Fatalf("version: %v %q", err, out)
	}
	out, err = runEmbly(t, t.TempDir(), "--help")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "run", "build", "new", "version")
}

// TestGoInvocationsAreIsolated: a Go function's globals, maps and heap
// start from the snapshot taken after initialization on every request.
func TestGoInvocationsAreIsolated(t *testing.T) {
	s := start(t, project(t, "testdata/counter-go"))
	for i := 0; i < 5; i++ {
		if code, body := get(t, s.base+"/same"); code != 200 || body != "hits=1 seen=1 cache=1048576" {
			t.Fatalf("request %d = %d %q; state leaked between invocations", i, code, body)
		}
	}
}

// TestGoReuse: with reuse = true one instance serves request after request
// as it was left, so the counter climbs, and every request is still answered.
func TestGoReuse(t *testing.T) {
	s := start(t, reusingCounter(t, "testdata/counter-go"))
	for i := 1; i <= 5; i++ {
		code, body := get(t, s.base+"/same")
		if want := fmt.Sprintf("hits=%d seen=%d cache=%d", i, i, i<<20); code != 200 || body != want {
			t.Fatalf("request %d = %d %q, want %q", i, code, body, want)
		}
	}
}

// reusingCounter copies the counter project src (its function at
// ./counter) and declares the function with reuse = true.
func reusingCounter(t *testing.T, src string) string {
	t.Helper()
	dir := project(t, src)
	hcl := filepath.Join(dir, "embly.hcl")
	conf, err := os.ReadFile(hcl)
	if err != nil {
		t.Fatal(err)
	}
	conf = bytes.Replace(conf, []byte(`path    = "./counter"`), []byte("path    = \"./counter\"\n  reuse   = true"), 1)
	if err := os.WriteFile(hcl, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
