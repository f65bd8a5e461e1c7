package gateway

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestAsyncLoggerKeepsOrderAndFlushesOnClose(t *testing.T) {
	var out syncBuffer
	l := NewAsyncLogger(&out)
	for i := 0; i < 1000; i++ {
		l.Printf("line %d", i)
	}
	l.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1000 {
		t.Fatalf("%d lines after Close, want 1000", len(lines))
	}
	for i, line := range lines {
		if line != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d = %q", i, line)
		}
	}
	l.Printf("after close")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Fatal("a closed async logger dropped a line")
	}
}

// syncBuffer is a bytes.Buffer safe for the flusher and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
