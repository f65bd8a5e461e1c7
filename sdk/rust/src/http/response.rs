//! Writing a raw HTTP/1.1 response to conn 1.

use crate::error::Error;
use crate::host;
use ::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use ::http::{HeaderMap, StatusCode};
use std::cell::{RefCell, RefMut};
use std::convert::TryFrom;
use std::fmt;
use std::io;
use std::rc::Rc;

/// How much of an unflushed body the writer holds before it starts
/// streaming on its own. Below it a response goes out with a Content-Length,
/// which clients like; above it memory matters more.
const AUTO_FLUSH: usize = 1 << 20;
/// How much a streaming response gathers between flushes before it sends a
/// chunk anyway: write! and friends write in small pieces.
const STREAM_BUFFER: usize = 16 << 10;

/// ResponseWriter writes the response to the HTTP request this instance
/// serves. It implements [`std::io::Write`] for the body.
///
/// Until the first [`flush`](io::Write::flush) the body is held, and when
/// the handler returns it is sent with a `Content-Length`. Once the handler
/// flushes, the status line and headers go out with `Transfer-Encoding:
/// chunked` (unless the handler set a `Content-Length`), and what is
/// written after goes out at each flush (or whenever 16 KiB gather): the
/// response streams. Bodies over 1 MiB start streaming by themselves.
///
/// The status defaults to 200 and can be set until the head is sent, like
/// the headers. A missing `Content-Type` is guessed from the body's first
/// bytes (HTML, plain UTF-8 text, or else octet-stream).
///
/// ```no_run
/// use embly::http::{run, Body, Request, ResponseWriter};
/// use embly::prelude::*;
///
/// fn execute(_req: Request<Body>, w: &mut ResponseWriter) -> Result<(), embly::Error> {
///     w.status(201)?;
///     w.header("Content-Type", "application/json")?;
///     w.write_all(br#"{"ok":true}"#)?;
///     Ok(())
/// }
///
/// fn main() -> Result<(), embly::Error> {
///     run(execute)
/// }
/// ```
pub struct ResponseWriter {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    conn: i32,
    status: StatusCode,
    headers: HeaderMap,
    /// The request was HEAD: count the body, send none.
    head_only: bool,
    /// Body bytes not sent yet.
    buf: Vec<u8>,
    head_sent: bool,
    chunked: bool,
    /// The Content-Length sent with a streamed head, if any.
    length: Option<u64>,
    /// Body bytes accepted from the handler.
    written: u64,
    finished: bool,
}

impl ResponseWriter {
    pub(crate) fn new(conn: i32, head_only: bool) -> ResponseWriter {
        ResponseWriter {
            inner: Rc::new(RefCell::new(Inner {
                conn,
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                head_only,
                buf: Vec::new(),
                head_sent: false,
                chunked: false,
                length: None,
                written: 0,
                finished: false,
            })),
        }
    }

    /// handle returns a second handle on the same response, which run_catch_error
    /// keeps to finish the response after the handler (which owns the
    /// first) returns.
    pub(crate) fn handle(&self) -> ResponseWriter {
        ResponseWriter {
            inner: self.inner.clone(),
        }
    }

    /// status sets the response's status code: `w.status(404)`,
    /// `w.status("404")` or `w.status(StatusCode::NOT_FOUND)`. It fails once
    /// the head is sent.
    pub fn status<T>(&mut self, status: T) -> Result<(), Error>
    where
        StatusCode: TryFrom<T>,
        <StatusCode as TryFrom<T>>::Error: Into<::http::Error>,
    {
        let status = StatusCode::try_from(status).map_err(|e| Error::Http(e.into()))?;
        let mut inner = self.editable()?;
        inner.status = status;
        Ok(())
    }

    /// status_code returns the status set so far (200 unless set).
    pub fn status_code(&self) -> StatusCode {
        self.inner.borrow().status
    }

    /// header sets a response header, replacing any value it had. It fails
    /// on an invalid name or value, or once the head is sent.
    pub fn header<K, V>(&mut self, name: K, value: V) -> Result<(), Error>
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<::http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<::http::Error>,
    {
        let (name, value) = header_pair(name, value)?;
        self.editable()?.headers.insert(name, value);
        Ok(())
    }

