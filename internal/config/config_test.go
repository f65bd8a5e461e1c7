package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// helloWorld is the seed's hello world, as DESIGN.md shows it.
const helloWorld = `function "hello" {
  runtime = "rust"
  path    = "./hello"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.hello}"
  }
}
`

// everything uses every block kind and attribute.
const everything = `function "hello" {
  runtime = "go"
  path    = "./hello"
  sources = ["**/*.go", "go.mod"]
}

function "prebuilt" {
  runtime = "wasm"
  path    = "bin/prebuilt.wasm"
}

files "assets" {
  path = "./public"
}

gateway "api" {
  type     = "http"
  port     = 8080
  function = "${function.prebuilt}"

  route "/" {
    function = "${function.hello}"
  }
  route "/static/" {
    files = "${files.assets}"
  }
}

gateway {
  type = "http"
  port = 8081
  function = function.hello
}

database "kv" "cache" {}

database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email" {
      unique = true
    }
  }
}

dependencies {
  other = "github.com/x/y"
  more  = "github.com/x/z"
}
`

// projectDir makes a project directory holding the given paths: a name that
// ends in "/" is a directory, anything else an empty file.
func projectDir(t testing.TB, paths ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stripped returns p without the parts that tests do not spell out: source
// ranges, database bodies and the kept source.
func stripped(p *Project) *Project {
	c := *p
	c.src, c.filename = nil, ""
	c.Functions, c.Gateways, c.Files, c.Databases, c.Dependencies = nil, nil, nil, nil, nil
	for _, f := range p.Functions {
		f := *f
		f.Range = hcl.Range{}
		c.Functions = append(c.Functions, &f)
	}
	for _, g := range p.Gateways {
		g := *g
		g.Range = hcl.Range{}
		routes := g.Routes
		g.Routes = nil
		for _, r := range routes {
			r := *r
			r.Range = hcl.Range{}
			g.Routes = append(g.Routes, &r)
		}
		c.Gateways = append(c.Gateways, &g)
	}
	for _, f := range p.Files {
		f := *f
		f.Range = hcl.Range{}
		c.Files = append(c.Files, &f)
	}
	for _, db := range p.Databases {
		db := *db
		db.Range, db.Body, db.DefinitionRange, db.Records = hcl.Range{}, nil, hcl.Range{}, nil
		for _, r := range p.Databases[len(c.Databases)].Records {
			r := *r
			r.Range, r.MessageRange, r.PrimaryKeyRange, r.Indexes = hcl.Range{}, hcl.Range{}, hcl.Range{}, nil
			for _, idx := range p.Databases[len(c.Databases)].Record(r.Message).Indexes {
				idx := *idx
				idx.Range = hcl.Range{}
				r.Indexes = append(r.Indexes, &idx)
			}
			db.Records = append(db.Records, &r)
		}
		c.Databases = append(c.Databases, &db)
	}
	for _, dep := range p.Dependencies {
		dep := *dep
		dep.Range = hcl.Range{}
		c.Dependencies = append(c.Dependencies, &dep)
	}
	return &c
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		paths []string
		want  func(dir string) *Project
	}{
		{
			name:  "hello world",
			src:   helloWorld,
			paths: []string{"hello/"},
			want: func(dir string) *Project {
				return &Project{
					Functions: []*Function{{Name: "hello", Runtime: "rust", Path: filepath.Join(dir, "hello")}},
					Gateways: []*Gateway{{Type: "http", Port: 8080, Routes: []*Route{
						{Prefix: "/", Function: "hello"},
					}}},
				}
			},
		},
		{
			name:  "every block kind",
			src:   everything,
			paths: []string{"hello/", "bin/prebuilt.wasm", "public/", "data.proto"},
			want: func(dir string) *Project {
				return &Project{
					Functions: []*Function{
						{Name: "hello", Runtime: "go", Path: filepath.Join(dir, "hello"), Sources: []string{"**/*.go", "go.mod"}},
						{Name: "prebuilt", Runtime: "wasm", Path: filepath.Join(dir, "bin", "prebuilt.wasm")},
					},
					Files: []*Files{{Name: "assets", Path: filepath.Join(dir, "public")}},
					Gateways: []*Gateway{
						{Name: "api", Type: "http", Port: 8080, Function: "prebuilt", Routes: []*Route{
							{Prefix: "/", Function: "hello"},
							{Prefix: "/static/", Files: "assets"},
						}},
						{Type: "http", Port: 8081, Function: "hello"},
					},
					Databases: []*Database{
						{Type: "kv", Name: "cache"},
						{Type: "vinyl", Name: "main", Definition: filepath.Join(dir, "data.proto"), Records: []*Record{
							{Message: "User", PrimaryKey: "id", Indexes: []*Index{{Field: "email", Unique: true}}},
						}},
					},
					Dependencies: []*Dependency{
						{Name: "other", Source: "github.com/x/y"},
						{Name: "more", Source: "github.com/x/z"},
					},
				}
			},
		},
		{
			name: "gateway declared before its functions",
			src: `gateway {
  type = "http"
  port = 1
  function = "${function.c}"
}
function "c" {
  runtime = "c"
  path    = "."
}
`,
			want: func(dir string) *Project {
				return &Project{
					Functions: []*Function{{Name: "c", Runtime: "c", Path: dir}},
					Gateways:  []*Gateway{{Type: "http", Port: 1, Function: "c"}},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := projectDir(t, tt.paths...)
			p, err := Parse("embly.hcl", []byte(tt.src), dir)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.want(dir)
			want.Dir, want.File = dir, filepath.Join(dir, FileName)
			if got := stripped(p); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse =\n%s\nwant\n%s", dump(got), dump(want))
			}
		})
	}
}

