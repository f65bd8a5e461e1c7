package bus

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestEOFAfterDrain: when an actor ends with bytes still in its window, the
// peer reads them all, then EOF.
func TestEOFAfterDrain(t *testing.T) {
	a, b, ida, idb := connect(t, 0)
	a.Write(ida, []byte("last words"))
	a.Close()
	buf := make([]byte, 4)
	var got []byte
	for {
		n, e := b.Read(idb, buf)
		if e != ESUCCESS {
			t.Fatalf("read = %v", e)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "last words" {
		t.Fatalf("drained %q", got)
	}
}

// TestEventsReportsExactlyTheConnsWithNews: among many conns, Events returns
// the ones with data, EOF or a reopened window, each once per call, and no
// other.
func TestEventsReportsExactlyTheConnsWithNews(t *testing.T) {
	hub := NewMailbox()
	const n = 1000
	peers := make([]*Mailbox, n)
	pids := make([]int32, n)
	for i := range peers {
		ea, eb := NewPair(16)
		hub.Add(ea)
		peers[i] = NewMailbox()
		pids[i], _ = peers[i].Add(eb)
	}
	ids := make([]int32, 2*n)
	hub.Poll(ids) // forget the news of the new conns
	// Data on 10, EOF on 20, and a reopened window on 30.
	peers[9].Write(pids[9], []byte("x"))
	peers[19].CloseWrite(pids[19])
	hub.Write(30, make([]byte, 16))
	if _, e := hub.Write(30, []byte("y")); e != EAGAIN {
		t.Fatalf("write to a full window = %v", e)
	}
	peers[29].Read(pids[29], make([]byte, 16))
	got, err := hub.Events(context.Background(), -1, ids)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids[:got])
	if want := []int32{10, 20, 30}; !slices.Equal(ids[:got], want) {
		t.Fatalf("events = %v, want %v", ids[:got], want)
	}
	// Level-triggered data and EOF stay; the reopened window does not.
	got, _ = hub.Events(context.Background(), 0, ids)
	slices.Sort(ids[:got])
	if want := []int32{10, 20}; !slices.Equal(ids[:got], want) {
		t.Fatalf("second events = %v, want %v", ids[:got], want)
	}
}

// TestEventsPositiveTimeout: a positive timeout returns 0 ids once it
// passes, and returns early when news arrives.
func TestEventsPositiveTimeout(t *testing.T) {
	a, b, ida, idb := connect(t, 0)
	ids := make([]int32, 4)
	b.Poll(ids)
	start := time.Now()
	n, err := b.Events(context.Background(), 20*time.Millisecond, ids)
	if n != 0 || err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("timeout: %d, %v after %v", n, err, time.Since(start))
	}
	time.AfterFunc(10*time.Millisecond, func() { a.Write(ida, []byte("x")) })
	start = time.Now()
	n, err = b.Events(context.Background(), time.Minute, ids)
	if n != 1 || ids[0] != idb || err != nil {
		t.Fatalf("woken: %v, %v", ids[:n], err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("news did not wake a waiter with a long timeout (%v)", took)
	}
}

// TestConnUnblocksWhenActorEnds: a Go actor blocked in Read or Write on a
// conn returns when the other actor ends, so no goroutine is left behind.
func TestConnUnblocksWhenActorEnds(t *testing.T) {
	a, b, ida, idb := connect(t, 8)
	ctx := context.Background()
	ca, cb := NewConn(ctx, a, ida), NewConn(ctx, b, idb)
	reads, writes := make(chan error), make(chan error)
	go func() { _, err := ca.Read(make([]byte, 4)); reads <- err }()
	go func() { _, err := cb.Write(make([]byte, 64)); writes <- err }()
	// cb's write fills a's window, then waits; a ends.
	a.Close()
	for name, ch := range map[string]chan error{"read": reads, "write": writes} {
		select {
		case err := <-ch:
			if err == nil {
				t.Errorf("%s on an ended actor succeeded", name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s stayed blocked after the actor ended", name)
		}
	}
}
