// Package wasmtest builds small C guests with clang for tests, the same way
// outside tests build theirs against the ABI in sdk/c/embly.h.
package wasmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// SDKDir returns the absolute path of sdk/c.
func SDKDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "sdk", "c")
}

// BuildC compiles the C source src to a wasm32-wasi command with clang and
// returns the module's bytes; flags are added to clang's (for example
// -mexec-model=reactor). It fails the test with the install hint when clang
// or wasi-libc is missing.
func BuildC(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Fatal("clang not found: install it with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "guest.c"), filepath.Join(dir, "guest.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--target=wasm32-wasi", "-O2", "-I", SDKDir(), "-o", out, in}, flags...)
	cmd := exec.Command(clang, args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}
