// Command front answers HTTP requests with the help of another function: it
// spawns "back", writes it a message (the "msg" query parameter, or the
// request body), closes its side so back reads EOF, and relays back's answer.
package main

import (
	"io"
	"net/http"
	"strings"

	embly "github.com/embly/embly/sdk/go"
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(relay))
}

func relay(w http.ResponseWriter, r *http.Request) {
	msg := r.URL.Query().Get("msg")
	if msg == "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = "hello from front"
	}

	back, err := embly.Spawn("back")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if _, err := io.WriteString(back, msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	back.Close() // back reads EOF after the message

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := io.Copy(w, back); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
}
