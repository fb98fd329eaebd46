//! One key and its value in a single allocation behind a thin pointer.
//!
//! A lock server holds millions of small keys (`lock:<id>` → 20-byte token), so the per-key
//! footprint matters more than anything else in the keyspace. An [`Entry`] is one pointer (8
//! bytes in the hash table) to a block laid out as:
//!
//! ```text
//! +-----------+-------+---------+---------+---------+-----------+-------------------+
//! | expire_at | timer | meta    | key_len | val_len | key bytes | value bytes       |
//! | u64       | u32   | u32 *   | u32     | u32     |           | (or i64 / pointer)|
//! +-----------+-------+---------+---------+---------+-----------+-------------------+
//!   * meta = kind (8 bits) | LRU clock (24 bits), updated atomically on reads
//! ```
//!
//! A lock key costs one 56-byte block plus its table slot. Values are immutable in place; a
//! command that changes a value builds a new entry, except for [`Kind::HeapStr`], a `Vec<u8>` that
//! APPEND and SETRANGE grow in place (Redis reports these as `raw`).
//!
//! All `unsafe` in the keyspace lives in this module. Invariants:
//! * the block was allocated with [`Entry::layout`] for its `key_len`/`val_len` and is freed once,
//!   by `Drop`;
//! * for pointer kinds, the value bytes hold a pointer from `Box::into_raw` owned by the entry;
//! * only `meta` is written through a shared reference (atomically); every other write needs
//!   `&mut Entry`.

use crate::types::{Hash, List, Set, ZSet};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// `expire_at` of a key without a TTL.
pub const NO_EXPIRE: u64 = u64::MAX;
/// `timer` of a key without a wheel timer.
pub const NO_TIMER: u32 = u32::MAX;
/// Largest integer-looking value stored as an integer (Redis: 20 bytes, `string2ll` rules).
const INT_MAX_LEN: usize = 20;
/// Redis reports strings up to this length as `embstr`, longer ones as `raw`.
pub const EMBSTR_MAX: usize = 44;
/// Mask of the 24-bit LRU clock in `meta`.
pub const LRU_MASK: u32 = (1 << 24) - 1;
/// Bit of `meta` marking a lock: a key granted by SET NX with a TTL or by LOCK.ACQUIRE. It does
/// not change what the key is (a string); expiry counts a lock that expires while held and
/// applies `lock-delay` to it.
const LOCK_FLAG: u32 = 0x80 << 24;
/// Bytes of a [`Kind::Lock`] value after the owner: token, acquisition time, extensions.
const LOCK_TRAILER: usize = 8 + 8 + 4 + 4;

/// The representation of a value, which also decides `TYPE` and `OBJECT ENCODING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A string stored inline after the key.
    Str = 0,
    /// A string that looked like a 64-bit integer, stored as one.
    Int = 1,
    /// A string in its own growable buffer (after APPEND/SETRANGE).
    HeapStr = 2,
    /// A list (boxed).
    List = 3,
    /// A hash (boxed).
    Hash = 4,
    /// A set (boxed).
    Set = 5,
    /// A sorted set (boxed).
    ZSet = 6,
    /// A lock granted by LOCK.ACQUIRE: a string (the owner) stored inline, followed by its
    /// [`LockMeta`].
    Lock = 7,
}

impl Kind {
    fn from_u8(k: u8) -> Kind {
        match k & 0x7f {
            1 => Kind::Int,
            2 => Kind::HeapStr,
            3 => Kind::List,
            4 => Kind::Hash,
            5 => Kind::Set,
            6 => Kind::ZSet,
            7 => Kind::Lock,
            _ => Kind::Str,
        }
    }

    /// Whether the value bytes hold an owned pointer.
    fn is_pointer(self) -> bool {
        !matches!(self, Kind::Str | Kind::Int | Kind::Lock)
    }
}

/// What a lock granted by LOCK.ACQUIRE records besides its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockMeta {
    /// The fencing token it was granted with (or raised to by LOCK.FENCE).
    pub token: u64,
    /// Wall-clock Unix ms of the acquisition.
    pub acquired_ms: i64,
    /// LOCK.EXTENDs since.
    pub extensions: u32,
}

