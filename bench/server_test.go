package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseVmHWM(t *testing.T) {
	got, err := parseVmHWM("Name:\tembly\nVmPeak:\t 1282512 kB\nVmHWM:\t   22068 kB\nVmRSS:\t   20000 kB\n")
	if err != nil || got != 22068*1024 {
		t.Errorf("parseVmHWM = %d, %v; want %d", got, err, 22068*1024)
	}
	if _, err := parseVmHWM("Name:\tembly\n"); err == nil {
		t.Error("parseVmHWM without a VmHWM line succeeded")
	}
	// This test's own process has a peak RSS.
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("peakRSS(self) = %d, %v", rss, err)
	}
}

// A server that exits while starting (a build error) ends the wait at once,
// and the error says where its output is.
func TestWaitHelloServerExits(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "out.log")
	s, err := startServer("broken", port, log, []string{"sh", "-c", "echo build failed; exit 3"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = s.waitHello(context.Background(), time.Minute)
	if err == nil || !strings.Contains(err.Error(), log) {
		t.Fatalf("waitHello = %v; want an error naming %s", err, log)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "build failed") {
		t.Errorf("log = %q; want the server's output", b)
	}
}

func TestStopInterrupts(t *testing.T) {
	s, err := startServer("sleeper", 0, filepath.Join(t.TempDir(), "out.log"), []string{"sleep", "60"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v; SIGINT should end sleep at once", d)
	}
}
