// Package build turns a project's functions into wasm modules: one toolchain
// per runtime ("go" today; "wasm" is a prebuilt module), each build skipped
// when a hash of its inputs says the last module is still current.
//
// Builds work offline: the Go SDK's source travels inside the embly binary
// (sdk/go's Source) and is handed to the Go toolchain through a generated
// workspace, so no module is ever downloaded for it.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/embly/embly/internal/config"
)

// StateDir is the folder, inside the project directory, where builds go.
const StateDir = ".embly"

// Builder builds the functions of one project. Its methods may be called from
// several goroutines; a Builder must not be copied after first use.
type Builder struct {
	// Dir is the project directory, the one holding embly.hcl. Modules are
	// written to Dir/.embly/build/NAME.wasm.
	Dir string
	// Out receives progress lines and the toolchain's output, each line
	// prefixed "[NAME]: ". Nil discards them.
	Out io.Writer
	// Env is added to the toolchain's environment, after the process's own
	// (GOPROXY=off, GOMODCACHE=...). The builder's own settings (GOOS,
	// GOARCH, GOWORK, ...) come last and win.
	Env []string

	outMu sync.Mutex // one line at a time on Out
	sdkMu sync.Mutex // one SDK write at a time

	mu         sync.Mutex
	goVersions map[string]string // go binary -> its GOVERSION
}

// Result describes the module of one function.
type Result struct {
	// WasmPath is the absolute path of the module.
	WasmPath string
	// Rebuilt is false when the module was current (or prebuilt) and no
	// toolchain ran.
	Rebuilt bool
	// Duration is how long Build took, skipped or not.
	Duration time.Duration
}

// toolchain builds one runtime's functions.
type toolchain interface {
	// stamp checks that the toolchain can run and returns what, besides the
	// sources, decides whether the module is current: the toolchain's
	// version, the SDK's hash.
	stamp(ctx context.Context, b *Builder, fn *config.Function) (string, error)
	// build writes fn's module to out; the toolchain's output goes to log.
	build(ctx context.Context, b *Builder, fn *config.Function, out string, log io.Writer) error
}

// toolchains maps a runtime to its toolchain. "wasm" needs none.
var toolchains = map[string]toolchain{
	"go":   goToolchain{},
	"rust": rustToolchain{},
	"c":    cToolchain{},
}

// Build builds fn to Dir/.embly/build/NAME.wasm, or for runtime "wasm" checks
// that fn.Path is a wasm module and returns it. It skips the toolchain when
// the module's inputs are unchanged since the last successful build.
func (b *Builder) Build(ctx context.Context, fn *config.Function) (Result, error) {
	start := time.Now()
	res, err := b.build(ctx, fn)
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("building function %q: %w", fn.Name, err)
	}
	return res, nil
}

func (b *Builder) build(ctx context.Context, fn *config.Function) (Result, error) {
	if fn.Runtime == "wasm" {
		if err := checkWasmFile(fn.Path); err != nil {
			return Result{}, err
		}
		return Result{WasmPath: fn.Path}, nil
	}
	tc, ok := toolchains[fn.Runtime]
	if !ok {
		return Result{}, fmt.Errorf("unknown runtime %q (want go, rust, c or wasm)", fn.Runtime)
	}
	if info, err := os.Stat(fn.Path); err != nil || !info.IsDir() {
		return Result{}, fmt.Errorf("source directory %s does not exist", fn.Path)
	}

	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		return Result{}, err
	}
	buildDir := filepath.Join(dir, StateDir, "build")
	res := Result{WasmPath: filepath.Join(buildDir, fn.Name+".wasm")}
	hashPath := filepath.Join(buildDir, fn.Name+".hash")

	stamp, err := tc.stamp(ctx, b, fn)
	if err != nil {
		return res, err
	}
	key, err := inputsHash(fn, stamp)
	if err != nil {
		return res, err
	}
	if current(res.WasmPath, hashPath, key) {
		b.printf("Function '%s' is up to date\n", fn.Name)
		return res, nil
	}

	b.printf("Building function '%s'\n", fn.Name)
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return res, err
	}
	// Build next to the old module and rename: a failed build leaves the
	// last good module in place, and a reader never sees half a file.
	tmp := res.WasmPath + ".tmp"
	log := b.lineWriter("[" + fn.Name + "]: ")
	err = tc.build(ctx, b, fn, tmp, log)
	log.Close()
	if err != nil {
		os.Remove(tmp)
		return res, err
	}
	if err := checkWasmFile(tmp); err != nil {
		return res, err
	}
	if err := os.Rename(tmp, res.WasmPath); err != nil {
		return res, err
	}
	res.Rebuilt = true
	return res, os.WriteFile(hashPath, []byte(key+"\n"), 0o644)
}

// current reports whether the module at wasm was built from inputs hashing
// to key.
func current(wasm, hashPath, key string) bool {
	last, err := os.ReadFile(hashPath)
	if err != nil || string(last) != key+"\n" {
		return false
	}
	return checkWasmFile(wasm) == nil
}

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte("\x00asm")

// checkWasmFile reports why path is not a wasm module, if it is not.
func checkWasmFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("wasm module %s does not exist", path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.IsDir() {
		return fmt.Errorf("%s is a directory; runtime \"wasm\" needs path to name a .wasm file", path)
	}
	head := make([]byte, len(wasmMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != string(wasmMagic) {
		return fmt.Errorf("%s is not a WebAssembly module: it does not start with the magic bytes \\0asm", path)
	}
	return nil
}

func (b *Builder) printf(format string, args ...any) {
	if b.Out == nil {
		return
	}
	b.outMu.Lock()
	defer b.outMu.Unlock()
	fmt.Fprintf(b.Out, format, args...)
}
