package gateway

import (
	"context"
	"net/http"
	"sync"
)

// exchange is the gateway's state for one request while its handler runs,
// in one piece that is recycled: allocated part by part, it was a good share
// of the gateway's allocations per request. The handler puts it back only
// when it returns normally, since by then everything that used it has ended:
// the upload goroutine (upload.stop), the goroutine respond may move to
// (runInline), the ResponseController and the request body limit, which hold
// sw. After a panic it is left to the collector.
type exchange struct {
	sw statusWriter
	rl requestLog

	// The rest serves function routes.
	ctx   context.Context // the instance's: the request's, or the route's timeout
	r     *http.Request
	rt    *route
	rc    http.ResponseController // of sw
	c     invocation
	up    upload
	limit headerLimit
	resp  parsedResponse

	// onBlock is respondElsewhere as a func value, made once per exchange
	// rather than once per request. responded carries respond's panic, if
	// any, back from the goroutine respondElsewhere starts.
	onBlock   func()
	responded chan any
}

var exchanges = sync.Pool{New: func() any {
	x := new(exchange)
	x.onBlock = x.respondElsewhere
	return x
}}

// completed writes the request's last log lines.
func (x *exchange) completed() { x.rl.completed(x.sw.status()) }

// reset clears x for the next request, dropping what it referenced.
func (x *exchange) reset() { *x = exchange{onBlock: x.onBlock} }
