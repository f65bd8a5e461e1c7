//! The key-value databases of the project: `database "kv" "NAME" {}` in
//! embly.hcl, reached over the host service `embly/kv/NAME` (docs/abi.md).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn main() -> Result<(), embly::Error> {
//!     let mut cache = embly::kv::open("cache")?;
//!     cache.set("greeting", "hello")?;
//!     cache.set_ttl("session:42", b"ada", Duration::from_secs(60))?;
//!     assert_eq!(cache.get("greeting")?, b"hello");
//!     match cache.get("missing") {
//!         Err(e) if e.is_not_found() => {}
//!         other => panic!("{:?}", other),
//!     }
//!     for key in cache.keys("session:") {
//!         println!("{}", String::from_utf8_lossy(&key?));
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Keys and values are bytes (anything that is `AsRef<[u8]>`: `&str`,
//! `String`, `&[u8]`, `Vec<u8>`); keys sort bytewise. Errors are
//! [`Error::Store`] with a [`StoreError`] kind: `NotFound`, `TooLarge`,
//! `Invalid` or `Unavailable`.

use crate::conn::{spawn, Conn};
use crate::error::{Error, StoreError};
use std::io::{self, Read, Write};
use std::time::Duration;

/// The largest key, in bytes.
pub const MAX_KEY_SIZE: usize = 1 << 10;
/// The largest value, in bytes.
pub const MAX_VALUE_SIZE: usize = 1 << 20;
/// The most keys one [`Kv::list`] page holds; 0 asks for the default, 100.
pub const MAX_PAGE_SIZE: u32 = 1000;

const OP_GET: u8 = 1;
const OP_SET: u8 = 2;
const OP_DELETE: u8 = 3;
const OP_LIST: u8 = 4;

/// The largest response frame a kv answer can be.
const MAX_RESPONSE: usize = MAX_VALUE_SIZE + MAX_PAGE_SIZE as usize * (MAX_KEY_SIZE + 4) + 64;

/// Kv is a key-value database of the project, opened with [`open`]. It
/// holds one conn to the host and sends its requests over it in turn.
#[derive(Debug)]
pub struct Kv {
    name: String,
    conn: Option<Conn>,
}

/// open connects to the key-value database `name` that embly.hcl declares
/// with `database "kv" "NAME" {}`. A database the project does not declare
/// fails with [`Errno::ENOENT`](crate::Errno::ENOENT) (see
/// [`Error::errno`]).
pub fn open(name: &str) -> Result<Kv, Error> {
    let conn = spawn(&format!("embly/kv/{}", name))?;
    Ok(Kv {
        name: name.to_string(),
        conn: Some(conn),
    })
}

/// Page is one answer of [`Kv::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The keys, in byte order.
    pub keys: Vec<Vec<u8>>,
    /// The cursor of the next page: pass it to [`Kv::list`]. Empty after
    /// the last page.
    pub next: Vec<u8>,
}

impl Kv {
    /// name returns the database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// get returns the value of key; a missing or expired key is
    /// [`StoreError::NotFound`] (see [`Error::is_not_found`]).
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Vec<u8>, Error> {
        let key = key.as_ref();
        self.check_key("get", key)?;
        let mut req = begin(OP_GET);
        put_bytes(&mut req, key);
        self.round_trip("get", req)
    }

    /// get_string is [`Kv::get`] for a value that is UTF-8.
    pub fn get_string(&mut self, key: impl AsRef<[u8]>) -> Result<String, Error> {
        Ok(String::from_utf8(self.get(key)?)?)
    }

