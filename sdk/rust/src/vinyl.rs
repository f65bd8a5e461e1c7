//! The record databases of the project: `database "vinyl" "NAME" {...}` in
//! embly.hcl, reached over the host service `embly/vinyl/NAME`
//! (docs/abi.md).
//!
//! Records are messages of the database's `.proto`. The host holds the
//! descriptors, so records travel as JSON as protojson writes it (the
//! `.proto`'s field names, every field present, 64-bit integers as
//! strings, bytes as base64) or as protobuf binary (the `_proto` methods).
//! The crate has no JSON dependency: records go in as JSON text you write
//! (or serialize with serde_json in your own crate) and come back as JSON
//! strings. Queries are built with [`Filter`] and [`Query`].
//!
//! ```no_run
//! use embly::vinyl::{self, Filter, Query, Value};
//!
//! fn main() -> Result<(), embly::Error> {
//!     let mut db = vinyl::open("main")?;
//!     let stored = db.insert("User", r#"{"email":"ada@example.com","age":36}"#)?;
//!     println!("id {} is {}", stored.key, stored.record);
//!     let ada = db.load("User", Value::json(stored.key))?; // the key is JSON: "1"
//!     let adults = db.query(
//!         "User",
//!         &Query::new()
//!             .filter(Filter::ge("age", 18).and(Filter::is_empty("banned").not()))
//!             .order_by("email")
//!             .limit(10),
//!     )?;
//!     let gone = db.delete_where("User", &Filter::lt("age", 13))?;
//!     match db.insert("User", r#"{"email":"ada@example.com"}"#) {
//!         Err(embly::Error::Store { field: Some(field), .. }) => println!("taken: {}", field),
//!         other => { other?; }
//!     }
//!     Ok(())
//! }
//! ```

use crate::conn::{spawn, Conn};
use crate::error::{Error, StoreError};
use crate::kv::{begin, exchange, get_bytes, get_u32, put_bytes, status_kind, transport_error};
use std::fmt;

const OP_INSERT: u8 = 1;
const OP_LOAD: u8 = 2;
const OP_QUERY: u8 = 3;
const OP_DELETE: u8 = 4;
const OP_DELETE_WHERE: u8 = 5;

const FORMAT_BINARY: u8 = 0;
const FORMAT_JSON: u8 = 1;

/// A response frame may hold up to 16 MiB of records.
const MAX_RESPONSE: usize = (16 << 20) + (64 << 10);

/// Vinyl is a record database of the project, opened with [`open`]. It
/// holds one conn to the host and sends its requests over it in turn.
#[derive(Debug)]
pub struct Vinyl {
    name: String,
    conn: Option<Conn>,
}

/// open connects to the record database `name` that embly.hcl declares
/// with `database "vinyl" "NAME" {...}`. A database the project does not
/// declare fails with [`Errno::ENOENT`](crate::Errno::ENOENT).
pub fn open(name: &str) -> Result<Vinyl, Error> {
    let conn = spawn(&format!("embly/vinyl/{}", name))?;
    Ok(Vinyl {
        name: name.to_string(),
        conn: Some(conn),
    })
}

/// Inserted is what [`Vinyl::insert`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted<R> {
    /// The primary key as JSON: `"1"` (a 64-bit integer, as a string),
    /// `42`, `"ada"`. Pass it to [`Vinyl::load`] and [`Vinyl::delete`].
    pub key: String,
    /// The record as stored, key included: JSON, or protobuf binary for
    /// [`Vinyl::insert_proto`].
    pub record: R,
}

/// Value is a JSON value of a record's field or primary key: what
/// [`Filter`]'s comparisons, [`Vinyl::load`] and [`Vinyl::delete`] take.
/// Numbers, bools and strings convert with `into()`; a `&str` is a JSON
/// string, so a key written as JSON (`"1"` from [`Inserted::key`]) goes
/// through [`Value::json`].
#[derive(Clone, Debug, PartialEq)]
pub struct Value(String);

