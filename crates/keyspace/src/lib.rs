//! The in-memory keyspace: databases split into shards, each a hash table and a timing wheel
//! under one `RwLock`.
//!
//! * Lookups check deadlines exactly (lazy expiry), so no command ever sees an expired key,
//!   whatever the background reclamation is doing.
//! * The wheel reclaims memory: [`Keyspace::reclaim`] is called by the expiry thread, which
//!   [`Keyspace::wait_for_due`] wakes when a new earliest deadline appears.
//! * Multi-key operations lock the shards they touch in ascending (database, shard) order, so
//!   they are atomic and deadlock-free; whole-keyspace operations take every shard.
//!
//! Time is passed in (monotonic milliseconds): the keyspace never reads a clock, which keeps it
//! deterministic under test.

pub mod entry;
pub mod gate;
mod prefetch;
mod shard;
pub mod stats;
pub mod types;
pub mod watch;

pub use entry::{Entry, Kind, LockMeta, NewValue, Type, Value, NO_EXPIRE};
pub use gate::Gate;
pub use shard::{Shard, SLOT_BYTES};
pub use stats::KeyspaceStats;
pub use types::{Hash, Limits, List, Set, ZSet};
pub use watch::{EventHook, KeyEvents, WatchFlag, Watches};

use watch::KeyState;

use parking_lot::{Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Shards per database. Must be a power of two no larger than 64 (shard sets are `u64` masks).
pub const SHARDS: usize = 64;

static HASHER: OnceLock<foldhash::fast::RandomState> = OnceLock::new();

/// The process-wide keyed hash of a key (seeded at random, so clients cannot aim for collisions).
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    HASHER.get_or_init(foldhash::fast::RandomState::default).hash_one(key)
}

/// The shard a hash belongs to: bits just below the top 7, which hashbrown uses for its tags,
/// and far above the bits that pick a bucket.
#[inline]
fn shard_of(hash: u64) -> usize {
    ((hash >> 51) as usize) & (SHARDS - 1)
}

/// The LRU clock (seconds, 24 bits) for a monotonic time in ms.
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & entry::LRU_MASK
}

#[repr(align(128))]
struct ShardSlot {
    /// Only through [`ShardSlot::read`] and [`ShardSlot::write`], which respect claims.
    rw: RwLock<Shard>,
    /// Lower bound of the shard's next timer, readable without the lock.
    next_due: AtomicU64,
    /// The claimant (see [`Claim`]) that has this shard to itself, or 0. Set and cleared
    /// only by the claimant; set while holding the write lock, so no one is inside the shard
    /// at that moment, and everyone who locks it afterwards sees it.
    owner: AtomicUsize,
    /// Where the table was last seen, for prefetching without the lock.
    table_at: prefetch::TableAt,
}

thread_local! {
    /// The claimant id of the script running on this thread (0: none): its own accesses to
    /// the shards it claimed go through.
    static CLAIMANT: Cell<usize> = const { Cell::new(0) };
}

impl ShardSlot {
    fn new(shard: Shard) -> Self {
        ShardSlot {
            rw: RwLock::new(shard),
            next_due: AtomicU64::new(u64::MAX),
            owner: AtomicUsize::new(0),
            table_at: prefetch::TableAt::default(),
        }
    }

    /// Whether another thread's script has this shard to itself.
    #[inline]
    fn claimed_by_other(&self) -> bool {
        let o = self.owner.load(Ordering::Acquire);
        o != 0 && o != CLAIMANT.with(Cell::get)
    }

    /// Waits (without any lock of this shard) until no other script claims it. Claims last one
    /// script, which cannot loop (see `tumbler_scripting::declared`): a short spin, then yields.
    #[cold]
    fn wait_unclaimed(&self) {
        let mut spins = 0u32;
        while self.claimed_by_other() {
            if spins < 64 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// The shard for reading, once no other script claims it.
    #[inline]
    fn read(&self) -> RwLockReadGuard<'_, Shard> {
        loop {
            let g = self.rw.read();
            if !self.claimed_by_other() {
                return g;
            }
            drop(g);
            self.wait_unclaimed();
        }
    }

    /// The shard for writing, once no other script claims it.
    #[inline]
    fn write(&self) -> RwLockWriteGuard<'_, Shard> {
        self.write_noting_wait().0
    }

    /// [`ShardSlot::write`], and whether it had to wait for another script's claim.
    #[inline]
    fn write_noting_wait(&self) -> (RwLockWriteGuard<'_, Shard>, bool) {
        let mut waited = false;
        loop {
            let g = self.rw.write();
            if !self.claimed_by_other() {
                return (g, waited);
            }
            drop(g);
            waited = true;
            self.wait_unclaimed();
        }
    }
}

struct Db {
    shards: Box<[ShardSlot]>,
}

impl Db {
    fn new() -> Self {
        Db {
            // Phases 65 ms apart: level-1 cascades (every 64 ms) fall on 64 different
            // milliseconds, level-2 ones (every 4,096 ms) 65 ms apart.
            shards: (0..SHARDS as u64).map(|i| ShardSlot::new(Shard::with_phase(i * 65))).collect(),
        }
    }
}

/// A key with its database and precomputed hash.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    /// Database index.
    pub db: usize,
    /// The key bytes.
    pub key: &'a [u8],
    hash: u64,
}

impl KeyRef<'_> {
    #[inline]
    fn shard(&self) -> usize {
        shard_of(self.hash)
    }
}

/// What a write does to the key's TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any TTL (a plain SET).
    Clear,
    /// Keep the existing TTL (KEEPTTL, INCR, APPEND…).
    Keep,
    /// Expire at this monotonic millisecond.
    At(u64),
}

