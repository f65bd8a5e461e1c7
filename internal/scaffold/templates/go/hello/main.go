// Command hello is an Embly function: each HTTP request runs it in a fresh
// instance, and embly.HandleHTTP hands the request to a plain http.Handler.
package main

import (
	"net/http"

	"github.com/embly/embly/sdk/go"
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello World"))
	}))
}
