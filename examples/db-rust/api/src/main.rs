//! api serves the JSON APIs of examples/db and examples/kv from one Rust
//! function, answering as they do:
//!
//! ```text
//! POST   /api/users           {"username","email","password"} -> 201 the user, 409 if taken
//! GET    /api/users/{id}      the user                        -> 200, or 404
//! GET    /api/users?email=E   the users with that email       -> 200, a JSON array
//! DELETE /api/users/{id}      remove the user                 -> 204
//!
//! PUT    /kv/{key}            store the body under key        -> 204 (?ttl=30s to expire)
//! GET    /kv/{key}            the value                       -> 200, or 404
//! DELETE /kv/{key}            remove key                      -> 204
//! GET    /kv?prefix=p         the keys that start with p      -> 200, a JSON array
//! ```
//!
//! A user's JSON never holds the password or its hash.

use embly::http::{percent_decode, query_param, run, Body, Request, ResponseWriter};
use embly::prelude::*;
use embly::vinyl::{Filter, Query};
use embly::{kv, vinyl, Error, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// User is a User record as the API shows it. It is read straight from the
/// stored record: serde skips the fields it does not name, so the password
/// hash never makes it into an answer.
#[derive(Serialize, Deserialize)]
struct User {
    #[serde(deserialize_with = "int64")]
    id: i64,
    username: String,
    email: String,
}

/// NewUser is a User record to insert. It has no id, so the database
/// assigns one.
#[derive(Serialize)]
struct NewUser<'a> {
    username: &'a str,
    email: &'a str,
    password_hash: String,
}

/// Signup is the body of POST /api/users. Missing fields are empty, and
/// then refused with the same message as examples/db.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Signup {
    username: String,
    email: String,
    password: String,
}

fn main() -> Result<(), Error> {
    run(serve)
}

fn serve(mut req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = match (method.as_str(), path.as_str()) {
        ("POST", "/api/users") => create(&mut req, w),
        ("GET", "/api/users") => find(&req, w),
        (m, p) if p.starts_with("/api/users/") => match (m, p["/api/users/".len()..].parse()) {
            ("GET", Ok(id)) => get(id, w),
            ("DELETE", Ok(id)) => delete(id, w),
            _ => text(w, 404, "404 page not found"),
        },
        ("GET", "/kv") => list(&req, w),
        // The key is the rest of the path, slashes included ("user/1").
        (m, p) if p.starts_with("/kv/") => {
            let key = percent_decode(&p["/kv/".len()..]);
            match m {
                "GET" => kv_get(&key, w),
                "PUT" => kv_put(&mut req, &key, w),
                "DELETE" => kv_delete(&key, w),
                _ => text(w, 405, "method not allowed"),
            }
        }
        _ => text(w, 404, "404 page not found"),
    };
    res.or_else(|e| fail(w, e))
}

fn create(req: &mut Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
    let mut body = Vec::new();
    req.body_mut().take(64 << 10).read_to_end(&mut body)?;
    let signup: Signup = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(_) => {
            return text(
                w,
                400,
                r#"send JSON like {"username":"ada","email":"ada@example.com","password":"..."}"#,
            )
        }
    };
    // Lowercased, so the unique index on email sees Ada@ and ada@ as one.
    let email = signup.email.trim().to_lowercase();
    if signup.username.is_empty() || !email.contains('@') || signup.password.len() < 6 {
        return text(
            w,
            400,
            "username, a valid email and a password of 6 or more characters are required",
        );
    }
    let record = NewUser {
        username: &signup.username,
        email: &email,
        password_hash: hash_password(&signup.password)?,
    };
    let stored = match vinyl::open("main")?.insert("User", to_json(&record)?) {
        Ok(stored) => stored,
        // The unique index that refused the insert names the field.
        Err(Error::Store {
            kind: StoreError::Conflict,
            field: Some(field),
            ..
        }) => return text(w, 409, &format!("{} is taken", field)),
        Err(e) => return Err(e),
    };
    let user: User = parse(&stored.record)?;
    w.header("Location", format!("/api/users/{}", user.id))?;
    write_json(w, 201, &user)
}

fn get(id: i64, w: &mut ResponseWriter) -> Result<(), Error> {
    let user: User = parse(&vinyl::open("main")?.load("User", id)?)?;
    write_json(w, 200, &user)
}

fn find(req: &Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
    let mut q = Query::new().limit(100);
    if let Some(email) = query_param(req.uri(), "email").filter(|e| !e.is_empty()) {
        // An equality on an indexed field: an index lookup, not a scan.
        q = q.filter(Filter::eq("email", email.to_lowercase()));
    }
    let users = vinyl::open("main")?
        .query("User", &q)?
        .iter()
        .map(|r| parse(r))
        .collect::<Result<Vec<User>, Error>>()?;
    write_json(w, 200, &users)
}

fn delete(id: i64, w: &mut ResponseWriter) -> Result<(), Error> {
    vinyl::open("main")?.delete("User", id)?;
    w.status(204)
}

