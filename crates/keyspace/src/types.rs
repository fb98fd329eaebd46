//! The aggregate value types: lists, hashes, sets and sorted sets.
//!
//! Each keeps a running count of the heap bytes it holds, so memory accounting stays O(1) per
//! change. Small hashes, integer sets and small sorted sets use compact representations that
//! also reproduce Redis' observable behaviour: a small hash iterates in insertion order (Redis'
//! listpack), an integer set iterates in ascending order (Redis' intset), and the reported
//! encoding switches at the same thresholds.

use std::collections::{HashMap, HashSet, VecDeque};

/// Per-element bookkeeping cost assumed for a boxed byte string (pointer, length, allocator).
const ITEM_OVERHEAD: usize = 24;

fn item_bytes(b: &[u8]) -> usize {
    b.len() + ITEM_OVERHEAD
}

/// Encoding limits (Redis' `*-max-listpack-*` and `set-max-intset-entries`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// hash-max-listpack-entries.
    pub hash_entries: usize,
    /// hash-max-listpack-value.
    pub hash_value: usize,
    /// set-max-intset-entries.
    pub set_intset_entries: usize,
    /// zset-max-listpack-entries.
    pub zset_entries: usize,
    /// zset-max-listpack-value.
    pub zset_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { hash_entries: 128, hash_value: 64, set_intset_entries: 512, zset_entries: 128, zset_value: 64 }
    }
}

// ---------------------------------------------------------------------------------------------

/// A list.
#[derive(Default, Clone, Debug)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
    bytes: usize,
}

