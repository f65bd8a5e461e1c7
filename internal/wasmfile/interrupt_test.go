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
	done := make(chan error, 1)
	go func() { done <- call() }()
	time.Sleep(50 * time.Millisecond)
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
