package wasmfile

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/embly/embly/internal/wasmtest"
)

// TestInterruptibleStopsALoop: a loop that never calls out stops once the
// interrupt global is set from another goroutine, and a module that is not
// interrupted runs as before.
func TestInterruptibleStopsALoop(t *testing.T) {
	const spin = `int main(void) { volatile int x = 0; for (;;) x++; }`
	const sum = `#include <stdlib.h>
int main(void) { volatile long long s = 0; for (int i = 0; i < 1000000; i++) s += i; return s == 499999500000LL ? 0 : 1; }`
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)

	run := func(src string) (api.MutableGlobal, func() error) {
		wasm, err := Interruptible(wasmtest.BuildC(t, src))
		if err != nil {
			t.Fatal(err)
		}
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		g, ok := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
		if !ok {
			t.Fatal("no interrupt global exported")
		}
		return g, func() error { _, err := mod.ExportedFunction("_start").Call(ctx); return err }
	}

	_, call := run(sum)
	if err := call(); err != nil {
		t.Fatalf("an instrumented loop that ends: %v", err)
	}

	g, call := run(spin)
	stopsWhenInterrupted(t, g, call)
}

// stopsWhenInterrupted runs call, a loop that never ends by itself, sets
// the interrupt global g from this goroutine, and checks that call traps.
func stopsWhenInterrupted(t *testing.T, g api.MutableGlobal, call func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	time.Sleep(20 * time.Millisecond)
	g.Set(1)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the interrupted loop returned without a trap")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("setting the interrupt global did not stop the loop")
	}
}

// FuzzInterruptible: any input is rewritten or refused, never a panic, and
// a rewritten module still parses.
func FuzzInterruptible(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(wasmtest.BuildC(f, `int main(void) { volatile int x = 0; for (int i = 0; i < 10; i++) x++; return x; }`))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Interruptible(wasm)
		if err != nil {
			return
		}
		if _, err := parse(out); err != nil {
			t.Fatalf("the rewritten module does not parse: %v", err)
		}
	})
}

// TestInterruptibleBranches: every way back to a loop is checked, however
// deep the branch sits: br, br_if and br_table, from inside nested blocks.
func TestInterruptibleBranches(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte // of a () -> () function; every one spins forever
	}{
		{"br", []byte{0x03, 0x40, 0x0C, 0x00, 0x0B}},                         // loop br 0 end
		{"br_if", []byte{0x03, 0x40, 0x41, 0x01, 0x0D, 0x00, 0x0B}},          // loop i32.const 1 br_if 0 end
		{"br_table", []byte{0x03, 0x40, 0x41, 0x00, 0x0E, 0x00, 0x00, 0x0B}}, // loop i32.const 0 br_table 0 end
		// loop block (i32.const 0 if end) i32.const 1 if br 2 end end end
		{"nested", []byte{0x03, 0x40, 0x02, 0x40, 0x41, 0x00, 0x04, 0x40, 0x0B, 0x41, 0x01, 0x04, 0x40, 0x0C, 0x02, 0x0B, 0x0B, 0x0B}},
		{"table default", []byte{0x02, 0x40, 0x03, 0x40, 0x41, 0x05, 0x0E, 0x01, 0x01, 0x00, 0x0B, 0x0B}}, // block loop br_table [1] default 0 end end
	} {
		t.Run(tt.name, func(t *testing.T) {
			wasm := moduleWithFunc(append(append([]byte{0x00}, tt.body...), 0x0B))
			out, err := Interruptible(wasm)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			g := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
			stopsWhenInterrupted(t, g, func() error { _, err := mod.ExportedFunction("spin").Call(ctx); return err })
		})
	}
}

// moduleWithFunc is a module with one memory and one exported function
// "spin" of type () -> () whose code entry (locals and body) is code.
func moduleWithFunc(code []byte) []byte {
	sec := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1, 0x01, 0x60, 0x00, 0x00)...)                     // type () -> ()
	m = append(m, sec(3, 0x01, 0x00)...)                                 // function 0: type 0
	m = append(m, sec(5, 0x01, 0x00, 0x01)...)                           // memory min 1
	m = append(m, sec(7, 0x01, 0x04, 's', 'p', 'i', 'n', 0x00, 0x00)...) // export "spin" func 0
	entry := append([]byte{byte(len(code))}, code...)
	m = append(m, sec(10, append([]byte{0x01}, entry...)...)...)
	return m
}
