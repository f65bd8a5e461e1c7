package runtime

import (
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// A fresh instance per request must not mean a fresh linear memory per
// request from the Go heap: allocating and zeroing it, then collecting it,
// was the largest cost of an invocation. memoryPool hands out linear
// memories that live outside the Go heap, each a private anonymous mapping
// that reserves the module's maximum size up front (so the buffer never
// moves as the memory grows), and takes them back zeroed.
//
// Zeroing on release keeps instances isolated: no request ever sees a byte
// an earlier one wrote. Small memories are cleared with memclr, which keeps
// their pages resident; large ones are handed back to the kernel with
// MADV_DONTNEED, which is cheaper than touching every page and reads back as
// zeros.
type memoryPool struct {
	mu   sync.Mutex
	free map[uint64][]*mappedMemory // by reserved size
	// keep bounds how many idle memories of one size are kept.
	keep int
}

// clearInPlaceMax is the largest used size cleared with memclr rather than
// madvise.
const clearInPlaceMax = 1 << 20

func newMemoryPool(keep int) *memoryPool {
	return &memoryPool{free: make(map[uint64][]*mappedMemory), keep: keep}
}

// Allocate implements experimental.MemoryAllocator.
func (p *memoryPool) Allocate(_, max uint64) experimental.LinearMemory {
	p.mu.Lock()
	if list := p.free[max]; len(list) > 0 {
		m := list[len(list)-1]
		p.free[max] = list[:len(list)-1]
		p.mu.Unlock()
		return m
	}
	p.mu.Unlock()
	// A module without a declared maximum reserves the runtime's limit,
	// which wazero passes as max.
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		// Reallocate returning nil makes instantiation fail cleanly.
		return &mappedMemory{}
	}
	return &mappedMemory{pool: p, buf: buf}
}

func (p *memoryPool) release(m *mappedMemory) {
	if m.used <= clearInPlaceMax {
		clear(m.buf[:m.used])
	} else if err := syscall.Madvise(m.buf[:m.used], syscall.MADV_DONTNEED); err != nil {
		syscall.Munmap(m.buf)
		return
	}
	m.used = 0
	max := uint64(len(m.buf))
	p.mu.Lock()
	if len(p.free[max]) < p.keep {
		p.free[max] = append(p.free[max], m)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	syscall.Munmap(m.buf)
}

// Close unmaps every idle memory.
func (p *memoryPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for size, list := range p.free {
		for _, m := range list {
			syscall.Munmap(m.buf)
		}
		delete(p.free, size)
	}
}

// mappedMemory is one linear memory: buf is the whole reservation, used the
// high-water mark of what the instance has grown to.
type mappedMemory struct {
	pool *memoryPool
	buf  []byte
	used uint64
}

// Reallocate implements experimental.LinearMemory. Growing only moves the
// high-water mark: the pages are already reserved, and the kernel backs
// them on first touch.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	m.used = max(m.used, size)
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *mappedMemory) Free() {
	if m.pool != nil {
		m.pool.release(m)
	}
}
