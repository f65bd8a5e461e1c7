// Package frames is the framing the store services (embly/kv, embly/vinyl)
// speak on their conns: every request and response is a frame, a 4-byte
// big-endian length and that many bytes (docs/abi.md), and a conn carries
// any number of requests, answered in order.
package frames

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
)

// Read reads one frame's body into buf (grown as needed). A frame longer
// than max is read and discarded: Read returns a nil body and its length,
// so the caller can answer "too large" and the conn stays usable.
func Read(r io.Reader, buf []byte, max int) (body []byte, n uint32, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, err
	}
	n = binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(max) {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, n, unexpected(err)
		}
		return nil, n, nil
	}
	if buf == nil || cap(buf) < int(n) {
		buf = make([]byte, n) // never nil: nil means too large
	}
	body = buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, n, unexpected(err)
	}
	return body, n, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Serve answers the frames on conn until the peer closes its side or ctx
// ends. handle appends the response frame for one request to out; body is
// nil when the request's length n is over max. Reading errors other than
// the peer leaving go to logf.
func Serve(ctx context.Context, conn io.ReadWriter, max int, handle func(out, body []byte, n uint32) []byte, logf func(format string, args ...any)) {
	r := bufio.NewReaderSize(conn, 32<<10)
	w := bufio.NewWriterSize(conn, 32<<10)
	var buf, out []byte
	for {
		body, n, err := Read(r, buf, max)
		switch {
		case err == io.EOF:
			return
		case err != nil:
			if ctx.Err() == nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				logf("reading a request: %v", err)
			}
			return
		}
		if body != nil && cap(body) <= 64<<10 {
			buf = body[:0] // reuse small buffers; let a large one go
		}
		out = handle(out[:0], body, n)
		if _, err := w.Write(out); err != nil {
			return
		}
		// Answer now unless the next request is already here: a function
		// that pipelines gets its answers in fewer conn writes.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
		if cap(out) > 64<<10 {
			out = nil
		}
	}
}
