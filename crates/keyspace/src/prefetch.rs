//! Prefetching the keys of a pipelined batch.
//!
//! A lookup of a random key among many misses the cache three times in a row: the table's
//! group of tags, the slot with the entry's pointer, then the entry. Under a pipeline of GETs
//! those misses were a third of the server's CPU time, spent waiting, one request after another.
//! Knowing the keys of the next requests, the worker asks for all their lines at once instead,
//! in two passes, so that the misses overlap and the requests then find their data in the cache:
//!
//! 1. without any lock, from where each shard's table was last seen ([`TableAt`]): the group of
//!    tags a lookup starts at, and the slots beside it;
//! 2. under a shared lock taken only if it is free, now that those lines have arrived: the
//!    entries whose tags match.
//!
//! A command with several keys (MGET, MSET, EXISTS, DEL of many) has the same three misses per
//! key, and nothing to overlap them with unless it asks first. [`Keyspace::lock`] does both
//! passes for it: pass 1 before it locks the keys' shards, pass 2 once it holds the locks.
//!
//! Prefetching only hints the processor; a wrong guess costs a wasted memory read, never a
//! wrong answer. Pass 1 computes addresses from hashbrown's layout (the tags at `ctrl`, slot
//! `i` just below, at `ctrl - (i + 1) * size_of::<Entry>()`); addresses are never read from
//! outside a lock.

use crate::entry::Entry;
use crate::shard::Shard;
use crate::{shard_of, KeyRef, Keyspace, Locked};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Where a shard's table was when a reader last looked: its tag bytes and bucket mask, and the
/// shard's generation then (any reallocation bumps it).
#[derive(Default)]
pub(crate) struct TableAt {
    ctrl: AtomicUsize,
    mask: AtomicUsize,
    /// The generation seen, plus one (0: never seen).
    generation: AtomicU64,
}

impl TableAt {
    /// Records where `shard`'s table is, unless that is known already. An empty table has no
    /// location and is looked at again next time: it may fill without being reallocated.
    fn refresh(&self, shard: &Shard) {
        let seen = u64::from(shard.generation()) + 1;
        if self.generation.load(Relaxed) == seen {
            return;
        }
        let (ctrl, mask, seen) = match shard.table_location() {
            Some((ctrl, mask)) => (ctrl, mask, seen),
            None => (0, 0, 0),
        };
        self.ctrl.store(ctrl, Relaxed);
        self.mask.store(mask, Relaxed);
        self.generation.store(seen, Relaxed);
    }

    /// Pass 1 for a key of this `hash`.
    fn prefetch(&self, hash: u64) {
        let ctrl = self.ctrl.load(Relaxed);
        if ctrl == 0 {
            return;
        }
        let pos = (hash as usize) & self.mask.load(Relaxed);
        let slot = std::mem::size_of::<Entry>();
        // The group of 16 tags a lookup reads first (rarely across two lines), and the 16
        // slots below it (128 bytes).
        prefetch(ctrl.wrapping_add(pos));
        let slots = ctrl.wrapping_sub((pos + 1) * slot);
        prefetch(slots);
        prefetch(slots.wrapping_sub(15 * slot));
    }
}

/// Asks the processor to bring the line holding `addr` into the cache. Any address will do: a
/// prefetch never faults.
#[inline(always)]
fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing architecturally and cannot fault, whatever the address;
    // SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

impl Keyspace {
    /// Pass 1 for the keys with these hashes ([`crate::hash_key`]) in database `db`
    /// (range-checked by the caller): their tags and slots. A hint: results never depend on it.
    pub fn prefetch_slots(&self, db: usize, hashes: &[u64]) {
        let shards = &self.dbs[db].shards;
        for &h in hashes {
            shards[shard_of(h)].table_at.prefetch(h);
        }
    }

    /// Pass 2 for the key with this hash in database `db`, once pass 1 had time to bring its
    /// tags and slots in: the entries they point to. Never waits: a shard that is being written
    /// or claimed is skipped.
    pub fn prefetch_entry(&self, db: usize, hash: u64) {
        let slot = &self.dbs[db].shards[shard_of(hash)];
        let Some(g) = slot.rw.try_read() else { return };
        if slot.owner.load(Relaxed) != 0 {
            return;
        }
        g.prefetch_entries(hash, |e| prefetch(e as usize));
        slot.table_at.refresh(&g);
    }

