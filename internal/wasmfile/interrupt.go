package wasmfile

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// InterruptExport is the name under which Interruptible exports the global
// that stops an instance.
const InterruptExport = "embly.interrupt"

const secCode = 10

// Interruptible returns wasm with a check before every branch back to a
// loop (br, br_if or br_table with a loop among its targets): a countdown
// global, counted down inline, and every checkEvery iterations a call to a
// small function it adds, which reads a new mutable i32 global, exported as
// InterruptExport, and traps (unreachable) when it is not zero. A host stops
// a running instance, from any goroutine, by setting the global to 1; the
// guest traps within checkEvery loop iterations.
//
// Why not wazero's own WithCloseOnContextDone: it calls out of the compiled
// code into Go at every loop iteration to check whether the module was
// closed, which made Go and Rust functions about twice as slow. A call
// between wasm functions costs a few nanoseconds, and a countdown less: a
// call at every iteration cost a Rust hello 3-5% more. The interrupt is
// read in a function rather than inline because wazero's compiler keeps a
// global's value in a register along a loop that makes no call, so an
// inline read would never see the host's write; a function reads the
// global afresh on entry. The countdown is the guest's own, so the
// compiler may keep it in a register as it likes.
// Only loops need the check: code without them runs to its end, or recurses
// until the stack limit traps; blocking host calls watch the instance's
// context themselves. Checking the branches rather than the loop heads
// spares the loops that are entered and left without iterating; Go's
// compiler wraps every function body in one, so a Go function paid a check
// per call (6% of a hello-go invocation). A function that uses exception
// handling, whose catch clauses may jump to a loop too, is checked at its
// loop heads instead.
//
// Modules using instructions this package does not know are refused with
// ErrUnsupported, so nothing runs that could not be stopped.
func Interruptible(wasm []byte) ([]byte, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	funcs, globals, memories, err := importCounts(secs)
	if err != nil {
		return nil, err
	}
	memories += sectionCount(secs, secMemory)
	if !hasSection(secs, secCode) {
		return wasm, nil // no code, no loops
	}

	// The check's type: () -> (), found or added.
	typeIndex, ok, err := findEmptyFuncType(secs)
	if err != nil {
		return nil, err
	}
	if !ok {
		secs = appendEntry(secs, secType, []byte{0x60, 0x00, 0x00})
	}
	// The globals and the function go last in their index spaces.
	globalIndex := globals + sectionCount(secs, secGlobal)
	countdownIndex := globalIndex + 1
	yieldsIndex := globalIndex + 2
	checkIndex := funcs + sectionCount(secs, secFunction)
	mutI32 := func(v int64) []byte {
		return append(binary.AppendVarint([]byte{typeI32, 0x01, 0x41}, v), 0x0B) // mut i32 = i32.const v
	}
	secs = appendEntry(secs, secGlobal, mutI32(0))
	secs = appendEntry(secs, secGlobal, mutI32(checkEvery))
	secs = appendEntry(secs, secGlobal, mutI32(yieldEvery/checkEvery))
	secs = appendEntry(secs, secFunction, binary.AppendUvarint(nil, uint64(typeIndex)))
	export := binary.AppendUvarint(nil, uint64(len(InterruptExport)))
	export = append(export, InterruptExport...)
	export = append(export, 0x03) // global
	export = binary.AppendUvarint(export, uint64(globalIndex))
	secs = appendEntry(secs, secExport, export)

	countdown := countdownCall(countdownIndex, checkIndex)
	check := checkFunction(globalIndex, countdownIndex, yieldsIndex, memories > 0)
	for i := range secs {
		if secs[i].id != secCode {
			continue
		}
		body, err := rewriteFunctions(secs[i].body, func(out, code []byte) ([]byte, error) {
			return instrumentFunction(out, code, countdown)
		})
		if err != nil {
			return nil, err
		}
		secs[i].body = body
		break
	}
	entry := binary.AppendUvarint(nil, uint64(len(check)))
	secs = appendEntry(secs, secCode, append(entry, check...))
	return assemble(secs), nil
}

const (
	secType     = 1
	secFunction = 3
)

