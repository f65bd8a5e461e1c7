package runtime

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/wasmfile"
)

// Exports of a pre-initializable module (a WASI reactor): the host runs
// InitExport once, snapshots the instance, and calls EntryExport in a fresh
// copy of that snapshot for every invocation. The Go SDK builds functions
// this way, so the Go runtime's start-up (milliseconds) runs once per
// compile instead of once per request.
const (
	InitExport  = "_initialize"
	EntryExport = "embly_main"
	// WarmupExport, if the module has it, runs after InitExport and before
	// the snapshot: the Go SDK takes a made-up request through its HTTP
	// path there, so lazy set-up is not redone by every invocation.
	WarmupExport = "embly_warmup"
)

// snapshot is a function's instance state right after InitExport: the
// memory image in a memfd, and the values of its mutable globals.
type snapshot struct {
	fd      int
	size    uint64            // bytes of linear memory at the snapshot
	globals []wasmfile.Global // exported by the rewritten module
	values  []uint64          // their values, in the same order
	mu      sync.Mutex        // guards free, idle and closed
	free    map[uint64][]*cowMemory
	idle    []*snapInstance
	closed  bool
	// nanotime is the guest's monotonic time at the snapshot: every fresh
	// invocation's clock starts there (clock.go).
	nanotime int64
	// limit is the function's max_memory, the size of the memfd and of
	// every mapping.
	limit uint64
	// image is the snapshot's memory, the source of resets (dirty.go), or
	// of the copy a small memory starts from when pagemap is unavailable.
	image []byte
}

// copyResetMax is, when /proc/self/pagemap cannot be read, the largest
// memory image restored by copying it whole rather than by a copy-on-write
// mapping reset with MADV_DONTNEED. The syscall costs several microseconds
// (it flushes the TLB of every CPU running the process), more than copying a
// C or Rust function's image of a few pages; a Go function's image of
// megabytes is cheaper to map.
const copyResetMax = 1 << 20

// snapInstance is an instance of a pre-initialized module that can serve
// invocation after invocation: between two, put resets its memory to the
// image and its globals to the snapshot, which is all the state a module has
// that its code can change, besides tables (see docs/performance.md).
// Instantiating a Go module anew costs more than the rest of a request
// (wazero fills its function table of thousands of entries each time).
type snapInstance struct {
	mod   api.Module
	entry api.Function
	mem   *cowMemory
	// globals are the module's exported mutable globals, looked up once:
	// a lookup by name on every reset cost more than setting them.
	globals   []api.MutableGlobal
	interrupt api.MutableGlobal
	out       *switchWriter
	clock     *guestClock
	// fresh: the instance is in the snapshot's state (new or reset), so
	// its clock resumes from the snapshot's; else from where it stopped.
	fresh bool
}

// begin prepares the instance's clock for an invocation.
func (si *snapInstance) begin(s *snapshot) {
	base := si.clock.nanotime()
	if si.fresh {
		base = s.nanotime
	}
	si.clock.resume(base)
}

// keepInstances bounds the idle instances a snapshot keeps.
const keepInstances = 64

// acquire returns an instance in the snapshot's state: an idle one, or a
// new one.
func (s *snapshot) acquire(ctx context.Context, r *Runtime, fn *function) (*snapInstance, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		si := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return si, nil
	}
	s.mu.Unlock()
	alloc := &capturingAllocator{snap: s}
	si := &snapInstance{out: &switchWriter{}, clock: &guestClock{base: s.nanotime}, fresh: true}
	mod, err := r.wz.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), fn.compiled,
		fn.config.WithStdout(si.out).WithStderr(si.out).WithNanotime(si.clock.nanotime, 1))
	if err != nil {
		return nil, err
	}
	si.mod, si.mem, si.entry = mod, alloc.got, mod.ExportedFunction(fn.entry)
	if si.mem == nil || si.entry == nil {
		mod.Close(context.Background())
		return nil, fmt.Errorf("the snapshot's module lost its memory or %s", fn.entry)
	}
	// A mapping kept from a closed instance knows its written pages, but
	// instantiating may have written more (a start function) before any
	// fault count is taken: its first reset asks pagemap.
	si.mem.known = false
	if si.globals, err = s.globalsOf(mod); err != nil {
		mod.Close(context.Background())
		return nil, err
	}
	s.restore(si.globals)
	si.interrupt = interruptGlobal(mod)
	return si, nil
}

