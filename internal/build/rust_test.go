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

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/wasmtest"
)

// The seed's hello world, exactly: edition 2015, embly 0.0.4.
const (
	seedCargo = "[package]\nname = \"hello\"\nversion = \"0.0.1\"\n\n[dependencies]\nembly = \"0.0.4\"\n"
	seedMain  = `extern crate embly;
use embly::http::{Body, Request, ResponseWriter, run};
use embly::prelude::*;
use embly::Error;

fn execute(_req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error>{
    w.write_all(b"Hello World")?;
    Ok(())
}

fn main() -> Result<(), Error> {
    run(execute)
}
`
)

// rustBuilder returns a Builder for dir, skipping the test when this
// machine has no Rust toolchain for wasm.
func rustBuilder(t *testing.T, dir string) (*Builder, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	b := &Builder{Dir: dir, Out: out}
	if _, err := b.findRust(context.Background(), &config.Function{Path: dir}); err != nil {
		t.Skip(err)
	}
	return b, out
}

func rustFunction(dir, name string) *config.Function {
	return &config.Function{Name: name, Runtime: "rust", Path: filepath.Join(dir, name)}
}

// listTree returns the paths under dir, to check that a build left the
// user's folder alone.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		paths = append(paths, rel)
		return err
	})
	return paths
}

func TestRustBuildOfflineAndSkip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/Cargo.toml": seedCargo, "hello/src/main.rs": seedMain})
	before := listTree(t, filepath.Join(dir, "hello"))
	b, out := rustBuilder(t, dir)
	fn := rustFunction(dir, "hello")
	ctx := context.Background()

	res, err := b.Build(ctx, fn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkCommand(t, res.WasmPath)
	wasm := mustRead(t, res.WasmPath)
	if bytes.Contains(wasm, []byte(".debug_info")) {
		t.Error("the module has debug info; want it stripped")
	}
	if after := listTree(t, filepath.Join(dir, "hello")); !slices.Equal(before, after) {
		t.Errorf("the build changed the function's folder: %v -> %v", before, after)
	}
	if !strings.Contains(out.String(), "[hello]:    Compiling embly v0.0.4+embly.") {
		t.Errorf("output lacks the embedded SDK at version 0.0.4:\n%s", out)
	}

	res, err = b.Build(ctx, fn)
	if err != nil || res.Rebuilt {
		t.Fatalf("second Build = %+v, %v; want it skipped", res, err)
	}

	writeFiles(t, dir, map[string]string{"hello/src/main.rs": strings.Replace(seedMain, "Hello World", "Hello again", 1)})
	if res, err = b.Build(ctx, fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build after an edit = %+v, %v\n%s", res, err, out)
	}
	if !bytes.Contains(mustRead(t, res.WasmPath), []byte("Hello again")) {
		t.Error("the rebuilt module lacks the edited string")
	}
}

// A project that is a cargo workspace, whose function depends on a sibling
// crate by a relative path, builds too; editing the sibling rebuilds.
func TestRustWorkspaceAndPathDependency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Cargo.toml":             "[workspace]\nmembers = [\"fns/hello\", \"shared\"]\n",
		"shared/Cargo.toml":      "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2018\"\n",
		"shared/src/lib.rs":      "pub const GREETING: &str = \"Hello from shared\";\n",
		"fns/hello/Cargo.toml":   "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2018\"\n\n[dependencies]\nembly = \"0.1\"\nshared = { path = \"../../shared\" }\n",
		"fns/hello/src/main.rs":  "use embly::prelude::*;\n\nfn main() -> Result<(), embly::Error> {\n    embly::http::run(|_req, w| Ok(w.write_all(shared::GREETING.as_bytes())?))\n}\n",
		"fns/hello/Cargo.lock":   "this lock is the user's and is not used\n",
		"fns/hello/target/stale": "not a source",
	})
	b, out := rustBuilder(t, dir)
	fn := &config.Function{Name: "hello", Runtime: "rust", Path: filepath.Join(dir, "fns", "hello")}
	res, err := b.Build(context.Background(), fn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkCommand(t, res.WasmPath)
	if !bytes.Contains(mustRead(t, res.WasmPath), []byte("Hello from shared")) {
		t.Error("the module lacks the sibling crate's string")
	}
	if string(mustRead(t, filepath.Join(dir, "fns/hello/Cargo.lock"))) != "this lock is the user's and is not used\n" {
		t.Error("the build changed the user's Cargo.lock")
	}

	writeFiles(t, dir, map[string]string{"shared/src/lib.rs": "pub const GREETING: &str = \"Hello, edited\";\n"})
	if res, err = b.Build(context.Background(), fn); err != nil || !res.Rebuilt {
		t.Fatalf("Build after editing the path dependency = %+v, %v\n%s", res, err, out)
	}
	if !bytes.Contains(mustRead(t, res.WasmPath), []byte("Hello, edited")) {
		t.Error("the rebuilt module lacks the edited sibling")
	}
}

