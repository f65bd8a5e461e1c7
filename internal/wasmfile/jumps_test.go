package wasmfile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// dispatchSum is the code entry of a function laid out as Go lays them out
// (see DirectJumps): sum(n) adds, for i from 0 to n-1, i*3 when i is odd
// and i when it is even. Its exit and its "even" branch jump forward
// through the dispatch, its two loop back-edges jump back.
var dispatchSum = []byte{
	0x01, 0x03, 0x7F, // locals: $pc, $acc, $i (1, 2, 3; $n is 0)
	0x03, 0x40, // loop
	0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, // block ×5: $b4 outermost .. $b0
	0x20, 0x01, // local.get $pc
	0x0E, 0x05, 0x00, 0x01, 0x02, 0x03, 0x04, 0x04, // br_table $b0 $b1 $b2 $b3 $b4, default $b4
	0x0B,                   // end $b0: block 0
	0x41, 0x00, 0x21, 0x02, // acc = 0
	0x41, 0x00, 0x21, 0x03, // i = 0
	0x0B,                                     // end $b1: block 1, the loop's head
	0x20, 0x03, 0x20, 0x00, 0x4E, 0x04, 0x40, // if i >= n
	0x41, 0x09, 0x21, 0x01, 0x0C, 0x04, // pc = 9 (the default, block 4); br to the loop: forward
	0x0B,                                           // end if
	0x0B,                                           // end $b2: block 2
	0x20, 0x03, 0x41, 0x01, 0x71, 0x45, 0x04, 0x40, // if i&1 == 0
	0x41, 0x03, 0x21, 0x01, 0x0C, 0x03, // pc = 3; br to the loop: forward
	0x0B,                                                       // end if
	0x20, 0x02, 0x20, 0x03, 0x41, 0x03, 0x6C, 0x6A, 0x21, 0x02, // acc += i*3
	0x20, 0x03, 0x41, 0x01, 0x6A, 0x21, 0x03, // i++
	0x41, 0x01, 0x21, 0x01, 0x0C, 0x02, // pc = 1; br to the loop: back
	0x0B,                                     // end $b3: block 3
	0x20, 0x02, 0x20, 0x03, 0x6A, 0x21, 0x02, // acc += i
	0x20, 0x03, 0x41, 0x01, 0x6A, 0x21, 0x03, // i++
	0x41, 0x01, 0x21, 0x01, 0x0C, 0x01, // pc = 1; br to the loop: back
	0x0B,       // end $b4: block 4
	0x20, 0x02, // local.get $acc
	0x0F, // return
	0x0B, // end loop
	0x00, // unreachable
	0x0B, // end
}

// moduleWithSum is a module exporting code as "sum", of type (i32) -> i32.
func moduleWithSum(code []byte) []byte {
	sec := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1, 0x01, 0x60, 0x01, 0x7F, 0x01, 0x7F)...)    // type (i32) -> i32
	m = append(m, sec(3, 0x01, 0x00)...)                            // function 0: type 0
	m = append(m, sec(7, 0x01, 0x03, 's', 'u', 'm', 0x00, 0x00)...) // export "sum" func 0
	entry := append([]byte{byte(len(code))}, code...)
	return append(m, sec(10, append([]byte{0x01}, entry...)...)...)
}

// TestDirectJumps: the forward jumps of a function in Go's layout become
// branches to their blocks, the backward ones stay, and the function
// computes what it did, interruptible or not.
func TestDirectJumps(t *testing.T) {
	wasm := moduleWithSum(dispatchSum)
	out, err := DirectJumps(wasm)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(wasm)
	code := bytes.Index(want, dispatchSum)
	// pc = 9; br 4 (the loop) -> br 3 ($b4, past the if, $b2, $b3).
	want[code+bytes.Index(dispatchSum, []byte{0x41, 0x09, 0x21, 0x01, 0x0C, 0x04})+5] = 0x03
	// pc = 3; br 3 (the loop) -> br 1 ($b3, past the if).
	want[code+bytes.Index(dispatchSum, []byte{0x41, 0x03, 0x21, 0x01, 0x0C, 0x03})+5] = 0x01
	if !bytes.Equal(out, want) {
		t.Fatalf("rewritten:\n%x\nwant:\n%x", out, want)
	}
	if again, err := DirectJumps(out); err != nil || !bytes.Equal(again, out) {
		t.Fatalf("a second rewrite changed the module (err %v)", err)
	}
	interruptible, err := Interruptible(out)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for _, m := range []struct {
		name string
		wasm []byte
	}{{"original", wasm}, {"direct", out}, {"direct, interruptible", interruptible}} {
		mod, err := r.Instantiate(ctx, m.wasm)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		for _, n := range []uint64{0, 1, 2, 7, 100} {
			var want uint64
			for i := range n {
				if i%2 == 1 {
					want += 3 * i
				} else {
					want += i
				}
			}
			got, err := mod.ExportedFunction("sum").Call(ctx, n)
			if err != nil || got[0] != want {
				t.Errorf("%s: sum(%d) = %v, %v; want %d", m.name, n, got, err, want)
			}
		}
		mod.Close(ctx)
	}
}