/// Wake-up channel between writers and the expiry thread.
#[derive(Default)]
struct Wakeup {
    /// The time the expiry thread plans to wake at.
    planned: AtomicU64,
    notified: Mutex<bool>,
    cv: Condvar,
}

/// The whole keyspace: `databases` databases of [`SHARDS`] shards.
pub struct Keyspace {
    dbs: Box<[Db]>,
    /// Expiry statistics.
    pub stats: KeyspaceStats,
    /// Keys watched by transactions (WATCH).
    pub watches: Watches,
    /// Keyspace-notification hook for expirations and new keys.
    pub events: EventHook,
    wakeup: Wakeup,
}

/// Exclusive access to one key (its shard is write-locked), with expired data already purged.
pub struct KeyEntry<'a> {
    shard: &'a mut Shard,
    hash: u64,
    key: &'a [u8],
    now: u64,
    /// Whether the key exists, kept in step by every method so the common paths (SET NX on a
    /// new key) probe the table once to look and once to insert.
    present: bool,
    stats: &'a KeyspaceStats,
    db: usize,
    watches: &'a Watches,
    events: &'a EventHook,
    /// The key changed through this access: transactions watching it are told when the
    /// access ends (still under the shard lock), unless [`KeyEntry::unchanged`] retracts it.
    changed: bool,
}

impl Drop for KeyEntry<'_> {
    fn drop(&mut self) {
        if self.changed {
            self.watches.touch(self.db, self.key, false);
        }
    }
}

impl<'a> KeyEntry<'a> {
    fn new(shard: &'a mut Shard, k: &KeyRef<'a>, now: u64, ks: &'a Keyspace) -> Self {
        let (hash, key) = (k.hash, k.key);
        shard.observe(now);
        let present = match shard.find(hash, key) {
            Some(e) if e.is_expired(now) => {
                ks.purge(shard, k);
                false
            }
            Some(_) => true,
            None => false,
        };
        KeyEntry {
            shard,
            hash,
            key,
            now,
            present,
            stats: &ks.stats,
            db: k.db,
            watches: &ks.watches,
            events: &ks.events,
            changed: false,
        }
    }

    /// Notes that the key changed, for transactions watching it (Redis' signalModifiedKey).
    #[inline]
    fn touched(&mut self) {
        self.changed = true;
    }

    /// Retracts [`KeyEntry::touched`] after an aggregate command that turned out to change
    /// nothing (SREM of a missing member, LREM without a match…): as in Redis, that does not
    /// abort a transaction watching the key.
    pub fn unchanged(&mut self) {
        self.changed = false;
    }

    /// Reports a read lookup that found nothing (the `keymiss` event) for commands that look
    /// a key up for reading through a write access (GETDEL, GETEX).
    pub fn note_miss(&self) {
        self.events.missed(self.db, self.key);
    }

    /// True when this access changed the key (keyspace notifications).
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        self.key
    }

    /// The current time this access runs at.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The live entry, if any.
    #[inline]
    pub fn get(&self) -> Option<&Entry> {
        if self.present {
            self.shard.find(self.hash, self.key)
        } else {
            None
        }
    }

    /// True when the key exists.
    #[inline]
    pub fn exists(&self) -> bool {
        self.present
    }

    /// Stores `value` under the key (creating or replacing it) and applies `ttl`. Returns the
    /// entry it replaced.
    pub fn set(&mut self, value: NewValue<'_>, ttl: Ttl) -> Option<Entry> {
        let entry = Entry::new(self.key, value, lru_clock(self.now));
        self.store(entry, ttl)
    }

    /// As [`KeyEntry::set`], marking the new entry as a lock (SET NX with a TTL).
    pub fn set_lock(&mut self, value: NewValue<'_>, ttl: Ttl) -> Option<Entry> {
        let entry = Entry::new(self.key, value, lru_clock(self.now));
        entry.mark_lock();
        self.store(entry, ttl)
    }

    fn store(&mut self, entry: Entry, ttl: Ttl) -> Option<Entry> {
        self.touched();
        if self.present {
            let old = self.shard.replace(self.hash, entry, ttl == Ttl::Keep);
            if let Ttl::At(at) = ttl {
                self.shard.set_expire(self.hash, self.key, at);
            }
            old
        } else {
            let at = match ttl {
                Ttl::At(at) => at,
                Ttl::Clear | Ttl::Keep => NO_EXPIRE,
            };
            self.shard.insert(self.hash, entry, at);
            self.present = true;
            self.events.created(self.db, self.key);
            None
        }
    }

    /// Stores an already built entry (COPY, RENAME) with deadline `expire_at`.
    pub fn put(&mut self, entry: Entry, expire_at: u64) -> Option<Entry> {
        self.touched();
        let old = if self.present { self.shard.remove(self.hash, self.key) } else { None };
        self.shard.insert(self.hash, entry, expire_at);
        // Redis deletes an overwritten destination and adds the key anew: a new key either way.
        self.events.created(self.db, self.key);
        self.present = true;
        old
    }

    /// Deletes the key, returning its entry. Deleting a lock counts as releasing it.
    pub fn remove(&mut self) -> Option<Entry> {
        if !self.present {
            return None;
        }
        self.present = false;
        self.touched();
        let old = self.shard.remove(self.hash, self.key);
        if old.as_ref().is_some_and(Entry::is_lock) {
            self.stats.record_lock_released();
        }
        old
    }

    /// Sets the key's deadline; false if the key does not exist. A new deadline for a lock
    /// counts as extending it.
    pub fn set_expire(&mut self, at: u64) -> bool {
        if !self.present {
            return false;
        }
        if self.get().is_some_and(Entry::is_lock) {
            self.stats.record_lock_extended();
        }
        self.touched();
        self.shard.set_expire(self.hash, self.key, at)
    }

    /// Milliseconds `lock-delay` still holds this name back (after a lock on it expired).
    pub fn lock_delay_left(&mut self) -> Option<u64> {
        self.shard.lock_delay_left(self.key, self.now)
    }

    /// The live entry, mutably (LOCK.EXTEND and LOCK.FENCE update a lock's record in place).
    pub fn get_mut(&mut self) -> Option<&mut Entry> {
        if self.present {
            self.touched();
            self.shard.find_mut(self.hash, self.key)
        } else {
            None
        }
    }

    /// Removes the key's TTL; true if it had one.
    pub fn persist(&mut self) -> bool {
        match self.get() {
            Some(e) if e.expire_at() != NO_EXPIRE => {
                self.touched();
                self.shard.set_expire(self.hash, self.key, NO_EXPIRE)
            }
            _ => false,
        }
    }

    /// Runs `f` on the key's growable string buffer, converting the value to one first (APPEND,
    /// SETRANGE). Returns `None` if the key does not exist or is not a string.
    pub fn with_raw_string<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> Option<R> {
        let e = self.shard.find(self.hash, self.key)?;
        if e.value_type() != Type::String {
            return None;
        }
        self.changed = true;
        if e.kind() != Kind::HeapStr {
            let bytes = e.value().to_vec();
            let fresh = Entry::new(self.key, NewValue::Raw(bytes), e.lru());
            self.shard.replace(self.hash, fresh, true);
        }
        let e = self.shard.find_mut(self.hash, self.key)?;
        let before = e.heap_bytes();
        let out = f(e.heap_str_mut()?);
        let after = e.heap_bytes();
        self.shard.resized(before, after);
        Some(out)
    }
}

