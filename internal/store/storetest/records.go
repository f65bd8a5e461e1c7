package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/embly/embly/internal/store"
)

// UserType is the record type the record cases use: an auto-assigned
// integer key, two unique indexes, a plain index, and a nullable field.
func UserType() store.RecordType {
	return store.RecordType{
		Name: "User", Message: "test.User", PrimaryKey: "id", AutoKey: true,
		Fields: []store.Field{
			{Name: "id", Number: 1, Type: store.Int},
			{Name: "username", Number: 2, Type: store.Text},
			{Name: "email", Number: 3, Type: store.Text},
			{Name: "age", Number: 4, Type: store.Int},
			{Name: "score", Number: 5, Type: store.Float},
			{Name: "active", Number: 6, Type: store.Bool},
			{Name: "nick", Number: 7, Type: store.Text, Nullable: true},
			{Name: "avatar", Number: 8, Type: store.Bytes},
		},
		Indexes: []store.Index{{Field: "email", Unique: true}, {Field: "username", Unique: true}, {Field: "age"}},
	}
}

func userSchema() store.Schema { return store.Schema{Types: []store.RecordType{UserType()}} }

func records(t *testing.T, b store.Backend, schema store.Schema) store.Records {
	t.Helper()
	r, err := b.Records(context.Background(), "main", schema)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type user struct {
	name   string
	age    int64
	score  float64
	active bool
	nick   any
}

func insertUser(t *testing.T, r store.Records, u user) int64 {
	t.Helper()
	key, err := r.Insert(context.Background(), "User", userRecord(u))
	if err != nil {
		t.Fatalf("Insert(%s): %v", u.name, err)
	}
	return key.(int64)
}

func userRecord(u user) store.Record {
	return store.Record{
		Values: map[string]any{"id": int64(0), "username": u.name, "email": u.name + "@example.com",
			"age": u.age, "score": u.score, "active": u.active, "nick": u.nick},
		Data: []byte("record of " + u.name),
	}
}

// names returns the usernames in the records' data, in order.
func names(recs []store.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, strings.TrimPrefix(string(r.Data), "record of "))
	}
	return out
}

func runRecords(t *testing.T, open Opener, project func(*testing.T) string) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context, b store.Backend)
	}{
		{"InsertLoadDelete", testInsertLoad},
		{"Unique", testUnique},
		{"Query", testQuery},
		{"DeleteWhere", testDeleteWhere},
		{"BadRequests", testRecordErrors},
		{"Migrate", testMigrate},
		{"MigrateRefused", testMigrateRefused},
	} {
		t.Run("Records/"+tc.name, func(t *testing.T) {
			tc.run(t, context.Background(), open(t, project(t), nil))
		})
	}
	t.Run("Records/Reopen", func(t *testing.T) {
		name := project(t)
		a := open(t, name, nil)
		id := insertUser(t, records(t, a, userSchema()), user{name: "ada"})
		must(t, a.Close())
		b := open(t, name, nil)
		rec, err := records(t, b, userSchema()).Load(context.Background(), "User", id)
		if err != nil || string(rec.Data) != "record of ada" {
			t.Fatalf("after reopening: %q, %v", rec.Data, err)
		}
	})
	t.Run("Records/ProjectsAreIsolated", func(t *testing.T) {
		a, b := open(t, project(t), nil), open(t, project(t), nil)
		insertUser(t, records(t, a, userSchema()), user{name: "ada"})
		n, err := records(t, b, userSchema()).Count(context.Background(), "User")
		if err != nil || n != 0 {
			t.Fatalf("project b counts %d users, %v", n, err)
		}
	})
}