impl Value {
    /// json is a value already written as JSON, used as is.
    pub fn json(js: impl Into<String>) -> Value {
        Value(js.into())
    }

    /// bytes is a bytes field's value: a base64 string.
    pub fn bytes(b: &[u8]) -> Value {
        Value(quote(&base64(b)))
    }

    /// as_json returns the value's JSON.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

macro_rules! value_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value(n.to_string())
            }
        }
    )*};
}

value_from_number!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);

impl From<f64> for Value {
    /// A number; NaN and the infinities, which JSON lacks, are null.
    fn from(n: f64) -> Value {
        if n.is_finite() {
            Value(format!("{:?}", n))
        } else {
            Value("null".into())
        }
    }
}

impl From<f32> for Value {
    fn from(n: f32) -> Value {
        Value::from(n as f64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value(b.to_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value(quote(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value(quote(&s))
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value(quote(s))
    }
}

/// Filter is a condition on records, written as the protocol's query JSON.
/// Fields are the record's scalar fields, by their `.proto` names.
///
/// ```
/// use embly::vinyl::Filter;
///
/// let f = Filter::eq("city", "Paris").and(Filter::gt("age", 30));
/// assert_eq!(
///     f.to_string(),
///     r#"{"and":[{"field":"city","eq":"Paris"},{"field":"age","gt":30}]}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Filter(String);

impl Filter {
    fn cmp(op: &str, field: &str, v: Value) -> Filter {
        Filter(format!(
            "{{\"field\":{},{}:{}}}",
            quote(field),
            quote(op),
            v.0
        ))
    }

    /// eq matches records whose field equals v.
    pub fn eq(field: &str, v: impl Into<Value>) -> Filter {
        Filter::cmp("eq", field, v.into())
    }

    /// gt matches records whose field is greater than v.
    pub fn gt(field: &str, v: impl Into<Value>) -> Filter {
        Filter::cmp("gt", field, v.into())
    }

    /// lt matches records whose field is less than v.
    pub fn lt(field: &str, v: impl Into<Value>) -> Filter {
        Filter::cmp("lt", field, v.into())
    }

    /// ge matches records whose field is v or greater.
    pub fn ge(field: &str, v: impl Into<Value>) -> Filter {
        Filter::cmp("ge", field, v.into())
    }

    /// le matches records whose field is v or less.
    pub fn le(field: &str, v: impl Into<Value>) -> Filter {
        Filter::cmp("le", field, v.into())
    }

    /// is_null matches records whose field (one with presence: proto3
    /// `optional`) is unset.
    pub fn is_null(field: &str) -> Filter {
        Filter::cmp("null", field, true.into())
    }

    /// is_empty matches records whose field is unset or its zero value
    /// (`""`, 0, false, empty bytes).
    pub fn is_empty(field: &str) -> Filter {
        Filter::cmp("empty", field, true.into())
    }

    /// all matches records that match every filter.
    pub fn all(fs: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::join("and", fs)
    }

    /// any matches records that match any of the filters.
    pub fn any(fs: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::join("or", fs)
    }

    fn join(op: &str, fs: impl IntoIterator<Item = Filter>) -> Filter {
        let parts: Vec<String> = fs.into_iter().map(|f| f.0).collect();
        Filter(format!("{{\"{}\":[{}]}}", op, parts.join(",")))
    }

    /// and matches records that match both self and other.
    pub fn and(self, other: Filter) -> Filter {
        Filter::all(vec![self, other])
    }

    /// or matches records that match self or other.
    pub fn or(self, other: Filter) -> Filter {
        Filter::any(vec![self, other])
    }

    /// not matches records that self does not.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter(format!("{{\"not\":{}}}", self.0))
    }

    /// json is a filter already written as the protocol's JSON, used as is.
    pub fn json(js: impl Into<String>) -> Filter {
        Filter(js.into())
    }
}

impl fmt::Display for Filter {
    /// The filter's JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Query selects records: those its filter matches (none: all), ordered by
/// a field (the primary key unless set; otherwise a field with an index),
/// at most `limit` (0: 100; at most 1000) after skipping `skip`.
///
/// ```
/// use embly::vinyl::{Filter, Query};
///
/// let q = Query::new().filter(Filter::eq("age", 36)).order_by("email").desc().limit(10);
/// assert_eq!(
///     q.to_string(),
///     r#"{"filter":{"field":"age","eq":36},"order_by":"email","desc":true,"limit":10}"#
/// );
/// assert_eq!(Query::new().to_string(), "{}");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    filter: Option<Filter>,
    order_by: Option<String>,
    desc: bool,
    limit: u32,
    skip: u32,
}

impl Query {
    /// new is the query of every record, by primary key, at most 100.
    pub fn new() -> Query {
        Query::default()
    }

    /// filter keeps the records f matches.
    pub fn filter(mut self, f: Filter) -> Query {
        self.filter = Some(f);
        self
    }

    /// order_by orders by field, which must have an index (or be the
    /// primary key).
    pub fn order_by(mut self, field: &str) -> Query {
        self.order_by = Some(field.to_string());
        self
    }

    /// desc orders from the largest down.
    pub fn desc(mut self) -> Query {
        self.desc = true;
        self
    }

    /// limit returns at most n records (0: 100; at most 1000).
    pub fn limit(mut self, n: u32) -> Query {
        self.limit = n;
        self
    }

    /// skip skips the first n records.
    pub fn skip(mut self, n: u32) -> Query {
        self.skip = n;
        self
    }
}

impl fmt::Display for Query {
    /// The query's JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(filter) = &self.filter {
            parts.push(format!("\"filter\":{}", filter.0));
        }
        if let Some(field) = &self.order_by {
            parts.push(format!("\"order_by\":{}", quote(field)));
        }
        if self.desc {
            parts.push("\"desc\":true".to_string());
        }
        if self.limit > 0 {
            parts.push(format!("\"limit\":{}", self.limit));
        }
        if self.skip > 0 {
            parts.push(format!("\"skip\":{}", self.skip));
        }
        write!(f, "{{{}}}", parts.join(","))
    }
}

impl Vinyl {
    /// name returns the database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// insert stores a record of type `typ` given as JSON and returns its
    /// key and the record as stored (JSON). An integer primary key that is
    /// 0 (or missing) is assigned. A record that breaks a unique index or
    /// reuses a key is [`StoreError::Conflict`], and the error's `field`
    /// names the index's field.
    pub fn insert(
        &mut self,
        typ: &str,
        record: impl AsRef<[u8]>,
    ) -> Result<Inserted<String>, Error> {
        let (key, record) = self.insert_in(typ, FORMAT_JSON, record.as_ref())?;
        Ok(Inserted {
            key,
            record: self.utf8("insert", record)?,
        })
    }

