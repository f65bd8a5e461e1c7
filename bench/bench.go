package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// bench holds what every measurement needs.
type bench struct {
	opts  options
	root  string // repository root
	embly string // bin/embly
	self  string // this executable, re-executed as the native server
	tmp   string // temporary projects and logs
	wrk   string
	load  wrkLoad
}

// row is one target's results; durations are nanoseconds in JSON.
type row struct {
	Name    string `json:"name"`
	Goal    string `json:"goal,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	Log     string `json:"log,omitempty"`

	ColdReady   time.Duration `json:"cold_start_to_hello_ns,omitempty"` // build included
	StartToPort time.Duration `json:"start_to_port_ns,omitempty"`       // warm restart
	PortToFirst time.Duration `json:"port_to_first_response_ns,omitempty"`

	Rounds   []round       `json:"rounds"`
	RPS      float64       `json:"median_requests_per_sec"`
	Ratio    float64       `json:"median_ratio"`
	P50      time.Duration `json:"median_p50_ns"`
	P99      time.Duration `json:"median_p99_ns"`
	P99Ratio float64       `json:"median_p99_ratio"`
	PeakRSS  int64         `json:"peak_rss_bytes"`

	Pass   bool     `json:"pass"`
	Misses []string `json:"misses,omitempty"`

	srv *server
}

// round is one wrk run, with its ratios to the native run of the same round.
type round struct {
	wrkResult
	Ratio    float64 `json:"ratio"`
	P99Ratio float64 `json:"p99_ratio"`
}

// ok reports whether the row is still being measured.
func (r *row) ok() bool { return r.Skipped == "" && r.Error == "" }

// fail records the first error that stops the row's measurement.
func (r *row) fail(err error) {
	if r.Error == "" {
		r.Error = err.Error()
	}
	progress("%s: %v", r.Name, err)
}

// run starts every server, loads them in alternating rounds, reads their
// peak RSS, and stops them. Only a failure of the native baseline is an
// error; a target's failure is recorded in its row.
func (b *bench) run(ctx context.Context, sel []target) (rows []*row, err error) {
	defer func() {
		for _, r := range rows {
			if r.srv != nil {
				if err := r.srv.stop(15 * time.Second); err != nil {
					progress("%v", err)
				}
			}
		}
	}()
	native := &row{Name: "native"}
	rows = append(rows, native)
	if native.srv, err = b.startNative(ctx); err != nil {
		return rows, err
	}
	for _, t := range sel {
		r := &row{Name: t.Name, Goal: goals[t.Name].String()}
		rows = append(rows, r)
		if tool := t.missingTool(); tool != "" {
			r.Skipped = tool + " not found on PATH"
			progress("%s: skipped: %s", t.Name, r.Skipped)
			continue
		}
		b.startTarget(ctx, t, r)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
	}

	progress("warming up every server with 1s of wrk")
	warm := b.load
	warm.Duration = time.Second
	for _, r := range rows {
		if r.ok() {
			if _, _, err := runWrk(ctx, b.wrk, r.srv.url(), warm); err != nil {
				if r == native {
					return rows, err
				}
				r.fail(err)
			}
		}
	}
	for i := 1; i <= b.opts.Rounds; i++ {
		if err := b.round(ctx, i, rows); err != nil {
			return rows, err
		}
	}
	for _, r := range rows {
		if r.srv == nil {
			continue
		}
		if rss, err := peakRSS(r.srv.pid()); err != nil {
			r.fail(fmt.Errorf("peak RSS: %w", err))
		} else {
			r.PeakRSS = rss
		}
	}
	return rows, nil
}

// round loads native, then every target still standing, so each target's
// ratios are against a baseline measured moments before on the same machine.
func (b *bench) round(ctx context.Context, i int, rows []*row) error {
	native := rows[0]
	progress("round %d/%d: native", i, b.opts.Rounds)
	base, _, err := runWrk(ctx, b.wrk, native.srv.url(), b.load)
	if err != nil {
		return fmt.Errorf("native: %w", err)
	}
	native.Rounds = append(native.Rounds, round{wrkResult: base, Ratio: 1, P99Ratio: 1})
	for _, r := range rows[1:] {
		if !r.ok() {
			continue
		}
		progress("round %d/%d: %s", i, b.opts.Rounds, r.Name)
		res, _, err := runWrk(ctx, b.wrk, r.srv.url(), b.load)
		if err == nil && exited(r.srv) {
			err = fmt.Errorf("exited under load (%v); its output is in %s", r.srv.waitErr, r.srv.logPath)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail(err)
			continue
		}
		r.Rounds = append(r.Rounds, round{
			wrkResult: res,
			Ratio:     res.RequestsPerSec / base.RequestsPerSec,
			P99Ratio:  float64(res.P99) / float64(base.P99),
		})
	}
	return nil
}

func exited(s *server) bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// startNative starts the baseline: this executable, re-executed with
// -serve-native.
func (b *bench) startNative(ctx context.Context) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.tmp, "native")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	progress("native: starting on 127.0.0.1:%d", port)
	srv, err := startServer("native", port, filepath.Join(dir, "native.log"),
		[]string{b.self, serveNativeFlag, "127.0.0.1:" + strconv.Itoa(port)}, dir)
	if err != nil {
		return nil, err
	}
	if err := srv.waitHello(ctx, 30*time.Second); err != nil {
		srv.stop(5 * time.Second)
		return nil, err
	}
	return srv, nil
}

// startTarget copies and rewrites the example, starts it cold (building it
// and filling the compile cache), stops it, then starts it again in the
// same directory and measures the warm restart. The restarted server is
// left running in r.srv for the load rounds.
func (b *bench) startTarget(ctx context.Context, t target, r *row) {
	port, err := freePort()
	if err != nil {
		r.fail(err)
		return
	}
	dir := filepath.Join(b.tmp, t.Name)
	if err := prepareProject(filepath.Join(b.root, t.Example), dir, port, t.Reuse); err != nil {
		r.fail(err)
		return
	}
	argv := []string{b.embly, "run", "--dir", dir}

	progress("%s: cold start (build and compile) on 127.0.0.1:%d", t.Name, port)
	r.Log = filepath.Join(dir, "cold.log")
	cold, err := startServer(t.Name, port, r.Log, argv, dir)
	if err != nil {
		r.fail(err)
		return
	}
	if err := cold.waitHello(ctx, b.opts.StartTimeout); err != nil {
		cold.stop(15 * time.Second)
		r.fail(err)
		return
	}
	r.ColdReady = time.Since(cold.started)
	if err := cold.stop(15 * time.Second); err != nil {
		r.fail(err)
		return
	}

	progress("%s: warm restart", t.Name)
	r.Log = filepath.Join(dir, "run.log")
	warm, err := startServer(t.Name, port, r.Log, argv, dir)
	if err != nil {
		r.fail(err)
		return
	}
	r.srv = warm
	toPort, toFirst, err := warm.firstResponse(ctx, time.Minute)
	if err != nil {
		r.fail(err)
		return
	}
	r.StartToPort, r.PortToFirst = toPort, toFirst
	progress("%s: start→port %s, port→first response %s", t.Name, fmtMs(toPort), fmtMs(toFirst))
}

// evaluate fills in each row's medians and verdict, and reports whether
// every target passed.
func evaluate(rows []*row) bool {
	all := true
	for _, r := range rows {
		summarize(r)
		if r.Name == "native" {
			r.Pass = true
			continue
		}
		switch {
		case r.Skipped != "":
			r.Misses = []string{"skipped: " + r.Skipped}
		case r.Error != "":
			r.Misses = []string{"error: " + r.Error}
		case len(r.Rounds) == 0:
			r.Misses = []string{"not measured"}
		default:
			r.Misses = goals[r.Name].check(measured{Ratio: r.Ratio, P99Ratio: r.P99Ratio, First: r.PortToFirst})
			if n := non2xx(r.Rounds); n > 0 {
				r.Misses = append(r.Misses, fmt.Sprintf("%d non-2xx responses", n))
			}
		}
		r.Pass = len(r.Misses) == 0
		all = all && r.Pass
	}
	return all
}

// summarize sets the row's medians over its rounds.
func summarize(r *row) {
	var rps, ratio, p99ratio []float64
	var p50, p99 []time.Duration
	for _, rd := range r.Rounds {
		rps = append(rps, rd.RequestsPerSec)
		ratio = append(ratio, rd.Ratio)
		p99ratio = append(p99ratio, rd.P99Ratio)
		p50 = append(p50, rd.P50)
		p99 = append(p99, rd.P99)
	}
	r.RPS, r.Ratio, r.P99Ratio = median(rps), median(ratio), median(p99ratio)
	r.P50, r.P99 = medianDuration(p50), medianDuration(p99)
}

func non2xx(rounds []round) int64 {
	var n int64
	for _, rd := range rounds {
		n += rd.Non2xx
	}
	return n
}
