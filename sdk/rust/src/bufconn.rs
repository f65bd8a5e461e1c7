//! A buffered reader for conns that does not pay for its buffer up front.

use crate::conn::Conn;
use std::io::{self, BufRead, Read};

/// The first buffer holds a typical request or response head.
const FIRST: usize = 1 << 10;
/// The buffer doubles while reads fill it, up to MAX.
const MAX: usize = 16 << 10;

/// BufConn is a [`BufRead`] over a conn whose buffer starts at 1 KiB and
/// doubles, up to 16 KiB, each time a read fills it.
///
/// std's `BufReader` zero-fills its whole buffer before the first read.
/// With a fresh instance per request that is a 16 KiB memset (byte loops
/// in wasm) for a request head of a few hundred bytes, and four written
/// pages for the host to reset afterwards: a third of the guest's time in
/// a hello world.
pub(crate) struct BufConn {
    conn: Conn,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl BufConn {
    pub(crate) fn new(conn: Conn) -> BufConn {
        BufConn {
            conn,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
        }
    }
}

impl Read for BufConn {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // Like BufReader: a read as large as the buffer skips it.
        if self.pos == self.filled && out.len() >= self.buf.len().max(FIRST) {
            return self.conn.read(out);
        }
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for BufConn {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            let size = match self.buf.len() {
                0 => FIRST,
                n if self.filled == n => (n * 2).min(MAX),
                n => n,
            };
            if size > self.buf.len() {
                self.buf.resize(size, 0);
            }
            self.pos = 0;
            self.filled = 0;
            self.filled = self.conn.read(&mut self.buf)?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;

    #[test]
    fn reads_lines_and_grows() {
        let long = "x".repeat(40 << 10);
        let input = format!("first line\n{}\nlast", long);
        fake::reset();
        fake::with(|f| f.feed(1, &[input.as_bytes()], true));
        let mut rd = BufConn::new(Conn::parent());
        let mut line = String::new();
        rd.read_line(&mut line).unwrap();
        assert_eq!(line, "first line\n");
        line.clear();
        rd.read_line(&mut line).unwrap();
        assert_eq!(line.len(), long.len() + 1);
        assert!(rd.buf.len() <= MAX && rd.buf.len() > FIRST);
        let mut rest = String::new();
        rd.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "last");
    }
}
