package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

var (
	hclPort     = regexp.MustCompile(`(port\s*=\s*)\d+`)
	hclFunction = regexp.MustCompile(`(?m)^\s*function\s+"[^"]*"\s*\{`)
	hclPath     = regexp.MustCompile(`(?m)^([ \t]*)path[ \t]*=.*\n`)
	hclReuse    = regexp.MustCompile(`(?m)^\s*reuse\s*=`)
)

// setPort points the project's one gateway at port.
func setPort(src string, port int) (string, error) {
	if n := len(hclPort.FindAllStringIndex(src, -1)); n != 1 {
		return "", fmt.Errorf("embly.hcl has %d port attributes; the benchmark needs exactly one gateway", n)
	}
	return hclPort.ReplaceAllString(src, "${1}"+strconv.Itoa(port)), nil
}

// addReuse adds `reuse = true` after the path line of the first function
// block, indented like that line.
func addReuse(src string) (string, error) {
	if hclReuse.MatchString(src) {
		return "", fmt.Errorf("embly.hcl already sets reuse")
	}
	fn := hclFunction.FindStringIndex(src)
	if fn == nil {
		return "", fmt.Errorf("embly.hcl has no function block")
	}
	m := hclPath.FindStringSubmatchIndex(src[fn[1]:])
	if m == nil {
		return "", fmt.Errorf("the function block of embly.hcl has no path line")
	}
	end := fn[1] + m[1]
	indent := src[fn[1]+m[2] : fn[1]+m[3]]
	return src[:end] + indent + "reuse = true\n" + src[end:], nil
}

// prepareProject copies the example at src into dst (leaving out .embly/,
// the caches of whoever ran it before) and rewrites its embly.hcl for port
// and, when reuse is set, reuse = true.
func prepareProject(src, dst string, port int, reuse bool) error {
	if err := copyTree(src, dst); err != nil {
		return err
	}
	hclFile := filepath.Join(dst, "embly.hcl")
	b, err := os.ReadFile(hclFile)
	if err != nil {
		return err
	}
	out, err := setPort(string(b), port)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if reuse {
		if out, err = addReuse(out); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	return os.WriteFile(hclFile, []byte(out), 0o644)
}

// copyTree copies regular files and directories from src to dst, skipping
// every .embly directory.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && d.Name() == ".embly":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}
