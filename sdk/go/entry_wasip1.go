//go:build wasip1

package embly

import (
	"runtime"
	_ "unsafe" // for go:linkname
)

// Embly builds Go functions as WASI reactors (-buildmode=c-shared): the host
// calls _initialize once, which runs the Go runtime's start-up and every
// package's init, snapshots the initialized instance, and then runs each
// invocation in a fresh copy of that snapshot by calling embly_main. The Go
// runtime's start-up costs milliseconds; restoring a snapshot costs
// microseconds, and no invocation ever sees another's memory.
//
// embly_main runs the program's main function, exactly as _start would
// have after initialization, so a function's main stays an ordinary main.

//go:linkname mainMain main.main
func mainMain()

//go:wasmexport embly_main
func emblyMain() {
	// With reuse = true the host calls embly_main again on the same
	// instance; the conns of the last invocation are gone, so is what we
	// knew of them.
	defaultHost.reset()
	mainMain()
}

// embly_warmup runs once, after _initialize and before the snapshot: it
// takes made-up requests through the HTTP path (warmUp), collects the
// garbage, and takes them again. The collection empties the allocator's
// per-P span caches and sync.Pools; without the second request every
// invocation would start by refilling them (mcache.refill, new bufio
// buffers), which cost about 15% of a hello world's time in the guest.
//
//go:wasmexport embly_warmup
func emblyWarmup() {
	warmUp()
	runtime.GC()
	warmUp()
}
