package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embly/embly/internal/store/pgtest"
)

// TestKVExample drives examples/kv through the real binary on SQLite (the
// default), restarts it, and checks that the data is still there.
func TestKVExample(t *testing.T) {
	testKVExample(t)
}

// TestKVExamplePostgres is the same against a PostgreSQL server of its own,
// chosen with --store.
func TestKVExamplePostgres(t *testing.T) {
	srv := pgtest.Start(t)
	testKVExample(t, "--store", srv.URL)
}

func testKVExample(t *testing.T, flags ...string) {
	dir := project(t, "../examples/kv")
	s := start(t, dir, flags...)
	if len(flags) > 0 {
		s.waitFor(regexp.MustCompile(`Using store postgres://postgres@127\.0\.0\.1`), time.Second)
	} else {
		s.waitFor(regexp.MustCompile(`Using store sqlite:.*store\.db`), time.Second)
	}
	checkKVAPI(t, s.base)

	// Restart: the data is still there.
	s.stop()
	s = start(t, dir, flags...)
	checkKVAfterRestart(t, s.base)
}

// checkKVAPI drives the kv API of examples/kv (and of examples/db-rust,
// which must answer the same) on a fresh store: keys with a prefix, a
// delete, the value limit, a TTL.
func checkKVAPI(t *testing.T, base string) {
	t.Helper()
	kv := kvClient{t: t, base: base}
	if code, _ := kv.do("GET", "/kv/greeting", ""); code != 404 {
		t.Fatalf("GET missing = %d, want 404", code)
	}
	for _, key := range []string{"greeting", "user/1", "user/2", "user/10", "other"} {
		if code, body := kv.do("PUT", "/kv/"+key, "value of "+key); code != 204 {
			t.Fatalf("PUT %s = %d %q, want 204", key, code, body)
		}
	}
	if code, body := kv.do("GET", "/kv/user/1", ""); code != 200 || body != "value of user/1" {
		t.Fatalf("GET = %d %q", code, body)
	}
	if keys := kv.list("user/"); fmt.Sprint(keys) != "[user/1 user/10 user/2]" {
		t.Fatalf("list user/ = %q", keys)
	}
	if code, _ := kv.do("DELETE", "/kv/user/2", ""); code != 204 {
		t.Fatalf("DELETE = %d", code)
	}
	if code, _ := kv.do("GET", "/kv/user/2", ""); code != 404 {
		t.Fatalf("GET deleted = %d", code)
	}
	// A value over the limit is refused with the store's reason.
	if code, body := kv.do("PUT", "/kv/big", strings.Repeat("x", 1<<20+1)); code != 413 || !strings.Contains(body, "the limit is 1048576") {
		t.Fatalf("PUT too large = %d %q", code, body)
	}
	// The largest value goes through.
	big := strings.Repeat("y", 1<<20)
	if code, _ := kv.do("PUT", "/kv/big", big); code != 204 {
		t.Fatalf("PUT 1 MiB = %d", code)
	}
	if code, body := kv.do("GET", "/kv/big", ""); code != 200 || body != big {
		t.Fatalf("GET 1 MiB = %d, %d bytes", code, len(body))
	}
	// A TTL: gone after it passes.
	if code, _ := kv.do("PUT", "/kv/brief?ttl=300ms", "soon gone"); code != 204 {
		t.Fatalf("PUT with ttl = %d", code)
	}
	if code, _ := kv.do("GET", "/kv/brief", ""); code != 200 {
		t.Fatalf("GET before expiry = %d", code)
	}
	time.Sleep(400 * time.Millisecond)
	if code, _ := kv.do("GET", "/kv/brief", ""); code != 404 {
		t.Fatalf("GET after expiry = %d, want 404", code)
	}
}

// checkKVAfterRestart checks, on a restarted server, what checkKVAPI left.
func checkKVAfterRestart(t *testing.T, base string) {
	t.Helper()
	kv := kvClient{t: t, base: base}
	if code, body := kv.do("GET", "/kv/user/10", ""); code != 200 || body != "value of user/10" {
		t.Fatalf("GET after restart = %d %q", code, body)
	}
	if keys := kv.list(""); fmt.Sprint(keys) != "[big greeting other user/1 user/10]" {
		t.Fatalf("keys after restart = %q", keys)
	}
}

// TestKVDurability kills embly with SIGKILL while several clients write,
// then restarts it: every write that was acknowledged (204) must be there.
func TestKVDurability(t *testing.T) {
	dir := project(t, "../examples/kv")
	s := start(t, dir)
	kv := kvClient{t: t, base: s.base}

	const writers = 8
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%06d", w, i)
				req, _ := http.NewRequest("PUT", s.base+"/kv/"+key, strings.NewReader("v:"+key))
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 204 {
					continue
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		})
	}
	// Kill mid-stream, once a good number of writes are acknowledged.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	close(stop)
	wg.Wait()
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))

	s = start(t, dir)
	kv.base = s.base
	for _, key := range acked {
		if code, body := kv.do("GET", "/kv/"+key, ""); code != 200 || body != "v:"+key {
			t.Fatalf("acknowledged write %s lost after kill -9: %d %q", key, code, body)
		}
	}
}

// stop ends the server with SIGTERM and waits for it.
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("embly did not stop on SIGTERM:\n%s", s.Output())
	}
}

type kvClient struct {
	t    *testing.T
	base string
}

func (c kvClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewBufferString(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (c kvClient) list(prefix string) []string {
	c.t.Helper()
	code, body := c.do("GET", "/kv?prefix="+prefix, "")
	var keys []string
	if err := json.Unmarshal([]byte(body), &keys); code != 200 || err != nil {
		c.t.Fatalf("list %q = %d %q (%v)", prefix, code, body, err)
	}
	return keys
}
