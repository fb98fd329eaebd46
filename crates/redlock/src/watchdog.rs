//! The auto-extension watchdog: a task that extends a held lock every `ttl × extend_fraction`
//! and declares it lost as soon as it can no longer be held with a majority.
//!
//! Lost means one of: a majority answered that it no longer holds our token (the key was
//! deleted or taken over), or the lock's validity ran out before an extension reached a
//! majority (nodes unreachable). A failed extension that is neither is retried, more often
//! than the normal period, until one of those happens.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, Lock, Redlock};

/// A lock kept alive by a watchdog. Await [`Guard::lost`] or poll [`Guard::is_lost`] to learn
/// that it is gone; [`Guard::release`] stops the watchdog and releases the lock. Dropping the
/// guard stops the watchdog and releases the lock in the background (when inside a tokio
/// runtime).
#[derive(Debug)]
pub struct Guard {
    client: Redlock,
    shared: Arc<Mutex<Lock>>,
    lost: watch::Receiver<bool>,
    task: Option<JoinHandle<()>>,
}

/// Locks the shared lock, ignoring poisoning (the data is a plain value, always consistent).
fn get(shared: &Mutex<Lock>) -> MutexGuard<'_, Lock> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Guard {
    pub(crate) fn start(client: Redlock, lock: Lock) -> Guard {
        let (tx, rx) = watch::channel(false);
        let shared = Arc::new(Mutex::new(lock));
        let task = tokio::spawn(run(client.clone(), Arc::clone(&shared), tx));
        Guard { client, shared, lost: rx, task: Some(task) }
    }

    /// A snapshot of the lock, with its validity as of the last extension.
    pub fn lock(&self) -> Lock {
        get(&self.shared).clone()
    }

    /// The lock's fencing token, for fenced locks.
    pub fn fencing_token(&self) -> Option<u64> {
        get(&self.shared).fencing_token()
    }

    /// True once the lock is lost (or its validity has run out, even if the watchdog has not
    /// run since).
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow() || get(&self.shared).is_expired()
    }

    /// Completes when the lock is lost. Never completes while the watchdog keeps it.
    pub async fn lost(&self) {
        let mut rx = self.lost.clone();
        // An error means the watchdog ended without saying so (it panicked): lost as well.
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// Stops the watchdog and releases the lock; see [`Redlock::release`].
    pub async fn release(mut self) -> Result<usize, Error> {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let lock = self.lock();
        self.client.release(&lock).await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (client, lock) = (self.client.clone(), self.lock());
                rt.spawn(async move {
                    let _ = client.release(&lock).await;
                });
            }
        }
    }
}

async fn run(client: Redlock, shared: Arc<Mutex<Lock>>, lost: watch::Sender<bool>) {
    let ttl = get(&shared).ttl();
    if ttl.is_zero() {
        // A lock from `Lock::from_parts`: no TTL to keep it at.
        let _ = lost.send(true);
        return;
    }
    let period = ttl.mul_f64(client.options().extend_fraction).max(Duration::from_millis(1));
    // After a failed extension, try again this much sooner.
    let retry = (period / 4).max(Duration::from_millis(5));
    let mut next = Instant::now() + period;
    loop {
        let mut lock = get(&shared).clone();
        let wake = lock.valid_until().map_or(next, |v| v.min(next));
        tokio::time::sleep_until(wake.into()).await;
        if lock.is_expired() {
            let _ = lost.send(true);
            return;
        }
        match client.extend(&mut lock, ttl).await {
            Ok(()) => {
                *get(&shared) = lock;
                next = Instant::now() + period;
            }
            Err(Error::NotHeld) => {
                let _ = lost.send(true);
                return;
            }
            Err(_) => next = Instant::now() + retry,
        }
    }
}
