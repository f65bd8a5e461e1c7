package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/embly/embly/internal/config"
)

// syncBuffer is an Out that tests read while builds write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const helloMain = `package main

import (
	"io"
	"net/http"

	embly "github.com/embly/embly/sdk/go"
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello World")
	}))
}
`

const helloMod = "module hello\n\ngo 1.26\n\nrequire github.com/embly/embly/sdk/go v0.0.0\n"

// writeFiles creates files (slash paths relative to dir) with their contents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// offlineBuilder returns a Builder for a project in dir whose go command can
// reach no network and starts from an empty module cache: whatever builds
// builds offline.
func offlineBuilder(t *testing.T, dir string) (*Builder, *syncBuffer) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out := &syncBuffer{}
	return &Builder{
		Dir: dir,
		Out: out,
		Env: []string{"GOPROXY=off", "GOFLAGS=-modcacherw", "GOMODCACHE=" + t.TempDir(), "GONOSUMDB=", "GOSUMDB=off"},
	}, out
}

func goFunction(dir, name string, sources ...string) *config.Function {
	return &config.Function{Name: name, Runtime: "go", Path: filepath.Join(dir, name), Sources: sources}
}

// checkModule checks that path is a wasip1 reactor the runtime can snapshot
// (it exports _initialize and embly_main) importing the embly ABI.
func checkModule(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseWasm(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !slices.Contains(m.exports, "_initialize") || !slices.Contains(m.exports, "embly_main") {
		t.Errorf("%s exports %v; want _initialize and embly_main", path, m.exports)
	}
	if len(m.imports["embly"]) == 0 || len(m.imports["wasi_snapshot_preview1"]) == 0 {
		t.Errorf("%s imports %v; want embly and wasi_snapshot_preview1", path, m.imports)
	}
}

func TestGoBuildOfflineAndSkip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/go.mod": helloMod, "hello/main.go": helloMain})
	b, out := offlineBuilder(t, dir)
	fn := goFunction(dir, "hello")
	ctx := context.Background()

	res, err := b.Build(ctx, fn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := filepath.Join(dir, ".embly", "build", "hello.wasm"); res.WasmPath != want || !res.Rebuilt {
		t.Fatalf("Build = %+v; want a rebuilt %s", res, want)
	}
	checkModule(t, res.WasmPath)
	if got := out.String(); !strings.HasPrefix(got, "Building function 'hello'\n") {
		t.Errorf("output %q; want it to start with Building function 'hello'", got)
	}
	if m, err := parseWasm(mustRead(t, res.WasmPath)); err == nil {
		for _, name := range []string{"_read", "_write", "_events", "_close"} {
			if !slices.Contains(m.imports["embly"], name) {
				t.Errorf("embly imports %v lack %s", m.imports["embly"], name)
			}
		}
	}
	for _, p := range []string{"hello/go.sum", ".embly/sdk/go/go.mod", ".embly/sdk/go/http.go", ".embly/build/hello/go.work"} {
		_, err := os.Stat(filepath.Join(dir, p))
		if want := p != "hello/go.sum"; (err == nil) != want {
			t.Errorf("%s exists: %v; want %v", p, err == nil, want)
		}
	}

	res, err = b.Build(ctx, fn)
	if err != nil || res.Rebuilt {
		t.Fatalf("second Build = %+v, %v; want it skipped", res, err)
	}
	if !strings.HasSuffix(out.String(), "Function 'hello' is up to date\n") {
		t.Errorf("output %q; want it to end with the up-to-date line", out)
	}

	writeFiles(t, dir, map[string]string{"hello/main.go": strings.Replace(helloMain, "Hello World", "Hello again", 1)})
	if res, err = b.Build(ctx, fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build after an edit = %+v, %v; want a rebuild", res, err)
	}
	if !bytes.Contains(mustRead(t, res.WasmPath), []byte("Hello again")) {
		t.Error("the rebuilt module lacks the edited string")
	}

	// A deleted module is rebuilt even though the sources did not change.
	os.Remove(res.WasmPath)
	if res, err = b.Build(ctx, fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build after the module vanished = %+v, %v; want a rebuild", res, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The user's GOFLAGS=-mod=mod would make workspace mode fail; a go.mod
// requiring another v0 version of the SDK still gets the embedded one.
func TestGoBuildUserSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"fn/go.mod":  strings.NewReplacer("hello", "fn", "v0.0.0", "v0.4.2").Replace(helloMod),
		"fn/main.go": helloMain,
	})
	b, out := offlineBuilder(t, dir)
	b.Env = append(b.Env, "GOFLAGS=-mod=mod -modcacherw")
	res, err := b.Build(context.Background(), goFunction(dir, "fn"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkModule(t, res.WasmPath)
}

func TestGoCompileError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad/go.mod":  "module bad\n\ngo 1.26\n",
		"bad/main.go": "package main\n\nfunc main() {\n\tundefinedThing()\n}\n",
	})
	b, out := offlineBuilder(t, dir)
	_, err := b.Build(context.Background(), goFunction(dir, "bad"))
	if err == nil || err.Error() != `building function "bad": exit status 1` {
		t.Fatalf("err = %v; want the exit status", err)
	}
	if !strings.Contains(out.String(), "\n[bad]: ./main.go:4:2: undefined: undefinedThing\n") {
		t.Errorf("output lacks the prefixed compiler error:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:] {
		if !strings.HasPrefix(line, "[bad]: ") {
			t.Errorf("unprefixed toolchain line %q", line)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".embly", "build", "bad.wasm")); err == nil {
		t.Error("a failed build left a module")
	}
}

func TestGoNoGoMod(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"nomod/main.go": helloMain})
	b, _ := offlineBuilder(t, dir)
	_, err := b.Build(context.Background(), goFunction(dir, "nomod"))
	if err == nil || !strings.Contains(err.Error(), "no go.mod in "+filepath.Join(dir, "nomod")) {
		t.Fatalf("err = %v; want it to say there is no go.mod", err)
	}
	_, err = b.Build(context.Background(), goFunction(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "source directory") {
		t.Fatalf("err = %v; want it to say the directory is missing", err)
	}
}

func TestGoMissingToolchain(t *testing.T) {
	// Not parallel: it empties PATH.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/go.mod": helloMod, "hello/main.go": helloMain})
	t.Setenv("PATH", t.TempDir())
	_, err := (&Builder{Dir: dir}).Build(context.Background(), goFunction(dir, "hello"))
	if err == nil || !strings.Contains(err.Error(), "go command was not found on PATH: install Go") {
		t.Fatalf("err = %v; want the install hint", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("err %q spans lines; want one", err)
	}
}

func TestWasmRuntime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ok.wasm":  "\x00asm\x01\x00\x00\x00",
		"bad.wasm": "#!/bin/sh\n",
		"short":    "\x00a",
		"dir/x":    "",
	})
	for _, tc := range []struct{ file, err string }{
		{"ok.wasm", ""},
		{"bad.wasm", "is not a WebAssembly module"},
		{"short", "is not a WebAssembly module"},
		{"dir", "is a directory"},
		{"nope.wasm", "does not exist"},
	} {
		path := filepath.Join(dir, tc.file)
		res, err := (&Builder{Dir: dir}).Build(context.Background(), &config.Function{Name: "w", Runtime: "wasm", Path: path})
		switch {
		case tc.err == "" && (err != nil || res.WasmPath != path || res.Rebuilt):
			t.Errorf("%s: Build = %+v, %v; want the file as is", tc.file, res, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v; want %q", tc.file, err, tc.err)
		case err != nil && !strings.HasPrefix(err.Error(), `building function "w": `):
			t.Errorf("%s: err = %v; want it to name the function", tc.file, err)
		}
	}
}

func TestUnknownRuntime(t *testing.T) {
	t.Parallel()
	_, err := (&Builder{Dir: t.TempDir()}).Build(context.Background(), &config.Function{Name: "f", Runtime: "cobol", Path: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "unknown runtime") {
		t.Errorf("err = %v; want unknown runtime", err)
	}
}

func TestSourceFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod": "", "main.go": "", "README.md": "",
		"pkg/a.go": "", "pkg/deep/b.go": "", "assets/logo.svg": "",
		".embly/build/x.wasm": "", "target/debug/y": "", ".git/HEAD": "", "sub/target/z": "",
	})
	for _, tc := range []struct {
		patterns []string
		want     string
	}{
		{nil, "README.md assets/logo.svg go.mod main.go pkg/a.go pkg/deep/b.go"},
		{[]string{"*.go"}, "go.mod main.go"},
		{[]string{"**/*.go"}, "go.mod main.go pkg/a.go pkg/deep/b.go"},
		{[]string{"pkg"}, "go.mod pkg/a.go pkg/deep/b.go"},
		{[]string{"./pkg/**", "assets/*.svg"}, "assets/logo.svg go.mod pkg/a.go pkg/deep/b.go"},
		{[]string{"pkg/*/*.go"}, "go.mod pkg/deep/b.go"},
	} {
		files, err := sourceFiles(dir, tc.patterns)
		if got := strings.Join(files, " "); err != nil || got != tc.want {
			t.Errorf("sourceFiles(%q) = %q, %v; want %q", tc.patterns, got, err, tc.want)
		}
	}
	if _, err := sourceFiles(dir, []string{"[z-a"}); err == nil || !strings.Contains(err.Error(), `"[z-a"`) {
		t.Errorf("bad pattern: err = %v", err)
	}
}

// Only the files a function's Sources name decide whether it is rebuilt.
func TestInputsHash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f/go.mod": "module f\n", "f/main.go": "package main\n", "f/notes.txt": "a"})
	fn := &config.Function{Name: "f", Runtime: "go", Path: filepath.Join(dir, "f"), Sources: []string{"*.go"}}
	hash := func() string {
		t.Helper()
		h, err := inputsHash(fn, "stamp")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := hash()
	writeFiles(t, dir, map[string]string{"f/notes.txt": "b"})
	if hash() != first {
		t.Error("a file outside Sources changed the hash")
	}
	writeFiles(t, dir, map[string]string{"f/go.mod": "module f\n\ngo 1.26\n"})
	second := hash()
	if second == first {
		t.Error("go.mod did not change the hash")
	}
	// Moving bytes between files changes it too.
	writeFiles(t, dir, map[string]string{"f/main.go": "package main\n\n", "f/go.mod": "module f\n\ngo 1.26"})
	if hash() == second {
		t.Error("moving a byte between files kept the hash")
	}
	if h, _ := inputsHash(fn, "other stamp"); h == hash() {
		t.Error("the toolchain stamp did not change the hash")
	}
}

func TestWriteSDK(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sdk", "go")
	if err := writeSDK(dir); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	stale := filepath.Join(dir, "removed.go")
	writeFiles(t, dir, map[string]string{"removed.go": "package embly\n"})
	modified := filepath.Join(dir, "http.go")
	os.WriteFile(modified, []byte("package embly // edited\n"), 0o644)
	for _, p := range []string{filepath.Join(dir, "conn.go"), modified} {
		os.Chtimes(p, old, old)
	}
	if err := writeSDK(dir); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "conn.go")); !info.ModTime().Equal(old) {
		t.Error("an unchanged SDK file was rewritten")
	}
	if info, _ := os.Stat(modified); info.ModTime().Equal(old) || bytes.Contains(mustRead(t, modified), []byte("edited")) {
		t.Error("an edited SDK file was not restored")
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a file the SDK does not have was kept")
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasSuffix(e.Name(), "_test.go") || strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("SDK copy holds %s", e.Name())
		}
	}
	if !slices.Contains(names, "go.mod") || !slices.Contains(names, "sys_wasip1.go") {
		t.Errorf("SDK copy holds %v", names)
	}
}

func TestGoWorkVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f/go.mod": "module f\n\ngo 1.25.3\n"})
	fn := &config.Function{Name: "f", Path: filepath.Join(dir, "f")}
	for _, tc := range []struct{ goVersion, want string }{
		{"go1.26.8", "go 1.26.8"},
		{"go1.27rc1", "go 1.27rc1"},
		{"devel go1.27-0123abcd Tue Nov 4 2025", "go 1.25.3"},
	} {
		work := filepath.Join(dir, "go.work")
		if err := writeGoWork(work, fn, tc.goVersion, "/sdk"); err != nil {
			t.Fatal(err)
		}
		got := string(mustRead(t, work))
		if !strings.Contains(got, "\n"+tc.want+"\n") || !strings.Contains(got, fmt.Sprintf("\t%q\n\t\"/sdk\"\n", fn.Path)) {
			t.Errorf("go.work for %s:\n%s\nwant %q and both modules", tc.goVersion, got, tc.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	b := &Builder{Out: &out}
	w := b.lineWriter("[f]: ")
	for _, s := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		w.Write([]byte(s))
	}
	w.Close()
	if want := "[f]: one\n[f]: two\n[f]: three\n[f]: four\n"; out.String() != want {
		t.Errorf("got %q; want %q", out.String(), want)
	}
}

// Functions of one project build side by side with one Builder: they share
// the SDK copy and Out.
func TestConcurrentBuilds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := []string{"a", "b", "c"}
	for _, n := range names {
		writeFiles(t, dir, map[string]string{n + "/go.mod": strings.Replace(helloMod, "hello", n, 1), n + "/main.go": helloMain})
	}
	b, out := offlineBuilder(t, dir)
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			_, err := b.Build(context.Background(), goFunction(dir, n))
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	for _, n := range names {
		if !strings.Contains(out.String(), "Building function '"+n+"'\n") {
			t.Errorf("output lacks the line for %s:\n%s", n, out)
		}
		checkModule(t, filepath.Join(dir, ".embly", "build", n+".wasm"))
	}
}

func TestGoLineNewerThanToolchain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f/go.mod": "module f\n\ngo 1.99\n", "f/main.go": "package main\n\nfunc main() {}\n"})
	b, out := offlineBuilder(t, dir)
	_, err := b.Build(context.Background(), goFunction(dir, "f"))
	if err == nil || !strings.Contains(err.Error(), "go.mod says go 1.99, but the go command on PATH is go1.") {
		t.Fatalf("err = %v; want it to name both versions", err)
	}
	if out.String() != "" {
		t.Errorf("output %q; want nothing, the toolchain did not run", out)
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"1.26.8", "1.99", true},
		{"1.26.8", "1.26", false},
		{"1.26", "1.26.0", false},
		{"1.26.8", "1.26.10", true},
		{"1.27rc1", "1.27", true},
		{"1.27rc1", "1.26.9", false},
		{"1.27.0", "1.27rc2", false},
	} {
		if got := versionLess(tc.a, tc.b); got != tc.less {
			t.Errorf("versionLess(%s, %s) = %v; want %v", tc.a, tc.b, got, tc.less)
		}
	}
}