func dump(p *Project) string {
	var b strings.Builder
	b.WriteString("dir " + p.Dir + " file " + p.File + "\n")
	for _, f := range p.Functions {
		b.WriteString("  " + strings.TrimSpace(strings.ReplaceAll(fmt.Sprintf("%+v", *f), "\n", " ")) + "\n")
	}
	for _, g := range p.Gateways {
		b.WriteString(fmt.Sprintf("  gateway %q %s %d default %q\n", g.Name, g.Type, g.Port, g.Function))
		for _, r := range g.Routes {
			b.WriteString(fmt.Sprintf("    route %+v\n", *r))
		}
	}
	for _, f := range p.Files {
		b.WriteString(fmt.Sprintf("  %+v\n", *f))
	}
	for _, db := range p.Databases {
		b.WriteString(fmt.Sprintf("  database %s %s\n", db.Type, db.Name))
	}
	for _, dep := range p.Dependencies {
		b.WriteString(fmt.Sprintf("  dependency %s %s\n", dep.Name, dep.Source))
	}
	return b.String()
}

// fn is a valid function block for error cases that need one.
const fn = `function "hello" {
  runtime = "go"
  path    = "./hello"
}
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// want holds the first line of every diagnostic, in order; $DIR
		// stands for the project directory.
		want []string
	}{
		{
			name: "unknown attribute",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  pth = \"./hello\"\n}\n",
			want: []string{`embly.hcl:3:3: error: function "hello" has no attribute "pth"; did you mean "path"?`},
		},
		{
			name: "unknown attribute without a likely match",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  colour = 64\n}\n",
			want: []string{`embly.hcl:4:3: error: function "hello" has no attribute "colour"; it takes "runtime", "path", "sources", "reuse", "max_children", "allowed_hosts", "max_memory", "cpu_budget" and "max_concurrency"`},
		},
		{
			name: "limits",
			src: "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n" +
				"  max_memory = \"64 parsecs\"\n  cpu_budget = \"2\"\n  max_concurrency = 1.5\n}\n" +
				"function \"b\" {\n  runtime = \"go\"\n  path = \"./hello\"\n" +
				"  max_memory = \"8GiB\"\n  cpu_budget = \"-1s\"\n  max_concurrency = -1\n}\n" +
				"function \"c\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  max_memory = 1024\n  cpu_budget = 2\n}\n",
			want: []string{
				`embly.hcl:4:16: error: function "hello": max_memory "64 parsecs" is not a size: use a whole number and a unit (B, KiB, MiB, GiB, KB, MB, GB); write it like "64MiB"`,
				`embly.hcl:5:16: error: function "hello": cpu_budget "2" is not a duration; write it like "2s" (units: ms, s, m, h)`,
				`embly.hcl:6:21: error: function "hello": max_concurrency must be a whole number, not 1.5`,
				`embly.hcl:11:16: error: function "b": max_memory "8GiB" is out of range; use 64KiB to 4GiB`,
				`embly.hcl:12:16: error: function "b": cpu_budget "-1s" is out of range; use more than 0s and at most 24h`,
				`embly.hcl:13:21: error: function "b": max_concurrency -1 is out of range; use 0 to 1048576`,
				`embly.hcl:18:16: error: function "c": max_memory 1024 is out of range; use 65536 to 4294967296`,
				`embly.hcl:19:16: error: function "c": cpu_budget must be a string, not number`,
			},
		},
		{
			name: "route limits",
			src: fn + "files \"assets\" {\n  path = \".\"\n}\n" +
				"gateway {\n  type = \"http\"\n  port = 8080\n" +
				"  route \"/\" {\n    function = \"${function.hello}\"\n    timeout = \"soon\"\n    max_body = \"0B\"\n  }\n" +
				"  route \"/static\" {\n    files = \"${files.assets}\"\n    timeout = \"1s\"\n  }\n}\n",
			want: []string{
				`embly.hcl:13:15: error: route "/": timeout "soon" is not a duration; write it like "30s" (units: ms, s, m, h)`,
				`embly.hcl:14:16: error: route "/": max_body "0B" is out of range; use 1B to 1024GiB`,
				`embly.hcl:16:3: error: route "/static" serves files; timeout and max_body apply to function routes only`,
			},
		},
		{
			name: "reuse not a bool",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  reuse = \"yes\"\n}\n",
			want: []string{`embly.hcl:4:11: error: function "hello": reuse must be true or false, not string`},
		},
		{
			name: "max_children out of range",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  max_children = -1\n}\n",
			want: []string{`embly.hcl:4:18: error: function "hello": max_children -1 is out of range; use 0 to 1048576`},
		},
		{
			name: "allowed_hosts not a list",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  allowed_hosts = \"https://api.example.com\"\n}\n",
			want: []string{`embly.hcl:4:19: error: function "hello": allowed_hosts must be a list of origins, like ["https://api.example.com"]`},
		},
		{
			name: "allowed_hosts entries",
			src: "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n" +
				"  allowed_hosts = [\"https://ok.example.com\", \"api.example.com\",\n" +
				"    \"ftp://files.example.com\", \"https://api.example.com/v1\", \"https://a.*.com\",\n" +
				"    \"http://127.0.0.1:99999\", 8080, \"https://ok.example.com\"]\n}\n",
			want: []string{
				`embly.hcl:4:46: error: function "hello": allowed_hosts entry "api.example.com" must start with http:// or https://, like "https://api.example.com"`,
				`embly.hcl:5:5: error: function "hello": allowed_hosts entry "ftp://files.example.com" has scheme "ftp"; only "http" and "https" are reachable`,
				`embly.hcl:5:32: error: function "hello": allowed_hosts entry "https://api.example.com/v1" names a path or query ("/v1"); list only scheme://host[:port], like "https://api.example.com"`,
				`embly.hcl:5:62: error: function "hello": allowed_hosts entry "https://a.*.com" has a wildcard inside a name; a wildcard is a whole first label ("*.example.org") or the whole host ("*")`,
				`embly.hcl:6:5: error: function "hello": allowed_hosts entry "http://127.0.0.1:99999" has port "99999"; use a number from 1 to 65535, or "*" for any port`,
				`embly.hcl:6:31: error: function "hello": each of allowed_hosts must be a string, not number`,
				`embly.hcl:6:37: error: function "hello": allowed_hosts lists "https://ok.example.com" twice`,
			},
		},
		{
			name: "block written as attribute",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 80\n  route = \"/\"\n}\n",
			want: []string{
				`embly.hcl:5:1: error: gateway has no routes and no default function; add route "/" { function = "${function.NAME}" }`,
				`embly.hcl:8:3: error: gateway has no attribute "route"; "route" is a block: write route ... { ... }`,
			},
		},
		{
			name: "unknown top-level block",
			src:  "funtion \"hello\" {\n}\n",
			want: []string{`embly.hcl:1:1: error: unknown block type "funtion"; did you mean "function"?`},
		},
		{
			name: "unknown nested block",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 80\n  rout \"/\" {\n    function = \"${function.hello}\"\n  }\n}\n",
			want: []string{
				`embly.hcl:5:1: error: gateway has no routes and no default function; add route "/" { function = "${function.NAME}" }`,
				`embly.hcl:8:3: error: unknown block type "rout" in gateway; did you mean "route"?`,
			},
		},
		{
			name: "top-level attribute",
			src:  "port = 8080\n",
			want: []string{`embly.hcl:1:1: error: unexpected attribute "port"; the top level of embly.hcl holds blocks (function, files, gateway, database, dependencies) and the attribute "store"`},
		},
		{
			name: "typo in function reference",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" {\n    function = \"${function.helo}\"\n  }\n}\n",
			want: []string{`embly.hcl:9:28: error: no function named "helo" in embly.hcl; did you mean "hello"?`},
		},
		{
			name: "typo in files reference",
			src:  fn + "files \"assets\" { path = \"./public\" }\ngateway {\n  type = \"http\"\n  port = 8080\n  route \"/s/\" { files = \"${files.asets}\" }\n}\n",
			want: []string{`embly.hcl:9:34: error: no files block named "asets" in embly.hcl; did you mean "assets"?`},
		},
		{
			name: "typo in reference root",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  function = \"${funtion.hello}\"\n}\n",
			want: []string{`embly.hcl:8:17: error: Unknown variable: There is no variable named "funtion". Did you mean "function"?`},
		},
		{
			name: "reference to nothing declared",
			src:  "gateway {\n  type = \"http\"\n  port = 8080\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:4:26: error: no function named "hello" in embly.hcl; declare it with function "hello" { ... }`},
		},
		{
			name: "plain string instead of reference",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" { function = \"hello\" }\n}\n",
			want: []string{`embly.hcl:8:26: error: route "/": function must be a reference like "${function.hello}", not the string "hello"`},
		},
		{
			name: "reference inside a longer string",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  function = \"x${function.hello}\"\n}\n",
			want: []string{`embly.hcl:8:18: error: a reference must stand alone in its string, like "${function.NAME}", with nothing around it`},
		},
		{
			name: "files reference where a function belongs",
			src:  fn + "files \"assets\" { path = \"./public\" }\ngateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" { function = \"${files.assets}\" }\n}\n",
			want: []string{`embly.hcl:9:26: error: route "/": function must refer to a function block, but this refers to files "assets"; write files = "${files.assets}" instead`},
		},
		{
			name: "duplicate function",
			src:  fn + fn,
			want: []string{`embly.hcl:5:10: error: function "hello" is declared twice; the first is on line 1`},
		},
		{
			name: "duplicate files",
			src:  "files \"a\" { path = \"public\" }\nfiles \"a\" { path = \"public\" }\n",
			want: []string{`embly.hcl:2:7: error: files "a" is declared twice; the first is on line 1`},
		},
		{
			name: "duplicate database",
			src:  "database \"kv\" \"cache\" {}\n\ndatabase \"vinyl\" \"cache\" {}\n",
			want: []string{`embly.hcl:3:18: error: database "cache" is declared twice; the first is on line 1`},
		},
		{
			name: "missing required attribute",
			src:  "function \"hello\" {\n  path = \"./hello\"\n}\n",
			want: []string{`embly.hcl:1:1: error: function "hello" is missing required attribute "runtime"`},
		},
		{
			name: "missing label",
			src:  "function {\n}\n",
			want: []string{`embly.hcl:1:10: error: Missing name for function: All function blocks must have 1 labels (name).`},
		},
		{
			name: "unknown runtime",
			src:  "function \"hello\" {\n  runtime = \"rsut\"\n  path = \"./hello\"\n}\n",
			want: []string{`embly.hcl:2:13: error: function "hello": unknown runtime "rsut"; valid runtimes are "go", "rust", "c" and "wasm"; did you mean "rust"?`},
		},
		{
			name: "unquoted runtime",
			src:  "function \"hello\" {\n  runtime = go\n  path = \"./hello\"\n}\n",
			want: []string{`embly.hcl:2:13: error: function "hello": runtime must be a string; put it in quotes: "go"`},
		},
		{
			name: "path that does not exist",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"./helo\"\n}\n",
			want: []string{`embly.hcl:3:10: error: function "hello": path "./helo" does not exist (looked for $DIR/helo)`},
		},
		{
			name: "source path that is a file",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"app.wasm\"\n}\n",
			want: []string{`embly.hcl:3:10: error: function "hello": path "app.wasm" is not a directory ($DIR/app.wasm)`},
		},
		{
			name: "wasm path that is a directory",
			src:  "function \"hello\" {\n  runtime = \"wasm\"\n  path = \"hello\"\n}\n",
			want: []string{`embly.hcl:3:10: error: function "hello": path "hello" is a directory; runtime "wasm" needs a .wasm file`},
		},
		{
			name: "files path that does not exist",
			src:  "files \"assets\" { path = \"./static\" }\n",
			want: []string{`embly.hcl:1:25: error: files "assets": path "./static" does not exist (looked for $DIR/static)`},
		},
		{
			name: "bad source patterns",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"hello\"\n  sources = [\"[\", \"/abs/*.go\", 3]\n}\n",
			want: []string{
				`embly.hcl:4:14: error: function "hello": source pattern "[" is malformed: syntax error in pattern`,
				`embly.hcl:4:19: error: function "hello": source pattern "/abs/*.go" must be relative to the function's path`,
				`embly.hcl:4:32: error: function "hello": each of sources must be a string, not number`,
			},
		},
		{
			name: "route to nothing",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" {}\n}\n",
			want: []string{`embly.hcl:8:3: error: route "/" routes to nothing; set function = "${function.NAME}" or files = "${files.NAME}"`},
		},
		{
			name: "route to both",
			src:  fn + "files \"a\" { path = \"public\" }\ngateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" {\n    function = \"${function.hello}\"\n    files = \"${files.a}\"\n  }\n}\n",
			want: []string{`embly.hcl:9:3: error: route "/" sets both function and files; a route serves exactly one of them`},
		},
		{
			name: "route prefix without slash",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"api\" { function = \"${function.hello}\" }\n}\n",
			want: []string{`embly.hcl:8:9: error: route prefix "api" must start with "/"; write "/api"`},
		},
		{
			name: "duplicate route prefix",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" { function = \"${function.hello}\" }\n  route \"/\" { function = \"${function.hello}\" }\n}\n",
			want: []string{`embly.hcl:9:9: error: gateway: route "/" is declared twice; the first is on line 8`},
		},
		{
			name: "two gateways on one port",
			src:  fn + "gateway \"a\" {\n  type = \"http\"\n  port = 8080\n  function = \"${function.hello}\"\n}\ngateway \"b\" {\n  type = \"http\"\n  port = 8080\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:12:10: error: gateway "b": port 8080 is already used by the gateway on line 5`},
		},
		{
			name: "port out of range",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 80800\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:7:10: error: gateway: port 80800 is out of range; use 1 to 65535`},
		},
		{
			name: "port not a whole number",
			src:  fn + "gateway {\n  type = \"http\"\n  port = 80.5\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:7:10: error: gateway: port must be a whole number, not 80.5`},
		},
		{
			name: "port as a string",
			src:  fn + "gateway {\n  type = \"http\"\n  port = \"8080\"\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:7:10: error: gateway: port must be a number, like 8080, not string`},
		},
		{
			name: "gateway type not supported yet",
			src:  fn + "gateway {\n  type = \"websocket\"\n  port = 8080\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:6:10: error: gateway: type "websocket" is not supported yet; only "http" is`},
		},
		{
			name: "unknown gateway type",
			src:  fn + "gateway {\n  type = \"htp\"\n  port = 8080\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:6:10: error: gateway: unknown type "htp"; valid types are "http", "websocket" and "tcp"; did you mean "http"?`},
		},
		{
			name: "gateway with nothing to serve",
			src:  "gateway \"api\" {\n  type = \"http\"\n  port = 8080\n}\n",
			want: []string{`embly.hcl:1:1: error: gateway "api" has no routes and no default function; add route "/" { function = "${function.NAME}" }`},
		},
		{
			name: "gateway with two labels",
			src:  fn + "gateway \"a\" \"b\" {\n  type = \"http\"\n  port = 8080\n  function = \"${function.hello}\"\n}\n",
			want: []string{`embly.hcl:5:13: error: gateway takes at most one label, its name; remove "b"`},
		},
		{
			name: "unknown database type",
			src:  "database \"kvv\" \"cache\" {}\n",
			want: []string{`embly.hcl:1:10: error: unknown database type "kvv"; valid types are "kv" and "vinyl"; did you mean "kv"?`},
		},
		{
			name: "kv database with settings",
			src:  "database \"kv\" \"cache\" {\n  ttl = 5\n}\n",
			want: []string{`embly.hcl:2:3: error: database "kv" "cache" has no attribute "ttl"`},
		},
		{
			name: "store that is not a URL",
			src:  "store = \"mysql://localhost/x\"\n",
			want: []string{`embly.hcl:1:9: error: store must start with postgres:// (PostgreSQL) or sqlite: (the default, a file under .embly/), like "postgres://user:password@localhost:5432/embly"`},
		},
		{
			name: "store with a bad port",
			src:  "store = \"postgres://localhost:port/x\"\n",
			want: []string{`embly.hcl:1:9: error: store is not a valid URL (invalid port ":port" after host); write it like "postgres://user:password@localhost:5432/embly"`},
		},
		{
			name: "store that is not a string",
			src:  "store = 5\n",
			want: []string{`embly.hcl:1:9: error: store must be a string, not number`},
		},
		{
			name: "misspelt store",
			src:  "stor = \"sqlite\"\n",
			want: []string{`embly.hcl:1:1: error: unexpected attribute "stor"; the top level of embly.hcl holds blocks (function, files, gateway, database, dependencies) and the attribute "store"; did you mean "store"?`},
		},
		{
			name: "invalid name",
			src:  "files \"my files\" { path = \"public\" }\n",
			want: []string{`embly.hcl:1:7: error: files name "my files" is not valid; use letters, digits, underscores and dashes, starting with a letter`},
		},
		{
			name: "dependency that is not a string",
			src:  "dependencies {\n  other = 3\n}\n",
			want: []string{`embly.hcl:2:11: error: dependency "other" must be a string, not number`},
		},
		{
			name: "number literal too large",
			src:  "function \"hello\" {\n  runtime = \"a${1e99999999}\"\n  path = \"hello\"\n}\n",
			want: []string{`embly.hcl:2:17: error: number 1e99999999 is too large or too small for embly.hcl`},
		},
		{
			name: "for expression",
			src:  "function \"hello\" {\n  runtime = \"go\"\n  path = \"hello\"\n  sources = [for s in [\"a\"]: s]\n}\n",
			want: []string{`embly.hcl:4:13: error: for expressions are not supported in embly.hcl; write the values out`},
		},
		{
			name: "for directive",
			src:  "function \"hello\" {\n  runtime = \"%{for s in [1]}${s}%{endfor}\"\n  path = \"hello\"\n}\n",
			want: []string{`embly.hcl:2:14: error: for expressions are not supported in embly.hcl; write the values out`},
		},
		{
			name: "syntax error",
			src:  "function \"hello\" {\n",
			want: []string{`embly.hcl:1:18: error: Unclosed configuration block: There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.`},
		},
		{
			name: "many mistakes at once",
			src:  "function \"hello\" {\n  runtime = \"rsut\"\n  pth = \"./hello\"\n}\ngateway {\n  type = \"http\"\n  port = 0\n}\n",
			want: []string{
				`embly.hcl:2:13: error: function "hello": unknown runtime "rsut"; valid runtimes are "go", "rust", "c" and "wasm"; did you mean "rust"?`,
				`embly.hcl:3:3: error: function "hello" has no attribute "pth"; did you mean "path"?`,
				`embly.hcl:5:1: error: gateway has no routes and no default function; add route "/" { function = "${function.NAME}" }`,
				`embly.hcl:7:10: error: gateway: port 0 is out of range; use 1 to 65535`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := projectDir(t, "hello/", "public/", "app.wasm")
			p, err := Parse("embly.hcl", []byte(tt.src), dir)
			if err == nil {
				t.Fatalf("Parse succeeded: %s", dump(p))
			}
			var derr *DiagnosticsError
			if !errors.As(err, &derr) {
				t.Fatalf("error is %T, want *DiagnosticsError: %v", err, err)
			}
			var got []string
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, "embly.hcl:") {
					got = append(got, line)
				}
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "$DIR", dir)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got errors\n  %s\nwant\n  %s\nfull output:\n%v", strings.Join(got, "\n  "), strings.Join(want, "\n  "), err)
			}
			if len(derr.Diagnostics) != len(tt.want) {
				t.Errorf("%d diagnostics, want %d", len(derr.Diagnostics), len(tt.want))
			}
		})
	}
}

