package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/embly/embly/internal/bus"
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/wasmfile"
)

// instance is the host's state for one running wasm instance: its mailbox of
// conns and its children. Host functions find it in their context.
type instance struct {
	rt       *Runtime
	fn       *function
	ctx      context.Context
	mb       *bus.Mailbox
	children sync.WaitGroup
	live     atomic.Int32 // children still running
	ids      []int32      // scratch for _events
	watched  *watched     // its CPU budget and interrupt (watch.go)
	// tree counts the live descendants of the invocation this instance
	// belongs to, against Options.MaxDescendants; the root's own counter
	// is descendants.
	tree        *atomic.Int32
	descendants atomic.Int32
	// listeners are the addresses the instance published, and dials how
	// many conns it dialed (addr.go). Only its own goroutine uses them.
	listeners []*listener
	dials     int
	// onBlock, when set, is called once, before the instance first waits
	// (Invocation.RunInline).
	onBlock func()
}

// blocking is called when the instance cannot go on by itself: before it
// waits for anything, and when a read or a write found nothing to do (a
// guest may poll instead of waiting).
func (inst *instance) blocking() {
	if f := inst.onBlock; f != nil {
		inst.onBlock = nil
		f()
	}
}

type instanceKey struct{}

func instanceFrom(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// interruptGlobal returns mod's interrupt global (wasmfile.Interruptible),
// nil if it has none.
func interruptGlobal(mod api.Module) api.MutableGlobal {
	g, _ := mod.ExportedGlobal(wasmfile.InterruptExport).(api.MutableGlobal)
	return g
}

// errStopped ends an instance whose context ended while it waited in a host call.
var errStopped = errors.New("stopped")

// run instantiates fn with conn 1 wired to parent and runs its _start to the
// end. When it returns, every conn of the instance is closed and every child
// has ended.
//
// ctx must be the instance's own: cancel ends it, and run cancels it on the
// way out so that its children end with it. When outer is not nil, the
// instance also ends when outer does (see watch.add); ctx is detached from
// it.
func (r *Runtime) run(ctx, outer context.Context, cancel context.CancelCauseFunc, fn *function, parent *bus.Endpoint, onBlock func()) (err error) {
	r.running.Add(1)
	defer r.running.Done()
	inst := &instance{rt: r, fn: fn, mb: bus.NewMailbox(), onBlock: onBlock}
	inst.tree = &inst.descendants
	if p := instanceFrom(ctx); p != nil {
		inst.tree = p.tree
	}
	inst.ctx = context.WithValue(ctx, instanceKey{}, inst)
	inst.mb.Add(parent) // id 1
	inst.watched = r.watch.add(inst.ctx, outer, cancel, fn.opts.CPUBudget)
	defer func() {
		if r.watch.remove(inst.watched) {
			err = fmt.Errorf("function %q stopped: %w", fn.name, inst.watched.err())
		}
		inst.unlisten()
		inst.mb.Close()
		cancel(nil) // children end with their parent
		inst.children.Wait()
	}()

	out := newLineWriter(r.log, fn.logPrefix)
	defer out.Flush()
	if fn.snap != nil {
		return r.runSnapshot(inst, fn, out)
	}
	// The allocator is found through the context at instantiation only.
	instCtx := experimental.WithMemoryAllocator(inst.ctx, fn.alloc)
	mod, err := r.wz.InstantiateModule(instCtx, fn.compiled, fn.config.WithStdout(out).WithStderr(out))
	if err != nil {
		return fmt.Errorf("instantiating function %q: %w", fn.name, err)
	}
	defer mod.Close(context.Background())
	r.watch.attach(inst.watched, interruptGlobal(mod))
	defer r.watch.detach(inst.watched)
	_, err = mod.ExportedFunction(fn.entry).Call(inst.ctx)
	return exitError(ctx, fn.name, err)
}

// runSnapshot runs one invocation of a pre-initialized function in an
// instance reset to the snapshot (see snapshot.go).
func (r *Runtime) runSnapshot(inst *instance, fn *function, out *lineWriter) error {
	si, err := fn.snap.acquire(inst.ctx, r, fn)
	if err != nil {
		return fmt.Errorf("instantiating function %q: %w", fn.name, err)
	}
	si.out.set(out)
	si.begin(fn.snap)
	r.watch.attach(inst.watched, si.interrupt)
	faults := lastFaults.Load() // before the guest runs: see cowMemory.reset
	_, err = si.entry.Call(inst.ctx)
	// An instance whose interrupt was set is not kept.
	untouched := r.watch.detach(inst.watched)
	si.clock.pause()
	si.out.set(nil)
	fn.snap.put(si, err == nil && untouched, fn.reuse(), faults)
	return exitError(inst.ctx, fn.name, err)
}

// exitError turns how _start ended into the error Wait reports.
func exitError(ctx context.Context, name string, err error) error {
	if exit, ok := err.(*sys.ExitError); err == nil || ok && exit.ExitCode() == 0 {
		// How nearly every invocation ends, checked before errors.As,
		// which would allocate its target.
		return nil
	}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		return nil
	case ctx.Err() != nil || errors.Is(err, errStopped):
		return fmt.Errorf("function %q stopped: %w", name, context.Cause(ctx))
	case errors.As(err, &exit):
		return fmt.Errorf("function %q exited with code %d", name, exit.ExitCode())
	}
	return fmt.Errorf("function %q trapped: %s", name, strings.TrimSpace(err.Error()))
}

