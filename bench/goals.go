package main

import (
	"fmt"
	"strings"
	"time"
)

// goal is what one target must reach, from issue 4. Ratios are against the
// native server measured in the same round.
type goal struct {
	MinRatio    float64       // req/s ratio to native, at least
	MaxP99Ratio float64       // p99 ratio to native p99, at most; 0 = no bound
	MaxFirst    time.Duration // port accepting -> first 200 response, at most
}

// firstResponseGoal bounds the first request after a restart with a warm
// compile cache: a restarted server must answer as if it had never stopped.
const firstResponseGoal = 100 * time.Millisecond

// goals are per target. C and Rust guests are commands with almost nothing
// to start, so they must keep half of native throughput and a p99 within 2x;
// a Go guest starts the Go runtime on every request, so a quarter. With
// reuse = true an instance is kept from one request to the next and must
// come close to native: Go functions are reactors, and so are C functions
// that declare reuse. A Rust function is a command, on which reuse does
// nothing (the runtime says so), so rust-reuse keeps rust's goal.
var goals = map[string]goal{
	"c":          {MinRatio: 0.50, MaxP99Ratio: 2, MaxFirst: firstResponseGoal},
	"rust":       {MinRatio: 0.50, MaxP99Ratio: 2, MaxFirst: firstResponseGoal},
	"c-reuse":    {MinRatio: 0.80, MaxP99Ratio: 2, MaxFirst: firstResponseGoal},
	"rust-reuse": {MinRatio: 0.50, MaxP99Ratio: 2, MaxFirst: firstResponseGoal},
	"go":         {MinRatio: 0.25, MaxFirst: firstResponseGoal},
	"go-reuse":   {MinRatio: 0.80, MaxFirst: firstResponseGoal},
}

// String is the goal as the table's goal column shows it.
func (g goal) String() string {
	parts := []string{fmt.Sprintf("ratio ≥ %.2f", g.MinRatio)}
	if g.MaxP99Ratio > 0 {
		parts = append(parts, fmt.Sprintf("p99 ≤ %g× native", g.MaxP99Ratio))
	}
	parts = append(parts, fmt.Sprintf("first ≤ %d ms", g.MaxFirst.Milliseconds()))
	return strings.Join(parts, ", ")
}

// measured is what a goal is checked against: medians over rounds, and the
// restart measurement.
type measured struct {
	Ratio    float64
	P99Ratio float64
	First    time.Duration
}

// check returns every way m misses g; none means PASS.
func (g goal) check(m measured) []string {
	var misses []string
	if m.Ratio < g.MinRatio {
		misses = append(misses, fmt.Sprintf("ratio %.2f < %.2f", m.Ratio, g.MinRatio))
	}
	if g.MaxP99Ratio > 0 && m.P99Ratio > g.MaxP99Ratio {
		misses = append(misses, fmt.Sprintf("p99 ratio %.2f > %g", m.P99Ratio, g.MaxP99Ratio))
	}
	if m.First > g.MaxFirst {
		misses = append(misses, fmt.Sprintf("first response %s > %d ms", fmtMs(m.First), g.MaxFirst.Milliseconds()))
	}
	return misses
}

// fmtMs formats d in milliseconds with a precision that suits its size.
func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}