// yieldEvery is how many loop iterations the check lets pass between two
// calls out of the compiled code. Code compiled by wazero cannot be
// preempted by the Go scheduler, so a guest spinning in a loop would keep
// its thread forever, and enough of them would starve every goroutine of
// the host, including the one that sets the interrupt. Every yieldEvery
// iterations the check grows the memory by zero pages, which wazero handles
// in Go, where the scheduler can take the thread back: at a nanosecond or
// so per iteration, that is every few tens of microseconds, at a cost of a
// fraction of a percent.
const yieldEvery = 1 << 16

// checkEvery is how many loop iterations pass between two calls of the
// check, which reads the interrupt global: how many more iterations, at
// most, an interrupted guest runs. Between calls, each branch back to a
// loop only counts down a global inline, which costs a fraction of a call
// (the call's own cost, and the registers the caller saves around it).
const checkEvery = 1 << 10

func globalGet(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x23), uint64(g)) }
func globalSet(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x24), uint64(g)) }

// countdownCall returns what goes before each branch back to a loop: count
// the countdown global down, and at zero call the check. It leaves the
// operand stack as it found it, so a br_if's condition stays in place.
func countdownCall(countdown, check uint32) []byte {
	b := globalGet(nil, countdown)
	b = append(b, 0x41, 0x01, 0x6B) // i32.const 1; i32.sub
	b = globalSet(b, countdown)
	b = globalGet(b, countdown)
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = binary.AppendUvarint(append(b, 0x10), uint64(check))
	return append(b, 0x0B) // end
}

// checkFunction returns the body of the check: trap if the interrupt global
// is set; start the countdown again; count the checks down, and at zero
// start them again and, if the module has a memory, call out through
// memory.grow 0.
func checkFunction(interrupt, countdown, yields uint32, memory bool) []byte {
	b := []byte{0x00} // no locals
	b = globalGet(b, interrupt)
	b = append(b, 0x04, 0x40, 0x00, 0x0B) // if unreachable end
	b = binary.AppendVarint(append(b, 0x41), checkEvery)
	b = globalSet(b, countdown)
	b = globalGet(b, yields)
	b = append(b, 0x41, 0x01, 0x6B) // i32.const 1; i32.sub
	b = globalSet(b, yields)
	b = globalGet(b, yields)
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = binary.AppendVarint(append(b, 0x41), yieldEvery/checkEvery)
	b = globalSet(b, yields)
	if memory {
		b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1A) // i32.const 0; memory.grow 0; drop
	}
	return append(b, 0x0B, 0x0B) // end; end
}

// importCounts counts the imported functions, globals and memories.
func importCounts(secs []section) (funcs, globals, memories uint32, err error) {
	for _, s := range secs {
		if s.id != secImport {
			continue
		}
		r := reader{b: s.body}
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func: type index
				r.u32()
				funcs++
			case 0x01: // table: reftype, limits
				r.sleb()
				r.limits()
			case 0x02: // memory: limits
				r.limits()
				memories++
			case 0x03: // global: valtype, mut
				r.sleb()
				r.byte()
				globals++
			case 0x04: // tag: attribute, type index
				r.byte()
				r.u32()
			default:
				return 0, 0, 0, fmt.Errorf("%w: unknown import kind %#x", ErrUnsupported, kind)
			}
		}
		if r.err != nil {
			return 0, 0, 0, fmt.Errorf("malformed import section: %w", r.err)
		}
	}
	return funcs, globals, memories, nil
}

func hasSection(secs []section, id byte) bool {
	for _, s := range secs {
		if s.id == id {
			return true
		}
	}
	return false
}

// sectionCount returns the entry count of a vector section, 0 if absent.
func sectionCount(secs []section, id byte) uint32 {
	for _, s := range secs {
		if s.id == id {
			r := reader{b: s.body}
			return r.u32()
		}
	}
	return 0
}