    /// add_header adds a value to a response header, keeping those it had
    /// (for headers like Set-Cookie).
    pub fn add_header<K, V>(&mut self, name: K, value: V) -> Result<(), Error>
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<::http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<::http::Error>,
    {
        let (name, value) = header_pair(name, value)?;
        self.editable()?.headers.append(name, value);
        Ok(())
    }

    /// headers_mut gives the response's headers to edit in place. Edits
    /// after the head is sent change nothing on the wire.
    pub fn headers_mut(&mut self) -> RefMut<'_, HeaderMap> {
        RefMut::map(self.inner.borrow_mut(), |i| &mut i.headers)
    }

    /// head_sent reports whether the status line and headers are sent.
    pub fn head_sent(&self) -> bool {
        self.inner.borrow().head_sent
    }

    fn editable(&self) -> Result<RefMut<'_, Inner>, Error> {
        let inner = self.inner.borrow_mut();
        if inner.head_sent {
            return Err(Error::Other(
                "embly: the response's head is already sent (the handler flushed); set the status and headers before"
                    .into(),
            ));
        }
        Ok(inner)
    }

    /// finish sends what is left of the response and closes conn 1.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.finished {
            return Ok(());
        }
        inner.finished = true;
        let sent = if !inner.head_sent {
            inner.send_head(true)
        } else {
            inner.send_held(true)
        };
        let closed = host::close(inner.conn).map_err(|e| Error::host("close conn 1", e));
        sent.map_err(Error::from).and(closed)
    }

    /// fail ends the response after the handler failed: a 500 if nothing was
    /// sent yet; otherwise the response is cut short (a chunked one without
    /// its last chunk), so the client can tell.
    pub(crate) fn fail(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.finished {
            return;
        }
        if !inner.head_sent {
            inner.status = StatusCode::INTERNAL_SERVER_ERROR;
            inner.headers.clear();
            inner.headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            inner.buf = b"Internal Server Error\n".to_vec();
            inner.written = inner.buf.len() as u64;
            drop(inner);
            let _ = self.finish();
            return;
        }
        inner.finished = true;
        let _ = host::close(inner.conn);
    }
}

fn header_pair<K, V>(name: K, value: V) -> Result<(HeaderName, HeaderValue), Error>
where
    HeaderName: TryFrom<K>,
    <HeaderName as TryFrom<K>>::Error: Into<::http::Error>,
    HeaderValue: TryFrom<V>,
    <HeaderValue as TryFrom<V>>::Error: Into<::http::Error>,
{
    let name = HeaderName::try_from(name).map_err(|e| Error::Http(e.into()))?;
    let value = HeaderValue::try_from(value).map_err(|e| Error::Http(e.into()))?;
    Ok((name, value))
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("ResponseWriter")
            .field("status", &inner.status)
            .field("headers", &inner.headers)
            .field("head_sent", &inner.head_sent)
            .finish()
    }
}

impl Inner {
    fn body_allowed(&self) -> bool {
        let s = self.status.as_u16();
        !(s < 200 || s == 204 || s == 304)
    }

    /// send writes all of b to conn 1.
    fn send(&mut self, b: &[u8]) -> io::Result<()> {
        host::write_all(self.conn, b).map_err(|e| Error::host("write conn 1", e).into_io())
    }