// TestErrorFormat pins the whole rendering: position, message, source line
// and carets, including a tab-indented line and a range past the line's end.
func TestErrorFormat(t *testing.T) {
	dir := projectDir(t, "hello/")
	src := "function \"hello\" {\n\truntime = \"go\"\n\tpth = \"./hello\"\n}\n" +
		"gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" {\n  }\n  function = \"${function.helo}\"\n}\n"
	_, err := Parse("embly.hcl", []byte(src), dir)
	want := `embly.hcl:3:2: error: function "hello" has no attribute "pth"; did you mean "path"?
  3 | 	pth = "./hello"
    | 	^^^
embly.hcl:8:3: error: route "/" routes to nothing; set function = "${function.NAME}" or files = "${files.NAME}"
  8 |   route "/" {
    |   ^^^^^^^^^
embly.hcl:10:26: error: no function named "helo" in embly.hcl; did you mean "hello"?
  10 |   function = "${function.helo}"
     |                          ^^^^`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := projectDir(t, "hello/")
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(helloWorld), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.File != filepath.Join(dir, FileName) || p.Dir != dir {
		t.Errorf("File, Dir = %q, %q; want %q, %q", p.File, p.Dir, filepath.Join(dir, FileName), dir)
	}
	if fn := p.Function("hello"); fn == nil || fn.Path != filepath.Join(dir, "hello") {
		t.Errorf("Function(hello) = %+v", fn)
	}
	if p.Function("nope") != nil || p.FilesByName("nope") != nil || p.Database("nope") != nil {
		t.Error("lookup of an undeclared name returned a block")
	}

	// Errors raised later point into the same file, with its source line.
	got := p.Errorf(p.Function("hello").Range, "function %q: build failed", "hello").Error()
	want := filepath.Join(dir, FileName) + ":1:1: error: function \"hello\": build failed\n" +
		"  1 | function \"hello\" {\n" +
		"    | ^^^^^^^^^^^^^^^^"
	if got != want {
		t.Errorf("Errorf =\n%s\nwant\n%s", got, want)
	}
}

