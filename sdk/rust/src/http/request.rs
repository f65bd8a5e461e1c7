//! Reading an HTTP/1.1 request: the head, parsed into an `http::Request`,
//! and the body, framed by Content-Length, chunked encoding, or EOF.

use crate::error::Error;
use ::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use ::http::{HeaderMap, Method, Request, Uri, Version};
use std::fmt;
use std::io::{self, BufRead, Read};

/// The most bytes a request's head (request line and headers) may take, as
/// net/http's default.
const MAX_HEAD: usize = 1 << 20;
/// The longest chunk-size or trailer line of a chunked body.
const MAX_LINE: usize = 64 << 10;

/// Body is a request's body. It implements [`std::io::Read`]; `read`
/// returns 0 at the end of the body. For a request read from conn 1 the
/// bytes come from the gateway as the handler reads them, so a large upload
/// streams through.
///
/// A `Body` can also be made from bytes (`Body::from("text")`), which is
/// handy to call a handler in a unit test.
pub struct Body {
    rd: Box<dyn BufRead>,
    framing: Framing,
}

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// This many bytes are left (Content-Length).
    Length(u64),
    /// Chunked transfer coding, in this state.
    Chunked(Chunk),
    /// Until the reader's EOF: no Content-Length and no chunked coding.
    Eof,
    /// Read to the end.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Next is a chunk-size line.
    Size,
    /// This many bytes of the current chunk are left.
    Data(u64),
    /// Next is the CRLF after a chunk's data.
    DataEnd,
    /// Next are trailer lines, up to an empty one.
    Trailers,
}

impl Body {
    /// empty returns a body with no bytes.
    pub fn empty() -> Body {
        Body::from(Vec::new())
    }

    pub(crate) fn new(rd: Box<dyn BufRead>, framing: Framing) -> Body {
        Body { rd, framing }
    }

