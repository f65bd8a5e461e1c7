package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/embly/embly"
	"github.com/embly/embly/internal/config"
)

// rustInstallHint ends every error about a missing or unusable Rust
// toolchain: what to install, the Debian way and the rustup way.
const rustInstallHint = "install Debian's with `apt-get install rustc cargo libstd-rust-dev-wasm32 librust-http-dev`, " +
	"or add the target to a rustup toolchain with `rustup target add wasm32-wasip1`"

// rustTargets are the wasm targets a Rust toolchain may have, newest name
// first: rustc 1.78 renamed wasm32-wasi to wasm32-wasip1, and Debian's
// rustc 1.63 knows only the old name. Both produce the same modules.
var rustTargets = []string{"wasm32-wasip1", "wasm32-wasi"}

// registryEnv names the crate directories that Rust builds may use, as a
// list like PATH (earlier directories win). Each holds one folder per crate,
// as Debian's librust-*-dev packages and `cargo vendor` lay them out.
const registryEnv = "EMBLY_CARGO_REGISTRY"

// debianRegistry is where Debian's librust-*-dev packages put crate sources.
const debianRegistry = "/usr/share/cargo/registry"

// rustToolchain builds runtime "rust" functions with cargo for wasm32-wasi.
//
// Offline builds: cargo's source replacement points crates.io at a
// directory source that embly writes for each function under
// DIR/.embly/build/NAME/cargo/vendor. It holds symlinks to every crate of
// the registries (Debian's /usr/share/cargo/registry by default) and a copy
// of the embly crate the binary carries, once per version the function's
// Cargo.toml asks for (`embly = "0.0.4"` gets it as 0.0.4). The cargo home
// (config.toml) is generated too; the user's files are never edited.
//
// cargo writes a Cargo.lock next to the manifest it builds, so it builds
// the function through a mirror of its folder (symlinks, under the cargo
// home) that has its own Cargo.lock. See docs/rust.md for the layout.
type rustToolchain struct{}

// rustTools is a Rust toolchain that can build wasm modules.
type rustTools struct {
	rustc, cargo string
	target       string // "wasm32-wasip1" or "wasm32-wasi"
	version      string // rustc -vV
}

func (rustToolchain) stamp(ctx context.Context, b *Builder, fn *config.Function) (string, error) {
	manifest, err := os.ReadFile(filepath.Join(fn.Path, "Cargo.toml"))
	if err != nil {
		return "", fmt.Errorf("no Cargo.toml in %s: a Rust function is a cargo package; create one with "+
			"`cargo init --name %s` there and add `embly = \"0.1\"` under [dependencies]", fn.Path, fn.Name)
	}
	tools, err := b.findRust(ctx, fn)
	if err != nil {
		return "", err
	}
	registries := b.registries()
	var listing []string
	for _, dir := range registries {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			listing = append(listing, e.Name())
		}
	}
	work, err := functionWorkDir(b, fn)
	if err != nil {
		return "", err
	}
	pathDeps, err := pathDepsHash(filepath.Join(work, "path-deps"))
	if err != nil {
		return "", err
	}
	// The manifest is in the sources too, unless a sources pattern leaves
	// it out; it decides the build either way.
	return fmt.Sprintf("%s\ncargo %s\ntarget %s\nflags %q\nsdk %s\nmanifest %x\nregistries %q %q\npath deps %s",
		tools.version, tools.cargo, tools.target, wasmFeatureFlags(tools.target), rustSDKHash(), sha256.Sum256(manifest),
		registries, listing, pathDeps), nil
}

// rustWasmFeatures are the WebAssembly features Rust functions are
// compiled with beyond the target's defaults. With bulk-memory the compiler
// turns copies and fills (moves of large values such as an http::Request,
// a Vec growing) into memory.copy and memory.fill, which wazero runs as a
// native memmove, instead of calls to a wasm byte loop that pays an
// interrupt check per iteration: a hello-rust invocation 7-9% faster. Every
// feature of WebAssembly 2.0 runs on wazero; the others (sign-ext, simd128,
// ...) measured no gain.
const rustWasmFeatures = "-C target-feature=+bulk-memory"

// wasmFeatureFlags returns the environment that gives cargo
// rustWasmFeatures for target, as target-specific flags, so that they
// reach the function's crates and not build scripts. Flags of the user's
// own win: cargo ignores target flags when RUSTFLAGS is set, and a target
// variable already set is left alone.
func wasmFeatureFlags(target string) []string {
	name := "CARGO_TARGET_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(target)) + "_RUSTFLAGS"
	if _, set := os.LookupEnv(name); set {
		return nil
	}
	return []string{name + "=" + rustWasmFeatures}
}

