// Package runtime runs Embly functions: it compiles wasm modules with wazero
// (keeping the machine code in an on-disk cache), gives every invocation a
// fresh instance with its own memory and mailbox, and provides the WASI
// subset and the `embly` host module that instances talk through.
package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/wasmfile"
)

// Defaults for Options fields left zero. Each is documented in docs/abi.md.
const (
	// DefaultMaxMemory is the linear memory cap of an instance: 128 MiB.
	DefaultMaxMemory = 128 << 20
	// DefaultMaxChildren is how many live children one instance may have.
	DefaultMaxChildren = 1024
	// DefaultCPUBudget is how long one invocation may run guest code: long
	// enough for any real request, short enough that a spinning loop does
	// not hold a CPU for long. Time blocked waiting does not count.
	DefaultCPUBudget = 30 * time.Second
	// DefaultMaxDescendants is how many instances may live below one
	// invocation, children of children included (or MaxChildren, when that
	// is larger). max_children bounds one instance's children; without
	// this, a function that spawns itself would grow a tree of
	// max_children to the power of its depth. 2048 leaves room for a
	// 1000-way fan-out whose workers spawn once more, and bounds what one
	// request can hold (each live C instance costs the host about 130 KiB).
	DefaultMaxDescendants = 2048
)

// Options configure a Runtime. The zero value is usable.
type Options struct {
	// CacheDir holds wazero's compilation cache so a restart does not
	// recompile. Empty keeps compiled code in memory only.
	CacheDir string
	// Log receives what functions write to stdout and stderr, one line at a
	// time, prefixed with "[NAME]: ". Nil discards it.
	Log io.Writer
	// MaxMemory caps each instance's linear memory, in bytes, for functions
	// whose FunctionOptions.MaxMemory is zero.
	MaxMemory uint32
	// CPUBudget bounds the time one invocation runs guest code, for
	// functions whose FunctionOptions.CPUBudget is zero.
	CPUBudget time.Duration
	// MaxDescendants caps the live instances (and services) below one
	// invocation started by Spawn; past it _spawn returns EAGAIN.
	MaxDescendants int
	// MaxChildren caps the live children of one instance; past it _spawn
	// returns EAGAIN.
	MaxChildren int
	// MaxInstances caps the wasm instances alive at once in the whole
	// runtime, every request and function included, so that many
	// concurrent spawn bombs cannot exhaust the host's memory (each live
	// instance costs about 130 KiB and up to its max_memory). Past it
	// Spawn returns ErrServerBusy (503 with Retry-After at the gateway)
	// and _spawn EAGAIN. 0 means no limit.
	MaxInstances int
	// Window is the per-direction buffer of every conn, in bytes.
	Window int
	// Services are the host services instances may spawn ("embly/http").
	// Nil: none, and _spawn of such a target returns ENOENT.
	Services *service.Registry
}

// Runtime compiles and runs the functions of one project.
type Runtime struct {
	opts  Options
	wz    wazero.Runtime
	cache wazero.CompilationCache
	log   *lockedWriter
	mems  *memoryPool
	pool  *workers

	// live counts the instances alive in the runtime, against
	// Options.MaxInstances.
	live atomic.Int64
	// addrs holds the addresses instances published (addr.go).
	addrs addrBook

	mu        sync.RWMutex
	functions map[string]*function

	// watch stops instances (watch.go); Close stops every running one
	// through it and waits for running to drain before closing wazero
	// under them.
	watch   *watch
	running sync.WaitGroup
}

// function is a compiled module ready to be instantiated.
type function struct {
	name string
	// logPrefix starts every line its instances log: "[name]: ", made once
	// rather than per invocation.
	logPrefix string
	compiled  wazero.CompiledModule
	config    wazero.ModuleConfig
	// entry is the export each invocation calls: _start, or EntryExport
	// for a pre-initialized module.
	entry string
	// snap, when set, is the state every invocation starts from.
	snap *snapshot
	opts FunctionOptions
	// alloc gives instances memories of at most opts.MaxMemory.
	alloc experimental.MemoryAllocator
	// running counts live instances, against opts.MaxConcurrency.
	running atomic.Int32
}

// FunctionOptions are the per-function settings of embly.hcl.
type FunctionOptions struct {
	// Reuse skips the reset between invocations of a reactor: an instance
	// that ended cleanly serves the next invocation as it was left. A
	// command's _start is not re-entrant (Rust's std aborts when it runs a
	// second time), so commands are reset whatever Reuse says.
	Reuse bool
	// MaxChildren caps the live children of one instance; 0 means the
	// runtime's Options.MaxChildren.
	MaxChildren int
	// AllowedHosts is the function's allowed_hosts: what the embly/http
	// service lets it reach. Services receive it in service.Caller.
	AllowedHosts []string
	// MaxMemory caps each instance's linear memory, in bytes (at most
	// 4 GiB); 0 means the runtime's Options.MaxMemory.
	MaxMemory uint64
	// CPUBudget bounds the time one invocation runs guest code; 0 means
	// the runtime's Options.CPUBudget.
	CPUBudget time.Duration
	// MaxConcurrency caps the instances of the function alive at once:
	// past it Spawn returns ErrBusy and _spawn EAGAIN. 0 means no limit.
	MaxConcurrency int
}