impl List {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty (an empty list is deleted by the keyspace layer).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes + self.items.capacity() * std::mem::size_of::<Box<[u8]>>()
    }

    /// Adds at the head.
    pub fn push_front(&mut self, v: &[u8]) {
        self.bytes += item_bytes(v);
        self.items.push_front(v.into());
    }

    /// Adds at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        self.bytes += item_bytes(v);
        self.items.push_back(v.into());
    }

    /// Removes from the head.
    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_front()?;
        self.bytes -= item_bytes(&v);
        Some(v)
    }

    /// Removes from the tail.
    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_back()?;
        self.bytes -= item_bytes(&v);
        Some(v)
    }

    /// The element at `i` (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).map(|b| &**b)
    }

    /// Replaces the element at `i`.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        let Some(slot) = self.items.get_mut(i) else { return false };
        self.bytes = self.bytes - item_bytes(slot) + item_bytes(v);
        *slot = v.into();
        true
    }

    /// Inserts at position `i`.
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        self.bytes += item_bytes(v);
        self.items.insert(i, v.into());
    }

    /// Removes the element at `i`.
    pub fn remove(&mut self, i: usize) -> Option<Box<[u8]>> {
        let v = self.items.remove(i)?;
        self.bytes -= item_bytes(&v);
        Some(v)
    }

    /// Iterates from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|b| &**b)
    }

    /// Keeps only elements `start..=end` (already normalized, start <= end < len).
    pub fn trim(&mut self, start: usize, end: usize) {
        let tail: Vec<Box<[u8]>> = self.items.drain(end + 1..).collect();
        let head: Vec<Box<[u8]>> = self.items.drain(..start).collect();
        for v in tail.iter().chain(head.iter()) {
            self.bytes -= item_bytes(v);
        }
    }

    /// Removes every element equal to `v`, at most `count` of them (0: all), scanning from
    /// the head (`from_tail` false) or the tail. Returns how many were removed.
    pub fn remove_value(&mut self, v: &[u8], count: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        if from_tail {
            let mut i = self.items.len();
            while i > 0 && (count == 0 || removed < count) {
                i -= 1;
                if &*self.items[i] == v {
                    self.remove(i);
                    removed += 1;
                }
            }
        } else {
            let mut i = 0;
            while i < self.items.len() && (count == 0 || removed < count) {
                if &*self.items[i] == v {
                    self.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        }
        removed
    }
}

// ---------------------------------------------------------------------------------------------

/// A hash: insertion-ordered pairs while small, a hash map beyond Redis' listpack limits.
#[derive(Clone, Debug, Default)]
pub struct Hash {
    repr: HashRepr,
    bytes: usize,
}

/// A field and its value.
type Pair = (Box<[u8]>, Box<[u8]>);

#[derive(Clone, Debug)]
enum HashRepr {
    /// Redis' listpack encoding: insertion order is iteration order.
    Small(Vec<Pair>),
    /// Redis' hashtable encoding.
    Large(HashMap<Box<[u8]>, Box<[u8]>>),
}

impl Default for HashRepr {
    fn default() -> Self {
        HashRepr::Small(Vec::new())
    }
}

impl Hash {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            HashRepr::Small(v) => v.len(),
            HashRepr::Large(m) => m.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            HashRepr::Small(_) => "listpack",
            HashRepr::Large(_) => "hashtable",
        }
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
            + match &self.repr {
                HashRepr::Small(v) => v.capacity() * 32,
                HashRepr::Large(m) => m.capacity() * 40,
            }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            HashRepr::Small(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            HashRepr::Large(m) => m.get(field).map(|v| &**v),
        }
    }

    /// Sets `field` to `value`; returns true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Limits) -> bool {
        let mut convert = false;
        let new = match &mut self.repr {
            HashRepr::Small(v) => match v.iter_mut().find(|(f, _)| &**f == field) {
                Some(slot) => {
                    self.bytes = self.bytes - item_bytes(&slot.1) + item_bytes(value);
                    slot.1 = value.into();
                    convert = value.len() > limits.hash_value;
                    false
                }
                None => {
                    v.push((field.into(), value.into()));
                    self.bytes += item_bytes(field) + item_bytes(value);
                    convert = v.len() > limits.hash_entries
                        || field.len() > limits.hash_value
                        || value.len() > limits.hash_value;
                    true
                }
            },
            HashRepr::Large(m) => match m.insert(field.into(), value.into()) {
                Some(old) => {
                    self.bytes = self.bytes - item_bytes(&old) + item_bytes(value);
                    false
                }
                None => {
                    self.bytes += item_bytes(field) + item_bytes(value);
                    true
                }
            },
        };
        if convert {
            if let HashRepr::Small(v) = &mut self.repr {
                let m: HashMap<Box<[u8]>, Box<[u8]>> = std::mem::take(v).into_iter().collect();
                self.repr = HashRepr::Large(m);
            }
        }
        new
    }

    /// Removes `field`; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = match &mut self.repr {
            HashRepr::Small(v) => v.iter().position(|(f, _)| &**f == field).map(|i| v.remove(i)),
            HashRepr::Large(m) => m.remove_entry(field),
        };
        match removed {
            Some((f, v)) => {
                self.bytes -= item_bytes(&f) + item_bytes(&v);
                true
            }
            None => false,
        }
    }

    /// Iterates over (field, value) pairs in the encoding's order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            HashRepr::Small(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            HashRepr::Large(m) => Box::new(m.iter().map(|(f, v)| (&**f, &**v))),
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// A set: sorted integers while every member is one (Redis' intset), a hash set otherwise.
#[derive(Clone, Debug)]
pub enum Set {
    /// Redis' intset: ascending order.
    Ints(Vec<i64>),
    /// Redis' hashtable.
    Members(HashSet<Box<[u8]>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

impl Set {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Members(s) => s.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Members(_) => "hashtable",
        }
    }

    /// Heap bytes held (members are counted by size, table slots by capacity).
    pub fn bytes(&self) -> usize {
        match self {
            Set::Ints(v) => v.capacity() * 8,
            // A hash set of members: element bytes are not tracked per change (SADD of a
            // hashtable set is O(1)); each slot is charged a typical member size instead.
            Set::Members(s) => s.capacity() * (24 + 16),
        }
    }

