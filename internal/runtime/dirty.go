package runtime

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
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
//
// Since that set only grows, and only through page faults, asking pagemap
// again is needed only when the invocation may have added to it: a page of
// a private mapping becomes the process's own only through a write fault
// (or the first touch of a page never mapped), which the kernel counts for
// the faulting thread, GUP faults included, in the process's rusage. So
// when the process's fault count did not move while the guest ran, not
// one page anywhere in the process became present or private, and reset
// copies back the set the last scan found without asking (getrusage costs
// about a fifth of a scan of a small memory, and less against a large
// one). Any fault in the process meanwhile (another instance's, the Go
// heap's) only means a scan: the count errs on the side of asking.

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

// pagemapScratch is what finding the written pages reuses from one reset
// to the next.
type pagemapScratch struct {
	entries []uint64     // pagemap entries, for readWrittenPages
	regions []pageRegion // PAGEMAP_SCAN's answer, for scanWrittenPages
}

// writtenPages appends to dst the index of every page of mem that is the
// process's own (written since it was mapped), and returns it. ok is false
// when pagemap cannot be read. It asks the kernel with PAGEMAP_SCAN where
// it can (Linux 6.7), which sends back only the written ranges: a third
// faster than reading an entry per page for a Go function's 1,600 pages,
// no slower for small memories.
func writtenPages(mem []byte, scratch *pagemapScratch, dst []int32) (pages []int32, ok bool) {
	if pagemapScanWorks() {
		if pages, ok := scanWrittenPages(mem, scratch, dst); ok {
			return pages, true
		}
	}
	return readWrittenPages(mem, scratch, dst)
}

// readWrittenPages is writtenPages by reading mem's pagemap entries.
func readWrittenPages(mem []byte, scratch *pagemapScratch, dst []int32) (pages []int32, ok bool) {
	pm := pagemap()
	if pm == nil || len(mem) == 0 {
		return dst, false
	}
	n := (len(mem) + pageSize - 1) / pageSize
	if cap(scratch.entries) < n {
		scratch.entries = make([]uint64, n)
	}
	entries := scratch.entries[:n]
	// pagemap's entries are native-endian 64-bit words: read them as such.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&entries[0])), n*8)
	base := uintptr(unsafe.Pointer(&mem[0]))
	if got, err := unix.Pread(int(pm.Fd()), raw, int64(base/pageSize*8)); err != nil || got != len(raw) {
		return dst, false
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
	return dst, true
}

// PAGEMAP_SCAN (Documentation/admin-guide/mm/pagemap.rst): an ioctl on
// the pagemap file that returns the ranges of pages in chosen categories.
const (
	pagemapScanIoctl = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)

	pageIsFile    = 1 << 2
	pageIsPresent = 1 << 3
	pageIsSwapped = 1 << 4
)

// pmScanArg is struct pm_scan_arg.
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

// pageRegion is struct page_region: pages [start, end) of one category set.
type pageRegion struct {
	start, end, categories uint64
}

// scanWrittenPages is writtenPages with PAGEMAP_SCAN: the pages present or
// swapped, and not the file's (the image's). The difference with
// readWrittenPages: a file page swapped out (under migration) is not
// counted, as it was not written.
func scanWrittenPages(mem []byte, scratch *pagemapScratch, dst []int32) (pages []int32, ok bool) {
	pm := pagemap()
	if pm == nil || len(mem) == 0 {
		return dst, false
	}
	if len(scratch.regions) == 0 {
		scratch.regions = make([]pageRegion, 32)
	}
	base := uint64(uintptr(unsafe.Pointer(&mem[0])))
	arg := pmScanArg{
		start:  base,
		end:    base + uint64(len(mem)+pageSize-1)/pageSize*pageSize,
		vec:    uint64(uintptr(unsafe.Pointer(&scratch.regions[0]))),
		vecLen: uint64(len(scratch.regions)),
		// Categories are XORed with the inverted ones, then must have
		// every bit of the mask and one of anyof: not a file page, and
		// present or swapped.
		categoryInverted:  pageIsFile,
		categoryMask:      pageIsFile,
		categoryAnyofMask: pageIsPresent | pageIsSwapped,
		returnMask:        pageIsPresent | pageIsSwapped | pageIsFile,
	}
	arg.size = uint64(unsafe.Sizeof(arg))
	for arg.start < arg.end {
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, pm.Fd(), pagemapScanIoctl, uintptr(unsafe.Pointer(&arg)))
		if errno != 0 {
			return dst, false
		}
		for _, r := range scratch.regions[:n] {
			for a := r.start; a < r.end; a += pageSize {
				dst = append(dst, int32((a-base)/pageSize))
			}
		}
		// A full vector stops the walk early; it goes on from walkEnd.
		arg.start = arg.walkEnd
	}
	return dst, true
}

// pagemapScanWorks reports whether PAGEMAP_SCAN answers here, as it must: a
// page just written is found and nothing else.
var pagemapScanWorks = sync.OnceValue(func() bool {
	buf, err := unix.Mmap(-1, 0, 4*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return false
	}
	defer unix.Munmap(buf)
	buf[2*pageSize] = 1
	pages, ok := scanWrittenPages(buf, &pagemapScratch{}, nil)
	return ok && len(pages) == 1 && pages[0] == 2
})

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

// faultCount is the process's page faults so far, minor and major, or -1
// when getrusage fails.
func faultCount() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Minflt + ru.Majflt
}

// lastFaults is the latest fault count read, -1 before the first. A value
// loaded from it was read before the load, and the count only grows: so
// if the count is the same later, there was no fault between the load and
// then.
var lastFaults atomic.Int64

func init() { lastFaults.Store(-1) }
