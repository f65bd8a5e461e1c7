// Package config reads an embly.hcl file into a typed Project. Every mistake
// in the file is reported as an hcl.Diagnostic with its source range, so the
// user sees file:line:col and the offending line, never "invalid config".
package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

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

	// Store is the top-level `store` attribute: where the databases' data
	// lives, as a store URL (store.ParseURL accepted it). "" is the
	// default, SQLite under .embly/. `embly run --store` overrides it.
	Store string
	// StoreRange is where Store is written, for errors raised when the
	// store is opened.
	StoreRange hcl.Range

	// src and filename are the file as parsed, so Errorf can show source lines.
	src      []byte
	filename string
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
	// Reuse lets one instance serve invocation after invocation without
	// being reset: faster, but state leaks from one request to the next, so
	// only a function that declares it safe gets it.
	Reuse bool
	// MaxChildren caps the live children of one instance; 0 means the
	// runtime's default.
	MaxChildren int
	// AllowedHosts lists what the function may reach through embly/http:
	// "scheme://host[:port]" entries, checked when the file is loaded.
	AllowedHosts []string
	// MaxMemory caps the linear memory of each instance, in bytes; 0 means
	// the runtime's default (128 MiB).
	MaxMemory int64
	// CPUBudget bounds the time one invocation spends running guest code
	// (not time blocked waiting); 0 means the runtime's default (30s).
	CPUBudget time.Duration
	// MaxConcurrency caps the instances of the function alive at once; past
	// it a request gets 503 and _spawn EAGAIN. 0 means no limit.
	MaxConcurrency int
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
	// Timeout is the wall-clock limit of a request on a function route; 0
	// means none.
	Timeout time.Duration
	// MaxBody caps a request body on a function route, in bytes; 0 means
	// the gateway's default (10 MiB).
	MaxBody int64
	Range   hcl.Range
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

// Database is a `database "TYPE" "NAME" { ... }` block. A kv database takes
// no settings; a vinyl database names its .proto and its record types.
type Database struct {
	Type string
	Name string
	// Definition is the absolute path of a vinyl database's .proto file.
	Definition      string
	DefinitionRange hcl.Range
	// Records are a vinyl database's `record "MESSAGE" { ... }` blocks.
	Records []*Record
	// Body is the block's body, as parsed.
	Body  hcl.Body
	Range hcl.Range
}

// Record returns the record block for message, or nil.
func (db *Database) Record(message string) *Record {
	for _, r := range db.Records {
		if r.Message == message {
			return r
		}
	}
	return nil
}

// Record is a `record "MESSAGE" { primary_key = "FIELD" index "FIELD" {...} }`
// block: a message of the definition stored as a record type. Whether the
// message and fields exist is checked against the .proto by internal/vinyl.
type Record struct {
	Message         string
	MessageRange    hcl.Range
	PrimaryKey      string
	PrimaryKeyRange hcl.Range
	Indexes         []*Index
	Range           hcl.Range
}

// Index returns the index on field, or nil.
func (r *Record) Index(field string) *Index {
	for _, i := range r.Indexes {
		if i.Field == field {
			return i
		}
	}
	return nil
}

// Index is an `index "FIELD" { unique = BOOL }` block.
type Index struct {
	Field  string
	Unique bool
	Range  hcl.Range // the label
}

// Dependency is an entry of a `dependencies { ... }` block, kept for later use.
type Dependency struct {
	Name   string
	Source string
	Range  hcl.Range
}

// Function returns the function named name, or nil.
func (p *Project) Function(name string) *Function {
	for _, f := range p.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FilesByName returns the files block named name, or nil. (Project.Files is
// the list, hence the longer name.)
func (p *Project) FilesByName(name string) *Files {
	for _, f := range p.Files {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Database returns the database named name, or nil.
func (p *Project) Database(name string) *Database {
	for _, db := range p.Databases {
		if db.Name == name {
			return db
		}
	}
	return nil
}

func (p *Project) gateway(name string) *Gateway {
	for _, g := range p.Gateways {
		if g.Name == name {
			return g
		}
	}
	return nil
}

func (p *Project) dependency(name string) *Dependency {
	for _, dep := range p.Dependencies {
		if dep.Name == name {
			return dep
		}
	}
	return nil
}

// Diagnostics wraps diags, found after loading (in the .proto a vinyl
// database names, say), in an error printed like a load error.
func (p *Project) Diagnostics(diags hcl.Diagnostics) *DiagnosticsError {
	return newDiagnosticsError(diags, p.filename, p.src)
}

// Errorf reports a problem found after loading (a build failure, say) at rng
// in the project file, printed like a load error: position, message, the
// source line and carets. rng is usually a Range kept in the Project.
func (p *Project) Errorf(rng hcl.Range, format string, args ...any) *DiagnosticsError {
	return &DiagnosticsError{
		Diagnostics: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf(format, args...),
			Subject:  rng.Ptr(),
		}},
		Sources: map[string][]byte{p.filename: p.src},
	}
}
