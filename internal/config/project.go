// Package config reads an embly.hcl file into a typed Project. Every mistake
// in the file is reported as an hcl.Diagnostic with its source range, so the
// user sees file:line:col and the offending line, never "invalid config".
package config

import "github.com/hashicorp/hcl/v2"

// FileName is the name of the project file Embly looks for in a project directory.
const FileName = "embly.hcl"

// Project is a parsed and validated embly.hcl.
type Project struct {
	// Dir is the absolute directory that holds the project file.
	Dir string
	// File is the absolute path of the project file.
	File string

	// Functions, Gateways, Files and Databases keep the order of the file.
	Functions    []*Function
	Gateways     []*Gateway
	Files        []*Files
	Databases    []*Database
	Dependencies []*Dependency
}

// Function is a `function "NAME" { ... }` block: a wasm module built from source.
type Function struct {
	Name string
	// Runtime is one of "go", "rust", "c" or "wasm".
	Runtime string
	// Path is absolute: a source directory, or a .wasm file when Runtime is "wasm".
	Path string
	// Sources are glob patterns, relative to Path, whose files decide whether a
	// rebuild is needed. Empty means every file under Path.
	Sources []string
	// Range is where the block is declared, for diagnostics raised later (build errors).
	Range hcl.Range
}

// Ref is how the function is named in references and logs: "function.NAME".
func (f *Function) Ref() string { return "function." + f.Name }

// Gateway is a `gateway ["NAME"] { ... }` block.
type Gateway struct {
	// Name is the optional label; empty when the block has none.
	Name string
	// Type is "http" (websocket and tcp come later).
	Type string
	// Port is the TCP port to listen on.
	Port int
	// Function, when set, serves every path that no route matches.
	Function string
	Routes   []*Route
	Range    hcl.Range
}

// Route is a `route "PREFIX" { function = ... | files = ... }` block. Exactly one
// of Function and Files is set; each holds the target's name (not the reference).
type Route struct {
	Prefix   string
	Function string
	Files    string
	Range    hcl.Range
}

// Files is a `files "NAME" { path = ... }` block: static assets.
type Files struct {
	Name string
	// Path is absolute.
	Path  string
	Range hcl.Range
}

// Ref is how the files block is named in references and logs: "files.NAME".
func (f *Files) Ref() string { return "files." + f.Name }

// Database is a `database "TYPE" "NAME" { ... }` block. It is parsed and kept
// for the datastore work; Body holds the block's contents undecoded.
type Database struct {
	Type  string
	Name  string
	Body  hcl.Body
	Range hcl.Range
}

// Dependency is an entry of a `dependencies { ... }` block, kept for later use.
type Dependency struct {
	Name   string
	Source string
	Range  hcl.Range
}