    /// Membership test.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => tumbler_proto::num::parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Set::Members(s) => s.contains(m),
        }
    }

    /// Adds a member; returns true when it is new.
    pub fn insert(&mut self, m: &[u8], limits: &Limits) -> bool {
        if let Set::Ints(v) = self {
            if let Some(i) = tumbler_proto::num::parse_i64(m) {
                return match v.binary_search(&i) {
                    Ok(_) => false,
                    Err(pos) => {
                        v.insert(pos, i);
                        if v.len() > limits.set_intset_entries {
                            self.convert();
                        }
                        true
                    }
                };
            }
            self.convert();
        }
        match self {
            Set::Members(s) => s.insert(m.into()),
            Set::Ints(_) => false,
        }
    }

    fn convert(&mut self) {
        if let Set::Ints(v) = self {
            let s: HashSet<Box<[u8]>> = v.iter().map(|i| itoa::Buffer::new().format(*i).as_bytes().into()).collect();
            *self = Set::Members(s);
        }
    }

    /// Removes a member; returns whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match tumbler_proto::num::parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            Set::Members(s) => s.remove(m),
        }
    }

    /// Members as byte strings, in the encoding's order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            Set::Ints(v) => v.iter().map(|i| itoa::Buffer::new().format(*i).as_bytes().to_vec()).collect(),
            Set::Members(s) => s.iter().map(|m| m.to_vec()).collect(),
        }
    }

    /// The member at position `i` of the encoding's order (for random picks).
    pub fn nth(&self, i: usize) -> Option<Vec<u8>> {
        match self {
            Set::Ints(v) => v.get(i).map(|n| itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Set::Members(s) => s.iter().nth(i).map(|m| m.to_vec()),
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// A sorted set: members ordered by (score, member bytes), with a member → score index.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    /// Sorted by (score, member).
    sorted: Vec<(f64, Box<[u8]>)>,
    /// Member → score, kept once the set leaves the small encoding.
    index: Option<HashMap<Box<[u8]>, f64>>,
    bytes: usize,
}

fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> std::cmp::Ordering {
    a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(b.1))
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// OBJECT ENCODING: listpack while small, skiplist beyond the limits (never back).
    pub fn encoding(&self) -> &'static str {
        if self.index.is_some() {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes + self.sorted.capacity() * 24 + self.index.as_ref().map_or(0, |m| m.capacity() * 40)
    }

    /// Score of `m`.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.index {
            Some(ix) => ix.get(m).copied(),
            None => self.sorted.iter().find(|(_, x)| &**x == m).map(|(s, _)| *s),
        }
    }

    fn position(&self, score: f64, m: &[u8]) -> Result<usize, usize> {
        self.sorted.binary_search_by(|(s, x)| cmp_entry((*s, x), (score, m)))
    }

    /// Sets the score of `m` (adding it if absent). Returns true when the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64, limits: &Limits) -> bool {
        let old = self.score(m);
        // Leave the listpack encoding before inserting when the insertion will exceed its
        // limits, as Redis does (with zset-max-listpack-entries 0 the first member already
        // lands in a skiplist).
        if self.index.is_none()
            && ((old.is_none() && self.sorted.len() + 1 > limits.zset_entries) || m.len() > limits.zset_value)
        {
            self.index = Some(self.sorted.iter().map(|(s, x)| (x.clone(), *s)).collect());
        }
        // Redis' listpack stores a zero score as the integer 0, so -0 reads back as 0 while the
        // set is small; the skiplist keeps the sign.
        let score = if self.index.is_none() && score == 0.0 { 0.0 } else { score };
        if let Some(o) = old {
            if let Ok(i) = self.position(o, m) {
                self.sorted.remove(i);
            }
        } else {
            self.bytes += item_bytes(m);
        }
        let pos = self.position(score, m).unwrap_or_else(|p| p);
        self.sorted.insert(pos, (score, m.into()));
        if let Some(ix) = &mut self.index {
            ix.insert(m.into(), score);
        }
        old.is_none()
    }

    /// Removes `m`; returns whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let Some(s) = self.score(m) else { return false };
        if let Ok(i) = self.position(s, m) {
            self.sorted.remove(i);
        }
        if let Some(ix) = &mut self.index {
            ix.remove(m);
        }
        self.bytes -= item_bytes(m);
        true
    }

    /// 0-based rank of `m` in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        self.position(s, m).ok()
    }

    /// The element at ascending rank `i`.
    pub fn at(&self, i: usize) -> Option<(f64, &[u8])> {
        self.sorted.get(i).map(|(s, m)| (*s, &**m))
    }

    /// Iterates in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (f64, &[u8])> + ExactSizeIterator {
        self.sorted.iter().map(|(s, m)| (*s, &**m))
    }

    /// Index of the first element that is not below `score` (or above it when `exclusive`).
    pub fn lower_bound(&self, score: f64, exclusive: bool) -> usize {
        self.sorted.partition_point(|(s, _)| if exclusive { *s <= score } else { *s < score })
    }

    /// Index of the first element whose member is not below `m` (or above when exclusive),
    /// assuming all scores are equal (lexicographic ranges).
    pub fn lex_lower_bound(&self, m: &[u8], exclusive: bool) -> usize {
        self.sorted.partition_point(|(_, x)| if exclusive { &**x <= m } else { &**x < m })
    }

    /// Removes the elements at ascending ranks `start..end`.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let removed: Vec<(f64, Box<[u8]>)> = self.sorted.drain(start..end).collect();
        for (_, m) in &removed {
            self.bytes -= item_bytes(m);
            if let Some(ix) = &mut self.index {
                ix.remove(m);
            }
        }
        removed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hashes_keep_insertion_order_and_convert() {
        let l = Limits { hash_entries: 3, ..Limits::default() };
        let mut h = Hash::default();
        assert!(h.set(b"b", b"1", &l));
        assert!(h.set(b"a", b"2", &l));
        assert!(!h.set(b"b", b"3", &l));
        let order: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
        assert_eq!(order, vec![&b"b"[..], b"a"]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", b"", &l);
        h.set(b"d", b"", &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
        assert!(h.remove(b"a") && !h.remove(b"a"));
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn intsets_sort_and_convert() {
        let l = Limits::default();
        let mut s = Set::default();
        for m in [&b"5"[..], b"-1", b"3", b"5"] {
            s.insert(m, &l);
        }
        assert_eq!(s.members(), vec![b"-1".to_vec(), b"3".to_vec(), b"5".to_vec()]);
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert(b"x", &l));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"x") && !s.contains(b"03"));
    }

    #[test]
    fn zset_order_rank_and_ranges() {
        let l = Limits { zset_entries: 2, ..Limits::default() };
        let mut z = ZSet::default();
        z.insert(b"b", 1.0, &l);
        z.insert(b"a", 1.0, &l);
        z.insert(b"c", 0.5, &l);
        assert_eq!(z.encoding(), "skiplist");
        let order: Vec<&[u8]> = z.iter().map(|(_, m)| m).collect();
        assert_eq!(order, vec![&b"c"[..], b"a", b"b"]);
        assert_eq!(z.rank(b"b"), Some(2));
        z.insert(b"c", 9.0, &l);
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.lower_bound(1.0, false), 0);
        assert_eq!(z.lower_bound(1.0, true), 2);
        assert_eq!(z.remove_range(0, 2), 2);
        assert_eq!(z.len(), 1);
        assert_eq!(z.score(b"c"), Some(9.0));
    }

    #[test]
    fn list_operations() {
        let mut l = List::default();
        for v in [&b"a"[..], b"b", b"a", b"c", b"a"] {
            l.push_back(v);
        }
        assert_eq!(l.remove_value(b"a", 2, true), 2);
        let v: Vec<&[u8]> = l.iter().collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
        l.trim(1, 1);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"b"[..]]);
        assert_eq!(l.pop_front().as_deref(), Some(&b"b"[..]));
        assert!(l.is_empty());
        assert_eq!(l.bytes, 0);
    }
}
