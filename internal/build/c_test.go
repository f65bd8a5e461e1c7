package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/wasmtest"
)

const helloC = `#include "embly.h"
#include <string.h>

int main(void) {
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World";
  return embly_write_all(1, resp, strlen(resp));
}
`

// cBuilder returns a Builder for dir, skipping the test without clang.
func cBuilder(t *testing.T, dir string) (*Builder, *syncBuffer) {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("no clang")
	}
	out := &syncBuffer{}
	return &Builder{Dir: dir, Out: out}, out
}

// checkCommand checks that path is a wasi command module (it exports
// _start) importing the embly ABI, as Rust and C functions are.
func checkCommand(t *testing.T, path string) {
	t.Helper()
	m, err := parseWasm(mustRead(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !slices.Contains(m.exports, "_start") {
		t.Errorf("%s exports %v; want _start", path, m.exports)
	}
	if len(m.imports["embly"]) == 0 || len(m.imports["wasi_snapshot_preview1"]) == 0 {
		t.Errorf("%s imports %v; want embly and wasi_snapshot_preview1", path, m.imports)
	}
}

func cFunction(dir, name string) *config.Function {
	return &config.Function{Name: name, Runtime: "c", Path: filepath.Join(dir, name)}
}

func TestCBuildAndSkip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"hello/main.c":   helloC,
		"hello/extra.c":  "int extra_answer(void) { return 42; }\n",
		"hello/README":   "not a source",
		"hello/sub/x.c":  "this is not compiled: only the folder's own .c files are",
		"hello/helper.h": "int extra_answer(void);\n",
	})
	b, out := cBuilder(t, dir)
	fn := cFunction(dir, "hello")
	ctx := context.Background()

	res, err := b.Build(ctx, fn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkCommand(t, res.WasmPath)
	if bytes.Contains(mustRead(t, res.WasmPath), []byte("embly_write_all")) {
		t.Error("the module keeps symbol names; want them stripped")
	}
	if got := mustRead(t, filepath.Join(dir, ".embly", "sdk", "c", "embly.h")); !bytes.Contains(got, []byte("EMBLY_IMPORT(\"_events\")")) {
		t.Error(".embly/sdk/c/embly.h is not the SDK's header")
	}

	if res, err = b.Build(ctx, fn); err != nil || res.Rebuilt {
		t.Fatalf("second Build = %+v, %v; want it skipped", res, err)
	}
	writeFiles(t, dir, map[string]string{"hello/main.c": strings.Replace(helloC, "Hello World", "Hello again", 1)})
	if res, err = b.Build(ctx, fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build after an edit = %+v, %v", res, err)
	}
	if !bytes.Contains(mustRead(t, res.WasmPath), []byte("Hello again")) {
		t.Error("the rebuilt module lacks the edited string")
	}
}

// TestCReuseBuildsReactor: with reuse = true a C function is built as a
// reactor (_initialize and embly_main, no _start), and turning reuse on
// or off rebuilds it.
func TestCReuseBuildsReactor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/main.c": helloC})
	b, out := cBuilder(t, dir)
	fn := cFunction(dir, "hello")
	fn.Reuse = true
	ctx := context.Background()

	res, err := b.Build(ctx, fn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m, err := parseWasm(mustRead(t, res.WasmPath))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.exports, "_initialize") || !slices.Contains(m.exports, "embly_main") || slices.Contains(m.exports, "_start") {
		t.Errorf("exports %v; want _initialize and embly_main, no _start", m.exports)
	}
	fn.Reuse = false
	if res, err = b.Build(ctx, fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build without reuse = %+v, %v; want a rebuild", res, err)
	}
	checkCommand(t, res.WasmPath)
}

func TestCCompileError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad/main.c": "int main(void) {\n  return undefined_thing;\n}\n"})
	b, out := cBuilder(t, dir)
	_, err := b.Build(context.Background(), cFunction(dir, "bad"))
	if err == nil || err.Error() != `building function "bad": clang: exit status 1` {
		t.Fatalf("err = %v; want clang's exit status", err)
	}
	if !strings.Contains(out.String(), "\n[bad]: main.c:2:10: error: use of undeclared identifier 'undefined_thing'\n") {
		t.Errorf("output lacks the prefixed compiler error:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:] {
		if !strings.HasPrefix(line, "[bad]: ") {
			t.Errorf("unprefixed toolchain line %q", line)
		}
	}
}

func TestCNoSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"empty/README": ""})
	b, _ := cBuilder(t, dir)
	_, err := b.Build(context.Background(), cFunction(dir, "empty"))
	if err == nil || !strings.Contains(err.Error(), "no .c files in "+filepath.Join(dir, "empty")) {
		t.Fatalf("err = %v; want it to say there are no .c files", err)
	}
}

func TestCMissingToolchain(t *testing.T) {
	// Not parallel: it changes PATH.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/main.c": helloC})
	t.Setenv("PATH", t.TempDir())
	_, err := (&Builder{Dir: dir}).Build(context.Background(), cFunction(dir, "hello"))
	want := "clang was not found on PATH: install it with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v; want %q", err, want)
	}

	// A clang that cannot find wasi-libc: one that reports no libc.a.
	bin := t.TempDir()
	writeFiles(t, bin, map[string]string{"clang": "#!/bin/sh\ncase \"$2\" in\n-print-file-name=*) echo libc.a ;;\n*) echo clang version 0 ;;\nesac\n"})
	os.Chmod(filepath.Join(bin, "clang"), 0o755)
	t.Setenv("PATH", bin)
	_, err = (&Builder{Dir: dir}).Build(context.Background(), cFunction(dir, "hello"))
	want = "clang cannot build wasm32-wasi programs: wasi-libc is missing; install it with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v; want %q", err, want)
	}
}

func TestCExampleBuilds(t *testing.T) {
	t.Parallel()
	dir := wasmtest.CopyProject(t, filepath.Join("..", "..", "examples", "hello-c"))
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, out := cBuilder(t, dir)
	for _, fn := range proj.Functions {
		res, err := b.Build(context.Background(), fn)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		checkCommand(t, res.WasmPath)
	}
}