    /// insert_proto is [`Vinyl::insert`] for a record in protobuf binary;
    /// the stored record comes back in binary too.
    pub fn insert_proto(
        &mut self,
        typ: &str,
        record: impl AsRef<[u8]>,
    ) -> Result<Inserted<Vec<u8>>, Error> {
        let (key, record) = self.insert_in(typ, FORMAT_BINARY, record.as_ref())?;
        Ok(Inserted { key, record })
    }

    fn insert_in(
        &mut self,
        typ: &str,
        format: u8,
        record: &[u8],
    ) -> Result<(String, Vec<u8>), Error> {
        let p = self.request(OP_INSERT, format, typ, record)?;
        let mut rest = &p[..];
        let key = get_bytes(&mut rest).ok_or_else(|| self.malformed("insert"))?;
        let key = String::from_utf8_lossy(key).into_owned();
        Ok((key, rest.to_vec()))
    }

    /// load returns the record of type `typ` whose primary key is `key`,
    /// as JSON; a missing one is [`StoreError::NotFound`]. `key` is a
    /// number, a string, or [`Value::json`] of a key as [`Inserted::key`]
    /// has it.
    pub fn load(&mut self, typ: &str, key: impl Into<Value>) -> Result<String, Error> {
        let p = self.request(OP_LOAD, FORMAT_JSON, typ, key.into().0.as_bytes())?;
        self.utf8("load", p)
    }

