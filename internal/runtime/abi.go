package runtime

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/embly/embly/internal/bus"
)

// HostModule is the import module name of Embly's host calls.
const HostModule = "embly"

// maxEventIDs bounds how many ids one _events call reports, so the host's
// scratch space per instance stays small whatever ids_cap the guest passes.
const maxEventIDs = 4096

// instantiateHostModule registers the `embly` host module. The signatures
// and errno values are the fixed ABI of docs/abi.md.
func (r *Runtime) instantiateHostModule(ctx context.Context) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.wz.NewHostModuleBuilder(HostModule)
	define := func(name string, fn api.GoModuleFunc, params ...api.ValueType) {
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, params, []api.ValueType{i32}).
			Export(name)
	}
	define("_read", hostRead, i32, i32, i32, i32)
	define("_write", hostWrite, i32, i32, i32, i32)
	define("_spawn", hostSpawn, i32, i32, i32)
	define("_events", hostEvents, i64, i32, i32, i32)
	define("_close", hostClose, i32)
	_, err := b.Instantiate(ctx)
	return err
}

// fits reports whether [off, off+n) lies inside guest memory.
func fits(mem api.Memory, off, n uint32) bool {
	return mem != nil && uint64(off)+uint64(n) <= uint64(mem.Size())
}

// hostRead is _read(id, buf, len, nread_ptr) -> errno.
func hostRead(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	id, buf, n, nreadPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	if !fits(mem, buf, n) || !fits(mem, nreadPtr, 4) {
		stack[0] = uint64(bus.EFAULT)
		return
	}
	// Read straight into guest memory: no host-side copy.
	dst, _ := mem.Read(buf, n)
	got, errno := inst.mb.Read(id, dst)
	if errno == bus.EAGAIN {
		inst.blocking() // it cannot go on without news
	}
	mem.WriteUint32Le(nreadPtr, uint32(got))
	stack[0] = uint64(errno)
}

// hostWrite is _write(id, buf, len, nwritten_ptr) -> errno.
func hostWrite(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	id, buf, n, nwrittenPtr := int32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	if !fits(mem, buf, n) || !fits(mem, nwrittenPtr, 4) {
		stack[0] = uint64(bus.EFAULT)
		return
	}
	src, _ := mem.Read(buf, n)
	put, errno := inst.mb.Write(id, src)
	if errno == bus.EAGAIN {
		inst.blocking() // it cannot go on until someone reads
	}
	mem.WriteUint32Le(nwrittenPtr, uint32(put))
	stack[0] = uint64(errno)
}

// hostSpawn is _spawn(name, name_len, id_ptr) -> errno.
func hostSpawn(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	name, nameLen, idPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	mem := mod.Memory()
	if !fits(mem, name, nameLen) || !fits(mem, idPtr, 4) {
		stack[0] = uint64(bus.EFAULT)
		return
	}
	raw, _ := mem.Read(name, nameLen)
	id, errno := inst.spawnTarget(string(raw))
	if errno == bus.ESUCCESS {
		mem.WriteUint32Le(idPtr, uint32(id))
	}
	stack[0] = uint64(errno)
}

// hostEvents is _events(timeout_ns, ids, ids_cap, n_ptr) -> errno.
func hostEvents(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	timeout, ids, idsCap, nPtr := int64(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	if uint64(idsCap)*4 > uint64(^uint32(0)) || !fits(mem, ids, idsCap*4) || !fits(mem, nPtr, 4) {
		stack[0] = uint64(bus.EFAULT)
		return
	}
	capacity := min(int(idsCap), maxEventIDs)
	if cap(inst.ids) < capacity {
		inst.ids = make([]int32, capacity)
	}
	if timeout != 0 {
		inst.blocking()
		// Time spent waiting is not guest code: it does not count
		// against the CPU budget.
		inst.watched.pause()
	}
	got, err := inst.mb.Events(ctx, eventTimeout(timeout), inst.ids[:capacity])
	inst.watched.resume()
	if err != nil {
		// The instance's context ended while it waited: stop it here
		// rather than let it run on.
		panic(errStopped)
	}
	for i, id := range inst.ids[:got] {
		mem.WriteUint32Le(ids+uint32(i)*4, uint32(id))
	}
	mem.WriteUint32Le(nPtr, uint32(got))
	stack[0] = uint64(bus.ESUCCESS)
}

// eventTimeout maps the ABI's timeout (0 poll, <0 forever) to Events'.
func eventTimeout(ns int64) time.Duration {
	if ns < 0 {
		return -1
	}
	return time.Duration(ns)
}

// hostClose is _close(id) -> errno.
func hostClose(ctx context.Context, mod api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	stack[0] = uint64(inst.mb.CloseWrite(int32(stack[0])))
}