func TestRustCompileError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad/Cargo.toml":    strings.Replace(seedCargo, "hello", "bad", 1),
		"bad/src/main.rs":   "fn main() {\n    undefined_thing();\n}\n",
		"other/placeholder": "",
	})
	b, out := rustBuilder(t, dir)
	_, err := b.Build(context.Background(), rustFunction(dir, "bad"))
	if err == nil || !strings.HasPrefix(err.Error(), `building function "bad": cargo build: exit status`) {
		t.Fatalf("err = %v; want cargo's exit status", err)
	}
	if !strings.Contains(out.String(), "\n[bad]: error[E0425]: cannot find function `undefined_thing` in this scope\n") {
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

// Dependencies that cannot be had offline fail before cargo runs, saying
// what to do, in one line.
func TestRustUnavailableDependencies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ deps, want string }{
		// A crate no machine has packaged: serde was used here, until a
		// machine had librust-serde-dev installed.
		{`emblyno_such_crate = "1"`, "crate emblyno_such_crate is not available offline: install librust-emblyno-such-crate-dev (`apt-get install librust-emblyno-such-crate-dev`)"},
		{"[dev-dependencies]\nquick_check = \"1\"", "crate quick_check (a dev-dependency) is not available offline: install librust-quick-check-dev"},
		{`foo = { git = "https://example.com/foo" }`, "crate foo comes from git, which offline builds cannot reach"},
		{`embly = "1.0"`, `embly = "^1.0": the embly binary carries the embly crate 0.1.0, which stands in for any 0.x version`},
		{`shared = { path = "../../../elsewhere" }`, "path dependency shared"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"f/Cargo.toml":  "[package]\nname = \"f\"\nversion = \"0.1.0\"\n\n[dependencies]\n" + tc.deps + "\n",
			"f/src/main.rs": "fn main() {}\n",
		})
		b, _ := rustBuilder(t, dir)
		_, err := b.Build(context.Background(), rustFunction(dir, "f"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want %q", tc.deps, err, tc.want)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err %q spans lines; want one", tc.deps, err)
		}
	}
}

// The registries come from EMBLY_CARGO_REGISTRY; without http there, the
// SDK cannot build, and the error names the package to install.
func TestRustRegistryWithoutHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/Cargo.toml": seedCargo, "hello/src/main.rs": seedMain})
	b, _ := rustBuilder(t, dir)
	b.Env = []string{registryEnv + "=" + t.TempDir()}
	_, err := b.Build(context.Background(), rustFunction(dir, "hello"))
	want := "crate http, which the embly SDK needs, is not available offline: install it with `apt-get install librust-http-dev`"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v; want %q", err, want)
	}
}

