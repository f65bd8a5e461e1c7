package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Hostile guests: each must end alone, with the error its limit documents
// (docs/reliability.md), and leave the runtime serving.

// compileWith compiles test guest name as function fn with opts.
func compileWith(t *testing.T, r *Runtime, fn, name string, opts FunctionOptions) {
	t.Helper()
	if _, err := r.CompileWith(context.Background(), fn, guest(t, name), opts); err != nil {
		t.Fatal(err)
	}
}

// countingLog is a log that counts its lines and keeps the first bytes.
type countingLog struct {
	mu    sync.Mutex
	lines int
	bytes int
	text  strings.Builder
}

func (l *countingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines += strings.Count(string(p), "\n")
	l.bytes += len(p)
	if l.text.Len() < 4<<20 {
		l.text.Write(p)
	}
	return len(p), nil
}

func (l *countingLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

func (l *countingLog) count(substr string) int {
	return strings.Count(l.String(), substr)
}

func TestMemoryLimitPerFunction(t *testing.T) {
	log := &countingLog{}
	r := newRuntime(t, Options{Log: log})
	compileWith(t, r, "small", "membomb", FunctionOptions{MaxMemory: 16 << 20})
	compileWith(t, r, "default", "membomb", FunctionOptions{})
	for fn, limit := range map[string]int{"small": 16 << 20, "default": DefaultMaxMemory} {
		_, err := call(t, r, fn, nil)
		if err == nil || !strings.Contains(err.Error(), "trapped") {
			t.Errorf("%s: err = %v, want a trap", fn, err)
		}
		// It grows 1 MiB at a time: it must stop within 1 MiB of the limit.
		m := regexp.MustCompile(`\[` + fn + `\]: memory.grow failed at (\d+) pages`).FindStringSubmatch(log.String())
		if m == nil {
			t.Fatalf("%s: no report in the log:\n%s", fn, log.String())
		}
		pages, _ := strconv.Atoi(m[1])
		if got := pages << 16; got > limit || got <= limit-(1<<20) {
			t.Errorf("%s: memory.grow failed at %d bytes, limit %d", fn, got, limit)
		}
	}
	// The limit holds every time.
	if _, err := call(t, r, "small", nil); err == nil {
		t.Error("second bomb did not trap")
	}
	if n := log.count("[small]: memory.grow failed"); n != 2 {
		t.Errorf("%d reports from small, want 2", n)
	}
}

func TestMemoryLimitBelowModuleMinimum(t *testing.T) {
	r := newRuntime(t, Options{})
	_, err := r.CompileWith(context.Background(), "tiny", guest(t, "hello"), FunctionOptions{MaxMemory: 64 << 10})
	if err == nil || !strings.Contains(err.Error(), "max_memory") {
		t.Fatalf("err = %v, want a max_memory error", err)
	}
}

func TestDeepRecursionTraps(t *testing.T) {
	r := newRuntime(t, Options{}, "recurse", "hello")
	_, err := call(t, r, "recurse", nil)
	if err == nil || !strings.Contains(err.Error(), "trapped") {
		t.Fatalf("err = %v, want a trap", err)
	}
	t.Logf("recursion: %v", err)
	if out, err := call(t, r, "hello", nil); err != nil || !strings.Contains(out, "Hello World") {
		t.Fatalf("hello after the overflow = %q, %v", out, err)
	}
}

func TestCPUBudget(t *testing.T) {
	r := newRuntime(t, Options{})
	compileWith(t, r, "spin", "spin", FunctionOptions{CPUBudget: 200 * time.Millisecond})
	compileWith(t, r, "sleeper", "sleeper", FunctionOptions{CPUBudget: 100 * time.Millisecond})

	start := time.Now()
	inv, err := r.Spawn(context.Background(), "spin")
	if err != nil {
		t.Fatal(err)
	}
	// The budget ends the invocation, conn 1 with it: reading it fails
	// with the invocation's context.
	io.Copy(io.Discard, inv)
	err = inv.Wait()
	inv.Close()
	took := time.Since(start)
	if !errors.Is(err, ErrCPUBudget) {
		t.Fatalf("spin: err = %v, want ErrCPUBudget", err)
	}
	var to interface{ Timeout() bool }
	if !errors.As(err, &to) || !to.Timeout() {
		t.Errorf("spin: %v does not say Timeout()", err)
	}
	if took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("spin stopped after %v, want about 200ms", took)
	}
	t.Logf("spin: %v after %v", err, took)

	// 600 ms asleep in poll_oneoff and _events, with a budget of 100 ms.
	start = time.Now()
	out, err := call(t, r, "sleeper", nil)
	if err != nil || !strings.HasSuffix(out, "slept") {
		t.Fatalf("sleeper = %q, %v; waiting must not count against the budget", out, err)
	}
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Errorf("sleeper answered after %v, before its 600 ms of sleep", took)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	r := newRuntime(t, Options{}, "sleeper")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	inv, err := r.Spawn(ctx, "sleeper")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	start := time.Now()
	if err := inv.Wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want stopped by the deadline", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("an instance asleep in poll_oneoff took %v to stop", took)
	}
}

