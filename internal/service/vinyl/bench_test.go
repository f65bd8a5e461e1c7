package vinyl

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

// BenchmarkVinyl compares record operations made by a function through
// embly/vinyl (a C guest: one request frame and one response frame per
// operation, records as JSON) with the same operations called directly on
// the engine's store.Records, in the same run:
//
//	go test -run '^$' -bench Vinyl -benchtime 5000x ./internal/service/vinyl
//
// insert: a new User (3 indexes to update). query: one User by its unique
// email (an index lookup), out of 1000.
func BenchmarkVinyl(b *testing.B) {
	backends := map[string]func(b *testing.B) store.Backend{
		"sqlite": func(b *testing.B) store.Backend {
			sb, err := sqlite.Open(context.Background(), "", store.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sb.Close() })
			return sb
		},
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
			proj := project(b, `database "vinyl" "bench" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email"    { unique = true }
    index "username" { unique = true }
    index "age" {}
  }
}
`, userProto)
			dbs, err := Load(context.Background(), proj)
			if err != nil {
				b.Fatal(err)
			}
			svc, err := New(context.Background(), backend, dbs, nil)
			if err != nil {
				b.Fatal(err)
			}
			rt := benchRuntime(b, svc)
			recs, db := svc.Records("bench"), dbs[0]
			rt0 := db.Schema.Type("User")
			ctx := context.Background()
			insert := func(name string, age int) error {
				m, _, err := db.Decode("User", FormatJSON, fmt.Appendf(nil, `{"username":%q,"email":"%s@example.com","age":%d}`, name, name, age))
				if err != nil {
					return err
				}
				rec, err := Record(rt0, m)
				if err != nil {
					return err
				}
				_, err = recs.Insert(ctx, "User", rec)
				return err
			}
			for i := range 1000 {
				if err := insert(fmt.Sprintf("u%d", i), i%90); err != nil {
					b.Fatal(err)
				}
			}
			// Direct: the engine's store.Records, with the same JSON
			// decoding and encoding the service does, so the difference
			// is the trip through the conn and the guest.
			b.Run("insert/direct", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if err := insert(fmt.Sprintf("d%s%d", b.Name(), i), i%90); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("insert/function", func(b *testing.B) { benchGuest(b, rt, "i") })
			b.Run("query/direct", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					q, _ := ParseQuery(fmt.Appendf(nil, `{"filter":{"field":"email","eq":"u%d@example.com"}}`, i%1000))
					rs, err := recs.Query(ctx, "User", q)
					if err != nil || len(rs) != 1 {
						b.Fatal(len(rs), err)
					}
					if _, err := db.Encode(rt0, rs[0], FormatJSON); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("query/function", func(b *testing.B) { benchGuest(b, rt, "q") })
		})
	}
}

func benchRuntime(b *testing.B, svc *Service) *runtime.Runtime {
	src, err := os.ReadFile(filepath.Join("testdata", "vinylbench.c"))
	if err != nil {
		b.Fatal(err)
	}
	reg := service.NewRegistry()
	reg.Register(Prefix, svc)
	rt, err := runtime.New(context.Background(), runtime.Options{Services: reg, Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	if _, err := rt.Compile(context.Background(), "vinylbench", wasmtest.BuildC(b, string(src))); err != nil {
		b.Fatal(err)
	}
	return rt
}

var guestRuns int

// benchGuest runs b.N operations in one invocation, so the figure is the
// cost of an operation, not of starting an instance.
func benchGuest(b *testing.B, rt *runtime.Runtime, op string) {
	inv, err := rt.Spawn(context.Background(), "vinylbench")
	if err != nil {
		b.Fatal(err)
	}
	defer inv.Close()
	b.ResetTimer()
	go func() {
		guestRuns++ // each run inserts names of its own
		io.WriteString(inv, op+" "+strconv.Itoa(b.N)+" "+strconv.Itoa(guestRuns*10_000_000))
		inv.CloseWrite()
	}()
	out, _ := io.ReadAll(inv)
	if err := inv.Wait(); err != nil || string(out) != "0" {
		b.Fatalf("vinylbench: %q, %v", out, err)
	}
}
