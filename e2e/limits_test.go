package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/embly/embly/internal/wasmtest"
)

// TestMaxInstancesFlag runs `embly run --max-instances 3`: two requests to a
// function that waits hold both instances, and
// hello gets 503 with Retry-After until they end; then it
// is served again.
func TestMaxInstancesFlag(t *testing.T) {
	dir := t.TempDir()
	for name, file := range map[string]string{
		"hello":  "../internal/runtime/testdata/hello.c",
		"waiter": "../internal/runtime/testdata/waiter.c",
	} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasmtest.BuildC(t, string(src)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hcl := fmt.Sprintf(`
function "hello" {
  runtime = "wasm"
  path = "./hello.wasm"
}
function "waiter" {
  runtime = "wasm"
  path = "./waiter.wasm"
}
gateway {
  type = "http"
  port = %d
  route "/hello" {
    function = "${function.hello}"
  }
  route "/waiter" {
    function = "${function.waiter}"
    timeout  = "2s"
  }
}
`, freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "embly.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, dir, "--max-instances", "2")
	if code, body := get(t, s.base+"/hello"); code != 200 || body != "Hello World" {
		t.Fatalf("hello = %d %q", code, body)
	}
	// Two waiters hold both instances until their route timeout.
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(s.base + "/waiter")
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		resp, err := http.Get(s.base + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 503 {
			if ra := resp.Header.Get("Retry-After"); ra == "" {
				t.Fatal("503 without Retry-After")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello still %d with two waiters holding --max-instances 2", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 {
		if code := <-done; code != 504 {
			t.Fatalf("waiter = %d, want 504 (route timeout)", code)
		}
	}
	// The instances are freed when the waiters end.
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, body := get(t, s.base+"/hello")
		if code == 200 && body == "Hello World" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello after the waiters ended = %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
