package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/embly/embly/internal/config"
	embly "github.com/embly/embly/sdk/go"
)

// sdkModule is the Go SDK's module path, as users require it.
const sdkModule = "github.com/embly/embly/sdk/go"

// goInstallHint ends the error for a missing go command. The SDK needs the
// wasip1 port and wasmimport, so Go 1.22 or newer.
const goInstallHint = "the go command was not found on PATH: install Go 1.22 or newer " +
	"(https://go.dev/dl/, or `apt-get install golang-go` where Debian's is recent enough)"

// goToolchain builds runtime "go" functions with `go build` for wasip1.
//
// Offline builds: the SDK's embedded source is written to
// DIR/.embly/sdk/go and a generated go.work puts it beside the user's module.
// Workspace modules win over any required version, so a go.mod that says
// `require github.com/embly/embly/sdk/go v0.0.0` (or any v0.x) with no go.sum
// line builds with GOPROXY=off and an empty module cache.
type goToolchain struct{}

func (goToolchain) stamp(ctx context.Context, b *Builder, fn *config.Function) (string, error) {
	if _, err := os.Stat(filepath.Join(fn.Path, "go.mod")); err != nil {
		return "", fmt.Errorf("no go.mod in %s: a Go function is a module; create one with "+
			"`go mod init NAME` there and add `require %s v0.0.0`", fn.Path, sdkModule)
	}
	version, err := b.goVersion(ctx)
	if err != nil {
		return "", err
	}
	if err := checkGoLine(fn, version); err != nil {
		return "", err
	}
	return fmt.Sprintf("go %s\nsdk %s", version, sdkHash()), nil
}

// checkGoLine fails when fn's go.mod asks for a newer Go than the toolchain
// on PATH. The go command would say so too, but about the generated go.work,
// suggesting `go work use`, which cannot help here.
func checkGoLine(fn *config.Function, goVersion string) error {
	have := releaseVersion.FindStringSubmatch(goVersion)
	mod, err := os.ReadFile(filepath.Join(fn.Path, "go.mod"))
	if have == nil || err != nil {
		return nil // a development toolchain: the go command decides
	}
	want := goLine.FindSubmatch(mod)
	if want != nil && versionLess(have[1], string(want[1])) {
		return fmt.Errorf("%s says go %s, but the go command on PATH is %s: "+
			"install Go %s or newer (https://go.dev/dl/), or lower the go line",
			filepath.Join(fn.Path, "go.mod"), want[1], goVersion, want[1])
	}
	return nil
}

// versionLess compares Go versions ("1.26.8", "1.27", "1.27rc1") by their
// numbers; a pre-release comes before the release it leads to.
func versionLess(a, b string) bool {
	return slices.Compare(versionNumbers(a), versionNumbers(b)) < 0
}

// versionNumbers maps "1.26.8" to [1 26 8], "1.27" to [1 27 0] and
// "1.27rc1" to [1 27 -1].
func versionNumbers(v string) []int {
	n := []int{0, 0, 0}
	pre := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if pre >= 0 {
		v = v[:pre]
	}
	for i, f := range strings.SplitN(v, ".", 3) {
		n[i], _ = strconv.Atoi(f)
	}
	if pre >= 0 {
		n[2] = -1
	}
	return n
}