    /// read_all reads the rest of the body and returns it.
    pub fn read_all(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    /// read_string reads the rest of the body, which must be UTF-8.
    pub fn read_string(&mut self) -> Result<String, Error> {
        Ok(String::from_utf8(self.read_all()?)?)
    }

    /// read_data reads from a run of body bytes of which `left` remain.
    fn read_data(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let max = (buf.len() as u64).min(left) as usize;
        let n = self.rd.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the request body ended {} bytes early", left),
            ));
        }
        Ok(n)
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::new(Box::new(io::Cursor::new(bytes)), Framing::Eof)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(s.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Body {
        Body::from(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for Body {
    fn from(b: &[u8]) -> Body {
        Body::from(b.to_vec())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("framing", &self.framing)
            .finish()
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Done => return Ok(0),
                Framing::Eof => {
                    let n = self.rd.read(buf)?;
                    if n == 0 {
                        self.framing = Framing::Done;
                    }
                    return Ok(n);
                }
                Framing::Length(0) => self.framing = Framing::Done,
                Framing::Length(left) => {
                    let n = self.read_data(buf, left)?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::Chunked(Chunk::Size) => {
                    let line = read_line(&mut self.rd, MAX_LINE)?;
                    let size = chunk_size(&line)?;
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Data(0)) => self.framing = Framing::Chunked(Chunk::DataEnd),
                Framing::Chunked(Chunk::Data(left)) => {
                    let n = self.read_data(buf, left)?;
                    self.framing = Framing::Chunked(Chunk::Data(left - n as u64));
                    return Ok(n);
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if !read_line(&mut self.rd, MAX_LINE)?.is_empty() {
                        return Err(invalid("a chunk's data is longer than its size"));
                    }
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    // Trailers are read and dropped: the head is already
                    // in the handler's hands.
                    if read_line(&mut self.rd, MAX_LINE)?.is_empty() {
                        self.framing = Framing::Done;
                    }
                }
            }
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad chunked request body: {}", msg),
    )
}

/// chunk_size parses a chunk-size line: hex digits, maybe extensions.
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = std::str::from_utf8(&line[..end])
        .map_err(|_| invalid("the chunk size is not hex"))?
        .trim_matches(|c| c == ' ' || c == '\t');
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("the chunk size is not hex"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| invalid("the chunk size is not hex"))
}

/// read_line reads one line of at most max bytes, without its line ending
/// (LF or CRLF). EOF before the line ends is an error.
pub(crate) fn read_line(rd: &mut dyn BufRead, max: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    read_line_into(rd, max, &mut line)?;
    Ok(line)
}

/// read_line_into is read_line into line, which it clears first.
pub(crate) fn read_line_into(
    rd: &mut dyn BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<()> {
    line.clear();
    rd.take(max as u64 + 1).read_until(b'\n', line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > max {
            io::Error::new(io::ErrorKind::InvalidData, "line too long")
        } else {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected EOF in the middle of a line",
            )
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(())
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

/// read_request reads a request's head from rd and returns the request,
/// whose body reads the rest from rd.
pub(crate) fn read_request<R: BufRead + 'static>(rd: R) -> Result<Request<Body>, Error> {
    let mut rd: Box<dyn BufRead> = Box::new(rd);
    let mut budget = MAX_HEAD;
    // One buffer for every line of the head: an allocation per line was a
    // good part of a small request's cost in the guest.
    let mut line = Vec::with_capacity(256);
    let mut next_line =
        |rd: &mut Box<dyn BufRead>, line: &mut Vec<u8>, first: bool| -> Result<(), Error> {
            if first && rd.fill_buf()?.is_empty() {
                return Err(bad("conn 1 closed without a request"));
            }
            match read_line_into(rd.as_mut(), budget, line) {
                Ok(()) => {
                    budget = budget.saturating_sub(line.len() + 2);
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    Err(bad(format!("the request head is over {} bytes", MAX_HEAD)))
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Err(bad("the request ended in its head"))
                }
                Err(e) => Err(e.into()),
            }
        };

    // RFC 9112 2.2: ignore empty lines before the request line.
    next_line(&mut rd, &mut line, true)?;
    while line.is_empty() {
        next_line(&mut rd, &mut line, true)?;
    }
    let mut req = Request::new(());
    parse_request_line(&line, &mut req)?;

    loop {
        next_line(&mut rd, &mut line, false)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = parse_header(&line)?;
        req.headers_mut().append(name, value);
    }

    let framing = framing(req.headers())?;
    let (parts, ()) = req.into_parts();
    Ok(Request::from_parts(parts, Body::new(rd, framing)))
}

fn parse_request_line(line: &[u8], req: &mut Request<()>) -> Result<(), Error> {
    let text = std::str::from_utf8(line).map_err(|_| bad("the request line is not UTF-8"))?;
    let mut parts = text.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(bad(format!("malformed request line {:?}", text))),
    };
    *req.method_mut() = Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(format!("bad method {:?}", method)))?;
    *req.uri_mut() = target
        .parse::<Uri>()
        .map_err(|_| bad(format!("bad request target {:?}", target)))?;
    *req.version_mut() = match version {
        "HTTP/1.1" => Version::HTTP_11,
        "HTTP/1.0" => Version::HTTP_10,
        _ => return Err(bad(format!("unsupported protocol version {:?}", version))),
    };
    Ok(())
}

pub(crate) fn parse_header(line: &[u8]) -> Result<(HeaderName, HeaderValue), Error> {
    if line[0] == b' ' || line[0] == b'\t' {
        return Err(bad("obsolete line folding in the request head"));
    }
    let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
        bad(format!(
            "malformed header line {:?}",
            String::from_utf8_lossy(line)
        ))
    })?;
    let name = match gateway_header(&line[..colon]) {
        Some(name) => name,
        None => HeaderName::from_bytes(&line[..colon]).map_err(|_| {
            bad(format!(
                "bad header name {:?}",
                String::from_utf8_lossy(&line[..colon])
            ))
        })?,
    };
    let value = trim_ows(&line[colon + 1..]);
    let value = HeaderValue::from_bytes(value)
        .map_err(|_| bad(format!("bad value for header {}", name)))?;
    Ok((name, value))
}

/// gateway_header returns the names the HTTP gateway adds to every request
/// without allocating: HeaderName::from_bytes copies any name that is not
/// one of the http crate's standard ones.
fn gateway_header(name: &[u8]) -> Option<HeaderName> {
    const NAMES: [&str; 3] = ["x-forwarded-for", "x-real-ip", "x-forwarded-proto"];
    NAMES
        .iter()
        .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|n| HeaderName::from_static(n))
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// framing decides how the body ends (RFC 9112 6.3): chunked wins over
/// Content-Length; with neither, the body runs to EOF, which the gateway
/// sends right after the body (for a bodyless GET, at once).
pub(crate) fn framing(headers: &HeaderMap) -> Result<Framing, Error> {
    let mut codings = Vec::new();
    for v in headers.get_all(TRANSFER_ENCODING) {
        let v = v.to_str().map_err(|_| bad("bad Transfer-Encoding"))?;
        codings.extend(
            v.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty()),
        );
    }
    if let Some(last) = codings.last() {
        if last != "chunked" {
            return Err(bad(format!(
                "unsupported Transfer-Encoding {:?}",
                codings.join(", ")
            )));
        }
        return Ok(Framing::Chunked(Chunk::Size));
    }
    let mut length = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        let n = v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("bad Content-Length {:?}", v)))?;
        if length.map_or(false, |l| l != n) {
            return Err(bad("conflicting Content-Length headers"));
        }
        length = Some(n);
    }
    Ok(length.map_or(Framing::Eof, Framing::Length))
}

