package embly

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// fakeKV plays the host's embly/kv service on the fake host, written from
// the protocol in docs/abi.md: it answers every complete request frame the
// guest has written whenever the guest waits.
type fakeKV struct {
	t       *testing.T
	dbs     map[string]map[string]string // database -> key -> value
	ttls    map[string]uint64            // "db/key" -> ttl_ms as sent
	fail    bool                         // answer everything with status 4
	pending map[int32][]byte             // bytes of an incomplete frame per conn
	taken   map[int32]int                // bytes of output already read per conn
}

func newFakeKV(t *testing.T, f *fakeSys, dbs ...string) *fakeKV {
	k := &fakeKV{t: t, dbs: map[string]map[string]string{}, ttls: map[string]uint64{}, pending: map[int32][]byte{}, taken: map[int32]int{}}
	for _, db := range dbs {
		k.dbs[db] = map[string]string{}
		f.targets[kvTarget+db] = true
	}
	f.peer = k.serve
	return k
}

func (k *fakeKV) serve(f *fakeSys) bool {
	progress := false
	f.mu.Lock()
	ids := make([]int32, 0, len(f.spawned))
	for id := range f.spawned {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		f.take(id)
		out := f.output(id)
		buf := append(k.pending[id], out[k.taken[id]:]...)
		k.taken[id] = len(out)
		for len(buf) >= 4 {
			n := int(binary.BigEndian.Uint32([]byte(buf)))
			if len(buf) < 4+n {
				break
			}
			db := strings.TrimPrefix(f.spawned[id], kvTarget)
			resp := k.answer(db, buf[4:4+n])
			f.send(id, string(binary.BigEndian.AppendUint32(nil, uint32(len(resp))))+string(resp))
			buf = buf[4+n:]
			progress = true
		}
		k.pending[id] = buf
	}
	return progress
}

func (k *fakeKV) answer(db string, req []byte) []byte {
	if k.fail {
		return []byte("\x04disk on fire")
	}
	field := func() string {
		n := binary.BigEndian.Uint32(req)
		s := string(req[4 : 4+n])
		req = req[4+n:]
		return s
	}
	m := k.dbs[db]
	op := req[0]
	req = req[1:]
	switch op {
	case kvGet:
		v, ok := m[field()]
		if !ok {
			return []byte("\x01embly/kv/" + db + ": get: not found")
		}
		return append([]byte{0}, v...)
	case kvSet:
		key := field()
		k.ttls[db+"/"+key] = binary.BigEndian.Uint64(req)
		m[key] = string(req[8:])
		return []byte{0}
	case kvDelete:
		delete(m, field())
		return []byte{0}
	case kvList:
		limit := int(binary.BigEndian.Uint32(req))
		req = req[4:]
		prefix, cursor := field(), field()
		if limit == 0 {
			limit = 100
		}
		var keys []string
		for key := range m {
			if strings.HasPrefix(key, prefix) && key > cursor {
				keys = append(keys, key)
			}
		}
		sort.Strings(keys)
		next := ""
		if len(keys) > limit {
			keys = keys[:limit]
			next = keys[limit-1]
		}
		out := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(keys)))
		for _, key := range keys {
			out = binary.BigEndian.AppendUint32(out, uint32(len(key)))
			out = append(out, key...)
		}
		return append(out, next...)
	}
	return []byte("\x03unknown operation")
}

func testKV(f *fakeSys, name string) *KVStore {
	s := KV(name)
	s.h = newTestHost(f)
	return s
}

