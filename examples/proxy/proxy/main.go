// Command proxy fetches the URL named by the "url" query parameter and
// relays the upstream's status, headers and body, flushing as the body
// arrives so a stream stays a stream. Inside an Embly function
// http.DefaultTransport goes through the host's embly/http service, so a
// plain http.Get is all it takes; the host refuses whatever the function's
// allowed_hosts does not list.
package main

import (
	"errors"
	"io"
	"net/http"

	embly "github.com/embly/embly/sdk/go"
)

func main() {
	embly.HandleHTTP(http.HandlerFunc(proxy))
}

// hopByHop are headers about one connection, not the message: not relayed.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func proxy(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("url")
	if target == "" {
		http.Error(w, "usage: /?url=https://example.com/", http.StatusBadRequest)
		return
	}
	resp, err := http.Get(target)
	var refused *embly.HostError
	switch {
	case errors.As(err, &refused):
		// The host refused (not in allowed_hosts) or could not reach the
		// upstream: pass its status and explanation on.
		http.Error(w, refused.Message, refused.StatusCode)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	for k, vv := range resp.Header {
		w.Header()[k] = vv
	}
	for _, k := range hopByHop {
		w.Header().Del(k)
	}
	w.WriteHeader(resp.StatusCode)
	flusher := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client left
			}
			flusher.Flush()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			// The upstream's body broke off: cut ours short too, rather
			// than end it cleanly and pass a truncated body for whole.
			panic(http.ErrAbortHandler)
		}
	}
}