// findEmptyFuncType returns the index of a () -> () function type.
func findEmptyFuncType(secs []section) (uint32, bool, error) {
	for _, s := range secs {
		if s.id != secType {
			continue
		}
		r := reader{b: s.body}
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			if form := r.byte(); form != 0x60 {
				return 0, false, fmt.Errorf("%w: type form %#x", ErrUnsupported, form)
			}
			params := r.u32()
			for j := uint32(0); j < params; j++ {
				r.sleb()
			}
			results := r.u32()
			for j := uint32(0); j < results; j++ {
				r.sleb()
			}
			if params == 0 && results == 0 && r.err == nil {
				return i, true, nil
			}
		}
		if r.err != nil {
			return 0, false, fmt.Errorf("malformed type section: %w", r.err)
		}
		return n, false, nil
	}
	return 0, false, nil
}

// appendEntry appends one entry to the vector section id, creating the
// section in its place when the module has none.
func appendEntry(secs []section, id byte, entry []byte) []section {
	for i := range secs {
		if secs[i].id != id {
			continue
		}
		r := reader{b: secs[i].body}
		n := r.u32()
		body := binary.AppendUvarint(nil, uint64(n)+1)
		body = append(body, r.b...)
		secs[i].body = append(body, entry...)
		return secs
	}
	return insertSection(secs, section{id, append([]byte{1}, entry...)})
}

// sectionRank is the order sections must appear in (custom sections, 0,
// may appear anywhere). The tag section (13) sits between memory and global,
// data count (12) between element and code.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// insertSection puts s before the first section that must follow it.
func insertSection(secs []section, s section) []section {
	for i, t := range secs {
		if t.id != 0 && sectionRank[t.id] > sectionRank[s.id] {
			return append(secs[:i:i], append([]section{s}, secs[i:]...)...)
		}
	}
	return append(secs, s)
}

// instrumentFunction appends code, with check before every branch back to
// a loop, to out. A function with exception handling, whose catch clauses
// can also jump to a loop, gets check at the head of every loop instead.
func instrumentFunction(out, code, check []byte) ([]byte, error) {
	locals, body := splitLocals(code)
	out = append(out, locals...)
	// Exception handling is rare: the body is instrumented as if it had
	// none, and again, from its start, if it turns out to have some.
	instrumented, err := instrumentBody(out, body, check, false)
	if err == errExceptionHandling {
		instrumented, err = instrumentBody(out, body, check, true)
	}
	return instrumented, err
}

// errExceptionHandling stops instrumentBody when a body it instruments
// without eh uses exception handling.
var errExceptionHandling = errors.New("the function uses exception handling")

// instrumentBody appends body to out with check before every branch back
// to a loop or, with eh, at the head of every loop.
func instrumentBody(out, body, check []byte, eh bool) ([]byte, error) {
	r := reader{b: body}
	// loops[i] tells whether the i-th enclosing label, outermost first, is
	// a loop. The function's own label is not one.
	loops := []bool{false}
	isLoop := func(depth uint32) bool {
		return int(depth) < len(loops) && loops[len(loops)-1-int(depth)]
	}
	copied := 0 // body[:copied] is in out; unchanged code is copied in runs
	for !r.done() {
		at := len(body) - len(r.b)
		op := r.byte()
		var backEdge bool
		switch op {
		case 0x0C, 0x0D: // br, br_if
			save := r.b
			backEdge = isLoop(r.u32())
			r.b = save
		case 0x0E: // br_table
			save := r.b
			n := r.u32()
			for i := uint32(0); i <= n && r.err == nil; i++ {
				backEdge = isLoop(r.u32()) || backEdge
			}
			r.b = save
		case 0x06, 0x07, 0x18, 0x19, 0x1F: // try, catch, delegate, catch_all, try_table
			if !eh {
				return nil, errExceptionHandling
			}
		}
		if err := r.immediates(op); err != nil {
			return nil, err
		}
		if backEdge && !eh {
			out = append(append(out, body[copied:at]...), check...)
			copied = at
		}
		switch op {
		case 0x02, 0x04, 0x06, 0x1F: // block, if, try, try_table
			loops = append(loops, false)
		case 0x03: // loop
			loops = append(loops, true)
			if eh {
				end := len(body) - len(r.b)
				out = append(append(out, body[copied:end]...), check...)
				copied = end
			}
		case 0x0B, 0x18: // end, delegate
			loops = loops[:max(len(loops)-1, 0)]
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, body[copied:]...), nil
}

// immediates skips the immediates of the instruction op. It knows the
// instructions of WebAssembly 2.0 and of the proposals wazero runs (threads,
// tail calls, exception handling); anything else is ErrUnsupported.
func (r *reader) immediates(op byte) error {
	switch immediateKinds[op] {
	case immNone:
	case immBlockType:
		r.sleb() // block type: empty, a value type or a type index (s33)
	case immIndex:
		r.u32()
	case immTwoIndexes:
		r.u32()
		r.u32()
	case immMemarg:
		r.memarg()
	case immConst:
		r.sleb()
	case immF32:
		r.bytes(4)
	case immF64:
		r.bytes(8)
	case immBrTable:
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case immSelectTypes:
		r.bytes(int(r.u32()))
	case immTryTable:
		r.sleb()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			if kind := r.byte(); kind < 2 {
				r.u32() // tag
			}
			r.u32() // label
		}
	case immPrefixFC:
		return r.immediatesFC()
	case immPrefixFD:
		return r.immediatesFD()
	case immPrefixFE:
		return r.immediatesFE()
	default:
		return fmt.Errorf("%w: unknown instruction %#x", ErrUnsupported, op)
	}
	return r.err
}

