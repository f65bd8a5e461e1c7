package runtime

import (
	"bytes"
	"slices"
	"testing"
)

// newTestSnapshot makes a snapshot of image alone (no module), as
// preinitialize would for a memory of that content.
func newTestSnapshot(t *testing.T, image []byte, max uint64) *snapshot {
	t.Helper()
	fd, err := memoryImage("test", image, max)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshot{fd: fd, size: uint64(len(image)), image: image, free: make(map[uint64][]*cowMemory)}
	t.Cleanup(s.close)
	return s
}

func testImage() []byte {
	image := make([]byte, 64<<10) // one wasm page: 16 system pages
	for i := range image[:pageSize] {
		image[i] = byte(i)
	}
	copy(image[9*pageSize:], "data in page nine")
	return image
}

// TestWrittenPages: pagemap tells the pages written through a private
// mapping from those only read or never touched, read entry by entry or
// asked for with PAGEMAP_SCAN.
func TestWrittenPages(t *testing.T) {
	if pagemap() == nil {
		t.Skip("/proc/self/pagemap is not readable here")
	}
	for _, tt := range []struct {
		name string
		find func([]byte, *pagemapScratch, []int32) ([]int32, bool)
	}{{"read", readWrittenPages}, {"scan", scanWrittenPages}, {"chosen", writtenPages}} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "scan" && !pagemapScanWorks() {
				t.Skip("no PAGEMAP_SCAN here (Linux 6.7)")
			}
			s := newTestSnapshot(t, testImage(), 1<<20)
			m := s.Allocate(64<<10, 1<<20).(*cowMemory)
			mem := m.Reallocate(128 << 10) // grown by a wasm page
			_ = mem[2*pageSize]            // read only
			mem[3*pageSize+7] = 1
			mem[4*pageSize] = 1 // a run of two
			mem[9*pageSize] = 'D'
			mem[20*pageSize] = 1 // in the grown part
			pages, ok := tt.find(mem, &pagemapScratch{}, nil)
			if !ok {
				t.Fatal("pagemap could not be read")
			}
			if want := []int32{3, 4, 9, 20}; !slices.Equal(pages, want) {
				t.Errorf("written pages %v, want %v", pages, want)
			}
		})
	}
}

// TestScanWrittenPagesManyRanges: more written ranges than the scan's
// vector holds are all found, the walk going on where it stopped.
func TestScanWrittenPagesManyRanges(t *testing.T) {
	if pagemap() == nil || !pagemapScanWorks() {
		t.Skip("no PAGEMAP_SCAN here (Linux 6.7)")
	}
	image := make([]byte, 256*pageSize)
	s := newTestSnapshot(t, image, uint64(len(image)))
	m := s.Allocate(uint64(len(image)), uint64(len(image))).(*cowMemory)
	mem := m.Reallocate(uint64(len(image)))
	var want []int32
	for p := 0; p < 256; p += 2 { // 128 ranges of one page
		mem[p*pageSize] = 1
		want = append(want, int32(p))
	}
	scratch := &pagemapScratch{}
	pages, ok := scanWrittenPages(mem, scratch, nil)
	if !ok || !slices.Equal(pages, want) {
		t.Errorf("found %v (ok %v), want %v", pages, ok, want)
	}
	if len(scratch.regions) >= 128 {
		t.Errorf("the vector held all %d ranges at once: the walk was not resumed", len(scratch.regions))
	}
}

// TestResetRestoresImage: after any writes, reset makes the memory read as
// the image, with zeros past it, through each of the reset paths.
func TestResetRestoresImage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		dirty  int  // pages written
		noCopy bool // an anonymous copy of the image (no pagemap)
	}{
		{name: "few pages copied back", dirty: 5},
		{name: "too many pages: MADV_DONTNEED", dirty: dirtyCopyMax/pageSize + 10},
		{name: "anonymous copy", dirty: 5, noCopy: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			image := testImage()
			s := newTestSnapshot(t, image, 64<<20)
			m := s.Allocate(64<<10, 64<<20).(*cowMemory)
			if tt.noCopy {
				m.cow = false
				copy(m.buf, image)
			}
			size := uint64(len(image)) + uint64(tt.dirty)*pageSize
			for round := range 3 {
				mem := m.Reallocate(size)
				for p := range tt.dirty {
					mem[p*pageSize+round] = 0xEE
				}
				if err := m.reset(-1); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.buf[:len(image)], image) {
					t.Fatalf("round %d: the image part differs after reset", round)
				}
				if i := slices.IndexFunc(m.buf[len(image):size], func(b byte) bool { return b != 0 }); i >= 0 {
					t.Fatalf("round %d: byte %d past the image is not zero after reset", round, len(image)+i)
				}
			}
		})
	}
}

// TestResetAfterNewPages: a reset that may skip asking pagemap (no fault
// in the process since the guest started) still restores a page written
// for the first time, because that write was a fault.
func TestResetAfterNewPages(t *testing.T) {
	if pagemap() == nil {
		t.Skip("/proc/self/pagemap is not readable here")
	}
	image := testImage()
	s := newTestSnapshot(t, image, 1<<20)
	m := s.Allocate(64<<10, 1<<20).(*cowMemory)
	mem := m.Reallocate(128 << 10)
	mem[3*pageSize] = 0xEE
	if err := m.reset(-1); err != nil || !m.known {
		t.Fatalf("first reset: %v, known %v", err, m.known)
	}
	for round, page := range []int{3, 3, 7, 20, 3} {
		since := lastFaults.Load()
		before := faultCount()
		mem[page*pageSize+1] = 0xEE
		if page != 3 && faultCount() == before {
			t.Fatalf("writing page %d for the first time was not counted as a fault", page)
		}
		if err := m.reset(since); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.buf[:len(image)], image) || slices.ContainsFunc(m.buf[len(image):128<<10], func(b byte) bool { return b != 0 }) {
			t.Fatalf("round %d (page %d): the memory differs from the image after reset", round, page)
		}
	}
	if want := []int32{3, 7, 20}; !slices.Equal(m.pages, want) {
		t.Errorf("known written pages %v, want %v", m.pages, want)
	}
}
