package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/gateway"
	"github.com/embly/embly/internal/runtime"
	"github.com/embly/embly/internal/wasmtest"
)

// Guests for the end-to-end test, in C against the real ABI.
var guests = map[string]string{
	// The seed's hello world: a raw response, no length, then return.
	"hello": `#include "embly.h"
#include <string.h>
int main(void) {
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World";
  return embly_write_all(1, resp, strlen(resp));
}`,
	// Reads the whole raw request (head and body), then answers with its size.
	"count": `#include "embly.h"
#include <stdio.h>
#include <string.h>
static char buf[4096];
int main(void) {
  unsigned long total = 0;
  for (;;) {
    uint32_t n = 0;
    if (embly_read_some(1, buf, sizeof buf, &n) != 0) return 1;
    if (n == 0) break;
    total += n;
  }
  char out[128];
  int len = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%lu", (int)snprintf(0, 0, "%lu", total), total);
  return embly_write_all(1, out, len);
}`,
	"garbage": `#include "embly.h"
int main(void) { return embly_write_all(1, "nonsense\r\n\r\n", 12); }`,
	"trap": `int main(void) { __builtin_trap(); }`,
	"partial": `#include "embly.h"
int main(void) {
  embly_write_all(1, "HTTP/1.1 200 OK\r\n\r\nhalf", 23);
  __builtin_trap();
}`,
}

// TestWithRuntime runs C functions in the real runtime behind the gateway.
func TestWithRuntime(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("clang not found: install clang lld wasi-libc libclang-rt-14-dev-wasm32")
	}
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	proj := &config.Project{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for name, src := range guests {
		proj.Functions = append(proj.Functions, &config.Function{Name: name})
		wg.Go(func() {
			wasm := wasmtest.BuildC(t, src)
			mu.Lock()
			defer mu.Unlock()
			if _, err := rt.Compile(ctx, name, wasm); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	gw := &config.Gateway{Type: "http", Routes: []*config.Route{
		{Prefix: "/", Function: "hello"},
		{Prefix: "/count", Function: "count"},
		{Prefix: "/garbage", Function: "garbage"},
		{Prefix: "/trap", Function: "trap"},
		{Prefix: "/partial", Function: "partial"},
	}}
	var log strings.Builder
	var logMu sync.Mutex
	logw := writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })
	g, err := gateway.NewHTTP(gw, proj, runtimeSpawner{rt}, gateway.NewLogger(logw))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()

	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string // a regexp
	}{
		{"GET", "/", "", 200, `^Hello World$`},
		// 300 KiB of body plus a head of a few hundred bytes.
		{"POST", "/count", strings.Repeat("x", 300<<10), 200, `^3074\d\d$`},
		{"GET", "/garbage", "", 502, `^502 Bad Gateway\n$`},
		{"GET", "/trap", "", 500, `^500 Internal Server Error\n$`},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !regexp.MustCompile(tt.want).Match(b) {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
	}
	// A head larger than the gateway writes in place, with no body.
	req, _ := http.NewRequest("GET", srv.URL+"/count", nil)
	req.Header.Set("X-Filler", strings.Repeat("f", 20<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n, _ := strconv.Atoi(string(b)); resp.StatusCode != 200 || n < 20<<10 || n > 21<<10 {
		t.Errorf("GET /count with a 20 KiB header: %d %q", resp.StatusCode, b)
	}

	resp, err = http.Get(srv.URL + "/partial")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("/partial: a trapped response looked complete")
	}
	resp.Body.Close()

	srv.Close()
	logMu.Lock()
	defer logMu.Unlock()
	for _, want := range []string{
		`Processing by function "function.hello"` + "\nCompleted 200 OK in ",
		`Error in function "function.garbage": invalid HTTP response: malformed HTTP response "nonsense"`,
		`Error in function "function.trap": function "trap" trapped: wasm error: unreachable` + "\n  wasm stack trace:",
		`Error in function "function.partial": failed after the response started: `,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// runtimeSpawner wires the runtime into the gateway as embly run does, with
// bodiless requests served on the handler's goroutine.
type runtimeSpawner struct{ rt *runtime.Runtime }

func (s runtimeSpawner) Spawn(ctx context.Context, fn string) (gateway.Invocation, error) {
	return s.rt.Spawn(ctx, fn)
}

func (s runtimeSpawner) Prepare(ctx context.Context, fn string) (gateway.InlineInvocation, error) {
	return s.rt.Prepare(ctx, fn)
}

// BenchmarkHelloThroughGateway measures one request to the seed's hello
// world, in C, through the gateway's handler and the real runtime: what
// Embly adds on top of net/http's own work, without the network. "inline"
// runs the instance on the handler's goroutine, as embly run does;
// "worker" hands it to a worker goroutine, as for requests with a body.
func BenchmarkHelloThroughGateway(b *testing.B) {
	if _, err := exec.LookPath("clang"); err != nil {
		b.Skip("clang not found: install clang lld wasi-libc libclang-rt-14-dev-wasm32")
	}
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	if _, err := rt.Compile(ctx, "hello", wasmtest.BuildC(b, guests["hello"])); err != nil {
		b.Fatal(err)
	}
	proj := &config.Project{Functions: []*config.Function{{Name: "hello"}}}
	gw := &config.Gateway{Type: "http", Routes: []*config.Route{{Prefix: "/", Function: "hello"}}}
	for _, bb := range []struct {
		name string
		sp   gateway.Spawner
	}{
		{"inline", runtimeSpawner{rt}},
		{"worker", gateway.SpawnerFunc(func(ctx context.Context, fn string) (gateway.Invocation, error) {
			return rt.Spawn(ctx, fn)
		})},
	} {
		b.Run(bb.name, func(b *testing.B) {
			g, err := gateway.NewHTTP(gw, proj, bb.sp, gateway.NewAsyncLogger(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			h := g.Handler()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/", nil)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 || w.Body.String() != "Hello World" {
						b.Fatalf("%d %q", w.Code, w.Body.String())
					}
				}
			})
		})
	}
}
