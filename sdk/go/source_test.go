//go:build !wasip1

package embly

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The embed list in source.go is explicit; it must name go.mod and every
// non-test .go file, or user builds would miss code.
func TestSourceListsEveryFile(t *testing.T) {
	var want []string
	paths, _ := filepath.Glob("*.go")
	for _, p := range append(paths, "go.mod") {
		if !strings.HasSuffix(p, "_test.go") {
			want = append(want, p)
		}
	}
	slices.Sort(want)

	var got []string
	err := fs.WalkDir(Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got = append(got, p)
		disk, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		embedded, _ := Source.ReadFile(p)
		if !bytes.Equal(disk, embedded) {
			t.Errorf("%s: embedded copy differs from the file", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Source holds %v;\nthe package has %v: update the //go:embed line in source.go", got, want)
	}
}
