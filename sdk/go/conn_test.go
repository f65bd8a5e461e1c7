package embly

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

// script returns a peer that runs steps one per blocked _events call.
func script(steps ...func(f *fakeSys)) func(f *fakeSys) bool {
	return func(f *fakeSys) bool {
		if len(steps) == 0 {
			return false
		}
		steps[0](f)
		steps = steps[1:]
		return true
	}
}

func TestReadBlocksUntilDataThenEOF(t *testing.T) {
	f := newFakeSys(t)
	f.peer = script(
		func(f *fakeSys) { f.send(1, "hello ") },
		func(f *fakeSys) { f.send(1, "world") },
		func(f *fakeSys) { f.closeIn(1) },
	)
	got, err := io.ReadAll(newTestHost(f).conn(1))
	if err != nil || string(got) != "hello world" {
		t.Fatalf("ReadAll = %q, %v; want %q", got, err, "hello world")
	}
}

func TestReadShortReads(t *testing.T) {
	f := newFakeSys(t)
	f.conn(1).maxRead = 3
	f.send(1, "abcdefgh")
	f.closeIn(1)
	got, err := io.ReadAll(newTestHost(f).conn(1))
	if err != nil || string(got) != "abcdefgh" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if f.eventsCalls != 0 {
		t.Errorf("_events called %d times; data was there all along", f.eventsCalls)
	}
}

func TestReadErrors(t *testing.T) {
	f := newFakeSys(t)
	_, err := newTestHost(f).conn(9).Read(make([]byte, 8))
	if !errors.Is(err, EBADF) {
		t.Fatalf("Read on an unknown conn: %v; want EBADF", err)
	}
	if n, err := newTestHost(f).conn(1).Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
}

func TestWritePartialAndEAGAIN(t *testing.T) {
	f := newFakeSys(t)
	f.conn(1).windowCap = 4
	f.peer = func(f *fakeSys) bool { f.take(1); return true }
	c := newTestHost(f).conn(1)
	msg := "hello, embly!" // 13 bytes through a 4-byte window
	n, err := c.Write([]byte(msg))
	if n != len(msg) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := f.output(1); got != msg {
		t.Fatalf("peer got %q; want %q", got, msg)
	}
	if f.eventsCalls != 3 {
		t.Errorf("_events called %d times; want 3 (one per full window)", f.eventsCalls)
	}
}

func TestWriteErrors(t *testing.T) {
	f := newFakeSys(t)
	h := newTestHost(f)
	f.conn(1).gone = true
	if _, err := h.conn(1).Write([]byte("x")); !errors.Is(err, EPIPE) {
		t.Errorf("Write to a gone peer: %v; want EPIPE", err)
	}

	f.targets["function/back"] = true
	c, err := h.spawn("function/back")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !f.conn(c.ID()).closed {
		t.Error("Close did not reach the host")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, EPIPE) {
		t.Errorf("Write after Close: %v; want EPIPE", err)
	}
}

// While the guest blocks reading one conn, news of another must not be
// lost, and the other conn's unread input must not make the guest spin.
func TestOtherConnsNewsIsKept(t *testing.T) {
	f := newFakeSys(t)
	f.targets["function/back"] = true
	h := newTestHost(f)
	back, err := h.spawn("function/back")
	if err != nil {
		t.Fatal(err)
	}
	// Conn 1 has input the guest does not read now: with a level-triggered
	// _events this would spin if it were not stashed.
	f.send(1, "request")
	f.closeIn(1)
	f.peer = script(
		func(f *fakeSys) {}, // nothing yet: the guest must block, not spin
		func(f *fakeSys) { f.send(back.ID(), "answer"); f.closeIn(back.ID()) },
	)
	got, err := io.ReadAll(back)
	if err != nil || string(got) != "answer" {
		t.Fatalf("ReadAll(back) = %q, %v", got, err)
	}
	if f.eventsCalls > 4 {
		t.Errorf("_events called %d times; the guest spins", f.eventsCalls)
	}

	parent := h.conn(1)
	ready, err := Wait(0, back, parent)
	if err != nil || !slices.Equal(ready, []*Conn{back, parent}) {
		t.Fatalf("Wait = %v, %v; want both (EOF and stashed input)", ready, err)
	}
	got, err = io.ReadAll(parent)
	if err != nil || string(got) != "request" {
		t.Fatalf("ReadAll(parent) = %q, %v", got, err)
	}
}