func TestRustMissingToolchain(t *testing.T) {
	// Not parallel: it changes PATH.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/Cargo.toml": seedCargo, "hello/src/main.rs": seedMain})

	// No rustc at all.
	t.Setenv("PATH", t.TempDir())
	t.Setenv("RUSTC", "")
	_, err := (&Builder{Dir: dir}).Build(context.Background(), rustFunction(dir, "hello"))
	want := "no Rust toolchain found (no rustc on PATH): install Debian's with `apt-get install rustc cargo libstd-rust-dev-wasm32 librust-http-dev`, " +
		"or add the target to a rustup toolchain with `rustup target add wasm32-wasip1`"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v; want %q", err, want)
	}

	// A rustc without the wasm standard library, as rustup's default.
	bin, sysroot := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(sysroot, "lib", "rustlib", "x86_64-unknown-linux-gnu", "lib"), 0o755)
	script := "#!/bin/sh\ncase \"$1\" in\n--print) echo " + sysroot + " ;;\n-vV) printf 'rustc 1.95.0\\nrelease: 1.95.0\\n' ;;\nesac\n"
	writeFiles(t, bin, map[string]string{"rustc": script})
	os.Chmod(filepath.Join(bin, "rustc"), 0o755)
	t.Setenv("PATH", bin)
	_, err = (&Builder{Dir: dir}).Build(context.Background(), rustFunction(dir, "hello"))
	want = "no Rust toolchain here can build wasm32-wasi modules (" + filepath.Join(bin, "rustc") + " (1.95.0) has no wasm32-wasi standard library): install Debian's"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v; want %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("err %q spans lines; want one", err)
	}
}

func TestRustNoCargoToml(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello/src/main.rs": seedMain})
	_, err := (&Builder{Dir: dir}).Build(context.Background(), rustFunction(dir, "hello"))
	if err == nil || !strings.Contains(err.Error(), "no Cargo.toml in "+filepath.Join(dir, "hello")) {
		t.Fatalf("err = %v; want it to say there is no Cargo.toml", err)
	}
}

func TestEmblyVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ req, want string }{
		{"^0.0.4", "0.0.4"},
		{"^0.0.5", "0.0.5"},
		{"=0.0.5", "0.0.5"},
		{"~0.0.4", "0.0.4"},
		{"^0.1", "0.1.0"},
		{"^0", "0.0.0"},
		{"*", rustSDKVersion()},
		{"0.0.*", "0.0.0"},
		{">=0.0.3, <0.1", "0.0.3"},
		{">0.0.3", "0.0.4"},
		{">= 0.1.2", "0.1.2"},
		{"<0.2", rustSDKVersion()},
		{"^1.0", ""},
		{"^0.0.5-alpha", ""},
	} {
		got, err := emblyVersion(tc.req)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("emblyVersion(%q) = %q, %v; want %q", tc.req, got, err, tc.want)
		}
	}
}

func TestCrateName(t *testing.T) {
	t.Parallel()
	for folder, want := range map[string]string{
		"http-0.2.7":         "http",
		"serde_json-1.0.108": "serde_json",
		"foo-bar-1.2.3":      "foo-bar",
		"rand-0.8.5+wasi":    "rand",
		"pre-1.0.0-rc.1":     "pre",
		"bytes":              "bytes",
		"tokio-util":         "tokio-util",
	} {
		if got := crateName(folder); got != want {
			t.Errorf("crateName(%q) = %q; want %q", folder, got, want)
		}
	}
}

func TestMissingCrateHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ output, want string }{
		{"error: no matching package named `serde_derive` found\nlocation searched: registry `crates-io`\n",
			"crate serde_derive is not available offline: install librust-serde-derive-dev"},
		{"error: failed to select a version for the requirement `http = \"^0.1\"`\ncandidate versions found which didn't match: 0.2.7\n",
			"crate http ^0.1 is not available offline (there is 0.2.7): change the requirement, or install librust-http-dev"},
		{"error[E0425]: cannot find function", ""},
	} {
		got := missingCrateHint(tc.output)
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("missingCrateHint(%q) = %q; want %q", tc.output, got, tc.want)
		}
	}
}

