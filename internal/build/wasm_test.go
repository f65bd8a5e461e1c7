package build

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// wasmModule is what the tests check in a built module.
type wasmModule struct {
	imports map[string][]string // module -> names
	exports []string
}

// parseWasm reads the import and export sections of a binary module: enough
// to check that a build produced a wasip1 command that talks to embly.
func parseWasm(b []byte) (*wasmModule, error) {
	if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("no wasm magic and version 1")
	}
	r := &wasmReader{b: b[8:]}
	m := &wasmModule{imports: map[string][]string{}}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		body := &wasmReader{b: r.bytes(int(r.uleb()))}
		switch id {
		case 2: // imports
			for n := body.uleb(); n > 0 && body.err == nil; n-- {
				mod, name := body.name(), body.name()
				m.imports[mod] = append(m.imports[mod], name)
				switch kind := body.byte(); kind {
				case 0: // func
					body.uleb()
				case 1: // table
					body.byte()
					body.limits()
				case 2: // memory
					body.limits()
				case 3: // global
					body.byte()
					body.byte()
				default:
					return nil, fmt.Errorf("import kind %d", kind)
				}
			}
		case 7: // exports
			for n := body.uleb(); n > 0 && body.err == nil; n-- {
				m.exports = append(m.exports, body.name())
				body.byte()
				body.uleb()
			}
		}
		if body.err != nil {
			return nil, body.err
		}
	}
	return m, r.err
}

type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errors.New("truncated module")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *wasmReader) byte() byte {
	if p := r.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *wasmReader) uleb() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad LEB128")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wasmReader) name() string { return string(r.bytes(int(r.uleb()))) }

func (r *wasmReader) limits() {
	if r.byte() == 1 {
		r.uleb()
	}
	r.uleb()
}
