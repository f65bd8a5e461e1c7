//! What this side of the ABI must remember between host calls, and the one
//! place where the instance waits.
//!
//! `_events` has no interest set: it reports every conn with news, and it
//! keeps reporting a conn with unread data or an unread EOF until the guest
//! reads it. Waiting on one conn while another has unread input would then
//! spin. So every conn `_events` reports is read into a per-conn stash (up to
//! STASH_CAP), which makes its news stop, and the news is remembered until a
//! waiter on that conn takes it. A conn whose stash is full is stalled:
//! `_events` reports it at once, every time; then the instance sleeps a
//! little (in the host, via WASI's clock) instead of spinning on the CPU.
//!
//! The state lives in a thread-local: a wasm instance has one thread, and
//! tests on the host get one fake host per test thread.

use crate::errno::Errno;
use crate::sys;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How many bytes may be read ahead of the reader on one conn.
const STASH_CAP: usize = 256 << 10;
/// How many ids one `_events` call may report.
const EVENTS_CAP: usize = 64;
/// The pause after `_events` reported only stalled conns, doubling from
/// MIN_BACKOFF to MAX_BACKOFF: short enough that a writer behind such a
/// conn keeps moving, long enough that the instance sleeps in the host.
const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(10);

/// Which news ends a wait.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// Data or EOF to read.
    Read,
    /// The window reopened after a full write.
    Write,
}

#[derive(Default)]
struct ConnState {
    stash: VecDeque<u8>,
    /// The host reported EOF: it will not report this conn for input again.
    eof: bool,
    /// Reported by `_events` and not yet taken. `_events` does not say what
    /// the news was, so both are set, and a reader taking its news cannot
    /// steal a reopened window from a writer on the same conn.
    read_news: bool,
    write_news: bool,
    /// Our write side is closed.
    closed: bool,
}

impl ConnState {
    /// ready reports whether this conn satisfies a waiter in mode, and takes
    /// its news.
    fn ready(&mut self, mode: Mode) -> bool {
        match mode {
            Mode::Read => {
                let ok = self.read_news || !self.stash.is_empty() || self.eof;
                self.read_news = false;
                ok
            }
            Mode::Write => {
                let ok = self.write_news;
                self.write_news = false;
                ok
            }
        }
    }
}

struct Host {
    // A BTreeMap rather than a HashMap: std's RandomState asks the host
    // for random bytes in every fresh instance, and SipHash costs more than
    // a few comparisons for the handful of conns most instances hold.
    conns: BTreeMap<i32, ConnState>,
    backoff: Duration,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host {
        conns: BTreeMap::new(),
        backoff: MIN_BACKOFF,
    });
}

fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

impl Host {
    fn state(&mut self, id: i32) -> &mut ConnState {
        self.conns.entry(id).or_default()
    }

    /// poll calls `_events` once and records its news. It returns how many
    /// conns were reported and which of them are stalled.
    fn poll(&mut self, timeout_ns: i64) -> Result<(usize, Vec<i32>), Errno> {
        let mut ids = [0i32; EVENTS_CAP];
        let n = sys::events(timeout_ns, &mut ids)?;
        let mut stalled = Vec::new();
        let mut chunk = [0u8; 16 << 10];
        for &id in &ids[..n] {
            let st = self.state(id);
            st.read_news = true;
            st.write_news = true;
            // Read what is there, so that _events stops reporting it.
            while !st.eof && st.stash.len() < STASH_CAP {
                let room = (STASH_CAP - st.stash.len()).min(chunk.len());
                match sys::read(id, &mut chunk[..room]) {
                    Ok(0) => st.eof = true,
                    Ok(n) => st.stash.extend(&chunk[..n]),
                    // EAGAIN: drained. EBADF: not a conn we read (the news
                    // was a window); the reader will see its own error.
                    Err(_) => break,
                }
            }
            if !st.eof && st.stash.len() >= STASH_CAP {
                stalled.push(id);
            }
        }
        Ok((n, stalled))
    }

    fn take_ready(&mut self, ids: &[i32], mode: Mode) -> bool {
        let mut any = false;
        for &id in ids {
            any |= self.state(id).ready(mode);
        }
        any
    }
}

/// wait blocks until one of ids has news for mode, or timeout passes (None
/// waits forever; Some(0) polls once). It returns false on timeout.
pub(crate) fn wait(ids: &[i32], mode: Mode, timeout: Option<Duration>) -> Result<bool, Errno> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if with(|h| h.take_ready(ids, mode)) {
            return Ok(true);
        }
        let timeout_ns = match deadline {
            None => -1,
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .as_nanos()
                .min(i64::MAX as u128) as i64,
        };
        let (pause, ready) = with(|h| -> Result<_, Errno> {
            let (n, stalled) = h.poll(timeout_ns)?;
            let ready = h.take_ready(ids, mode);
            let mut pause = None;
            if !ready && n > 0 && stalled.len() == n {
                pause = Some((h.backoff, stalled));
                h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
            } else if stalled.len() < n {
                h.backoff = MIN_BACKOFF;
            }
            Ok((pause, ready))
        })?;
        if ready {
            return Ok(true);
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                return Ok(false);
            }
        }
        if let Some((pause, stalled)) = pause {
            // Only stalled conns were reported, and _events would report
            // them again at once: sleep, then let their writers retry.
            std::thread::sleep(pause);
            with(|h| {
                for id in stalled {
                    h.state(id).write_news = true;
                }
            });
        }
    }
}

