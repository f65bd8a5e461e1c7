package build

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/embly/embly/internal/config"
)

// The Go examples build offline with the builder, from a copy so the
// repository stays clean.
func TestGoExamplesBuild(t *testing.T) {
	t.Parallel()
	for _, example := range []string{"hello-go", "spawn-go", "proxy", "kv", "db"} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			copyDir(t, filepath.Join("..", "..", "examples", example), dir)
			proj, err := config.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, out := offlineBuilder(t, dir)
			for _, fn := range proj.Functions {
				res, err := b.Build(context.Background(), fn)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				checkModule(t, res.WasmPath)
			}
		})
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == StateDir {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