#[cfg(test)]
mod tests {

    #[test]
    fn gateway_headers_keep_their_names() {
        let req = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nx-real-ip: 10.0.0.1\r\nX-FORWARDED-PROTO: http\r\nX-Other: 1\r\n\r\n").unwrap();
        for name in [
            "x-forwarded-for",
            "x-real-ip",
            "x-forwarded-proto",
            "x-other",
        ] {
            assert!(req.headers().contains_key(name), "{}", name);
        }
        assert_eq!(req.headers()["x-forwarded-proto"], "http");
    }

    use super::*;

    fn parse(raw: &str) -> Result<Request<Body>, Error> {
        read_request(io::Cursor::new(raw.as_bytes().to_vec()))
    }

    fn body_of(raw: &str) -> Result<String, Error> {
        parse(raw)?.body_mut().read_string()
    }

    #[test]
    fn head() {
        let req = parse(
            "POST /echo?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Multi: a\r\nx-multi:  b \r\nContent-Length: 5\r\n\r\nhello",
        )
        .unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/echo");
        assert_eq!(req.uri().query(), Some("x=1"));
        assert_eq!(req.version(), Version::HTTP_11);
        assert_eq!(req.headers()["host"], "example.com");
        let multi: Vec<_> = req.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, vec!["a", "b"]);
    }

    #[test]
    fn bodies() {
        let cases: &[(&str, &str)] = &[
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""),
            ("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello and more", "hello"),
            ("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nignored", ""),
            ("POST / HTTP/1.0\r\n\r\nuntil eof", "until eof"),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nnext",
                "hello, world",
            ),
            ("POST / HTTP/1.1\nTransfer-Encoding: gzip, chunked\nContent-Length: 99\n\nA\n0123456789\n0\n\n", "0123456789"),
            ("\r\n\r\nGET / HTTP/1.1\r\n\r\n", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(body_of(raw).unwrap(), *want, "{:?}", raw);
        }
    }

    #[test]
    fn bad_requests() {
        let cases: &[(&str, &str)] = &[
            ("", "conn 1 closed without a request"),
            (
                "GET / HTTP/1.1\r\nHost: x\r\n",
                "the request ended in its head",
            ),
            ("GET /\r\n\r\n", "malformed request line"),
            ("GET / HTTP/2.0\r\n\r\n", "unsupported protocol version"),
            ("G(T / HTTP/1.1\r\n\r\n", "bad method"),
            (
                "GET / HTTP/1.1\r\nno colon\r\n\r\n",
                "malformed header line",
            ),
            ("GET / HTTP/1.1\r\nbad name: x\r\n\r\n", "bad header name"),
            (
                "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
                "obsolete line folding",
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                "bad Content-Length",
            ),
            (
                "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "conflicting",
            ),
            (
                "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                "unsupported Transfer-Encoding",
            ),
        ];
        for (raw, want) in cases {
            match parse(raw) {
                Err(Error::BadRequest(msg)) => {
                    assert!(msg.contains(want), "{:?}: {:?}, want {:?}", raw, msg, want)
                }
                other => panic!("{:?}: got {:?}, want a bad request", raw, other.map(|_| ())),
            }
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&huge), Err(Error::BadRequest(m)) if m.contains("over")));
    }

    #[test]
    fn bad_bodies() {
        let cases: &[(&str, io::ErrorKind)] = &[
            (
                "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
                io::ErrorKind::UnexpectedEof,
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                io::ErrorKind::InvalidData,
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
                io::ErrorKind::InvalidData,
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                io::ErrorKind::UnexpectedEof,
            ),
        ];
        for (raw, kind) in cases {
            let mut req = parse(raw).unwrap();
            let err = req.body_mut().read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(err.kind(), *kind, "{:?}: {}", raw, err);
        }
    }

    #[test]
    fn bodies_from_bytes() {
        assert_eq!(Body::from("text").read_string().unwrap(), "text");
        assert_eq!(Body::default().read_all().unwrap(), b"");
    }
}
