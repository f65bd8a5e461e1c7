package vinyl

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/service/frames"
	"github.com/embly/embly/internal/store"
	"github.com/embly/embly/internal/store/sqlite"
)

const userProto = `syntax = "proto3";
package app;

message User {
  int64 id = 1;
  string username = 2;
  string email = 3;
  string password_hash = 4;
  int32 age = 5;
  optional string nick = 6;
  repeated string tags = 7;
}
`

const userHCL = `database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email"    { unique = true }
    index "username" { unique = true }
    index "age" {}
  }
}
`

// project writes embly.hcl and data.proto to a temporary directory and
// loads it.
func project(t testing.TB, hcl, proto string) *config.Project {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "embly.hcl"), []byte(hcl), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "data.proto"), []byte(proto), 0o644))
	p, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadSchema(t *testing.T) {
	dbs, err := Load(context.Background(), project(t, userHCL, userProto))
	if err != nil {
		t.Fatal(err)
	}
	rt := dbs[0].Schema.Type("User")
	if rt == nil || !rt.AutoKey || rt.PrimaryKey != "id" || len(rt.Indexes) != 3 || !rt.Indexes[0].Unique {
		t.Fatalf("User = %+v", rt)
	}
	if f := rt.Field("nick"); f == nil || !f.Nullable {
		t.Errorf("nick = %+v; want nullable", f)
	}
	if rt.Field("tags") != nil {
		t.Error("a repeated field became a column")
	}
}

func TestSchemaDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, hcl, proto, want string
	}{
		{"missing message", strings.Replace(userHCL, `"User"`, `"Usr"`, 1), userProto,
			`embly.hcl:3:10: error: record "Usr": data.proto has no message "Usr"; it declares "User"`},
		{"missing key field", strings.Replace(userHCL, `"id"`, `"ident"`, 1), userProto,
			`embly.hcl:4:19: error: record "User": message app.User in data.proto has no field "ident"`},
		{"missing index field", strings.Replace(userHCL, `index "age"`, `index "passwordhash"`, 1), userProto,
			`embly.hcl:7:11: error: record "User": message app.User in data.proto has no field "passwordhash"; did you mean "password_hash"?`},
		{"repeated index", strings.Replace(userHCL, `index "age"`, `index "tags"`, 1), userProto,
			`embly.hcl:7:11: error: record "User": field "tags" is repeated; an indexed field must be a scalar field`},
		{"bool key", strings.Replace(userHCL, `"id"`, `"flag"`, 1), strings.Replace(userProto, "repeated string tags = 7;", "bool flag = 8;", 1),
			`record "User": field "flag" is a bool; a primary key must be an integer (assigned when zero), a string or bytes`},
		{"index on key", strings.Replace(userHCL, `index "age"`, `index "id"`, 1), userProto,
			`"id" is the primary key, which is unique and indexed already`},
		{"proto syntax", userHCL, strings.Replace(userProto, "int32 age = 5;", "int32 age = ;", 1),
			`data.proto:9:15: error: syntax error: unexpected ';'`},
		{"proto unknown type", userHCL, strings.Replace(userProto, "int32 age = 5;", "Agee age = 5;", 1),
			`data.proto:9:3: error: field app.User.age: unknown type Agee`},
	} {
		_, err := Load(context.Background(), project(t, tc.hcl, tc.proto))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func newService(t testing.TB) (*Service, *Database) {
	t.Helper()
	dbs, err := Load(context.Background(), project(t, userHCL, userProto))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sqlite.Open(context.Background(), "", store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s, err := New(context.Background(), b, dbs, []string{"cache"})
	if err != nil {
		t.Fatal(err)
	}
	return s, dbs[0]
}

// client is the function's side of one spawn of embly/vinyl/NAME.
type client struct {
	*bus.Conn
	mb   *bus.Mailbox
	done chan struct{}
}

func open(t testing.TB, s *Service, target string) *client {
	t.Helper()
	h, err := s.Open(target, service.Caller{Function: "fn", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mine, theirs := bus.NewPair(64 << 10)
	c := &client{mb: bus.NewMailbox(), done: make(chan struct{})}
	id, _ := c.mb.Add(mine)
	c.Conn = bus.NewConn(ctx, c.mb, id)
	smb := bus.NewMailbox()
	sid, _ := smb.Add(theirs)
	go func() {
		defer close(c.done)
		defer smb.Close()
		h.Serve(ctx, bus.NewConn(ctx, smb, sid))
	}()
	t.Cleanup(func() {
		c.mb.Close()
		cancel()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the service did not return")
		}
	})
	return c
}

func (c *client) do(t testing.TB, r Request) (byte, []byte) {
	t.Helper()
	if _, err := c.Write(AppendRequest(nil, r)); err != nil {
		t.Fatal(err)
	}
	body, _, err := frames.Read(c, nil, 64<<20)
	if err != nil || len(body) == 0 {
		t.Fatalf("reading the response: %q, %v", body, err)
	}
	return body[0], body[1:]
}

func field(p []byte) ([]byte, []byte) {
	n := binary.BigEndian.Uint32(p)
	return p[4 : 4+n], p[4+n:]
}

func TestProtocol(t *testing.T) {
	s, db := newService(t)
	c := open(t, s, "embly/vinyl/main")
	insert := func(js string) (byte, []byte) {
		return c.do(t, Request{Op: OpInsert, Format: FormatJSON, Type: "User", Body: []byte(js)})
	}
	status, p := insert(`{"username":"ada","email":"ada@example.com","age":36}`)
	if status != StatusOK {
		t.Fatalf("insert: %d %s", status, p)
	}
	key, rec := field(p)
	if string(key) != "1" || !strings.Contains(string(rec), `"id":"1"`) || !strings.Contains(string(rec), `"password_hash":""`) {
		t.Fatalf("insert answered key %s, record %s", key, rec)
	}
	// The same email: a conflict that names the field.
	status, p = insert(`{"username":"ada2","email":"ada@example.com"}`)
	if f, msg := field(p); status != StatusConflict || string(f) != "email" || !strings.Contains(string(msg), "unique violation") {
		t.Fatalf("duplicate email: %d %q %q", status, f, msg)
	}
	// Protobuf binary in and out.
	m := dynamicpb.NewMessage(db.Messages["User"])
	fd := func(n string) protoreflect.FieldDescriptor {
		return m.Descriptor().Fields().ByName(protoreflect.Name(n))
	}
	m.Set(fd("username"), protoreflect.ValueOfString("bob"))
	m.Set(fd("email"), protoreflect.ValueOfString("bob@example.com"))
	m.Set(fd("age"), protoreflect.ValueOfInt32(20))
	bin, _ := proto.Marshal(m)
	status, p = c.do(t, Request{Op: OpInsert, Format: FormatBinary, Type: "User", Body: bin})
	if status != StatusOK {
		t.Fatalf("binary insert: %d %s", status, p)
	}
	status, p = c.do(t, Request{Op: OpLoad, Format: FormatBinary, Type: "User", Body: []byte("2")})
	got := dynamicpb.NewMessage(db.Messages["User"])
	if status != StatusOK || proto.Unmarshal(p, got) != nil || got.Get(fd("id")).Int() != 2 || got.Get(fd("username")).String() != "bob" {
		t.Fatalf("binary load: %d %v", status, got)
	}
	status, p = c.do(t, Request{Op: OpLoad, Format: FormatJSON, Type: "User", Body: []byte("99")})
	if status != StatusNotFound {
		t.Fatalf("load missing: %d %s", status, p)
	}
	// A query on an index, and one with and/not, ordered by age.
	for _, tc := range []struct{ q, want string }{
		{`{"filter":{"field":"email","eq":"bob@example.com"}}`, "bob"},
		{`{"filter":{"and":[{"field":"age","gt":10},{"not":{"field":"username","eq":"bob"}}]}}`, "ada"},
		{`{"order_by":"age","desc":true}`, "ada bob"},
		{`{"order_by":"age","limit":1,"skip":1}`, "ada"},
		{`{"filter":{"field":"nick","null":true}}`, "ada bob"},
		{``, "ada bob"},
	} {
		status, p = c.do(t, Request{Op: OpQuery, Format: FormatJSON, Type: "User", Body: []byte(tc.q)})
		if status != StatusOK {
			t.Fatalf("query %s: %d %s", tc.q, status, p)
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		var names []string
		for range n {
			var rec []byte
			rec, p = field(p)
			var u struct{ Username string }
			must(t, json.Unmarshal(rec, &u))
			names = append(names, u.Username)
		}
		if strings.Join(names, " ") != tc.want {
			t.Errorf("query %s = %v, want %s", tc.q, names, tc.want)
		}
	}
	for _, tc := range []struct {
		r    Request
		want byte
		msg  string
	}{
		{Request{Op: OpQuery, Format: FormatJSON, Type: "User", Body: []byte(`{"filter":{"field":"score","eq":1}}`)}, StatusBadRequest, `no field "score"`},
		{Request{Op: OpQuery, Format: FormatJSON, Type: "User", Body: []byte(`{"filter":{}}`)}, StatusBadRequest, "a filter needs"},
		{Request{Op: OpQuery, Format: FormatJSON, Type: "Nope"}, StatusBadRequest, `no record type "Nope"`},
		{Request{Op: OpInsert, Format: FormatJSON, Type: "User", Body: []byte(`{"usernme":"x"}`)}, StatusBadRequest, "not a app.User in JSON"},
		{Request{Op: OpDeleteWhere, Format: FormatJSON, Type: "User"}, StatusBadRequest, "{} deletes every record"},
		{Request{Op: 9, Type: "User"}, StatusBadRequest, "unknown operation 9"},
	} {
		status, p := c.do(t, tc.r)
		if status != tc.want || !bytes.Contains(p, []byte(tc.msg)) {
			t.Errorf("%+v: %d %s; want %d with %q", tc.r, status, p, tc.want, tc.msg)
		}
	}
	status, p = c.do(t, Request{Op: OpDelete, Type: "User", Body: []byte("1")})
	if status != StatusOK || binary.BigEndian.Uint64(p) != 1 {
		t.Fatalf("delete: %d %x", status, p)
	}
	status, p = c.do(t, Request{Op: OpDeleteWhere, Type: "User", Body: []byte(`{}`)})
	if status != StatusOK || binary.BigEndian.Uint64(p) != 1 {
		t.Fatalf("delete-where {}: %d %x", status, p)
	}
}

func TestOpenRefuses(t *testing.T) {
	s, _ := newService(t)
	for target, want := range map[string]string{
		"embly/vinyl/nope":  `no vinyl database "nope"`,
		"embly/vinyl/cache": "is a kv database",
		"embly/vinyl":       "name the database",
	} {
		var log bytes.Buffer
		if _, err := s.Open(target, service.Caller{Log: &log}); err == nil || !strings.Contains(err.Error(), want) || service.Errno(err) != bus.ENOENT {
			t.Errorf("Open(%s) = %v; want ENOENT with %q", target, err, want)
		}
	}
}
