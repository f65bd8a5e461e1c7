package runtime

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// This file holds the limits that contain a hostile function: its memory,
// its CPU budget, how many of its instances may run at once, and how many
// instances one invocation may start below it. docs/reliability.md lists
// the threats they answer and the tests that prove them.

// wasmMaxPages is wasm32's whole address space, 4 GiB. wazero's own limit
// is set to it, and each function's max_memory is enforced by the memory
// allocator instead, because wazero's limit is one per runtime.
const wasmMaxPages = 65536

// ErrCPUBudget is the cause of an instance stopped for running guest code
// longer than its budget. The error Wait returns wraps it, and says
// Timeout() so the HTTP gateway answers 504.
var ErrCPUBudget = errors.New("CPU budget used up")

// ErrBusy is returned by Spawn when the function already runs as many
// instances as its max_concurrency allows. It wraps syscall.EAGAIN, which
// the HTTP gateway answers with 503 and Retry-After.
var ErrBusy = fmt.Errorf("too many instances running: %w", syscall.EAGAIN)

// ErrServerBusy is returned by Spawn when the runtime already holds
// Options.MaxInstances live instances. Like ErrBusy it wraps
// syscall.EAGAIN: the HTTP gateway answers 503 with Retry-After.
var ErrServerBusy = fmt.Errorf("too many instances alive in the server: %w", syscall.EAGAIN)

// acquireInstance takes one of the runtime's MaxInstances slots;
// releaseInstance gives it back once the instance has ended.
func (r *Runtime) acquireInstance() bool {
	n := r.live.Add(1)
	if r.opts.MaxInstances > 0 && n > int64(r.opts.MaxInstances) {
		r.live.Add(-1)
		return false
	}
	return true
}

func (r *Runtime) releaseInstance() { r.live.Add(-1) }

// LiveInstances returns how many instances are alive in the runtime now.
func (r *Runtime) LiveInstances() int { return int(r.live.Load()) }

// budgetError is the cause given to an instance's context when its CPU
// budget runs out.
type budgetError struct {
	budget time.Duration
}

func (e *budgetError) Error() string {
	return fmt.Sprintf("its CPU budget of %s is used up (raise cpu_budget in embly.hcl if it needs more)", e.budget)
}

// Timeout reports true: for a client, a blown budget is a timeout (504).
func (e *budgetError) Timeout() bool { return true }

func (e *budgetError) Is(target error) bool { return target == ErrCPUBudget }

// A CPU budget stops an instance that runs guest code longer than its
// cpu_budget. wazero has no CPU accounting, so the budget counts wall-clock
// time on the instance's goroutine minus the time it spends blocked in a
// host call that waits (_events with a timeout, poll_oneoff): the instance
// pauses its count around those waits. The watch (watch.go) cancels the
// instance's context once the count passes the budget, and sets its
// interrupt global, which stops the guest wherever it is (every loop
// iteration checks it: wasmfile.Interruptible); run then reports
// ErrCPUBudget rather than a plain cancellation.

// limitedAllocator hands out linear memories of at most limit bytes: past
// it, memory.grow returns -1 inside the guest, and the guest decides what
// to do (C's malloc returns NULL; Go and Rust abort, which is a trap).
type limitedAllocator struct {
	next  experimental.MemoryAllocator
	limit uint64
}

// Allocate implements experimental.MemoryAllocator.
func (a limitedAllocator) Allocate(capacity, maximum uint64) experimental.LinearMemory {
	// A module whose initial memory exceeds the limit is refused by
	// CompileWith; cap still wins here, so instantiation never panics.
	return a.next.Allocate(capacity, max(capacity, min(maximum, a.limit)))
}

// checkMemory refuses a module whose memory starts larger than limit.
func checkMemory(name string, mems map[string]api.MemoryDefinition, limit uint64) error {
	for _, m := range mems {
		if start := uint64(m.Min()) * 65536; start > limit {
			return fmt.Errorf("function %q starts with %d MiB of memory, more than its max_memory of %d MiB; raise max_memory in embly.hcl",
				name, start>>20, limit>>20)
		}
	}
	return nil
}

// acquire takes one of fn's max_concurrency slots; release gives it back.
func (fn *function) acquire() bool {
	if fn.opts.MaxConcurrency <= 0 {
		return true
	}
	if int(fn.running.Add(1)) > fn.opts.MaxConcurrency {
		fn.running.Add(-1)
		return false
	}
	return true
}

func (fn *function) release() {
	if fn.opts.MaxConcurrency > 0 {
		fn.running.Add(-1)
	}
}
