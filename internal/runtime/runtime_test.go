package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/embly/embly/internal/wasmtest"
)

var (
	guestsOnce sync.Once
	guests     map[string][]byte
)

// guest returns the wasm of testdata/NAME.c, building all guests once.
func guest(t testing.TB, name string) []byte {
	t.Helper()
	guestsOnce.Do(func() {
		guests = make(map[string][]byte)
		files, _ := filepath.Glob("testdata/*.c")
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(filepath.Base(f), ".c")
			var flags []string
			if strings.HasPrefix(name, "reactor") {
				flags = []string{"-mexec-model=reactor"}
			}
			guests[name] = wasmtest.BuildC(t, string(src), flags...)
		}
	})
	wasm, ok := guests[name]
	if !ok {
		t.Fatalf("no guest %q (did the build fail?)", name)
	}
	return wasm
}

// newRuntime returns a Runtime with the named test guests compiled.
func newRuntime(t testing.TB, opts Options, names ...string) *Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	for _, name := range names {
		if _, err := r.Compile(ctx, name, guest(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// call spawns fn, sends in, closes our side and returns all the function
// wrote and how it ended.
func call(t *testing.T, r *Runtime, fn string, in []byte) (string, error) {
	t.Helper()
	inv, err := r.Spawn(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	go func() {
		inv.Write(in)
		inv.CloseWrite()
	}()
	out, readErr := io.ReadAll(inv)
	if readErr != nil {
		t.Fatalf("reading from %s: %v", fn, readErr)
	}
	return string(out), inv.Wait()
}

func TestHello(t *testing.T) {
	r := newRuntime(t, Options{}, "hello")
	out, err := call(t, r, "hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestEchoLargeBody(t *testing.T) {
	r := newRuntime(t, Options{Window: 4096}, "echo")
	body := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	out, err := call(t, r, "echo", body)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(body) {
		t.Fatalf("echo returned %d bytes, want %d", len(out), len(body))
	}
}

func TestSpawnChild(t *testing.T) {
	r := newRuntime(t, Options{}, "parent", "echo")
	out, err := call(t, r, "parent", []byte("ping"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "child said: ping" {
		t.Fatalf("got %q", out)
	}
}

func TestABIEdgeCases(t *testing.T) {
	r := newRuntime(t, Options{}, "probe", "echo")
	inv, err := r.Spawn(context.Background(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	out, err := io.ReadAll(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.CloseWrite()
	if err := inv.Wait(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	want := map[string]string{
		"read_bad_buf":           "21",
		"read_bad_nread":         "21",
		"read_wrapping":          "21",
		"write_bad_buf":          "21",
		"write_bad_nwritten":     "21",
		"spawn_bad_name":         "21",
		"spawn_bad_id":           "21",
		"events_bad_ids":         "21",
		"events_bad_n":           "21",
		"read_bad_conn":          "8",
		"write_bad_conn":         "8",
		"close_bad_conn":         "8",
		"spawn_unknown_function": "44",
		"spawn_unknown_target":   "44",
		"read_empty":             "6",
		"events_poll":            "0 n=0",
		"events_timeout":         "0 n=0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestTrapAndExit(t *testing.T) {
	var log bytes.Buffer
	r := newRuntime(t, Options{Log: &log}, "trap", "exit3")
	out, err := call(t, r, "trap", nil)
	if err == nil || !strings.Contains(err.Error(), `function "trap" trapped`) {
		t.Fatalf("trap: err = %v", err)
	}
	if out != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("output before the trap was lost: %q", out)
	}
	_, err = call(t, r, "exit3", nil)
	if err == nil || err.Error() != `function "exit3" exited with code 3` {
		t.Fatalf("exit: err = %v", err)
	}
	for _, line := range []string{"[exit3]: about to exit\n", "[exit3]: with code 3\n"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
}

func TestCancelStopsSpinningInstance(t *testing.T) {
	r := newRuntime(t, Options{}, "spin")
	ctx, cancel := context.WithCancel(context.Background())
	inv, err := r.Spawn(ctx, "spin")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error)
	go func() { done <- inv.Wait() }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want stopped by cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled spinning instance did not stop")
	}
}

// TestCallerContextEndsInvocation: an invocation's context is detached from
// its caller's, and the watch ends it when the caller's ends, with the
// caller's cause, whether that happens while it runs or before it starts.
func TestCallerContextEndsInvocation(t *testing.T) {
	r := newRuntime(t, Options{}, "spin")
	errGone := errors.New("the client went away")
	for _, early := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		inv, err := r.Prepare(ctx, "spin")
		if err != nil {
			t.Fatal(err)
		}
		if early {
			cancel(errGone)
		} else {
			time.AfterFunc(20*time.Millisecond, func() { cancel(errGone) })
		}
		done := make(chan error)
		go func() {
			inv.RunInline(nil)
			done <- inv.Wait()
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errGone) {
				t.Fatalf("early %v: err = %v, want the caller's cause", early, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("early %v: the caller's context ended and the instance did not stop", early)
		}
		inv.Close()
	}
}

func TestMaxChildren(t *testing.T) {
	r := newRuntime(t, Options{MaxChildren: 5}, "fanout", "echo")
	out, err := call(t, r, "fanout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if out != "spawned=5 err=6" {
		t.Fatalf("got %q, want 5 children then EAGAIN", out)
	}
}

func TestSpawnUnknown(t *testing.T) {
	r := newRuntime(t, Options{})
	if _, err := r.Spawn(context.Background(), "nope"); !errors.Is(err, ErrNoFunction) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		r, err := New(ctx, Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Compile(ctx, "hello", guest(t, "hello")); err != nil {
			t.Fatal(err)
		}
		r.Close(ctx)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Fatal("compilation cache directory is empty")
	}
}

func BenchmarkHello(b *testing.B) {
	r := newRuntime(b, Options{}, "hello")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inv, err := r.Spawn(ctx, "hello")
		if err != nil {
			b.Fatal(err)
		}
		inv.CloseWrite()
		io.Copy(io.Discard, inv)
		if err := inv.Wait(); err != nil {
			b.Fatal(err)
		}
		inv.Close()
	}
}

// TestInstancesAreIsolated runs a guest that dirties its memory many times
// over, concurrently: each run must start from the module's initial state.
func TestInstancesAreIsolated(t *testing.T) {
	r := newRuntime(t, Options{}, "isolation")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				out, err := call(t, r, "isolation", nil)
				if err != nil || out != "counter=1 dirty=0" {
					t.Errorf("run %d: %q, %v", j, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSnapshotIsolation: a reactor is initialized once and every invocation
// starts from that snapshot, whatever earlier invocations wrote.
func TestSnapshotIsolation(t *testing.T) {
	r := newRuntime(t, Options{}, "reactor")
	if r.function("reactor").snap == nil {
		t.Fatal("the reactor was not pre-initialized")
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				out, err := call(t, r, "reactor", nil)
				if err != nil || out != "initialized=42 counter=1 dirty=0" {
					t.Errorf("invocation %d: %q, %v", j, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkReactor(b *testing.B) {
	r := newRuntime(b, Options{}, "reactor")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inv, err := r.Spawn(ctx, "reactor")
		if err != nil {
			b.Fatal(err)
		}
		inv.CloseWrite()
		io.Copy(io.Discard, inv)
		if err := inv.Wait(); err != nil {
			b.Fatal(err)
		}
		inv.Close()
	}
}

// TestReuse: a reactor declared reusable keeps its state from one
// invocation to the next; a command is still reset, since its _start need
// not be re-entrant.
func TestReuse(t *testing.T) {
	ctx := context.Background()
	var log bytes.Buffer
	r := newRuntime(t, Options{Log: &log})
	for _, name := range []string{"isolation", "reactor"} {
		if _, err := r.CompileWith(ctx, name, guest(t, name), FunctionOptions{Reuse: true}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			out, err := call(t, r, name, nil)
			if err != nil {
				t.Fatalf("%s, invocation %d: %v", name, i, err)
			}
			want := fmt.Sprintf("counter=%d ", i)
			if name == "isolation" {
				want = "counter=1 "
			}
			if !strings.Contains(out, want) {
				t.Errorf("%s, invocation %d: %q, want %q in it", name, i, out, want)
			}
		}
	}
	if !strings.Contains(log.String(), "[isolation]: reuse = true has no effect") {
		t.Errorf("no notice that reuse does not apply to a command; log: %q", log.String())
	}
}

// TestGuestClockResumes: a snapshot instance's monotonic clock resumes from
// the snapshot (fresh invocations) or from where it stopped (reuse), so the
// time the guest was not running never shows up as a jump.
func TestGuestClockResumes(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, Options{})
	elapsed := func() time.Duration {
		t.Helper()
		out, err := call(t, r, "reactorclock", nil)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := strconv.ParseInt(out, 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return time.Duration(ns)
	}
	const idle = 300 * time.Millisecond
	for _, reuse := range []bool{false, true} {
		if _, err := r.CompileWith(ctx, "reactorclock", guest(t, "reactorclock"), FunctionOptions{Reuse: reuse}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(idle)
		first := elapsed()
		time.Sleep(idle)
		second := elapsed()
		if first >= idle || second >= first+idle {
			t.Errorf("reuse=%v: the guest saw %s, then %s since its initialization; idle time leaked into its clock", reuse, first, second)
		}
		if reuse && second < first {
			t.Errorf("reuse: the clock went back from %s to %s", first, second)
		}
	}
}
