package embly

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// autoFlushSize is how much of an unflushed body the ResponseWriter holds
// before it starts streaming on its own. Below it a response goes out with a
// Content-Length, which clients like; above it memory matters more.
const autoFlushSize = 1 << 20

// HandleHTTP serves the one HTTP request of this instance with h and returns
// once the response is sent. It is what an HTTP function's main calls. If
// serving fails (the gateway sent a malformed request, or conn 1 broke), it
// reports the error on stderr and exits with status 1. See [ServeHTTP].
func HandleHTTP(h http.Handler) {
	if err := ServeHTTP(h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// ServeHTTP reads one HTTP/1.1 request from conn 1 ([Parent]), calls h with
// it, writes h's response to conn 1 and closes conn 1.
//
// The request's RemoteAddr is the client address the gateway reported in a
// Forwarded or X-Forwarded-For header (left in place), if any.
//
// The ResponseWriter behaves like net/http's: a missing Content-Type is
// sniffed with [http.DetectContentType]; a response that h never flushes is
// sent with a Content-Length (until it passes 1 MiB); once h flushes (the
// writer is an [http.Flusher]) the rest is streamed with chunked encoding, and
// the final chunk is sent only when h returns, so a response cut short by a
// crash is detectable. Trailers work as in net/http. Informational (1xx)
// statuses are not sent.
//
// If h panics, the panic and its stack are printed on stderr (unless the
// value is [http.ErrAbortHandler]), a 500 is sent if nothing was sent yet,
// conn 1 is closed, and the program exits with status 2, so the instance
// ends with an error. The stack is printed first: once conn 1 is closed the
// host may end the instance at any moment.
func ServeHTTP(h http.Handler) error {
	return serveHTTP(Parent(), h, onPanic{stderr: os.Stderr, exit: os.Exit})
}

// onPanic is where a handler panic is reported and how the program ends
// after it; tests substitute both.
type onPanic struct {
	stderr io.Writer
	exit   func(code int)
}

// connReader and connWriter buffer conn 1. They are allocated once, at
// initialization, so they are in the snapshot every invocation starts
// from: allocated per request, two 4 KiB buffers took the Go allocator to
// its central lists and the page heap in every fresh instance. An instance
// serves one request at a time, so one pair is enough.
var (
	connReader = bufio.NewReader(nil)
	connWriter = bufio.NewWriter(nil)
)

// errPanicked is what serveHTTP returns after a panic when exit returns.
var errPanicked = errors.New("embly: the handler panicked")

// serveHTTP takes a *Conn rather than an io.ReadWriteCloser: converting
// the latter to the io.Reader and io.Writer of the buffers would look up an
// itab on every request, a hash lookup that is slow in wasm.
func serveHTTP(conn *Conn, h http.Handler, crash onPanic) (err error) {
	connReader.Reset(conn)
	req, w, err := readRequest(connReader)
	if err != nil {
		io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		conn.Close()
		return fmt.Errorf("embly: reading the request on conn 1: %w", err)
	}
	w = newResponseWriter(conn, req, w)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		aborted := r == http.ErrAbortHandler
		if !aborted {
			fmt.Fprintf(crash.stderr, "embly: panic serving %s %s: %v\n\n%s", req.Method, req.RequestURI, r, debug.Stack())
		}
		w.abort(aborted)
		conn.Close()
		crash.exit(2)
		err = errPanicked
	}()
	h.ServeHTTP(w, req)
	if err := w.finish(); err != nil {
		conn.Close()
		return err
	}
	return conn.Close()
}

// remoteAddr returns the client address that the gateway, the last proxy,
// appended: the last for= of Forwarded, or else the last X-Forwarded-For.
func remoteAddr(h http.Header) string {
	return clientAddr(last(h["Forwarded"]), last(h["X-Forwarded-For"]))
}

// first is http.Header.Get of a key's values.
func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func last(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[len(values)-1]
}

// clientAddr is remoteAddr from the last values of Forwarded and
// X-Forwarded-For; an empty one means as little as none.
func clientAddr(forwarded, xff string) string {
	if forwarded != "" {
		elems := strings.Split(forwarded, ",")
		for _, pair := range strings.Split(elems[len(elems)-1], ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "for") {
				return strings.Trim(v, `"`)
			}
		}
	}
	return strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
}

