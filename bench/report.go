package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// markdownTable renders the rows as the table docs/performance.md shows.
func markdownTable(rows []*row, o options) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nwrk -t%d -c%d -d%s --latency, %d rounds, medians; ratios are against native in the same round. %s, %d CPUs, %s.\n\n",
		o.Threads, o.Conns, wrkDuration(o.Duration), o.Rounds, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().Format("2006-01-02"))
	sb.WriteString("| target | req/s | ratio | p50 | p99 | p99 ratio | peak RSS MiB | start→port ms | port→first response ms | goal | result |\n")
	sb.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range rows {
		cells := []string{r.Name, "—", "—", "—", "—", "—", "—", "—", "—", r.Goal, result(r)}
		if len(r.Rounds) > 0 {
			cells[1] = fmt.Sprintf("%.0f", r.RPS)
			cells[2] = fmt.Sprintf("%.2f", r.Ratio)
			cells[3] = fmtMs(r.P50)
			cells[4] = fmtMs(r.P99)
			cells[5] = fmt.Sprintf("%.2f", r.P99Ratio)
		}
		if r.PeakRSS > 0 {
			cells[6] = fmt.Sprintf("%.1f", float64(r.PeakRSS)/(1<<20))
		}
		if r.StartToPort > 0 {
			cells[7] = fmt.Sprintf("%.1f", ms(r.StartToPort))
			cells[8] = fmt.Sprintf("%.1f", ms(r.PortToFirst))
		}
		if r.Name == "native" {
			cells[9] = "baseline"
		}
		sb.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	var notes []string
	for _, r := range rows {
		var socket int64
		for _, rd := range r.Rounds {
			socket += rd.SocketErrors
		}
		if socket > 0 {
			notes = append(notes, fmt.Sprintf("%s: wrk reported %d socket errors (timeouts included) over all rounds", r.Name, socket))
		}
		if r.Error != "" && r.Log != "" {
			notes = append(notes, fmt.Sprintf("%s: output in %s", r.Name, r.Log))
		}
	}
	if len(notes) > 0 {
		sb.WriteString("\n")
		for _, n := range notes {
			sb.WriteString("- " + n + "\n")
		}
	}
	return sb.String()
}

// result is the table's last column.
func result(r *row) string {
	switch {
	case r.Name == "native":
		return ""
	case r.Pass:
		return "PASS"
	default:
		misses := make([]string, len(r.Misses))
		for i, m := range r.Misses {
			// Keep the cell on one line: wrk's output follows its error.
			misses[i], _, _ = strings.Cut(m, "\n")
		}
		return "FAIL (" + strings.Join(misses, "; ") + ")"
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
