package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/wasmtest"
)

// FuzzHostCalls calls every host call (_read, _write, _spawn, _events,
// _close and poll_oneoff) with arbitrary arguments, on arbitrary memory,
// from a guest that exposes them raw (testdata/abi/abicalls.c). Whatever the
// arguments, a call must return a documented errno or stop the instance
// cleanly; a Go panic in a host function (which wazero would turn into an
// error) fails the test.
//
// The input is a program: each op is a byte choosing the call, followed by
// its arguments, 4 bytes each (8 for _events' timeout).
func FuzzHostCalls(f *testing.F) {
	src, err := os.ReadFile("testdata/abi/abicalls.c")
	if err != nil {
		f.Fatal(err)
	}
	wasm := wasmtest.BuildC(f, string(src), "-mexec-model=reactor")
	for _, seed := range [][]byte{
		{},
		{0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0, 0, 2, 0},               // _read(1, 65536, 16, 131072)
		{1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0, 0x10, 0, 0, 0, 0, 0, 0, 0}, // _write past the end
		{2, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 1, 0},                           // _spawn from address 0
		{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 0, 0, 0, 0, 0, 2, 0},    // _events poll
		{4, 1, 0, 0, 0}, // _close(1)
		{5, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 3, 0}, // poll_oneoff of one zeroed subscription
		{6, 0, 0, 1, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // memory write, then
		{5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	r, err := New(ctx, Options{MaxChildren: 4, MaxDescendants: 8})
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.Compile(ctx, "hello", guest(f, "hello")); err != nil {
		f.Fatal(err)
	}
	compiled, err := r.wz.CompileModule(ctx, wasm)
	if err != nil {
		f.Fatal(err)
	}
	fn := &function{name: "fuzz", logPrefix: "[fuzz]: ", opts: FunctionOptions{MaxChildren: 4, CPUBudget: time.Second}}

	f.Fuzz(func(t *testing.T, prog []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		inst := &instance{rt: r, fn: fn, mb: bus.NewMailbox()}
		inst.tree = &inst.descendants
		ictx, stop := context.WithCancel(ctx)
		inst.ctx = context.WithValue(ictx, instanceKey{}, inst)
		mine, theirs := bus.NewPair(r.opts.Window)
		inst.mb.Add(theirs)
		peer := bus.NewMailbox()
		peer.Add(mine)
		peer.Write(1, []byte("GET / HTTP/1.1\r\n\r\n"))
		mod, err := r.wz.InstantiateModule(inst.ctx, compiled, r.moduleConfig("fuzz"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			mod.Close(context.Background())
			inst.mb.Close()
			peer.Close()
			stop()
			inst.children.Wait()
		}()
		runProgram(t, inst.ctx, mod, prog)
	})
}

// Documented errnos: the embly calls' (docs/abi.md) and poll_oneoff's.
var (
	emblyErrnos = []uint64{0, 2, 6, 8, 21, 44, 64}
	pollErrnos  = []uint64{0, wasiEBADF, wasiEFAULT, wasiEINVAL}
)

func runProgram(t *testing.T, ctx context.Context, mod api.Module, prog []byte) {
	word := func() uint64 {
		var b [4]byte
		n := copy(b[:], prog)
		prog = prog[n:]
		return uint64(binary.BigEndian.Uint32(b[:]))
	}
	for steps := 0; len(prog) > 0 && steps < 64; steps++ {
		op := prog[0] % 7
		prog = prog[1:]
		var name string
		var args []uint64
		allowed := emblyErrnos
		switch op {
		case 0:
			name, args = "f_read", []uint64{word(), word(), word(), word()}
		case 1:
			name, args = "f_write", []uint64{word(), word(), word(), word()}
		case 2:
			name, args = "f_spawn", []uint64{word(), word(), word()}
		case 3:
			// A timeout of up to ~65 ms, or negative (forever), which the
			// context's deadline ends.
			timeout := int64(int16(word()))
			if timeout > 0 {
				timeout *= 1000
			}
			name, args = "f_events", []uint64{uint64(timeout), word(), word(), word()}
		case 4:
			name, args = "f_close", []uint64{word()}
		case 5:
			name, args, allowed = "f_poll", []uint64{word(), word(), word(), word()}, pollErrnos
		case 6:
			// Write fuzzed bytes into memory, so that pointers find
			// subscriptions and names worth reading.
			off, n := uint32(word()), int(word()%256)
			data := prog[:min(n, len(prog))]
			prog = prog[len(data):]
			mod.Memory().Write(off%mod.Memory().Size(), data)
			continue
		}
		res, err := mod.ExportedFunction(name).Call(ctx, args...)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, errStopped) {
				return // stopped while waiting: the documented end
			}
			t.Fatalf("%s%v: %v", name, args, err)
		}
		if errno := uint64(uint32(res[0])); !slices.Contains(allowed, errno) {
			t.Fatalf("%s%v = errno %d, not a documented one", name, args, errno)
		}
	}
}
