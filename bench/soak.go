package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The soak (go run ./bench -soak 10m): one `embly run` project with a hello
// function next to hostile guests, mixed traffic from a few clients for the
// whole duration, and the server's RSS sampled every second. It fails when
// a request gets anything but its documented status, or when RSS after the
// warm-up grows beyond a tolerance. docs/reliability.md records a run.

// soakOptions are the soak's flags.
type soakOptions struct {
	Duration  time.Duration
	Clients   int
	Tolerance int64 // bytes of RSS growth allowed after warm-up
}

// soakGuests are the C guests of the soak project: testdata of the runtime
// and of the e2e tests, built with clang against sdk/c.
var soakGuests = map[string]string{
	"hello":     "internal/runtime/testdata/hello.c",
	"spin":      "internal/runtime/testdata/spin.c",
	"membomb":   "internal/runtime/testdata/membomb.c",
	"trap":      "internal/runtime/testdata/trap.c",
	"flood":     "internal/runtime/testdata/flood.c",
	"spawnbomb": "internal/runtime/testdata/spawnbomb.c",
	"big":       "e2e/testdata/big.c",
}

// soakMaxInstances is the project's --max-instances: room for one spawn
// bomb's tree (2049 instances) and everything else the clients run, so the
// cap is exercised only if something leaks instances.
const soakMaxInstances = 4096

const soakHCL = `
function "hello" {
  runtime = "wasm"
  path    = "./hello.wasm"
}
function "spin" {
  runtime    = "wasm"
  path       = "./spin.wasm"
  cpu_budget = "200ms"
}
function "membomb" {
  runtime    = "wasm"
  path       = "./membomb.wasm"
  max_memory = "16MiB"
}
function "trap" {
  runtime = "wasm"
  path    = "./trap.wasm"
}
function "flood" {
  runtime = "wasm"
  path    = "./flood.wasm"
}
function "spawnbomb" {
  runtime = "wasm"
  path    = "./spawnbomb.wasm"
}
function "big" {
  runtime = "wasm"
  path    = "./big.wasm"
}

gateway {
  type = "http"
  port = %d
  route "/"          { function = "${function.hello}" }
  route "/spin"      { function = "${function.spin}" }
  route "/membomb"   { function = "${function.membomb}" }
  route "/trap"      { function = "${function.trap}" }
  route "/flood"     { function = "${function.flood}" }
  route "/big"       { function = "${function.big}" }
  route "/spawnbomb" {
    function = "${function.spawnbomb}"
    timeout  = "1s"
  }
}
`

// soakKind is one kind of request of the mix: how often it is sent, and
// what answer is documented for it.
type soakKind struct {
	name   string
	path   string
	weight int
	// check returns "" for the documented answer, else what was wrong.
	check func(resp *http.Response) string
	// slow: read the body 16 KiB at a time with a pause (a slow reader).
	slow bool
	// alone: at most one in flight (the spawn bomb holds ~2000 instances).
	alone bool
}

func wantStatus(code int, body string) func(*http.Response) string {
	return func(resp *http.Response) string {
		b, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			return "reading the body: " + err.Error()
		case resp.StatusCode != code:
			return fmt.Sprintf("status %d, want %d (body %.80q)", resp.StatusCode, code, b)
		case body != "" && string(b) != body:
			return fmt.Sprintf("body %.80q, want %q", b, body)
		}
		return ""
	}
}

var soakMix = []soakKind{
	{name: "hello", path: "/", weight: 80, check: wantStatus(200, "Hello World")},
	{name: "spin (cpu_budget 200ms)", path: "/spin", weight: 2, check: wantStatus(504, "")},
	{name: "memory bomb (max_memory 16MiB)", path: "/membomb", weight: 4, check: wantStatus(500, "")},
	{name: "trap", path: "/trap", weight: 5, check: wantStatus(500, "")},
	{name: "output flood (68 MiB of log)", path: "/flood", weight: 2, check: wantStatus(200, "flooded")},
	{name: "4 MiB to a slow reader", path: "/big?mib=4", weight: 3, slow: true, check: func(resp *http.Response) string {
		if resp.StatusCode != 200 {
			return fmt.Sprintf("status %d, want 200", resp.StatusCode)
		}
		n, err := slowRead(resp.Body)
		if err != nil || n != 4<<20 {
			return fmt.Sprintf("read %d bytes (%v), want %d", n, err, 4<<20)
		}
		return ""
	}},
	{name: "spawn bomb (route timeout 1s)", path: "/spawnbomb", weight: 1, alone: true, check: wantStatus(504, "")},
}

