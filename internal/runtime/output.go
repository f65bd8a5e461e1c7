package runtime

import (
	"bytes"
	"io"
)

// maxLine bounds a buffered partial line so a guest that never writes a
// newline cannot make the host hold its whole output.
const maxLine = 16 << 10

// lineWriter prefixes every line a function writes to stdout or stderr with
// its name, so output from concurrent instances stays readable in one log.
type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func newLineWriter(w io.Writer, prefix string) *lineWriter {
	return &lineWriter{w: w, prefix: prefix}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			if len(l.buf) >= maxLine {
				l.Flush()
			}
			break
		}
		l.buf = append(l.buf, p[:i]...)
		l.Flush()
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes any partial line.
func (l *lineWriter) Flush() {
	if len(l.buf) == 0 {
		return
	}
	line := make([]byte, 0, len(l.prefix)+len(l.buf)+1)
	line = append(line, l.prefix...)
	line = append(line, l.buf...)
	line = append(line, '\n')
	l.w.Write(line)
	l.buf = l.buf[:0]
}
