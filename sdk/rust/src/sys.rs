//! The raw host calls of the `embly` import module, and safe wrappers that
//! turn their errno results into `Result`s.
//!
//! On wasm32 the calls are the host's imports, exactly as docs/abi.md states
//! them. Elsewhere (`cargo test`, `cargo check` on the host) they are a fake
//! host that lives in a thread-local, so the rest of the crate is tested
//! through the same code paths a guest runs.

use crate::errno::Errno;

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "embly")]
    extern "C" {
        pub fn _read(id: i32, buf: *mut u8, len: u32, nread: *mut u32) -> i32;
        pub fn _write(id: i32, buf: *const u8, len: u32, nwritten: *mut u32) -> i32;
        pub fn _spawn(name: *const u8, name_len: u32, id: *mut i32) -> i32;
        pub fn _events(timeout_ns: i64, ids: *mut i32, ids_cap: u32, n: *mut u32) -> i32;
        pub fn _close(id: i32) -> i32;
    }
}

#[cfg(not(target_arch = "wasm32"))]
use crate::fake as imports;

/// Lengths are u32 in the ABI; a longer buffer is used in part.
fn clamp(len: usize) -> u32 {
    if len > u32::MAX as usize {
        u32::MAX
    } else {
        len as u32
    }
}

fn check(errno: i32) -> Result<(), Errno> {
    if errno == 0 {
        Ok(())
    } else {
        Err(Errno(errno))
    }
}

/// `_read`: Ok(0) is EOF; Err(EAGAIN) means nothing yet.
pub(crate) fn read(id: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n: u32 = 0;
    check(unsafe { imports::_read(id, buf.as_mut_ptr(), clamp(buf.len()), &mut n) })?;
    Ok(n as usize)
}

/// `_write`: how much of buf the conn's window took; Err(EAGAIN) when none.
pub(crate) fn write(id: i32, buf: &[u8]) -> Result<usize, Errno> {
    let mut n: u32 = 0;
    check(unsafe { imports::_write(id, buf.as_ptr(), clamp(buf.len()), &mut n) })?;
    Ok(n as usize)
}

/// `_spawn`: the new conn's id.
pub(crate) fn spawn(target: &str) -> Result<i32, Errno> {
    let mut id: i32 = 0;
    check(unsafe { imports::_spawn(target.as_ptr(), clamp(target.len()), &mut id) })?;
    Ok(id)
}

/// `_events`: fills ids with conns that have news and returns how many.
/// timeout_ns 0 polls, < 0 waits forever.
pub(crate) fn events(timeout_ns: i64, ids: &mut [i32]) -> Result<usize, Errno> {
    let mut n: u32 = 0;
    check(unsafe { imports::_events(timeout_ns, ids.as_mut_ptr(), clamp(ids.len()), &mut n) })?;
    Ok((n as usize).min(ids.len()))
}

/// `_close`: closes our write side.
pub(crate) fn close(id: i32) -> Result<(), Errno> {
    check(unsafe { imports::_close(id) })
}
