//! HTTP functions: read the request the gateway wrote to conn 1, answer it
//! with a [`ResponseWriter`].
//!
//! The request is an [`http::Request`](::http::Request) (from the `http`
//! crate, re-exported here) whose body is a [`Body`] that reads from conn 1.
//! On the wire both are raw HTTP/1.1 (see the project's docs/abi.md, "The
//! HTTP convention on conn 1").
//!
//! Two entry points, for plain and async handlers:
//!
//! - [`run`]: `fn(Request<Body>, &mut ResponseWriter) -> Result<(), Error>`
//! - [`run_catch_error`]: `async fn(Request<Body>, ResponseWriter) -> Result<(), Error>`
//!
//! Either way, a handler that returns an error before it sent anything
//! answers `500 Internal Server Error`.

mod client;
mod request;
mod response;
mod url;

pub use self::client::{get, send};

pub use self::request::Body;
pub use self::response::ResponseWriter;
pub use self::url::{percent_decode, query_param};
pub use ::http::{header, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

use crate::bufconn::BufConn;
use crate::conn::Conn;
use crate::error::Error;
use crate::executor::block_on;
use crate::host;
use std::future::Future;

/// run serves this instance's one HTTP request with handler and returns once
/// the response is sent and conn 1 closed.
///
/// If the request on conn 1 is malformed, run answers 400 and returns the
/// error. If the handler returns an error, run answers 500 (or, if the
/// handler had already flushed part of the response, cuts it short) and
/// returns the error, which `fn main() -> Result<(), Error>` prints.
///
/// ```no_run
/// use embly::http::{run, Body, Request, ResponseWriter};
/// use embly::prelude::*;
/// use embly::Error;
///
/// fn execute(req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
///     write!(w, "you asked for {}", req.uri().path())?;
///     Ok(())
/// }
///
/// fn main() -> Result<(), Error> {
///     run(execute)
/// }
/// ```
pub fn run<F>(handler: F) -> Result<(), Error>
where
    F: FnOnce(Request<Body>, &mut ResponseWriter) -> Result<(), Error>,
{
    let (req, mut w) = start()?;
    let res = handler(req, &mut w);
    complete(&w, res)
}

/// run_catch_error serves this instance's one HTTP request with an async
/// handler, run to completion by [`block_on`](crate::block_on). The handler
/// owns the [`ResponseWriter`]; when it is done, the response is finished.
///
/// Errors do not escape: a handler error is printed on stderr (the log,
/// prefixed with the function's name) and answered with a 500 if nothing was
/// sent yet, as with [`run`].
///
/// ```no_run
/// use embly::{http::{run_catch_error, Body, Request, ResponseWriter}, prelude::*, Error};
///
/// async fn execute(_req: Request<Body>, mut w: ResponseWriter) -> Result<(), Error> {
///     w.write_all(b"Hello World")?;
///     Ok(())
/// }
///
/// fn main() {
///     run_catch_error(execute);
/// }
/// ```
pub fn run_catch_error<F, Fut>(handler: F)
where
    F: FnOnce(Request<Body>, ResponseWriter) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let (req, w) = match start() {
        Ok(started) => started,
        Err(e) => {
            eprintln!("{}", e);
            return;
        }
    };
    let what = format!("{} {}", req.method(), req.uri());
    let keep = w.handle();
    let res = block_on(handler(req, w));
    if let Err(e) = complete(&keep, res) {
        eprintln!("embly: serving {}: {}", what, e);
    }
}