func TestWait(t *testing.T) {
	f := newFakeSys(t)
	f.targets["function/a"] = true
	f.targets["function/b"] = true
	h := newTestHost(f)
	a, _ := h.spawn("function/a")
	b, _ := h.spawn("function/b")

	if ready, err := Wait(0, a, b); err != nil || len(ready) != 0 {
		t.Fatalf("poll with no news = %v, %v", ready, err)
	}
	start := h.now()
	if ready, err := Wait(time.Second, a, b); err != nil || len(ready) != 0 {
		t.Fatalf("Wait(1s) with no news = %v, %v", ready, err)
	}
	if waited := h.now().Sub(start); waited < time.Second {
		t.Errorf("Wait(1s) returned after %v", waited)
	}

	f.peer = script(func(f *fakeSys) { f.send(b.ID(), "x") })
	ready, err := Wait(-1, a, b)
	if err != nil || !slices.Equal(ready, []*Conn{b}) {
		t.Fatalf("Wait(-1) = %v, %v; want [b]", ready, err)
	}
	// Level-triggered: unread input is reported again.
	ready, err = Wait(0, a, b)
	if err != nil || !slices.Equal(ready, []*Conn{b}) {
		t.Fatalf("second Wait = %v, %v; want [b]", ready, err)
	}
	if ready, err := Wait(0); ready != nil || err != nil {
		t.Fatalf("Wait of no conns = %v, %v", ready, err)
	}

	// A reopened window is news once.
	f.conn(a.ID()).windowCap = 1
	if _, err := f.write(a.ID(), []byte("xy")); err != 0 {
		t.Fatal(err)
	}
	f.write(a.ID(), []byte("y"))
	f.take(a.ID())
	ready, err = Wait(0, a)
	if err != nil || !slices.Equal(ready, []*Conn{a}) {
		t.Fatalf("Wait after the window reopened = %v, %v; want [a]", ready, err)
	}
	if ready, _ = Wait(0, a); len(ready) != 0 {
		t.Fatalf("window news reported twice: %v", ready)
	}
}

// A conn whose stash is full keeps being reported; the wait must sleep,
// with backoff, instead of spinning.
func TestWaitBacksOffOnFullStash(t *testing.T) {
	f := newFakeSys(t)
	f.targets["function/noisy"] = true
	h := newTestHost(f)
	var slept []time.Duration
	h.sleep = func(d time.Duration) { slept = append(slept, d) }
	noisy, _ := h.spawn("function/noisy")
	f.send(noisy.ID(), strings.Repeat("x", stashCap+100))
	f.tick = func(f *fakeSys) {
		if f.eventsCalls == 5 {
			f.send(1, "finally")
		}
	}
	buf := make([]byte, 16)
	n, err := h.conn(1).Read(buf)
	if err != nil || string(buf[:n]) != "finally" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if !slices.Equal(slept, want) {
		t.Errorf("slept %v; want %v", slept, want)
	}
	got, _ := io.ReadAll(io.LimitReader(noisy, stashCap+100))
	if len(got) != stashCap+100 {
		t.Errorf("read %d bytes of the noisy conn; want %d", len(got), stashCap+100)
	}
}

