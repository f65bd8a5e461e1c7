package embly

import (
	"errors"
	"io/fs"
	"strconv"
)

// Errno is an error number returned by a host call. The values are WASI
// errnos, fixed by the host ABI. Errors returned by this package wrap an
// Errno, so callers test them with errors.Is(err, embly.EPIPE).
type Errno uint32

// The errnos the host ABI uses.
const (
	// EACCES: the spawn target is not allowed for this function.
	EACCES Errno = 2
	// EAGAIN: nothing to read yet, the conn's window is full, or a spawn
	// limit is reached.
	EAGAIN Errno = 6
	// EBADF: no such conn.
	EBADF Errno = 8
	// EFAULT: a pointer passed to the host lies outside guest memory.
	EFAULT Errno = 21
	// ENOENT: no such spawn target.
	ENOENT Errno = 44
	// ENOSYS: the host call does not exist; this package returns it when the
	// program does not run inside an Embly instance (any GOOS but wasip1).
	ENOSYS Errno = 52
	// EPIPE: the peer is gone, or our write side is closed.
	EPIPE Errno = 64
)

// Error returns a short description of the errno.
func (e Errno) Error() string {
	switch e {
	case 0:
		return "success"
	case EACCES:
		return "not allowed"
	case EAGAIN:
		return "resource temporarily unavailable"
	case EBADF:
		return "no such conn"
	case EFAULT:
		return "bad address"
	case ENOENT:
		return "no such target"
	case ENOSYS:
		return "not running inside an embly instance"
	case EPIPE:
		return "broken pipe: the peer is gone"
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}

// Is makes errors.Is(err, fs.ErrNotExist) and friends work on errnos, the way
// syscall.Errno does.
func (e Errno) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e == ENOENT
	case fs.ErrPermission:
		return e == EACCES
	case errors.ErrUnsupported:
		return e == ENOSYS
	}
	return false
}

// Temporary reports whether retrying later may succeed.
func (e Errno) Temporary() bool { return e == EAGAIN }
