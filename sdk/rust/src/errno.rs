use std::fmt;
use std::io;

/// Errno is a WASI errno returned by a host call. The constants are the ones
/// the embly ABI uses (docs/abi.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// EACCES: `_spawn` of a target this function may not reach.
    pub const EACCES: Errno = Errno(2);
    /// EAGAIN: nothing to read yet, the window is full, or a spawn limit is reached.
    pub const EAGAIN: Errno = Errno(6);
    /// EBADF: a conn id this instance does not hold.
    pub const EBADF: Errno = Errno(8);
    /// EFAULT: a pointer outside the instance's memory.
    pub const EFAULT: Errno = Errno(21);
    /// ENOENT: `_spawn` of an unknown target.
    pub const ENOENT: Errno = Errno(44);
    /// EPIPE: the peer is gone, or we closed our side.
    pub const EPIPE: Errno = Errno(64);

    fn name(self) -> Option<(&'static str, &'static str)> {
        Some(match self.0 {
            2 => ("EACCES", "not allowed"),
            6 => ("EAGAIN", "try again"),
            8 => ("EBADF", "no such conn"),
            21 => ("EFAULT", "bad address"),
            44 => ("ENOENT", "no such target"),
            64 => ("EPIPE", "the peer is gone"),
            _ => return None,
        })
    }

    /// io_kind is the std::io::ErrorKind closest to this errno.
    pub(crate) fn io_kind(self) -> io::ErrorKind {
        match self {
            Errno::EPIPE => io::ErrorKind::BrokenPipe,
            Errno::EAGAIN => io::ErrorKind::WouldBlock,
            Errno::EACCES => io::ErrorKind::PermissionDenied,
            Errno::ENOENT => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some((name, text)) => write!(f, "{} ({})", text, name),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl std::error::Error for Errno {}
