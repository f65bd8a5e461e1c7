package embly

// sys is the host ABI, one method per import of the `embly` module. The
// wasip1 build calls the real imports (sys_wasip1.go); tests substitute a
// fake so that everything above this line runs with `go test` on any GOOS.
//
// Each method returns the call's errno; 0 is success.
type sys interface {
	// read is _read: (n>0, 0) data, (0, 0) EOF, EAGAIN nothing yet.
	read(id int32, p []byte) (n int, errno Errno)
	// write is _write: it never blocks; n says how much fit in the window.
	write(id int32, p []byte) (n int, errno Errno)
	// spawn is _spawn: a new conn to target.
	spawn(target string) (id int32, errno Errno)
	// events is _events: up to len(ids) conns with news; timeout in
	// nanoseconds, 0 polls, <0 waits forever; n=0 on timeout.
	events(timeoutNS int64, ids []int32) (n int, errno Errno)
	// close is _close: closes our write side of id.
	close(id int32) Errno
}