    /// load_proto is [`Vinyl::load`] in protobuf binary.
    pub fn load_proto(&mut self, typ: &str, key: impl Into<Value>) -> Result<Vec<u8>, Error> {
        self.request(OP_LOAD, FORMAT_BINARY, typ, key.into().0.as_bytes())
    }

    /// query returns the records of type `typ` that q selects, each as
    /// JSON.
    pub fn query(&mut self, typ: &str, q: &Query) -> Result<Vec<String>, Error> {
        let records = self.query_in(typ, FORMAT_JSON, q)?;
        records.into_iter().map(|r| self.utf8("query", r)).collect()
    }

    /// query_json is [`Vinyl::query`] with the records as one JSON array.
    pub fn query_json(&mut self, typ: &str, q: &Query) -> Result<String, Error> {
        Ok(format!("[{}]", self.query(typ, q)?.join(",")))
    }

    /// query_proto is [`Vinyl::query`] in protobuf binary.
    pub fn query_proto(&mut self, typ: &str, q: &Query) -> Result<Vec<Vec<u8>>, Error> {
        self.query_in(typ, FORMAT_BINARY, q)
    }

    fn query_in(&mut self, typ: &str, format: u8, q: &Query) -> Result<Vec<Vec<u8>>, Error> {
        let p = self.request(OP_QUERY, format, typ, q.to_string().as_bytes())?;
        let mut rest = &p[..];
        let n = get_u32(&mut rest).ok_or_else(|| self.malformed("query"))?;
        let mut out = Vec::with_capacity((n as usize).min(1000));
        for _ in 0..n {
            let r = get_bytes(&mut rest).ok_or_else(|| self.malformed("query"))?;
            out.push(r.to_vec());
        }
        Ok(out)
    }

    /// delete removes the record with primary key `key` and says whether
    /// there was one.
    pub fn delete(&mut self, typ: &str, key: impl Into<Value>) -> Result<bool, Error> {
        let p = self.request(OP_DELETE, FORMAT_JSON, typ, key.into().0.as_bytes())?;
        Ok(self.count("delete", &p)? > 0)
    }

    /// delete_where removes the records f matches and returns how many.
    pub fn delete_where(&mut self, typ: &str, f: &Filter) -> Result<u64, Error> {
        let q = format!("{{\"filter\":{}}}", f.0);
        let p = self.request(OP_DELETE_WHERE, FORMAT_JSON, typ, q.as_bytes())?;
        self.count("delete-where", &p)
    }

    /// delete_all removes every record of type `typ` and returns how many.
    pub fn delete_all(&mut self, typ: &str) -> Result<u64, Error> {
        let p = self.request(OP_DELETE_WHERE, FORMAT_JSON, typ, b"{}")?;
        self.count("delete-where", &p)
    }

