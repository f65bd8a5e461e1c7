package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embly/embly/internal/wasmtest"
)

// hostileProject is a project of hostile C guests next to a hello function,
// with the limits of docs/reliability.md set in embly.hcl.
func hostileProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rt := "../internal/runtime/testdata/"
	guests := map[string]string{
		"hello":      rt + "hello.c",
		"spin":       rt + "spin.c",
		"membomb":    rt + "membomb.c",
		"recurse":    rt + "recurse.c",
		"flood":      rt + "flood.c",
		"spawnbomb":  rt + "spawnbomb.c",
		"exitcode":   rt + "exitcode.c",
		"streamfail": rt + "streamfail.c",
		"sleeper":    rt + "sleeper.c",
		"waiter":     rt + "waiter.c",
		"big":        "testdata/big.c",
	}
	for name, file := range guests {
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
function "spin" {
  runtime = "wasm"
  path = "./spin.wasm"
  cpu_budget = "1s"
}
function "membomb" {
  runtime = "wasm"
  path = "./membomb.wasm"
  max_memory = "16MiB"
}
function "recurse" {
  runtime = "wasm"
  path = "./recurse.wasm"
}
function "flood" {
  runtime = "wasm"
  path = "./flood.wasm"
}
function "spawnbomb" {
  runtime = "wasm"
  path = "./spawnbomb.wasm"
}
function "exitcode" {
  runtime = "wasm"
  path = "./exitcode.wasm"
}
function "streamfail" {
  runtime = "wasm"
  path = "./streamfail.wasm"
  cpu_budget = "1s"
}
# The sleeper waits 600 ms in all: over its budget if waits counted. The
# budget is wall time between waits, so the rest is slack for a goroutine
# that waits for a CPU while the attacks keep both busy.
function "sleeper" {
  runtime = "wasm"
  path = "./sleeper.wasm"
  cpu_budget = "500ms"
}
function "waiter" {
  runtime = "wasm"
  path = "./waiter.wasm"
  max_concurrency = 2
}
function "big" {
  runtime = "wasm"
  path = "./big.wasm"
}

gateway {
  type = "http"
  port = %d
  route "/hello" {
    function = "${function.hello}"
  }
  route "/small" {
    function = "${function.big}"
    max_body = "1MiB"
  }
  route "/large"      {
    function = "${function.hello}"
    max_body = "100MiB"
  }
  route "/spin" {
    function = "${function.spin}"
  }
  route "/membomb" {
    function = "${function.membomb}"
  }
  route "/recurse" {
    function = "${function.recurse}"
  }
  route "/flood" {
    function = "${function.flood}"
  }
  route "/spawnbomb"  {
    function = "${function.spawnbomb}"
    timeout  = "2s"
  }
  route "/exitcode" {
    function = "${function.exitcode}"
  }
  route "/streamfail" {
    function = "${function.streamfail}"
  }
  route "/sleeper" {
    function = "${function.sleeper}"
  }
  route "/waiter"     {
    function = "${function.waiter}"
    timeout  = "2s"
  }
  route "/big" {
    function = "${function.big}"
  }
}
`, freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "embly.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// helloLoad sends hello requests from a few clients until stopped, and
// records their latencies and failures.
type helloLoad struct {
	url      string
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	lat      []time.Duration
	failures atomic.Int64
	firstErr atomic.Value
}

func startHelloLoad(url string, clients int) *helloLoad {
	l := &helloLoad{url: url, stop: make(chan struct{})}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Get(l.url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(body) != "Hello World") {
						err = fmt.Errorf("%d %q", resp.StatusCode, body)
					}
				}
				if err != nil {
					l.failures.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				l.mu.Lock()
				l.lat = append(l.lat, time.Since(start))
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// finish stops the load and returns how many requests succeeded and their p99.
func (l *helloLoad) finish() (int, time.Duration) {
	close(l.stop)
	l.wg.Wait()
	slices.Sort(l.lat)
	if len(l.lat) == 0 {
		return 0, 0
	}
	return len(l.lat), l.lat[len(l.lat)*99/100]
}

// attack is one hostile request and the status it must get.
type attack struct {
	name   string
	method string
	path   string
	body   func() io.Reader
	status int
	// cut: the response starts, then the connection is cut.
	cut bool
	// once: sent in the first round only.
	once bool
}

func TestHostileGuests(t *testing.T) {
	s := start(t, hostileProject(t))
	pid := s.cmd.Process.Pid
	if code, body := get(t, s.base+"/hello"); code != 200 || body != "Hello World" {
		t.Fatalf("hello = %d %q", code, body)
	}

	// Baseline: hello alone.
	base := startHelloLoad(s.base+"/hello", 4)
	time.Sleep(2 * time.Second)
	n0, p99Base := base.finish()
	rssBefore, _ := rssKiB(pid)

	attacks := []attack{
		{name: "infinite loop", path: "/spin", status: 504},
		{name: "memory bomb", path: "/membomb", status: 500},
		{name: "deep recursion", path: "/recurse", status: 500, once: true},
		{name: "output flood", path: "/flood", status: 200},
		{name: "spawn bomb", path: "/spawnbomb", status: 504, once: true},
		{name: "proc_exit(0) before answering", path: "/exitcode?code=0", status: 502},
		{name: "proc_exit(1) before answering", path: "/exitcode?code=1", status: 500},
		{name: "proc_exit(3) before answering", path: "/exitcode?code=3", status: 500},
		{name: "proc_exit(255) before answering", path: "/exitcode?code=255", status: 500},
		{name: "proc_exit(0) after answering", path: "/exitcode?code=0&after", status: 200},
		{name: "proc_exit(7) after answering", path: "/exitcode?code=7&after", status: 200},
		{name: "trap mid-stream", path: "/streamfail", status: 200, cut: true},
		{name: "spin mid-stream", path: "/streamfail?spin", status: 200, cut: true},
		{name: "waiting is not CPU", path: "/sleeper", status: 200},
		{name: "never reads its 50 MiB input", method: "POST", path: "/large", status: 200,
			body: func() io.Reader { return bytes.NewReader(make([]byte, 50<<20)) }},
		{name: "body over max_body", method: "POST", path: "/small", status: 413,
			body: func() io.Reader { return bytes.NewReader(make([]byte, 2<<20)) }},
		// big reads its input to the end before answering.
		{name: "chunked body over max_body", method: "POST", path: "/small", status: 413,
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, 2<<20))) }},
	}

	// The attack: every hostile request at once, three times over, while
	// hello keeps being served.
	var peak atomic.Int64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		for {
			if rss, err := rssKiB(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stopRSS:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	load := startHelloLoad(s.base+"/hello", 4)
	var wg sync.WaitGroup
	results := make(chan string, 3*len(attacks))
	only := os.Getenv("EMBLY_HOSTILE_ONLY") // one attack, to measure it alone
	for round := range 3 {
		for _, a := range attacks {
			if (a.once && round > 0) || (only != "" && !strings.Contains(a.name, only)) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if msg := a.run(s.base); msg != "" {
					results <- fmt.Sprintf("round %d, %s: %s", round, a.name, msg)
				}
			}()
		}
	}
	// max_concurrency: two waiters hold the function, the third is refused.
	wg.Add(1)
	go func() {
		defer wg.Done()
		results <- concurrencyLimit(s.base + "/waiter")
	}()
	wg.Wait()
	n1, p99Attack := load.finish()
	close(stopRSS)
	<-rssDone
	close(results)
	for msg := range results {
		if msg != "" {
			t.Error(msg)
		}
	}

	t.Logf("hello p99: %v alone (%d requests), %v under attack (%d requests); RSS %d MiB before, %d MiB at the peak",
		p99Base, n0, p99Attack, n1, rssBefore>>10, peak.Load()>>10)
	if f := base.failures.Load() + load.failures.Load(); f > 0 {
		t.Errorf("%d hello requests failed; first: %v", f, load.firstErr.Load())
	}
	if n1 == 0 {
		t.Error("no hello request completed during the attack")
	}
	// The spawn bomb may hold 2048 instances of ~140 KiB for its 2 s, and
	// the recursion grows wazero's stack to ~150 MiB before it traps
	// (docs/reliability.md); nothing else holds more than a window.
	if growth := peak.Load() - rssBefore; growth > 1<<20 {
		t.Errorf("RSS grew by %d MiB during the attack", growth>>10)
	}
	// Afterwards: every instance is gone, and hello still answers.
	if code, body := get(t, s.base+"/hello"); code != 200 || body != "Hello World" {
		t.Fatalf("hello after the attack = %d %q", code, body)
	}
	out := s.Output()
	for _, want := range []string{
		"CPU budget of 1s is used up",
		"[membomb]: memory.grow failed at",
		"stack overflow",
		"[flood]: output truncated",
		"exited with code 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if n := strings.Count(out, "[flood]: "); n > 3*(maxFloodLines+1) {
		t.Errorf("the log kept %d flood lines for 3 floods", n)
	}
}

// maxFloodLines is about how many of flood.c's 100-byte lines fit in the
// 1 MiB an invocation may log.
const maxFloodLines = (1 << 20) / 99

// run sends the attack and returns what was wrong, or "".
func (a attack) run(base string) string {
	method := a.method
	if method == "" {
		method = "GET"
	}
	var body io.Reader
	if a.body != nil {
		body = a.body()
	}
	req, _ := http.NewRequest(method, base+a.path, body)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	_, readErr := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode != a.status:
		return fmt.Sprintf("status %d, want %d", resp.StatusCode, a.status)
	case a.cut && readErr == nil:
		return "the response was complete; it should have been cut"
	case !a.cut && readErr != nil:
		return "reading the body: " + readErr.Error()
	}
	if a.status == 503 && resp.Header.Get("Retry-After") == "" {
		return "503 without Retry-After"
	}
	return ""
}

// concurrencyLimit holds two requests to a function whose max_concurrency
// is 2, and checks that a third gets 503 with Retry-After.
func concurrencyLimit(url string) string {
	held := make(chan int, 2)
	for range 2 {
		go func() {
			// A holder refused because a probe held a slot tries again.
			for {
				resp, err := http.Get(url)
				if err != nil {
					held <- 0
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 503 {
					held <- resp.StatusCode
					return
				}
			}
		}()
	}
	// Probe until both are running: a probe that gets a slot itself gives
	// it back when its short timeout ends the request.
	probe := &http.Client{Timeout: 300 * time.Millisecond}
	third := 0
	for deadline := time.Now().Add(1800 * time.Millisecond); time.Now().Before(deadline); {
		resp, err := probe.Get(url)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if third = resp.StatusCode; third == 503 {
			if resp.Header.Get("Retry-After") == "" {
				return "503 without Retry-After"
			}
			break
		}
	}
	a, b := <-held, <-held
	if third != 503 || a != 504 || b != 504 {
		return fmt.Sprintf("max_concurrency: held requests got %d and %d (want 504: route timeout), third %d (want 503)", a, b, third)
	}
	return ""
}

var completedBig = regexp.MustCompile(`Processing by function "function\.big"\n(?:.*\n)*?Completed`)

// TestStalledReader: a client that stops reading a stream. Back-pressure
// reaches the function (it waits in _events, so its CPU budget is not
// spent), the host holds no more than the windows, and when the client
// leaves the instance is stopped.
func TestStalledReader(t *testing.T) {
	s := start(t, hostileProject(t))
	pid := s.cmd.Process.Pid
	resp, err := http.Get(s.base + "/big?mib=10000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	before, err := rssKiB(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	time.Sleep(3 * time.Second) // the client stalls
	after, _ := rssKiB(pid)
	if code, body := get(t, s.base+"/hello"); code != 200 || body != "Hello World" {
		t.Fatalf("hello while a reader stalls = %d %q", code, body)
	}
	// It resumes: the stream goes on where it stopped.
	if _, err := io.CopyN(io.Discard, resp.Body, 10<<20); err != nil {
		t.Fatalf("resuming the stream: %v", err)
	}
	resp.Body.Close()
	s.waitFor(completedBig, 10*time.Second)
	t.Logf("RSS %d MiB when the reader stalled, %d MiB 3 s later", before>>10, after>>10)
	if after-before > 64<<10 {
		t.Errorf("RSS grew by %d MiB while the reader stalled", (after-before)>>10)
	}
}
