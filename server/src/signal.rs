//! A connection's wake-up from other threads: CLIENT KILL, pub/sub messages and keyspace
//! events for it, a blocked command served, shutdown.
//!
//! It replaces `tokio::sync::Notify`, whose waiter list cost a lock to join and another to
//! leave on every read a connection waited for (a fifth of a request's instructions at
//! `-P 1`). Here a wait stores the task's waker (only when it changed) and leaving costs
//! nothing: a raise that finds an old waker wakes the task once for nothing, which polls and
//! goes back to sleep.

use parking_lot::Mutex;
use std::future::poll_fn;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::task::{Poll, Waker};

/// A flag raised by anyone and waited for by one task. A raise with nobody waiting is kept
/// for the next wait; several raises before a wait count as one (as `Notify::notify_one`).
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    /// Raises the flag and wakes the waiting task, if any.
    pub(crate) fn raise(&self) {
        self.raised.store(true, Release);
        let waker = self.waker.lock().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Completes once the flag is raised (at once if it already is), lowering it.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            if self.lower() {
                return Poll::Ready(());
            }
            {
                let mut slot = self.waker.lock();
                if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *slot = Some(cx.waker().clone());
                }
            }
            // A raise between the first look and storing the waker may have found no waker.
            if self.lower() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// The flag is up (a hint: it may be lowered at any time).
    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Acquire)
    }

    fn lower(&self) -> bool {
        self.raised.load(Acquire) && self.raised.swap(false, AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn a_raise_before_the_wait_is_kept_and_counts_once() {
        rt().block_on(async {
            let s = Signal::default();
            s.raise();
            s.raise();
            tokio::time::timeout(Duration::from_secs(5), s.wait()).await.expect("the kept raise");
            let second = tokio::time::timeout(Duration::from_millis(20), s.wait()).await;
            assert!(second.is_err(), "two raises before a wait are one");
        });
    }

    #[test]
    fn raises_from_another_thread_wake_the_waiter_every_time() {
        rt().block_on(async {
            let s = Arc::new(Signal::default());
            for _ in 0..1000 {
                let other = s.clone();
                let t = std::thread::spawn(move || other.raise());
                tokio::time::timeout(Duration::from_secs(5), s.wait()).await.expect("woken");
                t.join().unwrap();
            }
        });
    }
}