// responseWriter writes a raw HTTP/1.1 response to conn 1.
type responseWriter struct {
	req    *http.Request
	bw     *bufio.Writer // onto conn 1; flushed at each Flush and at the end
	header http.Header   // what the handler edits; made when it first asks
	sent   http.Header   // header as of WriteHeader: later edits do not count

	status        int   // 0 until WriteHeader
	contentLength int64 // declared by the handler, or -1
	written       int64 // body bytes accepted from the handler
	body          bytes.Buffer
	small         [64]byte // body's first buffer: most bodies of a response sent whole fit

	headerSent bool // status line and header are in bw
	chunked    bool
	err        error // the first write error; it sticks
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

// newResponseWriter sets w up (a new one if w is nil) to write req's
// response to conn.
func newResponseWriter(conn io.Writer, req *http.Request, w *responseWriter) *responseWriter {
	connWriter.Reset(conn)
	if w == nil {
		w = new(responseWriter)
	}
	*w = responseWriter{
		req:           req,
		bw:            connWriter,
		contentLength: -1,
	}
	w.body = *bytes.NewBuffer(w.small[:0])
	return w
}

func (w *responseWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 || code < 200 {
		return // superfluous, or informational: neither is sent
	}
	w.status = code
	if len(w.header) > 0 { // an empty header has nothing to keep, and Clone would allocate
		w.sent = w.header.Clone()
	}
	// The header's own keys are indexed directly: Get and Del would
	// canonicalize these constant ones again.
	if cl := first(w.sent["Content-Length"]); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && n >= 0 {
			w.contentLength = n
		} else {
			delete(w.sent, "Content-Length")
		}
	}
	// The writer alone decides on chunking.
	delete(w.sent, "Transfer-Encoding")
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	w.written += int64(len(p))
	switch {
	case w.req.Method == http.MethodHead:
		// No body on the wire, but sniff and count it as if.
		if w.body.Len() < 512 {
			w.body.Write(p[:min(len(p), 512-w.body.Len())])
		}
	case !w.headerSent:
		w.body.Write(p)
		if w.body.Len() > autoFlushSize {
			return len(p), w.FlushError()
		}
	default:
		w.writeBody(p)
	}
	return len(p), w.err
}

// WriteString is Write without converting s: io.WriteString finds it.
func (w *responseWriter) WriteString(s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// writeBody puts p on the wire, as a chunk if chunked.
func (w *responseWriter) writeBody(p []byte) {
	if len(p) == 0 || w.req.Method == http.MethodHead {
		return
	}
	if w.chunked {
		var size [20]byte
		w.bw.Write(append(strconv.AppendInt(size[:0], int64(len(p)), 16), "\r\n"...))
	}
	w.bw.Write(p)
	if w.chunked {
		w.bw.WriteString("\r\n")
	}
}

// Flush sends the header and the body so far; the rest of the body is
// streamed. It implements [http.Flusher].
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush returning the write error, for
// [http.ResponseController].
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		w.writeHeader(true)
		w.writeBody(w.body.Bytes())
		w.body = bytes.Buffer{}
	}
	return w.flush()
}