// TestDirectJumpsGo runs a Go program that goes through much of the
// language and runtime (maps, sorting, formatting, goroutines and
// channels, defer and recover, a collection) as compiled and with direct
// jumps, and compares what they print.
func TestDirectJumpsGo(t *testing.T) {
	const src = `package main

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

type shape interface{ area() float64 }
type rect struct{ w, h float64 }
type circle struct{ r float64 }

func (r rect) area() float64   { return r.w * r.h }
func (c circle) area() float64 { return 3 * c.r * c.r }

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func safeDiv(a, b int) (q int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	return a / b, nil
}

func main() {
	words := map[string]int{}
	for i := 0; i < 2000; i++ {
		words["w"+strconv.Itoa(i%97)] += i
	}
	keys := make([]string, 0, len(words))
	for k := range words {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys[:10] {
		fmt.Fprintf(&b, "%s=%d ", k, words[k])
	}
	fmt.Println(b.String())
	fmt.Println(fib(22))
	shapes := []shape{rect{2, 3}, circle{1.5}, rect{0.5, 8}}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].area() < shapes[j].area() })
	fmt.Printf("%v\n", shapes)
	fmt.Println(safeDiv(7, 2))
	fmt.Println(safeDiv(7, 0))
	ch := make(chan int)
	done := make(chan int)
	go func() {
		s := 0
		for v := range ch {
			s += v
		}
		done <- s
	}()
	for i := 0; i < 500; i++ {
		ch <- i
		if i%100 == 0 {
			runtime.Gosched()
		}
	}
	close(ch)
	fmt.Println(<-done)
	runtime.GC()
	var parts []string
	for i := 0; i < 30; i++ {
		switch {
		case i%15 == 0:
			parts = append(parts, "FizzBuzz")
		case i%5 == 0:
			parts = append(parts, "Buzz")
		case i%3 == 0:
			parts = append(parts, "Fizz")
		default:
			parts = append(parts, strconv.Itoa(i))
		}
	}
	fmt.Println(strings.Join(parts, ","))
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module jumps\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "main.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "main.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := DirectJumps(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(direct, wasm) {
		t.Fatal("no jump of a Go program was made direct")
	}

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	run := func(wasm []byte) string {
		var stdout bytes.Buffer
		_, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStdout(&stdout).WithStderr(&stdout).WithName(""))
		if err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		return stdout.String()
	}
	want, got := run(wasm), run(direct)
	if got != want {
		t.Fatalf("with direct jumps the program printed\n%s\nwhere it printed\n%s", got, want)
	}
	t.Logf("both printed:\n%s", got)
}

// TestDirectJumpsStdlibTests runs the tests of two packages of Go's
// standard library, compiled to wasip1, with their jumps made direct and
// their loops made interruptible, as the runtime prepares every module:
// thousands of functions of Go's compiler output, each checked by its
// package's own tests.
func TestDirectJumpsStdlibTests(t *testing.T) {
	for _, pkg := range []string{"strconv", "sort"} {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "test.wasm")
			cmd := exec.Command("go", "test", "-c", "-o", out, pkg)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go test -c %s: %v\n%s", pkg, err, msg)
			}
			wasm, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if wasm, err = DirectJumps(wasm); err != nil {
				t.Fatal(err)
			}
			if wasm, err = Interruptible(wasm); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, r)
			var output bytes.Buffer
			_, err = r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().
				WithArgs(pkg+".test", "-test.short").WithStdout(&output).WithStderr(&output).
				WithSysNanotime().WithSysWalltime().
				WithFSConfig(wazero.NewFSConfig().WithDirMount(t.TempDir(), "/tmp"))) // examples write there
			if exit, ok := err.(*sys.ExitError); err != nil && !(ok && exit.ExitCode() == 0) {
				t.Fatalf("%s's tests with direct jumps: %v\n%s", pkg, err, output.String())
			}
			if !strings.HasSuffix(output.String(), "PASS\n") {
				t.Fatalf("%s's tests with direct jumps did not pass:\n%s", pkg, output.String())
			}
		})
	}
}

// FuzzDirectJumps: any input is rewritten or refused, never a panic; a
// rewritten module parses, and rewriting it again changes nothing.
func FuzzDirectJumps(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(moduleWithSum(dispatchSum))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := DirectJumps(wasm)
		if err != nil {
			return
		}
		if _, err := parse(out); err != nil {
			t.Fatalf("the rewritten module does not parse: %v", err)
		}
		if again, err := DirectJumps(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("a second rewrite changed the module (err %v)", err)
		}
	})
}