func TestSpawn(t *testing.T) {
	f := newFakeSys(t)
	f.targets["function/back"] = true
	h := newTestHost(f)
	c, err := h.spawn("function/back")
	if err != nil || c.ID() != 2 {
		t.Fatalf("spawn = %v, %v", c, err)
	}

	_, err = h.spawn("function/nope")
	if !errors.Is(err, ENOENT) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spawn of a missing function: %v; want ENOENT", err)
	}
	const want = `embly: spawn "function/nope": no such function "nope" in this project`
	if err == nil || err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	var se *SpawnError
	if !errors.As(err, &se) || se.Target != "function/nope" {
		t.Errorf("errors.As SpawnError: %#v", se)
	}
}

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		errno  Errno
		text   string
		target error
	}{
		{EACCES, "not allowed", fs.ErrPermission},
		{EAGAIN, "resource temporarily unavailable", nil},
		{EBADF, "no such conn", nil},
		{EFAULT, "bad address", nil},
		{ENOENT, "no such target", fs.ErrNotExist},
		{ENOSYS, "not running inside an embly instance", errors.ErrUnsupported},
		{EPIPE, "broken pipe: the peer is gone", nil},
		{99, "errno 99", nil},
	} {
		if got := tc.errno.Error(); got != tc.text {
			t.Errorf("Errno(%d).Error() = %q; want %q", tc.errno, got, tc.text)
		}
		if tc.target != nil && !errors.Is(tc.errno, tc.target) {
			t.Errorf("errors.Is(Errno(%d), %v) = false", tc.errno, tc.target)
		}
		if tc.target != fs.ErrNotExist && errors.Is(tc.errno, fs.ErrNotExist) {
			t.Errorf("errors.Is(Errno(%d), fs.ErrNotExist) = true", tc.errno)
		}
	}
	if !EAGAIN.Temporary() || EPIPE.Temporary() {
		t.Error("Temporary: only EAGAIN is")
	}
}

// A reader and a writer waiting on the same conn each get their news: the
// reader's wait taking a reopened window must not leave the writer asleep.
func TestReaderDoesNotStealWritersNews(t *testing.T) {
	f := newFakeSys(t)
	f.conn(1).windowCap = 2
	h := newTestHost(f)
	if n, errno := f.write(1, []byte("abc")); n != 2 || errno != 0 {
		t.Fatal(n, errno)
	}
	if _, errno := f.write(1, []byte("c")); errno != EAGAIN {
		t.Fatal(errno)
	}
	f.take(1) // the window reopens: reported once

	// The reader's wait runs first and sees the news.
	if ready, err := h.await([]int32{1}, waitRead, 0); err != nil || len(ready) != 1 {
		t.Fatalf("reader's wait = %v, %v", ready, err)
	}
	// The writer's wait must still see it, though _events will not repeat it.
	if ready, err := h.await([]int32{1}, waitWrite, 0); err != nil || len(ready) != 1 {
		t.Fatalf("writer's wait = %v, %v; the reader took its news", ready, err)
	}
	if ready, _ := h.await([]int32{1}, waitWrite, 0); len(ready) != 0 {
		t.Fatalf("writer's news taken twice: %v", ready)
	}
}

// A writer waiting on a conn whose unread input fills the stash: _events
// reports that conn at once every time, so the writer must retry after
// growing pauses, neither spinning nor missing the reopened window.
func TestWriteBehindStalledConn(t *testing.T) {
	f := newFakeSys(t)
	f.targets["function/peer"] = true
	h := newTestHost(f)
	var slept []time.Duration
	h.sleep = func(d time.Duration) { slept = append(slept, d) }
	c, _ := h.spawn("function/peer")
	f.conn(c.ID()).windowCap = 4
	f.send(c.ID(), strings.Repeat("x", stashCap+100)) // never read here
	f.tick = func(f *fakeSys) {
		if f.eventsCalls%6 == 0 {
			f.take(c.ID())
		}
	}
	if n, err := c.Write([]byte("0123456789")); n != 10 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := f.output(c.ID()); got != "0123456789" {
		t.Fatalf("peer got %q", got)
	}
	if f.eventsCalls > 20 {
		t.Errorf("_events called %d times for 3 windows; the writer spins", f.eventsCalls)
	}
	if len(slept) < 2 || slept[0] != minBackoff || slept[1] != 2*minBackoff || slices.Max(slept) > maxBackoff {
		t.Errorf("pauses %v; want growing from %v up to %v", slept, minBackoff, maxBackoff)
	}
}