func TestKV(t *testing.T) {
	f := newFakeSys(t)
	fk := newFakeKV(t, f, "cache")
	kv := testKV(f, "cache")
	if _, err := kv.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	} else if want := `embly: kv "cache": get "a": embly/kv/cache: get: not found`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	if err := kv.Set("a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get("a"); err != nil || string(v) != "one" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := kv.SetTTL("b", []byte("two"), 1500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if got := fk.ttls["cache/b"]; got != 2 {
		t.Errorf("ttl sent = %d ms, want 2 (rounded up)", got)
	}
	if err := kv.Set("bin\x00\xff", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get("bin\x00\xff"); err != nil || !bytes.Equal(v, []byte{0, 1, 2}) {
		t.Fatalf("Get binary = %x, %v", v, err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted: %v", err)
	}
	if len(f.spawned) != 1 {
		t.Errorf("%d spawns, want one conn for every request", len(f.spawned))
	}
}

func TestKVList(t *testing.T) {
	f := newFakeSys(t)
	newFakeKV(t, f, "cache")
	kv := testKV(f, "cache")
	for i := range 25 {
		if err := kv.Set(fmt.Sprintf("user:%02d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	kv.Set("other", nil)
	keys, next, err := kv.List("user:", "", 10)
	if err != nil || len(keys) != 10 || keys[0] != "user:00" || next != "user:09" {
		t.Fatalf("List = %q, %q, %v", keys, next, err)
	}
	keys, next, err = kv.List("user:", next, 20)
	if err != nil || len(keys) != 15 || keys[0] != "user:10" || next != "" {
		t.Fatalf("second page = %q, %q, %v", keys, next, err)
	}
	n := 0
	// for key, err := range kv.Keys(...), as a Go 1.22 module spells it.
	kv.Keys("user:")(func(key string, err error) bool {
		if err != nil || !strings.HasPrefix(key, "user:") {
			t.Fatalf("Keys: %q, %v", key, err)
		}
		n++
		return true
	})
	if n != 25 {
		t.Errorf("Keys yielded %d, want 25", n)
	}
}

func TestKVLimitsChecked(t *testing.T) {
	f := newFakeSys(t)
	newFakeKV(t, f, "cache")
	kv := testKV(f, "cache")
	big := strings.Repeat("k", MaxKeySize+1)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"empty key", kv.Set("", nil), ErrInvalid},
		{"key too large", kv.Set(big, nil), ErrTooLarge},
		{"value too large", kv.Set("k", make([]byte, MaxValueSize+1)), ErrTooLarge},
		{"negative ttl", kv.SetTTL("k", nil, -time.Second), ErrInvalid},
		{"get key too large", errOf(kv.Get(big)), ErrTooLarge},
		{"page too large", listErr(kv.List("", "", MaxPageSize+1)), ErrTooLarge},
	} {
		var kerr *KVError
		if !errors.Is(tc.err, tc.want) || !errors.As(tc.err, &kerr) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if len(f.spawned) != 0 {
		t.Error("a request over a limit reached the host")
	}
}

func errOf(_ []byte, err error) error               { return err }
func listErr(_ []string, _ string, err error) error { return err }

func TestKVStoreFailure(t *testing.T) {
	f := newFakeSys(t)
	fk := newFakeKV(t, f, "cache")
	fk.fail = true
	_, err := testKV(f, "cache").Get("k")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

func TestKVUndeclared(t *testing.T) {
	f := newFakeSys(t)
	newFakeKV(t, f, "cache")
	_, err := testKV(f, "nope").Get("k")
	if !errors.Is(err, ENOENT) {
		t.Fatalf("err = %v, want ENOENT", err)
	}
	if want := `embly: spawn "embly/kv/nope": no kv database "nope" in embly.hcl; declare it with database "kv" "nope" {}`; err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

// With reuse = true an instance serves invocation after invocation; the
// conns of the last one are gone, so the store spawns a new one.
func TestKVNewInvocation(t *testing.T) {
	f := newFakeSys(t)
	newFakeKV(t, f, "cache")
	kv := testKV(f, "cache")
	kv.Set("k", []byte("v"))
	kv.h.reset()
	if v, err := kv.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("Get after reset = %q, %v", v, err)
	}
	if len(f.spawned) != 2 {
		t.Errorf("%d spawns, want 2 (one per invocation)", len(f.spawned))
	}
}
