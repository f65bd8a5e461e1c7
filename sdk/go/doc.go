// Package embly is the Go SDK for Embly functions: WebAssembly modules built
// with GOOS=wasip1 GOARCH=wasm and run by the embly host.
//
// An Embly instance is an actor with a set of conns, byte streams to other
// actors. Conn 1 is whoever started the instance: the HTTP gateway, another
// function, or the CLI. A function that answers HTTP requests is a plain
// [http.Handler]:
//
//	func main() {
//		embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			io.WriteString(w, "Hello World")
//		}))
//	}
//
// A function can start other functions with [Spawn]; each spawned function is
// a [Conn], an [io.ReadWriteCloser]. [Wait] waits on several conns at once.
//
// The package talks to the host through the five calls of the `embly` import
// module (_read, _write, _spawn, _events, _close; see docs/abi.md). Outside a
// wasip1 build those calls fail with [ENOSYS], so code using the package still
// compiles and its tests run on the developer's machine.
package embly
