package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embly/embly/internal/config"
)

func TestSetPort(t *testing.T) {
	src := "gateway {\n  type = \"http\"\n  port = 8080\n}\n"
	got, err := setPort(src, 41234)
	if err != nil {
		t.Fatal(err)
	}
	if want := "gateway {\n  type = \"http\"\n  port = 41234\n}\n"; got != want {
		t.Errorf("setPort =\n%s\nwant\n%s", got, want)
	}
	if got, _ := setPort("port=1", 2); got != "port=2" {
		t.Errorf("setPort without spaces = %q", got)
	}
	if _, err := setPort("function \"x\" {}\n", 1); err == nil {
		t.Error("setPort without a port succeeded")
	}
	if _, err := setPort("port = 1\nport = 2\n", 3); err == nil {
		t.Error("setPort with two gateways succeeded")
	}
}

func TestAddReuse(t *testing.T) {
	src := "function \"hello\" {\n  runtime = \"go\"\n  path    = \"./hello\"\n}\n"
	got, err := addReuse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := "function \"hello\" {\n  runtime = \"go\"\n  path    = \"./hello\"\n  reuse = true\n}\n"
	if got != want {
		t.Errorf("addReuse =\n%s\nwant\n%s", got, want)
	}
	if _, err := addReuse(want); err == nil {
		t.Error("addReuse on a file that already sets reuse succeeded")
	}
	if _, err := addReuse("gateway {\n  port = 1\n}\n"); err == nil {
		t.Error("addReuse without a function block succeeded")
	}
}

// TestPrepareProject rewrites each real example and checks the result with
// Embly's own config parser: the port and reuse must be what the table
// claims was measured.
func TestPrepareProject(t *testing.T) {
	examples := map[string]bool{}
	for _, tg := range targets {
		examples[tg.Example] = true
	}
	for example := range examples {
		for _, reuse := range []bool{false, true} {
			// An example someone has run has caches under .embly; they
			// must not be copied.
			src := filepath.Join(t.TempDir(), "example")
			if err := copyTree(filepath.Join("..", example), src); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(src, ".embly", "cache"), 0o755); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "p")
			if err := prepareProject(src, dst, 40001, reuse); err != nil {
				t.Fatalf("%s: %v", example, err)
			}
			if _, err := os.Stat(filepath.Join(dst, ".embly")); err == nil {
				t.Errorf("%s: .embly was copied", example)
			}
			p, err := config.Load(dst)
			if err != nil {
				t.Fatalf("%s (reuse %v): the rewritten embly.hcl does not load: %v", example, reuse, err)
			}
			if len(p.Gateways) != 1 || p.Gateways[0].Port != 40001 {
				t.Errorf("%s: gateways %+v; want one on port 40001", example, p.Gateways)
			}
			if len(p.Functions) != 1 || p.Functions[0].Reuse != reuse {
				t.Errorf("%s: functions %+v; want one with reuse = %v", example, p.Functions, reuse)
			}
			if b, _ := os.ReadFile(filepath.Join(dst, "embly.hcl")); !strings.Contains(string(b), "port = 40001") {
				t.Errorf("%s: port line not rewritten:\n%s", example, b)
			}
		}
	}
}