fn kv_get(key: &[u8], w: &mut ResponseWriter) -> Result<(), Error> {
    let value = kv::open("data")?.get(key)?;
    w.header("Content-Type", "application/octet-stream")?;
    w.write_all(&value)?;
    Ok(())
}

fn kv_put(req: &mut Request<Body>, key: &[u8], w: &mut ResponseWriter) -> Result<(), Error> {
    let mut ttl = Duration::ZERO;
    if let Some(s) = query_param(req.uri(), "ttl").filter(|s| !s.is_empty()) {
        match parse_duration(&s) {
            Some(d) if d > Duration::ZERO => ttl = d,
            _ => return text(w, 400, "ttl must be a positive duration, like 30s"),
        }
    }
    // One byte past the limit, so an oversized value reaches the SDK's
    // check and is refused with its reason (413) rather than cut short.
    let mut value = Vec::new();
    req.body_mut()
        .take(kv::MAX_VALUE_SIZE as u64 + 1)
        .read_to_end(&mut value)?;
    kv::open("data")?.set_ttl(key, value, ttl)?;
    w.status(204)
}

fn kv_delete(key: &[u8], w: &mut ResponseWriter) -> Result<(), Error> {
    kv::open("data")?.delete(key)?;
    w.status(204)
}

/// list answers every key under the prefix; `keys` fetches them a page of
/// the store at a time.
fn list(req: &Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
    let prefix = query_param(req.uri(), "prefix").unwrap_or_default();
    let keys = kv::open("data")?
        .keys(prefix)
        .map(|k| k.map(|k| String::from_utf8_lossy(&k).into_owned()))
        .collect::<Result<Vec<String>, Error>>()?;
    write_json(w, 200, &keys)
}

/// hash_password salts and hashes a password the way examples/db does,
/// hex(salt) ":" hex(sha256(salt + password)), so the two examples can
/// share a database. A real service would use a slow hash (argon2, bcrypt).
fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    embly::fill_random(&mut salt)?;
    let sum = Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    Ok(format!("{}:{}", hex(&salt), hex(&sum)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// int64 reads a 64-bit integer as protojson writes it: as a string ("1"),
/// since JSON numbers lose precision past 2^53.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// parse reads a record the host sent. The host writes them from the
/// .proto, so a failure here is a bug, answered 500.
fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::from(format!("reading a record: {}", e)))
}

fn to_json(v: &impl Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::from(e.to_string()))
}

/// parse_duration reads a duration as Go writes one ("300ms", "30s",
/// "1h30m"), which is what examples/kv takes for ?ttl.
fn parse_duration(s: &str) -> Option<Duration> {
    let is_number = |c: char| c.is_ascii_digit() || c == '.';
    let mut rest = s;
    let mut nanos = 0.0;
    while !rest.is_empty() {
        let n = rest.find(|c| !is_number(c))?;
        let u = rest[n..].find(is_number).map_or(rest.len(), |i| n + i);
        let value: f64 = rest[..n].parse().ok()?;
        let unit = match &rest[n..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * unit;
        rest = &rest[u..];
    }
    if s.is_empty() || nanos > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(nanos.round() as u64))
}

/// fail answers a datastore's refusal with the matching status and its
/// reason; any other error goes up to `run`, which answers 500 and logs it.
fn fail(w: &mut ResponseWriter, e: Error) -> Result<(), Error> {
    let status = match e.store_error() {
        Some(StoreError::NotFound) => 404,
        Some(StoreError::TooLarge) => 413,
        Some(StoreError::Invalid) => 400,
        Some(StoreError::Conflict) => 409,
        Some(_) => 503,
        None => return Err(e),
    };
    text(w, status, &e.to_string())
}

fn text(w: &mut ResponseWriter, status: u16, msg: &str) -> Result<(), Error> {
    w.status(status)?;
    w.header("Content-Type", "text/plain; charset=utf-8")?;
    writeln!(w, "{}", msg)?;
    Ok(())
}

/// write_json answers v as JSON and a newline, as Go's json.Encoder does,
/// so this example and examples/db answer byte for byte alike.
fn write_json(w: &mut ResponseWriter, status: u16, v: &impl Serialize) -> Result<(), Error> {
    let mut body = to_json(v)?;
    body.push(b'\n');
    w.status(status)?;
    w.header("Content-Type", "application/json")?;
    w.write_all(&body)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        for bad in ["", "30", "s", "10x", "1e9h"] {
            assert_eq!(parse_duration(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn users_come_from_records_without_the_hash() {
        let user: User =
            parse(r#"{"id":"7","username":"ada","email":"a@x","password_hash":"s:h"}"#).unwrap();
        assert_eq!(
            to_json(&user).unwrap(),
            br#"{"id":7,"username":"ada","email":"a@x"}"#
        );
    }

    #[test]
    fn password_hashes_are_salted() {
        let (a, b) = (
            hash_password("s3cret").unwrap(),
            hash_password("s3cret").unwrap(),
        );
        assert_ne!(a, b);
        let (salt, sum) = a.split_once(':').unwrap();
        assert_eq!((salt.len(), sum.len()), (32, 64));
    }
}