// The shapes of immediates an opcode takes.
const (
	immUnknown byte = iota
	immNone
	immBlockType
	immIndex
	immTwoIndexes
	immMemarg
	immConst
	immF32
	immF64
	immBrTable
	immSelectTypes
	immTryTable
	immPrefixFC
	immPrefixFD
	immPrefixFE
)

// immediateKinds maps each opcode to the shape of its immediates: a
// table, because a module's code is millions of instructions and the
// runtime rewrites it at every start.
var immediateKinds = func() (t [256]byte) {
	set := func(kind byte, ops ...byte) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	// block, loop, if, try
	set(immBlockType, 0x02, 0x03, 0x04, 0x06)
	// unreachable, nop, else, throw_ref, end, return, catch_all, drop,
	// select, ref.is_null
	set(immNone, 0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1)
	// catch, throw, rethrow, br, br_if, call, return_call, call_ref,
	// return_call_ref, delegate, local.*, global.*, table.get/set, ref.func
	set(immIndex, 0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, 0x18,
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xD2)
	set(immBrTable, 0x0E)
	set(immTwoIndexes, 0x11, 0x13) // call_indirect, return_call_indirect
	set(immSelectTypes, 0x1C)
	set(immTryTable, 0x1F)
	for op := 0x28; op <= 0x3E; op++ { // loads and stores
		t[op] = immMemarg
	}
	set(immIndex, 0x3F, 0x40) // memory.size, memory.grow
	set(immConst, 0x41, 0x42) // i32.const, i64.const
	set(immF32, 0x43)
	set(immF64, 0x44)
	for op := 0x45; op <= 0xC4; op++ { // numeric, sign extension
		t[op] = immNone
	}
	set(immConst, 0xD0) // ref.null: a heap type (s33)
	set(immPrefixFC, 0xFC)
	set(immPrefixFD, 0xFD)
	set(immPrefixFE, 0xFE)
	return t
}()

func (r *reader) immediatesFC() error {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17): // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		return fmt.Errorf("%w: unknown instruction 0xfc %d", ErrUnsupported, sub)
	}
	return r.err
}

func (r *reader) immediatesFD() error {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // v128 loads and stores
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 0x113: // the rest take no immediates (relaxed SIMD included)
	default:
		return fmt.Errorf("%w: unknown instruction 0xfd %d", ErrUnsupported, sub)
	}
	return r.err
}

func (r *reader) immediatesFE() error {
	switch sub := r.u32(); {
	case sub == 0x03: // atomic.fence
		r.byte()
	case sub <= 0x4E:
		r.memarg()
	default:
		return fmt.Errorf("%w: unknown instruction 0xfe %d", ErrUnsupported, sub)
	}
	return r.err
}

// memarg skips an alignment (with a memory index when bit 6 says so) and an
// offset (64-bit with memory64).
func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.uleb()
}

// uleb skips an unsigned LEB128 integer of any width.
func (r *reader) uleb() {
	for r.err == nil {
		if r.byte()&0x80 == 0 {
			return
		}
	}
}
