package runtime

import (
	"context"
	"io"
	"testing"
)

// A small answer to an input already in conn 1 runs start to end on the
// caller's goroutine, without onBlock.
func TestRunInlineWithoutBlocking(t *testing.T) {
	r := newRuntime(t, Options{}, "echo")
	inv, err := r.Prepare(context.Background(), "echo")
	if err != nil {
		t.Fatal(err)
	}
	inv.Write([]byte("ping"))
	inv.CloseWrite()
	blocked := 0
	inv.RunInline(func() { blocked++ })
	select {
	case <-inv.Done():
	default:
		t.Fatal("RunInline returned before the instance ended")
	}
	out, err := io.ReadAll(inv)
	if err != nil || string(out) != "ping" || inv.Wait() != nil {
		t.Fatalf("got %q, %v, %v", out, err, inv.Wait())
	}
	if blocked != 0 {
		t.Fatalf("onBlock called %d times for an instance that never waited", blocked)
	}
}

// An instance that fills its window, or waits for input that is not there
// yet, calls onBlock once, and goes on once its conn is served elsewhere.
func TestRunInlineBlocks(t *testing.T) {
	r := newRuntime(t, Options{}, "stream", "echo")
	t.Run("full window", func(t *testing.T) {
		inv, err := r.Prepare(context.Background(), "stream")
		if err != nil {
			t.Fatal(err)
		}
		inv.Write([]byte("3")) // 3 MiB back, far more than a window
		inv.CloseWrite()
		blocked := 0
		got := make(chan int64, 1)
		inv.RunInline(func() {
			blocked++
			go func() {
				n, _ := io.Copy(io.Discard, inv)
				got <- n
			}()
		})
		if n := <-got; n != 3<<20 || inv.Wait() != nil || blocked != 1 {
			t.Fatalf("read %d bytes, err %v, onBlock called %d times", n, inv.Wait(), blocked)
		}
	})
	t.Run("no input yet", func(t *testing.T) {
		inv, err := r.Prepare(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan string, 1)
		inv.RunInline(func() {
			go func() {
				inv.Write([]byte("late"))
				inv.CloseWrite()
				b, _ := io.ReadAll(inv)
				out <- string(b)
			}()
		})
		if s := <-out; s != "late" || inv.Wait() != nil {
			t.Fatalf("got %q, %v", s, inv.Wait())
		}
	})
}
