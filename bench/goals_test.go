package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestGoalCheck(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		target string
		m      measured
		want   []string
	}{
		{"c", measured{Ratio: 0.5, P99Ratio: 2, First: 100 * ms}, nil},
		{"c", measured{Ratio: 0.49, P99Ratio: 1, First: ms}, []string{"ratio 0.49 < 0.50"}},
		{"rust", measured{Ratio: 0.9, P99Ratio: 2.5, First: ms}, []string{"p99 ratio 2.50 > 2"}},
		{"c-reuse", measured{Ratio: 0.9, P99Ratio: 1, First: 101 * ms}, []string{"first response 101 ms > 100 ms"}},
		{"c-reuse", measured{Ratio: 0.7, P99Ratio: 1, First: ms}, []string{"ratio 0.70 < 0.80"}},
		{"rust-reuse", measured{Ratio: 0.1, P99Ratio: 3, First: 200 * ms}, []string{"ratio 0.10 < 0.50", "p99 ratio 3.00 > 2", "first response 200 ms > 100 ms"}},
		// Go has no p99 goal: its guest starts the Go runtime per request.
		{"go", measured{Ratio: 0.25, P99Ratio: 40, First: ms}, nil},
		{"go", measured{Ratio: 0.02, P99Ratio: 1, First: ms}, []string{"ratio 0.02 < 0.25"}},
		{"go-reuse", measured{Ratio: 0.79, P99Ratio: 1, First: ms}, []string{"ratio 0.79 < 0.80"}},
		{"go-reuse", measured{Ratio: 1.2, P99Ratio: 9, First: 50 * ms}, nil},
	}
	for _, tt := range tests {
		g, ok := goals[tt.target]
		if !ok {
			t.Fatalf("no goal for %q", tt.target)
		}
		if got := g.check(tt.m); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %+v: misses %q; want %q", tt.target, tt.m, got, tt.want)
		}
	}
}

func TestEveryTargetHasAGoal(t *testing.T) {
	for _, tg := range targets {
		if _, ok := goals[tg.Name]; !ok {
			t.Errorf("target %q has no goal", tg.Name)
		}
	}
}

func TestEvaluate(t *testing.T) {
	rd := func(rps float64, p99 time.Duration, ratio, p99ratio float64) round {
		return round{wrkResult: wrkResult{RequestsPerSec: rps, P50: time.Millisecond, P99: p99}, Ratio: ratio, P99Ratio: p99ratio}
	}
	native := &row{Name: "native", Rounds: []round{rd(1000, 2*time.Millisecond, 1, 1)}}
	// One bad round out of three: the median passes.
	c := &row{Name: "c", PortToFirst: time.Millisecond, Rounds: []round{
		rd(600, 3*time.Millisecond, 0.6, 1.5), rd(100, 9*time.Millisecond, 0.1, 4.5), rd(700, 3*time.Millisecond, 0.7, 1.5),
	}}
	rust := &row{Name: "rust", Skipped: "cargo not found on PATH"}
	if evaluate([]*row{native, c}) != true {
		t.Errorf("native and c: evaluate = false; misses %q", c.Misses)
	}
	if c.Ratio != 0.6 || c.P99Ratio != 1.5 || c.RPS != 600 || c.P99 != 3*time.Millisecond {
		t.Errorf("c medians: ratio %v, p99 ratio %v, rps %v, p99 %v", c.Ratio, c.P99Ratio, c.RPS, c.P99)
	}
	if evaluate([]*row{native, c, rust}) != false {
		t.Error("a skipped target passed")
	}
	if !strings.Contains(result(rust), "skipped") {
		t.Errorf("result(rust) = %q; want it to say skipped", result(rust))
	}
	bad := &row{Name: "go", PortToFirst: time.Millisecond, Rounds: []round{rd(900, time.Millisecond, 0.9, 1)}}
	bad.Rounds[0].Non2xx = 3
	if evaluate([]*row{native, bad}) {
		t.Error("a target answering non-2xx passed")
	}
}

func TestSelectTargets(t *testing.T) {
	sel, err := selectTargets("go-reuse, c,native")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range sel {
		names = append(names, tg.Name)
	}
	if want := []string{"c", "go-reuse"}; !reflect.DeepEqual(names, want) {
		t.Errorf("selected %q; want %q (table order)", names, want)
	}
	if all, _ := selectTargets(""); len(all) != len(targets) {
		t.Errorf("empty -only selected %d targets; want all %d", len(all), len(targets))
	}
	if _, err := selectTargets("c,pyhton"); err == nil || !strings.Contains(err.Error(), `"pyhton"`) {
		t.Errorf("unknown target: err = %v", err)
	}
}
