//! WATCH: which transactions watch which keys, so that writes, expirations and flushes mark
//! them dirty, with Redis 7.0's rules (including its treatment of keys that were already
//! logically expired when they were watched).
//!
//! Writers pay one relaxed load of [`Watches::active`] when nobody watches anything; the map
//! behind its mutex is only consulted while some client has a WATCH in force.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// A transaction's flag: set when a key it watches changes. Shared between the client and the
/// registry; compared by address.
#[derive(Default, Debug)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    /// True when a watched key changed since it was watched.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Relaxed)
    }

    /// Forgets a previous change (UNWATCH, EXEC, DISCARD).
    pub fn clear(&self) {
        self.dirty.store(false, Relaxed);
    }

    fn mark(&self) {
        self.dirty.store(true, Relaxed);
    }
}

struct Watcher {
    flag: Arc<WatchFlag>,
    /// The key existed but had logically expired when watched: its deletion is no change.
    expired: bool,
}

/// A watched key: (database, key).
type WatchedKey = (usize, Vec<u8>);

/// The watched keys of every client, by (database, key).
#[derive(Default)]
pub struct Watches {
    /// Number of (client, key) watches in force.
    active: AtomicUsize,
    map: Mutex<HashMap<WatchedKey, Vec<Watcher>>>,
}

impl Watches {
    /// True while any client watches any key.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Relaxed) != 0
    }

    /// Registers `flag` as watching `key` of `db`; `expired`: the key exists but its deadline
    /// has passed. Watching a key twice is a no-op.
    pub(crate) fn add(&self, db: usize, key: &[u8], expired: bool, flag: &Arc<WatchFlag>) -> bool {
        let mut map = self.map.lock();
        let list = map.entry((db, key.to_vec())).or_default();
        if list.iter().any(|w| Arc::ptr_eq(&w.flag, flag)) {
            return false;
        }
        list.push(Watcher { flag: flag.clone(), expired });
        self.active.fetch_add(1, Relaxed);
        true
    }

    /// Stops `flag` watching each of `keys`.
    pub fn remove(&self, keys: &[WatchedKey], flag: &Arc<WatchFlag>) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for k in keys {
            let Some(list) = map.get_mut(k) else { continue };
            let before = list.len();
            list.retain(|w| !Arc::ptr_eq(&w.flag, flag));
            self.active.fetch_sub(before - list.len(), Relaxed);
            if list.is_empty() {
                map.remove(k);
            }
        }
    }

    /// A key was modified (`by_expiry`: deleted because it expired).
    #[inline]
    pub(crate) fn touch(&self, db: usize, key: &[u8], by_expiry: bool) {
        if self.active() {
            self.touch_slow(db, key, by_expiry);
        }
    }

    #[cold]
    fn touch_slow(&self, db: usize, key: &[u8], by_expiry: bool) {
        let mut map = self.map.lock();
        let Some(list) = map.get_mut(&(db, key.to_vec())) else { return };
        for w in list.iter_mut() {
            if w.expired && by_expiry {
                // Already expired when watched and now deleted: logically no change.
                w.expired = false;
            } else {
                w.flag.mark();
            }
        }
    }

    /// FLUSHDB / FLUSHALL / SWAPDB emptied `db`, replacing its contents with another
    /// database's (SWAPDB) or with nothing. `state(db, key)` says whether a key exists in a
    /// database and whether it is logically expired, looked at before the change.
    pub(crate) fn touch_db(&self, db: usize, replaced_with: Option<usize>, state: impl Fn(usize, &[u8]) -> KeyState) {
        if !self.active() {
            return;
        }
        let mut map = self.map.lock();
        for ((d, key), list) in map.iter_mut() {
            if *d != db {
                continue;
            }
            let emptied = state(db, key);
            let incoming = replaced_with.map_or(KeyState::Missing, |r| state(r, key));
            if emptied == KeyState::Missing && incoming == KeyState::Missing {
                continue;
            }
            for w in list.iter_mut() {
                if w.expired {
                    if incoming == KeyState::Missing {
                        // The expired key is gone: no logical change.
                        w.expired = false;
                        continue;
                    }
                    if incoming == KeyState::Expired {
                        continue;
                    }
                } else if emptied == KeyState::Missing && incoming == KeyState::Expired {
                    // A missing key replaced by an expired one: still logically missing.
                    w.expired = true;
                    continue;
                }
                w.flag.mark();
            }
        }
    }
}

