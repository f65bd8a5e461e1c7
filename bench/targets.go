package main

import (
	"fmt"
	"os/exec"
	"strings"
)

// target is one row of the table: an example served by `embly run`.
type target struct {
	Name    string
	Example string   // directory, relative to the repository root
	Reuse   bool     // add reuse = true to the function block
	Tools   []string // on PATH, or the row is skipped
}

// targets are the Embly rows, in table order; native, the baseline, comes
// first and is not in this list.
var targets = []target{
	{Name: "c", Example: "examples/hello-c", Tools: []string{"clang"}},
	{Name: "rust", Example: "examples/hello-rust", Tools: []string{"cargo", "rustc"}},
	{Name: "go", Example: "examples/hello-go", Tools: []string{"go"}},
	{Name: "go-reuse", Example: "examples/hello-go", Reuse: true, Tools: []string{"go"}},
	{Name: "c-reuse", Example: "examples/hello-c", Reuse: true, Tools: []string{"clang"}},
	{Name: "rust-reuse", Example: "examples/hello-rust", Reuse: true, Tools: []string{"cargo", "rustc"}},
}

// selectTargets resolves -only: a comma-separated list of target names
// ("native" is accepted and always runs, as the baseline). Empty selects all.
func selectTargets(only string) ([]target, error) {
	if strings.TrimSpace(only) == "" {
		return targets, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if name == "" || name == "native" {
			continue
		}
		if !knownTarget(name) {
			return nil, fmt.Errorf("-only: unknown target %q; the targets are native, %s", name, targetNames())
		}
		want[name] = true
	}
	var sel []target
	for _, t := range targets {
		if want[t.Name] {
			sel = append(sel, t)
		}
	}
	return sel, nil
}

func knownTarget(name string) bool {
	for _, t := range targets {
		if t.Name == name {
			return true
		}
	}
	return false
}

func targetNames() string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// missingTool returns the first of t's tools that is not on PATH, or "".
func (t target) missingTool() string {
	for _, tool := range t.Tools {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}
