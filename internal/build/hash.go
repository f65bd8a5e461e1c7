package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/embly/embly/internal/config"
)

// hashVersion changes whenever the builder changes how it builds, so that
// modules built the old way are rebuilt.
const hashVersion = "embly-build 1"

// skipDirs are never sources: build state, Rust's output, version control.
var skipDirs = map[string]bool{StateDir: true, "target": true, ".git": true}

// alwaysSources go into every hash whatever fn.Sources says: they change
// the build as much as any source file.
var alwaysSources = []string{"go.mod", "go.sum"}

// inputsHash is the sha256 of everything a module is built from: the runtime,
// the toolchain's stamp and the source files (names and contents).
func inputsHash(fn *config.Function, stamp string) (string, error) {
	files, err := sourceFiles(fn.Path, fn.Sources)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\nruntime %s\n%s\n", hashVersion, fn.Runtime, stamp)
	for _, rel := range files {
		f, err := os.Open(filepath.Join(fn.Path, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		info, err := f.Stat()
		if err == nil {
			fmt.Fprintf(h, "file %q %d\n", rel, info.Size())
			_, err = io.Copy(h, f)
		}
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sourceFiles lists, sorted and slash-separated relative to root, the files
// under root that match patterns (all files when there are none).
func sourceFiles(root string, patterns []string) ([]string, error) {
	patterns = slices.Clone(patterns)
	for i, p := range patterns {
		patterns[i] = path.Clean(filepath.ToSlash(p))
		if _, err := path.Match(patterns[i], ""); err != nil {
			return nil, fmt.Errorf("sources pattern %q: %w", p, err)
		}
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if len(patterns) == 0 || slices.Contains(alwaysSources, rel) || matchAny(patterns, rel) {
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// matchAny reports whether name, or a directory it is in, matches one of the
// patterns. Patterns are path.Match globs where a "**" element matches any
// number of directories: "**/*.go", "src/**", "src".
func matchAny(patterns []string, name string) bool {
	elems := strings.Split(name, "/")
	for _, p := range patterns {
		pe := strings.Split(p, "/")
		for n := 1; n <= len(elems); n++ {
			if matchElems(pe, elems[:n]) {
				return true
			}
		}
	}
	return false
}

func matchElems(pattern, name []string) bool {
	if len(pattern) == 0 {
		return len(name) == 0
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchElems(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pattern[0], name[0])
	return ok && matchElems(pattern[1:], name[1:])
}