// put takes si back after an invocation. Only an instance whose invocation
// ended cleanly is reset and kept; one that trapped, exited or was stopped
// is closed.
//
// With reuse the instance is kept as it was left, for the function's next
// invocation: its memory, globals and any state the guest keeps carry over.
// Only the stack pointer matters for calling the entry again, and a clean
// return leaves it where it started.
//
// since is the fault count loaded before the invocation (see reset).
func (s *snapshot) put(si *snapInstance, clean, reuse bool, since int64) {
	if clean && !si.mod.IsClosed() && (reuse || si.mem.reset(since) == nil) {
		if !reuse {
			s.restore(si.globals)
		}
		si.fresh = !reuse
		s.mu.Lock()
		if !s.closed && len(s.idle) < keepInstances {
			s.idle = append(s.idle, si)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	si.mod.Close(context.Background())
}

// capturingAllocator allocates from the snapshot and remembers the memory it
// gave, so the instance's memory can be reset later.
type capturingAllocator struct {
	snap *snapshot
	got  *cowMemory
}

func (a *capturingAllocator) Allocate(cap, max uint64) experimental.LinearMemory {
	m := a.snap.Allocate(cap, max)
	a.got, _ = m.(*cowMemory)
	return m
}

// switchWriter is an instance's stdout and stderr: it writes to the current
// invocation's log writer, or nowhere between invocations.
type switchWriter struct {
	mu sync.Mutex
	w  *lineWriter
}

func (s *switchWriter) set(w *lineWriter) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

// preinitialize compiles wasm, instantiates it in a throwaway instance (and,
// for a reactor, runs its InitExport and WarmupExport), and returns the
// module to instantiate per invocation plus its snapshot. For a command the
// snapshot is the state right after instantiation: data segments applied,
// globals initialized, so an invocation costs a reset instead of a new
// instance.
func (r *Runtime) preinitialize(ctx context.Context, name string, wasm []byte, reactor bool, maxMemory uint64) (wazero.CompiledModule, *snapshot, error) {
	exported, globals, err := wasmfile.ExportGlobals(wasm)
	if err != nil {
		return nil, nil, err
	}
	compiled, err := r.wz.CompileModule(ctx, exported)
	if err != nil {
		return nil, nil, err
	}
	defer compiled.Close(ctx)

	out := newLineWriter(r.log, "["+name+"]: ")
	defer out.Flush()
	inst := &instance{rt: r, mb: bus.NewMailbox(), fn: &function{name: name}}
	initCtx := context.WithValue(ctx, instanceKey{}, inst)
	clock := &guestClock{}
	clock.resume(0)
	limited := experimental.WithMemoryAllocator(initCtx, limitedAllocator{next: r.mems, limit: maxMemory})
	mod, err := r.wz.InstantiateModule(limited, compiled,
		r.moduleConfig(name).WithStdout(out).WithStderr(out).WithNanotime(clock.nanotime, 1))
	if err != nil {
		return nil, nil, err
	}
	defer mod.Close(ctx)
	mem := mod.Memory()
	if mem == nil {
		return nil, nil, fmt.Errorf("%w: it has no memory", wasmfile.ErrUnsupported)
	}
	if reactor {
		if _, err := mod.ExportedFunction(InitExport).Call(initCtx); err != nil {
			return nil, nil, exitError(ctx, name, err)
		}
		if warmup := mod.ExportedFunction(WarmupExport); warmup != nil {
			if _, err := warmup.Call(initCtx); err != nil {
				return nil, nil, exitError(ctx, name, err)
			}
		}
	}

	snap := &snapshot{globals: globals, free: make(map[uint64][]*cowMemory), nanotime: clock.nanotime(), limit: maxMemory}
	for _, g := range globals {
		snap.values = append(snap.values, mod.ExportedGlobal(g.ExportName()).Get())
	}
	image, _ := mem.Read(0, mem.Size())
	snap.size = uint64(len(image))
	snap.image = append([]byte(nil), image...)
	if snap.fd, err = memoryImage(name, image, maxMemory); err != nil {
		return nil, nil, err
	}
	restored, err := wasmfile.Snapshot(exported, uint32(snap.size/65536))
	if err != nil {
		snap.close()
		return nil, nil, err
	}
	rc, err := r.wz.CompileModule(ctx, restored)
	if err != nil {
		snap.close()
		return nil, nil, err
	}
	return rc, snap, nil
}

// memoryImage writes image into a new memfd as large as the memory may
// grow: pages past the image are holes that read as zeros, so a mapping of
// the whole reservation never faults past the end of the file.
func memoryImage(name string, image []byte, max uint64) (int, error) {
	fd, err := unix.MemfdCreate("embly-snapshot-"+name, unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("creating the memory snapshot of %q: %w", name, err)
	}
	if err := unix.Ftruncate(fd, int64(max)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Write only pages with data, so the zero pages stay holes.
	const page = 4096
	for off := 0; off < len(image); off += page {
		chunk := image[off:min(off+page, len(image))]
		if isZero(chunk) {
			continue
		}
		if _, err := unix.Pwrite(fd, chunk, int64(off)); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// globalsOf returns mod's exported mutable globals, in the snapshot's order.
func (s *snapshot) globalsOf(mod api.Module) ([]api.MutableGlobal, error) {
	gs := make([]api.MutableGlobal, len(s.globals))
	for i, g := range s.globals {
		mg, ok := mod.ExportedGlobal(g.ExportName()).(api.MutableGlobal)
		if !ok {
			return nil, fmt.Errorf("global %d is not exported as mutable", g.Index)
		}
		gs[i] = mg
	}
	return gs, nil
}

// restore sets an instance's globals (from globalsOf) to the snapshot's
// values.
func (s *snapshot) restore(gs []api.MutableGlobal) {
	for i, g := range gs {
		g.Set(s.values[i])
	}
}

// Allocate implements experimental.MemoryAllocator: a private copy-on-write
// mapping of the image. Pages an invocation reads are shared with every other
// invocation; pages it writes become its own.
func (s *snapshot) Allocate(_, max uint64) experimental.LinearMemory {
	// The memfd is as large as the function's max_memory: mapping past it
	// would fault.
	if s.limit > 0 {
		max = min(max, s.limit)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return &cowMemory{}
	}
	if list := s.free[max]; len(list) > 0 {
		m := list[len(list)-1]
		s.free[max] = list[:len(list)-1]
		s.mu.Unlock()
		return m
	}
	s.mu.Unlock()
	m := &cowMemory{snap: s, cow: pagemap() != nil || len(s.image) > copyResetMax}
	fd, flags := s.fd, syscall.MAP_PRIVATE|syscall.MAP_NORESERVE
	if !m.cow {
		fd, flags = -1, flags|syscall.MAP_ANONYMOUS
	}
	buf, err := syscall.Mmap(fd, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, flags)
	if err != nil {
		return &cowMemory{}
	}
	if m.cow {
		// A transparent huge page would make every reset copy 2 MiB
		// for one written byte.
		_ = syscall.Madvise(buf, unix.MADV_NOHUGEPAGE)
	} else {
		copy(buf, s.image)
	}
	m.buf = buf
	return m
}

// keepMappings bounds the idle mappings a snapshot keeps for reuse.
const keepMappings = 256

// release resets m to the image and keeps it for the next instance.
func (s *snapshot) release(m *cowMemory) {
	if err := m.reset(-1); err != nil {
		syscall.Munmap(m.buf)
		return
	}
	m.used = 0
	max := uint64(len(m.buf))
	s.mu.Lock()
	if !s.closed && len(s.free[max]) < keepMappings {
		s.free[max] = append(s.free[max], m)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	syscall.Munmap(m.buf)
}

// close releases the image and the idle mappings. Instances still running
// keep their mappings, which stay valid after the fd is closed.
func (s *snapshot) close() {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	// Without the lock: closing a module frees its memory, which comes
	// back through release and takes the lock. Once closed, release unmaps
	// instead of keeping.
	for _, si := range idle {
		si.mod.Close(context.Background())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for size, list := range s.free {
		for _, m := range list {
			syscall.Munmap(m.buf)
		}
		delete(s.free, size)
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// cowMemory is one invocation's linear memory over the snapshot image.
type cowMemory struct {
	snap *snapshot
	buf  []byte
	used uint64
	// cow: buf is a private mapping of the image's memfd; otherwise an
	// anonymous mapping holding a copy of a small image.
	cow bool
	// Scratch of reset: finding the written pages, and their indexes.
	scratch pagemapScratch
	pages   []int32
	// known: pages is every page of buf that is the process's own, as
	// the latest scan found them (dirty.go); a reset after MADV_DONTNEED
	// or a failed scan must ask again.
	known bool
}

// Reallocate implements experimental.LinearMemory.
func (m *cowMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	m.used = max(m.used, size)
	return m.buf[:size:size]
}

// reset makes the memory read as the image again. A mapping of the memfd
// gets the image copied back into the pages the guest wrote (dirty.go), or,
// when there are too many or pagemap cannot tell, MADV_DONTNEED drops them.
// An anonymous memory gets the whole image copied back.
//
// since is a fault count (lastFaults) loaded before the guest last ran, or
// -1: when the process has had no fault since, the pages written are those
// the latest scan found, and they are copied back without asking pagemap.
func (m *cowMemory) reset(since int64) error {
	used := m.buf[:m.used]
	if !m.cow {
		copy(m.buf, m.snap.image)
		clear(m.buf[len(m.snap.image):max(m.used, uint64(len(m.snap.image)))])
		return nil
	}
	now := faultCount()
	if now >= 0 {
		lastFaults.Store(now)
	}
	if m.known && since >= 0 && now == since {
		copyBack(used, m.snap.image, m.pages)
		return nil
	}
	pages, ok := writtenPages(used, &m.scratch, m.pages[:0])
	m.pages = pages
	if ok && len(pages)*pageSize <= dirtyCopyMax {
		copyBack(used, m.snap.image, pages)
		m.known = true
		return nil
	}
	m.known = false
	return syscall.Madvise(used, syscall.MADV_DONTNEED)
}

// Free implements experimental.LinearMemory.
func (m *cowMemory) Free() {
	if m.snap != nil {
		m.snap.release(m)
	}
}