    /// Pass 1 for the keys of a multi-key command, before it locks their shards.
    pub(crate) fn prefetch_keys(&self, keys: &[KeyRef<'_>]) {
        for k in keys {
            if let Some(db) = self.dbs.get(k.db) {
                db.shards[k.shard()].table_at.prefetch(k.hash);
            }
        }
    }
}

impl Locked<'_> {
    /// Pass 2 for the keys of a multi-key command, under the locks it took meanwhile: the
    /// entries their tags point to. It also records where each locked table is, for pass 1
    /// of the commands that follow.
    pub(crate) fn prefetch_entries(&self, keys: &[KeyRef<'_>]) {
        for k in keys {
            if let Some(shard) = self.shard_of(k) {
                shard.prefetch_entries(k.hash, |e| prefetch(e as usize));
            }
        }
        for (slot, shard) in self.slots() {
            slot.table_at.refresh(shard);
        }
    }
}

impl Shard {
    /// Where the table's tags are and its bucket mask, inferred from a full bucket's address;
    /// `None` for an empty table. It scans for the first full bucket, so a sparse table makes
    /// it cost a pass over the tags: ask once, not per key.
    pub(crate) fn table_location(&self) -> Option<(usize, usize)> {
        let i = self.table().iter_buckets().next()?;
        let e = self.table().get_bucket(i)?;
        let ctrl = (e as *const Entry as usize) + (i + 1) * std::mem::size_of::<Entry>();
        Some((ctrl, self.table().num_buckets() - 1))
    }

    /// Asks for the lines that looking up keys of these hashes will read, both passes at once
    /// (for a writer, which holds the lock and has found where the table is: `at`, from
    /// [`Self::table_location`]): the tags and slots of all, then, once those have arrived,
    /// the entries whose tags match.
    pub(crate) fn prefetch_group(&self, at: (usize, usize), hashes: impl Iterator<Item = u64> + Clone) {
        let (ctrl, mask) = at;
        let slot = std::mem::size_of::<Entry>();
        for hash in hashes.clone() {
            let pos = (hash as usize) & mask;
            prefetch(ctrl.wrapping_add(pos));
            prefetch(ctrl.wrapping_sub((pos + 1) * slot));
        }
        for hash in hashes {
            self.prefetch_entries(hash, |e| prefetch(e as usize));
        }
    }