    /// set stores value under key, for good, replacing any value and TTL.
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.set_ttl(key, value, Duration::from_secs(0))
    }

    /// set_ttl stores value under key for ttl (rounded up to a
    /// millisecond); then the key reads as not found. A ttl of zero keeps it
    /// for good.
    pub fn set_ttl(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<(), Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.check_key("set", key)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(self.refuse(
                "set",
                StoreError::TooLarge,
                format!(
                    "the value is {} bytes; the limit is {}",
                    value.len(),
                    MAX_VALUE_SIZE
                ),
            ));
        }
        let nanos = ttl.as_nanos();
        let ms = ((nanos + 999_999) / 1_000_000).min(u64::MAX as u128) as u64;
        let mut req = begin(OP_SET);
        put_bytes(&mut req, key);
        req.extend_from_slice(&ms.to_be_bytes());
        req.extend_from_slice(value);
        self.round_trip("set", req).map(drop)
    }

    /// delete removes key. Deleting a missing key is not an error.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = key.as_ref();
        self.check_key("delete", key)?;
        let mut req = begin(OP_DELETE);
        put_bytes(&mut req, key);
        self.round_trip("delete", req).map(drop)
    }

    /// list returns up to `limit` keys (0: 100; at most
    /// [`MAX_PAGE_SIZE`]) that start with `prefix` and sort after `cursor`
    /// (empty: the first page), in byte order, and the next page's cursor.
    /// Paging is by key, so keys written or deleted meanwhile never make a
    /// page skip or repeat a key that stays.
    ///
    /// ```no_run
    /// let mut cache = embly::kv::open("cache")?;
    /// let mut cursor = Vec::new();
    /// loop {
    ///     let page = cache.list("user:", &cursor, 0)?;
    ///     for key in &page.keys { /* ... */ }
    ///     if page.next.is_empty() { break; }
    ///     cursor = page.next;
    /// }
    /// # Ok::<(), embly::Error>(())
    /// ```
    pub fn list(
        &mut self,
        prefix: impl AsRef<[u8]>,
        cursor: impl AsRef<[u8]>,
        limit: u32,
    ) -> Result<Page, Error> {
        let (prefix, cursor) = (prefix.as_ref(), cursor.as_ref());
        if limit > MAX_PAGE_SIZE {
            return Err(self.refuse(
                "list",
                StoreError::TooLarge,
                format!("the page size is {}; the limit is {}", limit, MAX_PAGE_SIZE),
            ));
        }
        if prefix.len() > MAX_KEY_SIZE || cursor.len() > MAX_KEY_SIZE {
            return Err(self.refuse(
                "list",
                StoreError::TooLarge,
                format!(
                    "the prefix or cursor is longer than a key may be ({} bytes)",
                    MAX_KEY_SIZE
                ),
            ));
        }
        let mut req = begin(OP_LIST);
        req.extend_from_slice(&limit.to_be_bytes());
        put_bytes(&mut req, prefix);
        put_bytes(&mut req, cursor);
        let resp = self.round_trip("list", req)?;
        parse_list(&resp).ok_or_else(|| self.malformed("list"))
    }

    /// keys iterates over every key that starts with prefix, in byte order,
    /// a page of [`MAX_PAGE_SIZE`] at a time. An error ends the iteration
    /// after it is returned.
    pub fn keys(&mut self, prefix: impl AsRef<[u8]>) -> Keys<'_> {
        Keys {
            kv: self,
            prefix: prefix.as_ref().to_vec(),
            cursor: Vec::new(),
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    fn check_key(&self, op: &str, key: &[u8]) -> Result<(), Error> {
        if key.is_empty() {
            return Err(self.refuse(op, StoreError::Invalid, "the key is empty".into()));
        }
        if key.len() > MAX_KEY_SIZE {
            return Err(self.refuse(
                op,
                StoreError::TooLarge,
                format!(
                    "the key is {} bytes; the limit is {}",
                    key.len(),
                    MAX_KEY_SIZE
                ),
            ));
        }
        Ok(())
    }

    fn refuse(&self, op: &str, kind: StoreError, message: String) -> Error {
        Error::Store {
            kind,
            db: format!("kv {:?}", self.name),
            op: op.to_string(),
            field: None,
            message,
        }
    }

    fn malformed(&self, op: &str) -> Error {
        self.refuse(
            op,
            StoreError::Unavailable,
            "malformed response from the host".into(),
        )
    }

    /// round_trip sends one request frame (begun by [`begin`]) and returns
    /// the payload of an ok answer.
    fn round_trip(&mut self, op: &str, req: Vec<u8>) -> Result<Vec<u8>, Error> {
        let target = format!("embly/kv/{}", self.name);
        let (status, payload) = exchange(&mut self.conn, &target, req, MAX_RESPONSE)
            .map_err(|e| transport_error(&format!("kv {:?}", self.name), op, e))?;
        match status_kind(status) {
            None => Ok(payload),
            Some(kind) => {
                Err(self.refuse(op, kind, String::from_utf8_lossy(&payload).into_owned()))
            }
        }
    }
}

