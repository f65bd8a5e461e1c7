// Package gateway lets the outside world reach a project: the HTTP gateway
// (function routes and static files) and the Rails-style request log.
//
// # Routing
//
// An HTTP gateway's routes are matched by path prefix, longest first, and the
// match respects path segments: a route "/api" (or "/api/", which is the same
// route) serves "/api" and "/api/...", but not "/apix". A route "/" serves
// every path. Segment-aware matching is what a user means by "the API lives
// under /api"; plain string prefixes would quietly hand "/apix" to the API
// function. When no route matches, the gateway's default function (its
// `function` attribute) serves the request; without one the answer is 404.
//
// # Function routes
//
// A function route spawns a fresh instance per request (Spawner) and speaks
// raw HTTP/1.1 over the instance's conn 1, as docs/abi.md describes: the
// gateway writes the request (origin-form request line, Host, the headers
// minus hop-by-hop ones, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto,
// "Connection: close", then the body, re-chunked when its length is unknown)
// and closes its write side; the function answers with a raw HTTP/1.1
// response whose body may be framed by Content-Length, by chunked encoding, or
// by the end of conn 1. Request and response both stream: the request body is
// written while the response is read, and every piece of the response body is
// flushed to the client as soon as the function writes it.
//
// What the client sees when things go wrong, and why:
//
//   - the function wrote something that is not an HTTP response, or closed
//     conn 1 without one, and exited cleanly: 502 Bad Gateway, the function is
//     the broken upstream;
//   - the instance trapped or exited non-zero before answering: 500;
//     when its error is a timeout (a blown CPU budget): 504;
//   - the function could not be started: 500, or 503 when a limit was reached
//     (the error matches syscall.EAGAIN, the ABI's "a limit is reached", or
//     says "limit");
//   - the instance failed after the response started: the response is
//     aborted, so the client sees a truncated body rather than a complete
//     looking one.
//
// The reason always goes to the request log, never to the client, whose body
// is a short generic text such as "502 Bad Gateway": a function's error may
// hold secrets or internals.
//
// No instance outlives its request: the gateway closes the invocation and
// waits for it before the handler returns, stopping it (by cancelling its
// context) if it keeps running longer than HTTP.ExitTimeout after its
// response is complete.
//
// # Files routes
//
// A files route serves the files block's directory with the route prefix
// stripped, through os.Root so that neither ".." nor a symlink can reach
// outside it. Content types come from the extension, then sniffing; every
// file has an ETag (modification time and size) and Last-Modified, and
// conditional (304) and range (206) requests work (http.ServeContent). A
// directory serves its index.html; there are no directory listings.
//
// # The front end
//
// ListenAndServe accepts connections itself, not through net/http. A
// request in the shape of nearly all traffic to a function (a bodiless GET
// or HEAD in HTTP/1.1, origin-form, ordinary headers, for a function route)
// is parsed by the front end and answered through its own ResponseWriter,
// which frames bodies as net/http does (TestFrontEndMatchesNetHTTP). The
// first request of any other shape hands the connection, with every byte
// read from it, to net/http, which serves it from then on: uploads, files,
// 404s, HTTP/1.0, malformed requests and their 400s are net/http's, as they
// always were. FuzzFastHead checks that whatever the front end accepts
// reads the same through http.ReadRequest. It exists for speed: see
// frontend.go and docs/performance.md.
//
// # Request log
//
// Every request is logged the way the seed (and Rails) did:
//
//	Started GET "/" for 127.0.0.1:59335 at 2019-10-11 21:01:04 -0400
//	Processing by function "function.hello"
//	Completed 200 OK in 13.007029ms
//
// Started and Processing are written when the request arrives, any
// `Error in function "function.hello": <reason>` lines and Completed when it
// ends, each block in one write, so concurrent requests interleave by block
// but never mid-line.
package gateway
