package scaffold

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNewGo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	if err := New(dir, "go"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"embly.hcl", "hello/go.mod", "hello/main.go", ".gitignore"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if err := New(dir, "go"); err == nil {
		t.Error("New overwrote a non-empty directory")
	}
	if err := New(filepath.Join(t.TempDir(), "x"), "cobol"); err == nil {
		t.Error("unknown language accepted")
	}
}
