package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/embly/embly/internal/store/pgtest"
)

// TestDBExample drives examples/db (a users API on a vinyl database)
// through the real binary on SQLite, restarts it, then changes the schema
// with embly db migrate.
func TestDBExample(t *testing.T) {
	testDBExample(t)
}

// TestDBExamplePostgres is the same on a PostgreSQL server of its own.
func TestDBExamplePostgres(t *testing.T) {
	srv := pgtest.Start(t)
	testDBExample(t, "--store", srv.URL)
}

// TestDBRustExample drives examples/db-rust, a Rust function with records
// through serde_json, through the same users and kv checks as the Go
// examples, on SQLite, with a restart in between. Like the other Rust tests
// it needs the Rust toolchain and Debian's crates that scripts/setup
// installs, and fails rather than skips without them.
func TestDBRustExample(t *testing.T) {
	dir := project(t, "../examples/db-rust")
	s := start(t, dir)
	s.waitFor(regexp.MustCompile(`Using store sqlite:.*store\.db`), time.Second)
	checkUsersAPI(t, s.base)
	checkKVAPI(t, s.base)

	s.stop()
	s = start(t, dir)
	checkUsersAfterRestart(t, s.base)
	checkKVAfterRestart(t, s.base)
}

func testDBExample(t *testing.T, flags ...string) {
	dir := project(t, "../examples/db")
	s := start(t, dir, flags...)
	s.waitFor(regexp.MustCompile(`Using store (postgres|sqlite)`), time.Second)
	checkUsersAPI(t, s.base)

	// Restart: the data is still there, and ids go on.
	s.stop()
	s = start(t, dir, flags...)
	checkUsersAfterRestart(t, s.base)
	s.stop()

	// embly db inspect lists the type, its count and records.
	out, err := runEmbly(t, dir, append([]string{"db", "inspect"}, flags...)...)
	if err != nil {
		t.Fatalf("db inspect: %v\n%s", err, out)
	}
	mustContain(t, out, "record User (db.User): 2 records; primary key id; indexes: email (unique), username (unique)", `"username":"ada"`)

	// A new field and index: embly run refuses until embly db migrate.
	edit(t, filepath.Join(dir, "data.proto"), "string password_hash = 4;", "string password_hash = 4;\n  string country = 5;")
	edit(t, filepath.Join(dir, "embly.hcl"), `index "username" { unique = true }`, `index "username" { unique = true }
    index "country" {}`)
	out, err = runEmbly(t, dir, append([]string{"run"}, flags...)...)
	if err == nil {
		t.Fatal("embly run started with an unapplied schema change")
	}
	mustContain(t, out, "add field User.country", "create index on User.country", "embly db migrate")
	out, err = runEmbly(t, dir, append([]string{"db", "migrate"}, flags...)...)
	if err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	mustContain(t, out, "+ add field User.country (text, number 5)", "+ create index on User.country", "applied 2 step(s)")
	out, _ = runEmbly(t, dir, append([]string{"db", "migrate", "--dry-run"}, flags...)...)
	mustContain(t, out, `vinyl database "main": up to date`)

	// An incompatible change is refused and explained.
	edit(t, filepath.Join(dir, "data.proto"), "string country = 5;", "int32 country = 5;")
	out, err = runEmbly(t, dir, append([]string{"db", "migrate"}, flags...)...)
	if err == nil {
		t.Fatalf("db migrate applied a type change:\n%s", out)
	}
	mustContain(t, out, "refused: User.country changed type from text to int")

	// Back to the migrated schema: it serves, with the old records.
	edit(t, filepath.Join(dir, "data.proto"), "int32 country = 5;", "string country = 5;")
	s = start(t, dir, flags...)
	c := &apiClient{t: t, base: s.base}
	if code, body := c.do("GET", "/api/users/1", ""); code != 200 || !strings.Contains(body, `"username":"ada"`) {
		t.Fatalf("GET after migrating = %d %s", code, body)
	}
}

// checkUsersAPI drives the users API of examples/db (and of
// examples/db-rust, which must answer the same) on a fresh store: creating
// ada (1) and bob (2), refusing duplicates, finding by email, deleting bob.
func checkUsersAPI(t *testing.T, base string) {
	t.Helper()
	c := &apiClient{t: t, base: base}
	code, ada := c.do("POST", "/api/users", `{"username":"ada","email":"Ada@Example.com","password":"s3cret!"}`)
	if code != 201 || !strings.Contains(ada, `"id":1`) || !strings.Contains(ada, `"email":"ada@example.com"`) {
		t.Fatalf("POST ada = %d %s", code, ada)
	}
	if strings.Contains(ada, "pass") || strings.Contains(ada, "hash") {
		t.Fatalf("the user's JSON shows the password: %s", ada)
	}
	if code, body := c.do("POST", "/api/users", `{"username":"bob","email":"bob@example.com","password":"hunter22"}`); code != 201 || !strings.Contains(body, `"id":2`) {
		t.Fatalf("POST bob = %d %s", code, body)
	}
	for _, dup := range []string{
		`{"username":"ada2","email":"ada@example.com","password":"s3cret!"}`,
		`{"username":"ada","email":"other@example.com","password":"s3cret!"}`,
	} {
		if code, body := c.do("POST", "/api/users", dup); code != 409 {
			t.Fatalf("POST duplicate %s = %d %s, want 409", dup, code, body)
		}
	}
	if code, body := c.do("POST", "/api/users", `{"username":"eve","email":"eve@example.com","password":"123"}`); code != 400 {
		t.Fatalf("POST with a short password = %d %s, want 400", code, body)
	}
	if code, body := c.do("GET", "/api/users/1", ""); code != 200 || strings.TrimSpace(body) != strings.TrimSpace(ada) {
		t.Fatalf("GET 1 = %d %s, want %s", code, body, ada)
	}
	if code, _ := c.do("GET", "/api/users/99", ""); code != 404 {
		t.Fatalf("GET 99 = %d, want 404", code)
	}
	code, body := c.do("GET", "/api/users?email=bob@example.com", "")
	var found []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &found) != nil || len(found) != 1 || found[0]["username"] != "bob" {
		t.Fatalf("GET ?email = %d %s", code, body)
	}
	if code, body := c.do("GET", "/api/users?email=Bob%40Example.com", ""); code != 200 || !strings.Contains(body, `"username":"bob"`) {
		t.Fatalf("GET ?email, escaped and capitalized = %d %s", code, body)
	}
	if code, body := c.do("GET", "/api/users?email=nobody@example.com", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET ?email=nobody = %d %s", code, body)
	}
	if code, _ := c.do("DELETE", "/api/users/2", ""); code != 204 {
		t.Fatalf("DELETE 2 = %d", code)
	}
	if code, _ := c.do("GET", "/api/users/2", ""); code != 404 {
		t.Fatalf("GET deleted = %d", code)
	}
}

// checkUsersAfterRestart checks, on a restarted server, what checkUsersAPI
// left: ada is still there, and new ids do not reuse hers.
func checkUsersAfterRestart(t *testing.T, base string) {
	t.Helper()
	c := &apiClient{t: t, base: base}
	if code, body := c.do("GET", "/api/users/1", ""); code != 200 || !strings.Contains(body, `"username":"ada"`) {
		t.Fatalf("GET after restart = %d %s", code, body)
	}
	if code, body := c.do("POST", "/api/users", `{"username":"cy","email":"cy@example.com","password":"123456"}`); code != 201 || strings.Contains(body, `"id":1,`) {
		t.Fatalf("POST after restart = %d %s", code, body)
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

type apiClient struct {
	t    *testing.T
	base string
}

func (c *apiClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
