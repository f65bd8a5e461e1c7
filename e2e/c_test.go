package e2e

import (
	"os"
	"path/filepath"
	"testing"
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
