//! The gate: what makes scripts, transactions and whole-keyspace commands atomic.
//!
//! Ordinary commands run concurrently under shard locks. A few things must see and change the
//! keyspace with nobody else in it: a Lua script, EXEC, FLUSHALL, SWAPDB. The gate is a reader-
//! writer lock split into one slot per participant (worker thread, expiry thread): a participant
//! enters in shared mode through its own slot, which no other thread touches, so the common path
//! costs one uncontended lock; exclusive mode takes every slot in order. While someone holds the
//! gate exclusively, nobody else runs a command or reclaims an expired key.

use parking_lot::lock_api::{ArcRwLockReadGuard, RawRwLock as _};
use parking_lot::{RawRwLock, RwLock};
use std::sync::Arc;

#[repr(align(128))]
struct Slot(Arc<RwLock<()>>);

/// A reader-writer gate with one reader slot per participant.
pub struct Gate {
    slots: Arc<[Slot]>,
}

/// Shared passage through one slot. It owns a reference to its slot, so a connection can keep
/// it across the handlers of a batch without tying lifetimes together.
pub type Shared = ArcRwLockReadGuard<RawRwLock, ()>;

/// Exclusive passage: every slot, held in order (released in reverse on drop). It holds the
/// raw locks rather than a vector of guards: a script takes the gate on every call, and the
/// vector was an allocation each time. It shares the slots rather than borrowing the gate, so
/// that a batch can keep it. Not `Send`, as the guards were not: the locks are released on the
/// thread that took them.
pub struct Exclusive {
    slots: Arc<[Slot]>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        for s in self.slots.iter().rev() {
            // SAFETY: `Gate::exclusive` locked every slot exclusively for this value, and
            // nothing else unlocks them.
            unsafe { s.0.raw().unlock_exclusive() }
        }
    }
}

impl Gate {
    /// A gate for `participants` slots.
    pub fn new(participants: usize) -> Self {
        Gate { slots: (0..participants.max(1)).map(|_| Slot(Arc::new(RwLock::new(())))).collect() }
    }

    /// Number of slots.
    pub fn participants(&self) -> usize {
        self.slots.len()
    }

    /// Enters in shared mode through `slot` (taken modulo the slot count).
    #[inline]
    pub fn shared(&self, slot: usize) -> Shared {
        self.slots[slot % self.slots.len()].0.read_arc()
    }

    /// Enters in shared mode, waiting at most `timeout`: `None` if the gate stayed taken (a
    /// long script holds it, and the caller has something better to do than wait).
    #[inline]
    pub fn try_shared_for(&self, slot: usize, timeout: std::time::Duration) -> Option<Shared> {
        let lock = &self.slots[slot % self.slots.len()].0;
        match lock.try_read_arc() {
            Some(g) => Some(g),
            None if timeout.is_zero() => None,
            None => lock.try_read_arc_for(timeout),
        }
    }

    /// Lets whoever waits to enter exclusively go first, then enters again through `slot`,
    /// waiting at most `timeout`. `passage` is `slot`'s shared passage; it is `None` afterwards,
    /// and the result false, if the gate stayed taken. With nobody waiting this is an unlock
    /// and a lock of a slot nobody else touches.
    pub fn yield_shared(&self, passage: &mut Option<Shared>, slot: usize, timeout: std::time::Duration) -> bool {
        if let Some(g) = passage.take() {
            // A fair unlock hands the slot straight to a parked exclusive entrant, so it cannot
            // be taken again here before that entrant has had its turn.
            ArcRwLockReadGuard::unlock_fair(g);
            *passage = self.try_shared_for(slot, timeout);
        }
        passage.is_some()
    }

    /// Enters exclusively. The caller must not hold a shared guard of its own.
    pub fn exclusive(&self) -> Exclusive {
        self.exclusive_noting_wait().0
    }

    /// Enters exclusively, and says whether that meant waiting for someone (the caller's idea
    /// of the time may then be stale).
    pub fn exclusive_noting_wait(&self) -> (Exclusive, bool) {
        let mut waited = false;
        for s in self.slots.iter() {
            // SAFETY: the raw lock is only locked here; the returned value unlocks it on drop,
            // exactly once, as a write guard would.
            let raw = unsafe { s.0.raw() };
            if !raw.try_lock_exclusive() {
                raw.lock_exclusive();
                waited = true;
            }
        }
        (Exclusive { slots: Arc::clone(&self.slots), _not_send: std::marker::PhantomData }, waited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn exclusive_excludes_all_shared() {
        let gate = Arc::new(Gate::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let violations = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let (gate, inside, violations) = (gate.clone(), inside.clone(), violations.clone());
                std::thread::spawn(move || {
                    for n in 0..2000 {
                        if n % 50 == i {
                            let _x = gate.exclusive();
                            if inside.swap(usize::MAX, Ordering::SeqCst) != 0 {
                                violations.fetch_add(1, Ordering::SeqCst);
                            }
                            inside.store(0, Ordering::SeqCst);
                        } else {
                            let _s = gate.shared(i);
                            if inside.fetch_add(1, Ordering::SeqCst) == usize::MAX {
                                violations.fetch_add(1, Ordering::SeqCst);
                            }
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(violations.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn yielding_lets_a_waiting_exclusive_entrant_in_first() {
        let gate = Arc::new(Gate::new(2));
        let mut passage = Some(gate.shared(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let entrant = {
            let (gate, inside) = (gate.clone(), inside.clone());
            std::thread::spawn(move || {
                let _x = gate.exclusive();
                inside.store(1, Ordering::SeqCst);
            })
        };
        // The entrant has the first slot and waits for the second, which is held shared.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !gate.slots[1].0.is_locked_exclusive() {
            assert!(std::time::Instant::now() < deadline, "the entrant never came");
            std::thread::yield_now();
        }
        assert_eq!(inside.load(Ordering::SeqCst), 0);
        // One yield: the entrant goes in and out before the shared passage is back.
        assert!(gate.yield_shared(&mut passage, 1, std::time::Duration::from_secs(10)), "entered again");
        assert_eq!(inside.load(Ordering::SeqCst), 1, "the entrant went first");
        entrant.join().expect("entrant");
        // With nobody waiting it is the same passage again, at once.
        assert!(gate.yield_shared(&mut passage, 1, std::time::Duration::ZERO));
        // An entrant that stays longer than the yielder waits: no passage back, and the slot
        // is not held (the entrant got it).
        let (leave, told) = std::sync::mpsc::channel::<()>();
        let entrant = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                let _x = gate.exclusive();
                let _ = told.recv();
            })
        };
        while !gate.slots[1].0.is_locked_exclusive() {
            assert!(std::time::Instant::now() < deadline, "the entrant never came");
            std::thread::yield_now();
        }
        assert!(!gate.yield_shared(&mut passage, 1, std::time::Duration::from_millis(5)));
        assert!(passage.is_none());
        leave.send(()).expect("entrant waiting");
        entrant.join().expect("entrant");
        assert!(gate.try_shared_for(1, std::time::Duration::ZERO).is_some(), "nothing left held");
    }
}