// reuse reports whether an instance is kept as it was left between
// invocations (see FunctionOptions.Reuse).
func (fn *function) reuse() bool {
	return fn.opts.Reuse && fn.entry == EntryExport
}

func (fn *function) close(ctx context.Context) {
	fn.compiled.Close(ctx)
	if fn.snap != nil {
		fn.snap.close()
	}
}

// New returns a Runtime with the WASI subset and the embly host module
// registered. Close it to release compiled code.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.MaxMemory == 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.MaxChildren == 0 {
		opts.MaxChildren = DefaultMaxChildren
	}
	if opts.Window == 0 {
		opts.Window = bus.DefaultWindow
	}
	if opts.CPUBudget <= 0 {
		opts.CPUBudget = DefaultCPUBudget
	}
	if opts.MaxDescendants <= 0 {
		opts.MaxDescendants = max(DefaultMaxDescendants, opts.MaxChildren)
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	cfg := wazero.NewRuntimeConfigCompiler().
		// Each function's max_memory is enforced by its allocator
		// (limits.go); wazero's limit is one for the whole runtime.
		WithMemoryLimitPages(wasmMaxPages).
		// An instance whose request ended (client gone, parent ended)
		// must stop even inside a loop that never calls the host. wazero
		// can see to it (WithCloseOnContextDone), but by calling into Go at
		// every loop iteration, which halved the speed of Go and Rust
		// functions; modules are instrumented instead (interrupt.go).
		WithCloseOnContextDone(false)
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("opening the compilation cache in %s: %w", opts.CacheDir, err)
		}
		cfg = cfg.WithCompilationCache(cache)
	}
	mems := newMemoryPool(256)
	r := &Runtime{
		watch:     newWatch(),
		mems:      mems,
		pool:      newWorkers(),
		opts:      opts,
		wz:        wazero.NewRuntimeWithConfig(ctx, cfg),
		cache:     cache,
		log:       &lockedWriter{w: log},
		functions: make(map[string]*function),
	}
	if err := r.instantiateWASI(ctx); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("registering WASI: %w", err)
	}
	if err := r.instantiateHostModule(ctx); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("registering the embly host module: %w", err)
	}
	return r, nil
}

// Close releases every compiled module. Running instances are stopped.
func (r *Runtime) Close(ctx context.Context) error {
	r.watch.close()
	r.running.Wait()
	err := r.wz.Close(ctx)
	r.mems.Close()
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// Compile compiles wasm (served from the cache when it was compiled before)
// and makes it available as function name with default options, replacing
// any previous version. It returns how long compilation took.
func (r *Runtime) Compile(ctx context.Context, name string, wasm []byte) (time.Duration, error) {
	return r.CompileWith(ctx, name, wasm, FunctionOptions{})
}

// CompileWith is Compile with the function's options.
func (r *Runtime) CompileWith(ctx context.Context, name string, wasm []byte, opts FunctionOptions) (time.Duration, error) {
	start := time.Now()
	if opts.MaxChildren <= 0 {
		opts.MaxChildren = r.opts.MaxChildren
	}
	if opts.MaxMemory == 0 {
		opts.MaxMemory = uint64(r.opts.MaxMemory)
	}
	opts.MaxMemory = min(opts.MaxMemory, wasmMaxPages*65536)
	if opts.CPUBudget <= 0 {
		opts.CPUBudget = r.opts.CPUBudget
	}
	exports, err := wasmfile.FunctionExports(wasm)
	if err != nil {
		return 0, fmt.Errorf("compiling function %q: %w", name, err)
	}
	// Go's jumps between blocks are made direct where they can be, before
	// the loops are instrumented: a direct jump forward needs no check.
	if wasm, err = wasmfile.DirectJumps(wasm); err != nil {
		return 0, fmt.Errorf("compiling function %q: %w", name, err)
	}
	// Every module gets its loops checked, so a running instance can be
	// stopped (interrupt.go).
	if wasm, err = wasmfile.Interruptible(wasm); err != nil {
		return 0, fmt.Errorf("compiling function %q: %w", name, err)
	}
	fn := &function{name: name, logPrefix: "[" + name + "]: ", config: r.moduleConfig(name), opts: opts,
		alloc: limitedAllocator{next: r.mems, limit: opts.MaxMemory}}
	switch {
	case exports[InitExport] && exports[EntryExport]:
		fn.entry = EntryExport
		if fn.compiled, fn.snap, err = r.preinitialize(ctx, name, wasm, true, opts.MaxMemory); err != nil {
			return 0, fmt.Errorf("initializing function %q: %w", name, err)
		}
	case exports["_start"]:
		fn.entry = "_start"
		fn.compiled, fn.snap, err = r.preinitialize(ctx, name, wasm, false, opts.MaxMemory)
		if err != nil {
			// A module the snapshot cannot handle still runs, with a new
			// instance per invocation.
			if fn.compiled, err = r.wz.CompileModule(ctx, wasm); err != nil {
				return 0, fmt.Errorf("compiling function %q: %w", name, err)
			}
		}
	default:
		return 0, fmt.Errorf("function %q exports neither _start nor %s and %s: build it as a WASI command (a main function)",
			name, InitExport, EntryExport)
	}
	if err := checkMemory(name, fn.compiled.ExportedMemories(), opts.MaxMemory); err != nil {
		fn.close(ctx)
		return 0, err
	}
	if opts.Reuse && fn.entry != EntryExport {
		fmt.Fprintf(r.log, "[%s]: reuse = true has no effect: the module is a command, whose _start may run only once per instance; each invocation still starts from a reset instance\n", name)
	}
	r.mu.Lock()
	old := r.functions[name]
	r.functions[name] = fn
	r.mu.Unlock()
	if old != nil {
		old.close(ctx)
	}
	return time.Since(start), nil
}

// moduleConfig is the WASI configuration of every instance of function name.
func (r *Runtime) moduleConfig(name string) wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		// Instances are anonymous so any number can run at once.
		WithName("").
		// The entry point is called by run, so the instance's context and
		// errors are ours to shape.
		WithStartFunctions().
		WithArgs(name).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep()
}