func TestLoadNamesFileRelativeToWorkingDir(t *testing.T) {
	dir := projectDir(t, "proj/")
	if err := os.WriteFile(filepath.Join(dir, "proj", FileName), []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := Load("proj")
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join("proj", FileName)+":1:1: error: ") {
		t.Errorf("Load(proj) = %v; want a position in proj/embly.hcl", err)
	}
	_, err = Load(filepath.Join(dir, "proj"))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join("proj", FileName)+":1:1: error: ") {
		t.Errorf("Load(absolute) = %v; want a position relative to the working directory", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	var derr *DiagnosticsError
	if !errors.As(err, &derr) {
		t.Fatalf("error is %T, want *DiagnosticsError: %v", err, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	want := "error: no embly.hcl in " + dir + "; create one or run `embly new NAME`"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}

func TestStore(t *testing.T) {
	for _, src := range []string{"", `store = "sqlite"`, `store = "sqlite:data/my.db"`, `store = "postgres://u:p@127.0.0.1:5432/embly?sslmode=disable"`} {
		p, err := Parse(FileName, []byte(src+"\n"), t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(src, `store = "`), `"`); p.Store != want {
			t.Errorf("%s: Store = %q", src, p.Store)
		}
		if src != "" && p.StoreRange.Start.Line != 1 {
			t.Errorf("%s: StoreRange = %v", src, p.StoreRange)
		}
	}
}

func TestVinylDatabase(t *testing.T) {
	p, err := Parse("embly.hcl", []byte(everything), projectDir(t, "hello/", "bin/prebuilt.wasm", "public/", "data.proto"))
	if err != nil {
		t.Fatal(err)
	}
	rec := p.Database("main").Record("User")
	if rec == nil || rec.PrimaryKeyRange.Start.Line == 0 || rec.MessageRange.Start.Line == 0 || rec.Indexes[0].Range.Start.Line == 0 {
		t.Fatalf("record User = %+v; want ranges for diagnostics", rec)
	}
}

func TestVinylErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"no definition", `database "vinyl" "main" {
  record "User" { primary_key = "id" }
}`, `embly.hcl:1:1: error: database "vinyl" "main" is missing required attribute "definition"`},
		{"missing file", `database "vinyl" "main" {
  definition = "nope.proto"
  record "User" { primary_key = "id" }
}`, `embly.hcl:2:16: error: database "vinyl" "main": definition "nope.proto" does not exist`},
		{"not proto", `database "vinyl" "main" {
  definition = "data.txt"
  record "User" { primary_key = "id" }
}`, `embly.hcl:2:16: error: database "vinyl" "main": definition "data.txt" is not a .proto file`},
		{"no records", `database "vinyl" "main" {
  definition = "data.proto"
}`, `embly.hcl:1:1: error: database "vinyl" "main" declares no record types`},
		{"no primary key", `database "vinyl" "main" {
  definition = "data.proto"
  record "User" {}
}`, `embly.hcl:3:3: error: record "User" is missing required attribute "primary_key"`},
		{"typo", `database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email" { uniq = true }
  }
}`, `embly.hcl:5:21: error: index "email" has no attribute "uniq"; did you mean "unique"?`},
		{"unique not bool", `database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email" { unique = "yes" }
  }
}`, `embly.hcl:5:30: error: index "email": unique must be true or false`},
		{"two indexes", `database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email" {}
    index "email" { unique = true }
  }
}`, `embly.hcl:6:11: error: record "User" has two indexes on "email"; the first is on line 5`},
		{"record twice", `database "vinyl" "main" {
  definition = "data.proto"
  record "User" { primary_key = "id" }
  record "User" { primary_key = "id" }
}`, `embly.hcl:4:10: error: record "User" is declared twice`},
	} {
		_, err := Parse("embly.hcl", []byte(tc.src+"\n"), projectDir(t, "data.proto", "data.txt"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		given      string
		candidates []string
		want       string
	}{
		{"pth", []string{"runtime", "path", "sources"}, "path"},
		{"funtion", []string{"function", "files"}, "function"},
		{"rsut", []string{"go", "rust", "c", "wasm"}, "rust"},
		{"Go", []string{"go", "rust"}, "go"},
		{"x", []string{"c"}, ""},                    // one letter: any other letter is one edit away
		{"memory", []string{"runtime", "path"}, ""}, // nothing close
		{"", []string{"a"}, ""},
		{"hello", nil, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.given, tt.candidates); got != tt.want {
			t.Errorf("suggest(%q, %q) = %q, want %q", tt.given, tt.candidates, got, tt.want)
		}
	}
}

func TestFunctionOptions(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n  reuse = true\n  max_children = 5000\n" +
		"  allowed_hosts = [\"https://api.example.com\", \"http://127.0.0.1:8080\", \"https://*.example.org\", \"http://[::1]:*\"]\n}\n"
	proj, err := Parse("embly.hcl", []byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	fn := proj.Function("hello")
	if !fn.Reuse || fn.MaxChildren != 5000 {
		t.Errorf("reuse = %v, max_children = %d; want true, 5000", fn.Reuse, fn.MaxChildren)
	}
	want := []string{"https://api.example.com", "http://127.0.0.1:8080", "https://*.example.org", "http://[::1]:*"}
	if !reflect.DeepEqual(fn.AllowedHosts, want) {
		t.Errorf("allowed_hosts = %q, want %q", fn.AllowedHosts, want)
	}
}

func TestLimits(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "function \"hello\" {\n  runtime = \"go\"\n  path = \"./hello\"\n" +
		"  max_memory = \"64MiB\"\n  cpu_budget = \"1m30s\"\n  max_concurrency = 100\n}\n" +
		"gateway {\n  type = \"http\"\n  port = 8080\n" +
		"  route \"/\" {\n    function = \"${function.hello}\"\n    timeout = \"500ms\"\n    max_body = \"10 MB\"\n  }\n}\n"
	proj, err := Parse("embly.hcl", []byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	fn := proj.Function("hello")
	if fn.MaxMemory != 64<<20 || fn.CPUBudget != 90*time.Second || fn.MaxConcurrency != 100 {
		t.Errorf("max_memory = %d, cpu_budget = %s, max_concurrency = %d", fn.MaxMemory, fn.CPUBudget, fn.MaxConcurrency)
	}
	r := proj.Gateways[0].Routes[0]
	if r.Timeout != 500*time.Millisecond || r.MaxBody != 10e6 {
		t.Errorf("timeout = %s, max_body = %d", r.Timeout, r.MaxBody)
	}
	for in, want := range map[string]int64{"4096": 4096, "1KiB": 1024, "2 GiB": 2 << 30, "3kB": 3000, "7B": 7} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5MiB", "99999999999999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
