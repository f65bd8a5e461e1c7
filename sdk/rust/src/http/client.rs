//! Outbound HTTP through the host's `embly/http` service: the function
//! writes one raw HTTP/1.1 request with an absolute URL as its target,
//! closes its side, and reads one raw HTTP/1.1 response back (docs/abi.md,
//! "Outbound HTTP"). Only what the function's `allowed_hosts` lists in
//! embly.hcl is reachable.

use super::request::{framing, parse_header, read_line, Body};
use crate::bufconn::BufConn;
use crate::conn::{spawn, Conn};
use crate::error::Error;
use ::http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use ::http::{Request, Response, StatusCode, Version};
use std::io::{self, BufRead, Read, Write};

/// The spawn target of outbound HTTP.
const TARGET: &str = "embly/http";
/// The most bytes a response head may take.
const MAX_HEAD: usize = 1 << 20;
/// The header the host marks its own answers with.
const HOST_ERROR: &str = "x-embly-error";

/// send makes one outbound HTTP request and returns the response, whose
/// body streams from the host as it is read.
///
/// The request's URI must be absolute (`https://api.example.com/v1/items`).
/// `Host`, `Content-Length` and `Transfer-Encoding` are set from the URI and
/// the body; the body is sent whole. When the host refuses the request
/// (the URL is not in `allowed_hosts`) or cannot make it (DNS, connect, TLS,
/// a timeout), the error is [`Error::Outbound`] with the host's code and
/// explanation; when the function has no `allowed_hosts` at all, it is a
/// host error whose errno is EACCES.
///
/// ```no_run
/// use embly::http::{send, Request};
/// use embly::prelude::*;
///
/// fn main() -> Result<(), embly::Error> {
///     let req = Request::post("https://api.example.com/v1/items")
///         .header("Content-Type", "application/json")
///         .body(br#"{"name":"x"}"#.to_vec())?;
///     let mut resp = send(req)?;
///     println!("{} {}", resp.status(), resp.body_mut().read_string()?);
///     Ok(())
/// }
/// ```
pub fn send(req: Request<Vec<u8>>) -> Result<Response<Body>, Error> {
    let head = request_head(&req)?;
    let mut conn = spawn(TARGET)?;
    conn.write_all(&head)?;
    conn.write_all(req.body())?;
    conn.close()?;
    let resp = read_response(BufConn::new(conn))?;
    match resp.headers().get(HOST_ERROR) {
        None => Ok(resp),
        Some(code) => {
            let code = code.to_str().unwrap_or("").to_string();
            let status = resp.status().as_u16();
            let body = resp.into_body();
            let mut message = String::new();
            body.take(4096).read_to_string(&mut message).ok();
            Err(Error::Outbound {
                status,
                code,
                message: message.trim_end().to_string(),
            })
        }
    }
}

/// get is [`send`] of a GET with no body.
///
/// ```no_run
/// use embly::prelude::*;
///
/// fn main() -> Result<(), embly::Error> {
///     let mut resp = embly::http::get("https://example.com/")?;
///     let page = resp.body_mut().read_string()?;
///     println!("{} bytes", page.len());
///     Ok(())
/// }
/// ```
pub fn get(url: &str) -> Result<Response<Body>, Error> {
    send(Request::get(url).body(Vec::new())?)
}

/// request_head writes the request line (absolute-form target) and headers.
fn request_head(req: &Request<Vec<u8>>) -> Result<Vec<u8>, Error> {
    let uri = req.uri();
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(_)) | (Some("https"), Some(_)) => {}
        _ => {
            return Err(Error::Other(format!(
                "embly/http: {:?} is not an absolute http or https URL",
                uri.to_string()
            )))
        }
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let mut head = Vec::with_capacity(256);
    write!(
        head,
        "{} {} HTTP/1.1\r\nHost: {}\r\n",
        req.method(),
        uri,
        host
    )?;
    for (name, value) in req.headers() {
        if name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let body = req.body();
    if !body.is_empty() || !matches!(req.method().as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        write!(head, "Content-Length: {}\r\n", body.len())?;
    }
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Other(format!("embly/http: bad response: {}", msg.into()))
}

