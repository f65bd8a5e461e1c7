package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The seed's Rust hello world, unchanged (edition 2015, embly = "0.0.4"),
// builds offline and serves Hello World.
func TestHelloRust(t *testing.T) {
	s := start(t, project(t, "../examples/hello-rust"))
	mustContain(t, s.Output(),
		"Building function 'hello'\n",
		"[hello]:    Compiling embly v0.0.4+embly.",
		"Compilation of function 'hello' complete (",
	)
	code, body := get(t, s.base+"/")
	if code != 200 || body != "Hello World" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	s.waitFor(regexp.MustCompile(`Processing by function "function\.hello"\nCompleted 200 OK in `), 10*time.Second)
}

// The later seed variant: edition 2018, embly = "0.0.5", an async handler
// that owns its ResponseWriter.
func TestHelloRustAsync(t *testing.T) {
	s := start(t, project(t, "../examples/hello-rust-async"))
	mustContain(t, s.Output(), "[hello]:    Compiling embly v0.0.5+embly.")
	code, body := get(t, s.base+"/")
	if code != 200 || body != "Hello World" {
		t.Fatalf("GET / = %d %q", code, body)
	}
}

// A Rust function spawns a C function and relays its answer.
func TestSpawnRustExample(t *testing.T) {
	s := start(t, project(t, "../examples/spawn-rust"))
	code, body := get(t, s.base+"/?msg=hi")
	if code != 200 || body != "back got: hi" {
		t.Fatalf("GET /?msg=hi = %d %q", code, body)
	}
	resp, err := http.Post(s.base+"/", "text/plain", strings.NewReader("from the body\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(answer) != "back got: from the body" {
		t.Fatalf("POST / = %d %q", resp.StatusCode, answer)
	}
}

// A compile error shows rustc's messages prefixed with the function's name,
// and embly run exits non-zero.
func TestRustCompileError(t *testing.T) {
	dir := project(t, "../examples/hello-rust")
	os.WriteFile(filepath.Join(dir, "hello", "src", "main.rs"), []byte("fn main() {\n    undefined_thing();\n}\n"), 0o644)
	out, err := runEmbly(t, dir, "run")
	if err == nil {
		t.Fatalf("embly run succeeded with a compile error:\n%s", out)
	}
	mustContain(t, out,
		"[hello]: error[E0425]: cannot find function `undefined_thing` in this scope\n",
		"[hello]:  --> src/main.rs:2:5\n",
		`building function "hello": cargo build: exit status 101`,
	)
	if _, err := os.Stat(filepath.Join(dir, "hello", "Cargo.lock")); err == nil {
		t.Error("the build wrote a Cargo.lock into the function's folder")
	}
}

// Without a Rust toolchain, embly run says in one line what to install.
func TestRustMissingToolchain(t *testing.T) {
	dir := project(t, "../examples/hello-rust")
	out, err := runEmblyEnv(t, dir, []string{"PATH=" + t.TempDir(), "RUSTC="}, "run")
	if err == nil {
		t.Fatalf("embly run succeeded without a Rust toolchain:\n%s", out)
	}
	want := `building function "hello": no Rust toolchain found (no rustc on PATH): ` +
		"install Debian's with `apt-get install rustc cargo libstd-rust-dev-wasm32 librust-http-dev`, " +
		"or add the target to a rustup toolchain with `rustup target add wasm32-wasip1`\n"
	mustContain(t, out, want)
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("a stack trace:\n%s", out)
	}
}

// runEmblyEnv is runEmbly with env added last (so it wins).
func runEmblyEnv(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, emblyBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOPROXY=off", "GOFLAGS=-modcacherw"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