    /// send_head sends the status line and headers, and the held body.
    /// With last, the body is complete and goes with a Content-Length;
    /// otherwise the rest will stream.
    fn send_head(&mut self, last: bool) -> io::Result<()> {
        self.head_sent = true;
        let declared = self
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<u64>().ok());
        let body = self.body_allowed();
        if body && !self.headers.contains_key(CONTENT_TYPE) && !self.buf.is_empty() {
            self.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static(sniff(&self.buf)));
        }
        self.length = match (body, last, self.head_only) {
            (false, _, _) => None,
            (true, true, false) => Some(self.written),
            (true, _, _) => declared.or(if last { Some(self.written) } else { None }),
        };
        self.chunked = body && !last && !self.head_only && self.length.is_none();

        let mut out = Vec::with_capacity(256 + self.buf.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(
            self.status
                .canonical_reason()
                .unwrap_or("Status")
                .as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers.iter() {
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
                continue; // the writer alone decides on framing
            }
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        if let Some(n) = self.length {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(&mut out, n);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        let held = std::mem::take(&mut self.buf);
        if body && !self.head_only && !held.is_empty() {
            if self.chunked {
                out.extend_from_slice(format!("{:x}\r\n", held.len()).as_bytes());
                out.extend_from_slice(&held);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(&held);
            }
        }
        self.send(&out)
    }
}

/// push_decimal appends n in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Inner {
    /// send_held sends the body bytes written since the last send, as a
    /// chunk when chunked; with last, the chunked body's end too.
    fn send_held(&mut self, last: bool) -> io::Result<()> {
        let held = std::mem::take(&mut self.buf);
        if self.head_only {
            return Ok(());
        }
        let mut out = Vec::with_capacity(held.len() + 16);
        if self.chunked {
            if !held.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", held.len()).as_bytes());
                out.extend_from_slice(&held);
                out.extend_from_slice(b"\r\n");
            }
            if last {
                out.extend_from_slice(b"0\r\n\r\n");
            }
        } else {
            out = held;
        }
        if out.is_empty() {
            return Ok(());
        }
        self.send(&out)
    }
}

impl io::Write for ResponseWriter {
    fn write(&mut self, p: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.borrow_mut();
        if inner.finished {
            return Err(io::Error::new(
                io::ErrorKind::Other,
                "embly: the response is finished",
            ));
        }
        if !inner.body_allowed() {
            return Err(io::Error::new(
                io::ErrorKind::Other,
                format!(
                    "embly: a response with status {} has no body",
                    inner.status.as_u16()
                ),
            ));
        }
        if let Some(n) = inner.length {
            if inner.written + p.len() as u64 > n {
                return Err(io::Error::new(
                    io::ErrorKind::Other,
                    format!("embly: the body is longer than its Content-Length {}", n),
                ));
            }
        }
        inner.written += p.len() as u64;
        if inner.head_only {
            // No body on the wire; keep the start to guess the Content-Type.
            if !inner.head_sent && inner.buf.len() < 512 {
                let k = p.len().min(512 - inner.buf.len());
                inner.buf.extend_from_slice(&p[..k]);
            }
            return Ok(p.len());
        }
        if !inner.head_sent {
            inner.buf.extend_from_slice(p);
            if inner.buf.len() > AUTO_FLUSH {
                inner.send_head(false)?;
            }
            return Ok(p.len());
        }
        inner.buf.extend_from_slice(p);
        if inner.buf.len() >= STREAM_BUFFER {
            inner.send_held(false)?;
        }
        Ok(p.len())
    }

    /// flush sends the head, if it is not sent yet, and what the body holds:
    /// from then on the response streams.
    fn flush(&mut self) -> io::Result<()> {
        let mut inner = self.inner.borrow_mut();
        if inner.finished {
            return Ok(());
        }
        if !inner.head_sent {
            return inner.send_head(false);
        }
        inner.send_held(false)
    }
}

