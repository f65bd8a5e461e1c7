package runtime

import (
	"bytes"
	"io"
)

// maxLine bounds a buffered partial line so a guest that never writes a
// newline cannot make the host hold its whole output.
const maxLine = 16 << 10

// maxOutput bounds what one invocation may put in the log, so a guest that
// floods stdout cannot fill the host's disk or drown other functions' lines:
// past it one line says so and the rest is dropped (the guest's writes still
// succeed).
const maxOutput = 1 << 20

// lineWriter prefixes every line a function writes to stdout or stderr with
// its name, so output from concurrent instances stays readable in one log.
type lineWriter struct {
	w       io.Writer
	prefix  string
	buf     []byte
	written int // bytes of output logged so far
}

func newLineWriter(w io.Writer, prefix string) *lineWriter {
	return &lineWriter{w: w, prefix: prefix}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && l.written <= maxOutput {
		i := bytes.IndexByte(p, '\n')
		if room := maxLine - len(l.buf); i < 0 || i > room {
			// No end of line within the longest line kept: take what
			// fits, and flush it as a line of its own when full.
			take := min(len(p), room)
			l.buf = append(l.buf, p[:take]...)
			p = p[take:]
			if len(l.buf) >= maxLine {
				l.Flush()
			}
			continue
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
	l.written += len(l.buf)
	if l.written > maxOutput {
		l.buf = append(l.buf[:0], "output truncated: more than 1 MiB in one invocation; the rest is dropped"...)
	}
	line := make([]byte, 0, len(l.prefix)+len(l.buf)+1)
	line = append(line, l.prefix...)
	line = append(line, l.buf...)
	line = append(line, '\n')
	l.w.Write(line)
	l.buf = l.buf[:0]
}