// slowRead reads r 16 KiB at a time, pausing 2 ms between reads.
func slowRead(r io.Reader) (int, error) {
	buf := make([]byte, 16<<10)
	total := 0
	for {
		n, err := io.ReadFull(r, buf)
		total += n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// soakStats is what the clients record, per kind.
type soakStats struct {
	mu         sync.Mutex
	count      map[string]int
	unexpected map[string]int
	examples   []string
	hello      []time.Duration
}

func (s *soakStats) record(kind string, msg string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[kind]++
	if msg != "" {
		s.unexpected[kind]++
		if len(s.examples) < 20 {
			s.examples = append(s.examples, fmt.Sprintf("%s after %v: %s", kind, took.Round(time.Millisecond), msg))
		}
	}
	if kind == "hello" && msg == "" {
		s.hello = append(s.hello, took)
	}
}

// rssSample is the server's resident set size at one moment.
type rssSample struct {
	at  time.Duration
	rss int64
}

// vmRSS reads VmRSS of pid, in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// runSoak builds embly and the guests, runs the soak and prints its report.
// ok is false on an unexpected answer or RSS growth beyond the tolerance.
func runSoak(ctx context.Context, o soakOptions) (ok bool, err error) {
	if o.Duration < 10*time.Second || o.Clients < 1 {
		return false, errors.New("-soak must be at least 10s and -soak-clients at least 1")
	}
	root, err := repoRoot()
	if err != nil {
		return false, err
	}
	embly, err := buildEmbly(ctx, root)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "embly-soak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	for name, src := range soakGuests {
		clang := exec.CommandContext(ctx, "clang", "--target=wasm32-wasi", "-O2", "-I", filepath.Join(root, "sdk", "c"),
			"-o", filepath.Join(dir, name+".wasm"), filepath.Join(root, src))
		if out, err := clang.CombinedOutput(); err != nil {
			return false, fmt.Errorf("clang %s: %w\n%s (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)", src, err, out)
		}
	}
	port, err := freePort()
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(filepath.Join(dir, "embly.hcl"), fmt.Appendf(nil, soakHCL, port), 0o644); err != nil {
		return false, err
	}

	// The server's output is the request log: a few hundred MB over ten
	// minutes. Keep its last lines and watch it for panics.
	cmd := exec.Command(embly, "run", "--dir", dir, "--max-instances", strconv.Itoa(soakMaxInstances))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return false, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return false, err
	}
	logTail := &tail{max: 200}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			logTail.add(sc.Text())
		}
		io.Copy(io.Discard, out)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-logDone:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-logDone
		}
		cmd.Wait()
	}
	defer stop()
	srv := &server{name: "embly", port: port, exited: make(chan struct{}), logPath: "(the soak's own log tail)"}
	if err := srv.waitHello(ctx, 5*time.Minute); err != nil {
		return false, fmt.Errorf("%w\n%s", err, strings.Join(logTail.lines(), "\n"))
	}
	pid := cmd.Process.Pid
	progress("soaking %s for %v with %d clients (pid %d)", srv.url(), o.Duration, o.Clients, pid)

	stats := &soakStats{count: map[string]int{}, unexpected: map[string]int{}}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	// The server's output ends when it exits: a crash ends the soak at once.
	var died atomic.Bool
	go func() {
		select {
		case <-logDone:
			if ctx.Err() == nil {
				died.Store(true)
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	var samples []rssSample
	var samplesMu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // RSS, every second
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if rss, err := vmRSS(pid); err == nil {
				samplesMu.Lock()
				samples = append(samples, rssSample{time.Since(start), rss})
				samplesMu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var bomb sync.Mutex
	total := 0
	for _, k := range soakMix {
		total += k.weight
	}
	for c := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			client := &http.Client{Timeout: 60 * time.Second}
			for ctx.Err() == nil {
				k := pick(rng, total)
				if k.alone {
					if !bomb.TryLock() {
						continue
					}
				}
				t0 := time.Now()
				msg := soakRequest(client, srv.url()+strings.TrimPrefix(k.path, "/"), k)
				if k.alone {
					bomb.Unlock()
				}
				stats.record(k.name, msg, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	progress("stopping embly")
	stop()
	panics := logTail.panics
	ok = report(o, stats, samples, elapsed, panics, logTail.lines())
	if died.Load() {
		fmt.Printf("FAIL: embly exited %v into the soak (%v); the last lines of its log:\n%s\n",
			elapsed.Round(time.Second), cmd.ProcessState, strings.Join(logTail.lines(), "\n"))
		ok = false
	}
	return ok, nil
}

// pick chooses a kind of request by weight.
func pick(rng *rand.Rand, total int) soakKind {
	n := rng.IntN(total)
	for _, k := range soakMix {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return soakMix[0]
}

// soakRequest sends one request of kind k and returns "" when it got its
// documented answer.
func soakRequest(client *http.Client, url string, k soakKind) string {
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	return k.check(resp)
}

// tail keeps the last lines of the server's log and counts panics.
type tail struct {
	mu     sync.Mutex
	max    int
	buf    []string
	panics int
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if strings.HasPrefix(line, "panic:") || strings.Contains(line, "fatal error:") {
		t.panics++
	}
	if len(line) > 300 {
		line = line[:300] + "..."
	}
	t.buf = append(t.buf, line)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.buf)
}

// medianRSS returns the median RSS of samples.
func medianRSS(samples []rssSample) int64 {
	if len(samples) == 0 {
		return 0
	}
	v := make([]int64, len(samples))
	for i, s := range samples {
		v[i] = s.rss
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// report prints the soak's figures and judges them. Warm-up is the first
// fifth of the run (at most two minutes); RSS "after warm-up" is the median
// of the minute that follows it, RSS "at the end" the median of the last
// minute, so single spikes (a spawn bomb's tree) do not decide.
func report(o soakOptions, st *soakStats, samples []rssSample, elapsed time.Duration, panics int, logLines []string) bool {
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	warm := min(o.Duration/5, 2*time.Minute)
	window := min(time.Minute, o.Duration/5)
	var afterWarm, last []rssSample
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.rss)
		if s.at >= warm && s.at < warm+window {
			afterWarm = append(afterWarm, s)
		}
		if s.at >= elapsed-window {
			last = append(last, s)
		}
	}
	base, end := medianRSS(afterWarm), medianRSS(last)
	growth := end - base

	fmt.Printf("## Soak: %v, %d clients\n\n", elapsed.Round(time.Second), o.Clients)
	fmt.Println("| request | sent | unexpected |")
	fmt.Println("| --- | ---: | ---: |")
	sent, bad := 0, 0
	for _, k := range soakMix {
		fmt.Printf("| %s | %d | %d |\n", k.name, st.count[k.name], st.unexpected[k.name])
		sent += st.count[k.name]
		bad += st.unexpected[k.name]
	}
	fmt.Printf("| **all** | **%d** (%.0f/s) | **%d** |\n\n", sent, float64(sent)/elapsed.Seconds(), bad)
	slices.Sort(st.hello)
	if n := len(st.hello); n > 0 {
		fmt.Printf("hello latency: p50 %v, p99 %v, max %v\n\n", st.hello[n/2].Round(time.Microsecond),
			st.hello[n*99/100].Round(time.Microsecond), st.hello[n-1].Round(time.Microsecond))
	}
	fmt.Printf("RSS: %s after warm-up (median of %v from %v), %s at the end (median of the last %v), peak %s; growth %s (tolerance %s)\n\n",
		mib(base), window, warm, mib(end), window, mib(peak), mib(growth), mib(o.Tolerance))
	fmt.Println("| minute | RSS median | RSS max |")
	fmt.Println("| ---: | ---: | ---: |")
	byMinute := map[int][]rssSample{}
	for _, s := range samples {
		m := int(s.at / time.Minute)
		byMinute[m] = append(byMinute[m], s)
	}
	minutes := make([]int, 0, len(byMinute))
	for m := range byMinute {
		minutes = append(minutes, m)
	}
	sort.Ints(minutes)
	for _, m := range minutes {
		var top int64
		for _, s := range byMinute[m] {
			top = max(top, s.rss)
		}
		fmt.Printf("| %d | %s | %s |\n", m+1, mib(medianRSS(byMinute[m])), mib(top))
	}
	fmt.Println()
	ok := true
	if bad > 0 {
		ok = false
		fmt.Printf("FAIL: %d unexpected answers; the first:\n", bad)
		for _, e := range st.examples {
			fmt.Println("  " + e)
		}
	}
	if panics > 0 {
		ok = false
		fmt.Printf("FAIL: the server's log has %d panics; its last lines:\n%s\n", panics, strings.Join(logLines, "\n"))
	}
	if growth > o.Tolerance {
		ok = false
		fmt.Printf("FAIL: RSS grew by %s after warm-up, more than %s\n", mib(growth), mib(o.Tolerance))
	}
	if ok {
		fmt.Println("PASS: 0 unexpected answers, RSS flat after warm-up")
	}
	return ok
}