impl LockMeta {
    fn to_bytes(self) -> [u8; LOCK_TRAILER] {
        let mut b = [0u8; LOCK_TRAILER];
        b[..8].copy_from_slice(&self.token.to_le_bytes());
        b[8..16].copy_from_slice(&self.acquired_ms.to_le_bytes());
        b[16..20].copy_from_slice(&self.extensions.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> LockMeta {
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[..8]);
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[8..16]);
        let mut e = [0u8; 4];
        e.copy_from_slice(&b[16..20]);
        LockMeta { token: u64::from_le_bytes(t), acquired_ms: i64::from_le_bytes(a), extensions: u32::from_le_bytes(e) }
    }
}

/// The Redis data type of a value, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `string`.
    String,
    /// `list`.
    List,
    /// `hash`.
    Hash,
    /// `set`.
    Set,
    /// `zset`.
    ZSet,
}

impl Type {
    /// The name `TYPE` replies with.
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::List => "list",
            Type::Hash => "hash",
            Type::Set => "set",
            Type::ZSet => "zset",
        }
    }
}

/// A borrowed view of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// String bytes.
    Str(&'a [u8]),
    /// An integer-encoded string.
    Int(i64),
}

impl Value<'_> {
    /// Length of the string form (STRLEN).
    pub fn str_len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Int(i) => itoa::Buffer::new().format(*i).len(),
        }
    }

    /// Appends the string form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Value::Str(b) => out.extend_from_slice(b),
            Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        }
    }

    /// The string form as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.str_len());
        self.write_to(&mut v);
        v
    }
}