func (rustToolchain) build(ctx context.Context, b *Builder, fn *config.Function, out string, log io.Writer) error {
	tools, err := b.findRust(ctx, fn)
	if err != nil {
		return err
	}
	work, err := functionWorkDir(b, fn)
	if err != nil {
		return err
	}
	home := filepath.Join(work, "cargo")
	vendor := filepath.Join(home, "vendor")
	targetDir := filepath.Join(work, "target")
	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		return err
	}
	crate, err := mirrorCrate(dir, fn.Path, filepath.Join(home, "src"))
	if err != nil {
		return fmt.Errorf("mirroring %s for cargo: %w", fn.Path, err)
	}
	if err := writeCargoHome(home, vendor); err != nil {
		return err
	}

	env := append(b.env(),
		"CARGO_HOME="+home,
		"CARGO_TARGET_DIR="+targetDir,
		"RUSTC="+tools.rustc,
		"CARGO_NET_OFFLINE=true",
		"CARGO_TERM_COLOR=never",
		// Debug info is most of a Rust module's size and nothing reads it.
		"CARGO_PROFILE_RELEASE_STRIP=debuginfo",
	)
	env = append(env, wasmFeatureFlags(tools.target)...)
	if !hasReleaseProfile(filepath.Join(fn.Path, "Cargo.toml")) {
		// Whole-program optimization: an instance runs its code cold,
		// once per request, so less and tighter code is time saved on
		// every request (a hello world's guest time: 7.5 -> 6.4 µs). A
		// crate with a [profile.release] of its own decides for itself.
		env = append(env, "CARGO_PROFILE_RELEASE_LTO=fat", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1")
	}
	pkg, err := readCargoPackage(ctx, tools, crate, env)
	if err != nil {
		return err
	}
	bin, err := pkg.bin()
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(fn.Path, "Cargo.toml"), err)
	}
	if err := recordPathDeps(filepath.Join(work, "path-deps"), pkg, fn.Path); err != nil {
		return err
	}
	crates := listRegistries(b.registries())
	versions, err := checkDependencies(pkg, crates)
	if err != nil {
		return err
	}
	if err := writeVendor(vendor, crates, versions); err != nil {
		return fmt.Errorf("writing the cargo vendor directory %s: %w", vendor, err)
	}

	cmd := exec.CommandContext(ctx, tools.cargo, "build", "--release", "--offline",
		"--target", tools.target, "--bin", bin, "--manifest-path", filepath.Join(crate, "Cargo.toml"))
	cmd.Dir = crate
	cmd.Env = env
	tail := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(log, tail), io.MultiWriter(log, tail)
	if err := cmd.Run(); err != nil {
		if hint := missingCrateHint(tail.String()); hint != "" {
			return errors.New(hint)
		}
		return fmt.Errorf("cargo build: %w", err)
	}
	wasm := filepath.Join(targetDir, tools.target, "release", bin+".wasm")
	if !isFile(wasm) {
		// Older cargos name the module after the crate: dashes become underscores.
		wasm = filepath.Join(targetDir, tools.target, "release", strings.ReplaceAll(bin, "-", "_")+".wasm")
	}
	return copyFile(wasm, out)
}

// functionWorkDir is DIR/.embly/build/NAME, the function's build state.
func functionWorkDir(b *Builder, fn *config.Function) (string, error) {
	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, StateDir, "build", fn.Name), nil
}

// hasReleaseProfile reports whether the manifest at path sets anything
// for release builds.
func hasReleaseProfile(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte("[profile.release"))
}

