package build

import (
	"bytes"
	"io"
)

// lineWriter prefixes every line written to it and passes whole lines to the
// Builder's Out, so that output of builds running side by side interleaves by
// line, never mid-line.
type lineWriter struct {
	b      *Builder
	prefix string
	buf    []byte // an unfinished line
}

func (b *Builder) lineWriter(prefix string) *lineWriter {
	return &lineWriter{b: b, prefix: prefix}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Close emits an unfinished last line.
func (w *lineWriter) Close() error {
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
	return nil
}

func (w *lineWriter) emit(line []byte) {
	if w.b.Out == nil {
		return
	}
	w.b.outMu.Lock()
	defer w.b.outMu.Unlock()
	io.WriteString(w.b.Out, w.prefix)
	w.b.Out.Write(line)
}
