// Command bench measures Embly against a plain net/http server: throughput
// and latency under wrk, peak RSS, and the first request after a restart
// with a warm compile cache. It prints a markdown table and exits 1 when a
// target misses its goal (issue 4), so it is a regression guard to run by
// hand, on purpose not in CI: shared machines are too noisy to gate on.
//
//	go run ./bench [-duration 5s] [-rounds 3] [-only c,go] [-json FILE]
//	go run ./bench -soak 10m [-soak-clients 8] [-soak-rss-tolerance 64]
//
// The second form is the soak of docs/reliability.md (soak.go).
//
// See docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// serveNativeFlag re-executes the benchmark as the native baseline server.
// It is not a flag of the flag set, so -h does not show it.
const serveNativeFlag = "-serve-native"

// options are the benchmark's flags.
type options struct {
	Duration     time.Duration
	Rounds       int
	Conns        int
	Threads      int
	Only         string
	JSON         string
	StartTimeout time.Duration
	Keep         bool
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == serveNativeFlag {
		if err := serveNative(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "native:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var soak soakOptions
	var tolerance int
	flag.DurationVar(&soak.Duration, "soak", 0, "instead of benchmarking, soak one embly run project (hello and hostile guests) for this long")
	flag.IntVar(&soak.Clients, "soak-clients", 8, "concurrent clients of the soak")
	flag.IntVar(&tolerance, "soak-rss-tolerance", 64, "MiB of RSS growth after warm-up the soak tolerates")
	flag.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each measured wrk run (whole seconds)")
	flag.IntVar(&o.Rounds, "rounds", 3, "rounds; each runs native, then every target")
	flag.IntVar(&o.Conns, "conns", 32, "wrk connections (-c)")
	flag.IntVar(&o.Threads, "threads", 2, "wrk threads (-t)")
	flag.StringVar(&o.Only, "only", "", "comma-separated targets to run (native always runs): "+targetNames())
	flag.StringVar(&o.JSON, "json", "", "also write the raw results, every round, to this file")
	flag.DurationVar(&o.StartTimeout, "start-timeout", 5*time.Minute, "how long a cold start (the build included) may take")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary projects and their logs")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench takes no arguments, got %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ok bool
	var err error
	if soak.Duration > 0 {
		soak.Tolerance = int64(tolerance) << 20
		ok, err = runSoak(ctx, soak)
	} else {
		ok, err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run benchmarks and reports; ok is false when a selected target failed
// its goal, was skipped, or could not be measured.
func run(ctx context.Context, o options) (ok bool, err error) {
	if o.Rounds < 1 || o.Conns < 1 || o.Threads < 1 || o.Duration < time.Second {
		return false, errors.New("-rounds, -conns and -threads must be at least 1, -duration at least 1s")
	}
	sel, err := selectTargets(o.Only)
	if err != nil {
		return false, err
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return false, errors.New("wrk was not found on PATH: apt-get install wrk (or scripts/setup)")
	}
	root, err := repoRoot()
	if err != nil {
		return false, err
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	embly, err := buildEmbly(ctx, root)
	if err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "embly-bench-")
	if err != nil {
		return false, err
	}

	b := &bench{
		opts:  o,
		root:  root,
		embly: embly,
		self:  self,
		tmp:   tmp,
		wrk:   wrk,
		load:  wrkLoad{Threads: o.Threads, Conns: o.Conns, Duration: o.Duration},
	}
	rows, err := b.run(ctx, sel)
	if err != nil {
		progress("temporary projects and logs kept in %s", tmp)
		return false, err
	}
	ok = evaluate(rows)
	fmt.Print(markdownTable(rows, o))
	if o.JSON != "" {
		if err := writeJSON(o.JSON, o, rows); err != nil {
			return false, err
		}
		progress("raw results written to %s", o.JSON)
	}
	// Logs matter when a server could not be measured; a missed goal is in
	// the table. The request logs of a full run are a few hundred MB.
	if o.Keep || anyError(rows) {
		progress("temporary projects and logs kept in %s", tmp)
	} else {
		os.RemoveAll(tmp)
	}
	return ok, nil
}

// anyError reports whether a row could not be measured.
func anyError(rows []*row) bool {
	for _, r := range rows {
		if r.Error != "" {
			return true
		}
	}
	return false
}

// repoRoot finds the directory holding the embly module's go.mod, from the
// working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/embly/embly\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark inside the embly repository (go run ./bench from its root)")
		}
		dir = parent
	}
}

// progress reports what the benchmark is doing on stderr, so that stdout
// holds only the table.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// writeJSON writes the options and every row, rounds included.
func writeJSON(path string, o options, rows []*row) error {
	b, err := json.MarshalIndent(struct {
		Date     time.Time `json:"date"`
		Duration string    `json:"duration"`
		Rounds   int       `json:"rounds"`
		Conns    int       `json:"conns"`
		Threads  int       `json:"threads"`
		Rows     []*row    `json:"rows"`
	}{time.Now().UTC(), o.Duration.String(), o.Rounds, o.Conns, o.Threads, rows}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// buildEmbly builds bin/embly in the repository at root and returns its path.
func buildEmbly(ctx context.Context, root string) (string, error) {
	embly := filepath.Join(root, "bin", "embly")
	progress("building %s", embly)
	build := exec.CommandContext(ctx, "go", "build", "-o", embly, "./cmd/embly")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/embly: %w\n%s", err, out)
	}
	return embly, nil
}