// registries returns the crate directories of Rust builds, from
// EMBLY_CARGO_REGISTRY (the Builder's Env first) or else Debian's.
func (b *Builder) registries() []string {
	v, ok := b.getenv(registryEnv)
	if !ok {
		return []string{debianRegistry}
	}
	var dirs []string
	for _, d := range filepath.SplitList(v) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// getenv looks key up in the Builder's Env, then the process's.
func (b *Builder) getenv(key string) (string, bool) {
	for i := len(b.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(b.Env[i], "="); ok && k == key {
			return v, true
		}
	}
	return os.LookupEnv(key)
}

// findRust finds a rustc that has a wasm target installed, and its cargo:
// RUSTC if set, else the first rustc on PATH whose sysroot has one. A rustup
// proxy is asked from the function's folder, so a rust-toolchain file there
// picks the toolchain, and then the toolchain's own binaries are used.
func (b *Builder) findRust(ctx context.Context, fn *config.Function) (rustTools, error) {
	var candidates []string
	if rustc, ok := b.getenv("RUSTC"); ok && rustc != "" {
		candidates = []string{rustc}
	} else {
		path, _ := b.getenv("PATH")
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				continue
			}
			p := filepath.Join(dir, "rustc")
			if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 && !slices.Contains(candidates, p) {
				candidates = append(candidates, p)
			}
		}
	}
	if len(candidates) == 0 {
		return rustTools{}, errors.New("no Rust toolchain found (no rustc on PATH): " + rustInstallHint)
	}
	var tried []string
	for _, rustc := range candidates {
		tools, why := b.probeRust(ctx, fn, rustc)
		if why == "" {
			return tools, nil
		}
		tried = append(tried, rustc+" "+why)
	}
	return rustTools{}, fmt.Errorf("no Rust toolchain here can build wasm32-wasi modules (%s): %s",
		strings.Join(tried, "; "), rustInstallHint)
}

// probeRust checks one rustc; why says what it lacks.
func (b *Builder) probeRust(ctx context.Context, fn *config.Function, rustc string) (tools rustTools, why string) {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, rustc, args...)
		cmd.Dir = fn.Path
		cmd.Env = b.env()
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	sysroot, err := run("--print", "sysroot")
	if err != nil {
		return tools, "does not run"
	}
	version, err := run("-vV")
	if err != nil {
		return tools, "does not run"
	}
	release := version
	if m := regexp.MustCompile(`(?m)^release: (\S+)`).FindStringSubmatch(version); m != nil {
		release = m[1]
	}
	for _, t := range rustTargets {
		if info, err := os.Stat(filepath.Join(sysroot, "lib", "rustlib", t, "lib")); err == nil && info.IsDir() {
			tools.target = t
			break
		}
	}
	if tools.target == "" {
		return tools, "(" + release + ") has no wasm32-wasi standard library"
	}
	// The toolchain's own binaries, not a rustup proxy: the proxy would
	// choose again, maybe differently, from cargo's working directory.
	tools.rustc = rustc
	if p := filepath.Join(sysroot, "bin", "rustc"); isFile(p) {
		tools.rustc = p
	}
	for _, p := range []string{filepath.Join(sysroot, "bin", "cargo"), filepath.Join(filepath.Dir(rustc), "cargo")} {
		if isFile(p) {
			tools.cargo = p
			break
		}
	}
	if tools.cargo == "" {
		if p, err := exec.LookPath("cargo"); err == nil {
			tools.cargo = p
		} else {
			return tools, "(" + release + ") has no cargo"
		}
	}
	tools.version = version
	return tools, ""
}

func isFile(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir()
}

// rustSDKFiles returns the embedded Rust SDK's files, by path relative to
// sdk/rust.
var rustSDKFiles = sync.OnceValue(func() map[string][]byte {
	files := make(map[string][]byte)
	err := fs.WalkDir(embly.SDKs, "sdk/rust", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := embly.SDKs.ReadFile(p)
		files[strings.TrimPrefix(p, "sdk/rust/")] = data
		return err
	})
	if err != nil {
		panic(err) // the embedded FS is part of the binary: it cannot fail
	}
	return files
})

// rustSDKHash is the sha256 of the embedded Rust SDK, names and contents.
var rustSDKHash = sync.OnceValue(func() string {
	files := rustSDKFiles()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "file %q %d\n", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
})

// rustSDKVersion is the embedded crate's own version, from its Cargo.toml.
var rustSDKVersion = sync.OnceValue(func() string {
	m := versionLine.FindSubmatch(rustSDKFiles()["Cargo.toml"])
	if m == nil {
		panic("sdk/rust/Cargo.toml has no version line")
	}
	return string(m[1])
})

// versionLine matches the package's version line of a Cargo.toml; the
// SDK's puts it before any other table.
var versionLine = regexp.MustCompile(`(?m)^version = "([^"]+)"$`)

