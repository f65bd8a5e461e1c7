package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/embly/embly/internal/store"
)

// The wire protocol on a conn to embly/kv/NAME (docs/abi.md, "Key-value
// store"). Every message is a frame: a 4-byte big-endian length, then that
// many bytes. The function writes request frames; the service answers each
// with one response frame, in order. Integers are big-endian; a "bytes"
// field is a 4-byte length and the bytes.

// Operations, the first byte of a request.
const (
	OpGet    byte = 1 // key bytes
	OpSet    byte = 2 // key bytes, ttl_ms u64 (0: none), value = the rest of the frame
	OpDelete byte = 3 // key bytes
	OpList   byte = 4 // limit u32 (0: the default), prefix bytes, cursor bytes
)

// Statuses, the first byte of a response. After StatusOK comes the result;
// after any other status, a UTF-8 message that says what is wrong.
const (
	// StatusOK: Get: the value (the rest of the frame). Set, Delete:
	// nothing. List: count u32, count × key bytes, then the next cursor
	// (the rest of the frame; empty when this is the last page).
	StatusOK byte = 0
	// StatusNotFound: Get of a missing or expired key.
	StatusNotFound byte = 1
	// StatusTooLarge: a key, value, page size or frame passes its limit.
	StatusTooLarge byte = 2
	// StatusBadRequest: a malformed frame, an unknown operation, an empty
	// key, a negative TTL.
	StatusBadRequest byte = 3
	// StatusUnavailable: the store failed (a disk error, the database
	// server unreachable); retrying later may work.
	StatusUnavailable byte = 4
)

// MaxRequestBytes bounds a request frame's body: a Set of the largest key
// and value, and its header. A longer frame is read and discarded, and
// answered StatusTooLarge, so the conn stays usable.
const MaxRequestBytes = 1 + 4 + store.MaxKeyBytes + 8 + store.MaxValueBytes

// Request is a decoded request frame.
type Request struct {
	Op     byte
	Key    []byte // Get, Set, Delete
	Value  []byte // Set
	TTLms  uint64 // Set
	Limit  uint32 // List
	Prefix []byte // List
	Cursor []byte // List
}

// errMalformed is a frame that does not parse.
var errMalformed = errors.New("malformed request")

// DecodeRequest parses a request frame's body. The slices alias body.
func DecodeRequest(body []byte) (Request, error) {
	if len(body) == 0 {
		return Request{}, fmt.Errorf("%w: an empty frame", errMalformed)
	}
	r := Request{Op: body[0]}
	d := decoder{b: body[1:]}
	switch r.Op {
	case OpGet, OpDelete:
		r.Key = d.bytes()
	case OpSet:
		r.Key = d.bytes()
		r.TTLms = d.u64()
		r.Value = d.rest()
	case OpList:
		r.Limit = d.u32()
		r.Prefix = d.bytes()
		r.Cursor = d.bytes()
	default:
		return Request{}, fmt.Errorf("%w: unknown operation %d; use 1 get, 2 set, 3 delete or 4 list", errMalformed, r.Op)
	}
	if d.err != nil {
		return Request{}, fmt.Errorf("%w: %s frame of %d bytes ends early", errMalformed, opName(r.Op), len(body))
	}
	if len(d.b) > 0 {
		return Request{}, fmt.Errorf("%w: %d bytes after the %s request", errMalformed, len(d.b), opName(r.Op))
	}
	return r, nil
}

// AppendRequest appends r as a frame (length included) to b.
func AppendRequest(b []byte, r Request) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, r.Op)
	switch r.Op {
	case OpGet, OpDelete:
		b = appendBytes(b, r.Key)
	case OpSet:
		b = appendBytes(b, r.Key)
		b = binary.BigEndian.AppendUint64(b, r.TTLms)
		b = append(b, r.Value...)
	case OpList:
		b = binary.BigEndian.AppendUint32(b, r.Limit)
		b = appendBytes(b, r.Prefix)
		b = appendBytes(b, r.Cursor)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func opName(op byte) string {
	switch op {
	case OpGet:
		return "get"
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	case OpList:
		return "list"
	}
	return fmt.Sprintf("op %d", op)
}

func appendBytes(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (d *decoder) u64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *decoder) bytes() []byte { return d.take(uint64(d.u32())) }

func (d *decoder) rest() []byte {
	p := d.b
	d.b = nil
	return p
}

// ReadFrame reads one frame's body into buf (grown as needed) and returns
// it. A frame longer than max is discarded: ReadFrame returns a nil body and