    fn count(&self, op: &str, p: &[u8]) -> Result<u64, Error> {
        if p.len() != 8 {
            return Err(self.malformed(op));
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(p);
        Ok(u64::from_be_bytes(b))
    }

    fn utf8(&self, op: &str, b: Vec<u8>) -> Result<String, Error> {
        String::from_utf8(b).map_err(|_| self.malformed(op))
    }

    fn error(&self, op: &str, kind: StoreError, field: Option<String>, message: String) -> Error {
        Error::Store {
            kind,
            db: format!("vinyl {:?}", self.name),
            op: op.to_string(),
            field,
            message,
        }
    }

    fn malformed(&self, op: &str) -> Error {
        self.error(
            op,
            StoreError::Unavailable,
            None,
            "malformed response from the host".into(),
        )
    }

    /// request sends one request and returns the payload of an ok answer.
    fn request(&mut self, op: u8, format: u8, typ: &str, rest: &[u8]) -> Result<Vec<u8>, Error> {
        let name = ["", "insert", "load", "query", "delete", "delete-where"][op as usize];
        let mut req = begin(op);
        req.push(format);
        put_bytes(&mut req, typ.as_bytes());
        req.extend_from_slice(rest);
        let target = format!("embly/vinyl/{}", self.name);
        let db = format!("vinyl {:?}", self.name);
        let (status, payload) = exchange(&mut self.conn, &target, req, MAX_RESPONSE)
            .map_err(|e| transport_error(&db, name, e))?;
        let kind = match status_kind(status) {
            None => return Ok(payload),
            Some(kind) => kind,
        };
        let op = format!("{} {}", name, typ);
        if kind == StoreError::Conflict {
            let mut rest = &payload[..];
            if let Some(field) = get_bytes(&mut rest) {
                let field = String::from_utf8_lossy(field).into_owned();
                let msg = String::from_utf8_lossy(rest).into_owned();
                return Err(self.error(&op, kind, Some(field), msg));
            }
        }
        Err(self.error(
            &op,
            kind,
            None,
            String::from_utf8_lossy(&payload).into_owned(),
        ))
    }
}

/// quote writes s as a JSON string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// base64 is standard base64 with padding, as protojson writes bytes.
fn base64(b: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity((b.len() + 2) / 3 * 4);
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;

    fn resp(status: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        f.push(status);
        f.extend_from_slice(body);
        f
    }

    fn script(answers: &[Vec<u8>]) -> Vinyl {
        fake::reset();
        fake::with(|f| {
            f.targets
                .insert("embly/vinyl/main".into(), answers.concat());
        });
        open("main").unwrap()
    }

    /// sent splits what the guest wrote into request frame bodies.
    fn sent() -> Vec<Vec<u8>> {
        let out = fake::with(|f| f.conn(2).output.clone());
        let mut p = &out[..];
        let mut frames = Vec::new();
        while !p.is_empty() {
            frames.push(get_bytes(&mut p).expect("a whole frame").to_vec());
        }
        frames
    }

    fn req(op: u8, format: u8, typ: &str, rest: &str) -> Vec<u8> {
        let mut f = vec![op, format];
        put_bytes(&mut f, typ.as_bytes());
        f.extend_from_slice(rest.as_bytes());
        f
    }

    #[test]
    fn insert_matches_the_abi_example() {
        let mut body = Vec::new();
        put_bytes(&mut body, b"\"1\"");
        body.extend_from_slice(br#"{"id":"1","email":"a@x"}"#);
        let mut conflict = Vec::new();
        put_bytes(&mut conflict, b"email");
        conflict.extend_from_slice(b"unique index email: a@x is taken");
        let mut db = script(&[resp(0, &body), resp(5, &conflict)]);

        let stored = db.insert("User", r#"{"email":"a@x"}"#).unwrap();
        assert_eq!(stored.key, "\"1\"");
        assert_eq!(stored.record, r#"{"id":"1","email":"a@x"}"#);

        let err = db.insert("User", r#"{"email":"a@x"}"#).unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::Conflict));
        match &err {
            Error::Store { field, .. } => assert_eq!(field.as_deref(), Some("email")),
            other => panic!("{:?}", other),
        }
        assert_eq!(
            err.to_string(),
            "embly: vinyl \"main\": insert User: unique index email: a@x is taken"
        );
        let out = fake::with(|f| f.conn(2).output.clone());
        // 25 bytes: op, format, "User" as bytes (8), the record (15). (The
        // example in docs/abi.md says 0x1c.)
        assert_eq!(&out[..4], &[0, 0, 0, 25]);
        assert_eq!(
            sent(),
            vec![
                req(1, 1, "User", r#"{"email":"a@x"}"#),
                req(1, 1, "User", r#"{"email":"a@x"}"#)
            ]
        );
    }

    #[test]
    fn load_query_delete() {
        let mut records = 2u32.to_be_bytes().to_vec();
        put_bytes(&mut records, br#"{"id":"1"}"#);
        put_bytes(&mut records, br#"{"id":"2"}"#);
        let mut db = script(&[
            resp(0, br#"{"id":"1"}"#),
            resp(1, b"no User 7"),
            resp(0, &records),
            resp(0, &[0, 0, 0, 0]),
            resp(0, &1u64.to_be_bytes()),
            resp(0, &3u64.to_be_bytes()),
            resp(0, &9u64.to_be_bytes()),
            resp(3, b"unknown field nope"),
            resp(0, b"\x08\x01"),
        ]);
        assert_eq!(
            db.load("User", Value::json("\"1\"")).unwrap(),
            r#"{"id":"1"}"#
        );
        assert!(db.load("User", 7).unwrap_err().is_not_found());
        let q = Query::new().filter(Filter::eq("email", "a@x")).limit(2);
        assert_eq!(
            db.query("User", &q).unwrap(),
            vec![r#"{"id":"1"}"#.to_string(), r#"{"id":"2"}"#.to_string()]
        );
        assert_eq!(db.query_json("User", &Query::new()).unwrap(), "[]");
        assert!(db.delete("User", "ada").unwrap());
        assert_eq!(db.delete_where("User", &Filter::lt("age", 13)).unwrap(), 3);
        assert_eq!(db.delete_all("User").unwrap(), 9);
        let err = db
            .query("User", &Query::new().filter(Filter::is_null("nope")))
            .unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::Invalid));
        assert_eq!(
            err.to_string(),
            "embly: vinyl \"main\": query User: unknown field nope"
        );
        assert_eq!(db.load_proto("User", 1).unwrap(), b"\x08\x01");
        assert_eq!(
            sent(),
            vec![
                req(2, 1, "User", "\"1\""),
                req(2, 1, "User", "7"),
                req(
                    3,
                    1,
                    "User",
                    r#"{"filter":{"field":"email","eq":"a@x"},"limit":2}"#
                ),
                req(3, 1, "User", "{}"),
                req(4, 1, "User", "\"ada\""),
                req(5, 1, "User", r#"{"filter":{"field":"age","lt":13}}"#),
                req(5, 1, "User", "{}"),
                req(3, 1, "User", r#"{"filter":{"field":"nope","null":true}}"#),
                req(2, 0, "User", "1"),
            ]
        );
    }

    #[test]
    fn filters_write_the_documented_json() {
        let f = Filter::any(vec![
            Filter::ge("age", 18).and(Filter::le("age", 65.5)),
            Filter::is_empty("nick").not(),
            Filter::eq("name", "say \"hi\"\n"),
            Filter::eq("avatar", Value::bytes(b"\x00\xffab")),
            Filter::gt("big", 1u64 << 63),
            Filter::eq("ok", false),
        ]);
        assert_eq!(
            f.to_string(),
            concat!(
                r#"{"or":[{"and":[{"field":"age","ge":18},{"field":"age","le":65.5}]},"#,
                r#"{"not":{"field":"nick","empty":true}},"#,
                r#"{"field":"name","eq":"say \"hi\"\n"},"#,
                r#"{"field":"avatar","eq":"AP9hYg=="},"#,
                r#"{"field":"big","gt":9223372036854775808},"#,
                r#"{"field":"ok","eq":false}]}"#
            )
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(Value::from(f64::NAN).as_json(), "null");
        assert_eq!(Value::from(2.0).as_json(), "2.0");
        assert_eq!(quote("\u{1}"), "\"\\u0001\"");
    }

    #[test]
    fn malformed_answers_are_unavailable() {
        let mut db = script(&[resp(0, &[0, 0, 0, 5]), resp(0, &[0, 0])]);
        let err = db.query("User", &Query::new()).unwrap_err();
        assert_eq!(err.store_error(), Some(StoreError::Unavailable));
        assert_eq!(
            db.delete("User", 1).unwrap_err().store_error(),
            Some(StoreError::Unavailable)
        );
    }
}