// mirrorCrate makes dst a mirror of root, the folder that holds the
// function's folder fn (the project directory, or fn's parent when fn is
// elsewhere): symlinks to every entry, and real folders down the way to fn,
// whose entries are symlinks too except Cargo.lock. Relative path
// dependencies inside root resolve as they would in place. Cargo.toml files
// above fn are left out, so cargo never mistakes a workspace of the user's
// for this build's. It returns the mirror of fn.
func mirrorCrate(root, fn, dst string) (string, error) {
	rel, err := filepath.Rel(root, fn)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		root = filepath.Dir(fn)
		rel = filepath.Base(fn)
	}
	// Above the function, everything but the way down and the manifests.
	src := root
	for _, step := range strings.Split(rel, string(filepath.Separator)) {
		err := linkEntries(src, dst, func(name string) bool {
			return name == step || name == StateDir || name == "target" || name == "Cargo.toml" || name == "Cargo.lock"
		})
		if err != nil {
			return "", err
		}
		src, dst = filepath.Join(src, step), filepath.Join(dst, step)
	}
	// The function's folder: everything but build products and the lock.
	err = linkEntries(src, dst, func(name string) bool {
		return name == StateDir || name == "target" || name == "Cargo.lock"
	})
	return dst, err
}

// linkEntries makes dst hold a symlink to every entry of src that skip
// does not refuse, removing other symlinks it has. Real files and folders
// in dst (a Cargo.lock, the next folder of a mirror) are left alone.
func linkEntries(src, dst string, skip func(name string) bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	want := make(map[string]bool)
	for _, e := range entries {
		if skip(e.Name()) {
			continue
		}
		want[e.Name()] = true
		if err := symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	have, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	for _, e := range have {
		if e.Type()&fs.ModeSymlink != 0 && !want[e.Name()] {
			if err := os.Remove(filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// symlink makes link point to target, replacing a symlink that points
// elsewhere.
func symlink(target, link string) error {
	if old, err := os.Readlink(link); err == nil {
		if old == target {
			return nil
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}

// writeCargoHome writes the cargo configuration of the build: crates.io
// replaced by the vendor directory, and no network.
func writeCargoHome(home, vendor string) error {
	if err := os.MkdirAll(vendor, 0o755); err != nil {
		return err
	}
	config := "# Generated by embly at every build; edits are lost.\n" +
		"[source.crates-io]\nreplace-with = \"embly-vendor\"\n\n" +
		"[source.embly-vendor]\ndirectory = " + strconv.Quote(vendor) + "\n\n" +
		"[net]\noffline = true\n"
	return writeIfChanged(filepath.Join(home, "config.toml"), []byte(config))
}

// cargoPackage is the part of `cargo metadata` the build needs.
type cargoPackage struct {
	Name         string `json:"name"`
	ManifestPath string `json:"manifest_path"`
	DefaultRun   string `json:"default_run"`
	Dependencies []struct {
		Name   string  `json:"name"`
		Source *string `json:"source"`
		Req    string  `json:"req"`
		Kind   *string `json:"kind"`
		Path   string  `json:"path"`
	} `json:"dependencies"`
	Targets []struct {
		Name string   `json:"name"`
		Kind []string `json:"kind"`
	} `json:"targets"`
}

// readCargoPackage reads the manifest of the package in crate, without
// resolving dependencies (so without network or vendor).
func readCargoPackage(ctx context.Context, tools rustTools, crate string, env []string) (*cargoPackage, error) {
	manifest := filepath.Join(crate, "Cargo.toml")
	cmd := exec.CommandContext(ctx, tools.cargo, "metadata", "--no-deps", "--format-version", "1",
		"--offline", "--manifest-path", manifest)
	cmd.Dir = crate
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		return nil, fmt.Errorf("reading %s: %s", manifest, strings.ReplaceAll(msg, "\n", " "))
	}
	var meta struct {
		Packages []*cargoPackage `json:"packages"`
	}
	if err := json.Unmarshal(out, &meta); err != nil {
		return nil, fmt.Errorf("cargo metadata: %w", err)
	}
	for _, p := range meta.Packages {
		if filepath.Clean(p.ManifestPath) == manifest {
			return p, nil
		}
	}
	if len(meta.Packages) == 1 {
		return meta.Packages[0], nil
	}
	return nil, fmt.Errorf("cargo metadata does not list the package of %s", manifest)
}

// bin names the binary target to build: the only one, default-run, or the
// one named like the package.
func (p *cargoPackage) bin() (string, error) {
	var bins []string
	for _, t := range p.Targets {
		if slices.Contains(t.Kind, "bin") {
			bins = append(bins, t.Name)
		}
	}
	switch {
	case len(bins) == 1:
		return bins[0], nil
	case len(bins) == 0:
		return "", errors.New("the package has no binary target: a function is a program, with a src/main.rs")
	case p.DefaultRun != "" && slices.Contains(bins, p.DefaultRun):
		return p.DefaultRun, nil
	case slices.Contains(bins, p.Name):
		return p.Name, nil
	}
	return "", fmt.Errorf("the package has binaries %s: set default-run under [package] to the function's", strings.Join(bins, ", "))
}

// recordPathDeps writes where the function's path dependencies really are,
// one per line, for the next stamp to hash. A path dependency that does not
// exist in the mirror is outside the mirrored folder.
func recordPathDeps(file string, p *cargoPackage, fnPath string) error {
	fnReal, err := filepath.EvalSymlinks(fnPath)
	if err != nil {
		return err
	}
	var lines []string
	for _, d := range p.Dependencies {
		if d.Source != nil || d.Path == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(d.Path)
		if err != nil {
			return fmt.Errorf("path dependency %s (%s) is not in reach: embly builds %s through a mirror of "+
				"the project folder, so a relative path must stay inside it; use an absolute path or move %s inside",
				d.Name, d.Path, fnPath, d.Name)
		}
		if rel, err := filepath.Rel(fnReal, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // inside the function's folder: hashed with its sources
		}
		lines = append(lines, real)
	}
	slices.Sort(lines)
	return writeIfChanged(file, []byte(strings.Join(lines, "\n")))
}

// pathDepsHash hashes the files of the path dependencies that file lists.
func pathDepsHash(file string) (string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) || len(data) == 0 {
		return "none", nil
	}
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, dir := range strings.Split(string(data), "\n") {
		sum, err := inputsHash(&config.Function{Path: dir}, "")
		if err != nil {
			sum = "missing"
		}
		fmt.Fprintf(h, "%s %s\n", dir, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// listRegistries maps every crate folder of the registries to its path,
// earlier registries winning. Folders are named NAME-VERSION (Debian,
// `cargo vendor --versioned-dirs`) or NAME (`cargo vendor`).
func listRegistries(dirs []string) map[string]string {
	crates := make(map[string]string)
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			p := filepath.Join(dir, name)
			if strings.HasPrefix(name, ".") || crateName(name) == "embly" || !isFile(filepath.Join(p, "Cargo.toml")) {
				continue
			}
			if _, ok := crates[name]; !ok {
				crates[name] = p
			}
		}
	}
	return crates
}

// crateVersionSuffix matches the "-1.2.3" that ends a versioned crate folder.
var crateVersionSuffix = regexp.MustCompile(`-\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$`)

// crateName is the crate a registry folder holds.
func crateName(folder string) string {
	return crateVersionSuffix.ReplaceAllString(folder, "")
}

// checkDependencies fails, naming what to install, when a crates.io
// dependency of the function is in no registry, or comes from git. It
// returns the versions of the embly crate the function asks for.
func checkDependencies(p *cargoPackage, crates map[string]string) ([]string, error) {
	have := make(map[string]bool)
	for folder := range crates {
		have[crateName(folder)] = true
	}
	var versions []string
	for _, d := range p.Dependencies {
		kind := ""
		if d.Kind != nil && *d.Kind != "normal" {
			kind = " (a " + *d.Kind + "-dependency)"
		}
		switch {
		case d.Source == nil:
			continue // a path dependency
		case strings.HasPrefix(*d.Source, "git+"):
			return nil, fmt.Errorf("crate %s%s comes from git, which offline builds cannot reach: "+
				"vendor it into the function's folder and use a path dependency", d.Name, kind)
		case d.Name == "embly":
			v, err := emblyVersion(d.Req)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
			if !have["http"] {
				return nil, errors.New("crate http, which the embly SDK needs, is not available offline: " +
					"install it with `apt-get install librust-http-dev`")
			}
		case !have[d.Name]:
			return nil, fmt.Errorf("crate %s%s is not available offline: %s", d.Name, kind, crateHint(d.Name))
		}
	}
	return versions, nil
}

// crateHint says how to get a crate offline.
func crateHint(name string) string {
	pkg := "librust-" + strings.ReplaceAll(strings.ToLower(name), "_", "-") + "-dev"
	return fmt.Sprintf("install %s (`apt-get install %s`) if Debian packages it, or vendor it into the "+
		"function's folder and use a path dependency (or list a `cargo vendor` folder in %s)", pkg, pkg, registryEnv)
}

// emblyVersion picks the version to give the embedded SDK so that it meets
// req, a cargo requirement such as "^0.0.4", "=0.0.5", ">=0.0.3, <0.1" or
// "*": its lowest version, or else the SDK's own. The SDK stands in for
// every 0.x version of the crate; a major version beyond is refused.
func emblyVersion(req string) (string, error) {
	best := ""
	for _, c := range strings.Split(req, ",") {
		c = strings.TrimSpace(c)
		op := strings.TrimRight(c[:len(c)-len(strings.TrimLeft(c, "<>=~^"))], " ")
		v := strings.TrimSpace(strings.TrimLeft(c, "<>=~^"))
		if v == "*" || v == "" || op == "<" || op == "<=" {
			continue
		}
		parts := strings.SplitN(strings.SplitN(v, "+", 2)[0], ".", 3)
		nums := []int{0, 0, 0}
		for i, p := range parts {
			if p == "*" || p == "x" || p == "X" {
				break
			}
			n, err := strconv.Atoi(p)
			if err != nil {
				return "", fmt.Errorf("embly = %q: the embly binary carries the embly crate %s; ask for a 0.x version, such as %q",
					req, rustSDKVersion(), rustSDKVersion())
			}
			nums[i] = n
		}
		if op == ">" {
			nums[len(parts)-1]++
		}
		cand := fmt.Sprintf("%d.%d.%d", nums[0], nums[1], nums[2])
		if best == "" || versionLess(best, cand) {
			best = cand
		}
	}
	if best == "" {
		best = rustSDKVersion()
	}
	if !strings.HasPrefix(best, "0.") {
		return "", fmt.Errorf("embly = %q: the embly binary carries the embly crate %s, which stands in for any 0.x version; "+
			"ask for one, such as %q", req, rustSDKVersion(), rustSDKVersion())
	}
	return best, nil
}

// writeVendor makes vendor the directory source of the build: a symlink
// to every registry crate, and a copy of the embedded SDK for each version.
// The copies' versions carry the SDK's hash as build metadata
// (0.0.4+embly.1a2b3c4d5e6f), which version requirements ignore but cargo's
// fingerprints do not: a new SDK is recompiled even at the same version.
func writeVendor(vendor string, crates map[string]string, versions []string) error {
	want := make(map[string]bool)
	for folder, target := range crates {
		want[folder] = true
		if err := symlink(target, filepath.Join(vendor, folder)); err != nil {
			return err
		}
	}
	for _, v := range versions {
		folder := "embly-" + v
		want[folder] = true
		if err := writeRustSDK(filepath.Join(vendor, folder), v+"+embly."+rustSDKHash()[:12]); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(vendor)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if err := os.RemoveAll(filepath.Join(vendor, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeRustSDK writes the embedded crate to dir as version, with the
// checksum file a directory source needs (empty: nothing to verify).
func writeRustSDK(dir, version string) error {
	// A symlink left where a copy goes (a registry crate named embly).
	if info, err := os.Lstat(dir); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		os.Remove(dir)
	}
	want := map[string]bool{".cargo-checksum.json": true}
	for name, data := range rustSDKFiles() {
		if name == "Cargo.toml" {
			data = versionLine.ReplaceAll(data, []byte(`version = "`+version+`"`))
		}
		want[name] = true
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeIfChanged(dst, data); err != nil {
			return err
		}
	}
	if err := writeIfChanged(filepath.Join(dir, ".cargo-checksum.json"), []byte(`{"files":{},"package":null}`)); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err == nil && !want[filepath.ToSlash(rel)] {
			err = os.Remove(p)
		}
		return err
	})
}

// Messages of cargo's resolver that mean a crate is not in the registries.
var (
	noMatchingPackage = regexp.MustCompile("no matching package named `([^`]+)` found")
	noMatchingVersion = regexp.MustCompile("failed to select a version for the requirement `([^ `]+) = \"([^\"]*)\"`\\s*\ncandidate versions found which didn't match: ([^\n]*)")
)

// missingCrateHint turns cargo's resolver errors into what to do.
func missingCrateHint(output string) string {
	if m := noMatchingPackage.FindStringSubmatch(output); m != nil {
		return fmt.Sprintf("crate %s is not available offline: %s", m[1], crateHint(m[1]))
	}
	if m := noMatchingVersion.FindStringSubmatch(output); m != nil {
		return fmt.Sprintf("crate %s %s is not available offline (there is %s): change the requirement, or %s",
			m[1], m[2], m[3], crateHint(m[1]))
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// copyFile copies src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