/// The key holds a value of another type than the command works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

impl<'a> KeyEntry<'a> {
    /// Runs `f` on the key's aggregate value of type `ty`, creating an empty one first when the
    /// key is missing and `create` is given. Keeps the byte accounting in step and deletes the
    /// key when the value is left empty (Redis never keeps empty aggregates).
    /// `Ok(None)`: the key is missing and was not created.
    fn with_aggregate<T, R>(
        &mut self,
        ty: Type,
        create: Option<fn() -> NewValue<'static>>,
        get: fn(&mut Entry) -> Option<&mut T>,
        empty: fn(&T) -> bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>, WrongType> {
        match self.get() {
            Some(e) if e.value_type() != ty => return Err(WrongType),
            Some(_) => {}
            None => match create {
                None => return Ok(None),
                Some(make) => {
                    let e = Entry::new(self.key, make(), lru_clock(self.now));
                    self.shard.insert(self.hash, e, NO_EXPIRE);
                    self.present = true;
                    self.events.created(self.db, self.key);
                }
            },
        }
        self.touched();
        let Some(e) = self.shard.find_mut(self.hash, self.key) else { return Ok(None) };
        let before = e.heap_bytes();
        let Some(value) = get(e) else { return Err(WrongType) };
        let out = f(value);
        let now_empty = empty(value);
        let after = e.heap_bytes();
        self.shard.resized(before, after);
        if now_empty {
            self.shard.remove(self.hash, self.key);
            self.present = false;
        }
        Ok(Some(out))
    }

    /// Runs `f` on the key's list (created empty first if missing and `create`).
    pub fn with_list<R>(&mut self, create: bool, f: impl FnOnce(&mut List) -> R) -> Result<Option<R>, WrongType> {
        let make: Option<fn() -> NewValue<'static>> = create.then_some(|| NewValue::List(List::default()));
        self.with_aggregate(Type::List, make, Entry::list_mut, List::is_empty, f)
    }

    /// Runs `f` on the key's hash (created empty first if missing and `create`).
    pub fn with_hash<R>(&mut self, create: bool, f: impl FnOnce(&mut Hash) -> R) -> Result<Option<R>, WrongType> {
        let make: Option<fn() -> NewValue<'static>> = create.then_some(|| NewValue::Hash(Hash::default()));
        self.with_aggregate(Type::Hash, make, Entry::hash_mut, Hash::is_empty, f)
    }

    /// Runs `f` on the key's set (created empty first if missing and `create`).
    pub fn with_set<R>(&mut self, create: bool, f: impl FnOnce(&mut Set) -> R) -> Result<Option<R>, WrongType> {
        let make: Option<fn() -> NewValue<'static>> = create.then_some(|| NewValue::Set(Set::default()));
        self.with_aggregate(Type::Set, make, Entry::set_mut, Set::is_empty, f)
    }

    /// Runs `f` on the key's sorted set (created empty first if missing and `create`).
    pub fn with_zset<R>(&mut self, create: bool, f: impl FnOnce(&mut ZSet) -> R) -> Result<Option<R>, WrongType> {
        let make: Option<fn() -> NewValue<'static>> = create.then_some(|| NewValue::ZSet(ZSet::default()));
        self.with_aggregate(Type::ZSet, make, Entry::zset_mut, ZSet::is_empty, f)
    }
}

/// Shards held by a multi-key operation, in lock order.
pub struct Locked<'k> {
    ks: &'k Keyspace,
    now: u64,
    /// Sorted by database, then shard.
    parts: Vec<Part<'k>>,
    /// The database of the first key, whose parts `index` finds.
    db: usize,
    /// For each shard of `db`, the index in `parts` of its lock plus one (0: not locked). A
    /// command looks each of its keys up several times; this makes finding its part one load
    /// (keys of other databases, for MOVE and COPY, are looked for in `parts`).
    index: [u16; SHARDS],
}

struct Part<'k> {
    db: usize,
    shard: usize,
    guard: Guard<'k>,
}

enum Guard<'k> {
    Read(RwLockReadGuard<'k, Shard>),
    Write(RwLockWriteGuard<'k, Shard>),
}

impl Part<'_> {
    fn shard(&self) -> &Shard {
        match &self.guard {
            Guard::Read(g) => g,
            Guard::Write(g) => g,
        }
    }
}

