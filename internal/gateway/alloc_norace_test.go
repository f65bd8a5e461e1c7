//go:build !race

package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestFunctionRouteAllocs keeps the gateway's own allocations for a bodiless
// GET answered in the common shape at two: the response head as one string,
// and one slice for its header values, both still referenced from the
// client's header map after the handler returns. Everything else is pooled.
// (The race detector empties sync.Pools at random, hence the build tag.)
func TestFunctionRouteAllocs(t *testing.T) {
	h := cannedGateway(t, helloResponse).Handler()
	req := httptest.NewRequest("GET", "/", nil)
	w := &recycledWriter{h: http.Header{}}
	allocs := testing.AllocsPerRun(100, func() {
		w.reset()
		h.ServeHTTP(w, req)
	})
	if w.code != 200 || w.n != len("Hello World") {
		t.Fatalf("%d, %d bytes", w.code, w.n)
	}
	if allocs > 2 {
		t.Errorf("%v allocations per request, want at most 2", allocs)
	}
}