// spawnTarget starts what a _spawn names: "function/NAME", or a host service
// from the runtime's registry ("embly/http").
func (inst *instance) spawnTarget(target string) (int32, bus.Errno) {
	if fn, ok := strings.CutPrefix(target, "function/"); ok {
		return inst.spawn(fn)
	}
	if rest, ok := isAddr(target); ok {
		return inst.spawnAddr(rest)
	}
	return inst.spawnService(target)
}

// spawn starts a child instance of the named function with its conn 1 wired
// to a new conn of inst, and returns that conn's id.
func (inst *instance) spawn(name string) (int32, bus.Errno) {
	fn := inst.rt.function(name)
	if fn == nil {
		return 0, bus.ENOENT
	}
	if !inst.reserveChild() {
		return 0, bus.EAGAIN
	}
	if !inst.rt.acquireInstance() {
		inst.releaseChild()
		return 0, bus.EAGAIN
	}
	if !fn.acquire() {
		inst.rt.releaseInstance()
		inst.releaseChild()
		return 0, bus.EAGAIN
	}
	id, errno := inst.startChild(func(theirs *bus.Endpoint) {
		inst.rt.pool.run(func() {
			defer inst.childDone()
			defer inst.rt.releaseInstance()
			defer fn.release()
			ctx, cancel := context.WithCancelCause(inst.ctx)
			if err := inst.rt.run(ctx, nil, cancel, fn, theirs, nil); err != nil && inst.ctx.Err() == nil {
				fmt.Fprintf(inst.rt.log, "[%s]: child %s\n", inst.fn.name, err)
			}
		})
	})
	if errno != bus.ESUCCESS {
		fn.release()
		inst.rt.releaseInstance()
	}
	return id, errno
}

// spawnService starts a host service as a child of inst. A service counts
// against the same children limit as a function, and ends with inst: its
// context is inst's, and inst waits for it before it is done.
func (inst *instance) spawnService(target string) (int32, bus.Errno) {
	svc := inst.rt.opts.Services.Lookup(target)
	if svc == nil {
		return 0, bus.ENOENT
	}
	if !inst.reserveChild() {
		return 0, bus.EAGAIN
	}
	h, err := svc.Open(target, service.Caller{
		Function:     inst.fn.name,
		AllowedHosts: inst.fn.opts.AllowedHosts,
		Log:          newLineWriter(inst.rt.log, inst.fn.logPrefix),
	})
	if err != nil {
		inst.releaseChild()
		return 0, service.Errno(err)
	}
	return inst.startChild(func(theirs *bus.Endpoint) {
		mb := bus.NewMailbox()
		id, _ := mb.Add(theirs)
		conn := bus.NewConn(inst.ctx, mb, id)
		go func() {
			defer inst.childDone()
			defer mb.Close() // the instance reads EOF after what Serve wrote
			h.Serve(inst.ctx, conn)
		}()
	})
}

// reserveChild takes one of inst's child slots, and one of its
// invocation's descendant slots, if both are left.
func (inst *instance) reserveChild() bool {
	if int(inst.live.Add(1)) > inst.fn.opts.MaxChildren {
		inst.live.Add(-1)
		return false
	}
	if int(inst.tree.Add(1)) > inst.rt.opts.MaxDescendants {
		inst.releaseChild()
		return false
	}
	return true
}

// releaseChild gives back the slots reserveChild took.
func (inst *instance) releaseChild() {
	inst.live.Add(-1)
	inst.tree.Add(-1)
}

// startChild makes the conn to a child whose slot is reserved and calls
// start with the child's end; start must arrange for childDone to be called
// once the child has ended.
func (inst *instance) startChild(start func(theirs *bus.Endpoint)) (int32, bus.Errno) {
	mine, theirs := bus.NewPair(inst.rt.opts.Window)
	id, errno := inst.mb.Add(mine)
	if errno != bus.ESUCCESS {
		inst.releaseChild()
		return 0, errno
	}
	inst.children.Add(1)
	start(theirs)
	return id, bus.ESUCCESS
}

// childDone releases the slots of a child that has ended.
func (inst *instance) childDone() {
	inst.releaseChild()
	inst.children.Done()
}