/// read_response reads a response head from rd and returns the response,
/// whose body reads the rest from rd: by Content-Length, chunked, or to EOF.
fn read_response(rd: BufConn) -> Result<Response<Body>, Error> {
    let mut rd: Box<dyn BufRead> = Box::new(rd);
    let mut budget = MAX_HEAD;
    let mut next_line = |rd: &mut Box<dyn BufRead>| -> Result<Vec<u8>, Error> {
        match read_line(rd.as_mut(), budget) {
            Ok(line) => {
                budget = budget.saturating_sub(line.len() + 2);
                Ok(line)
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err(bad(format!("the head is over {} bytes", MAX_HEAD)))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(bad("the host closed the conn in the response head"))
            }
            Err(e) => Err(e.into()),
        }
    };
    let line = next_line(&mut rd)?;
    let text = String::from_utf8_lossy(&line).into_owned();
    let mut parts = text.splitn(3, ' ');
    let status = match (parts.next(), parts.next()) {
        (Some("HTTP/1.1"), Some(code)) | (Some("HTTP/1.0"), Some(code)) => {
            StatusCode::from_bytes(code.as_bytes())
                .map_err(|_| bad(format!("bad status line {:?}", text)))?
        }
        _ => return Err(bad(format!("bad status line {:?}", text))),
    };
    let mut resp = Response::new(());
    *resp.status_mut() = status;
    *resp.version_mut() = Version::HTTP_11;
    loop {
        let line = next_line(&mut rd)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = parse_header(&line).map_err(|e| bad(strip(e)))?;
        resp.headers_mut().append(name, value);
    }
    let mut framing = framing(resp.headers()).map_err(|e| bad(strip(e)))?;
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        framing = super::request::Framing::Length(0);
    }
    let (parts, ()) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::new(rd, framing)))
}

/// strip turns a parse error of the request code into its bare message.
fn strip(e: Error) -> String {
    match e {
        Error::BadRequest(msg) => msg,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;
    use crate::Errno;

    fn answer(raw: &str) {
        fake::reset();
        fake::with(|f| {
            f.targets.insert(TARGET.into(), raw.as_bytes().to_vec());
        });
    }

    /// sent returns what the function wrote to embly/http, and whether it
    /// closed its side.
    fn sent() -> (String, bool) {
        fake::with(|f| {
            let id = f.spawned.last().expect("nothing spawned").1;
            let c = f.conn(id);
            (String::from_utf8(c.output.clone()).unwrap(), c.closed)
        })
    }

    #[test]
    fn get_with_content_length() {
        answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
        let mut resp = get("http://127.0.0.1:8080/x?y=1").unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert_eq!(resp.body_mut().read_string().unwrap(), "hello");
        let (req, closed) = sent();
        assert_eq!(
            req,
            "GET http://127.0.0.1:8080/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        );
        assert!(closed, "the request conn was not closed");
    }

    #[test]
    fn post_sends_the_body_with_its_length() {
        answer("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        let req = Request::post("https://api.example.com/v1/items")
            .header("Content-Type", "application/json")
            .header("Host", "evil.example")
            .header("Content-Length", "999")
            .body(b"{\"a\":1}".to_vec())
            .unwrap();
        let mut resp = send(req).unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.body_mut().read_string().unwrap(), "");
        let (req, _) = sent();
        assert_eq!(
            req,
            "POST https://api.example.com/v1/items HTTP/1.1\r\nHost: api.example.com\r\n\
             content-type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn chunked_and_eof_bodies() {
        answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        assert_eq!(
            get("http://a.example/")
                .unwrap()
                .body_mut()
                .read_string()
                .unwrap(),
            "hello world"
        );
        answer("HTTP/1.1 200 OK\r\n\r\nuntil the end");
        assert_eq!(
            get("http://a.example/")
                .unwrap()
                .body_mut()
                .read_string()
                .unwrap(),
            "until the end"
        );
    }

    #[test]
    fn a_cut_chunked_body_is_an_error() {
        answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
        let mut resp = get("http://a.example/").unwrap();
        assert!(resp.body_mut().read_string().is_err());
    }

    #[test]
    fn host_errors() {
        answer(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nX-Embly-Error: not-allowed\r\n\
             Content-Length: 57\r\n\r\nembly/http: https://evil.example is not in allowed_hosts\n",
        );
        match get("https://evil.example/") {
            Err(Error::Outbound {
                status,
                code,
                message,
            }) => {
                assert_eq!(status, 403);
                assert_eq!(code, "not-allowed");
                assert_eq!(
                    message,
                    "embly/http: https://evil.example is not in allowed_hosts"
                );
            }
            other => panic!("got {:?}", other.map(|r| r.status())),
        }
        // No allowed_hosts at all: the spawn is refused.
        fake::reset();
        let err = get("https://evil.example/").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT)); // the fake has no such target
    }

    #[test]
    fn relative_urls_are_refused_before_spawning() {
        answer("HTTP/1.1 200 OK\r\n\r\n");
        let err = get("/relative").unwrap_err();
        assert!(err.to_string().contains("not an absolute"), "{}", err);
        fake::with(|f| assert!(f.spawned.is_empty()));
    }

    #[test]
    fn malformed_responses() {
        for raw in [
            "garbage\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\n",
        ] {
            answer(raw);
            let err = get("http://a.example/").unwrap_err();
            assert!(
                err.to_string().contains("bad response"),
                "{:?}: {}",
                raw,
                err
            );
        }
    }
}