/// Keys is the iterator of [`Kv::keys`].
#[derive(Debug)]
pub struct Keys<'a> {
    kv: &'a mut Kv,
    prefix: Vec<u8>,
    cursor: Vec<u8>,
    page: std::vec::IntoIter<Vec<u8>>,
    done: bool,
}

impl<'a> Iterator for Keys<'a> {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.next() {
                return Some(Ok(key));
            }
            if self.done {
                return None;
            }
            match self.kv.list(&self.prefix, &self.cursor, MAX_PAGE_SIZE) {
                Ok(page) => {
                    self.done = page.next.is_empty();
                    self.cursor = page.next;
                    self.page = page.keys.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn parse_list(mut p: &[u8]) -> Option<Page> {
    let n = get_u32(&mut p)?;
    let mut keys = Vec::with_capacity((n as usize).min(MAX_PAGE_SIZE as usize));
    for _ in 0..n {
        keys.push(get_bytes(&mut p)?.to_vec());
    }
    Some(Page {
        keys,
        next: p.to_vec(),
    })
}

// The framing shared with vinyl.

/// begin starts a request frame: room for the length, then the op.
pub(crate) fn begin(op: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, op]
}

/// put_bytes appends a bytes field: a u32 length, then the bytes.
pub(crate) fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
    buf.extend_from_slice(b);
}

/// get_u32 takes a big-endian u32 off the front of p.
pub(crate) fn get_u32(p: &mut &[u8]) -> Option<u32> {
    if p.len() < 4 {
        return None;
    }
    let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    *p = &p[4..];
    Some(n)
}

/// get_bytes takes a bytes field off the front of p.
pub(crate) fn get_bytes<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut q = *p;
    let n = get_u32(&mut q)? as usize;
    if q.len() < n {
        return None;
    }
    let (b, rest) = q.split_at(n);
    *p = rest;
    Some(b)
}

/// status_kind maps a response's status byte to its error; None is ok.
pub(crate) fn status_kind(status: u8) -> Option<StoreError> {
    match status {
        0 => None,
        1 => Some(StoreError::NotFound),
        2 => Some(StoreError::TooLarge),
        3 => Some(StoreError::Invalid),
        5 => Some(StoreError::Conflict),
        _ => Some(StoreError::Unavailable),
    }
}

/// exchange fills in the frame's length, writes it and reads the response
/// frame (at most max bytes): its status and the rest. The conn is spawned
/// again if an earlier failure dropped it; a failure now drops it, so the
/// next request starts on a fresh conn rather than in the middle of a frame.
pub(crate) fn exchange(
    conn: &mut Option<Conn>,
    target: &str,
    mut req: Vec<u8>,
    max: usize,
) -> Result<(u8, Vec<u8>), Error> {
    let len = (req.len() - 4) as u32;
    req[..4].copy_from_slice(&len.to_be_bytes());
    if conn.is_none() {
        *conn = Some(spawn(target)?);
    }
    let c = conn.as_mut().expect("spawned above");
    let res = frame(c, &req, max);
    if res.is_err() {
        if let Some(mut c) = conn.take() {
            let _ = c.close();
        }
    }
    res
}