func testInsertLoad(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	id1 := insertUser(t, r, user{name: "ada", age: 36})
	id2 := insertUser(t, r, user{name: "bob", age: 20})
	if id1 <= 0 || id2 <= id1 {
		t.Fatalf("assigned keys %d, %d; want positive and increasing", id1, id2)
	}
	// An explicit key is kept.
	rec := userRecord(user{name: "cy"})
	rec.Values["id"] = int64(1000)
	if key, err := r.Insert(ctx, "User", rec); err != nil || key != int64(1000) {
		t.Fatalf("Insert with key 1000 = %v, %v", key, err)
	}
	got, err := r.Load(ctx, "User", id2)
	if err != nil || string(got.Data) != "record of bob" || got.Key != id2 {
		t.Fatalf("Load(%d) = %v %q, %v", id2, got.Key, got.Data, err)
	}
	// Keys as a JSON decoder gives them.
	if _, err := r.Load(ctx, "User", float64(id2)); err != nil {
		t.Fatalf("Load(float64) = %v", err)
	}
	if _, err := r.Load(ctx, "User", fmt.Sprint(id2)); err != nil {
		t.Fatalf("Load(string) = %v", err)
	}
	if _, err := r.Load(ctx, "User", int64(999)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
	}
	if n, err := r.Count(ctx, "User"); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	for i, want := range []bool{true, false} {
		ok, err := r.Delete(ctx, "User", id1)
		if err != nil || ok != want {
			t.Fatalf("Delete #%d = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	if _, err := r.Load(ctx, "User", id1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load after Delete = %v", err)
	}
}

func testUnique(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	id := insertUser(t, r, user{name: "ada"})
	for _, tc := range []struct {
		name  string
		edit  func(rec store.Record)
		field string
	}{
		{"email", func(rec store.Record) { rec.Values["username"] = "other" }, "email"},
		{"username", func(rec store.Record) { rec.Values["email"] = "other@example.com" }, "username"},
		{"key", func(rec store.Record) {
			rec.Values["id"] = id
			rec.Values["username"], rec.Values["email"] = "x", "x@example.com"
		}, "id"},
	} {
		rec := userRecord(user{name: "ada"})
		tc.edit(rec)
		_, err := r.Insert(ctx, "User", rec)
		var ce *store.ConflictError
		if !errors.Is(err, store.ErrConflict) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: Insert = %v; want a conflict on %s", tc.name, err, tc.field)
		}
	}
	if n, _ := r.Count(ctx, "User"); n != 1 {
		t.Fatalf("Count = %d after refused inserts", n)
	}
}

func seedUsers(t *testing.T, r store.Records) {
	t.Helper()
	for i, name := range []string{"ada", "bob", "cy", "dee", "eve", "fay"} {
		var nick any
		if i%2 == 0 {
			nick = strings.ToUpper(name)
		}
		if name == "fay" {
			nick = ""
		}
		insertUser(t, r, user{name: name, age: int64(20 + 5*i), score: float64(i) / 2, active: i%3 == 0, nick: nick})
	}
}

