package gateway

// Writing the responses of the requests the front end serves (frontend.go).

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fastWriter is the http.ResponseWriter of a request the front end serves.
// It follows net/http's rules for what the handler leaves open: a body
// that ends before the first flush, and within fastHoldMax, goes with a
// Content-Length; otherwise it is chunked unless the handler set a length.
// The head gets a Date and, when missing, a sniffed Content-Type.
type fastWriter struct {
	fc     *fastConn
	req    *http.Request
	header http.Header

	status      int
	wroteHeader bool
	headSent    bool
	chunked     bool
	closeAfter  bool
	length      int64 // the Content-Length the handler set, or -1
	written     int64
	held        []byte // body bytes held until the head is sent
	err         error  // the first write error: the connection is dead
	line        []byte // scratch for chunk sizes and the head
}

func (w *fastWriter) start(req *http.Request) {
	w.req = req
	clear(w.header)
	w.status, w.wroteHeader, w.headSent, w.chunked = 0, false, false, false
	w.closeAfter = req.Close
	w.length, w.written = -1, 0
	w.held = w.held[:0]
	w.err = nil
}

func (w *fastWriter) Header() http.Header { return w.header }

func (w *fastWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		return // the gateway sends no informational responses
	}
	w.wroteHeader = true
	w.status = code
	if v := w.header["Content-Length"]; len(v) > 0 {
		// One length, or several that agree, frames the body; anything
		// else is dropped and the body framed as if none was set.
		n, err := strconv.ParseUint(v[0], 10, 63)
		for _, o := range v[1:] {
			if o != v[0] {
				err = strconv.ErrSyntax
			}
		}
		if err != nil {
			delete(w.header, "Content-Length")
		} else {
			w.header["Content-Length"] = v[:1]
			w.length = int64(n)
		}
	}
}

func (w *fastWriter) bodyAllowed() bool {
	return w.status >= 200 && w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.req.Method == "HEAD" {
		return len(p), nil
	}
	if !w.headSent {
		if len(w.held)+len(p) <= fastHoldMax {
			w.held = append(w.held, p...)
			return len(p), nil
		}
		w.sendHead(false)
	}
	w.body(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// body writes p to the connection, as a chunk when chunked.
func (w *fastWriter) body(p []byte) {
	bw := w.fc.bw
	if w.chunked {
		w.line = strconv.AppendInt(w.line[:0], int64(len(p)), 16)
		w.line = append(w.line, '\r', '\n')
		bw.Write(w.line)
		bw.Write(p)
		_, w.err = bw.WriteString("\r\n")
		return
	}
	_, w.err = bw.Write(p)
}

// FlushError sends the head and what the body has so far.
func (w *fastWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(false)
	}
	if w.err == nil {
		w.err = w.fc.bw.Flush()
	}
	return w.err
}

func (w *fastWriter) Flush() { _ = w.FlushError() }

func (w *fastWriter) SetReadDeadline(t time.Time) error  { return w.fc.c.SetReadDeadline(t) }
func (w *fastWriter) SetWriteDeadline(t time.Time) error { return w.fc.c.SetWriteDeadline(t) }

// EnableFullDuplex: a request the front end serves has no body.
func (w *fastWriter) EnableFullDuplex() error { return nil }

// sendHead writes the status line and the headers, then the held body.
// With done, the handler has returned: a body not yet framed gets its
// length.
func (w *fastWriter) sendHead(done bool) {
	w.headSent = true
	bw := w.fc.bw
	h := w.header
	handlerCloses := hasToken(h["Connection"], "close")
	if handlerCloses || w.fc.fe.closing.Load() {
		w.closeAfter = true
	}
	b := append(w.line[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(w.status), 10)
	}
	b = append(b, "\r\n"...)
	body := w.bodyAllowed()
	if body && w.length < 0 {
		switch {
		case done && (w.req.Method != "HEAD" || w.written > 0):
			w.length = w.written
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, w.written, 10)
			b = append(b, "\r\n"...)
		case !done && w.req.Method != "HEAD":
			w.chunked = true
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
		}
	}
	if _, ok := h["Content-Type"]; !ok && body && len(w.held) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.held)...)
		b = append(b, "\r\n"...)
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = dateStamp.append(b, time.Now().UTC())
		b = append(b, "\r\n"...)
	}
	if w.closeAfter && !handlerCloses {
		b = append(b, "Connection: close\r\n"...)
	}
	for k, vv := range h {
		if !validFieldName(k) || k == "Transfer-Encoding" || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, trimOWS(v))
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	w.line = b
	if _, err := bw.Write(b); err != nil {
		w.err = err
		return
	}
	if len(w.held) > 0 {
		w.body(w.held)
		w.held = w.held[:0]
	}
}

// finish ends the response after the handler returned, and reports
// whether the connection can serve another request.
func (w *fastWriter) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(true)
	}
	if w.chunked && w.err == nil {
		bw := w.fc.bw
		bw.WriteString("0\r\n")
		for k, vv := range w.header {
			name, ok := strings.CutPrefix(k, http.TrailerPrefix)
			if !ok || !validFieldName(name) {
				continue
			}
			for _, v := range vv {
				bw.WriteString(name)
				bw.WriteString(": ")
				w.line = appendValue(w.line[:0], trimOWS(v))
				bw.Write(w.line)
				bw.WriteString("\r\n")
			}
		}
		_, w.err = bw.WriteString("\r\n")
	}
	if w.length >= 0 && w.written < w.length && w.req.Method != "HEAD" && w.bodyAllowed() {
		w.closeAfter = true // the client waits for bytes that will not come
	}
	if w.err == nil {
		w.err = w.fc.bw.Flush()
	}
	w.req = nil
	return w.err == nil && !w.closeAfter
}

// hasToken reports whether one of values, comma-separated lists, holds
// token.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if asciiEqualFold(trimOWS(tok), token) {
				return true
			}
		}
	}
	return false
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

// dateStamp formats the Date header.
var dateStamp = secondStamp{layout: http.TimeFormat}
