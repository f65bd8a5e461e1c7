//go:build wasip1

package embly

import "net/http"

// Inside an Embly function there are no sockets: net/http's own transport
// could never connect. Going through embly/http instead makes http.Get and
// every client without a Transport of its own work as they do elsewhere.
func init() {
	http.DefaultTransport = &Transport{}
}
