package runtime_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/embly/embly/internal/build"
	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/runtime"
	"github.com/embly/embly/internal/wasmtest"
)

// gatewayHead is the request head the HTTP gateway writes for wrk's GET /.
const gatewayHead = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Forwarded-For: 127.0.0.1\r\n" +
	"X-Real-Ip: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n"

// BenchmarkExampleInvocation measures one request to each hello example,
// runtime only: prepare a fresh instance, put the gateway's request head in
// its conn 1, run it inline to its end (restoring the snapshot included)
// and read its response. No network, no gateway: what a request costs the
// runtime and the guest. The examples are built with their toolchains
// first; a missing toolchain skips its example.
//
//	go test -run '^$' -bench ExampleInvocation ./internal/runtime
func BenchmarkExampleInvocation(b *testing.B) {
	for _, bc := range []struct {
		example string
		reuse   bool
	}{{"hello-c", false}, {"hello-rust", false}, {"hello-go", false}, {"hello-go", true}} {
		name := bc.example
		if bc.reuse {
			name += "-reuse"
		}
		b.Run(name, func(b *testing.B) {
			benchInvocations(b, buildExample(b, bc.example), bc.reuse)
		})
	}
}

// BenchmarkModuleInvocation is BenchmarkExampleInvocation for a module
// already built, named by $EMBLY_BENCH_WASM (say a hello example's
// .embly/build/hello.wasm): to compare two builds of a guest, or two
// runtimes on one module, alternating, without rebuilding between runs.
// Without the variable it is skipped. EMBLY_BENCH_REUSE=1 runs the
// function with reuse = true.
//
//	EMBLY_BENCH_WASM=$PWD/a.wasm go test -run '^$' -bench ModuleInvocation ./internal/runtime
func BenchmarkModuleInvocation(b *testing.B) {
	path := os.Getenv("EMBLY_BENCH_WASM")
	if path == "" {
		b.Skip("EMBLY_BENCH_WASM names no module")
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	benchInvocations(b, wasm, os.Getenv("EMBLY_BENCH_REUSE") == "1")
}

// benchInvocations measures b.N invocations of wasm, as function "hello",
// each with the gateway's request head in its conn 1.
func benchInvocations(b *testing.B, wasm []byte, reuse bool) {
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.CompileWith(ctx, "hello", wasm, runtime.FunctionOptions{Reuse: reuse}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	var guest time.Duration
	b.ReportAllocs()
	for b.Loop() {
		inv, err := r.Prepare(ctx, "hello")
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(inv, gatewayHead)
		inv.CloseWrite()
		start := time.Now()
		inv.RunInline(nil)
		guest += time.Since(start)
		n := 0
		for {
			m, err := inv.Read(buf[n:])
			n += m
			if err != nil {
				break
			}
		}
		if err := inv.Wait(); err != nil || n < 12 || string(buf[:12]) != "HTTP/1.1 200" {
			b.Fatalf("%v: %q", err, buf[:n])
		}
		inv.Close()
	}
	b.ReportMetric(float64(guest.Nanoseconds())/float64(b.N), "run-ns/op")
}

// buildExample builds examples/NAME's one function in a copy of it and
// returns its module.
func buildExample(b *testing.B, name string) []byte {
	b.Helper()
	dir := wasmtest.CopyProject(b, filepath.Join("..", "..", "examples", name))
	proj, err := config.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	res, err := (&build.Builder{Dir: dir}).Build(context.Background(), proj.Functions[0])
	if err != nil {
		b.Skipf("building %s: %v", name, err)
	}
	wasm, err := os.ReadFile(res.WasmPath)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}