impl<'k> Locked<'k> {
    /// Where in `parts` the lock covering `k` is.
    #[inline]
    fn part_index(&self, k: &KeyRef<'_>) -> Option<usize> {
        if k.db == self.db {
            return usize::from(self.index[k.shard()]).checked_sub(1);
        }
        self.parts.iter().position(|p| p.db == k.db && p.shard == k.shard())
    }

    fn part(&self, k: &KeyRef<'_>) -> Option<&Part<'k>> {
        self.part_index(k).map(|i| &self.parts[i])
    }

    /// The locked shard holding `k`, if this lock covers it.
    fn shard_of(&self, k: &KeyRef<'_>) -> Option<&Shard> {
        self.part(k).map(Part::shard)
    }

    /// Each locked shard, with its slot.
    fn slots(&self) -> impl Iterator<Item = (&ShardSlot, &Shard)> {
        self.parts.iter().map(|p| (&self.ks.dbs[p.db].shards[p.shard], p.shard()))
    }

    /// The live entry for a key this lock covers (`None` if absent, expired, or not covered).
    /// Under a read lock, a miss is a read lookup that found nothing (the `keymiss` event).
    pub fn get(&self, k: &KeyRef<'_>) -> Option<&Entry> {
        let p = self.part(k)?;
        let (shard, read): (&Shard, bool) = match &p.guard {
            Guard::Read(g) => (g, true),
            Guard::Write(g) => (g, false),
        };
        let found = shard.find_live(k.hash, k.key, self.now);
        if found.is_none() && read {
            self.ks.events.missed(k.db, k.key);
        }
        found
    }

    /// Write access to a key this lock covers for writing.
    ///
    /// # Panics
    /// If the key was not part of the write lock request: a bug in the caller, never a
    /// consequence of client input.
    pub fn entry<'s>(&'s mut self, k: &KeyRef<'s>) -> KeyEntry<'s> {
        let (ks, now) = (self.ks, self.now);
        let i = self.part_index(k).expect("key locked by this operation");
        match &mut self.parts[i].guard {
            Guard::Write(g) => KeyEntry::new(g, k, now, ks),
            Guard::Read(_) => panic!("key locked for reading only"),
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        for p in &self.parts {
            if let Guard::Write(g) = &p.guard {
                self.ks.publish_due(&self.ks.dbs[p.db].shards[p.shard], g);
            }
        }
    }
}

/// A lock held at a clean shutdown, saved to be restored at the next start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLock {
    /// Database.
    pub db: usize,
    /// Key.
    pub key: Vec<u8>,
    /// Value (the owner's token).
    pub value: Vec<u8>,
    /// Time it still had to live.
    pub remaining_ms: u64,
    /// Fencing token and history of a lock taken with LOCK.ACQUIRE.
    pub meta: Option<LockMeta>,
}

/// Whether `key` exists in a database whose shards are `shards` (locked), at `now`.
fn key_state(shards: &[RwLockWriteGuard<'_, Shard>], key: &[u8], now: u64) -> KeyState {
    let hash = hash_key(key);
    match shards[shard_of(hash)].find(hash, key) {
        None => KeyState::Missing,
        Some(e) if e.is_expired(now) => KeyState::Expired,
        Some(_) => KeyState::Live,
    }
}

/// A SCAN position: shard, table generation and bucket, packed into Redis' 64-bit cursor.
fn decode_cursor(c: u64) -> (usize, u32, usize) {
    ((c >> 58) as usize, ((c >> 48) & 0x3ff) as u32, (c & ((1 << 48) - 1)) as usize)
}

fn encode_cursor(shard: usize, generation: u32, bucket: usize) -> u64 {
    ((shard as u64) << 58) | (u64::from(generation & 0x3ff) << 48) | (bucket as u64 & ((1 << 48) - 1))
}

/// Filters for [`Keyspace::scan`].
pub struct ScanFilter<'a> {
    /// MATCH pattern (`None` or `*` for all keys).
    pub pattern: Option<&'a [u8]>,
    /// TYPE filter, lower-cased (`None` for all types).
    pub type_name: Option<&'a [u8]>,
}

impl ScanFilter<'_> {
    fn accepts(&self, e: &Entry) -> bool {
        if let Some(t) = self.type_name {
            if !e.value_type().name().as_bytes().eq_ignore_ascii_case(t) {
                return false;
            }
        }
        match self.pattern {
            None => true,
            Some(b"*") => true,
            Some(p) => tumbler_glob::matches(p, e.key()),
        }
    }
}

/// Per-database figures for INFO keyspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbInfo {
    /// Number of keys.
    pub keys: usize,
    /// Keys with a TTL.
    pub expires: usize,
    /// Average remaining TTL in ms of keys with a TTL (0 when none).
    pub avg_ttl: u64,
}

/// Shards one script has to itself while it runs (see [`Keyspace::claim`]); dropping the
/// claim gives them back.
pub struct Claim<'k> {
    ks: &'k Keyspace,
    db: usize,
    /// Claimed shards of `db`, bit `i` for shard `i` (no allocation per script).
    shards: u64,
    waited: bool,
}

const _: () = assert!(SHARDS <= 64, "a claim keeps its shards in a u64");

/// Shard indexes in `mask`, ascending.
fn shards_in(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

impl Claim<'_> {
    /// Whether claiming waited for another script to finish (time has passed since).
    pub fn waited(&self) -> bool {
        self.waited
    }

    /// Whether `k` lies in a claimed shard.
    pub fn covers(&self, k: &KeyRef<'_>) -> bool {
        k.db == self.db && self.shards & (1 << k.shard()) != 0
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        for i in shards_in(self.shards) {
            self.ks.dbs[self.db].shards[i].owner.store(0, Ordering::Release);
        }
        CLAIMANT.with(|c| c.set(0));
    }
}

