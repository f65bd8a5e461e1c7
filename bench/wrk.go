package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	RequestsPerSec float64       `json:"requests_per_sec"`
	Requests       int64         `json:"requests"`
	P50            time.Duration `json:"p50_ns"`
	P99            time.Duration `json:"p99_ns"`
	Non2xx         int64         `json:"non_2xx"`
	SocketErrors   int64         `json:"socket_errors"`
}

// wrkLoad describes one wrk invocation.
type wrkLoad struct {
	Threads  int
	Conns    int
	Duration time.Duration
}

var (
	wrkRate      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkRequests  = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkPercent   = regexp.MustCompile(`^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkNon2xx    = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$`)
	wrkSocketErr = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$`)
)

// wrkUnits are the time units wrk prints latencies in.
var wrkUnits = map[string]time.Duration{
	"us": time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
}

// parseWrk reads the output of `wrk --latency`. Requests/sec and both the
// 50% and 99% lines of the latency distribution are required; error counts
// are zero when wrk does not print them (it prints them only when nonzero).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRate.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("no Requests/sec line (was wrk's output cut short?)")
	}
	rate, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return r, fmt.Errorf("Requests/sec %q: %w", m[1], err)
	}
	r.RequestsPerSec = rate
	if m := wrkRequests.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	var have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := wrkPercent.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return r, fmt.Errorf("latency %q: %w", sc.Text(), err)
		}
		d := time.Duration(v * float64(wrkUnits[m[3]]))
		if m[1] == "50" {
			r.P50, have50 = d, true
		} else {
			r.P99, have99 = d, true
		}
	}
	if !have50 || !have99 {
		return r, errors.New("no 50% and 99% latency lines (was wrk run with --latency?)")
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSocketErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	return r, nil
}

// runWrk loads url for load.Duration and parses the result. The run is
// bounded: wrk gets its duration plus a grace period, then is killed.
func runWrk(ctx context.Context, wrk, url string, load wrkLoad) (wrkResult, string, error) {
	ctx, cancel := context.WithTimeout(ctx, load.Duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk,
		"-t"+strconv.Itoa(load.Threads),
		"-c"+strconv.Itoa(load.Conns),
		"-d"+wrkDuration(load.Duration),
		"--latency", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, string(out), fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	return r, string(out), nil
}

// wrkDuration formats d the way wrk's -d flag reads it: whole seconds
// (wrk takes s, m and h only), rounded up, at least one.
func wrkDuration(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}
