package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Load reads dir/embly.hcl into a Project. On failure the error is a
// *DiagnosticsError that lists every problem found, each with its position
// and source line. Positions name the file relative to the current directory
// when it lies below it, and as given otherwise.
func Load(dir string) (*Project, error) {
	filename := filepath.Join(dir, FileName)
	src, err := os.ReadFile(filename)
	if err != nil {
		return nil, readError(dir, err)
	}
	return Parse(displayName(filename), src, dir)
}

// Parse parses src as if read from filename; relative paths in it are
// resolved against dir, and must exist there. Errors are *DiagnosticsError.
func Parse(filename string, src []byte, dir string) (*Project, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, &DiagnosticsError{Diagnostics: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("cannot resolve project directory %q: %v", dir, err),
		}}, Err: err}
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// Decoding a body the parser only half understood mostly produces
		// echoes of the syntax error, so stop at the syntax errors.
		return nil, newDiagnosticsError(diags, filename, src)
	}
	d := &decoder{
		dir:     absDir,
		project: &Project{Dir: absDir, File: filepath.Join(absDir, filepath.Base(filename)), src: src, filename: filename},
	}
	d.diags = diags
	d.decodeFile(file.Body.(*hclsyntax.Body))
	if d.diags.HasErrors() {
		return nil, newDiagnosticsError(d.diags, filename, src)
	}
	return d.project, nil
}

func readError(dir string, err error) error {
	shown := dir
	if abs, absErr := filepath.Abs(dir); absErr == nil {
		shown = abs
	}
	msg := fmt.Sprintf("cannot read %s in %s: %v", FileName, shown, err)
	if errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("no %s in %s; create one or run `embly new NAME`", FileName, shown)
	}
	return &DiagnosticsError{
		Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: msg}},
		Err:         err,
	}
}

// displayName is filename relative to the working directory when it lies
// below it ("embly.hcl", "hello/embly.hcl"), and filename unchanged otherwise:
// short positions are easier to read, and a path outside the working
// directory is clearer as the user wrote it than as a chain of "../".
func displayName(filename string) string {
	wd, err := os.Getwd()
	if err != nil {
		return filename
	}
	abs, err := filepath.Abs(filename)
	if err != nil {
		return filename
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filename
	}
	return rel
}
