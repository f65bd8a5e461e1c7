package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that every failure is
// a *DiagnosticsError with at least one diagnostic that renders.
func FuzzParse(f *testing.F) {
	for _, src := range []string{
		helloWorld,
		everything,
		fn,
		"",
		"x = 1\n",
		"function \"hello\" {\n  pth = \"./hello\"\n}\n",
		"function {\n}\n",
		"gateway \"a\" \"b\" {\n  type = \"tcp\"\n  port = 1e99\n  function = \"x-${function.hello}\"\n}\n",
		fn + "gateway {\n  type = \"http\"\n  port = 8080\n  route \"/\" { function = \"${function.helo}\" }\n  route \"/\" { files = \"${files}\" }\n}\n",
		"function \"h\" {\n  runtime = go\n  path = \"/\"\n  sources = [\"[\", 1, null]\n}\n",
		"database \"vinyl\" \"main\" { definition = \"data.proto\" record \"User\" { primary_key = \"id\" } }\n",
		"dependencies {\n  a = \"x\"\n}\ndependencies {\n  a = \"y\"\n  b {}\n}\n",
		"function \"hello\" {\n",
	} {
		f.Add([]byte(src))
	}
	dir := projectDir(f, "hello/", "public/", "bin/prebuilt.wasm")
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("embly.hcl", src, dir)
		if err == nil {
			if p == nil {
				t.Fatal("Parse returned neither a project nor an error")
			}
			checkInvariants(t, p)
			return
		}
		var derr *DiagnosticsError
		if !errors.As(err, &derr) {
			t.Fatalf("error is %T, want *DiagnosticsError: %v", err, err)
		}
		if len(derr.Diagnostics) == 0 || !derr.Diagnostics.HasErrors() {
			t.Fatalf("error has no error diagnostics: %#v", derr.Diagnostics)
		}
		if err.Error() == "" {
			t.Fatal("error renders as an empty string")
		}
	})
}

// checkInvariants asserts what every successfully parsed Project promises its
// users: absolute paths, and routes whose one target exists.
func checkInvariants(t *testing.T, p *Project) {
	t.Helper()
	for _, f := range p.Functions {
		if !filepath.IsAbs(f.Path) || !slices.Contains(runtimes, f.Runtime) {
			t.Fatalf("function %+v: want an absolute path and a known runtime", f)
		}
	}
	for _, f := range p.Files {
		if !filepath.IsAbs(f.Path) {
			t.Fatalf("files %+v: path is not absolute", f)
		}
	}
	for _, g := range p.Gateways {
		if g.Type != "http" || g.Port < 1 || g.Port > 65535 || (len(g.Routes) == 0 && g.Function == "") {
			t.Fatalf("gateway %+v is not servable", g)
		}
		if g.Function != "" && p.Function(g.Function) == nil {
			t.Fatalf("gateway default %q does not exist", g.Function)
		}
		for _, r := range g.Routes {
			okFn := r.Function != "" && p.Function(r.Function) != nil
			okFiles := r.Files != "" && p.FilesByName(r.Files) != nil
			if okFn == okFiles || !strings.HasPrefix(r.Prefix, "/") {
				t.Fatalf("route %+v: want one existing target and a prefix starting with /", r)
			}
		}
	}
}
