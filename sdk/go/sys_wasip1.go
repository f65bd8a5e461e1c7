//go:build wasip1

package embly

import "unsafe"

// The host calls. unsafe.Pointer and int32 lower to wasm i32 and int64 to
// i64; both have been allowed in wasmimport signatures since wasip1 arrived.

//go:wasmimport embly _read
//go:noescape
func hostRead(id int32, buf unsafe.Pointer, n int32, nread unsafe.Pointer) uint32

//go:wasmimport embly _write
//go:noescape
func hostWrite(id int32, buf unsafe.Pointer, n int32, nwritten unsafe.Pointer) uint32

//go:wasmimport embly _spawn
//go:noescape
func hostSpawn(name unsafe.Pointer, n int32, id unsafe.Pointer) uint32

//go:wasmimport embly _events
//go:noescape
func hostEvents(timeoutNS int64, ids unsafe.Pointer, idsCap int32, n unsafe.Pointer) uint32

//go:wasmimport embly _close
func hostClose(id int32) uint32

// wasmSys is sys over the real host imports.
type wasmSys struct{}

var defaultSys sys = wasmSys{}

func (wasmSys) read(id int32, p []byte) (int, Errno) {
	var n uint32
	errno := hostRead(id, unsafe.Pointer(unsafe.SliceData(p)), int32(len(p)), unsafe.Pointer(&n))
	return int(n), Errno(errno)
}

func (wasmSys) write(id int32, p []byte) (int, Errno) {
	var n uint32
	errno := hostWrite(id, unsafe.Pointer(unsafe.SliceData(p)), int32(len(p)), unsafe.Pointer(&n))
	return int(n), Errno(errno)
}

func (wasmSys) spawn(target string) (int32, Errno) {
	var id int32
	errno := hostSpawn(unsafe.Pointer(unsafe.StringData(target)), int32(len(target)), unsafe.Pointer(&id))
	return id, Errno(errno)
}

func (wasmSys) events(timeoutNS int64, ids []int32) (int, Errno) {
	var n uint32
	errno := hostEvents(timeoutNS, unsafe.Pointer(unsafe.SliceData(ids)), int32(len(ids)), unsafe.Pointer(&n))
	return int(n), Errno(errno)
}

func (wasmSys) close(id int32) Errno { return Errno(hostClose(id)) }