func (w *responseWriter) flush() error {
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

// writeHeader puts the status line and header into bw. A streamed response
// is chunked unless the handler declared a Content-Length; a response sent
// whole gets its Content-Length here.
func (w *responseWriter) writeHeader(streamed bool) {
	h := w.sent
	body := w.body.Bytes()
	// What the writer adds to the handler's fields, each replacing the
	// handler's values of its key (WriteHeader removed any
	// Transfer-Encoding), in key order: Content-Length, Content-Type,
	// Transfer-Encoding.
	var contentType, length string
	if _, haveType := h["Content-Type"]; !haveType && first(h["Content-Encoding"]) == "" &&
		bodyAllowed(w.status) && len(body) > 0 {
		contentType = detectContentType(body)
	}
	streamed = streamed || len(w.declaredTrailers()) > 0
	switch {
	case !bodyAllowed(w.status) || w.contentLength >= 0:
	case streamed && w.req.Method != http.MethodHead:
		w.chunked = true
	case !streamed && (w.req.Method != http.MethodHead || w.written > 0):
		length = strconv.FormatInt(w.written, 10)
	}
	var add [2]field
	added := add[:0]
	if length != "" {
		added = append(added, field{"Content-Length", length})
	}
	if contentType != "" {
		added = append(added, field{"Content-Type", contentType})
	}
	if w.chunked {
		added = append(added, field{"Transfer-Encoding", "chunked"})
	}

	w.writeStatusLine()
	writeFields(w.bw, h, added)
	w.bw.WriteString("\r\n")
	w.headerSent = true
}

// writeStatusLine puts the status line into bw: one string for a 200, the
// commonest, else one piece at a time.
func (w *responseWriter) writeStatusLine() {
	if w.status == http.StatusOK {
		w.bw.WriteString("HTTP/1.1 200 OK\r\n")
		return
	}
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	// The status has three digits (WriteHeader checks); written byte by
	// byte, as a slice it would escape to the heap through bw.
	w.bw.WriteString("HTTP/1.1 ")
	w.bw.WriteByte('0' + byte(w.status/100))
	w.bw.WriteByte('0' + byte(w.status/10%10))
	w.bw.WriteByte('0' + byte(w.status%10))
	w.bw.WriteByte(' ')
	w.bw.WriteString(text)
	w.bw.WriteString("\r\n")
}

// finish completes the response once the handler has returned.
func (w *responseWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		w.writeHeader(false)
		w.writeBody(w.body.Bytes())
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		w.trailers().Write(w.bw)
		w.bw.WriteString("\r\n")
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("embly: writing the response on conn 1: %w", err)
	}
	if w.contentLength >= 0 && w.written < w.contentLength && w.req.Method != http.MethodHead {
		return fmt.Errorf("embly: the handler declared Content-Length %d but wrote %d bytes", w.contentLength, w.written)
	}
	return nil
}

// abort ends a response whose handler panicked: a plain 500 if nothing was
// sent yet, else nothing more (no final chunk), so the gateway sees that the
// response was cut short. A deliberate abort (http.ErrAbortHandler) sends
// nothing at all.
func (w *responseWriter) abort(deliberate bool) {
	if w.headerSent || deliberate {
		return
	}
	// bw holds nothing yet: the body so far is in w.body, and is dropped.
	const msg = "Internal Server Error\n"
	fmt.Fprintf(w.bw, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", len(msg), msg)
	w.bw.Flush()
}

// declaredTrailers lists the keys of the handler's "Trailer" header.
func (w *responseWriter) declaredTrailers() []string {
	var keys []string
	for _, v := range w.sent["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, http.CanonicalHeaderKey(k))
			}
		}
	}
	return keys
}

// trailers collects the trailer values the handler set: declared keys, and
// keys with http.TrailerPrefix.
func (w *responseWriter) trailers() http.Header {
	t := make(http.Header)
	for _, k := range w.declaredTrailers() {
		if vv, ok := w.header[k]; ok {
			t[k] = vv
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			t[http.CanonicalHeaderKey(name)] = vv
		}
	}
	return t
}

// field is one header field the writer adds.
type field struct{ key, value string }

// writeFields writes h's fields and added's (in key order), as
// h.WriteSubset would with added Set into h: sorted by key, skipping invalid names and keys with
// http.TrailerPrefix, with line breaks in values turned into spaces and
// values trimmed. WriteSubset's pooled sorter and replacer cost more than the
// rest of a small response, and setting added's fields in h allocated.
func writeFields(bw *bufio.Writer, h http.Header, added []field) {
	if len(h) == 0 {
		// The common case, added alone: it is in key order, and its
		// values are the writer's own, with nothing to clean.
		for _, f := range added {
			bw.WriteString(f.key)
			bw.WriteString(": ")
			bw.WriteString(f.value)
			bw.WriteString("\r\n")
		}
		return
	}
	var arr [16]string
	keys := arr[:0]
	for k := range h {
		if isToken(k) && !strings.HasPrefix(k, http.TrailerPrefix) && !slices.ContainsFunc(added, func(f field) bool { return f.key == k }) {
			keys = append(keys, k)
		}
	}
	for _, f := range added {
		keys = append(keys, f.key)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if i := slices.IndexFunc(added, func(f field) bool { return f.key == k }); i >= 0 {
			writeField(bw, k, added[i].value)
			continue
		}
		for _, v := range h[k] {
			writeField(bw, k, v)
		}
	}
}

func writeField(bw *bufio.Writer, key, value string) {
	if strings.ContainsAny(value, "\r\n") {
		value = newlineToSpace.Replace(value)
	}
	bw.WriteString(key)
	bw.WriteString(": ")
	bw.WriteString(textproto.TrimString(value))
	bw.WriteString("\r\n")
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}