func testQuery(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	seedUsers(t, r)
	// ages: ada 20, bob 25, cy 30, dee 35, eve 40, fay 45
	eq := func(f string, v any) *store.Filter { return &store.Filter{Op: store.OpEq, Field: f, Value: v} }
	cmp := func(op, f string, v any) *store.Filter { return &store.Filter{Op: op, Field: f, Value: v} }
	for _, tc := range []struct {
		name string
		q    store.Query
		want string
	}{
		{"all", store.Query{}, "ada bob cy dee eve fay"},
		{"eq index", store.Query{Filter: eq("email", "cy@example.com")}, "cy"},
		{"eq none", store.Query{Filter: eq("email", "zed@example.com")}, ""},
		{"gt", store.Query{Filter: cmp(store.OpGt, "age", 30)}, "dee eve fay"},
		{"lt", store.Query{Filter: cmp(store.OpLt, "age", int64(30))}, "ada bob"},
		{"ge le", store.Query{Filter: &store.Filter{Op: store.OpAnd, Args: []*store.Filter{cmp(store.OpGe, "age", 25), cmp(store.OpLe, "age", 35)}}}, "bob cy dee"},
		{"or", store.Query{Filter: &store.Filter{Op: store.OpOr, Args: []*store.Filter{eq("username", "ada"), eq("username", "eve")}}}, "ada eve"},
		{"not", store.Query{Filter: &store.Filter{Op: store.OpNot, Args: []*store.Filter{cmp(store.OpLt, "age", 40)}}}, "eve fay"},
		{"float", store.Query{Filter: cmp(store.OpGt, "score", 1.2)}, "dee eve fay"},
		{"bool", store.Query{Filter: eq("active", true)}, "ada dee"},
		{"null", store.Query{Filter: &store.Filter{Op: store.OpNull, Field: "nick"}}, "bob dee"},
		{"empty", store.Query{Filter: &store.Filter{Op: store.OpEmpty, Field: "nick"}}, "bob dee fay"},
		{"empty bool", store.Query{Filter: &store.Filter{Op: store.OpEmpty, Field: "active"}}, "bob cy eve fay"},
		{"not null", store.Query{Filter: &store.Filter{Op: store.OpNot, Args: []*store.Filter{{Op: store.OpNull, Field: "nick"}}}}, "ada cy eve fay"},
		{"limit", store.Query{Limit: 2}, "ada bob"},
		{"skip", store.Query{Limit: 2, Skip: 3}, "dee eve"},
		{"order by index desc", store.Query{OrderBy: "age", Desc: true, Limit: 3}, "fay eve dee"},
		{"order by unique index", store.Query{OrderBy: "username", Filter: cmp(store.OpGt, "username", "cy")}, "dee eve fay"},
		{"int as JSON string", store.Query{Filter: eq("age", "45")}, "fay"},
	} {
		recs, err := r.Query(ctx, "User", tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := strings.Join(names(recs), " "); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	recs, _ := r.Query(ctx, "User", store.Query{Filter: eq("username", "bob")})
	if len(recs) != 1 || recs[0].Key != int64(2) {
		t.Fatalf("the key of a queried record: %+v", recs)
	}
}

func testDeleteWhere(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	seedUsers(t, r)
	n, err := r.DeleteWhere(ctx, "User", &store.Filter{Op: store.OpGe, Field: "age", Value: 35})
	if err != nil || n != 3 {
		t.Fatalf("DeleteWhere(age >= 35) = %d, %v", n, err)
	}
	recs, _ := r.Query(ctx, "User", store.Query{})
	if got := strings.Join(names(recs), " "); got != "ada bob cy" {
		t.Fatalf("left: %q", got)
	}
	if n, err := r.DeleteWhere(ctx, "User", nil); err != nil || n != 3 {
		t.Fatalf("DeleteWhere(nil) = %d, %v", n, err)
	}
}

func testRecordErrors(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	for _, tc := range []struct {
		name string
		do   func() error
		want error
		msg  string
	}{
		{"unknown type", func() error { _, err := r.Load(ctx, "Nope", 1); return err }, store.ErrInvalid, `no record type "Nope"`},
		{"bad key", func() error { _, err := r.Load(ctx, "User", "x"); return err }, store.ErrInvalid, "primary key id"},
		{"unknown field", func() error {
			_, err := r.Query(ctx, "User", store.Query{Filter: &store.Filter{Op: store.OpEq, Field: "nope", Value: 1}})
			return err
		}, store.ErrInvalid, `no field "nope"`},
		{"bad value", func() error {
			_, err := r.Query(ctx, "User", store.Query{Filter: &store.Filter{Op: store.OpEq, Field: "age", Value: "old"}})
			return err
		}, store.ErrInvalid, "not a int"},
		{"bad op", func() error {
			_, err := r.Query(ctx, "User", store.Query{Filter: &store.Filter{Op: "like", Field: "age", Value: 1}})
			return err
		}, store.ErrInvalid, "unknown filter operator"},
		{"order by unindexed", func() error { _, err := r.Query(ctx, "User", store.Query{OrderBy: "score"}); return err }, store.ErrInvalid, "indexed field"},
		{"limit", func() error {
			_, err := r.Query(ctx, "User", store.Query{Limit: store.MaxQueryRecords + 1})
			return err
		}, store.ErrTooLarge, "limit"},
		{"too large", func() error {
			rec := userRecord(user{name: "big"})
			rec.Data = make([]byte, store.MaxRecordBytes+1)
			_, err := r.Insert(ctx, "User", rec)
			return err
		}, store.ErrTooLarge, "the record is"},
	} {
		err := tc.do()
		if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.msg) {
			t.Errorf("%s: %v; want %v with %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

func testMigrate(t *testing.T, ctx context.Context, b store.Backend) {
	r := records(t, b, userSchema())
	seedUsers(t, r)
	next := UserType()
	next.Fields = append(next.Fields, store.Field{Name: "country", Number: 9, Type: store.Text})
	next.Fields = slices.DeleteFunc(next.Fields, func(f store.Field) bool { return f.Name == "avatar" })
	next.Indexes = append(next.Indexes, store.Index{Field: "country"}, store.Index{Field: "score"})
	next.Indexes = slices.DeleteFunc(next.Indexes, func(i store.Index) bool { return i.Field == "age" })
	schema := store.Schema{Types: []store.RecordType{next, {Name: "Post", PrimaryKey: "slug", Fields: []store.Field{{Name: "slug", Number: 1, Type: store.Text}}}}}

	if _, err := b.Records(ctx, "main", schema); !errors.Is(err, store.ErrSchemaChanged) || !strings.Contains(err.Error(), "embly db migrate") {
		t.Fatalf("Records with a changed schema = %v; want ErrSchemaChanged", err)
	}
	plan, err := b.Migrate(ctx, "main", schema, false)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range plan.Steps {
		kinds = append(kinds, s.String())
	}
	want := []string{
		"create record type Post",
		"add field User.country",
		"retire field User.avatar",
		"drop index on User.age",
		"create index on User.country",
		"create index on User.score",
	}
	for _, w := range want {
		if !slices.ContainsFunc(kinds, func(k string) bool { return strings.HasPrefix(k, w) }) {
			t.Errorf("plan lacks %q:\n%s", w, plan)
		}
	}
	if len(plan.Refused) != 0 || len(plan.Steps) != len(want) {
		t.Fatalf("plan:\n%s", plan)
	}
	if _, err := b.Migrate(ctx, "main", schema, true); err != nil {
		t.Fatal(err)
	}
	if plan, _ := b.Migrate(ctx, "main", schema, false); !plan.Empty() {
		t.Fatalf("after applying, the plan is\n%s", plan)
	}
	r = records(t, b, schema)
	// Old records read the new field as its zero value.
	recs, err := r.Query(ctx, "User", store.Query{Filter: &store.Filter{Op: store.OpEq, Field: "country", Value: ""}, OrderBy: "score"})
	if err != nil || len(recs) != 6 {
		t.Fatalf("old records by the new field: %d, %v", len(recs), err)
	}
	rec := userRecord(user{name: "gus"})
	rec.Values["country"] = "NZ"
	if _, err := r.Insert(ctx, "User", rec); err != nil {
		t.Fatal(err)
	}
	recs, err = r.Query(ctx, "User", store.Query{Filter: &store.Filter{Op: store.OpEq, Field: "country", Value: "NZ"}})
	if err != nil || strings.Join(names(recs), " ") != "gus" {
		t.Fatalf("by country: %v, %v", names(recs), err)
	}
	if _, err := r.Insert(ctx, "Post", store.Record{Values: map[string]any{"slug": "hello"}, Data: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	// A unique index that the data breaks cannot be built; the plan fails
	// and can be fixed and run again.
	uniq := next
	uniq.Indexes = append(slices.Clone(next.Indexes[:0:0]), next.Indexes...)
	for i := range uniq.Indexes {
		if uniq.Indexes[i].Field == "country" {
			uniq.Indexes[i].Unique = true
		}
	}
	bad := store.Schema{Types: []store.RecordType{uniq, schema.Types[1]}}
	if _, err := b.Migrate(ctx, "main", bad, true); err == nil {
		t.Fatal("a unique index over duplicate values was built")
	}
	if plan, _ := b.Migrate(ctx, "main", schema, false); !plan.Empty() {
		t.Fatalf("after a failed plan, the old schema's plan is\n%s", plan)
	}
}

func testMigrateRefused(t *testing.T, ctx context.Context, b store.Backend) {
	records(t, b, userSchema())
	for _, tc := range []struct {
		name string
		edit func(rt *store.RecordType)
		want string
	}{
		{"type change", func(rt *store.RecordType) { rt.Fields[3].Type = store.Text }, "changed type from int to text"},
		{"primary key change", func(rt *store.RecordType) { rt.PrimaryKey, rt.AutoKey = "email", false }, "primary key changed"},
		{"reused number", func(rt *store.RecordType) { rt.Fields[3] = store.Field{Name: "birth_year", Number: 4, Type: store.Int} }, "reuses field number 4, which was User.age"},
		{"renumbered", func(rt *store.RecordType) { rt.Fields[3].Number = 40 }, "changed number from 4 to 40"},
	} {
		rt := UserType()
		tc.edit(&rt)
		plan, err := b.Migrate(ctx, "main", store.Schema{Types: []store.RecordType{rt}}, true)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(plan.Refused) == 0 || !strings.Contains(strings.Join(plan.Refused, "\n"), tc.want) {
			t.Errorf("%s: plan\n%s; want a refusal with %q", tc.name, plan, tc.want)
		}
	}
	// Nothing was applied.
	if plan, _ := b.Migrate(ctx, "main", userSchema(), false); !plan.Empty() {
		t.Fatalf("refused plans changed the schema:\n%s", plan)
	}
}
