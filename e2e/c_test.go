package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHelloC(t *testing.T) {
	s := start(t, project(t, "../examples/hello-c"))
	mustContain(t, s.Output(), "Building function 'hello'\n", "Compilation of function 'hello' complete (")
	code, body := get(t, s.base+"/")
	if code != 200 || body != "Hello World" {
		t.Fatalf("GET / = %d %q", code, body)
	}
}

// A compile error shows clang's messages prefixed with the function's name,
// and embly run exits non-zero.
func TestCCompileError(t *testing.T) {
	dir := project(t, "../examples/hello-c")
	os.WriteFile(filepath.Join(dir, "hello", "hello.c"), []byte("int main(void) {\n  return undefined_thing;\n}\n"), 0o644)
	out, err := runEmbly(t, dir, "run")
	if err == nil {
		t.Fatalf("embly run succeeded with a compile error:\n%s", out)
	}
	mustContain(t, out,
		"[hello]: hello.c:2:10: error: use of undeclared identifier 'undefined_thing'\n",
		`building function "hello": clang: exit status 1`,
	)
}

// Without clang, embly run says in one line what to install.
func TestCMissingToolchain(t *testing.T) {
	dir := project(t, "../examples/hello-c")
	out, err := runEmblyEnv(t, dir, []string{"PATH=" + t.TempDir()}, "run")
	if err == nil {
		t.Fatalf("embly run succeeded without clang:\n%s", out)
	}
	mustContain(t, out, `building function "hello": clang was not found on PATH: `+
		"install it with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`\n")
}

// TestCReuse: a C function with reuse = true is built as a reactor whose
// instance serves request after request as it was left, so its counter
// climbs, and what it prints reaches the log at each request; a function
// without reuse starts from scratch every time. A status other than 0 ends
// the reused instance: the next request starts from the initialized state.
func TestCReuse(t *testing.T) {
	fresh := start(t, project(t, "testdata/counter-c"))
	for i := 0; i < 3; i++ {
		if code, body := get(t, fresh.base+"/"); code != 200 || body != "hits=1" {
			t.Fatalf("without reuse, request %d = %d %q", i, code, body)
		}
	}

	s := start(t, reusingCounter(t, "testdata/counter-c"))
	for i := 1; i <= 3; i++ {
		if code, body := get(t, s.base+"/"); code != 200 || body != fmt.Sprintf("hits=%d", i) {
			t.Fatalf("with reuse, request %d = %d %q", i, code, body)
		}
		s.waitFor(regexp.MustCompile(fmt.Sprintf(`\[counter\]: request %d\n`, i)), 10*time.Second)
	}
	if code, body := get(t, s.base+"/fail"); code != 200 || body != "hits=4" {
		t.Fatalf("GET /fail = %d %q", code, body)
	}
	s.waitFor(regexp.MustCompile(`function "counter" exited with code 3`), 10*time.Second)
	if code, body := get(t, s.base+"/"); code != 200 || body != "hits=1" {
		t.Fatalf("after an exit, GET / = %d %q; want a new instance", code, body)
	}
	if out := s.Output(); strings.Contains(out, "has no effect") {
		t.Fatalf("the runtime said reuse has no effect:\n%s", out)
	}
}