/// Where one database's memory goes (MEMORY STATS).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DbMemory {
    /// Number of keys (expired ones not yet reclaimed included, as DBSIZE counts them).
    pub keys: usize,
    /// Bytes of the hash tables' slots.
    pub table_bytes: usize,
    /// Bytes of the expiry wheels.
    pub wheel_bytes: usize,
}

impl Keyspace {
    /// A keyspace with `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases.max(1)).map(|_| Db::new()).collect(),
            stats: KeyspaceStats::default(),
            watches: Watches::default(),
            events: EventHook::default(),
            wakeup: Wakeup { planned: AtomicU64::new(u64::MAX), ..Default::default() },
        }
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// A key in database `db` (which the caller has range-checked).
    #[inline]
    pub fn key<'a>(&self, db: usize, key: &'a [u8]) -> KeyRef<'a> {
        KeyRef { db, key, hash: hash_key(key) }
    }

    #[inline]
    fn slot(&self, k: &KeyRef<'_>) -> &ShardSlot {
        &self.dbs[k.db].shards[k.shard()]
    }

    /// Runs `f` on the live entry for `k` (or `None`) under a shared lock. A key found expired
    /// is deleted on the way (as Redis does on access), so DBSIZE stops counting it even when
    /// the background reclamation is off.
    #[inline]
    pub fn read<R>(&self, k: KeyRef<'_>, now: u64, f: impl FnOnce(Option<&Entry>) -> R) -> R {
        let slot = self.slot(&k);
        {
            let g = slot.read();
            match g.find(k.hash, k.key) {
                Some(e) if e.is_expired(now) => {}
                None => {
                    self.events.missed(k.db, k.key);
                    return f(None);
                }
                found => return f(found),
            }
        }
        // Rare: the key expired and the wheel has not reclaimed it yet.
        self.remove_expired(slot, &k, now);
        self.events.missed(k.db, k.key);
        f(None)
    }

    /// Removes `k` (in `slot`) if it is still there and expired at `now`.
    fn remove_expired(&self, slot: &ShardSlot, k: &KeyRef<'_>, now: u64) {
        let mut g = slot.write();
        if g.find(k.hash, k.key).is_some_and(|e| e.is_expired(now)) {
            self.purge(&mut g, k);
            self.publish_due(slot, &g);
        }
    }

    /// Removes `k`, found expired in its (locked) `shard`: counts it, and tells watching
    /// transactions and the keyspace-event listener.
    fn purge(&self, shard: &mut Shard, k: &KeyRef<'_>) {
        shard.remove_expired(k.hash, k.key, &self.stats);
        self.watches.touch(k.db, k.key, true);
        self.events.expired(k.db, k.key);
    }

    /// Removes `k` if its deadline has passed (and tells watchers and listeners), without
    /// counting a lookup: EXEC's check of its watched keys.
    pub fn expire_if_due(&self, k: KeyRef<'_>, now: u64) {
        let slot = self.slot(&k);
        if slot.read().find(k.hash, k.key).is_some_and(|e| e.is_expired(now)) {
            self.remove_expired(slot, &k, now);
        }
    }

    /// Runs `f` with exclusive access to `k`.
    #[inline]
    pub fn write<R>(&self, k: KeyRef<'_>, now: u64, f: impl FnOnce(&mut KeyEntry<'_>) -> R) -> R {
        let slot = self.slot(&k);
        let mut g = slot.write();
        let timers = g.timer_changes();
        let out = {
            let mut e = KeyEntry::new(&mut g, &k, now, self);
            f(&mut e)
        };
        // Most writes (a DEL that finds nothing, a SET without TTL) leave the wheel alone.
        if g.timer_changes() != timers {
            self.publish_due(slot, &g);
        }
        out
    }

    /// Locks the shards of all `keys` (several may share a shard or a database) in ascending
    /// order, for reading or writing.
    ///
    /// Keys that have expired but are still stored are removed first, in the order given, as
    /// Redis' lookups of each key would (their `expired` events come in that order).
    pub fn lock<'k>(&'k self, now: u64, write: bool, keys: &[KeyRef<'_>]) -> Locked<'k> {
        // Several keys would miss the cache one after another as they are looked up: ask for
        // their lines first, so that the misses overlap (see `prefetch`).
        let many = keys.len() > 1;
        if many {
            self.prefetch_keys(keys);
        }
        let mut locked = self.lock_only(now, write, keys);
        if many {
            locked.prefetch_entries(keys);
        }
        let mut purge_later = false;
        for k in keys {
            let Some(i) = locked.part_index(k) else { continue };
            match &mut locked.parts[i].guard {
                Guard::Write(g) => {
                    if g.find(k.hash, k.key).is_some_and(|e| e.is_expired(now)) {
                        self.purge(g, k);
                    }
                }
                Guard::Read(g) => purge_later |= g.find(k.hash, k.key).is_some_and(|e| e.is_expired(now)),
            }
        }
        if purge_later {
            // Rare: expired keys under read locks. Remove them with write locks, then look again.
            drop(locked);
            for k in keys {
                self.expire_if_due(*k, now);
            }
            locked = self.lock_only(now, write, keys);
        }
        locked
    }

    /// Locks the shards of `keys` in (database, shard) order, each once.
    fn lock_only<'k>(&'k self, now: u64, write: bool, keys: &[KeyRef<'_>]) -> Locked<'k> {
        // The order comes from a bitmask of shards per database, databases taken from the
        // lowest: no sorting, and no allocation but the parts'. A command names one database
        // (MOVE and COPY two), so the passes over `keys` are few.
        const _: () = assert!(SHARDS <= 64);
        let first = keys.first().map_or(usize::MAX, |k| k.db);
        let mut parts: Vec<Part<'k>> = Vec::with_capacity(keys.len().min(SHARDS));
        let (mut index, mut indexed) = ([0u16; SHARDS], true);
        let mut next = keys.iter().map(|k| k.db).min();
        while let Some(db) = next {
            let mut mask = keys.iter().filter(|k| k.db == db).fold(0u64, |m, k| m | 1 << k.shard());
            while mask != 0 {
                let shard = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let slot = &self.dbs[db].shards[shard];
                let guard = if write { Guard::Write(slot.write()) } else { Guard::Read(slot.read()) };
                parts.push(Part { db, shard, guard });
                if db == first {
                    // Only keys in over a thousand databases could overflow it: then no index.
                    match u16::try_from(parts.len()) {
                        Ok(i) => index[shard] = i,
                        Err(_) => indexed = false,
                    }
                }
            }
            next = keys.iter().map(|k| k.db).filter(|&d| d > db).min();
        }
        Locked { ks: self, now, parts, db: if indexed { first } else { usize::MAX }, index }
    }

    /// Starts watching `k` for the transaction whose flag is `flag` (WATCH). Returns false
    /// if it already watched the key.
    pub fn watch(&self, k: KeyRef<'_>, now: u64, flag: &Arc<WatchFlag>) -> bool {
        // Under the shard lock, so that no change slips between looking and registering.
        let g = self.slot(&k).read();
        let expired = g.find(k.hash, k.key).is_some_and(|e| e.is_expired(now));
        self.watches.add(k.db, k.key, expired, flag)
    }

    /// Tells the expiry thread about the shard's next timer if it is earlier than planned.
    #[inline]
    fn publish_due(&self, slot: &ShardSlot, shard: &Shard) {
        let due = shard.next_due();
        if slot.next_due.load(Ordering::Relaxed) != due {
            slot.next_due.store(due, Ordering::Relaxed);
            if due < self.wakeup.planned.load(Ordering::Relaxed) {
                self.wakeup.planned.fetch_min(due, Ordering::Relaxed);
                let mut n = self.wakeup.notified.lock();
                *n = true;
                self.wakeup.cv.notify_one();
            }
        }
    }

    /// Reclaims expired keys whose timers are due at `now` in every shard, handling at most
    /// `budget` timers per shard. Returns the number of keys removed.
    pub fn reclaim(&self, now: u64, budget: usize) -> usize {
        self.reclaim_yielding(now, budget, || true)
    }

    /// [`Self::reclaim`], calling `between` after each shard it had work in, with that shard
    /// unlocked again: the caller may let someone else in there (the expiry thread lets a
    /// script or EXEC that waits for the gate go first, rather than after the whole pass).
    /// When `between` returns false the pass ends there, its removals published; what is
    /// still due stays for the next pass.
    pub fn reclaim_yielding(&self, now: u64, budget: usize, mut between: impl FnMut() -> bool) -> usize {
        let mut removed = 0;
        let mut gone = Vec::new();
        let mut go_on = true;
        for (db_index, db) in self.dbs.iter().enumerate() {
            for slot in db.shards.iter() {
                if slot.next_due.load(Ordering::Relaxed) > now {
                    continue;
                }
                {
                    let mut g = slot.write();
                    let from = gone.len();
                    removed += g.reclaim(now, budget, &self.stats, &mut gone);
                    // Under the lock: an EXEC must not run between the removal and its
                    // watchers learning of it.
                    if self.watches.active() {
                        for e in &gone[from..] {
                            self.watches.touch(db_index, e.key(), true);
                        }
                    }
                    slot.next_due.store(g.next_due(), Ordering::Relaxed);
                }
                go_on = between();
                if !go_on {
                    break;
                }
            }
            // Notifications and freeing happen with every shard unlocked, once for the whole
            // database: one publication a pass, not one per shard, so a subscriber's worker is
            // woken once a tick rather than up to 64 times (each a switch on a shared core).
            if !gone.is_empty() {
                self.events.expired_many(db_index, &mut gone.iter().map(Entry::key));
                gone.clear();
            }
            if !go_on {
                break;
            }
        }
        removed
    }

    /// True when the time the expiry thread planned to reclaim at has come: one atomic load,
    /// cheap enough for a worker to ask after every batch. A worker that asks is running, and
    /// the expiry thread, at a lower priority on the same core, may not be for a while.
    #[inline]
    pub fn reclaim_due(&self, now: u64) -> bool {
        now >= self.wakeup.planned.load(Ordering::Relaxed)
    }

    /// A reclaiming pass by a worker once the expiry thread's planned time has come
    /// ([`Self::reclaim_due`]): at most `budget` timers a shard, like [`Self::reclaim`], which
    /// it may run beside (each shard is reclaimed under its own lock). When the pass leaves
    /// nothing due, it moves the planned time on to the next timer, so that other batches
    /// stop helping; unless a writer or the expiry thread planned anew meanwhile. Returns the
    /// number of keys removed.
    pub fn help_reclaim(&self, now: u64, budget: usize, between: impl FnMut() -> bool) -> usize {
        let planned = self.wakeup.planned.load(Ordering::Relaxed);
        if now < planned {
            return 0;
        }
        let removed = self.reclaim_yielding(now, budget, between);
        self.stats.reclaimed_by_workers(removed as u64);
        let due = self.next_due();
        if due > planned {
            let _ = self.wakeup.planned.compare_exchange(planned, due, Ordering::Relaxed, Ordering::Relaxed);
        }
        removed
    }

    /// The earliest time any shard may have expiry work (`u64::MAX` if none).
    pub fn next_due(&self) -> u64 {
        self.dbs
            .iter()
            .flat_map(|d| d.shards.iter())
            .map(|s| s.next_due.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Blocks the expiry thread until the start of millisecond `until` (monotonic, `now_us`
    /// being the time now in microseconds), at most `max_wait`, or until a writer publishes an
    /// earlier deadline. Counting in microseconds wakes the thread as its millisecond begins:
    /// counting whole milliseconds from a truncated `now` woke it anywhere in that millisecond,
    /// up to a millisecond late.
    pub fn wait_for_due(&self, now_us: u64, until: u64, max_wait: Duration) {
        let mut n = self.wakeup.notified.lock();
        self.wakeup.planned.store(until, Ordering::Relaxed);
        if *n {
            *n = false;
            return;
        }
        let wait = Duration::from_micros(until.saturating_mul(1000).saturating_sub(now_us)).min(max_wait);
        if !wait.is_zero() {
            self.wakeup.cv.wait_for(&mut n, wait);
        }
        *n = false;
    }

    /// Wakes the expiry thread (at shutdown, and when expiry is turned back on).
    pub fn wake_reclaimer(&self) {
        let mut n = self.wakeup.notified.lock();
        *n = true;
        self.wakeup.cv.notify_all();
    }

    /// Number of keys in `db` (expired ones not yet reclaimed included, as in Redis).
    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs[db].shards.iter().map(|s| s.read().len()).sum()
    }

    /// Keys, TTL count and average TTL of `db`.
    pub fn db_info(&self, db: usize, now: u64) -> DbInfo {
        let (mut keys, mut expires, mut sum) = (0usize, 0usize, 0u128);
        for s in self.dbs[db].shards.iter() {
            let g = s.read();
            keys += g.len();
            expires += g.expires();
            sum += g.deadline_sum();
        }
        let avg_ttl = if expires == 0 { 0 } else { ((sum / expires as u128) as u64).saturating_sub(now) };
        DbInfo { keys, expires, avg_ttl }
    }

    /// Heap bytes used by all shards.
    pub fn memory(&self) -> usize {
        self.dbs.iter().flat_map(|d| d.shards.iter()).map(|s| s.read().memory()).sum()
    }

    /// Gives the calling thread the shards of `keys` (of database `db`) to itself until the
    /// claim is dropped: other threads' reads and writes of those shards wait, the rest of the
    /// keyspace stays open. A script that provably touches only its declared keys runs this
    /// way beside other workers instead of taking the whole keyspace.
    ///
    /// `id` (non-zero, one per thread) names the claimant. Shards are claimed in ascending
    /// order, the order every multi-shard lock is taken in, and a waiter holds no lock of the
    /// shard it waits for, so claims cannot deadlock with each other or with locks.
    pub fn claim<'a>(&self, db: usize, keys: impl IntoIterator<Item = &'a [u8]>, id: usize) -> Claim<'_> {
        debug_assert!(id != 0);
        let shards = keys.into_iter().fold(0u64, |m, k| m | 1 << shard_of(hash_key(k)));
        CLAIMANT.with(|c| c.set(id));
        let mut waited = false;
        for i in shards_in(shards) {
            let slot = &self.dbs[db].shards[i];
            // Under the write lock: once it is released, every access sees the owner.
            let (_inside, w) = slot.write_noting_wait();
            waited |= w;
            slot.owner.store(id, Ordering::Release);
        }
        Claim { ks: self, db, shards, waited }
    }

    /// Keys and overhead of database `db`, shard by shard (not one snapshot).
    pub fn db_memory(&self, db: usize) -> DbMemory {
        let mut m = DbMemory::default();
        for s in self.dbs[db].shards.iter() {
            let g = s.read();
            m.keys += g.len();
            m.table_bytes += g.table_bytes();
            m.wheel_bytes += g.wheel_bytes();
        }
        m
    }

    /// Bytes used by keys and values alone (INFO `used_memory_dataset`).
    pub fn dataset_bytes(&self) -> usize {
        self.dbs.iter().flat_map(|d| d.shards.iter()).map(|s| s.read().entry_bytes()).sum()
    }

    /// Appends to `out` every live key of `db` matching `pattern` (KEYS). The exact pattern `*`
    /// lists every key, the empty key included, as Redis does.
    pub fn keys(&self, db: usize, pattern: &[u8], now: u64, out: &mut Vec<Vec<u8>>) {
        let all = pattern == b"*";
        if tumbler_glob::is_literal(pattern) {
            let k = self.key(db, pattern);
            if self.read(k, now, |e| e.is_some()) {
                out.push(pattern.to_vec());
            }
            return;
        }
        // Hold every shard at once so the answer is one consistent snapshot.
        let guards: Vec<_> = self.dbs[db].shards.iter().map(|s| s.read()).collect();
        for g in &guards {
            for e in g.iter() {
                if !e.is_expired(now) && (all || tumbler_glob::matches(pattern, e.key())) {
                    out.push(e.key().to_vec());
                }
            }
        }
    }

    /// One SCAN step over `db` from `cursor`: visits buckets until `count` keys were seen (before
    /// filtering) or `10 * count` buckets were visited, appending accepted keys to `out`.
    /// Returns the next cursor, 0 when the iteration is complete.
    ///
    /// Guarantee (Redis'): a key present for the whole iteration is returned at least once. A
    /// shard whose table was rehashed between two calls is rescanned from its start.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        now: u64,
        filter: &ScanFilter<'_>,
        out: &mut Vec<Vec<u8>>,
    ) -> u64 {
        let (mut shard, generation, mut bucket) = decode_cursor(cursor);
        let mut gen_ok = Some(generation);
        let count = count.max(1);
        let (mut seen, mut visited) = (0usize, 0usize);
        let budget = count.saturating_mul(10);
        while shard < SHARDS {
            let g = self.dbs[db].shards[shard].read();
            if gen_ok.take().is_some_and(|want| want != g.generation() & 0x3ff) {
                bucket = 0;
            }
            let table = g.table();
            let n = table.num_buckets();
            while bucket < n {
                if let Some(e) = table.get_bucket(bucket) {
                    seen += 1;
                    if !e.is_expired(now) && filter.accepts(e) {
                        out.push(e.key().to_vec());
                    }
                }
                bucket += 1;
                visited += 1;
                if seen >= count || visited >= budget {
                    if bucket >= n {
                        break;
                    }
                    return encode_cursor(shard, g.generation(), bucket);
                }
            }
            shard += 1;
            bucket = 0;
            if seen >= count || visited >= budget {
                if shard >= SHARDS {
                    return 0;
                }
                let next_gen = self.dbs[db].shards[shard].read().generation();
                return encode_cursor(shard, next_gen, 0);
            }
            gen_ok = None;
        }
        0
    }

    /// A random live key of `db`, chosen with `rand` (a source of random numbers).
    pub fn random_key(&self, db: usize, now: u64, mut rand: impl FnMut() -> u64) -> Option<Vec<u8>> {
        let shards = &self.dbs[db].shards;
        let start = (rand() as usize) % SHARDS;
        // Try random non-empty shards and random buckets first; fall back to a full walk, which
        // also covers the case where every key has expired.
        for _ in 0..SHARDS {
            let s = shards[(rand() as usize) % SHARDS].read();
            if s.is_empty() {
                continue;
            }
            let t = s.table();
            for _ in 0..32 {
                if let Some(e) = t.get_bucket((rand() as usize) % t.num_buckets()) {
                    if !e.is_expired(now) {
                        return Some(e.key().to_vec());
                    }
                }
            }
        }
        (0..SHARDS).find_map(|i| {
            let s = shards[(start + i) % SHARDS].read();
            let found = s.iter().find(|e| !e.is_expired(now)).map(|e| e.key().to_vec());
            found
        })
    }

    /// Every lock still held at `now` (keys marked as locks, with a TTL, not expired): what a
    /// clean shutdown saves so that a restarted node forgets no lock it granted.
    pub fn held_locks(&self, now: u64) -> Vec<HeldLock> {
        let mut out = Vec::new();
        for (db, d) in self.dbs.iter().enumerate() {
            for slot in d.shards.iter() {
                let g = slot.read();
                for e in g.iter().filter(|e| e.is_lock() && e.expire_at() != NO_EXPIRE && !e.is_expired(now)) {
                    let meta = e.lock_meta();
                    out.push(HeldLock {
                        db,
                        key: e.key().to_vec(),
                        value: e.value().to_vec(),
                        remaining_ms: e.expire_at() - now,
                        meta,
                    });
                }
            }
        }
        out
    }

    /// Puts back a lock saved by [`Keyspace::held_locks`] with `remaining_ms` to live from `now`,
    /// unless the key exists.
    pub fn restore_lock(&self, l: &HeldLock, now: u64) {
        if l.db >= self.dbs.len() {
            return;
        }
        self.write(self.key(l.db, &l.key), now, |e| {
            if e.exists() {
                return;
            }
            let ttl = Ttl::At(now.saturating_add(l.remaining_ms));
            match l.meta {
                Some(m) => e.set(NewValue::Lock(&l.value, m), ttl),
                None => e.set_lock(NewValue::Str(&l.value), ttl),
            };
        });
    }

    /// Empties `db`. Returns the old shards so the caller can drop them elsewhere (FLUSHDB
    /// ASYNC). All shards are held at once: the flush is atomic for other clients.
    pub fn flush_db(&self, db: usize, now: u64) -> Vec<Shard> {
        let mut guards: Vec<_> = self.dbs[db].shards.iter().map(|s| s.write()).collect();
        self.watches.touch_db(db, None, |_, key| key_state(&guards, key, now));
        let old = guards.iter_mut().map(|g| g.take()).collect();
        for (slot, _) in self.dbs[db].shards.iter().zip(&guards) {
            slot.next_due.store(u64::MAX, Ordering::Relaxed);
        }
        old
    }

    /// Empties every database atomically; returns the old shards.
    pub fn flush_all(&self, now: u64) -> Vec<Shard> {
        let mut guards: Vec<_> = self.dbs.iter().flat_map(|d| d.shards.iter()).map(|s| s.write()).collect();
        for db in 0..self.dbs.len() {
            let shards = &guards[db * SHARDS..(db + 1) * SHARDS];
            self.watches.touch_db(db, None, |_, key| key_state(shards, key, now));
        }
        let old = guards.iter_mut().map(|g| g.take()).collect();
        for slot in self.dbs.iter().flat_map(|d| d.shards.iter()) {
            slot.next_due.store(u64::MAX, Ordering::Relaxed);
        }
        old
    }

    /// Swaps the contents of two databases atomically (SWAPDB).
    pub fn swap_db(&self, a: usize, b: usize, now: u64) {
        if a == b {
            return;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let mut ga: Vec<_> = self.dbs[lo].shards.iter().map(|s| s.write()).collect();
        let mut gb: Vec<_> = self.dbs[hi].shards.iter().map(|s| s.write()).collect();
        let state = |db: usize, key: &[u8]| key_state(if db == lo { &ga } else { &gb }, key, now);
        self.watches.touch_db(lo, Some(hi), state);
        self.watches.touch_db(hi, Some(lo), state);
        for (x, y) in ga.iter_mut().zip(gb.iter_mut()) {
            x.swap_with(y);
        }
        for (i, (x, y)) in ga.iter().zip(gb.iter()).enumerate() {
            self.dbs[lo].shards[i].next_due.store(x.next_due(), Ordering::Relaxed);
            self.dbs[hi].shards[i].next_due.store(y.next_due(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
