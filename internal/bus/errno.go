// Package bus is Embly's actor core: conns between actors, their bounded
// windows, and the news (data, EOF, a reopened window) that wakes an actor
// waiting in _events. Instances, gateways and host services all talk through
// it, so there is one mechanism for every kind of actor.
package bus

import "fmt"

// Errno is a WASI errno as the host ABI returns it. The values are fixed by
// the ABI (docs/abi.md); guests compare against them.
type Errno uint32

// The errno values the host ABI uses.
const (
	ESUCCESS Errno = 0
	EACCES   Errno = 2
	EAGAIN   Errno = 6
	EBADF    Errno = 8
	EFAULT   Errno = 21
	ENOENT   Errno = 44
	EPIPE    Errno = 64
)

func (e Errno) Error() string {
	switch e {
	case ESUCCESS:
		return "success"
	case EACCES:
		return "not allowed (EACCES)"
	case EAGAIN:
		return "would block (EAGAIN)"
	case EBADF:
		return "no such conn (EBADF)"
	case EFAULT:
		return "pointer outside guest memory (EFAULT)"
	case ENOENT:
		return "no such target (ENOENT)"
	case EPIPE:
		return "peer is gone (EPIPE)"
	}
	return fmt.Sprintf("errno %d", uint32(e))
}
