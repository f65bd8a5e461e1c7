package embly

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
)

// fakeVinyl plays embly/vinyl/NAME on the fake host, from the protocol in
// docs/abi.md: User records as JSON, ids assigned from 1, email unique.
type fakeVinyl struct {
	t       *testing.T
	users   map[int64]map[string]any
	next    int64
	pending map[int32][]byte
	taken   map[int32]int
	queries []string // query JSON as received
}

func newFakeVinyl(t *testing.T, f *fakeSys, db string) *fakeVinyl {
	v := &fakeVinyl{t: t, users: map[int64]map[string]any{}, next: 1, pending: map[int32][]byte{}, taken: map[int32]int{}}
	f.targets[vinylTarget+db] = true
	f.peer = v.serve
	return v
}

func (v *fakeVinyl) serve(f *fakeSys) bool {
	progress := false
	for id := range f.spawned {
		f.take(id)
		out := f.output(id)
		buf := append(v.pending[id], out[v.taken[id]:]...)
		v.taken[id] = len(out)
		for len(buf) >= 4 {
			n := int(binary.BigEndian.Uint32([]byte(buf)))
			if len(buf) < 4+n {
				break
			}
			resp := v.answer(buf[4 : 4+n])
			f.send(id, string(binary.BigEndian.AppendUint32(nil, uint32(len(resp))))+string(resp))
			buf = buf[4+n:]
			progress = true
		}
		v.pending[id] = buf
	}
	return progress
}

func frameField(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func (v *fakeVinyl) answer(req []byte) []byte {
	op, format := req[0], req[1]
	n := binary.BigEndian.Uint32(req[2:])
	typ, rest := string(req[6:6+n]), req[6+n:]
	if typ != "User" || format != formatJSON {
		return []byte("\x03bad type or format")
	}
	enc := func(id int64) []byte {
		u := map[string]any{"id": jsonInt(id)} // protojson writes int64 as a string
		for k, x := range v.users[id] {
			if k != "id" {
				u[k] = x
			}
		}
		b, _ := json.Marshal(u)
		return b
	}
	switch op {
	case vinylInsert:
		var u map[string]any
		if err := json.Unmarshal(rest, &u); err != nil {
			return []byte("\x03" + err.Error())
		}
		for _, o := range v.users {
			if o["email"] == u["email"] {
				return append(append([]byte{vinylConflict}, frameField([]byte("email"))...), "unique violation"...)
			}
		}
		id := v.next
		v.next++
		v.users[id] = u
		return append(append([]byte{0}, frameField([]byte(jsonInt(id)))...), enc(id)...)
	case vinylLoad:
		var id int64
		json.Unmarshal(rest, &id)
		if v.users[id] == nil {
			return []byte("\x01not found")
		}
		return append([]byte{0}, enc(id)...)
	case vinylQuery:
		v.queries = append(v.queries, string(rest))
		var q struct{ Filter map[string]any }
		json.Unmarshal(rest, &q)
		var ids []int64
		for id, u := range v.users {
			if q.Filter == nil || u[q.Filter["field"].(string)] == q.Filter["eq"] {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		out := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(ids)))
		for _, id := range ids {
			out = append(out, frameField(enc(id))...)
		}
		return out
	case vinylDelete:
		var id int64
		json.Unmarshal(rest, &id)
		n := uint64(0)
		if v.users[id] != nil {
			n = 1
			delete(v.users, id)
		}
		return binary.BigEndian.AppendUint64([]byte{0}, n)
	case vinylDeleteWhere:
		n := uint64(len(v.users))
		v.users = map[int64]map[string]any{}
		return binary.BigEndian.AppendUint64([]byte{0}, n)
	}
	return []byte("\x03unknown op")
}

func jsonInt(i int64) string { b, _ := json.Marshal(i); return string(b) }

type testUser struct {
	ID    int64  `json:"id,string"`
	Email string `json:"email"`
	Name  string `json:"username"`
}

func testVinyl(f *fakeSys, name string) *VinylDB {
	d := Vinyl(name)
	d.h = newTestHost(f)
	return d
}

func TestVinyl(t *testing.T) {
	f := newFakeSys(t)
	fv := newFakeVinyl(t, f, "main")
	db := testVinyl(f, "main")
	u := testUser{Email: "ada@example.com", Name: "ada"}
	if err := db.Insert("User", &u); err != nil || u.ID != 1 {
		t.Fatalf("Insert = %+v, %v", u, err)
	}
	err := db.Insert("User", &testUser{Email: "ada@example.com", Name: "other"})
	var ve *VinylError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ve) || ve.Field != "email" {
		t.Fatalf("duplicate insert: %v", err)
	}
	if err := db.Insert("User", &testUser{Email: "bob@example.com", Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	var got testUser
	if err := db.Load("User", 1, &got); err != nil || got != u {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if err := db.Load("User", 7, &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load missing = %v", err)
	}
	var found []testUser
	if err := db.Query("User", Query{Filter: Eq("email", "bob@example.com"), Limit: 5}, &found); err != nil || len(found) != 1 || found[0].Name != "bob" {
		t.Fatalf("Query = %+v, %v", found, err)
	}
	if q := fv.queries[0]; q != `{"filter":{"eq":"bob@example.com","field":"email"},"limit":5}` {
		t.Errorf("query sent as %s", q)
	}
	if err := db.Query("User", Query{}, &found); err != nil || len(found) != 2 {
		t.Fatalf("Query all = %+v, %v", found, err)
	}
	if ok, err := db.Delete("User", 1); err != nil || !ok {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if ok, err := db.Delete("User", 1); err != nil || ok {
		t.Fatalf("Delete again = %v, %v", ok, err)
	}
	if n, err := db.DeleteWhere("User", nil); err != nil || n != 1 {
		t.Fatalf("DeleteWhere = %d, %v", n, err)
	}
	if len(f.spawned) != 1 {
		t.Errorf("%d spawns, want one conn", len(f.spawned))
	}
}

func TestVinylFilterJSON(t *testing.T) {
	f := And(Gt("age", 18), Or(Eq("name", "ada"), Not(IsNull("nick"))), IsEmpty("bio"), Le("age", 99))
	b, _ := json.Marshal(Query{Filter: f, OrderBy: "age", Desc: true, Skip: 2})
	want := `{"filter":{"and":[{"field":"age","gt":18},{"or":[{"eq":"ada","field":"name"},{"not":{"field":"nick","null":true}}]},{"empty":true,"field":"bio"},{"field":"age","le":99}]},"order_by":"age","desc":true,"skip":2}`
	if string(b) != want {
		t.Fatalf("query JSON\n%s\nwant\n%s", b, want)
	}
}

func TestVinylUndeclared(t *testing.T) {
	f := newFakeSys(t)
	db := testVinyl(f, "nope")
	err := db.Load("User", 1, &testUser{})
	if !errors.Is(err, ENOENT) || !strings.Contains(err.Error(), `no vinyl database "nope" in embly.hcl`) {
		t.Fatalf("err = %v", err)
	}
}
