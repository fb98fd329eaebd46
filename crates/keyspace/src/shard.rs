//! A shard: a hash table of entries and the timing wheel for their TTLs, under one lock, so a
//! key and its timer always change together.
//!
//! Invariants, kept by every method here:
//! * an entry has a timer exactly when its `expire_at` is not [`NO_EXPIRE`];
//! * the timer's payload is the key's hash, and is due one millisecond after `expire_at`;
//! * `expires`, `deadline_sum` and `entry_bytes` describe exactly the entries in the table.

use crate::entry::{Entry, NO_EXPIRE, NO_TIMER};
use crate::hash_key;
use crate::stats::KeyspaceStats;
use hashbrown::HashTable;
use tumbler_expiry::{TimerId, Wheel};

/// Bytes a table slot costs (the entry pointer plus hashbrown's control byte).
pub const SLOT_BYTES: usize = std::mem::size_of::<Entry>() + 1;

/// Due timers [`Shard::reclaim`] takes from the wheel at a time, to fetch their keys' lines
/// together: enough to keep the memory system busy, few enough that the lines of a group are
/// still cached when the group is handled.
const RECLAIM_GROUP: usize = 8;

/// One shard of one database.
#[derive(Default)]
pub struct Shard {
    table: HashTable<Entry>,
    wheel: Option<Box<Wheel>>,
    entry_bytes: usize,
    expires: usize,
    /// Sum of the deadlines of keys with a TTL (for INFO keyspace's avg_ttl).
    deadline_sum: u128,
    /// Bumped whenever the table may rehash, which invalidates SCAN bucket positions.
    generation: u32,
    /// `lock-delay`: names of locks that expired recently, with the monotonic ms until which
    /// LOCK.ACQUIRE refuses them. Empty (and unallocated) unless `lock-delay` is set.
    lock_delays: LockDelays,
    /// The latest time any access or reclamation of this shard ran at: a new wheel starts
    /// there, so that no deadline inserted later is earlier than the wheel's clock (a wheel
    /// started at its first timer's deadline would hold back every earlier one until then).
    clock: u64,
    /// The phase of this shard's wheel ([`Wheel::with_phase`]): shards cascade their coarse
    /// slots at different milliseconds.
    phase: u64,
    /// Bumped whenever the wheel may have changed (a timer added, moved or removed, time
    /// advanced): a write that leaves it as it was cannot have moved [`Shard::next_due`].
    timer_changes: u32,
}

/// Names held back by `lock-delay`, with the monotonic ms they are free again.
type LockDelays = Option<Box<std::collections::HashMap<Box<[u8]>, u64>>>;

impl Shard {
    /// An empty shard whose wheel will have `phase`.
    pub(crate) fn with_phase(phase: u64) -> Self {
        Shard { phase, ..Shard::default() }
    }

    /// Number of entries, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the shard holds no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of entries with a TTL.
    pub fn expires(&self) -> usize {
        self.expires
    }

    /// Sum of deadlines of entries with a TTL.
    pub fn deadline_sum(&self) -> u128 {
        self.deadline_sum
    }

    /// Heap bytes used by entries, table slots and the wheel.
    pub fn memory(&self) -> usize {
        self.entry_bytes + self.table_bytes() + self.wheel_bytes()
    }

    /// Bytes of the hash table's slots (allocated capacity, used or not).
    pub fn table_bytes(&self) -> usize {
        self.table.capacity() * SLOT_BYTES
    }

    /// Heap bytes of the expiry wheel.
    pub fn wheel_bytes(&self) -> usize {
        self.wheel.as_ref().map_or(0, |w| w.heap_bytes())
    }

    /// Bytes used by the entries alone (keys and values).
    pub fn entry_bytes(&self) -> usize {
        self.entry_bytes
    }

    /// Notes that an operation runs at `now` (see `clock`).
    #[inline]
    pub(crate) fn observe(&mut self, now: u64) {
        if now > self.clock {
            self.clock = now;
        }
    }

    /// Changes when the wheel may have (see the field): equal before and after a write means
    /// that [`Shard::next_due`] is still what it was.
    #[inline]
    pub fn timer_changes(&self) -> u32 {
        self.timer_changes
    }

    /// The earliest time at which the wheel may have work, or `u64::MAX`.
    pub fn next_due(&self) -> u64 {
        self.wheel.as_ref().and_then(|w| w.next_due()).unwrap_or(u64::MAX)
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn table(&self) -> &HashTable<Entry> {
        &self.table
    }

    /// The entry for `key`, expired or not.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.find(hash, |e| e.key() == key)
    }