/// Listener for key events the keyspace itself causes: expirations (found on access or
/// reclaimed by the wheel) and key creation, for keyspace notifications. Called with the
/// shard lock held (except [`KeyEvents::expired_many`]): it must not touch the keyspace.
pub trait KeyEvents: Send + Sync {
    /// `key` of database `db` expired and was removed (found expired by a command).
    fn expired(&self, db: usize, key: &[u8]);
    /// `keys` of database `db` expired and were removed by the timing wheel in one pass
    /// (in deadline order within each shard). Called with no lock held, so a listener may
    /// batch its work.
    fn expired_many(&self, db: usize, keys: &mut dyn Iterator<Item = &[u8]>) {
        keys.for_each(|k| self.expired(db, k));
    }
    /// `key` of database `db` was created.
    fn created(&self, db: usize, key: &[u8]);
    /// A read found no `key` in database `db`.
    fn missed(&self, db: usize, key: &[u8]);
}

/// The installed [`KeyEvents`] listener and which events it wants.
#[derive(Default)]
pub struct EventHook {
    listener: std::sync::OnceLock<Box<dyn KeyEvents>>,
    want_expired: AtomicBool,
    want_created: AtomicBool,
    want_missed: AtomicBool,
}

impl EventHook {
    /// Installs the listener (once).
    pub fn install(&self, l: Box<dyn KeyEvents>) {
        let _ = self.listener.set(l);
    }

    /// Which events to report (from `notify-keyspace-events`).
    pub fn want(&self, expired: bool, created: bool, missed: bool) {
        self.want_expired.store(expired, Relaxed);
        self.want_created.store(created, Relaxed);
        self.want_missed.store(missed, Relaxed);
    }

    /// True when expirations are reported.
    #[inline]
    pub fn wants_expired(&self) -> bool {
        self.want_expired.load(Relaxed)
    }

    #[inline]
    pub(crate) fn expired(&self, db: usize, key: &[u8]) {
        if self.wants_expired() {
            if let Some(l) = self.listener.get() {
                l.expired(db, key);
            }
        }
    }

    pub(crate) fn expired_many(&self, db: usize, keys: &mut dyn Iterator<Item = &[u8]>) {
        if self.wants_expired() {
            if let Some(l) = self.listener.get() {
                l.expired_many(db, keys);
            }
        }
    }

    #[inline]
    pub(crate) fn missed(&self, db: usize, key: &[u8]) {
        if self.want_missed.load(Relaxed) {
            if let Some(l) = self.listener.get() {
                l.missed(db, key);
            }
        }
    }

    #[inline]
    pub(crate) fn created(&self, db: usize, key: &[u8]) {
        if self.want_created.load(Relaxed) {
            if let Some(l) = self.listener.get() {
                l.created(db, key);
            }
        }
    }
}

/// What a database holds under a key, for [`Watches::touch_db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// No entry.
    Missing,
    /// An entry whose deadline has passed (not yet reclaimed).
    Expired,
    /// A live entry.
    Live,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_marks_watchers_of_that_key_only() {
        let w = Watches::default();
        let (a, b) = (Arc::new(WatchFlag::default()), Arc::new(WatchFlag::default()));
        assert!(w.add(0, b"k", false, &a));
        assert!(!w.add(0, b"k", false, &a), "watching twice is a no-op");
        w.add(1, b"k", false, &b);
        w.touch(0, b"other", false);
        assert!(!a.is_dirty() && !b.is_dirty());
        w.touch(0, b"k", false);
        assert!(a.is_dirty() && !b.is_dirty());
        w.remove(&[(0, b"k".to_vec())], &a);
        w.remove(&[(1, b"k".to_vec())], &b);
        assert!(!w.active());
    }

    #[test]
    fn expiry_of_a_key_expired_when_watched_is_no_change() {
        let w = Watches::default();
        let f = Arc::new(WatchFlag::default());
        w.add(0, b"k", true, &f);
        w.touch(0, b"k", true);
        assert!(!f.is_dirty());
        // Once deleted it is an ordinary missing key: creating it is a change.
        w.touch(0, b"k", false);
        assert!(f.is_dirty());
    }

    #[test]
    fn flush_marks_only_keys_that_existed() {
        let w = Watches::default();
        let (live, missing) = (Arc::new(WatchFlag::default()), Arc::new(WatchFlag::default()));
        w.add(0, b"live", false, &live);
        w.add(0, b"missing", false, &missing);
        w.touch_db(0, None, |_, k| if k == b"live" { KeyState::Live } else { KeyState::Missing });
        assert!(live.is_dirty());
        assert!(!missing.is_dirty());
    }
}
