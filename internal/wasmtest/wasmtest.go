// Package wasmtest holds test helpers for guests: it builds small C guests
// with clang, the same way outside tests build theirs against the ABI in
// sdk/c/embly.h, and copies example projects out of the repository.
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

// CopyProject copies the project directory src into a new temporary
// directory, leaving out its .embly state, and returns the copy's path: a
// test builds and runs an example there without touching the repository.
func CopyProject(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".embly" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
