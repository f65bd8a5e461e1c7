use crate::host;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Woken records that a future asked to be polled again.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// block_on runs a future to completion on this instance's only thread.
///
/// Whenever the future is pending and has not woken itself, the instance
/// sleeps in the host's `_events` until some conn has news, then polls the
/// future again. So any future that waits on conns (a [`Conn`](crate::Conn)
/// is one) makes progress without a waker of its own, and the instance uses
/// no CPU while it waits.
///
/// ```no_run
/// let answer = embly::block_on(async {
///     let mut back = embly::spawn_and_send("back", b"hi")?;
///     (&mut back).await?;
///     back.read_string()
/// });
/// # let _ = answer;
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = Box::pin(fut);
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        if woken.0.swap(false, Ordering::SeqCst) {
            continue;
        }
        if let Err(errno) = host::wait_any() {
            // _events only fails on a bad pointer, which would be a bug here.
            panic!("embly: waiting for events: {}", errno);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;

    /// Yields once, waking itself.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = u8;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
            if self.0 {
                return Poll::Ready(7);
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_self_waking_future_does_not_wait_in_the_host() {
        crate::fake::reset();
        // With no conns, _events would panic: the executor must not call it.
        assert_eq!(block_on(async { YieldOnce(false).await + 1 }), 8);
    }
}
