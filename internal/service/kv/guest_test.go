package kv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embly/embly/internal/runtime"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/pgtest"
	"github.com/embly/embly/internal/store/postgres"
	"github.com/embly/embly/internal/store/sqlite"
	"github.com/embly/embly/internal/wasmtest"
)

// guestRuntime compiles testdata/NAME.c into a runtime whose embly/kv
// serves backend's databases dbs.
func guestRuntime(t testing.TB, backend store.Backend, name string, dbs ...string) *runtime.Runtime {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	var decl []Database
	for _, db := range dbs {
		decl = append(decl, Database{"kv", db})
	}
	svc, err := New(context.Background(), backend, decl)
	if err != nil {
		t.Fatal(err)
	}
	reg := service.NewRegistry()
	reg.Register(Prefix, svc)
	rt, err := runtime.New(context.Background(), runtime.Options{Services: reg, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	if _, err := rt.Compile(context.Background(), name, wasmtest.BuildC(t, string(src))); err != nil {
		t.Fatal(err)
	}
	return rt
}

// call runs fn with input in and returns what it wrote to conn 1.
func call(t testing.TB, rt *runtime.Runtime, fn, in string) string {
	t.Helper()
	inv, err := rt.Spawn(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	go func() {
		io.WriteString(inv, in)
		inv.CloseWrite()
	}()
	out, err := io.ReadAll(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", fn, err, out)
	}
	return string(out)
}

func sqliteBackend(t testing.TB) store.Backend {
	b, err := sqlite.Open(context.Background(), "", store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestCClient runs the C SDK's helpers (sdk/c/embly.h) in a real instance.
func TestCClient(t *testing.T) {
	rt := guestRuntime(t, sqliteBackend(t), "kvclient", "cache")
	got := call(t, rt, "kvclient", "")
	want := `open 0
get 1001
set 0
set 0
set 0
get 0 v1
small 1
get 0 v2
list k 0: k next=k
list k 0: k2 next=
list  0: k k2 other next=
empty key 1003
delete 0
get 1001
open nope 44
`
	if got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkKV compares KV operations made by a function through embly/kv
// (a C guest: one request frame, one response frame per operation) with the
// same operations called directly on the engine, in the same run:
//
//	go test -run '^$' -bench KV ./internal/service/kv
func BenchmarkKV(b *testing.B) {
	backends := map[string]func(b *testing.B) store.Backend{
		"sqlite": func(b *testing.B) store.Backend { return sqliteBackend(b) },
		"postgres": func(b *testing.B) store.Backend {
			srv := pgtest.Start(b)
			pb, err := postgres.Open(context.Background(), srv.URL, store.Options{Project: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { pb.Close() })
			return pb
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			backend := backends[name](b)
			rt := guestRuntime(b, backend, "kvbench", "bench")
			k, _ := backend.KV(context.Background(), "bench")
			value := make([]byte, 128)
			ctx := context.Background()
			for i := range 1000 { // the keys the gets read
				k.Set(ctx, fmt.Appendf(nil, "key%d", i), value, 0)
			}
			b.Run("set/direct", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if err := k.Set(ctx, fmt.Appendf(nil, "key%d", i%1000), value, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("set/function", func(b *testing.B) { benchGuest(b, rt, "s") })
			b.Run("get/direct", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := k.Get(ctx, fmt.Appendf(nil, "key%d", i%1000)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("get/function", func(b *testing.B) { benchGuest(b, rt, "g") })
		})
	}
}

// benchGuest runs b.N operations in one invocation, so the figure is the
// cost of an operation, not of starting an instance.
func benchGuest(b *testing.B, rt *runtime.Runtime, op string) {
	b.ResetTimer()
	if out := call(b, rt, "kvbench", op+" "+strconv.Itoa(b.N)); out != "0" {
		b.Fatalf("kvbench: %q", out)
	}
}
