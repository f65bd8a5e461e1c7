package runtime

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time the test process has used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCWriterBehindSlowReaderDoesNotSpin streams 2 MiB from a C guest that
// leaves conn 1's EOF unread to a reader that takes 16 KiB every 10 ms.
// _events reports conn 1 on every call while embly_write_all waits for the
// window; without sdk/c's back-off the guest calls it in a tight loop and
// the process burns a whole CPU (measured: about 100% of the wall time);
// with it, a few percent.
func TestCWriterBehindSlowReaderDoesNotSpin(t *testing.T) {
	r := newRuntime(t, Options{}, "slowstream")
	inv, err := r.Spawn(context.Background(), "slowstream")
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	inv.Write([]byte("2048"))
	inv.CloseWrite() // an EOF the guest never reads
	// Let the guest fill the window first.
	time.Sleep(20 * time.Millisecond)
	startCPU, start := cpuTime(t), time.Now()
	buf := make([]byte, 16<<10)
	total := 0
	for {
		n, err := io.ReadFull(inv, buf)
		total += n
		if err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpu, wall := cpuTime(t)-startCPU, time.Since(start)
	if err := inv.Wait(); err != nil {
		t.Fatal(err)
	}
	if total != 2048<<10 {
		t.Fatalf("read %d bytes, want %d", total, 2048<<10)
	}
	share := float64(cpu) / float64(wall)
	t.Logf("CPU %v over %v of slow reading: %.1f%% of one CPU", cpu, wall, 100*share)
	if share > 0.4 {
		t.Fatalf("the process used %.0f%% of a CPU while the guest waited on a slow reader: it spins", 100*share)
	}
}
