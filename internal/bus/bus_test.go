package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"
)

// connect makes two mailboxes joined by one conn and returns the ids.
func connect(t *testing.T, window int) (a, b *Mailbox, ida, idb int32) {
	t.Helper()
	a, b = NewMailbox(), NewMailbox()
	ea, eb := NewPair(window)
	var e Errno
	if ida, e = a.Add(ea); e != ESUCCESS {
		t.Fatal(e)
	}
	if idb, e = b.Add(eb); e != ESUCCESS {
		t.Fatal(e)
	}
	return a, b, ida, idb
}

func TestReadWriteEOF(t *testing.T) {
	a, b, ida, idb := connect(t, 0)
	buf := make([]byte, 16)
	if _, e := b.Read(idb, buf); e != EAGAIN {
		t.Fatalf("read on empty conn = %v, want EAGAIN", e)
	}
	if n, e := a.Write(ida, []byte("hello")); n != 5 || e != ESUCCESS {
		t.Fatalf("write = %d, %v", n, e)
	}
	if e := a.CloseWrite(ida); e != ESUCCESS {
		t.Fatal(e)
	}
	n, e := b.Read(idb, buf)
	if e != ESUCCESS || string(buf[:n]) != "hello" {
		t.Fatalf("read = %q, %v", buf[:n], e)
	}
	if n, e := b.Read(idb, buf); n != 0 || e != ESUCCESS {
		t.Fatalf("read after drain = %d, %v; want EOF", n, e)
	}
	// Half-close: b can still write back to a.
	if _, e := b.Write(idb, []byte("back")); e != ESUCCESS {
		t.Fatalf("write on half-closed conn = %v", e)
	}
	if n, _ := a.Read(ida, buf); string(buf[:n]) != "back" {
		t.Fatalf("got %q", buf[:n])
	}
	if _, e := a.Write(ida, []byte("x")); e != EPIPE {
		t.Fatalf("write after CloseWrite = %v, want EPIPE", e)
	}
}

func TestBadIDs(t *testing.T) {
	m := NewMailbox()
	buf := make([]byte, 1)
	if _, e := m.Read(7, buf); e != EBADF {
		t.Errorf("read = %v", e)
	}
	if _, e := m.Write(7, buf); e != EBADF {
		t.Errorf("write = %v", e)
	}
	if e := m.CloseWrite(7); e != EBADF {
		t.Errorf("close = %v", e)
	}
}

func TestWindowAndReopen(t *testing.T) {
	a, b, ida, idb := connect(t, 8)
	n, e := a.Write(ida, []byte("0123456789"))
	if n != 8 || e != ESUCCESS {
		t.Fatalf("write = %d, %v; want 8 accepted", n, e)
	}
	if _, e := a.Write(ida, []byte("89")); e != EAGAIN {
		t.Fatalf("write to full window = %v, want EAGAIN", e)
	}
	ids := make([]int32, 4)
	if n := a.Poll(ids); n != 0 {
		t.Fatalf("writer has news before the window reopened: %v", ids[:n])
	}
	buf := make([]byte, 4)
	b.Read(idb, buf)
	if n := a.Poll(ids); n != 1 || ids[0] != ida {
		t.Fatalf("poll after reopen = %v", ids[:n])
	}
	if n := a.Poll(ids); n != 0 {
		t.Fatalf("reopen reported twice: %v", ids[:n])
	}
}

func TestEventsLevelTriggered(t *testing.T) {
	a, b, ida, idb := connect(t, 0)
	a.Write(ida, []byte("data"))
	ids := make([]int32, 4)
	for i := 0; i < 3; i++ {
		if n := b.Poll(ids); n != 1 || ids[0] != idb {
			t.Fatalf("poll %d = %v; unread data must be reported every time", i, ids[:n])
		}
	}
	b.Read(idb, make([]byte, 16))
	if n := b.Poll(ids); n != 0 {
		t.Fatalf("poll after read = %v", ids[:n])
	}
	a.CloseWrite(ida)
	if n := b.Poll(ids); n != 1 {
		t.Fatal("pending EOF not reported")
	}
	if n := b.Poll(ids); n != 1 {
		t.Fatal("pending EOF must stay reported until read")
	}
	b.Read(idb, make([]byte, 16))
	if n := b.Poll(ids); n != 0 {
		t.Fatal("EOF reported after it was read")
	}
}

