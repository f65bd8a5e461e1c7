package wasmfile

import "encoding/binary"

// DirectJumps returns wasm with the forward jumps of Go-compiled functions
// made direct.
//
// Go's WebAssembly back end lays a function out as one loop around a nest
// of blocks, with a br_table on a local at its head, so that a goroutine
// can resume at any block:
//
//	loop
//	  block block ... block
//	    local.get $pc
//	    br_table ...
//	  end   ;; the code of block 0 follows
//	  ...
//	end     ;; the code of block 1 follows
//	...
//
// and every jump from one block to another, forward or back, is
// "i32.const N; local.set $pc; br <the loop>": back to the head, and
// through the br_table to block N. Compiled by wazero, that is an indirect
// jump through a table and a branch back to a loop, which Interruptible
// counts down at: several instructions, and a merge of every value live in
// the function at the loop's head, where one branch would do, on every if
// and else of Go code (the SDK's head parser ran at a tenth of its native
// speed).
//
// A jump forward, to a block whose end is still ahead, is rewritten to
// branch to that block's end directly, which is where the br_table would
// have gone with $pc = N; $pc is still set, so the function's state is
// exactly what it was. Jumps back, the loops of the Go code, keep the
// dispatch (and their interrupt check). Functions of any other shape are
// left as they are, so the rewrite is safe on any module.
func DirectJumps(wasm []byte) ([]byte, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	for i := range secs {
		if secs[i].id != secCode {
			continue
		}
		body, err := rewriteFunctions(secs[i].body, directJumps)
		if err != nil {
			return nil, err
		}
		secs[i].body = body
	}
	return assemble(secs), nil
}

// label is an entry of the control stack while a function is rewritten.
type label struct {
	id int // unique within the function
	// For a dispatch loop: the local its br_table reads and, for each
	// value of it, the id of the block it jumps to the end of; the last
	// is the default.
	pc      uint32
	targets []int
}

// directJumps appends code with its forward dispatch jumps made direct
// (see DirectJumps) to out. The code between two rewritten branches is
// copied in one piece: a Go module has millions of instructions, and
// copying them one at a time was most of the rewrite's time.
func directJumps(out, code []byte) ([]byte, error) {
	locals, body := splitLocals(code)
	out = append(out, locals...)
	r := reader{b: body}
	copied := 0          // body[:copied] is in out
	stack := []label{{}} // the function's own label
	ids := 0
	// The last two instructions, when they were "i32.const c; local.set x".
	var constVal int64
	var constSet, haveConst bool
	var setLocal uint32
	for !r.done() {
		at := len(body) - len(r.b)
		op := r.byte()
		wasConst, wasSet := haveConst, constSet
		haveConst, constSet = false, false
		switch op {
		case 0x03: // loop: a dispatch loop if a nest and a br_table follow
			r.sleb()
			ids++
			l := label{id: ids}
			if r.err == nil && body[at+1] == 0x40 { // a loop of no values
				if pc, nest, targets, ok := dispatchHead(r.b); ok {
					// The nest's blocks are the next labels pushed: the
					// k-th (0 the outermost) gets id ids+1+k, and depth d
					// of the br_table names the (nest-1-d)-th.
					l.pc = pc
					l.targets = make([]int, len(targets))
					for i, d := range targets {
						l.targets[i] = ids + nest - int(d)
					}
				}
			}
			stack = append(stack, l)
		case 0x0C: // br
			depth := r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if wasSet && int(depth) < len(stack) {
				if d, ok := directDepth(stack, stack[len(stack)-1-int(depth)], setLocal, constVal); ok {
					out = append(out, body[copied:at]...)
					out = binary.AppendUvarint(append(out, 0x0C), uint64(d))
					copied = len(body) - len(r.b)
				}
			}
		case 0x41: // i32.const
			constVal, haveConst = r.s64(), true
		case 0x21: // local.set
			setLocal, constSet = r.u32(), wasConst
		default:
			if err := r.immediates(op); err != nil {
				return nil, err
			}
			switch op {
			case 0x02, 0x04, 0x06, 0x1F: // block, if, try, try_table
				ids++
				stack = append(stack, label{id: ids})
			case 0x0B, 0x18: // end, delegate
				stack = stack[:max(len(stack)-1, 0)]
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, body[copied:]...), nil
}

// directDepth returns the depth, from the top of stack, of the block that
// a jump to the dispatch loop l with local pc = v would reach through l's
// br_table, if that block is on the stack (its end is ahead).
func directDepth(stack []label, l label, pc uint32, v int64) (uint32, bool) {
	if l.targets == nil || l.pc != pc {
		return 0, false
	}
	target := l.targets[len(l.targets)-1]
	if v >= 0 && v < int64(len(l.targets)-1) {
		target = l.targets[v]
	}
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].id == target {
			return uint32(len(stack) - 1 - i), true
		}
	}
	return 0, false
}

// dispatchHead reads what follows a loop's block type: a nest of blocks of
// empty type, then "local.get pc; br_table" as the first instructions of
// the innermost, every target of which (default last) is a block of the
// nest.
func dispatchHead(b []byte) (pc uint32, nest int, targets []uint32, ok bool) {
	r := reader{b: b}
	for len(r.b) >= 2 && r.b[0] == 0x02 && r.b[1] == 0x40 {
		r.b = r.b[2:]
		nest++
	}
	if nest == 0 || r.byte() != 0x20 {
		return 0, 0, nil, false
	}
	pc = r.u32()
	if r.byte() != 0x0E {
		return 0, 0, nil, false
	}
	n := r.u32()
	if r.err != nil || n > uint32(len(r.b)) {
		return 0, 0, nil, false
	}
	targets = make([]uint32, 0, n+1)
	for i := uint32(0); i <= n && r.err == nil; i++ {
		d := r.u32()
		if int(d) >= nest {
			return 0, 0, nil, false
		}
		targets = append(targets, d)
	}
	return pc, nest, targets, r.err == nil
}
