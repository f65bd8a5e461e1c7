package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/storetest"
)

func TestSuite(t *testing.T) {
	root := t.TempDir()
	storetest.Run(t, func(t *testing.T, project string, now func() time.Time) store.Backend {
		b, err := Open(context.Background(), "", store.Options{Dir: filepath.Join(root, project, ".embly"), Project: project, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestPragmas(t *testing.T) {
	b, err := Open(context.Background(), "", store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mode string
	var sync int
	if err := b.write.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := b.write.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
	if err := b.read.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("read pool: synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}
