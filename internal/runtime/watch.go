package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// watchPeriod is how often the watch looks at the running instances: how
// late, at most, a spent CPU budget or an ended context stops a guest that
// never calls the host.
const watchPeriod = 5 * time.Millisecond

// watch stops running instances, one goroutine for all of them. It cancels
// an instance whose CPU budget ran out or whose caller's context ended (an
// invocation's context is detached from its caller's, see
// Runtime.Prepare), and sets the interrupt global
// (wasmfile.Interruptible) of an instance whose context ended, so a guest in
// a loop that never calls the host traps at its next iteration; a guest
// waiting in a host call is woken by the context itself. Runtime.Close
// cancels every instance through it.
//
// It replaced a timer and two context.AfterFunc per invocation: registering
// here is a mutex and a slice, and a budget that pauses around every wait
// of a streaming function is two atomic stores. The price is that stopping
// a spinning guest takes up to watchPeriod longer.
type watch struct {
	mu      sync.Mutex
	nonzero *sync.Cond // signalled when items stops being empty, and on close
	items   []*watched
	closed  bool
	done    chan struct{}
}

// watched is one running instance, from run's start to its end.
type watched struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	// outer, when not nil, is the context of the invocation's caller, which
	// ctx is detached from: when it ends, the watch cancels ctx with its
	// cause.
	outer  context.Context
	budget time.Duration // 0: none
	// used is the guest time of the runs before the current one; since is
	// when the current run began (monotonic, see now), or 0 while the
	// instance waits. Only the instance's goroutine writes them.
	used  atomic.Int64
	since atomic.Int64
	fired atomic.Bool // the budget ran out, and the watch cancelled

	// Under watch.mu, but for add setting outerEnded before x is in items.
	outerEnded bool // outer ended, and the watch cancelled
	index      int
	interrupt  api.MutableGlobal // the running module's, while attached
	tripped    bool              // interrupt was set since attach
}

// epoch makes now monotonic and never 0.
var epoch = time.Now().Add(-time.Second)

func now() int64 { return int64(time.Since(epoch)) }

func newWatch() *watch {
	w := &watch{done: make(chan struct{})}
	w.nonzero = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// add starts watching an instance whose context is ctx, running guest code
// from now on, and ending with outer if that is not nil. A closed watch
// cancels it at once, and so does an outer that has already ended.
func (w *watch) add(ctx, outer context.Context, cancel context.CancelCauseFunc, budget time.Duration) *watched {
	x := &watched{ctx: ctx, cancel: cancel, outer: outer, budget: budget}
	x.since.Store(now())
	if outer != nil && outer.Err() != nil {
		x.outerEnded = true
		cancel(context.Cause(outer))
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		cancel(nil)
		return x
	}
	x.index = len(w.items)
	w.items = append(w.items, x)
	if len(w.items) == 1 {
		w.nonzero.Signal()
	}
	w.mu.Unlock()
	return x
}

// remove stops watching x, and reports whether its budget ran out.
func (w *watch) remove(x *watched) bool {
	w.mu.Lock()
	if i := x.index; i < len(w.items) && w.items[i] == x {
		last := w.items[len(w.items)-1]
		w.items[i], last.index = last, i
		w.items[len(w.items)-1] = nil
		w.items = w.items[:len(w.items)-1]
	}
	w.mu.Unlock()
	return x.fired.Load()
}

// attach gives the watch the interrupt global of the module x runs now.
func (w *watch) attach(x *watched, g api.MutableGlobal) {
	w.mu.Lock()
	x.interrupt, x.tripped = g, false
	if g != nil && x.ctx.Err() != nil {
		g.Set(1)
		x.tripped = true
	}
	w.mu.Unlock()
}

// detach takes the global back once the module's call has returned, and
// reports whether it is untouched: an instance whose interrupt was set must
// not be kept.
func (w *watch) detach(x *watched) (untouched bool) {
	w.mu.Lock()
	x.interrupt = nil
	untouched = !x.tripped
	w.mu.Unlock()
	return untouched
}

// pause stops counting x's budget: the instance is about to wait.
func (x *watched) pause() {
	if x == nil {
		return
	}
	if s := x.since.Swap(0); s != 0 {
		x.used.Add(now() - s)
	}
}

// resume counts again: the instance is back from a wait.
func (x *watched) resume() {
	if x != nil {
		x.since.Store(now())
	}
}

// spent is x's guest time so far. Read from another goroutine it may miss
// the run that just ended, never count one twice: pause clears since before
// it adds to used, and spent reads used first.
func (x *watched) spent(at int64) time.Duration {
	used := x.used.Load()
	if s := x.since.Load(); s != 0 {
		used += at - s
	}
	return time.Duration(used)
}

// err is the error of an instance whose budget ran out.
func (x *watched) err() error { return &budgetError{budget: x.budget} }

// stopping is a cancellation the watch found due, made outside its lock.
type stopping struct {
	cancel context.CancelCauseFunc
	cause  error
}

func (w *watch) loop() {
	defer close(w.done)
	var stop []stopping
	for {
		w.mu.Lock()
		for len(w.items) == 0 && !w.closed {
			w.nonzero.Wait()
		}
		if w.closed {
			w.mu.Unlock()
			return
		}
		at := now()
		for _, x := range w.items {
			switch {
			case x.budget > 0 && !x.fired.Load() && x.spent(at) >= x.budget:
				x.fired.Store(true)
				stop = append(stop, stopping{cancel: x.cancel})
				w.trip(x)
			case x.outer != nil && !x.outerEnded && x.outer.Err() != nil:
				x.outerEnded = true
				stop = append(stop, stopping{x.cancel, context.Cause(x.outer)})
				w.trip(x)
			case x.interrupt != nil && !x.tripped && x.ctx.Err() != nil:
				w.trip(x)
			}
		}
		w.mu.Unlock()
		// Outside the lock: cancelling runs the context's AfterFuncs.
		for i, s := range stop {
			s.cancel(s.cause)
			stop[i] = stopping{}
		}
		stop = stop[:0]
		time.Sleep(watchPeriod)
	}
}

// trip sets x's interrupt global, if a module is attached. w.mu is held.
func (w *watch) trip(x *watched) {
	if x.interrupt != nil && !x.tripped {
		x.interrupt.Set(1)
		x.tripped = true
	}
}

// close cancels every watched instance, and every one added later, and
// stops the watch's goroutine.
func (w *watch) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	cancels := make([]context.CancelCauseFunc, 0, len(w.items))
	for _, x := range w.items {
		cancels = append(cancels, x.cancel)
		w.trip(x)
	}
	w.nonzero.Broadcast()
	w.mu.Unlock()
	for _, cancel := range cancels {
		cancel(nil)
	}
	<-w.done
}
