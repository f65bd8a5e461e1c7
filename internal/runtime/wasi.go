package runtime

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// instantiateWASI registers wazero's WASI preview1 with one call replaced:
// poll_oneoff, the way guests sleep. wazero's sleeps without looking at the
// context, so a guest asleep for an hour would outlive its request, and the
// time would count against its CPU budget. Ours sleeps until the context
// ends, with the budget paused.
func (r *Runtime) instantiateWASI(ctx context.Context) error {
	b := r.wz.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(pollOneoff), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		Export("poll_oneoff")
	_, err := b.Instantiate(ctx)
	return err
}

// WASI errno values poll_oneoff returns, and the sizes of its records.
const (
	wasiEBADF   = 8
	wasiEFAULT  = 21
	wasiEINVAL  = 28
	wasiENOTSUP = 58

	subscriptionSize = 48
	eventSize        = 32
	// maxSubscriptions bounds what one call looks at, so a guest cannot
	// make the host allocate in proportion to its memory. Guests wait on a
	// clock and a few descriptors at most.
	maxSubscriptions = 4096
)

// Event types of a subscription.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2
)

// pollOneoff is poll_oneoff(in, out, nsubscriptions, nevents_ptr) -> errno
// for what an Embly guest has: relative clocks, an empty stdin (always
// ready, at EOF), and stdout and stderr (always ready). When a descriptor
// is ready it returns at once; otherwise it sleeps until the nearest clock.
// An absolute clock gets ENOTSUP in its event, as with wazero's.
func pollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	in, out, nsubs, nPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	switch {
	case nsubs == 0 || nsubs > maxSubscriptions:
		stack[0] = wasiEINVAL
		return
	case !fits(mem, in, nsubs*subscriptionSize), !fits(mem, out, nsubs*eventSize), !fits(mem, nPtr, 4):
		stack[0] = wasiEFAULT
		return
	}
	subs, _ := mem.Read(in, nsubs*subscriptionSize)
	// The subscriptions are read first: a guest may pass overlapping
	// buffers, and events must not overwrite subscriptions still unread.
	type sub struct {
		userdata []byte
		kind     byte
		timeout  time.Duration // clocks: -1 when absolute
		errno    uint16        // descriptors
	}
	parsed := make([]sub, nsubs)
	fdReady, sleep := false, time.Duration(-1)
	for i := range parsed {
		raw := subs[i*subscriptionSize : (i+1)*subscriptionSize]
		s := sub{userdata: append([]byte(nil), raw[:8]...), kind: raw[8]}
		switch s.kind {
		case eventClock:
			if binary.LittleEndian.Uint16(raw[40:42])&1 != 0 {
				s.timeout = -1
				fdReady = true // reported at once, with ENOTSUP
				break
			}
			s.timeout = time.Duration(min(binary.LittleEndian.Uint64(raw[24:32]), 1<<63-1))
			if sleep < 0 || s.timeout < sleep {
				sleep = s.timeout
			}
		case eventFdRead, eventFdWrite:
			fd := binary.LittleEndian.Uint32(raw[16:20])
			if (s.kind == eventFdRead && fd != 0) || (s.kind == eventFdWrite && fd != 1 && fd != 2) {
				s.errno = wasiEBADF
			}
			fdReady = true
		default:
			stack[0] = wasiEINVAL
			return
		}
		parsed[i] = s
	}
	if !fdReady && sleep > 0 && !pollSleep(ctx, sleep) {
		panic(errStopped)
	}
	events, _ := mem.Read(out, nsubs*eventSize)
	n := uint32(0)
	for _, s := range parsed {
		var errno uint16
		switch {
		case s.kind == eventClock && s.timeout < 0:
			errno = wasiENOTSUP
		case s.kind == eventClock && (fdReady || s.timeout > sleep):
			continue // not expired
		case s.kind != eventClock:
			errno = s.errno
		}
		ev := events[n*eventSize : (n+1)*eventSize]
		clear(ev)
		copy(ev, s.userdata)
		binary.LittleEndian.PutUint16(ev[8:], errno)
		ev[10] = s.kind
		if s.kind == eventFdRead && errno == 0 {
			binary.LittleEndian.PutUint16(ev[24:], 1) // stdin is at its end
		}
		n++
	}
	mem.WriteUint32Le(nPtr, n)
	stack[0] = 0
}

// pollSleep sleeps for d with the instance's CPU budget paused. It reports
// false when the instance's context ended first.
func pollSleep(ctx context.Context, d time.Duration) bool {
	inst := instanceFrom(ctx)
	if inst != nil {
		inst.blocking()
		inst.watched.pause()
		defer inst.watched.resume()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
