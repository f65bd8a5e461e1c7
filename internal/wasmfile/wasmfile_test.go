package wasmfile

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/embly/embly/internal/wasmtest"
)

const reactor = `
static int counter = 5;
__attribute__((export_name("bump"))) int bump(void) { return ++counter; }
`

func compile(t *testing.T, wasm []byte) (wazero.Runtime, wazero.CompiledModule) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	c, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("rewritten module does not compile: %v", err)
	}
	return r, c
}

func TestExportGlobalsAndSnapshot(t *testing.T) {
	wasm := wasmtest.BuildC(t, reactor, "-nostdlib", "-Wl,--no-entry")
	exported, globals, err := ExportGlobals(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(globals) == 0 {
		t.Fatal("no mutable globals found; clang always has __stack_pointer")
	}
	r0, c0 := compile(t, exported)
	mod0, err := r0.InstantiateModule(context.Background(), c0, wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range globals {
		if _, ok := mod0.ExportedGlobal(g.ExportName()).(api.MutableGlobal); !ok {
			t.Errorf("%s not exported as a mutable global", g.ExportName())
		}
	}

	snap, err := Snapshot(exported, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, c := compile(t, snap)
	if min := c.ExportedMemories()["memory"].Min(); min != 3 {
		t.Errorf("memory minimum = %d, want 3", min)
	}
	// Without data segments the counter starts at 0, not 5: the memory's
	// contents are the host's to provide.
	mod, err := r.InstantiateModule(context.Background(), c, wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction("bump").Call(context.Background())
	if err != nil || api.DecodeI32(res[0]) != 1 {
		t.Fatalf("bump() = %v, %v; want 1 (no data segments)", res, err)
	}
}

func TestRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "\x00asm", "\x00asm\x01\x00\x00\x00\x07\xff", "not wasm at all"} {
		if _, _, err := ExportGlobals([]byte(in)); err == nil {
			t.Errorf("ExportGlobals(%q) succeeded", in)
		}
	}
}

func FuzzExportGlobals(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x06\x01\x7f\x01\x41\x00\x0b\x07\x01\x00"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		exported, _, err := ExportGlobals(wasm)
		if err != nil {
			return
		}
		// Snapshot may refuse the module, but must not panic.
		_, _ = Snapshot(exported, 1)
	})
}