func TestOutputFloodIsBounded(t *testing.T) {
	log := &countingLog{}
	r := newRuntime(t, Options{Log: log}, "flood")
	out, err := call(t, r, "flood", nil)
	if err != nil || !strings.HasSuffix(out, "flooded") {
		t.Fatalf("flood = %q, %v", out, err)
	}
	t.Logf("68 MiB of output left %d bytes, %d lines in the log", log.bytes, log.lines)
	// Each line of 100 bytes gains a prefix of 10 in the log.
	if log.bytes > maxOutput*11/10+maxLine+1024 {
		t.Errorf("the log kept %d bytes of one invocation", log.bytes)
	}
	if n := log.count("[flood]: output truncated"); n != 1 {
		t.Errorf("%d truncation notices, want 1:\n%s", n, log.String()[max(0, len(log.String())-500):])
	}
}

func TestLineWriterBounds(t *testing.T) {
	log := &countingLog{}
	w := newLineWriter(log, "[f]: ")
	w.Write([]byte(strings.Repeat("z", 3*maxLine+5)))
	w.Write([]byte("end\n"))
	w.Flush()
	want := 4
	if log.lines != want {
		t.Errorf("%d lines, want %d", log.lines, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if len(line) > maxLine+len("[f]: ") {
			t.Errorf("a line of %d bytes", len(line))
		}
	}
}

func TestSpawnBombIsBounded(t *testing.T) {
	base := busyGoroutines()
	log := &countingLog{}
	r := newRuntime(t, Options{Log: log, MaxDescendants: 300, MaxChildren: 20})
	compileWith(t, r, "spawnbomb", "spawnbomb", FunctionOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv, err := r.Spawn(ctx, "spawnbomb")
	if err != nil {
		t.Fatal(err)
	}
	inv.CloseWrite()
	// The root and its 300 descendants come up, and no more.
	deadline := time.Now().Add(10 * time.Second)
	for log.count("[spawnbomb]: up\n") < 301 {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances up, want 301", log.count("[spawnbomb]: up\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := log.count("[spawnbomb]: up\n"); n != 301 {
		t.Fatalf("%d instances up, want 301", n)
	}
	// Another invocation is a tree of its own, with its own allowance.
	other, err := r.Spawn(ctx, "spawnbomb")
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for log.count("[spawnbomb]: up\n") < 602 {
		if time.Now().After(deadline) {
			t.Fatalf("second tree: %d instances up in all, want 602", log.count("[spawnbomb]: up\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for _, i := range []*Invocation{inv, other} {
		if err := i.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want cancelled", err)
		}
		i.Close()
	}
	waitForGoroutines(t, base)
}

func TestMaxConcurrency(t *testing.T) {
	r := newRuntime(t, Options{})
	compileWith(t, r, "waiter", "waiter", FunctionOptions{MaxConcurrency: 2})
	ctx, cancel := context.WithCancel(context.Background())
	var invs []*Invocation
	for range 2 {
		inv, err := r.Spawn(ctx, "waiter")
		if err != nil {
			t.Fatal(err)
		}
		invs = append(invs, inv)
	}
	_, err := r.Spawn(context.Background(), "waiter")
	if !errors.Is(err, ErrBusy) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("third spawn: err = %v, want ErrBusy", err)
	}
	cancel()
	for _, inv := range invs {
		inv.Wait()
		inv.Close()
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	inv, err := r.Spawn(ctx, "waiter")
	if err != nil {
		t.Fatalf("spawn after the others ended: %v", err)
	}
	cancel()
	inv.Wait()
	inv.Close()
}

func TestExitCodes(t *testing.T) {
	r := newRuntime(t, Options{}, "exitcode")
	for _, code := range []int{0, 1, 2, 3, 42, 125, 126, 127, 255} {
		for _, after := range []bool{false, true} {
			in := "code=" + strconv.Itoa(code)
			if after {
				in += " after"
			}
			out, err := call(t, r, "exitcode", []byte(in))
			if after != strings.HasSuffix(out, "done") {
				t.Errorf("%s: output %q", in, out)
			}
			switch {
			case code == 0 && err != nil:
				t.Errorf("%s: err = %v, want nil", in, err)
			case code != 0 && (err == nil || err.Error() != fmt.Sprintf(`function "exitcode" exited with code %d`, code)):
				t.Errorf("%s: err = %v", in, err)
			}
		}
	}
}

// mappings counts the process's memory mappings (Linux).
func mappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps:", err)
	}
	return strings.Count(string(b), "\n")
}

// TestStoppedWhileWaitingFreesMemory stops instances while they wait in
// _events, and instances that spawned a tree of waiting children: each
// must give its linear memory back. wazero defers that release when it
// closes a module whose context ended during a host call, and an instance
// stopped there never reached the point where it happens, so every one
// leaked a mapping until mmap failed (found by the soak: a spawn bomb
// leaked 2000 mappings per request).
func TestStoppedWhileWaitingFreesMemory(t *testing.T) {
	r := newRuntime(t, Options{MaxDescendants: 200}, "waiter")
	compileWith(t, r, "spawnbomb", "spawnbomb", FunctionOptions{})
	stopWhileWaiting := func(fn string) {
		ctx, cancel := context.WithCancel(context.Background())
		inv, err := r.Spawn(ctx, fn)
		if err != nil {
			t.Fatal(err)
		}
		inv.CloseWrite()
		time.Sleep(20 * time.Millisecond)
		cancel()
		inv.Wait()
		inv.Close()
	}
	for _, fn := range []string{"waiter", "spawnbomb"} {
		stopWhileWaiting(fn) // warm the pools
		before := mappings(t)
		for range 20 {
			stopWhileWaiting(fn)
		}
		if grew := mappings(t) - before; grew > 100 {
			t.Errorf("%s: %d mappings more after 20 instances stopped while waiting: their memories leak", fn, grew)
		}
	}
}