    /// The entry for `key` if it exists and has not expired at `now`.
    #[inline]
    pub fn find_live(&self, hash: u64, key: &[u8], now: u64) -> Option<&Entry> {
        self.find(hash, key).filter(|e| !e.is_expired(now))
    }

    #[inline]
    pub(crate) fn find_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.table.find_mut(hash, |e| e.key() == key)
    }

    /// Inserts an entry known to be absent, with deadline `expire_at` (or [`NO_EXPIRE`]).
    pub(crate) fn insert(&mut self, hash: u64, mut entry: Entry, expire_at: u64) {
        debug_assert!(self.find(hash, entry.key()).is_none());
        if expire_at != NO_EXPIRE {
            self.timer_changes = self.timer_changes.wrapping_add(1);
            let (start, phase) = (self.clock.min(expire_at), self.phase);
            let wheel = self.wheel.get_or_insert_with(|| Box::new(Wheel::with_phase(start, phase)));
            // The wheel fires at the first millisecond the key counts as expired.
            let id = wheel.insert(expire_at.saturating_add(1), hash);
            entry.set_expire_at(expire_at);
            entry.set_timer(id.0);
            self.expires += 1;
            self.deadline_sum += u128::from(expire_at);
        }
        self.entry_bytes += entry.heap_bytes();
        if self.table.len() == self.table.capacity() {
            self.generation = self.generation.wrapping_add(1);
        }
        self.table.insert_unique(hash, entry, |e| hash_key(e.key()));
    }

    /// Removes the entry for `key`, cancelling its timer.
    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let found = self.table.find_entry(hash, |e| e.key() == key).ok()?;
        let (mut entry, _) = found.remove();
        self.forget(&mut entry);
        Some(entry)
    }

    /// Replaces the entry of an existing key with `new` (same key). With `keep_ttl` the new
    /// entry takes over the deadline and timer; otherwise it has no TTL. Returns the old entry.
    pub(crate) fn replace(&mut self, hash: u64, mut new: Entry, keep_ttl: bool) -> Option<Entry> {
        let slot = self.table.find_mut(hash, |e| e.key() == new.key())?;
        let added = new.heap_bytes();
        let mut old = if keep_ttl {
            new.set_expire_at(slot.expire_at());
            new.set_timer(slot.timer());
            slot.set_expire_at(NO_EXPIRE);
            slot.set_timer(NO_TIMER);
            std::mem::replace(slot, new)
        } else {
            std::mem::replace(slot, new)
        };
        self.entry_bytes += added;
        self.forget(&mut old);
        Some(old)
    }

    /// Sets the deadline of an existing key, or removes it with [`NO_EXPIRE`]. Returns false if
    /// the key does not exist.
    pub(crate) fn set_expire(&mut self, hash: u64, key: &[u8], at: u64) -> bool {
        let Some(e) = self.table.find_mut(hash, |e| e.key() == key) else { return false };
        let old_at = e.expire_at();
        e.set_expire_at(at);
        if old_at != NO_EXPIRE || at != NO_EXPIRE {
            self.timer_changes = self.timer_changes.wrapping_add(1);
        }
        match (old_at != NO_EXPIRE, at != NO_EXPIRE) {
            (false, false) => {}
            (false, true) => {
                let (start, phase) = (self.clock.min(at), self.phase);
                let wheel = self.wheel.get_or_insert_with(|| Box::new(Wheel::with_phase(start, phase)));
                e.set_timer(wheel.insert(at.saturating_add(1), hash).0);
                self.expires += 1;
                self.deadline_sum += u128::from(at);
            }
            (true, true) => {
                self.deadline_sum = self.deadline_sum - u128::from(old_at) + u128::from(at);
                // A later deadline (a lock being extended, the common case) leaves the timer
                // where it is: it fires at the old deadline, finds the key alive and re-arms
                // (see `reclaim`). Moving it now would touch two neighbouring timers per
                // extension; this way a lock extended n times before its first deadline
                // costs one re-arm. An earlier deadline must move the timer (never late).
                if at < old_at {
                    if let Some(w) = self.wheel.as_mut() {
                        w.reset(TimerId(e.timer()), at.saturating_add(1));
                    }
                }
            }
            (true, false) => {
                if let Some(w) = self.wheel.as_mut() {
                    w.remove(TimerId(e.timer()));
                }
                e.set_timer(NO_TIMER);
                self.expires -= 1;
                self.deadline_sum -= u128::from(old_at);
            }
        }
        true
    }

    /// Adjusts the byte count after an entry's value grew or shrank in place.
    pub(crate) fn resized(&mut self, before: usize, after: usize) {
        self.entry_bytes = self.entry_bytes + after - before;
    }

    /// Updates the counters and the wheel for an entry that just left the table.
    fn forget(&mut self, entry: &mut Entry) {
        self.entry_bytes -= entry.heap_bytes();
        let at = entry.expire_at();
        if at == NO_EXPIRE {
            return;
        }
        self.timer_changes = self.timer_changes.wrapping_add(1);
        if let Some(w) = self.wheel.as_mut() {
            w.remove(TimerId(entry.timer()));
        }
        entry.set_timer(NO_TIMER);
        entry.set_expire_at(NO_EXPIRE);
        self.expires -= 1;
        self.deadline_sum -= u128::from(at);
    }

    /// Bookkeeping for a key that expired (found expired on access, or reclaimed): a lock that
    /// expires while held is a lost lock, and its name may be held back for `lock-delay`.
    fn note_expired(delays: &mut LockDelays, is_lock: bool, key: &[u8], expire_at: u64, stats: &KeyspaceStats) {
        if !is_lock {
            return;
        }
        stats.record_lock_expired();
        let delay = stats.lock_delay_ms();
        if delay > 0 {
            let until = expire_at.saturating_add(delay);
            delays.get_or_insert_with(Default::default).insert(key.into(), until);
        }
    }

    /// Removes `key`, found expired on access.
    pub(crate) fn remove_expired(&mut self, hash: u64, key: &[u8], stats: &KeyspaceStats) {
        if let Some(e) = self.find(hash, key) {
            let (is_lock, at) = (e.is_lock(), e.expire_at());
            self.remove(hash, key);
            stats.record_expired_on_access();
            Self::note_expired(&mut self.lock_delays, is_lock, key, at, stats);
        }
    }

    /// Milliseconds `lock-delay` still holds `key` back at `now`, if it does.
    pub(crate) fn lock_delay_left(&mut self, key: &[u8], now: u64) -> Option<u64> {
        let delays = self.lock_delays.as_mut()?;
        match delays.get(key) {
            Some(&until) if until > now => Some(until - now),
            Some(_) => {
                delays.remove(key);
                None
            }
            None => None,
        }
    }

    /// Forgets `lock-delay` entries that ran out.
    fn prune_lock_delays(&mut self, now: u64) {
        if let Some(d) = self.lock_delays.as_mut() {
            d.retain(|_, until| *until > now);
            if d.is_empty() {
                self.lock_delays = None;
            }
        }
    }

    /// Reclaims keys whose timers are due at `now`, handling at most `budget` timers. Returns
    /// how many keys were removed. The removed entries are moved to `gone`, so that the caller
    /// can report them (WATCH, notifications) and free them after releasing the shard's lock.
    pub(crate) fn reclaim(&mut self, now: u64, budget: usize, stats: &KeyspaceStats, gone: &mut Vec<Entry>) -> usize {
        self.observe(now);
        self.timer_changes = self.timer_changes.wrapping_add(1);
        let mut removed = 0;
        let mut left = budget;
        // Due keys are taken a group at a time, and the lines of the whole group are asked for
        // before any is read, so that their cache misses overlap rather than follow each other.
        let mut due = [(TimerId(0), 0u64); RECLAIM_GROUP];
        // Where the table is, found when a group first needs it (a key due alone has nothing to
        // overlap): removing entries never moves the table, so it holds for the whole pass.
        let mut at = None;
        while left > 0 {
            let Some(wheel) = self.wheel.as_deref_mut() else { break };
            let mut n = 0;
            while n < RECLAIM_GROUP.min(left) {
                let Some(d) = wheel.pop_due(now) else { break };
                due[n] = d;
                n += 1;
            }
            if n == 0 {
                break;
            }
            left -= n;
            if n > 1 {
                if let Some(at) = *at.get_or_insert_with(|| self.table_location()) {
                    self.prefetch_group(at, due[..n].iter().map(|&(_, hash)| hash));
                }
            }
            for &(id, hash) in &due[..n] {
                removed += self.reclaim_one(now, id, hash, stats, gone);
            }
        }
        if removed > 0 && self.table.capacity() > 64 && self.table.len() < self.table.capacity() / 8 {
            // Give memory back after mass expiry, as Redis' dict does when it shrinks.
            self.generation = self.generation.wrapping_add(1);
            let len = self.table.len();
            self.table.shrink_to(len * 2, |e| hash_key(e.key()));
        }
        if self.wheel.as_ref().is_some_and(|w| w.is_empty()) {
            self.wheel = None;
        }
        self.prune_lock_delays(now);
        removed
    }

    /// Handles one timer popped from the wheel by [`Self::reclaim`]: removes its key if it has
    /// expired (into `gone`), re-arms it if not, drops it if its key is gone. Returns the
    /// number of keys removed (0 or 1).
    fn reclaim_one(&mut self, now: u64, id: TimerId, hash: u64, stats: &KeyspaceStats, gone: &mut Vec<Entry>) -> usize {
        let Some(wheel) = self.wheel.as_deref_mut() else { return 0 };
        match self.table.find_entry(hash, |e| e.timer() == id.0 && e.expire_at() != NO_EXPIRE) {
            Ok(occ) if occ.get().is_expired(now) => {
                let (entry, _) = occ.remove();
                let at = entry.expire_at();
                stats.record_expired(now.saturating_sub(at));
                Self::note_expired(&mut self.lock_delays, entry.is_lock(), entry.key(), at, stats);
                wheel.remove(id);
                self.entry_bytes -= entry.heap_bytes();
                self.expires -= 1;
                self.deadline_sum -= u128::from(at);
                gone.push(entry);
                1
            }
            // Not expired after all (a deadline beyond the wheel's reach): re-arm.
            Ok(occ) => {
                wheel.reset(id, occ.get().expire_at().saturating_add(1));
                0
            }
            Err(_) => {
                wheel.remove(id);
                0
            }
        }
    }

    /// Removes every entry and returns the old contents (to be dropped where convenient).
    pub(crate) fn take(&mut self) -> Shard {
        let fresh = Shard {
            generation: self.generation.wrapping_add(1),
            clock: self.clock,
            phase: self.phase,
            timer_changes: self.timer_changes.wrapping_add(1),
            ..Shard::default()
        };
        std::mem::replace(self, fresh)
    }

    /// Swaps contents with another shard (SWAPDB), keeping SCAN cursors honest on both sides.
    pub(crate) fn swap_with(&mut self, other: &mut Shard) {
        std::mem::swap(self, other);
        let g = self.generation.max(other.generation).wrapping_add(1);
        self.generation = g;
        other.generation = g;
    }

    /// Iterates over all entries (expired ones included).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::NewValue;

    fn put(s: &mut Shard, k: &[u8], at: u64) {
        s.insert(hash_key(k), Entry::new(k, NewValue::Str(b"v"), 0), at);
    }

    #[test]
    fn counters_follow_entries() {
        let mut s = Shard::default();
        put(&mut s, b"a", NO_EXPIRE);
        put(&mut s, b"b", 100);
        assert_eq!((s.len(), s.expires(), s.deadline_sum()), (2, 1, 100));
        assert!(s.set_expire(hash_key(b"a"), b"a", 50));
        assert_eq!((s.expires(), s.deadline_sum()), (2, 150));
        assert!(s.set_expire(hash_key(b"b"), b"b", NO_EXPIRE));
        assert_eq!((s.expires(), s.deadline_sum()), (1, 50));
        let old = s.replace(hash_key(b"a"), Entry::new(b"a", NewValue::Str(b"w"), 0), true).expect("old");
        assert_eq!(old.expire_at(), NO_EXPIRE);
        assert_eq!(s.find(hash_key(b"a"), b"a").map(Entry::expire_at), Some(50));
        s.replace(hash_key(b"a"), Entry::new(b"a", NewValue::Str(b"x"), 0), false);
        assert_eq!((s.expires(), s.deadline_sum()), (0, 0));
        s.remove(hash_key(b"a"), b"a");
        s.remove(hash_key(b"b"), b"b");
        assert_eq!((s.len(), s.entry_bytes()), (0, 0));
    }

    #[test]
    fn reclaim_removes_only_expired_keys_after_their_deadline() {
        let stats = KeyspaceStats::default();
        let mut s = Shard::default();
        for i in 0..100u64 {
            put(&mut s, format!("k{i}").as_bytes(), 1000 + i);
        }
        assert_eq!(s.reclaim(1000, usize::MAX, &stats, &mut Vec::new()), 0, "alive at exactly the deadline");
        assert_eq!(s.reclaim(1001, usize::MAX, &stats, &mut Vec::new()), 1);
        assert_eq!(s.reclaim(1050, 10, &stats, &mut Vec::new()), 10, "budget respected");
        assert_eq!(s.reclaim(1050, usize::MAX, &stats, &mut Vec::new()), 39);
        assert_eq!(s.len(), 50);
        assert_eq!(s.reclaim(5000, usize::MAX, &stats, &mut Vec::new()), 50);
        assert_eq!((s.len(), s.expires(), s.entry_bytes()), (0, 0, 0));
        assert!(s.wheel.is_none());
    }

    #[test]
    fn a_shorter_deadline_inserted_after_a_longer_one_is_reclaimed_on_time() {
        // The wheel used to start at its first timer's deadline, holding back every earlier
        // one until then: a 100 ms lock behind a 60 s one was reclaimed a minute late.
        let stats = KeyspaceStats::default();
        let mut s = Shard::default();
        s.observe(1_000);
        put(&mut s, b"long", 61_000);
        put(&mut s, b"short", 1_100);
        assert!(s.next_due() <= 1_101, "the wheel wakes by the short deadline");
        assert_eq!(s.reclaim(1_100, usize::MAX, &stats, &mut Vec::new()), 0);
        assert_eq!(s.reclaim(1_101, usize::MAX, &stats, &mut Vec::new()), 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn moved_deadline_is_rearmed_not_reclaimed() {
        let stats = KeyspaceStats::default();
        let mut s = Shard::default();
        put(&mut s, b"k", 100);
        s.set_expire(hash_key(b"k"), b"k", 500);
        assert_eq!(s.reclaim(200, usize::MAX, &stats, &mut Vec::new()), 0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.reclaim(501, usize::MAX, &stats, &mut Vec::new()), 1);
    }

    /// Timers are handled a group at a time: re-armed and expired keys mixed in one group, and
    /// budgets that end inside a group, still give every key in deadline order, each once, and
    /// never more timers a call than the budget.
    #[test]
    fn grouped_reclaim_keeps_deadline_order_and_budget() {
        let stats = KeyspaceStats::default();
        let mut s = Shard::default();
        let n = 5 * RECLAIM_GROUP as u64 + 3;
        for i in 0..n {
            put(&mut s, format!("k{i}").as_bytes(), 1_000 + i);
        }
        // Every third key's deadline moves later: its timer stays, fires, and is re-armed.
        let moved = |i: u64| i % 3 == 1;
        for i in (0..n).filter(|&i| moved(i)) {
            let k = format!("k{i}");
            assert!(s.set_expire(hash_key(k.as_bytes()), k.as_bytes(), 10_000 + i));
        }
        let mut gone = Vec::new();
        // Each call handles exactly `budget` timers, in deadline order, and removes the keys
        // among them that did not move.
        let mut next = 0u64;
        for budget in [5, 1, RECLAIM_GROUP + 1, 3, 2 * RECLAIM_GROUP, usize::MAX] {
            let handled = next..next.saturating_add(budget as u64).min(n);
            let expected = handled.clone().filter(|&i| !moved(i)).count();
            assert_eq!(s.reclaim(2_000, budget, &stats, &mut gone), expected, "budget {budget}");
            next = handled.end;
        }
        let keys =
            |from: &[Entry]| from.iter().map(|e| String::from_utf8_lossy(e.key()).into_owned()).collect::<Vec<_>>();
        let expected: Vec<String> = (0..n).filter(|&i| !moved(i)).map(|i| format!("k{i}")).collect();
        assert_eq!(keys(&gone), expected);
        assert_eq!(s.len() as u64, (0..n).filter(|&i| moved(i)).count() as u64);
        // The re-armed timers fire at the new deadlines.
        let mut later = Vec::new();
        assert_eq!(s.reclaim(10_000, usize::MAX, &stats, &mut later), 0);
        while s.reclaim(20_000, 2, &stats, &mut later) > 0 {}
        let expected: Vec<String> = (0..n).filter(|&i| moved(i)).map(|i| format!("k{i}")).collect();
        assert_eq!(keys(&later), expected);
        assert!(s.wheel.is_none());
    }
}
