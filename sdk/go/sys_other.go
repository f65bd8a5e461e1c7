//go:build !wasip1

package embly

// unsupportedSys stands in for the host outside a wasip1 build: every call
// fails with ENOSYS, so programs and tests that import the package still build
// and run, and say clearly why a call cannot work.
type unsupportedSys struct{}

var defaultSys sys = unsupportedSys{}

func (unsupportedSys) read(int32, []byte) (int, Errno)    { return 0, ENOSYS }
func (unsupportedSys) write(int32, []byte) (int, Errno)   { return 0, ENOSYS }
func (unsupportedSys) spawn(string) (int32, Errno)        { return 0, ENOSYS }
func (unsupportedSys) events(int64, []int32) (int, Errno) { return 0, ENOSYS }
func (unsupportedSys) close(int32) Errno                  { return ENOSYS }
