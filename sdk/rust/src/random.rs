//! Random bytes from the host, for salts, tokens and ids.
//!
//! The crate reads them itself because the usual crates cannot: Debian
//! packages `getrandom` without its `wasi` dependency, so neither it nor
//! `rand` builds for wasm32-wasi offline. Embly provides WASI's
//! `random_get` (docs/abi.md, "WASI subset"), which is all it takes.

use crate::error::Error;

/// fill_random fills buf with cryptographically secure random bytes from
/// the host. Outside wasm32 (a function's unit tests on the development
/// machine) it reads `/dev/urandom`.
///
/// ```
/// let mut salt = [0u8; 16];
/// embly::fill_random(&mut salt)?;
/// # Ok::<(), embly::Error>(())
/// ```
pub fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    imp::fill(buf)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::errno::Errno;
    use crate::error::Error;

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        // The same signature as the standard library's own import of it,
        // (i32, i32) -> i32, so the two imports link as one.
        fn random_get(buf: *mut u8, len: usize) -> i32;
    }

    pub(super) fn fill(buf: &mut [u8]) -> Result<(), Error> {
        match unsafe { random_get(buf.as_mut_ptr(), buf.len()) } {
            0 => Ok(()),
            errno => Err(Error::host("random_get", Errno(errno))),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::error::Error;
    use std::io::Read;

    pub(super) fn fill(buf: &mut [u8]) -> Result<(), Error> {
        std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_with_different_bytes() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill_random(&mut a).unwrap();
        fill_random(&mut b).unwrap();
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
        fill_random(&mut []).unwrap();
    }
}