func (goToolchain) build(ctx context.Context, b *Builder, fn *config.Function, out string, log io.Writer) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New(goInstallHint)
	}
	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		return err
	}
	sdkDir := filepath.Join(dir, StateDir, "sdk", "go")
	b.sdkMu.Lock()
	err = writeSDK(sdkDir)
	b.sdkMu.Unlock()
	if err != nil {
		return fmt.Errorf("writing the Go SDK to %s: %w", sdkDir, err)
	}
	version, err := b.goVersion(ctx)
	if err != nil {
		return err
	}
	work := filepath.Join(dir, StateDir, "build", fn.Name, "go.work")
	if err := writeGoWork(work, fn, version, sdkDir); err != nil {
		return err
	}

	// -mod=readonly overrides a -mod=mod in the user's GOFLAGS, which
	// workspace mode refuses. -buildvcs=false: the module's VCS state is not
	// an input of the hash, so it must not be one of the module.
	// -buildmode=c-shared makes a WASI reactor: the runtime initializes it
	// once, snapshots it, and runs each invocation from the snapshot
	// (sdk/go's entry_wasip1.go, internal/runtime's snapshot.go).
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-mod=readonly", "-o", out, ".")
	cmd.Dir = fn.Path
	cmd.Env = append(b.env(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK="+work)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run()
}

// env is the toolchain's environment before per-build settings. Unless told
// otherwise, the go command may not switch to another toolchain: that would
// download one.
func (b *Builder) env() []string {
	env := os.Environ()
	if os.Getenv("GOTOOLCHAIN") == "" {
		env = append(env, "GOTOOLCHAIN=local")
	}
	return append(env, b.Env...)
}

// goVersion returns the version of the go command on PATH ("1.26.8"),
// asking it once per Builder.
func (b *Builder) goVersion(ctx context.Context) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New(goInstallHint)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.goVersions[goBin]; ok {
		return v, nil
	}
	cmd := exec.CommandContext(ctx, goBin, "env", "GOVERSION")
	// Outside any module: a go.mod asking for a newer Go must not fail this.
	cmd.Dir = os.TempDir()
	cmd.Env = append(b.env(), "GOWORK=off")
	raw, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s env GOVERSION: %w", goBin, err)
	}
	v := strings.TrimSpace(string(raw))
	if b.goVersions == nil {
		b.goVersions = make(map[string]string)
	}
	b.goVersions[goBin] = v
	return v, nil
}

// releaseVersion matches the version part of a released GOVERSION:
// "go1.26.8" -> "1.26.8", "go1.27rc1" -> "1.27rc1".
var releaseVersion = regexp.MustCompile(`^go(1\.\d+(?:\.\d+|rc\d+)?)\b`)

// goLine matches the go directive of a go.mod.
var goLine = regexp.MustCompile(`(?m)^go\s+(\S+)`)

// writeGoWork writes the workspace of fn: its module and the SDK. The go
// line must be at least every module's; the toolchain's own version is,
// since it would refuse a module that needs more. A development toolchain
// has no usable version; then the user's go line serves.
func writeGoWork(work string, fn *config.Function, goVersion, sdkDir string) error {
	v := ""
	if m := releaseVersion.FindStringSubmatch(goVersion); m != nil {
		v = m[1]
	} else if mod, err := os.ReadFile(filepath.Join(fn.Path, "go.mod")); err == nil {
		if m := goLine.FindSubmatch(mod); m != nil {
			v = string(m[1])
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// Generated by embly for function %q at every build; edits are lost.\n\n", fn.Name)
	if v != "" {
		fmt.Fprintf(&buf, "go %s\n\n", v)
	}
	fmt.Fprintf(&buf, "use (\n\t%s\n\t%s\n)\n", strconv.Quote(fn.Path), strconv.Quote(sdkDir))
	if err := os.MkdirAll(filepath.Dir(work), 0o755); err != nil {
		return err
	}
	return writeIfChanged(work, buf.Bytes())
}

// sdkHash is the sha256 of the embedded SDK, names and contents.
var sdkHash = sync.OnceValue(func() string {
	h := sha256.New()
	err := fs.WalkDir(embly.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := embly.Source.ReadFile(p)
		fmt.Fprintf(h, "file %q %d\n", p, len(data))
		h.Write(data)
		return err
	})
	if err != nil {
		panic(err) // the embedded FS is part of the binary: it cannot fail
	}
	return hex.EncodeToString(h.Sum(nil))
})

// writeSDK makes dir an exact copy of the embedded SDK, touching only files
// whose content differs (so the go command's caches stay warm) and removing
// files the SDK no longer has.
func writeSDK(dir string) error {
	want := make(map[string]bool)
	err := fs.WalkDir(embly.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := embly.Source.ReadFile(p)
		if err != nil {
			return err
		}
		want[p] = true
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return writeIfChanged(dst, data)
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		// A .tmp file may be another build's writeIfChanged in flight.
		if err == nil && !want[filepath.ToSlash(rel)] && !strings.HasSuffix(p, ".tmp") {
			err = os.Remove(p)
		}
		return err
	})
}

// writeIfChanged writes data to path unless path already holds it. The write
// goes through a temporary file and a rename, so concurrent builds never
// see a half-written file.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
