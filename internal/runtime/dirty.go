package runtime

import (
	"encoding/binary"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resetting a memory by copying back only the pages the guest wrote.
//
// A snapshot instance's memory is a private (copy-on-write) mapping of the
// image's memfd. A page the guest only read is still the file's page; a page
// it wrote is the process's own anonymous copy. /proc/self/pagemap tells the
// two apart (one read for the whole memory), so a reset copies the image back
// into the written pages only. They stay mapped and private, so the next
// invocation writes them without a page fault, and nothing is unmapped, so no
// other CPU's TLB is flushed. MADV_DONTNEED, the alternative, costs a TLB
// shootdown and then a fault on every page the next invocation writes: a few
// microseconds each, dozens of pages per request for a Go function.
//
// Once written, a page stays anonymous, so the pages copied back are those
// written by any invocation since the mapping was made: the working set of
// the function. When that grows past dirtyCopyMax, reset falls back to
// MADV_DONTNEED, which also returns the pages to the kernel.

const (
	pageSize = 4096

	// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
	pmPresent = 1 << 63
	pmSwapped = 1 << 62
	pmFile    = 1 << 61 // file page or shared anonymous: not our own copy

	// dirtyCopyMax bounds what reset copies back; a memory with more
	// written pages is reset with MADV_DONTNEED instead.
	dirtyCopyMax = 4 << 20
)

// pagemap is /proc/self/pagemap, or nil where it cannot be read (then resets
// use MADV_DONTNEED or a full copy).
var pagemap = sync.OnceValue(func() *os.File {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil
	}
	// Check that entries are readable, with a page we know is present.
	probe := make([]byte, pageSize)
	probe[0] = 1
	var e [8]byte
	if _, err := unix.Pread(int(f.Fd()), e[:], int64(uintptr(unsafe.Pointer(&probe[0]))/pageSize*8)); err != nil ||
		binary.LittleEndian.Uint64(e[:])&pmPresent == 0 {
		f.Close()
		return nil
	}
	return f
})

// writtenPages appends to dst the index of every page of mem that is the
// process's own (written since it was mapped), and returns it. ok is false
// when pagemap cannot be read. entries is scratch space, returned grown.
func writtenPages(mem []byte, entries []uint64, dst []int32) (pages []int32, scratch []uint64, ok bool) {
	pm := pagemap()
	if pm == nil || len(mem) == 0 {
		return dst, entries, false
	}
	n := (len(mem) + pageSize - 1) / pageSize
	if cap(entries) < n {
		entries = make([]uint64, n)
	}
	entries = entries[:n]
	// pagemap's entries are native-endian 64-bit words: read them as such.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&entries[0])), n*8)
	base := uintptr(unsafe.Pointer(&mem[0]))
	if got, err := unix.Pread(int(pm.Fd()), raw, int64(base/pageSize*8)); err != nil || got != len(raw) {
		return dst, entries, false
	}
	for i, e := range entries {
		// Most pages were never touched: one test skips them.
		if e&(pmPresent|pmSwapped) == 0 {
			continue
		}
		// A swapped-out page may be one we wrote: count it, copying it
		// back is harmless.
		if e&pmFile == 0 || e&pmSwapped != 0 {
			dst = append(dst, int32(i))
		}
	}
	return dst, entries, true
}

// copyBack makes the given pages of mem read as image again: image's bytes
// where it has them, zeros past its end.
func copyBack(mem, image []byte, pages []int32) {
	for _, p := range pages {
		off := int(p) * pageSize
		page := mem[off:min(off+pageSize, len(mem))]
		n := 0
		if off < len(image) {
			n = copy(page, image[off:])
		}
		clear(page[n:])
	}
}
