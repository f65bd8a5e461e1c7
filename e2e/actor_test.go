package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFanoutExample: one request spawns 1000 children, each hashes a chunk,
// and the answers come back in order.
func TestFanoutExample(t *testing.T) {
	s := start(t, project(t, "../examples/fanout"))
	for _, n := range []int{1, 1000} {
		code, body := get(t, fmt.Sprintf("%s/?n=%d", s.base, n))
		if code != 200 {
			t.Fatalf("n=%d: %d %q", n, code, body)
		}
		var want strings.Builder
		chunk := make([]byte, 4096)
		for i := 0; i < n; i++ {
			for j := range chunk {
				chunk[j] = byte((i + j) % 251)
			}
			sum := sha256.Sum256(chunk)
			fmt.Fprintf(&want, "%d %s\n", i, hex.EncodeToString(sum[:]))
		}
		if body != want.String() {
			t.Fatalf("n=%d: got %d bytes, want %d; first line %q", n, len(body), want.Len(), strings.SplitN(body, "\n", 2)[0])
		}
	}
	if code, _ := get(t, s.base+"/?n=5000"); code != 400 {
		t.Fatalf("n=5000 = %d, want 400", code)
	}
}

// TestPipelineExample: an 8 MiB body streams through three functions and
// back, transformed by each.
func TestPipelineExample(t *testing.T) {
	s := start(t, project(t, "../examples/pipeline"))
	line := []byte("The quick brown fox jumps over the lazy dog 0123456789\n")
	body := bytes.Repeat(line, 8<<20/len(line))
	resp, err := http.Post(s.base+"/", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("= %d, %v", resp.StatusCode, err)
	}
	want := bytes.Repeat([]byte("GUR_DHVPX_OEBJA_SBK_WHZCF_BIRE_GUR_YNML_QBT_0123456789_"), len(body)/len(line))
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes starting %q, want %d starting %q", len(got), got[:min(len(got), 60)], len(want), want[:60])
	}
}

// TestMaxChildrenConfig: max_children = 5 in embly.hcl makes the 6th live
// spawn EAGAIN.
func TestMaxChildrenConfig(t *testing.T) {
	s := start(t, project(t, "testdata/maxchildren"))
	if code, body := get(t, s.base+"/"); code != 200 || body != "spawned=5 err=6" {
		t.Fatalf("= %d %q", code, body)
	}
}

// TestStreamMemoryBounded: a function streams 200 MiB through the gateway;
// the embly process's resident memory stays bounded by the windows, far
// below the size of the response.
func TestStreamMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	s := start(t, wasmProject(t, map[string]string{"big": "testdata/big.c"}))
	pid := s.cmd.Process.Pid
	if code, body := get(t, s.base+"/big?mib=1"); code != 200 || len(body) != 1<<20 {
		t.Fatalf("warm-up = %d, %d bytes", code, len(body))
	}
	before, err := rssKiB(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var peak int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := rssKiB(pid); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	resp, err := http.Get(s.base + "/big?mib=200")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil || n != 200<<20 {
		t.Fatalf("got %d bytes, %v", n, err)
	}
	t.Logf("200 MiB in %v (%.0f MB/s); RSS %d MiB before, %d MiB at the peak",
		took, float64(n)/took.Seconds()/1e6, before>>10, peak>>10)
	if growth := peak - before; growth > 100<<10 {
		t.Fatalf("RSS grew by %d MiB while streaming 200 MiB", growth>>10)
	}
}

// rssKiB returns the resident set size of process pid, in KiB.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
