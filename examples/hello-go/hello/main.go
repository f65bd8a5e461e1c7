// Command hello is an Embly function: every HTTP request runs it in a fresh
// instance, and embly.HandleHTTP hands the request to a plain http.Handler.
package main

import (
	"io"
	"net/http"

	embly "github.com/embly/embly/sdk/go"
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello World")
	}))
}
