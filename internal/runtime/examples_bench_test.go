package runtime_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	r := benchRuntime(b, reuse, wasm)
	buf := make([]byte, 4096)
	var guest time.Duration
	b.ReportAllocs()
	for b.Loop() {
		guest += invokeHello(b, r, "f0", buf)
	}
	b.ReportMetric(float64(guest.Nanoseconds())/float64(b.N), "run-ns/op")
}

// BenchmarkModuleAB compares the modules $EMBLY_BENCH_AB names (comma
// separated; EMBLY_BENCH_REUSE=1 as above) in one process: each iteration
// is a round that runs a block of 2,000 invocations of each in turn, so
// the machine's noise falls on all of them alike. It reports, per module
// (m0, m1, ... in the order given), the fastest round's and the median
// round's time per invocation. This machine's noise is ±10% between runs;
// alternating blocks in one process is what makes a 5% difference visible.
//
//	EMBLY_BENCH_AB=$PWD/a.wasm,$PWD/b.wasm go test -run '^$' -bench ModuleAB -benchtime 40x ./internal/runtime
func BenchmarkModuleAB(b *testing.B) {
	list := os.Getenv("EMBLY_BENCH_AB")
	if list == "" {
		b.Skip("EMBLY_BENCH_AB names no modules")
	}
	var wasms [][]byte
	for _, path := range strings.Split(list, ",") {
		wasm, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		wasms = append(wasms, wasm)
	}
	r := benchRuntime(b, os.Getenv("EMBLY_BENCH_REUSE") == "1", wasms...)
	const block = 2000
	buf := make([]byte, 4096)
	rounds := make([][]float64, len(wasms))
	for b.Loop() {
		for i := range wasms {
			name := fmt.Sprint("f", i)
			start := time.Now()
			for range block {
				invokeHello(b, r, name, buf)
			}
			rounds[i] = append(rounds[i], float64(time.Since(start).Nanoseconds())/block)
		}
	}
	for i, ns := range rounds {
		slices.Sort(ns)
		b.ReportMetric(ns[0], fmt.Sprintf("m%d-min-ns/op", i))
		b.ReportMetric(ns[len(ns)/2], fmt.Sprintf("m%d-median-ns/op", i))
	}
}

// benchRuntime returns a runtime with wasms compiled as functions f0, f1,
// and so on.
func benchRuntime(b *testing.B, reuse bool, wasms ...[]byte) *runtime.Runtime {
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(ctx) })
	for i, wasm := range wasms {
		if _, err := r.CompileWith(ctx, fmt.Sprint("f", i), wasm, runtime.FunctionOptions{Reuse: reuse}); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// invokeHello runs one invocation of function name with the gateway's
// request head in its conn 1, checks that it answered 200, and returns
// how long the guest ran.
func invokeHello(b *testing.B, r *runtime.Runtime, name string, buf []byte) time.Duration {
	ctx := context.Background()
	inv, err := r.Prepare(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	io.WriteString(inv, gatewayHead)
	inv.CloseWrite()
	start := time.Now()
	inv.RunInline(nil)
	ran := time.Since(start)
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
	return ran
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
