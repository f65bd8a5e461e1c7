// Package scaffold writes a new, working Embly project for `embly new`.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The .tmpl suffix keeps go.mod files from turning template folders into
// modules of their own, which would hide them from go:embed.
//
//go:embed all:templates
var templates embed.FS

// Languages lists the languages `embly new --lang` accepts.
func Languages() []string {
	entries, _ := templates.ReadDir("templates")
	var langs []string
	for _, e := range entries {
		langs = append(langs, e.Name())
	}
	sort.Strings(langs)
	return langs
}

// New writes a project for lang into dir, which must not exist yet (or be empty).
func New(dir, lang string) error {
	root := "templates/" + lang
	if _, err := fs.Stat(templates, root); err != nil {
		return fmt.Errorf("no template for language %q; choose one of: %s", lang, strings.Join(Languages(), ", "))
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s already exists and is not empty; choose another name", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fs.WalkDir(templates, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path, root), "/")
		target := filepath.Join(dir, strings.TrimSuffix(rel, ".tmpl"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := templates.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
