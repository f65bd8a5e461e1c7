use crate::error::Error;
use crate::host::{self, Mode};
use crate::sys;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Conn is a byte stream between this instance and another actor: the one
/// that started it ([`Conn::parent`]), or one it started
/// ([`spawn_function`]).
///
/// It implements [`std::io::Read`] and [`std::io::Write`]; both block until
/// they can make progress (reading at least one byte, or EOF; writing at
/// least one byte while the conn's window is full). `read` returns 0 once
/// the peer has closed its side and everything is read.
///
/// A `Conn` is also a [`Future`]: awaiting `&mut conn` resolves when the
/// conn has news (data, EOF, or a reopened window), so an async function can
/// wait on several conns at once inside [`block_on`](crate::block_on) or
/// [`run_catch_error`](crate::http::run_catch_error).
///
/// ```no_run
/// use embly::prelude::*;
///
/// fn main() -> Result<(), embly::Error> {
///     let mut back = embly::spawn_function("back")?;
///     back.write_all(b"hello")?;
///     back.close()?; // back reads EOF after "hello"
///     let answer = back.read_string()?;
///     println!("back says {}", answer);
///     Ok(())
/// }
/// ```
pub struct Conn {
    id: i32,
}

impl Conn {
    pub(crate) fn new(id: i32) -> Conn {
        Conn { id }
    }

    /// parent returns conn 1: whoever started this instance (the HTTP
    /// gateway, another function, or the CLI). [`crate::http::run`] reads
    /// and answers it for HTTP functions; other functions read their input
    /// from it and write their answer to it.
    pub fn parent() -> Conn {
        Conn::new(1)
    }

    /// id returns the conn's id in the host ABI. Conn 1 is the parent.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// close closes this side of the conn for writing: the peer reads EOF
    /// once it has read what was written. Reading goes on until the peer
    /// closes too. A second close does nothing.
    pub fn close(&mut self) -> Result<(), Error> {
        host::close(self.id).map_err(|e| Error::host(format!("close conn {}", self.id), e))
    }

    /// read_all reads until EOF and returns what it read.
    pub fn read_all(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        io::Read::read_to_end(self, &mut out)?;
        Ok(out)
    }

    /// read_string reads until EOF and returns what it read, which must be UTF-8.
    pub fn read_string(&mut self) -> Result<String, Error> {
        Ok(String::from_utf8(self.read_all()?)?)
    }

    /// try_read reads what is there without waiting: None means nothing yet,
    /// Some(0) is EOF.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        host::try_read(self.id, buf).map_err(|e| self.error("read", e))
    }

    /// wait blocks until the conn has data or EOF to read.
    pub fn wait(&self) -> Result<(), Error> {
        host::wait(&[self.id], Mode::Read, None).map_err(|e| self.error("wait for", e))?;
        Ok(())
    }

    /// wait_timeout is [`Conn::wait`] for at most timeout; it returns false
    /// when the time passed first.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        host::wait(&[self.id], Mode::Read, Some(timeout)).map_err(|e| self.error("wait for", e))
    }

    fn error(&self, op: &str, errno: crate::Errno) -> Error {
        Error::host(format!("{} conn {}", op, self.id), errno)
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "embly conn {}", self.id)
    }
}

impl io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        host::read(self.id, buf).map_err(|e| self.error("read", e).into_io())
    }
}

impl io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        host::write(self.id, buf).map_err(|e| self.error("write", e).into_io())
    }

    /// flush does nothing: a write is in the peer's window when it returns.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Future for Conn {
    type Output = Result<(), Error>;

    /// poll is ready when the conn has data or EOF to read (or news the host
    /// did not qualify); the next read then does not wait, or barely.
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The executor calls _events whenever its future is pending and
        // polls again after, so there is no waker to register: the news is
        // recorded by the host module until this conn takes it.
        match host::ready(self.id, Mode::Read) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(self.error("wait for", e))),
        }
    }
}

/// spawn_function starts a fresh instance of the project's function `name`
/// and returns a conn to it; the new instance sees it as its parent (conn 1).
/// The error's [`Error::errno`] is [`Errno::ENOENT`](crate::Errno::ENOENT)
/// when the project has no such function.
///
/// `name` is the function's name in embly.hcl (`"back"`); a full target
/// (`"function/back"`) works too.
pub fn spawn_function(name: &str) -> Result<Conn, Error> {
    if name.starts_with("function/") {
        spawn(name)
    } else {
        spawn(&format!("function/{}", name))
    }
}

/// spawn starts a raw target: `function/NAME`, or a host service such as
/// `embly/http` once the host offers it.
pub fn spawn(target: &str) -> Result<Conn, Error> {
    match sys::spawn(target) {
        Ok(id) => Ok(Conn::new(id)),
        Err(e) => Err(Error::host(format!("spawn {}", target), e)),
    }
}

/// spawn_and_send spawns function `name`, writes `payload` to it and closes
/// the conn's write side, so the function reads the payload and then EOF.
/// Read its answer from the returned conn.
pub fn spawn_and_send(name: &str, payload: &[u8]) -> Result<Conn, Error> {
    let mut conn = spawn_function(name)?;
    io::Write::write_all(&mut conn, payload)?;
    conn.close()?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;
    use crate::Errno;
    use std::io::{Read, Write};

    #[test]
    fn spawn_send_and_read_the_answer() {
        fake::reset();
        fake::with(|f| {
            f.targets
                .insert("function/back".into(), b"back got it".to_vec());
        });
        let mut back = spawn_and_send("back", b"hello").unwrap();
        assert_eq!(back.read_string().unwrap(), "back got it");
        fake::with(|f| {
            assert_eq!(f.spawned, vec![("function/back".to_string(), back.id())]);
            let c = f.conn(back.id());
            assert_eq!(c.output, b"hello");
            assert!(c.closed);
        });
        let err = spawn_function("function/nope").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        assert_eq!(
            err.to_string(),
            "embly: spawn function/nope: no such target (ENOENT)"
        );
    }

    #[test]
    fn read_and_write_errors_keep_the_errno() {
        fake::reset();
        fake::with(|f| f.conn(1).gone = true);
        let mut parent = Conn::parent();
        let err = parent.write(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(Error::from(err).errno(), Some(Errno::EPIPE));
        let err = Conn::new(7).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(
            Error::from(err).to_string(),
            "embly: read conn 7: no such conn (EBADF)"
        );
    }

    #[test]
    fn await_a_conn() {
        fake::reset();
        fake::with(|f| f.feed(1, &[b"", b"", b"late"], true));
        let mut parent = Conn::parent();
        crate::block_on(async {
            (&mut parent).await.unwrap();
        });
        assert_eq!(parent.try_read(&mut [0u8; 8]).unwrap(), Some(4));
        assert!(parent.wait_timeout(Duration::from_secs(0)).unwrap());
        assert_eq!(parent.try_read(&mut [0u8; 8]).unwrap(), Some(0));
    }
}
