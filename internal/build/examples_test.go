package build

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/wasmtest"
)

// The Go examples build offline with the builder, from a copy so the
// repository stays clean.
func TestGoExamplesBuild(t *testing.T) {
	t.Parallel()
	for _, example := range []string{"hello-go", "spawn-go", "proxy", "kv", "db"} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			dir := wasmtest.CopyProject(t, filepath.Join("..", "..", "examples", example))
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