/// start reads the request from conn 1, answering 400 if it is malformed.
fn start() -> Result<(Request<Body>, ResponseWriter), Error> {
    match request::read_request(BufConn::new(Conn::parent())) {
        Ok(req) => {
            let w = ResponseWriter::new(1, req.method() == Method::HEAD);
            Ok((req, w))
        }
        Err(e) => {
            let _ = host::write_all(1, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            let _ = host::close(1);
            Err(e)
        }
    }
}

fn complete(w: &ResponseWriter, res: Result<(), Error>) -> Result<(), Error> {
    match res {
        Ok(()) => w.finish(),
        Err(e) => {
            w.fail();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;
    use crate::prelude::*;

    fn serve(chunks: &[&[u8]]) {
        fake::reset();
        fake::with(|f| f.feed(1, chunks, true));
    }

    fn output() -> String {
        fake::with(|f| {
            assert!(f.conn(1).closed, "conn 1 is not closed");
            String::from_utf8_lossy(&f.conn(1).output).into_owned()
        })
    }

    fn hello(_req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
        w.write_all(b"Hello World")?;
        Ok(())
    }

    #[test]
    fn the_seed_hello_world() {
        // The request arrives in pieces, over several _events calls.
        serve(&[b"GET / HT", b"", b"TP/1.1\r\nHost: localhost\r\n", b"\r\n"]);
        run(hello).unwrap();
        assert_eq!(
            output(),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nHello World"
        );
    }

    async fn hello_async(_req: Request<Body>, mut w: ResponseWriter) -> Result<(), Error> {
        w.write_all(b"Hello World")?;
        Ok(())
    }

    #[test]
    fn the_async_hello_world() {
        serve(&[b"GET / HTTP/1.1\r\n\r\n"]);
        run_catch_error(hello_async);
        assert!(output().ends_with("\r\n\r\nHello World"));
    }

    #[test]
    fn echo_a_streamed_body() {
        serve(&[
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nhel",
            b"lo\r\n",
            b"0\r\n\r\n",
        ]);
        run(|mut req, w| {
            let body = req.body_mut().read_all()?;
            w.header("Content-Type", "application/octet-stream")?;
            w.write_all(req.uri().path().as_bytes())?;
            w.write_all(b" ")?;
            w.write_all(&body)?;
            Ok(())
        })
        .unwrap();
        assert!(
            output().ends_with("Content-Length: 11\r\n\r\n/echo hello"),
            "{:?}",
            output()
        );
    }

    #[test]
    fn handler_errors_answer_500() {
        serve(&[b"GET / HTTP/1.1\r\n\r\n"]);
        let err = run(|_req, w| {
            w.write_all(b"half")?;
            Err(Error::from("boom"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(output().starts_with("HTTP/1.1 500 Internal Server Error\r\n"));

        serve(&[b"GET / HTTP/1.1\r\n\r\n"]);
        async fn fails(_req: Request<Body>, _w: ResponseWriter) -> Result<(), Error> {
            Err("async boom".into())
        }
        run_catch_error(fails);
        assert!(output().starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
    }

    #[test]
    fn bad_requests_answer_400() {
        serve(&[b"NONSENSE\r\n\r\n"]);
        let err = run(hello).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{}", err);
        assert_eq!(
            output(),
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn async_handlers_wait_on_spawned_functions() {
        serve(&[b"GET /relay HTTP/1.1\r\n\r\n"]);
        fake::with(|f| {
            f.targets
                .insert("function/back".into(), b"back got: hi".to_vec());
        });
        run_catch_error(|_req, mut w| async move {
            let mut back = crate::spawn_and_send("back", b"hi")?;
            (&mut back).await?;
            let answer = back.read_all()?;
            w.write_all(&answer)?;
            Ok(())
        });
        assert!(output().ends_with("\r\n\r\nback got: hi"));
    }

    #[test]
    fn a_slow_client_gets_all_of_a_streamed_response() {
        serve(&[b"GET / HTTP/1.1\r\n\r\n"]);
        fake::with(|f| f.set_window(1, 7));
        run(|_req, w| {
            for i in 0..5 {
                writeln!(w, "line {}", i)?;
                w.flush()?;
            }
            Ok(())
        })
        .unwrap();
        let out = output();
        assert!(
            out.contains("Transfer-Encoding: chunked\r\n\r\n7\r\nline 0\n\r\n"),
            "{:?}",
            out
        );
        assert!(out.ends_with("7\r\nline 4\n\r\n0\r\n\r\n"), "{:?}", out);
    }
}
