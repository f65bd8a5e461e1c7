// Package wasmfile reads and rewrites just enough of the WebAssembly binary
// format to pre-initialize a module: export its mutable globals so the host
// can read them after initialization, then produce a module whose globals
// start at those values and whose memory starts as the host provides it
// (no data segments), the way Wizer does for wasmtime. It also makes a
// module's loops interruptible (interrupt.go) and the forward jumps of
// Go-compiled code direct (jumps.go).
package wasmfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Section ids of the binary format.
const (
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secData      = 11
	secDataCount = 12
)

// Value types of globals.
const (
	typeI32 = 0x7F
	typeI64 = 0x7E
	typeF32 = 0x7D
	typeF64 = 0x7C
)

// GlobalExportPrefix starts the names under which ExportGlobals exports
// mutable globals; the suffix is the global's index.
const GlobalExportPrefix = "embly.global."

var header = []byte("\x00asm\x01\x00\x00\x00")

// ErrUnsupported is returned for modules this package cannot snapshot
// (imported or shared memories, reference-typed mutable globals, ...). The
// caller falls back to instantiating the module as it is.
var ErrUnsupported = errors.New("module cannot be pre-initialized")

type section struct {
	id   byte
	body []byte
}

func parse(wasm []byte) ([]section, error) {
	if !bytes.HasPrefix(wasm, header) {
		return nil, errors.New("not a WebAssembly 1.0 binary module")
	}
	r := reader{b: wasm[len(header):]}
	var secs []section
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("malformed section %d: %w", id, r.err)
		}
		secs = append(secs, section{id, body})
	}
	return secs, nil
}

func assemble(secs []section) []byte {
	out := append([]byte(nil), header...)
	for _, s := range secs {
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

// Global is a mutable global defined by the module.
type Global struct {
	// Index in the module's global index space (imports first).
	Index uint32
	// Type is the value type byte (0x7F i32, 0x7E i64, 0x7D f32, 0x7C f64).
	Type byte
}

// ExportName is the name ExportGlobals gives g.
func (g Global) ExportName() string { return fmt.Sprintf("%s%d", GlobalExportPrefix, g.Index) }

// ExportGlobals returns wasm with every mutable global it defines exported
// under GlobalExportPrefix+index, and the list of those globals.
func ExportGlobals(wasm []byte) ([]byte, []Global, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, nil, err
	}
	imported, err := importedGlobals(secs)
	if err != nil {
		return nil, nil, err
	}
	var globals []Global
	exportAt := -1
	for i, s := range secs {
		switch s.id {
		case secGlobal:
			if globals, err = mutableGlobals(s.body, imported); err != nil {
				return nil, nil, err
			}
		case secExport:
			exportAt = i
		}
	}
	var entries []byte
	for _, g := range globals {
		name := g.ExportName()
		entries = binary.AppendUvarint(entries, uint64(len(name)))
		entries = append(entries, name...)
		entries = append(entries, 0x03) // global
		entries = binary.AppendUvarint(entries, uint64(g.Index))
	}
	if exportAt < 0 {
		return nil, nil, fmt.Errorf("%w: it exports nothing", ErrUnsupported)
	}
	r := reader{b: secs[exportAt].body}
	n := r.u32()
	rest := r.b
	if r.err != nil {
		return nil, nil, r.err
	}
	body := binary.AppendUvarint(nil, uint64(n)+uint64(len(globals)))
	body = append(body, rest...)
	secs[exportAt].body = append(body, entries...)
	return assemble(secs), globals, nil
}

// FunctionExports returns the names of the functions wasm exports.
func FunctionExports(wasm []byte) (map[string]bool, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	for _, s := range secs {
		if s.id != secExport {
			continue
		}
		r := reader{b: s.body}
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			name := string(r.bytes(int(r.u32())))
			kind := r.byte()
			r.u32()
			if kind == 0x00 {
				out[name] = true
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("malformed export section: %w", r.err)
		}
	}
	return out, nil
}

// importedGlobals counts the imported globals of a module that can be
// snapshotted: one that imports its memory cannot.
func importedGlobals(secs []section) (uint32, error) {
	_, globals, memories, err := importCounts(secs)
	if err == nil && memories > 0 {
		err = fmt.Errorf("%w: it imports its memory", ErrUnsupported)
	}
	return globals, err
}

func mutableGlobals(body []byte, imported uint32) ([]Global, error) {
	r := reader{b: body}
	n := r.u32()
	var out []Global
	for i := uint32(0); i < n && r.err == nil; i++ {
		typ, mut := r.byte(), r.byte()
		r.constExpr()
		if mut == 0 {
			continue
		}
		switch typ {
		case typeI32, typeI64, typeF32, typeF64:
		default:
			return nil, fmt.Errorf("%w: mutable global of type %#x", ErrUnsupported, typ)
		}
		out = append(out, Global{Index: imported + i, Type: typ})
	}
	if r.err != nil {
		return nil, fmt.Errorf("malformed global section: %w", r.err)
	}
	return out, nil
}

// Snapshot rewrites wasm (as returned by ExportGlobals) into a module that
// starts where a snapshot was taken, given that the host sets the exported
// globals and provides the memory's contents: the memory's minimum is pages,
// and there are no data segments. Global values are not baked in, so the
// rewritten module stays the same from one snapshot to the next and its
// compiled code is found in the compilation cache.
func Snapshot(wasm []byte, pages uint32) ([]byte, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	out := secs[:0]
	for _, s := range secs {
		switch s.id {
		case secMemory:
			if s.body, err = setMemoryMin(s.body, pages); err != nil {
				return nil, err
			}
		case secData:
			s.body = []byte{0}
		case secDataCount:
			s.body = []byte{0}
		}
		out = append(out, s)
	}
	return assemble(out), nil
}

func setMemoryMin(body []byte, pages uint32) ([]byte, error) {
	r := reader{b: body}
	if n := r.u32(); n != 1 || r.err != nil {
		return nil, fmt.Errorf("%w: %d memories", ErrUnsupported, n)
	}
	flag := r.byte()
	r.u32() // old minimum
	if flag&0x02 != 0 {
		return nil, fmt.Errorf("%w: shared memory", ErrUnsupported)
	}
	out := []byte{1, flag}
	out = binary.AppendUvarint(out, uint64(pages))
	if flag&0x01 != 0 {
		max := r.u32()
		if max < pages {
			return nil, fmt.Errorf("snapshot of %d pages exceeds the memory's maximum %d", pages, max)
		}
		out = binary.AppendUvarint(out, uint64(max))
	}
	if r.err != nil {
		return nil, fmt.Errorf("malformed memory section: %w", r.err)
	}
	return out, nil
}

// reader decodes the binary format; the first error sticks.
// rewriteFunctions returns the code section body with each function's code
// (locals included) rewritten by rewrite, which appends to out.
func rewriteFunctions(body []byte, rewrite func(out, code []byte) ([]byte, error)) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	// The rewrites grow a module by a few percent.
	out := binary.AppendUvarint(make([]byte, 0, len(body)+len(body)/8), uint64(n))
	var fn []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			break
		}
		var err error
		if fn, err = rewrite(fn[:0], code); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = binary.AppendUvarint(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("malformed code section: %w", r.err)
	}
	return out, nil
}