// TestPollRotates: when more conns have news than ids holds, those left out
// come first next time, so unread news on some conns cannot hide the rest.
func TestPollRotates(t *testing.T) {
	mb := NewMailbox()
	for i := 0; i < 3; i++ {
		mine, theirs := NewPair(0)
		if _, e := mb.Add(mine); e != ESUCCESS {
			t.Fatal(e)
		}
		peer := NewMailbox()
		id, _ := peer.Add(theirs)
		peer.Write(id, []byte("x"))
	}
	ids := make([]int32, 2)
	seen := map[int32]bool{}
	for i := 0; i < 2; i++ {
		if n := mb.Poll(ids); n != 2 {
			t.Fatalf("poll %d reported %d conns, want 2", i, n)
		}
		seen[ids[0]], seen[ids[1]] = true, true
	}
	if len(seen) != 3 {
		t.Fatalf("two polls of two reported only %v of three conns with news", seen)
	}
}

func TestEventsTimeoutAndWake(t *testing.T) {
	a, b, ida, _ := connect(t, 0)
	ids := make([]int32, 4)
	n, err := b.Events(context.Background(), 0, ids)
	if n != 0 || err != nil {
		t.Fatalf("poll = %d, %v", n, err)
	}
	n, err = b.Events(context.Background(), time.Millisecond, ids)
	if n != 0 || err != nil {
		t.Fatalf("timeout = %d, %v", n, err)
	}
	go a.Write(ida, []byte("x"))
	n, err = b.Events(context.Background(), -1, ids)
	if n != 1 || err != nil {
		t.Fatalf("forever = %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Read(ids[0], make([]byte, 4))
	if _, err := b.Events(ctx, -1, ids); err != context.Canceled {
		t.Fatalf("cancelled = %v", err)
	}
}

func TestCloseTellsPeers(t *testing.T) {
	a, b, ida, idb := connect(t, 0)
	b.Write(idb, []byte("unread"))
	a.Close()
	if n, e := b.Read(idb, make([]byte, 4)); n != 0 || e != ESUCCESS {
		t.Fatalf("read from ended peer = %d, %v; want EOF", n, e)
	}
	if _, e := b.Write(idb, []byte("x")); e != EPIPE {
		t.Fatalf("write to ended peer = %v, want EPIPE", e)
	}
	if _, e := a.Add(&Endpoint{}); e != EPIPE {
		t.Fatal("closed mailbox accepted a conn")
	}
	if _, err := a.Events(context.Background(), -1, make([]int32, 1)); err != ErrClosed {
		t.Fatalf("events on closed mailbox = %v", err)
	}
	_ = ida
}

func TestManyConns(t *testing.T) {
	hub := NewMailbox()
	const n = 2000
	peers := make([]*Mailbox, n)
	pids := make([]int32, n)
	for i := range peers {
		ea, eb := NewPair(0)
		hub.Add(ea)
		peers[i] = NewMailbox()
		pids[i], _ = peers[i].Add(eb)
	}
	peers[1234].Write(pids[1234], []byte("hi"))
	ids := make([]int32, 16)
	n1, _ := hub.Events(context.Background(), -1, ids)
	if n1 != 1 || ids[0] != 1235 {
		t.Fatalf("events = %v, want only conn 1235", ids[:n1])
	}
}

// TestConnStream copies 4 MiB through a small window with blocking conns on
// both sides, proving the wake-ups are never lost.
func TestConnStream(t *testing.T) {
	a, b, ida, idb := connect(t, 1024)
	ctx := context.Background()
	ca, cb := NewConn(ctx, a, ida), NewConn(ctx, b, idb)
	want := make([]byte, 4<<20)
	rand.Read(want)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := ca.Write(want); err != nil {
			t.Error(err)
		}
		ca.CloseWrite()
	}()
	got, err := io.ReadAll(cb)
	wg.Wait()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("stream: %d bytes, err %v", len(got), err)
	}
	cb.Close()
	if _, err := ca.Write([]byte("x")); err != ErrPeerGone {
		t.Fatalf("write after peer closed = %v", err)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	x, y, idx, idy := connect(&testing.T{}, 0)
	ctx := context.Background()
	cx, cy := NewConn(ctx, x, idx), NewConn(ctx, y, idy)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := cy.Read(buf)
			if err != nil {
				return
			}
			cy.Write(buf[:n])
		}
	}()
	msg, buf := []byte("ping"), make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		cx.Write(msg)
		io.ReadFull(cx, buf[:len(msg)])
	}
	cx.CloseWrite()
}
