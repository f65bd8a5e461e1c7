package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/embly/embly"
	"github.com/embly/embly/internal/config"
)

// cInstallHint ends every error about a missing C toolchain.
const cInstallHint = "install it with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`"

// cToolchain builds runtime "c" functions with clang for wasm32-wasi: every
// .c file of the function's folder, with wasi-libc, into one command module.
// The header sdk/c/embly.h comes from the copy the embly binary carries,
// written to DIR/.embly/sdk/c and put on the include path.
//
// A function with reuse = true is built as a reactor instead, with
// sdk/c/embly_reuse.c, whose embly_main runs main once per invocation on
// an instance that lives on (a command's _start ends its instance).
type cToolchain struct{}

func (cToolchain) stamp(ctx context.Context, b *Builder, fn *config.Function) (string, error) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return "", errors.New("clang was not found on PATH: " + cInstallHint)
	}
	if _, err := cSources(fn.Path); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, clang, "--version")
	cmd.Env = b.env()
	version, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", clang, err)
	}
	stamp := fmt.Sprintf("clang %s\n%s\nsdk %x", clang, version, sha256.Sum256(cHeader()))
	if fn.Reuse {
		stamp += fmt.Sprintf("\nreactor %x", sha256.Sum256(cReuseEntry()))
	}
	return stamp, nil
}

func (cToolchain) build(ctx context.Context, b *Builder, fn *config.Function, out string, log io.Writer) error {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return errors.New("clang was not found on PATH: " + cInstallHint)
	}
	if err := checkWasiClang(ctx, b, clang); err != nil {
		return err
	}
	sources, err := cSources(fn.Path)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		return err
	}
	sdkDir := filepath.Join(dir, StateDir, "sdk", "c")
	b.sdkMu.Lock()
	err = os.MkdirAll(sdkDir, 0o755)
	if err == nil {
		err = writeIfChanged(filepath.Join(sdkDir, "embly.h"), cHeader())
	}
	if err == nil && fn.Reuse {
		err = writeIfChanged(filepath.Join(sdkDir, "embly_reuse.c"), cReuseEntry())
	}
	b.sdkMu.Unlock()
	if err != nil {
		return fmt.Errorf("writing the C SDK to %s: %w", sdkDir, err)
	}

	// -s: no debug info or symbol names in the module.
	args := []string{"--target=wasm32-wasi", "-O2", "-s", "-I", sdkDir, "-o", out}
	if fn.Reuse {
		args = append(args, "-mexec-model=reactor", filepath.Join(sdkDir, "embly_reuse.c"))
	}
	cmd := exec.CommandContext(ctx, clang, append(args, sources...)...)
	cmd.Dir = fn.Path
	cmd.Env = b.env()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("clang: %w", err)
	}
	return nil
}

// cSources lists the .c files of dir, by name (clang runs in dir).
func cSources(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sources []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".c") {
			sources = append(sources, e.Name())
		}
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("no .c files in %s: a C function is a folder of .c files, one of which has main", dir)
	}
	slices.Sort(sources)
	return sources, nil
}

// checkWasiClang checks that clang has what linking a wasm32-wasi program
// takes, so that a missing package is named rather than left to the linker's
// error: wasi-libc's libc.a, compiler-rt's builtins, and wasm-ld (lld).
func checkWasiClang(ctx context.Context, b *Builder, clang string) error {
	ask := func(flag, what string) error {
		cmd := exec.CommandContext(ctx, clang, "--target=wasm32-wasi", flag)
		cmd.Env = b.env()
		out, err := cmd.Output()
		p := strings.TrimSpace(string(out))
		if err != nil || !filepath.IsAbs(p) || !isFile(p) {
			return fmt.Errorf("clang cannot build wasm32-wasi programs: %s is missing; %s", what, cInstallHint)
		}
		return nil
	}
	if err := ask("-print-file-name=libc.a", "wasi-libc"); err != nil {
		return err
	}
	if err := ask("-print-libgcc-file-name", "the wasm32 compiler runtime (libclang-rt-14-dev-wasm32)"); err != nil {
		return err
	}
	return ask("-print-prog-name=wasm-ld", "the wasm linker wasm-ld (lld)")
}

// cHeader is the embedded sdk/c/embly.h.
var cHeader = sync.OnceValue(func() []byte { return embeddedSDKFile("sdk/c/embly.h") })

// cReuseEntry is the embedded sdk/c/embly_reuse.c.
var cReuseEntry = sync.OnceValue(func() []byte { return embeddedSDKFile("sdk/c/embly_reuse.c") })

func embeddedSDKFile(name string) []byte {
	data, err := fs.ReadFile(embly.SDKs, name)
	if err != nil {
		panic(err) // the embedded FS is part of the binary: it cannot fail
	}
	return data
}