/// What a new entry holds, before the representation is chosen.
pub enum NewValue<'a> {
    /// String bytes: stored as an integer when they look like one (Redis' `int` encoding),
    /// otherwise inline.
    Str(&'a [u8]),
    /// String bytes stored inline as they are, never as an integer (INCRBYFLOAT results).
    Exact(&'a [u8]),
    /// An integer.
    Int(i64),
    /// A growable string buffer (`raw`).
    Raw(Vec<u8>),
    /// A list.
    List(List),
    /// A hash.
    Hash(Hash),
    /// A set.
    Set(Set),
    /// A sorted set.
    ZSet(ZSet),
    /// A lock: its owner (the string value) and what LOCK.INFO reports.
    Lock(&'a [u8], LockMeta),
}

#[repr(C)]
struct Header {
    expire_at: u64,
    timer: u32,
    meta: AtomicU32,
    key_len: u32,
    val_len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

/// A key and its value. See the module documentation for the layout.
pub struct Entry {
    ptr: NonNull<Header>,
}

// SAFETY: an Entry owns its block exclusively (like a Box). Shared references only read, except
// `meta`, which is atomic, so sharing across threads is sound.
unsafe impl Send for Entry {}
// SAFETY: see above.
unsafe impl Sync for Entry {}

impl Entry {
    fn layout(key_len: usize, val_len: usize) -> Layout {
        // The sizes come from in-memory slices, so they cannot overflow isize in practice; an
        // impossible size is an allocation failure, not a panic on client input.
        Layout::from_size_align(HEADER + key_len + val_len, 8)
            .unwrap_or_else(|_| handle_alloc_error(Layout::new::<Header>()))
    }

    /// Allocates an entry and copies `key` and `val` into it.
    fn alloc(key: &[u8], kind: Kind, val: &[u8], lru: u32) -> Entry {
        assert!(key.len() <= u32::MAX as usize && val.len() <= u32::MAX as usize, "key or value above 4 GiB");
        let layout = Self::layout(key.len(), val.len());
        // SAFETY: the layout has a non-zero size (the header).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else { handle_alloc_error(layout) };
        // SAFETY: `raw` is a fresh block of `layout.size()` bytes aligned for Header; the header
        // and both byte ranges lie within it and do not overlap the sources.
        unsafe {
            ptr.as_ptr().write(Header {
                expire_at: NO_EXPIRE,
                timer: NO_TIMER,
                meta: AtomicU32::new((u32::from(kind as u8) << 24) | (lru & LRU_MASK)),
                key_len: key.len() as u32,
                val_len: val.len() as u32,
            });
            let body = raw.add(HEADER);
            std::ptr::copy_nonoverlapping(key.as_ptr(), body, key.len());
            std::ptr::copy_nonoverlapping(val.as_ptr(), body.add(key.len()), val.len());
        }
        Entry { ptr }
    }

    /// Builds an entry for `key` holding `value`; `lru` is the current LRU clock.
    pub fn new(key: &[u8], value: NewValue<'_>, lru: u32) -> Entry {
        match value {
            NewValue::Str(s) => {
                if s.len() <= INT_MAX_LEN {
                    if let Some(i) = tumbler_proto::num::parse_i64(s) {
                        return Self::alloc(key, Kind::Int, &i.to_le_bytes(), lru);
                    }
                }
                Self::alloc(key, Kind::Str, s, lru)
            }
            NewValue::Exact(s) => Self::alloc(key, Kind::Str, s, lru),
            NewValue::Int(i) => Self::alloc(key, Kind::Int, &i.to_le_bytes(), lru),
            NewValue::Raw(v) => Self::boxed(key, Kind::HeapStr, Box::new(v), lru),
            NewValue::List(v) => Self::boxed(key, Kind::List, Box::new(v), lru),
            NewValue::Hash(v) => Self::boxed(key, Kind::Hash, Box::new(v), lru),
            NewValue::Set(v) => Self::boxed(key, Kind::Set, Box::new(v), lru),
            NewValue::ZSet(v) => Self::boxed(key, Kind::ZSet, Box::new(v), lru),
            NewValue::Lock(owner, meta) => {
                let mut v = Vec::with_capacity(owner.len() + LOCK_TRAILER);
                v.extend_from_slice(owner);
                v.extend_from_slice(&meta.to_bytes());
                let e = Self::alloc(key, Kind::Lock, &v, lru);
                e.mark_lock();
                e
            }
        }
    }

    /// Marks the entry as a lock (see [`LOCK_FLAG`]).
    #[inline]
    pub fn mark_lock(&self) {
        self.header().meta.fetch_or(LOCK_FLAG, Ordering::Relaxed);
    }

    /// Whether the entry is a lock (granted by SET NX with a TTL or by LOCK.ACQUIRE).
    #[inline]
    pub fn is_lock(&self) -> bool {
        self.header().meta.load(Ordering::Relaxed) & LOCK_FLAG != 0
    }

    /// The record of a lock granted by LOCK.ACQUIRE.
    pub fn lock_meta(&self) -> Option<LockMeta> {
        (self.kind() == Kind::Lock).then(|| {
            let v = self.val_bytes();
            LockMeta::from_bytes(&v[v.len() - LOCK_TRAILER..])
        })
    }

    /// Rewrites the record of a LOCK.ACQUIRE lock in place (LOCK.EXTEND, LOCK.FENCE).
    pub fn set_lock_meta(&mut self, meta: LockMeta) {
        if self.kind() != Kind::Lock {
            return;
        }
        let h = self.header();
        let (key_len, val_len) = (h.key_len as usize, h.val_len as usize);
        // SAFETY: the trailer is the last LOCK_TRAILER value bytes of this block, and `&mut
        // self` gives exclusive access.
        unsafe {
            let at = self.ptr.as_ptr().cast::<u8>().add(HEADER + key_len + val_len - LOCK_TRAILER);
            std::ptr::copy_nonoverlapping(meta.to_bytes().as_ptr(), at, LOCK_TRAILER);
        }
    }

    /// Stores a boxed value's pointer as the entry's value bytes; the entry owns the box from
    /// now on (see `Drop`, which must turn it back into the same type for `kind`).
    fn boxed<T>(key: &[u8], kind: Kind, b: Box<T>, lru: u32) -> Entry {
        let p = Box::into_raw(b) as usize;
        Self::alloc(key, kind, &p.to_le_bytes(), lru)
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: ptr points to a live, initialized header (module invariant).
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    fn header_mut(&mut self) -> &mut Header {
        // SAFETY: as above, and `&mut self` gives exclusive access.
        unsafe { self.ptr.as_mut() }
    }

    /// The address of the entry's block (for prefetching it).
    #[inline]
    pub(crate) fn block(&self) -> *const u8 {
        self.ptr.as_ptr().cast()
    }

    #[inline]
    fn body(&self) -> *const u8 {
        // SAFETY: the body starts right after the header inside the same block.
        unsafe { self.ptr.as_ptr().cast::<u8>().add(HEADER) }
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: key_len bytes of key follow the header (module invariant).
        unsafe { std::slice::from_raw_parts(self.body(), h.key_len as usize) }
    }

    #[inline]
    fn val_bytes(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: val_len value bytes follow the key.
        unsafe { std::slice::from_raw_parts(self.body().add(h.key_len as usize), h.val_len as usize) }
    }

    #[inline]
    fn pointer(&self) -> usize {
        let mut b = [0u8; std::mem::size_of::<usize>()];
        b.copy_from_slice(&self.val_bytes()[..std::mem::size_of::<usize>()]);
        usize::from_le_bytes(b)
    }

    /// The representation.
    #[inline]
    pub fn kind(&self) -> Kind {
        Kind::from_u8((self.header().meta.load(Ordering::Relaxed) >> 24) as u8)
    }

    /// The owner bytes of a [`Kind::Lock`] value.
    fn lock_owner(&self) -> &[u8] {
        let v = self.val_bytes();
        &v[..v.len() - LOCK_TRAILER]
    }

    /// The Redis type.
    #[inline]
    pub fn value_type(&self) -> Type {
        match self.kind() {
            Kind::Str | Kind::Int | Kind::HeapStr | Kind::Lock => Type::String,
            Kind::List => Type::List,
            Kind::Hash => Type::Hash,
            Kind::Set => Type::Set,
            Kind::ZSet => Type::ZSet,
        }
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        match self.kind() {
            Kind::Int => "int",
            Kind::Str if self.val_bytes().len() <= EMBSTR_MAX => "embstr",
            Kind::Lock if self.lock_owner().len() <= EMBSTR_MAX => "embstr",
            Kind::Str | Kind::HeapStr | Kind::Lock => "raw",
            // Redis 7.0 always reports quicklist for lists.
            Kind::List => "quicklist",
            Kind::Hash => self.hash().map_or("", Hash::encoding),
            Kind::Set => self.set().map_or("", Set::encoding),
            Kind::ZSet => self.zset().map_or("", ZSet::encoding),
        }
    }

    /// The value as a string, or `None` for the aggregate types.
    #[inline]
    pub fn string(&self) -> Option<Value<'_>> {
        match self.kind() {
            Kind::Str => Some(Value::Str(self.val_bytes())),
            Kind::Lock => Some(Value::Str(self.lock_owner())),
            Kind::Int => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.val_bytes()[..8]);
                Some(Value::Int(i64::from_le_bytes(b)))
            }
            Kind::HeapStr => Some(Value::Str(self.heap_str())),
            _ => None,
        }
    }

    /// The string value; an aggregate reads as the empty string (callers check the type first).
    #[inline]
    pub fn value(&self) -> Value<'_> {
        self.string().unwrap_or(Value::Str(b""))
    }

    /// The boxed value of a pointer kind, as `&T`.
    ///
    /// # Safety
    /// `T` must be the type stored for `self.kind()`.
    unsafe fn boxed_ref<T>(&self) -> &T {
        // SAFETY: the caller guarantees the type; the pointer is live and owned by us.
        unsafe { &*(self.pointer() as *const T) }
    }

    /// As [`Entry::boxed_ref`], mutably.
    ///
    /// # Safety
    /// `T` must be the type stored for `self.kind()`.
    unsafe fn boxed_mut<T>(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` gives exclusive access.
        unsafe { &mut *(self.pointer() as *mut T) }
    }

    fn heap_str(&self) -> &Vec<u8> {
        // SAFETY: only called for HeapStr, which stores a Box<Vec<u8>>.
        unsafe { self.boxed_ref::<Vec<u8>>() }
    }

    /// The growable buffer of a `HeapStr` entry.
    pub fn heap_str_mut(&mut self) -> Option<&mut Vec<u8>> {
        // SAFETY: HeapStr stores a Box<Vec<u8>>.
        (self.kind() == Kind::HeapStr).then(|| unsafe { self.boxed_mut::<Vec<u8>>() })
    }

    /// The list, if this is one.
    pub fn list(&self) -> Option<&List> {
        // SAFETY: List stores a Box<List>.
        (self.kind() == Kind::List).then(|| unsafe { self.boxed_ref::<List>() })
    }

    /// The list, mutably.
    pub fn list_mut(&mut self) -> Option<&mut List> {
        // SAFETY: List stores a Box<List>.
        (self.kind() == Kind::List).then(|| unsafe { self.boxed_mut::<List>() })
    }

    /// The hash, if this is one.
    pub fn hash(&self) -> Option<&Hash> {
        // SAFETY: Hash stores a Box<Hash>.
        (self.kind() == Kind::Hash).then(|| unsafe { self.boxed_ref::<Hash>() })
    }

    /// The hash, mutably.
    pub fn hash_mut(&mut self) -> Option<&mut Hash> {
        // SAFETY: Hash stores a Box<Hash>.
        (self.kind() == Kind::Hash).then(|| unsafe { self.boxed_mut::<Hash>() })
    }

    /// The set, if this is one.
    pub fn set(&self) -> Option<&Set> {
        // SAFETY: Set stores a Box<Set>.
        (self.kind() == Kind::Set).then(|| unsafe { self.boxed_ref::<Set>() })
    }

    /// The set, mutably.
    pub fn set_mut(&mut self) -> Option<&mut Set> {
        // SAFETY: Set stores a Box<Set>.
        (self.kind() == Kind::Set).then(|| unsafe { self.boxed_mut::<Set>() })
    }

    /// The sorted set, if this is one.
    pub fn zset(&self) -> Option<&ZSet> {
        // SAFETY: ZSet stores a Box<ZSet>.
        (self.kind() == Kind::ZSet).then(|| unsafe { self.boxed_ref::<ZSet>() })
    }

    /// The sorted set, mutably.
    pub fn zset_mut(&mut self) -> Option<&mut ZSet> {
        // SAFETY: ZSet stores a Box<ZSet>.
        (self.kind() == Kind::ZSet).then(|| unsafe { self.boxed_mut::<ZSet>() })
    }

    /// Monotonic deadline in ms, or [`NO_EXPIRE`].
    #[inline]
    pub fn expire_at(&self) -> u64 {
        self.header().expire_at
    }

    /// True when the key has a TTL and `now` is past it. Like Redis, a key is still alive at
    /// exactly its deadline.
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        let at = self.header().expire_at;
        at != NO_EXPIRE && now > at
    }

    /// Sets the deadline field (the keyspace keeps the wheel in step).
    #[inline]
    pub(crate) fn set_expire_at(&mut self, at: u64) {
        self.header_mut().expire_at = at;
    }

    /// The wheel timer, or [`NO_TIMER`].
    #[inline]
    pub(crate) fn timer(&self) -> u32 {
        self.header().timer
    }

    #[inline]
    pub(crate) fn set_timer(&mut self, t: u32) {
        self.header_mut().timer = t;
    }

    /// Records an access at LRU clock `lru`. Writes only when the clock moved, so concurrent
    /// readers of a hot key do not keep dirtying its cache line.
    #[inline]
    pub fn touch(&self, lru: u32) {
        let m = &self.header().meta;
        let cur = m.load(Ordering::Relaxed);
        let want = (cur & !LRU_MASK) | (lru & LRU_MASK);
        if cur != want {
            m.store(want, Ordering::Relaxed);
        }
    }

    /// The LRU clock of the last access.
    pub fn lru(&self) -> u32 {
        self.header().meta.load(Ordering::Relaxed) & LRU_MASK
    }

    /// Bytes this entry occupies on the heap (block plus owned buffers), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        let h = self.header();
        let block = HEADER + h.key_len as usize + h.val_len as usize;
        let extra = match self.kind() {
            Kind::Str | Kind::Int | Kind::Lock => 0,
            Kind::HeapStr => std::mem::size_of::<Vec<u8>>() + self.heap_str().capacity(),
            Kind::List => std::mem::size_of::<List>() + self.list().map_or(0, List::bytes),
            Kind::Hash => std::mem::size_of::<Hash>() + self.hash().map_or(0, Hash::bytes),
            Kind::Set => std::mem::size_of::<Set>() + self.set().map_or(0, Set::bytes),
            Kind::ZSet => std::mem::size_of::<ZSet>() + self.zset().map_or(0, ZSet::bytes),
        };
        block + extra
    }

    /// A copy of this entry under another key (COPY, RENAME), without TTL or timer.
    pub fn clone_as(&self, key: &[u8], lru: u32) -> Entry {
        let v = match self.kind() {
            Kind::HeapStr => NewValue::Raw(self.heap_str().clone()),
            Kind::Int | Kind::Str => match self.value() {
                Value::Int(i) => NewValue::Int(i),
                Value::Str(s) => NewValue::Exact(s),
            },
            Kind::List => NewValue::List(self.list().cloned().unwrap_or_default()),
            Kind::Hash => NewValue::Hash(self.hash().cloned().unwrap_or_default()),
            Kind::Set => NewValue::Set(self.set().cloned().unwrap_or_default()),
            Kind::ZSet => NewValue::ZSet(self.zset().cloned().unwrap_or_default()),
            // A copied lock is a plain string: the copy was not granted to anyone.
            Kind::Lock => NewValue::Exact(self.lock_owner()),
        };
        Entry::new(key, v, lru)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let (kind, key_len, val_len) = {
            let h = self.header();
            (self.kind(), h.key_len as usize, h.val_len as usize)
        };
        if kind.is_pointer() {
            let p = self.pointer();
            // SAFETY: the pointer came from Box::into_raw of the type this kind stands for and is
            // dropped exactly once, here.
            unsafe {
                match kind {
                    Kind::HeapStr => drop(Box::from_raw(p as *mut Vec<u8>)),
                    Kind::List => drop(Box::from_raw(p as *mut List)),
                    Kind::Hash => drop(Box::from_raw(p as *mut Hash)),
                    Kind::Set => drop(Box::from_raw(p as *mut Set)),
                    Kind::ZSet => drop(Box::from_raw(p as *mut ZSet)),
                    Kind::Str | Kind::Int | Kind::Lock => {}
                }
            }
        }
        // SAFETY: the block was allocated with this exact layout and is freed once.
        unsafe { dealloc(self.ptr.as_ptr().cast::<u8>(), Self::layout(key_len, val_len)) }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("kind", &self.kind())
            .field("expire_at", &self.expire_at())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_compact() {
        assert_eq!(HEADER, 24);
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 8);
    }

    #[test]
    fn strings_and_ints() {
        let e = Entry::new(b"lock:1", NewValue::Str(b"\x00\xfftoken"), 5);
        assert_eq!(e.key(), b"lock:1");
        assert_eq!(e.value(), Value::Str(b"\x00\xfftoken"));
        assert_eq!(e.encoding(), "embstr");
        assert_eq!(e.lru(), 5);
        let i = Entry::new(b"n", NewValue::Str(b"-42"), 0);
        assert_eq!(i.value(), Value::Int(-42));
        assert_eq!(i.encoding(), "int");
        assert_eq!(i.value().to_vec(), b"-42");
        for not_int in [&b"012"[..], b"+1", b"-0", b" 1", b"9223372036854775808"] {
            assert_eq!(Entry::new(b"n", NewValue::Str(not_int), 0).kind(), Kind::Str);
        }
        let long = vec![b'x'; 45];
        assert_eq!(Entry::new(b"k", NewValue::Str(&long), 0).encoding(), "raw");
        assert_eq!(Entry::new(b"k", NewValue::Exact(b"4"), 0).encoding(), "embstr");
        assert_eq!(Entry::new(b"", NewValue::Str(b""), 0).value(), Value::Str(b""));
    }

    #[test]
    fn heap_strings_grow_in_place() {
        let mut e = Entry::new(b"k", NewValue::Raw(b"ab".to_vec()), 0);
        e.heap_str_mut().expect("heap").extend_from_slice(b"cd");
        assert_eq!(e.value(), Value::Str(b"abcd"));
        assert_eq!(e.encoding(), "raw");
        let c = e.clone_as(b"k2", 0);
        drop(e);
        assert_eq!(c.value(), Value::Str(b"abcd"));
        assert_eq!(c.key(), b"k2");
    }

    #[test]
    fn expiry_fields() {
        let mut e = Entry::new(b"k", NewValue::Str(b"v"), 0);
        assert!(!e.is_expired(u64::MAX - 1));
        e.set_expire_at(100);
        assert!(!e.is_expired(100));
        assert!(e.is_expired(101));
        e.set_timer(7);
        assert_eq!(e.timer(), 7);
        e.touch(9);
        assert_eq!(e.lru(), 9);
        assert_eq!(e.kind(), Kind::Str);
    }
}
