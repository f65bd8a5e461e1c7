// Package storetest is the behaviour suite every store backend passes: the
// same table of cases runs against SQLite and PostgreSQL, so the two cannot
// drift apart.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/embly/embly/internal/store"
)

// Opener opens a backend for project with the given clock. Backends opened
// for the same project name must share data, and different names must not.
type Opener func(t *testing.T, project string, now func() time.Time) store.Backend

// Clock is a settable clock for TTL tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	n := 0
	project := func(t *testing.T) string {
		n++
		return fmt.Sprintf("suite%d", n)
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context, b store.Backend, clock *Clock)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"BinaryKeysAndValues", testBinary},
		{"Limits", testLimits},
		{"TTL", testTTL},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"DatabasesAreSeparate", testDatabases},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock()
			b := open(t, project(t), clock.Now)
			tc.run(t, context.Background(), b, clock)
		})
	}
	runRecords(t, func(t *testing.T, name string, _ func() time.Time) store.Backend {
		return open(t, name, NewClock().Now)
	}, project)
	t.Run("ProjectsAreIsolated", func(t *testing.T) {
		clock := NewClock()
		a, b := open(t, project(t), clock.Now), open(t, project(t), clock.Now)
		ctx := context.Background()
		ka, kb := kv(t, a, "cache"), kv(t, b, "cache")
		must(t, ka.Set(ctx, []byte("k"), []byte("a"), 0))
		if _, err := kb.Get(ctx, []byte("k")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("project b sees project a's key: %v", err)
		}
		if keys, _, _ := kb.List(ctx, nil, nil, 0); len(keys) != 0 {
			t.Fatalf("project b lists %q", keys)
		}
	})
	t.Run("Reopen", func(t *testing.T) {
		clock := NewClock()
		name := project(t)
		a := open(t, name, clock.Now)
		must(t, kv(t, a, "cache").Set(context.Background(), []byte("k"), []byte("kept"), 0))
		must(t, a.Close())
		b := open(t, name, clock.Now)
		wantGet(t, kv(t, b, "cache"), "k", "kept")
	})
}