func TestMirrorCrate(t *testing.T) {
	t.Parallel()
	dir, mirror := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Cargo.toml": "", "Cargo.lock": "", "embly.hcl": "", ".embly/x": "", "shared/lib.rs": "",
		"fns/Cargo.toml": "", "fns/other/x": "",
		"fns/hello/Cargo.toml": "", "fns/hello/Cargo.lock": "", "fns/hello/src/main.rs": "", "fns/hello/target/x": "",
	})
	if err := os.Symlink("/nowhere", filepath.Join(mirror, "stale")); err != nil {
		t.Fatal(err)
	}
	crate, err := mirrorCrate(dir, filepath.Join(dir, "fns", "hello"), mirror)
	if err != nil {
		t.Fatal(err)
	}
	if crate != filepath.Join(mirror, "fns", "hello") {
		t.Errorf("crate = %s", crate)
	}
	var got []string
	filepath.WalkDir(mirror, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(mirror, p)
		if d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel += " -> " + strings.TrimPrefix(target, dir)
		}
		got = append(got, rel)
		return err
	})
	want := []string{
		".",
		"embly.hcl -> /embly.hcl",
		"fns",
		"fns/hello",
		"fns/hello/Cargo.toml -> /fns/hello/Cargo.toml",
		"fns/hello/src -> /fns/hello/src",
		"fns/other -> /fns/other",
		"shared -> /shared",
	}
	if !slices.Equal(got, want) {
		t.Errorf("mirror:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A function outside the project is mirrored from its parent.
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"fn/Cargo.toml": ""})
	crate, err = mirrorCrate(dir, filepath.Join(outside, "fn"), t.TempDir())
	if err != nil || filepath.Base(crate) != "fn" {
		t.Errorf("mirrorCrate(outside) = %s, %v", crate, err)
	}
}

// The Rust SDK's own unit tests, on the host through its fake host calls,
// from the copy the binary carries.
func TestRustSDKUnitTests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, _ := rustBuilder(t, dir)
	tools, err := b.findRust(context.Background(), &config.Function{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	crate, home := filepath.Join(dir, "embly"), filepath.Join(dir, "home")
	if err := writeRustSDK(crate, rustSDKVersion()); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(crate, ".cargo-checksum.json"))
	vendor := filepath.Join(home, "vendor")
	if err := writeCargoHome(home, vendor); err != nil {
		t.Fatal(err)
	}
	if err := writeVendor(vendor, listRegistries(b.registries()), nil); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tools.cargo, "test", "--offline")
	cmd.Dir = crate
	cmd.Env = append(os.Environ(), "CARGO_HOME="+home, "CARGO_TARGET_DIR="+filepath.Join(dir, "target"), "RUSTC="+tools.rustc)
	if rustdoc := filepath.Join(filepath.Dir(tools.rustc), "rustdoc"); isFile(rustdoc) {
		cmd.Env = append(cmd.Env, "RUSTDOC="+rustdoc) // the doctests' compiler must match rustc
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cargo test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "test result: ok.") {
		t.Errorf("cargo test ran no tests:\n%s", out)
	}
}

// The Rust examples build offline with the builder, from a copy so the
// repository stays clean.
func TestRustExamplesBuild(t *testing.T) {
	t.Parallel()
	for _, example := range []string{"hello-rust", "hello-rust-async", "spawn-rust", "db-rust"} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			dir := wasmtest.CopyProject(t, filepath.Join("..", "..", "examples", example))
			proj, err := config.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, out := rustBuilder(t, dir)
			for _, fn := range proj.Functions {
				res, err := b.Build(context.Background(), fn)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				checkCommand(t, res.WasmPath)
				if fn.Runtime == "rust" && !usesBulkMemory(t, res.WasmPath) {
					t.Errorf("%s does not use bulk memory operations: rustWasmFeatures did not reach rustc", res.WasmPath)
				}
			}
		})
	}
}

// usesBulkMemory reports whether the module at path uses WebAssembly's bulk
// memory operations, which WebAssembly 1.0 did not have: a runtime limited
// to 1.0 refuses it for them.
func usesBulkMemory(t *testing.T, path string) bool {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV1))
	defer r.Close(ctx)
	_, err := r.CompileModule(ctx, mustRead(t, path))
	return err != nil && strings.Contains(err.Error(), "bulk-memory-operations")
}
