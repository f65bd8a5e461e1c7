package runtime

import "time"

// workerIdle is how long an idle worker waits for the next instance before
// it exits.
const workerIdle = 5 * time.Second

// workers runs instances on goroutines that outlive one instance. A new
// goroutine starts with a small stack that a wasm call grows by copying,
// several times, on every invocation; a worker keeps its grown stack for
// the next one.
type workers struct {
	jobs chan func()
}

func newWorkers() *workers {
	return &workers{jobs: make(chan func())}
}

// run runs f on an idle worker, or on a new one if none is idle.
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil // do not keep the last job's memory alive while idle
		idle.Reset(workerIdle)
		select {
		case f = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