fn frame(c: &mut Conn, req: &[u8], max: usize) -> Result<(u8, Vec<u8>), Error> {
    c.write_all(req)?;
    let mut hdr = [0u8; 4];
    c.read_exact(&mut hdr)?;
    let n = u32::from_be_bytes(hdr) as usize;
    if n == 0 || n > max {
        return Err(Error::Other(format!(
            "malformed response from the host (a frame of {} bytes)",
            n
        )));
    }
    let mut body = vec![0u8; n];
    c.read_exact(&mut body)?;
    let rest = body.split_off(1);
    Ok((body[0], rest))
}

/// transport_error says which request failed when the conn itself did.
pub(crate) fn transport_error(db: &str, op: &str, e: Error) -> Error {
    match e {
        Error::Io(ref io) if io.kind() == io::ErrorKind::UnexpectedEof => Error::Store {
            kind: StoreError::Unavailable,
            db: db.to_string(),
            op: op.to_string(),
            field: None,
            message: "the host ended the conn before answering".into(),
        },
        Error::Other(message) => Error::Store {
            kind: StoreError::Unavailable,
            db: db.to_string(),
            op: op.to_string(),
            field: None,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;

    /// frame builds a response frame: status, then body.
    pub(crate) fn resp(status: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        f.push(status);
        f.extend_from_slice(body);
        f
    }

    fn script(target: &str, answers: &[Vec<u8>]) {
        fake::reset();
        let all: Vec<u8> = answers.concat();
        fake::with(|f| {
            f.targets.insert(target.to_string(), all);
        });
    }

    fn written(id: i32) -> Vec<u8> {
        fake::with(|f| f.conn(id).output.clone())
    }

    #[test]
    fn set_matches_the_abi_example() {
        script("embly/kv/cache", &[resp(0, b"")]);
        let mut kv = open("cache").unwrap();
        kv.set_ttl("k", "hi", Duration::from_secs(60)).unwrap();
        assert_eq!(
            written(2),
            [0, 0, 0, 0x10, 2, 0, 0, 0, 1, b'k', 0, 0, 0, 0, 0, 0, 0xea, 0x60, b'h', b'i']
        );
    }

    #[test]
    fn get_delete_and_errors() {
        script(
            "embly/kv/cache",
            &[
                resp(0, b"value"),
                resp(1, b"embly/kv/cache: get: not found"),
                resp(0, b""),
                resp(2, b"too large: nope"),
                resp(3, b"bad"),
                resp(4, b"disk on fire"),
            ],
        );
        let mut kv = open("cache").unwrap();
        assert_eq!(kv.get("a").unwrap(), b"value");
        let err = kv.get(b"b").unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            "embly: kv \"cache\": get: embly/kv/cache: get: not found"
        );
        kv.delete("a").unwrap();
        assert_eq!(
            kv.set("a", "x").unwrap_err().store_error(),
            Some(StoreError::TooLarge)
        );
        assert_eq!(
            kv.get("a").unwrap_err().store_error(),
            Some(StoreError::Invalid)
        );
        assert_eq!(
            kv.get("a").unwrap_err().store_error(),
            Some(StoreError::Unavailable)
        );
        let mut want = Vec::new();
        for (op, key, extra) in [
            (OP_GET, b"a", &b""[..]),
            (OP_GET, b"b", b""),
            (OP_DELETE, b"a", b""),
            (OP_SET, b"a", &[0, 0, 0, 0, 0, 0, 0, 0, b'x'][..]),
            (OP_GET, b"a", b""),
            (OP_GET, b"a", b""),
        ] {
            let mut f = begin(op);
            put_bytes(&mut f, key);
            f.extend_from_slice(extra);
            let n = (f.len() - 4) as u32;
            f[..4].copy_from_slice(&n.to_be_bytes());
            want.extend(f);
        }
        assert_eq!(written(2), want);
    }

    #[test]
    fn checks_before_sending() {
        script("embly/kv/cache", &[]);
        let mut kv = open("cache").unwrap();
        assert_eq!(
            kv.get("").unwrap_err().store_error(),
            Some(StoreError::Invalid)
        );
        let long = vec![b'k'; MAX_KEY_SIZE + 1];
        assert_eq!(
            kv.delete(&long).unwrap_err().store_error(),
            Some(StoreError::TooLarge)
        );
        let big = vec![0u8; MAX_VALUE_SIZE + 1];
        let err = kv.set("k", &big).unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::TooLarge));
        assert_eq!(
            err.to_string(),
            "embly: kv \"cache\": set: the value is 1048577 bytes; the limit is 1048576"
        );
        assert_eq!(
            kv.list("", "", 1001).unwrap_err().store_error(),
            Some(StoreError::TooLarge)
        );
        assert!(written(2).is_empty());
    }

    #[test]
    fn ttl_rounds_up_to_a_millisecond() {
        script("embly/kv/c", &[resp(0, b"")]);
        let mut kv = open("c").unwrap();
        kv.set_ttl("k", "", Duration::from_micros(1500)).unwrap();
        let out = written(2);
        assert_eq!(&out[10..18], &2u64.to_be_bytes());
        assert_eq!(out.len(), 18, "an empty value is a value");
    }

    fn list_body(keys: &[&str], next: &str) -> Vec<u8> {
        let mut b = (keys.len() as u32).to_be_bytes().to_vec();
        for k in keys {
            put_bytes(&mut b, k.as_bytes());
        }
        b.extend_from_slice(next.as_bytes());
        b
    }

    #[test]
    fn list_and_keys_page_through() {
        script(
            "embly/kv/cache",
            &[
                resp(0, &list_body(&["u:1", "u:2"], "u:2")),
                resp(0, &list_body(&["u:1", "u:2"], "u:2")),
                resp(0, &list_body(&["u:3"], "")),
                resp(0, &[0, 0, 0, 2, 0, 0, 0, 9]),
            ],
        );
        let mut kv = open("cache").unwrap();
        let page = kv.list("u:", "", 2).unwrap();
        assert_eq!(page.keys, vec![b"u:1".to_vec(), b"u:2".to_vec()]);
        assert_eq!(page.next, b"u:2");
        let mut f = begin(OP_LIST);
        f.extend_from_slice(&2u32.to_be_bytes());
        put_bytes(&mut f, b"u:");
        put_bytes(&mut f, b"");
        let n = (f.len() - 4) as u32;
        f[..4].copy_from_slice(&n.to_be_bytes());
        assert_eq!(written(2), f);

        let keys: Vec<_> = kv.keys("u:").map(Result::unwrap).collect();
        assert_eq!(
            keys,
            vec![b"u:1".to_vec(), b"u:2".to_vec(), b"u:3".to_vec()]
        );
        let err = kv.list("u:", "", 0).unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::Unavailable));
        assert!(err.to_string().contains("malformed"), "{}", err);
    }

    #[test]
    fn a_dead_conn_is_spawned_again() {
        fake::reset();
        fake::with(|f| {
            f.targets
                .insert("embly/kv/cache".into(), resp(0, b"v")[..3].to_vec());
        });
        let mut kv = open("cache").unwrap();
        let err = kv.get("a").unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::Unavailable));
        fake::with(|f| {
            f.targets.insert("embly/kv/cache".into(), resp(0, b"v"));
        });
        assert_eq!(kv.get("a").unwrap(), b"v");
        fake::with(|f| {
            assert_eq!(f.spawned.len(), 2);
            assert!(f.conn(2).closed);
        });
    }

    #[test]
    fn unknown_databases_are_enoent() {
        fake::reset();
        let err = open("nope").unwrap_err();
        assert_eq!(err.errno(), Some(crate::Errno::ENOENT));
    }
}
