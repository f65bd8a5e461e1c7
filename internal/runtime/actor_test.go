package runtime

import (
	"bytes"
	"context"
	"io"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The actor model's semantics (docs/abi.md "Conns" and "_events"), checked
// with C guests in testdata.

// callString is call with a string input.
func callString(t *testing.T, r *Runtime, fn, in string) string {
	t.Helper()
	out, err := call(t, r, fn, []byte(in))
	if err != nil {
		t.Fatalf("%s: %v (output %q)", fn, err, out)
	}
	return out
}

// TestThousandsOfConns: one instance holds 3000 conns to live children at
// once and gets every answer back to the right conn.
func TestThousandsOfConns(t *testing.T) {
	base := busyGoroutines()
	r := newRuntime(t, Options{MaxChildren: 5000}, "many", "echo")
	if out := callString(t, r, "many", "3000"); out != "ok=3000 bad=0 err=0" {
		t.Fatalf("got %q", out)
	}
	waitForGoroutines(t, base)
}

// TestDefaultChildrenLimit: by default an instance may have more than 1000
// live children, and _spawn is EAGAIN past the limit.
func TestDefaultChildrenLimit(t *testing.T) {
	r := newRuntime(t, Options{}, "many", "fanout", "echo")
	if out := callString(t, r, "many", "1000"); out != "ok=1000 bad=0 err=0" {
		t.Fatalf("1000 children: %q", out)
	}
	want := "spawned=1024 err=6"
	if out := callString(t, r, "fanout", ""); out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// TestFunctionMaxChildren: max_children on one function caps its live
// children (the 6th live spawn is EAGAIN) and a slot frees when a child ends.
func TestFunctionMaxChildren(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, Options{}, "echo", "fanout")
	if _, err := r.CompileWith(ctx, "limit", guest(t, "limit"), FunctionOptions{MaxChildren: 5}); err != nil {
		t.Fatal(err)
	}
	if out := callString(t, r, "limit", ""); out != "spawned=5 err=6 respawn=0" {
		t.Fatalf("got %q", out)
	}
	// Other functions keep the runtime's default.
	if out := callString(t, r, "fanout", ""); out != "spawned=1024 err=6" {
		t.Fatalf("fanout: %q", out)
	}
}

// TestWindowAndEvents: _write takes what fits in the window, EAGAIN when it
// is full; a full window is not news; the reopened window wakes the writer
// once; _events with a positive timeout returns n=0 after the timeout, and
// wakes early on news.
func TestWindowAndEvents(t *testing.T) {
	log := newLineSignal("[window]: filled")
	r := newRuntime(t, Options{Window: 4096, Log: log}, "window")
	inv, err := r.Spawn(context.Background(), "window")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	select {
	case <-log.seen:
	case <-time.After(30 * time.Second):
		t.Fatalf("the guest never filled its window; log:\n%s", log)
	}
	out, err := io.ReadAll(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.CloseWrite()
	if err := inv.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"[window]: timeout err=0 n=0 waited_enough=1\n",
		"[window]: filled first=4096 err1=0 err2=6 second=0 polled=0\n",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	fill, report, _ := strings.Cut(string(out), "|")
	if fill != strings.Repeat("w", 4096) {
		t.Errorf("window held %d bytes, want 4096", len(fill))
	}
	if want := "woke err=0 n=1 id=1 fast=1 again=0"; report != want {
		t.Errorf("report %q, want %q", report, want)
	}
}

// TestEventsExact: _events reports exactly the conns with news.
func TestEventsExact(t *testing.T) {
	r := newRuntime(t, Options{}, "events", "echo")
	want := "quiet=0\nfirst=1 only_b=1\nlevel=1 only_b=1\neof_pending=1 only_b=1\neof=0\nafter_eof=0\na_and_c=1 other=0\n"
	if out := callString(t, r, "events", ""); out != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestHalfClose: an instance that closed its write side still reads, and
// the other side reads EOF while it is still writing.
func TestHalfClose(t *testing.T) {
	log := newLineSignal("")
	r := newRuntime(t, Options{Log: log}, "halfclose")
	inv, err := r.Spawn(context.Background(), "halfclose")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	if n, err := io.Copy(io.Discard, inv); n != 0 || err != nil {
		t.Fatalf("read %d bytes, %v; want EOF at once", n, err)
	}
	if _, err := inv.Write(bytes.Repeat([]byte("z"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	inv.CloseWrite()
	if err := inv.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := "[halfclose]: write_after_close=64 got=1048576\n"; log.String() != want {
		t.Fatalf("log %q, want %q", log, want)
	}
}

// TestChildEndsClosesConns: a child that traps, exits or returns closes its
// conns; the parent reads what it wrote, then EOF.
func TestChildEndsClosesConns(t *testing.T) {
	r := newRuntime(t, Options{}, "reaper", "trap", "exit3", "hello")
	want := "trap err=0 HTTP/1.1 200 OK\r\n|exit3 err=0 |hello err=0 HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World|"
	if out := callString(t, r, "reaper", ""); out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

// TestParentEndTakesChildrenDown: however a parent ends, its children that
// would never end on their own are stopped, Wait returns, and no goroutine
// is left behind.
func TestParentEndTakesChildrenDown(t *testing.T) {
	r := newRuntime(t, Options{}, "orphans", "spin", "waiter")
	for _, how := range []string{"r", "t", "x", "w"} {
		t.Run(how, func(t *testing.T) {
			base := busyGoroutines()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inv, err := r.Spawn(ctx, "orphans")
			if err != nil {
				t.Fatal(err)
			}
			defer inv.Close()
			buf := make([]byte, 64)
			n, _ := io.ReadFull(inv, buf[:len("spawned=20")])
			if string(buf[:n]) != "spawned=20" {
				t.Fatalf("got %q", buf[:n])
			}
			inv.Write([]byte(how))
			if how == "w" {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- inv.Wait() }()
			select {
			case err := <-done:
				if (err == nil) != (how == "r") {
					t.Fatalf("Wait = %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the parent's children kept it from ending")
			}
			waitForGoroutines(t, base)
		})
	}
}

// TestStreamHeapBounded: streaming 200 MiB out of an instance holds no more
// than the windows on the host: the Go heap does not grow with the stream.
func TestStreamHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	r := newRuntime(t, Options{}, "stream")
	callString(t, r, "stream", "1") // warm up
	before := heapInUse()
	var peak uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, heapInUse())
			}
		}
	}()
	inv, err := r.Spawn(context.Background(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	inv.Write([]byte("200"))
	inv.CloseWrite()
	n, err := io.Copy(io.Discard, inv)
	done <- struct{}{}
	<-done
	if err != nil || n != 200<<20 {
		t.Fatalf("streamed %d bytes, %v", n, err)
	}
	if err := inv.Wait(); err != nil {
		t.Fatal(err)
	}
	growth := int64(peak) - int64(before)
	t.Logf("heap in use: %d KiB before, %d KiB at the peak", before>>10, peak>>10)
	if growth > 16<<20 {
		t.Fatalf("the heap grew by %d MiB while streaming", growth>>20)
	}
}

func heapInUse() uint64 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// busyGoroutines counts goroutines, leaving out idle workers, which wait for
// the next instance and exit on their own after workerIdle (see workers.go),
// and the runtime's watch (watch.go), which lives as long as the runtime.
func busyGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	busy := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !idleWorker(g) {
			busy++
		}
	}
	return busy
}

// idleWorker reports whether the goroutine dump g is a worker waiting for a
// job or the runtime's watch: its first frame outside packages runtime, sync
// and time is workers.loop or watch.loop.
func idleWorker(g string) bool {
	lines := strings.Split(g, "\n")
	for i := 1; i < len(lines); i += 2 {
		if strings.HasPrefix(lines[i], "runtime.") || strings.HasPrefix(lines[i], "sync.") ||
			strings.HasPrefix(lines[i], "time.") {
			continue
		}
		return strings.Contains(lines[i], "internal/runtime.(*workers).loop") ||
			strings.Contains(lines[i], "internal/runtime.(*watch).loop")
	}
	return false
}

// waitForGoroutines waits until no more goroutines are busy than base.
func waitForGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := busyGoroutines()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines busy, %d before:\n%s", n, base, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lineSignal is a log that closes seen when a line starting with prefix
// arrives.
type lineSignal struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix string
	seen   chan struct{}
	once   sync.Once
}

func newLineSignal(prefix string) *lineSignal {
	return &lineSignal{prefix: prefix, seen: make(chan struct{})}
}

func (l *lineSignal) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prefix != "" && bytes.HasPrefix(p, []byte(l.prefix)) {
		l.once.Do(func() { close(l.seen) })
	}
	return l.buf.Write(p)
}

func (l *lineSignal) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