/// wait_any blocks until some conn has news, recording it for the waiters
/// that will look. The executor calls it when its future is pending.
pub(crate) fn wait_any() -> Result<(), Errno> {
    let pause = with(|h| -> Result<_, Errno> {
        let (n, stalled) = h.poll(-1)?;
        if n > 0 && stalled.len() == n {
            let pause = h.backoff;
            h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
            Ok(Some(pause))
        } else {
            h.backoff = MIN_BACKOFF;
            Ok(None)
        }
    })?;
    if let Some(pause) = pause {
        std::thread::sleep(pause);
    }
    Ok(())
}

/// ready reports, without waiting, whether id has news for mode, taking it.
/// It polls `_events` once when nothing is recorded yet.
pub(crate) fn ready(id: i32, mode: Mode) -> Result<bool, Errno> {
    wait(&[id], mode, Some(Duration::from_secs(0)))
}

/// try_read reads from id's stash, or else from the host. None means
/// nothing is there yet; Some(0) is EOF.
pub(crate) fn try_read(id: i32, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
    if buf.is_empty() {
        return Ok(Some(0));
    }
    with(|h| {
        let st = h.state(id);
        if !st.stash.is_empty() {
            let n = buf.len().min(st.stash.len());
            for (dst, src) in buf.iter_mut().zip(st.stash.drain(..n)) {
                *dst = src;
            }
            return Ok(Some(n));
        }
        if st.eof {
            return Ok(Some(0));
        }
        match sys::read(id, buf) {
            Ok(0) => {
                st.eof = true;
                Ok(Some(0))
            }
            Ok(n) => Ok(Some(n)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// read reads at least one byte from id, waiting while nothing is there.
/// Ok(0) is EOF.
pub(crate) fn read(id: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        if let Some(n) = try_read(id, buf)? {
            return Ok(n);
        }
        wait(&[id], Mode::Read, None)?;
    }
}

/// try_write writes what id's window takes now. None means the window is full.
pub(crate) fn try_write(id: i32, buf: &[u8]) -> Result<Option<usize>, Errno> {
    with(|h| {
        if h.state(id).closed {
            return Err(Errno::EPIPE);
        }
        match sys::write(id, buf) {
            Ok(0) if !buf.is_empty() => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// write writes at least one byte of buf (all of it if the window has
/// room), waiting while the window is full.
pub(crate) fn write(id: i32, buf: &[u8]) -> Result<usize, Errno> {
    loop {
        if let Some(n) = try_write(id, buf)? {
            return Ok(n);
        }
        wait(&[id], Mode::Write, None)?;
    }
}

/// write_all writes all of buf to id.
pub(crate) fn write_all(id: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        let n = write(id, buf)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// close closes our write side of id; a second close does nothing.
pub(crate) fn close(id: i32) -> Result<(), Errno> {
    let first = with(|h| {
        let st = h.state(id);
        !std::mem::replace(&mut st.closed, true)
    });
    if first {
        sys::close(id)
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn reset() {
    with(|h| {
        h.conns.clear();
        h.backoff = MIN_BACKOFF;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;

    #[test]
    fn read_waits_for_data_and_eof() {
        fake::reset();
        fake::with(|f| f.feed(1, &[b"hel", b"", b"lo"], true));
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        loop {
            let n = read(1, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"hello");
        // EOF sticks, without asking the host again.
        assert_eq!(read(1, &mut buf), Ok(0));
    }

    #[test]
    fn news_of_another_conn_is_kept() {
        fake::reset();
        fake::with(|f| {
            f.feed(3, &[b"three"], true);
            f.feed(1, &[b"", b"one"], true);
        });
        let mut buf = [0u8; 8];
        // Waiting on 1 stashes 3's data: _events stops reporting it.
        assert_eq!(read(1, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"one");
        assert_eq!(try_read(3, &mut buf), Ok(Some(5)));
        assert_eq!(&buf[..5], b"three");
        assert_eq!(try_read(3, &mut buf), Ok(Some(0)));
    }

    #[test]
    fn write_waits_for_the_window() {
        fake::reset();
        fake::with(|f| f.set_window(1, 4));
        write_all(1, b"0123456789").unwrap();
        fake::with(|f| assert_eq!(f.conn(1).output, b"0123456789"));
        assert!(fake::with(|f| f.events_calls) >= 2);
    }

    #[test]
    fn closed_conns_refuse_writes() {
        fake::reset();
        fake::with(|f| {
            f.conn(1);
        });
        close(1).unwrap();
        close(1).unwrap();
        assert_eq!(write(1, b"x"), Err(Errno::EPIPE));
        fake::with(|f| assert_eq!(f.conn(1).close_calls, 1));
    }

    #[test]
    fn unknown_conns_fail() {
        fake::reset();
        let mut buf = [0u8; 1];
        assert_eq!(read(9, &mut buf), Err(Errno::EBADF));
        assert_eq!(write(9, b"x"), Err(Errno::EBADF));
    }

    #[test]
    fn polling_does_not_block() {
        fake::reset();
        fake::with(|f| f.feed(1, &[b"", b"", b"late"], false));
        assert_eq!(ready(1, Mode::Read), Ok(false));
        assert_eq!(ready(1, Mode::Read), Ok(true));
    }
}
