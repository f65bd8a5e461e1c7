package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/bus"
)

// startAddrServer spawns addrserver, reads the address it published, sends
// it cmd and returns the address and the invocation.
func startAddrServer(t *testing.T, r *Runtime, cmd string) (string, *Invocation, *bufio.Reader) {
	t.Helper()
	inv, err := r.Spawn(context.Background(), "addrserver")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.Stop(); inv.Wait(); inv.Close() })
	br := bufio.NewReader(inv)
	addr, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v", err)
	}
	addr = strings.TrimSuffix(addr, "\n")
	if !strings.HasPrefix(addr, "addr/") || len(addr) != len("addr/")+32 {
		t.Fatalf("address %q, want addr/ and 32 hex digits", addr)
	}
	inv.Write([]byte(cmd))
	inv.CloseWrite()
	return addr, inv, br
}

func TestAddressPassing(t *testing.T) {
	r := newRuntime(t, Options{}, "addrserver", "addrclient")
	addr, server, br := startAddrServer(t, r, "serve 3")
	// Three clients, each a request of its own that did not spawn the
	// server, reach it through the address.
	for i := range 3 {
		out, err := call(t, r, "addrclient", fmt.Appendf(nil, "%s ping %d", addr, i))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("hello, ping %d", i); out != want {
			t.Fatalf("client %d got %q, want %q", i, out, want)
		}
	}
	if line, _ := br.ReadString('\n'); line != "served\n" {
		t.Fatalf("server said %q", line)
	}
	if err := server.Wait(); err != nil {
		t.Fatal(err)
	}
	// The server has ended: its address is gone.
	if out, _ := call(t, r, "addrclient", []byte(addr+" late")); out != "errno 44" {
		t.Fatalf("dial after the server ended: %q, want errno 44 (ENOENT)", out)
	}
}

func TestAddressRefusals(t *testing.T) {
	r := newRuntime(t, Options{}, "addrserver", "addrclient")
	addr, _, _ := startAddrServer(t, r, "idle")
	other := newRuntime(t, Options{}, "addrclient")
	tests := []struct {
		name string
		rt   *Runtime
		in   string
		want string
	}{
		{"a guessed token", r, "addr/00000000000000000000000000000000 x", "errno 44"},
		{"a token cut short", r, addr[:len(addr)-1] + " x", "errno 44"},
		{"no token", r, "addr/ x", "errno 44"},
		{"another project's runtime", other, addr + " x", "errno 44"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, _ := call(t, tt.rt, "addrclient", []byte(tt.in)); out != tt.want {
				t.Fatalf("got %q, want %q", out, tt.want)
			}
		})
	}
}

func TestAddressWithdrawn(t *testing.T) {
	r := newRuntime(t, Options{}, "addrserver", "addrclient")
	addr, _, br := startAddrServer(t, r, "withdraw")
	if line, _ := br.ReadString('\n'); line != "withdrawn\n" {
		t.Fatalf("server said %q", line)
	}
	// The server still runs, but closed its listen conn.
	if out, _ := call(t, r, "addrclient", []byte(addr+" x")); out != "errno 44" {
		t.Fatalf("dial of a withdrawn address: %q, want errno 44 (ENOENT)", out)
	}
}

func TestAddressBacklog(t *testing.T) {
	// A 64-byte window holds 32 lines of "NN\n" at most: a server that
	// never accepts makes dials EAGAIN once its listen conn is full,
	// rather than pile up conns.
	r := newRuntime(t, Options{Window: 64}, "addrserver", "addrclient")
	addr, _, _ := startAddrServer(t, r, "idle")
	out, err := call(t, r, "addrclient", []byte(addr+" *1000"))
	if err != nil {
		t.Fatal(err)
	}
	var dialed, errno int
	if _, err := fmt.Sscanf(out, "dialed %d errno %d", &dialed, &errno); err != nil {
		t.Fatalf("client said %q", out)
	}
	if errno != int(bus.EAGAIN) || dialed < 10 || dialed > 32 {
		t.Fatalf("dialed %d, then errno %d; want 10..32, then EAGAIN (6)", dialed, errno)
	}
}

func TestAddressDialLimit(t *testing.T) {
	// An instance may dial as often as it may have children.
	r := newRuntime(t, Options{}, "addrserver")
	compileWith(t, r, "addrclient", "addrclient", FunctionOptions{MaxChildren: 5})
	addr, _, _ := startAddrServer(t, r, "idle")
	out, err := call(t, r, "addrclient", []byte(addr+" *100"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "dialed 5 errno 6" {
		t.Fatalf("client said %q, want dialed 5 errno 6", out)
	}
}

func TestAddressServerEndsClosesDialedConns(t *testing.T) {
	r := newRuntime(t, Options{}, "addrserver", "addrclient")
	addr, server, _ := startAddrServer(t, r, "idle")
	inv, err := r.Spawn(context.Background(), "addrclient")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	// The client dials and then waits for the answer, which never comes:
	// the server idles. Stopping the server must end the client's wait
	// with EOF, not leave it hanging.
	inv.Write([]byte(addr + " question"))
	inv.CloseWrite()
	time.Sleep(50 * time.Millisecond)
	server.Stop()
	server.Wait()
	done := make(chan error, 1)
	go func() { done <- inv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client still waits on a conn to a server that ended")
	}
}

func TestMaxInstances(t *testing.T) {
	// Two spawn bombs, each allowed 300 descendants, in a runtime that
	// holds 100 instances at most.
	log := &countingLog{}
	r := newRuntime(t, Options{Log: log, MaxInstances: 100, MaxDescendants: 300})
	compileWith(t, r, "spawnbomb", "spawnbomb", FunctionOptions{})
	compileWith(t, r, "hello", "hello", FunctionOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bombs []*Invocation
	for i := range 2 {
		inv, err := r.Spawn(ctx, "spawnbomb")
		if i > 0 && errors.Is(err, ErrServerBusy) {
			// The first bomb filled the server before the second
			// started: that is the limit working too.
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		inv.CloseWrite()
		bombs = append(bombs, inv)
	}
	deadline := time.Now().Add(10 * time.Second)
	for log.count("[spawnbomb]: up\n") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances up, want 100", log.count("[spawnbomb]: up\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := log.count("[spawnbomb]: up\n"); n != 100 {
		t.Fatalf("%d instances up, want 100", n)
	}
	if n := r.LiveInstances(); n != 100 {
		t.Fatalf("LiveInstances() = %d, want 100", n)
	}
	// The server is full: a new request is refused with EAGAIN (503).
	_, err := r.Spawn(context.Background(), "hello")
	if !errors.Is(err, ErrServerBusy) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("spawn in a full server: err = %v, want ErrServerBusy", err)
	}
	cancel()
	for _, inv := range bombs {
		inv.Wait()
		inv.Close()
	}
	if n := r.LiveInstances(); n != 0 {
		t.Fatalf("LiveInstances() = %d after the bombs ended, want 0", n)
	}
	if out, err := call(t, r, "hello", nil); err != nil || !strings.Contains(out, "Hello World") {
		t.Fatalf("hello after the bombs: %q, %v", out, err)
	}
}
