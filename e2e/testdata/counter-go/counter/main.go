// Command counter proves that invocations are isolated: it counts in a
// package variable, a map and the heap, and each request must see them as
// package initialization left them.
package main

import (
	"fmt"
	"net/http"

	"github.com/embly/embly/sdk/go"
)

var (
	hits  int
	seen  = map[string]int{}
	cache []byte
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		seen[r.URL.Path]++
		cache = append(cache, make([]byte, 1<<20)...) // grows the heap each time it is kept
		fmt.Fprintf(w, "hits=%d seen=%d cache=%d", hits, seen[r.URL.Path], len(cache))
	}))
}