/// sniff guesses a body's Content-Type from its first bytes.
fn sniff(b: &[u8]) -> &'static str {
    let start = &b[..b.len().min(512)];
    let trimmed: &[u8] = {
        let i = start
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(start.len());
        &start[i..]
    };
    let lower: Vec<u8> = trimmed
        .iter()
        .take(14)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return "text/html; charset=utf-8";
    }
    match std::str::from_utf8(start) {
        Ok(_) => "text/plain; charset=utf-8",
        // A character cut at the 512th byte is still text.
        Err(e) if e.error_len().is_none() && b.len() > 512 => "text/plain; charset=utf-8",
        Err(_) => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 11_000, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{}", n).into_bytes());
        }
    }

    use super::*;
    use crate::fake;
    use std::io::Write;

    fn writer() -> ResponseWriter {
        fake::reset();
        fake::with(|f| {
            f.conn(1);
        });
        ResponseWriter::new(1, false)
    }

    fn output() -> String {
        fake::with(|f| String::from_utf8_lossy(&f.conn(1).output).into_owned())
    }

    #[test]
    fn buffered_with_length() {
        let mut w = writer();
        w.write_all(b"Hello ").unwrap();
        w.write_all(b"World").unwrap();
        w.status(201).unwrap();
        w.header("X-Thing", "1").unwrap();
        w.finish().unwrap();
        assert_eq!(
            output(),
            "HTTP/1.1 201 Created\r\nx-thing: 1\r\ncontent-type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nHello World"
        );
        assert!(fake::with(|f| f.conn(1).closed));
    }

    #[test]
    fn flush_streams_chunks() {
        let mut w = writer();
        w.header("Content-Type", "text/event-stream").unwrap();
        w.write_all(b"one").unwrap();
        w.flush().unwrap();
        assert_eq!(
            output(),
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"
        );
        w.write_all(b"twelve bytes").unwrap();
        assert!(w.status(500).is_err(), "status after the head is sent");
        w.finish().unwrap();
        assert!(
            output().ends_with("\r\nc\r\ntwelve bytes\r\n0\r\n\r\n"),
            "{:?}",
            output()
        );
    }

    #[test]
    fn flush_with_declared_length() {
        let mut w = writer();
        w.header("Content-Length", "4").unwrap();
        w.flush().unwrap();
        w.write_all(b"ab").unwrap();
        w.write_all(b"cd").unwrap();
        assert!(w.write_all(b"e").is_err());
        w.finish().unwrap();
        assert_eq!(output(), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd");
    }

    #[test]
    fn head_requests_and_no_content() {
        let _ = writer();
        let mut w = ResponseWriter::new(1, true);
        w.write_all(b"<!DOCTYPE html><p>hi").unwrap();
        w.finish().unwrap();
        assert_eq!(
            output(),
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\nContent-Length: 20\r\n\r\n"
        );

        let mut w = writer();
        w.status(204).unwrap();
        assert!(w.write_all(b"x").is_err());
        w.finish().unwrap();
        assert_eq!(output(), "HTTP/1.1 204 No Content\r\n\r\n");
    }

    #[test]
    fn failure_before_and_after_the_head() {
        let mut w = writer();
        w.header("X-Lost", "yes").unwrap();
        w.write_all(b"partial").unwrap();
        w.fail();
        assert_eq!(
            output(),
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n\r\nInternal Server Error\n"
        );

        let mut w = writer();
        w.write_all(b"x").unwrap();
        w.flush().unwrap();
        w.fail();
        assert!(
            output().ends_with("\r\n1\r\nx\r\n"),
            "no last chunk: {:?}",
            output()
        );
        assert!(fake::with(|f| f.conn(1).closed));
    }

    #[test]
    fn big_bodies_stream_by_themselves() {
        let mut w = writer();
        let big = vec![b'a'; AUTO_FLUSH + 1];
        w.write_all(&big).unwrap();
        assert!(w.head_sent());
        w.finish().unwrap();
        let out = output();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n"));
        assert!(out.ends_with("a\r\n0\r\n\r\n"));
    }

    #[test]
    fn bad_headers_and_statuses() {
        let mut w = writer();
        assert!(matches!(w.header("bad name", "x"), Err(Error::Http(_))));
        assert!(matches!(w.header("X", "bad\nvalue"), Err(Error::Http(_))));
        assert!(matches!(w.status(1000), Err(Error::Http(_))));
        assert!(w.status("404").is_ok());
        w.headers_mut()
            .insert("x-direct", HeaderValue::from_static("1"));
        w.add_header("set-cookie", "a=1").unwrap();
        w.add_header("set-cookie", "b=2").unwrap();
        w.finish().unwrap();
        assert_eq!(
            output(),
            "HTTP/1.1 404 Not Found\r\nx-direct: 1\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"  <html>"), "text/html; charset=utf-8");
        assert_eq!(sniff("héllo".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\xff\xfe\x00"), "application/octet-stream");
    }
}
