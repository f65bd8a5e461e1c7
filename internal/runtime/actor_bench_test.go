package runtime

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/embly/embly/internal/wasmtest"
)

// Benchmarks of the actor model; docs/actors.md records their numbers.

// BenchmarkSpawnRoundTrip: a running function spawns a child function and
// exchanges one message with it ("spawn"), or exchanges one message with a
// child it keeps ("roundtrip"). Each op also includes one round trip between
// the Go side and the parent.
func BenchmarkSpawnRoundTrip(b *testing.B) {
	r := newRuntime(b, Options{}, "pinger", "echo")
	for _, bc := range []struct{ name, cmd string }{{"spawn", "s"}, {"roundtrip", "r"}} {
		b.Run(bc.name, func(b *testing.B) {
			inv, err := r.Spawn(context.Background(), "pinger")
			if err != nil {
				b.Fatal(err)
			}
			defer inv.Close()
			cmd, res := []byte(bc.cmd), make([]byte, 1)
			b.ReportAllocs()
			for b.Loop() {
				inv.Write(cmd)
				if _, err := io.ReadFull(inv, res); err != nil || res[0] != 'k' {
					b.Fatalf("answer %q, %v", res, err)
				}
			}
			inv.CloseWrite()
			if err := inv.Wait(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFanout1000: one instance spawns 1000 children, sends each a
// message and gathers every answer (testdata/many.c).
func BenchmarkFanout1000(b *testing.B) {
	r := newRuntime(b, Options{}, "many", "echo")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inv, err := r.Spawn(ctx, "many")
		if err != nil {
			b.Fatal(err)
		}
		inv.Write([]byte("1000"))
		inv.CloseWrite()
		out, _ := io.ReadAll(inv)
		if err := inv.Wait(); err != nil || string(out) != "ok=1000 bad=0 err=0" {
			b.Fatalf("%q, %v", out, err)
		}
		inv.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/child")
}

// BenchmarkPipeline streams 64 MiB through examples/pipeline's chain of
// three functions (upper -> rot13 -> squash) and back, next to a plain
// io.Copy through an io.Pipe of the same data: the baseline of moving bytes
// between two goroutines with no function in the way. functions-relay-only
// builds the stages without their byte transforms, to time the relaying.
func BenchmarkPipeline(b *testing.B) {
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 0123456789\n"), 1200)
	produce := func(w io.Writer) {
		for left := size; left > 0; {
			n, err := w.Write(chunk[:min(left, len(chunk))])
			if err != nil {
				return
			}
			left -= n
		}
	}
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			pr, pw := io.Pipe()
			go func() { produce(pw); pw.Close() }()
			if n, err := io.Copy(io.Discard, pr); err != nil || n != size {
				b.Fatal(n, err)
			}
		}
	})
	src, err := os.ReadFile("../../examples/pipeline/stage/stage.c")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		flags []string
	}{
		{"functions", nil},
		{"functions-relay-only", []string{"-DPIPELINE_RELAY_ONLY"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			wasm := wasmtest.BuildC(b, string(src), bc.flags...)
			r := newRuntime(b, Options{})
			for _, name := range []string{"upper", "rot13", "squash"} {
				if _, err := r.Compile(context.Background(), name, wasm); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			for b.Loop() {
				inv, err := r.Spawn(context.Background(), "upper")
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); produce(inv); inv.CloseWrite() }()
				n, err := io.Copy(io.Discard, inv)
				wg.Wait()
				if err != nil || n != size {
					b.Fatal(n, err)
				}
				if err := inv.Wait(); err != nil {
					b.Fatal(err)
				}
				inv.Close()
			}
		})
	}
}
