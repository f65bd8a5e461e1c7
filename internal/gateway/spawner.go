package gateway

import (
	"context"
	"io"
)

// Invocation is one running instance of a function, seen from the gateway: the
// gateway's end of the instance's conn 1, plus a way to learn how it ended.
type Invocation interface {
	// Read blocks until the function wrote something or closed conn 1 (io.EOF).
	io.Reader
	// Write blocks while the conn's window is full; it fails once the instance is gone.
	io.Writer
	// CloseWrite closes the gateway's side: the function reads EOF after draining.
	CloseWrite() error
	// Close releases the conn entirely; the function's further writes fail with EPIPE.
	Close() error
	// Stop ends the instance now if it is still running.
	Stop()
	// Done is closed once the instance has ended; Wait then returns at once.
	Done() <-chan struct{}
	// Wait blocks until the instance has ended. It returns nil when the function
	// returned from _start or called proc_exit(0), and an error naming the trap or
	// exit code otherwise.
	Wait() error
}

// Spawner starts fresh instances of the project's functions.
type Spawner interface {
	// Spawn starts a fresh instance of the named function. Cancelling ctx,
	// or calling the invocation's Stop, stops it.
	Spawn(ctx context.Context, function string) (Invocation, error)
}

// InlineSpawner is a Spawner that can also prepare an instance without
// starting it, so that a request can be written to it first and the
// instance run on the handler's own goroutine: a small request then costs
// no hand-over between goroutines.
type InlineSpawner interface {
	Spawner
	// Prepare is Spawn without the start.
	Prepare(ctx context.Context, function string) (InlineInvocation, error)
}

// InlineInvocation is a prepared instance, started by RunInline.
type InlineInvocation interface {
	Invocation
	// RunInline runs the instance on the calling goroutine and returns
	// once it has ended. onBlock is called on that goroutine the first time
	// the instance cannot go on by itself; from then on conn 1 must be read
	// elsewhere.
	RunInline(onBlock func())
}

// SpawnerFunc adapts a function to Spawner, so that a runtime whose Spawn
// returns its own concrete type can be wired in with a one-line closure.
type SpawnerFunc func(ctx context.Context, function string) (Invocation, error)

// Spawn calls f.
func (f SpawnerFunc) Spawn(ctx context.Context, function string) (Invocation, error) {
	return f(ctx, function)
}
