package runtime

import (
	"context"
	"io"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
)

// testService answers spawns of embly/test/...: "echo" upper-cases what it
// reads, "refuse" is refused, "hang" waits for its context.
type testService struct {
	caller  atomic.Pointer[service.Caller]
	started atomic.Int32
	ended   chan struct{} // closed by the first "hang" handler when it returns
}

func (s *testService) Open(target string, caller service.Caller) (service.Handler, error) {
	s.caller.Store(&caller)
	switch strings.TrimPrefix(target, "embly/test/") {
	case "echo":
		return service.HandlerFunc(func(ctx context.Context, conn *bus.Conn) {
			s.started.Add(1)
			msg, _ := io.ReadAll(conn)
			io.WriteString(conn, "service got: "+strings.ToUpper(string(msg)))
		}), nil
	case "refuse":
		return nil, service.ErrRefused
	case "busy":
		return nil, service.ErrLimit
	case "hang":
		return service.HandlerFunc(func(ctx context.Context, conn *bus.Conn) {
			if s.started.Add(1) == 1 {
				defer close(s.ended)
			}
			<-ctx.Done()
		}), nil
	}
	return nil, service.ErrNotFound
}

func serviceRuntime(t *testing.T, opts Options, fopts FunctionOptions) (*Runtime, *testService) {
	t.Helper()
	svc := &testService{ended: make(chan struct{})}
	opts.Services = service.NewRegistry()
	opts.Services.Register("embly/test", svc)
	r := newRuntime(t, opts)
	if _, err := r.CompileWith(context.Background(), "service", guest(t, "service"), fopts); err != nil {
		t.Fatal(err)
	}
	return r, svc
}

func TestSpawnService(t *testing.T) {
	r, svc := serviceRuntime(t, Options{}, FunctionOptions{AllowedHosts: []string{"https://api.example.com"}})
	for _, tc := range []struct{ target, want string }{
		{"embly/test/echo", "err=0\nservice got: PING"},
		{"embly/test/refuse", "err=2\n"},
		{"embly/test/busy", "err=6\n"},
		{"embly/test/nope", "err=44\n"},
		{"embly/nope", "err=44\n"},
		{"nope", "err=44\n"},
	} {
		out, err := call(t, r, "service", []byte(tc.target))
		if err != nil || out != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.target, out, err, tc.want)
		}
	}
	c := svc.caller.Load()
	if c == nil || c.Function != "service" || len(c.AllowedHosts) != 1 || c.AllowedHosts[0] != "https://api.example.com" || c.Log == nil {
		t.Errorf("caller = %+v", c)
	}
}

func TestServicesCountAsChildren(t *testing.T) {
	r, _ := serviceRuntime(t, Options{MaxChildren: 3}, FunctionOptions{})
	out, err := call(t, r, "service", []byte("many:embly/test/hang"))
	if err != nil || out != "spawned=3 err=6" {
		t.Fatalf("got %q, %v; want 3 services then EAGAIN", out, err)
	}
}

// A service ends with the instance that spawned it: Wait returns only after
// every service's Serve has returned, so none is left behind.
func TestServiceEndsWithInstance(t *testing.T) {
	r, svc := serviceRuntime(t, Options{}, FunctionOptions{})
	out, err := call(t, r, "service", []byte("many:embly/test/hang"))
	if err != nil || !strings.HasPrefix(out, "spawned=1024 ") {
		t.Fatalf("got %q, %v", out, err)
	}
	select {
	case <-svc.ended:
	default:
		t.Fatal("the instance ended but its service still runs")
	}
	// The goroutines of the 1024 services are gone too: each returns right
	// after its handler. Poll briefly, as a goroutine's exit is not
	// synchronous with the handler's return.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := countServiceGoroutines()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d service goroutines left", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countServiceGoroutines counts goroutines running a service's handler.
func countServiceGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:goruntime.Stack(buf, true)]
	return strings.Count(string(buf), "(*instance).spawnService.")
}