    /// Calls `f` with the block address of each entry whose tag matches `hash`, without
    /// reading the entries.
    fn prefetch_entries(&self, hash: u64, mut f: impl FnMut(*const u8)) {
        let t = self.table();
        for i in t.iter_hash_buckets(hash) {
            if let Some(e) = t.get_bucket(i) {
                f(e.block());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{NewValue, NO_EXPIRE};
    use crate::hash_key;

    /// The layout pass 1 assumes: every slot sits `(i + 1)` entries below the tags.
    #[test]
    fn slots_lie_where_pass_one_looks_for_them() {
        let mut shard = Shard::default();
        assert_eq!(shard.table_location(), None);
        for n in 0..5000u32 {
            let key = format!("key:{n}");
            let h = hash_key(key.as_bytes());
            shard.insert(h, Entry::new(key.as_bytes(), NewValue::Str(b"v"), 0), NO_EXPIRE);
            if n % 97 == 0 {
                let (ctrl, mask) = shard.table_location().expect("not empty");
                let t = shard.table();
                assert_eq!(mask + 1, t.num_buckets());
                for i in t.iter_buckets() {
                    let at = t.get_bucket(i).unwrap() as *const Entry as usize;
                    assert_eq!(at, ctrl - (i + 1) * std::mem::size_of::<Entry>());
                }
            }
        }
    }

    /// Pass 1 looks where lookups start: most keys sit in the group of 16 buckets from the
    /// position their hash picks.
    #[test]
    fn keys_mostly_sit_in_the_group_pass_one_prefetches() {
        let mut shard = Shard::default();
        let keys: Vec<String> = (0..3000).map(|n| format!("lock:{n:012}")).collect();
        for key in &keys {
            shard.insert(hash_key(key.as_bytes()), Entry::new(key.as_bytes(), NewValue::Str(b"v"), 0), NO_EXPIRE);
        }
        let (_, mask) = shard.table_location().unwrap();
        let near = keys
            .iter()
            .filter(|key| {
                let h = hash_key(key.as_bytes());
                let i = shard.table().find_bucket_index(h, |e| e.key() == key.as_bytes()).unwrap();
                (i.wrapping_sub(h as usize) & mask) < 16
            })
            .count();
        assert!(near * 10 >= keys.len() * 9, "{near} of {}", keys.len());
    }

    /// The location is recorded once there is a table, and again after the shard is emptied
    /// and filled anew, whether or not that reallocated it.
    #[test]
    fn the_recorded_location_follows_the_table() {
        let at = TableAt::default();
        let mut shard = Shard::default();
        at.refresh(&shard);
        assert_eq!(at.ctrl.load(Relaxed), 0);
        let fill = |shard: &mut Shard, from: u32| {
            for n in from..from + 500 {
                let key = format!("key:{n}");
                shard.insert(hash_key(key.as_bytes()), Entry::new(key.as_bytes(), NewValue::Str(b"v"), 0), NO_EXPIRE);
            }
        };
        fill(&mut shard, 0);
        at.refresh(&shard);
        assert_eq!(Some((at.ctrl.load(Relaxed), at.mask.load(Relaxed))), shard.table_location());
        drop(shard.take());
        at.refresh(&shard);
        assert_eq!(at.ctrl.load(Relaxed), 0);
        fill(&mut shard, 1000);
        at.refresh(&shard);
        assert_eq!(Some((at.ctrl.load(Relaxed), at.mask.load(Relaxed))), shard.table_location());
    }

    /// A lock on several keys records where each of their tables is, for pass 1 of the
    /// commands that follow (a lock on one key leaves that to the pipelined path).
    #[test]
    fn a_lock_on_several_keys_records_where_their_tables_are() {
        let ks = Keyspace::new(2);
        let names: Vec<Vec<u8>> = (0..300).map(|i| format!("lock:{i}").into_bytes()).collect();
        let keys: Vec<KeyRef<'_>> = names.iter().map(|n| ks.key(1, n)).collect();
        {
            let mut l = ks.lock(0, true, &keys);
            for k in &keys {
                l.entry(k).set(NewValue::Str(b"v"), crate::Ttl::Clear);
            }
        }
        let mut shards: Vec<usize> = keys.iter().map(|k| k.shard()).collect();
        shards.sort_unstable();
        shards.dedup();
        assert!(shards.len() > 1);
        let recorded = |i: usize| {
            let at = &ks.dbs[1].shards[i].table_at;
            (at.ctrl.load(Relaxed), at.mask.load(Relaxed))
        };
        drop(ks.lock(0, false, &keys[..1]));
        assert!(shards.iter().all(|&i| recorded(i) == (0, 0)), "one key's lock records nothing");
        drop(ks.lock(0, false, &keys));
        for i in shards {
            let at = ks.dbs[1].shards[i].rw.read().table_location();
            assert_eq!(Some(recorded(i)), at, "shard {i}");
        }
    }

    /// Pass 2 finds the entry of a key that is there.
    #[test]
    fn pass_two_names_the_entry_of_a_present_key() {
        let mut shard = Shard::default();
        for n in 0..1000u32 {
            let key = format!("key:{n}");
            shard.insert(hash_key(key.as_bytes()), Entry::new(key.as_bytes(), NewValue::Str(b"v"), 0), NO_EXPIRE);
        }
        for n in 0..1000u32 {
            let key = format!("key:{n}");
            let h = hash_key(key.as_bytes());
            let want = shard.find(h, key.as_bytes()).unwrap().block();
            let mut seen = Vec::new();
            shard.prefetch_entries(h, |p| seen.push(p));
            assert!(seen.contains(&want), "{key}");
        }
    }
}
