use crate::errno::Errno;
use std::fmt;
use std::io;

/// Error is what the functions of this crate return, and what a handler
/// returns: `?` converts I/O errors, `http` errors (bad header names,
/// values, status codes, URIs), UTF-8 errors and strings into it.
///
/// Its `Debug` form is its message, so `fn main() -> Result<(), Error>`
/// prints a readable line when main fails.
#[non_exhaustive]
pub enum Error {
    /// An I/O error, from a conn or from anything else the function does.
    Io(io::Error),
    /// An error of the `http` crate: a bad header, status code, URI or method.
    Http(::http::Error),
    /// A host call failed: `call` is what was attempted ("spawn function/back").
    Host {
        /// What was attempted, e.g. "spawn function/back" or "read conn 3".
        call: String,
        /// The errno the host returned.
        errno: Errno,
    },
    /// The request on conn 1 was not valid HTTP/1.1.
    BadRequest(String),
    /// The host refused or could not make an outbound HTTP request
    /// ([`crate::http::send`]): it answered in the upstream's place with
    /// an `X-Embly-Error` response (docs/abi.md, "Errors from the host").
    Outbound {
        /// The status of the host's answer: 400, 403, 502 or 504.
        status: u16,
        /// The `X-Embly-Error` code: `not-allowed`, `unreachable`, ...
        code: String,
        /// The host's one-line explanation, which says what to do.
        message: String,
    },
    /// A datastore ([`crate::kv`], [`crate::vinyl`]) refused or failed a
    /// request. Match on `kind` (or call [`Error::store_error`]) to tell a
    /// missing key from a full disk.
    Store {
        /// Why: not found, too large, invalid, unavailable or conflict.
        kind: StoreError,
        /// The database, as the host names it: `kv "cache"`, `vinyl "main"`.
        db: String,
        /// The operation: `get`, `set`, `insert`, `delete-where`, ...
        op: String,
        /// For [`StoreError::Conflict`]: the field of the unique index the
        /// insert broke (the primary key's field when it reused a key).
        field: Option<String>,
        /// The host's explanation, or the SDK's when it refused the request
        /// before sending it.
        message: String,
    },
    /// Anything else, as a message.
    Other(String),
}

/// StoreError says why a datastore request failed: the status of the
/// host's answer (docs/abi.md), or the SDK's own check of a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreError {
    /// No such key or record (or a kv key that has expired).
    NotFound,
    /// A key, value, record, page size or answer passes its limit.
    TooLarge,
    /// A malformed request: an empty key, an unknown record type or field, a
    /// query the host cannot run, a record that is not valid JSON.
    Invalid,
    /// The host's store failed, or answered something malformed; retrying
    /// later may work.
    Unavailable,
    /// A vinyl insert broke a unique index or reused a primary key.
    Conflict,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::NotFound => "not found",
            StoreError::TooLarge => "too large",
            StoreError::Invalid => "invalid request",
            StoreError::Unavailable => "store unavailable",
            StoreError::Conflict => "unique violation",
        })
    }
}

impl Error {
    pub(crate) fn host(call: impl Into<String>, errno: Errno) -> Error {
        Error::Host {
            call: call.into(),
            errno,
        }
    }

    /// errno returns the host's errno if this error came from a host call
    /// (directly, or wrapped in an I/O error by a conn's Read or Write).
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Host { errno, .. } => Some(*errno),
            Error::Io(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<Error>())
                .and_then(Error::errno),
            _ => None,
        }
    }

    /// store_error returns why a datastore request failed, if this error is
    /// one ([`Error::Store`]).
    ///
    /// ```no_run
    /// use embly::StoreError;
    ///
    /// let mut cache = embly::kv::open("cache")?;
    /// let hits = match cache.get("hits") {
    ///     Ok(v) => v,
    ///     Err(e) if e.store_error() == Some(StoreError::NotFound) => b"0".to_vec(),
    ///     Err(e) => return Err(e),
    /// };
    /// # Ok::<(), embly::Error>(())
    /// ```
    pub fn store_error(&self) -> Option<StoreError> {
        match self {
            Error::Store { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// is_not_found is true for a datastore's [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.store_error() == Some(StoreError::NotFound)
    }

    /// into_io wraps a host error in an io::Error of the matching kind, so
    /// that Read and Write can return it without losing it.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => e,
            Error::Host { errno, .. } => io::Error::new(errno.io_kind(), self),
            other => io::Error::new(io::ErrorKind::Other, other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => e.fmt(f),
            Error::Http(e) => e.fmt(f),
            Error::Host { call, errno } => write!(f, "embly: {}: {}", call, errno),
            Error::BadRequest(msg) => write!(f, "embly: bad request on conn 1: {}", msg),
            Error::Outbound { message, .. } => f.write_str(message),
            Error::Store {
                kind,
                db,
                op,
                message,
                ..
            } => {
                let msg = if message.is_empty() {
                    kind.to_string()
                } else {
                    message.clone()
                };
                write!(f, "embly: {}: {}: {}", db, op, msg)
            }
            Error::Other(msg) => f.write_str(msg),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Http(e) => Some(e),
            Error::Host { errno, .. } => Some(errno),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An io::Error that wraps an embly Error (as a conn's Read and Write
    /// return them) gives that Error back.
    fn from(e: io::Error) -> Error {
        if e.get_ref().map_or(false, |inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            unreachable!("checked above");
        }
        Error::Io(e)
    }
}

impl From<::http::Error> for Error {
    fn from(e: ::http::Error) -> Error {
        Error::Http(e)
    }
}

macro_rules! from_http {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Http(e.into())
            }
        }
    )*};
}

from_http!(
    ::http::header::InvalidHeaderName,
    ::http::header::InvalidHeaderValue,
    ::http::status::InvalidStatusCode,
    ::http::method::InvalidMethod,
    ::http::uri::InvalidUri,
    ::http::uri::InvalidUriParts
);

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Error {
        Error::Other(e.to_string())
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(e: std::string::FromUtf8Error) -> Error {
        Error::Other(e.to_string())
    }
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error::host("host call", errno)
    }
}

impl From<String> for Error {
    fn from(msg: String) -> Error {
        Error::Other(msg)
    }
}

impl From<&str> for Error {
    fn from(msg: &str) -> Error {
        Error::Other(msg.to_string())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Error {
        match e.downcast::<Error>() {
            Ok(err) => *err,
            Err(e) => Error::Other(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_survive_io() {
        let err = Error::host("write conn 1", Errno::EPIPE);
        let io = err.into_io();
        assert_eq!(io.kind(), io::ErrorKind::BrokenPipe);
        let back = Error::from(io);
        assert_eq!(back.errno(), Some(Errno::EPIPE));
        assert_eq!(
            back.to_string(),
            "embly: write conn 1: the peer is gone (EPIPE)"
        );
        assert_eq!(format!("{:?}", back), back.to_string());
    }

    #[test]
    fn conversions() {
        fn bad_header() -> Result<(), Error> {
            ::http::header::HeaderName::from_bytes(b"bad header")?;
            Ok(())
        }
        assert!(matches!(bad_header(), Err(Error::Http(_))));
        let e: Error = io::Error::new(io::ErrorKind::Other, "boom").into();
        assert_eq!(e.to_string(), "boom");
        assert_eq!(e.errno(), None);
        let e: Error = "plain".into();
        assert_eq!(e.to_string(), "plain");
    }
}