// splitLocals splits a function's code entry into its local declarations
// and its body. A malformed declaration leaves the rest in body, for the
// instruction reader to fail on.
func splitLocals(code []byte) (locals, body []byte) {
	r := reader{b: code}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()  // count
		r.sleb() // value type
	}
	return code[:len(code)-len(r.b)], r.b
}

type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("unexpected end of module")

func (r *reader) done() bool { return len(r.b) == 0 || r.err != nil }

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail(errShort)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > math.MaxUint32 {
		r.fail(errors.New("bad LEB128 integer"))
		return 0
	}
	r.b = r.b[n:]
	return uint32(v)
}

func (r *reader) sleb() {
	for r.err == nil {
		if r.byte()&0x80 == 0 {
			return
		}
	}
}

// s64 reads a signed LEB128 integer of up to 64 bits (binary.Varint's
// encoding is zig-zag, not this one).
func (r *reader) s64() int64 {
	var v int64
	for shift := uint(0); r.err == nil; shift += 7 {
		if shift >= 64 {
			r.fail(errors.New("bad LEB128 integer"))
			return 0
		}
		c := r.byte()
		v |= int64(c&0x7F) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7) // sign-extend
			}
			return v
		}
	}
	return 0
}

func (r *reader) name() { r.bytes(int(r.u32())) }

func (r *reader) limits() {
	flag := r.byte()
	r.u32()
	if flag&0x01 != 0 {
		r.u32()
	}
}

// constExpr skips a constant expression up to and including its end.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0B:
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.sleb()
		case 0x43:
			r.bytes(4)
		case 0x44:
			r.bytes(8)
		case 0x23, 0xD2: // global.get, ref.func
			r.u32()
		case 0xD0: // ref.null
			r.byte()
		case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: // extended-const arithmetic
		case 0xFD: // v128.const
			r.u32()
			r.bytes(16)
		default:
			r.fail(fmt.Errorf("unsupported opcode %#x in a constant expression", op))
		}
	}
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}
