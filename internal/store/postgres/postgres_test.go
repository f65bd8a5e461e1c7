package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/pgtest"
	"github.com/embly/embly/internal/store/storetest"
)

func TestSuite(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T, project string, now func() time.Time) store.Backend {
		b, err := Open(context.Background(), srv.URL, store.Options{Project: project, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestSchemaName(t *testing.T) {
	for _, tc := range []struct{ project, want string }{
		{"hello", "embly_hello"},
		{"my_app2", "embly_my_app2"},
		{"My-App", "embly_my_app_"},
		{"", "embly__"},
		{strings.Repeat("a", 60), "embly_" + strings.Repeat("a", 48) + "_"},
	} {
		got := SchemaName(tc.project)
		if !strings.HasPrefix(got, tc.want) || len(got) > 63 {
			t.Errorf("SchemaName(%q) = %q, want prefix %q and ≤ 63 bytes", tc.project, got, tc.want)
		}
	}
	if SchemaName("My-App") == SchemaName("my_app") {
		t.Error("My-App and my_app share a schema")
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://nobody:secret@127.0.0.1:1/x?connect_timeout=2", store.Options{Project: "p"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach PostgreSQL at 127.0.0.1:1") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
}