func kv(t *testing.T, b store.Backend, name string) store.KV {
	t.Helper()
	k, err := b.KV(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantGet(t *testing.T, k store.KV, key, want string) {
	t.Helper()
	got, err := k.Get(context.Background(), []byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantMissing(t *testing.T, k store.KV, key string) {
	t.Helper()
	if v, err := k.Get(context.Background(), []byte(key)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, v, err)
	}
}

func testGetSetDelete(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	wantMissing(t, k, "a")
	must(t, k.Set(ctx, []byte("a"), []byte("1"), 0))
	wantGet(t, k, "a", "1")
	must(t, k.Set(ctx, []byte("a"), []byte("2"), 0))
	wantGet(t, k, "a", "2")
	must(t, k.Set(ctx, []byte("empty"), nil, 0))
	wantGet(t, k, "empty", "")
	must(t, k.Delete(ctx, []byte("a")))
	wantMissing(t, k, "a")
	must(t, k.Delete(ctx, []byte("a"))) // deleting a missing key is fine
}

func testBinary(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	key := []byte{0, 0xff, '%', '_', 0x80, 0}
	value := make([]byte, 256)
	for i := range value {
		value[i] = byte(i)
	}
	must(t, k.Set(ctx, key, value, 0))
	got, err := k.Get(ctx, key)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("Get = %x, %v", got, err)
	}
	// % and _ are LIKE wildcards: a prefix must match them literally.
	must(t, k.Set(ctx, []byte("a%b"), []byte("x"), 0))
	must(t, k.Set(ctx, []byte("axb"), []byte("x"), 0))
	keys, _, err := k.List(ctx, []byte("a%"), nil, 0)
	if err != nil || len(keys) != 1 || string(keys[0]) != "a%b" {
		t.Fatalf("List(a%%) = %q, %v", keys, err)
	}
	// A prefix of 0xff bytes has no upper bound.
	must(t, k.Set(ctx, []byte{0xff, 0xff, 1}, []byte("x"), 0))
	keys, _, err = k.List(ctx, []byte{0xff, 0xff}, nil, 0)
	if err != nil || len(keys) != 1 {
		t.Fatalf("List(ffff) = %q, %v", keys, err)
	}
}

func testLimits(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	big := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	must(t, k.Set(ctx, big(store.MaxKeyBytes), big(store.MaxValueBytes), 0))
	got, err := k.Get(ctx, big(store.MaxKeyBytes))
	if err != nil || len(got) != store.MaxValueBytes {
		t.Fatalf("Get of the largest value: %d bytes, %v", len(got), err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"key too large", k.Set(ctx, big(store.MaxKeyBytes+1), nil, 0), store.ErrTooLarge},
		{"value too large", k.Set(ctx, []byte("k"), big(store.MaxValueBytes+1), 0), store.ErrTooLarge},
		{"empty key", k.Set(ctx, nil, []byte("v"), 0), store.ErrInvalid},
		{"negative ttl", k.Set(ctx, []byte("k"), nil, -time.Second), store.ErrInvalid},
		{"get key too large", errOnly(k.Get(ctx, big(store.MaxKeyBytes+1))), store.ErrTooLarge},
		{"get empty key", errOnly(k.Get(ctx, nil)), store.ErrInvalid},
		{"delete empty key", k.Delete(ctx, nil), store.ErrInvalid},
		{"page too large", listErr(k.List(ctx, nil, nil, store.MaxPageKeys+1)), store.ErrTooLarge},
		{"negative page", listErr(k.List(ctx, nil, nil, -1)), store.ErrInvalid},
		{"prefix too large", listErr(k.List(ctx, big(store.MaxKeyBytes+1), nil, 0)), store.ErrTooLarge},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func errOnly(_ []byte, err error) error             { return err }
func listErr(_ [][]byte, _ []byte, err error) error { return err }

func testTTL(t *testing.T, ctx context.Context, b store.Backend, clock *Clock) {
	k := kv(t, b, "cache")
	must(t, k.Set(ctx, []byte("short"), []byte("s"), time.Second))
	must(t, k.Set(ctx, []byte("long"), []byte("l"), time.Hour))
	must(t, k.Set(ctx, []byte("forever"), []byte("f"), 0))
	wantGet(t, k, "short", "s")
	clock.Advance(999 * time.Millisecond)
	wantGet(t, k, "short", "s")
	clock.Advance(time.Millisecond)
	wantMissing(t, k, "short")
	keys, _, err := k.List(ctx, nil, nil, 0)
	if err != nil || fmt.Sprintf("%q", keys) != `["forever" "long"]` {
		t.Fatalf("List after expiry = %q, %v", keys, err)
	}
	// Setting again replaces the TTL: the key no longer expires.
	must(t, k.Set(ctx, []byte("long"), []byte("l2"), 0))
	clock.Advance(2 * time.Hour)
	wantGet(t, k, "long", "l2")
	// An expired key can be set again.
	must(t, k.Set(ctx, []byte("short"), []byte("again"), 0))
	wantGet(t, k, "short", "again")
	// Many expired keys: they stay invisible while purges run.
	for i := range 600 {
		must(t, k.Set(ctx, fmt.Appendf(nil, "tmp%04d", i), []byte("x"), time.Millisecond))
	}
	clock.Advance(time.Second)
	for i := range 600 {
		must(t, k.Set(ctx, fmt.Appendf(nil, "new%04d", i), []byte("x"), 0))
	}
	keys, _, err = k.List(ctx, []byte("tmp"), nil, 0)
	if err != nil || len(keys) != 0 {
		t.Fatalf("expired keys listed: %d, %v", len(keys), err)
	}
}

func testList(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	for _, key := range []string{"user:2", "user:10", "user:1", "users", "user;", "post:1", "u"} {
		must(t, k.Set(ctx, []byte(key), []byte("v"), 0))
	}
	for _, tc := range []struct {
		prefix, cursor string
		limit          int
		want, next     string
	}{
		{"user:", "", 0, `["user:1" "user:10" "user:2"]`, ""},
		{"user", "", 0, `["user:1" "user:10" "user:2" "user;" "users"]`, ""},
		{"", "", 0, `["post:1" "u" "user:1" "user:10" "user:2" "user;" "users"]`, ""},
		{"nope", "", 0, `[]`, ""},
		{"user:", "", 2, `["user:1" "user:10"]`, "user:10"},
		{"user:", "user:10", 2, `["user:2"]`, ""},
		{"user:", "user:2", 2, `[]`, ""},
		{"user:", "a", 0, `["user:1" "user:10" "user:2"]`, ""}, // a cursor before the prefix
		{"user:", "zzz", 0, `[]`, ""},
		{"", "u", 0, `["user:1" "user:10" "user:2" "user;" "users"]`, ""},
	} {
		keys, next, err := k.List(ctx, []byte(tc.prefix), []byte(tc.cursor), tc.limit)
		got := fmt.Sprintf("%q", keys)
		if keys == nil {
			got = "[]"
		}
		if err != nil || got != tc.want || string(next) != tc.next {
			t.Errorf("List(%q, %q, %d) = %s, %q, %v; want %s, %q", tc.prefix, tc.cursor, tc.limit, got, next, err, tc.want, tc.next)
		}
	}
}

func testListPaging(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	const n = 2345
	for i := range n {
		must(t, k.Set(ctx, fmt.Appendf(nil, "k%05d", i), nil, 0))
	}
	must(t, k.Set(ctx, []byte("other"), nil, 0))
	for _, limit := range []int{0, 1, 7, store.MaxPageKeys} {
		var all [][]byte
		var cursor []byte
		pages := 0
		for {
			keys, next, err := k.List(ctx, []byte("k"), cursor, limit)
			must(t, err)
			pages++
			all = append(all, keys...)
			if next == nil {
				break
			}
			cursor = next
			if pages > n+1 {
				t.Fatal("paging does not end")
			}
		}
		if len(all) != n {
			t.Fatalf("limit %d: %d keys in %d pages, want %d", limit, len(all), pages, n)
		}
		for i, key := range all {
			if want := fmt.Sprintf("k%05d", i); string(key) != want {
				t.Fatalf("limit %d: key %d = %q, want %q", limit, i, key, want)
			}
		}
	}
}

func testDatabases(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	a, c := kv(t, b, "a"), kv(t, b, "c")
	must(t, a.Set(ctx, []byte("k"), []byte("in a"), 0))
	wantMissing(t, c, "k")
	must(t, c.Set(ctx, []byte("k"), []byte("in c"), 0))
	wantGet(t, a, "k", "in a")
	must(t, c.Delete(ctx, []byte("k")))
	wantGet(t, a, "k", "in a")
}

func testConcurrent(t *testing.T, ctx context.Context, b store.Backend, _ *Clock) {
	k := kv(t, b, "cache")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				key := fmt.Appendf(nil, "w%d-%d", w, i)
				if err := k.Set(ctx, key, key, 0); err != nil {
					errs <- err
					return
				}
				if got, err := k.Get(ctx, key); err != nil || !bytes.Equal(got, key) {
					errs <- fmt.Errorf("Get(%q) = %q, %v", key, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys, _, err := k.List(ctx, []byte("w"), nil, store.MaxPageKeys)
	if err != nil || len(keys) != 400 {
		t.Fatalf("List = %d keys, %v", len(keys), err)
	}
}
