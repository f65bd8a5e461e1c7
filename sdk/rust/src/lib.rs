//! Write [Embly](https://github.com/embly/embly) functions in Rust.
//!
//! An Embly function is a `wasm32-wasi` program. Each invocation is a fresh
//! instance, an actor with a set of **conns**: byte streams to other actors.
//! Conn 1 is whoever started it: for an HTTP function, the gateway, which
//! writes the request to it as raw HTTP/1.1 and reads the response back.
//!
//! The hello world, as `embly new --lang rust` and the first Embly wrote it:
//!
//! ```no_run
//! use embly::http::{run, Body, Request, ResponseWriter};
//! use embly::prelude::*;
//! use embly::Error;
//!
//! fn execute(_req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
//!     w.write_all(b"Hello World")?;
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Error> {
//!     run(execute)
//! }
//! ```
//!
//! and the async form:
//!
//! ```no_run
//! use embly::{http::{run_catch_error, Body, Request, ResponseWriter}, prelude::*, Error};
//!
//! async fn execute(_req: Request<Body>, mut w: ResponseWriter) -> Result<(), Error> {
//!     w.write_all(b"Hello World")?;
//!     Ok(())
//! }
//!
//! fn main() {
//!     run_catch_error(execute);
//! }
//! ```
//!
//! Functions talk to each other through [`spawn_function`], which returns a
//! [`Conn`]. Everything here is built on the five calls of the `embly` host
//! module (`_read`, `_write`, `_spawn`, `_events`, `_close`; see the
//! project's docs/abi.md). Outside wasm32 those calls are a fake host with
//! no conns, so a function's crate also builds (and its pure logic tests)
//! on the development machine.

#![deny(missing_docs)]

mod bufconn;
mod conn;
mod errno;
mod error;
mod executor;
#[cfg(not(target_arch = "wasm32"))]
mod fake;
mod host;
pub mod http;
pub mod kv;
mod random;
mod sys;
pub mod vinyl;

pub use crate::conn::{spawn, spawn_and_send, spawn_function, Conn};
pub use crate::errno::Errno;
pub use crate::error::{Error, StoreError};
pub use crate::executor::block_on;
pub use crate::random::fill_random;

use std::future::Future;

pub mod prelude {
    //! The traits a function uses all the time: `use embly::prelude::*;`
    //! brings `read`, `read_to_end`, `write_all` and friends into scope for
    //! conns, request bodies and response writers.

    pub use std::io::Read;
    pub use std::io::Write;
}

/// run calls f with conn 1 (the parent), then closes conn 1 so the parent
/// reads EOF after f's answer. It is the main of a function that is spawned
/// by others rather than reached over HTTP.
///
/// ```no_run
/// use embly::prelude::*;
///
/// fn main() -> Result<(), embly::Error> {
///     embly::run(|mut parent| {
///         let msg = parent.read_string()?;
///         write!(parent, "back got: {}", msg)?;
///         Ok(())
///     })
/// }
/// ```
pub fn run<F>(f: F) -> Result<(), Error>
where
    F: FnOnce(Conn) -> Result<(), Error>,
{
    let res = f(Conn::parent());
    let closed = Conn::parent().close();
    res.and(closed)
}

/// run_async is [`run`] for an async function, run to completion by
/// [`block_on`].
pub fn run_async<F, Fut>(f: F) -> Result<(), Error>
where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let res = block_on(f(Conn::parent()));
    let closed = Conn::parent().close();
    res.and(closed)
}