func (r *Runtime) function(name string) *function {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.functions[name]
}

// Invocation is a running instance seen from the Go actor that started it:
// the Go side of the instance's conn 1, and how the instance ended.
type Invocation struct {
	*bus.Conn
	done chan struct{}
	err  error
	stop context.CancelCauseFunc
	rt   *Runtime
	// job runs the instance to its end; Start or RunInline calls it once.
	job func(onBlock func())
}

// Stop ends the instance now, if it is still running; Wait then reports
// that it was stopped.
func (inv *Invocation) Stop() { inv.stop(nil) }

// Wait blocks until the instance has ended and its children are gone. It
// returns nil when _start returned or the function called proc_exit(0).
func (inv *Invocation) Wait() error {
	<-inv.done
	return inv.err
}

// Done is closed when the instance has ended; Wait then returns at once.
func (inv *Invocation) Done() <-chan struct{} { return inv.done }

// ErrNoFunction is returned by Spawn for a name the project does not have.
var ErrNoFunction = errors.New("no such function")

// Spawn starts a fresh instance of the named function and returns the Go
// side of its conn 1. Cancelling ctx stops the instance.
func (r *Runtime) Spawn(ctx context.Context, name string) (*Invocation, error) {
	inv, err := r.Prepare(ctx, name)
	if err != nil {
		return nil, err
	}
	inv.Start()
	return inv, nil
}

// Prepare is Spawn without the start: the caller may write the instance's
// first input into its conn 1 (as far as the window takes it), then must
// call exactly one of Start or RunInline.
func (r *Runtime) Prepare(ctx context.Context, name string) (*Invocation, error) {
	fn := r.function(name)
	if fn == nil {
		return nil, fmt.Errorf("%w %q", ErrNoFunction, name)
	}
	if !r.acquireInstance() {
		return nil, fmt.Errorf("function %q: %d instances are alive in the server, its max_instances: %w", name, r.opts.MaxInstances, ErrServerBusy)
	}
	if !fn.acquire() {
		r.releaseInstance()
		return nil, fmt.Errorf("function %q runs %d instances, its max_concurrency: %w", name, fn.opts.MaxConcurrency, ErrBusy)
	}
	mine, theirs := bus.NewPair(r.opts.Window)
	mb := bus.NewMailbox()
	id, _ := mb.Add(mine)
	// The instance's context has ctx's values but not its cancellation:
	// the watch ends the instance when ctx ends, within watchPeriod.
	// Registering as a child of ctx, and leaving it again, cost about a
	// microsecond per request, 3-4% of a C hello's CPU time under load.
	// The watch polls outer.Err(), which a context that never ends answers
	// cheaply; leaving such contexts out by outer.Done() == nil would make
	// the request context's channel, an allocation per request.
	outer := ctx
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	inv := &Invocation{Conn: bus.NewConn(ctx, mb, id), done: make(chan struct{}), stop: cancel, rt: r}
	inv.job = func(onBlock func()) {
		defer close(inv.done)
		defer r.releaseInstance()
		defer fn.release()
		inv.err = r.run(ctx, outer, cancel, fn, theirs, onBlock)
	}
	return inv, nil
}

// Start runs a prepared instance on a worker goroutine.
func (inv *Invocation) Start() {
	job := inv.job
	inv.job = nil
	inv.rt.pool.run(func() { job(nil) })
}

// RunInline runs a prepared instance on the calling goroutine and returns
// once it has ended. It spares the hand-over to a worker and back, which
// is a good part of serving a small request; but the caller cannot read
// the instance's output while it runs. So onBlock, if not nil, is called
// (on this goroutine) the first time the instance is about to wait for
// anything: news on a conn, a window to reopen, time to pass. From then on
// the caller must read the output elsewhere, or the instance may wait
// forever. An instance that never waits (a small response to a request
// already in its conn 1) runs start to end without onBlock.
func (inv *Invocation) RunInline(onBlock func()) {
	job := inv.job
	inv.job = nil
	job(onBlock)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
