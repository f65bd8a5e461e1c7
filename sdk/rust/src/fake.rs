//! A fake of the embly host for builds that are not wasm32: the same five
//! calls, over conns held in a thread-local. Unit tests script it (input
//! that arrives over several `_events` calls, small windows, spawn targets)
//! and read what the guest wrote. Outside tests it holds no conns, so every
//! call on a conn fails with EBADF, as it would in a host that started the
//! program without a conn 1.
//!
//! Time in the fake moves only in `_events`: each call delivers the next
//! scripted chunk of every conn and reopens full windows.

// Most of the fake serves only the tests.
#![allow(dead_code, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One conn as the fake host sees it.
#[derive(Default, Debug)]
pub(crate) struct FakeConn {
    /// Readable now.
    pub input: VecDeque<u8>,
    /// Chunks that arrive one per `_events` call.
    pub later: VecDeque<Vec<u8>>,
    /// The peer closes after `later` is delivered.
    pub eof: bool,
    /// What the guest wrote.
    pub output: Vec<u8>,
    /// How much `_write` takes between two `_events` calls; 0 = unlimited.
    pub window: usize,
    room: usize,
    blocked: bool,
    /// The guest closed its side.
    pub closed: bool,
    pub close_calls: usize,
    /// The peer is gone: writes fail with EPIPE.
    pub gone: bool,
}

impl FakeConn {
    fn has_input(&self) -> bool {
        !self.input.is_empty() || (self.eof && self.later.is_empty())
    }
}

#[derive(Default)]
pub(crate) struct Fake {
    pub conns: BTreeMap<i32, FakeConn>,
    /// Spawn targets and what each answers (its output, then EOF).
    pub targets: HashMap<String, Vec<u8>>,
    /// Targets spawned, in order, with the conn id each got.
    pub spawned: Vec<(String, i32)>,
    pub events_calls: usize,
    next_id: i32,
}

impl Fake {
    /// conn returns conn id, creating it.
    pub fn conn(&mut self, id: i32) -> &mut FakeConn {
        self.conns.entry(id).or_default()
    }

    /// feed scripts conn id's input: the first chunk is readable now, each
    /// next one arrives at the next `_events` call; then EOF if eof.
    pub fn feed(&mut self, id: i32, chunks: &[&[u8]], eof: bool) {
        let c = self.conn(id);
        let mut chunks = chunks.iter();
        if let Some(first) = chunks.next() {
            c.input.extend(first.iter());
        }
        c.later.extend(chunks.map(|ch| ch.to_vec()));
        c.eof = eof;
    }

    /// set_window limits how much `_write` takes between two `_events`
    /// calls on conn id.
    pub fn set_window(&mut self, id: i32, n: usize) {
        let c = self.conn(id);
        c.window = n;
        c.room = n;
    }

    /// tick is time passing: the next chunk of every conn arrives and full
    /// windows reopen. It returns the conns with news.
    fn tick(&mut self) -> Vec<i32> {
        self.events_calls += 1;
        let mut news = Vec::new();
        for (&id, c) in self.conns.iter_mut() {
            if let Some(chunk) = c.later.pop_front() {
                c.input.extend(chunk);
            }
            let reopened = std::mem::replace(&mut c.blocked, false);
            c.room = c.window;
            if reopened || c.has_input() {
                news.push(id);
            }
        }
        news
    }

    fn pending(&self) -> bool {
        self.conns.values().any(|c| !c.later.is_empty())
    }
}

thread_local! {
    static FAKE: RefCell<Fake> = RefCell::new(Fake { next_id: 2, ..Fake::default() });
}

/// with runs f on this thread's fake host.
pub(crate) fn with<R>(f: impl FnOnce(&mut Fake) -> R) -> R {
    FAKE.with(|fake| f(&mut fake.borrow_mut()))
}

/// reset empties this thread's fake host and the SDK's own conn state.
#[cfg(test)]
pub(crate) fn reset() {
    with(|f| {
        *f = Fake {
            next_id: 2,
            ..Fake::default()
        }
    });
    crate::host::reset();
}

pub(crate) unsafe fn _read(id: i32, buf: *mut u8, len: u32, nread: *mut u32) -> i32 {
    with(|f| {
        let c = match f.conns.get_mut(&id) {
            Some(c) => c,
            None => return 8,
        };
        if c.input.is_empty() {
            if c.eof && c.later.is_empty() {
                *nread = 0;
                return 0;
            }
            return 6;
        }
        let n = (len as usize).min(c.input.len());
        let out = std::slice::from_raw_parts_mut(buf, n);
        for (dst, src) in out.iter_mut().zip(c.input.drain(..n)) {
            *dst = src;
        }
        *nread = n as u32;
        0
    })
}

pub(crate) unsafe fn _write(id: i32, buf: *const u8, len: u32, nwritten: *mut u32) -> i32 {
    with(|f| {
        let c = match f.conns.get_mut(&id) {
            Some(c) => c,
            None => return 8,
        };
        if c.closed || c.gone {
            return 64;
        }
        let mut n = len as usize;
        if c.window > 0 {
            if c.room == 0 {
                c.blocked = true;
                return 6;
            }
            n = n.min(c.room);
            c.room -= n;
        }
        c.output
            .extend_from_slice(std::slice::from_raw_parts(buf, n));
        *nwritten = n as u32;
        0
    })
}

pub(crate) unsafe fn _spawn(name: *const u8, name_len: u32, id: *mut i32) -> i32 {
    with(|f| {
        let name = std::slice::from_raw_parts(name, name_len as usize);
        let name = String::from_utf8_lossy(name).into_owned();
        let answer = match f.targets.get(&name) {
            Some(a) => a.clone(),
            None => return 44,
        };
        let new = f.next_id;
        f.next_id += 1;
        f.feed(new, &[b"", &answer], true);
        f.spawned.push((name, new));
        *id = new;
        0
    })
}

pub(crate) unsafe fn _events(timeout_ns: i64, ids: *mut i32, ids_cap: u32, n: *mut u32) -> i32 {
    with(|f| {
        let mut news = f.tick();
        while news.is_empty() && timeout_ns < 0 {
            if !f.pending() {
                panic!("fake host: _events would wait forever: no conn will ever have news");
            }
            news = f.tick();
        }
        let k = news.len().min(ids_cap as usize);
        let out = std::slice::from_raw_parts_mut(ids, k);
        out.copy_from_slice(&news[..k]);
        *n = k as u32;
        0
    })
}

pub(crate) unsafe fn _close(id: i32) -> i32 {
    with(|f| match f.conns.get_mut(&id) {
        Some(c) => {
            c.closed = true;
            c.close_calls += 1;
            0
        }
        None => 8,
    })
}
