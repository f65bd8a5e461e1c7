package main

import (
	"os"
	"testing"
	"time"
)

// The fixtures are real wrk 4 outputs: wrk-native.txt against the native
// server, wrk-errors.txt against a Python http.server answering 404 and
// timing some connections out.
func TestParseWrk(t *testing.T) {
	tests := []struct {
		file string
		want wrkResult
	}{
		{"testdata/wrk-native.txt", wrkResult{
			RequestsPerSec: 68802.08,
			Requests:       137741,
			P50:            363 * time.Microsecond,
			P99:            7430 * time.Microsecond,
		}},
		{"testdata/wrk-errors.txt", wrkResult{
			RequestsPerSec: 2031.35,
			Requests:       6100,
			P50:            2790 * time.Microsecond,
			P99:            390210 * time.Microsecond,
			Non2xx:         6100,
			SocketErrors:   3,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseWrk(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.P50, tt.want.P50) || !near(got.P99, tt.want.P99) {
				t.Errorf("p50, p99 = %v, %v; want %v, %v", got.P50, got.P99, tt.want.P50, tt.want.P99)
			}
			got.P50, got.P99 = tt.want.P50, tt.want.P99
			if got != tt.want {
				t.Errorf("parseWrk = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// near allows for float rounding in converting "7.43ms" to nanoseconds.
func near(a, b time.Duration) bool {
	d := a - b
	return d > -time.Microsecond/100 && d < time.Microsecond/100
}

func TestParseWrkUnits(t *testing.T) {
	tests := []struct {
		line string
		want time.Duration
	}{
		{"     99%  363.00us", 363 * time.Microsecond},
		{"     99%    7.43ms", 7430 * time.Microsecond},
		{"     99%    1.20s ", 1200 * time.Millisecond},
		{"     99%    2.00m", 2 * time.Minute},
	}
	for _, tt := range tests {
		out := "     50%    1.00ms\n" + tt.line + "\nRequests/sec:  10.00\n"
		got, err := parseWrk(out)
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		if !near(got.P99, tt.want) {
			t.Errorf("%q: p99 = %v; want %v", tt.line, got.P99, tt.want)
		}
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	b, err := os.ReadFile("testdata/wrk-native.txt")
	if err != nil {
		t.Fatal(err)
	}
	full := string(b)
	for name, out := range map[string]string{
		"empty":      "",
		"no latency": "Requests/sec:  68802.08\n", // wrk run without --latency
		"cut short":  full[:len(full)/2],
	} {
		if _, err := parseWrk(out); err == nil {
			t.Errorf("%s: parseWrk succeeded; want an error", name)
		}
	}
}

func TestWrkDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:         "5s",
		1500 * time.Millisecond: "2s",
		time.Minute:             "60s",
		0:                       "1s",
	} {
		if got := wrkDuration(d); got != want {
			t.Errorf("wrkDuration(%v) = %q; want %q", d, got, want)
		}
	}
}
