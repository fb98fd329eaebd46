//! A hierarchical timing wheel with 1 ms ticks.
//!
//! Eight levels of 64 slots cover 2^48 ms (about 8900 years); level `L` slots are `64^L` ms wide.
//! A timer lives in the level given by the highest bit in which its deadline differs from the
//! wheel's current time, so the lowest occupied level always holds the earliest deadline, and
//! finding it is a bit scan of one 64-bit occupancy word per level. Inserting and cancelling are
//! O(1): each slot is an intrusive doubly linked list threaded through a slab of nodes indexed by
//! [`TimerId`].
//!
//! The wheel never fires early: [`Wheel::pop_due`] returns a timer only once the current time has
//! reached its deadline. Timers are "check this key" reminders: the keyspace looks the key up by
//! the hash stored in the timer and decides whether it really expired (it re-arms the timer with
//! [`Wheel::reset`] if the key's deadline moved), so correctness never depends on the wheel.
//!
//! Invariant: the wheel's time (`elapsed`) never moves past the start of an occupied slot without
//! that slot being processed. That is what lets [`Wheel::remove`] recompute a timer's slot from
//! its deadline instead of storing it.
//!
//! A coarse slot is cascaded all at once when time reaches it: 64 ms of level-1 timers, 4 s of
//! level-2 ones. Many wheels (one per keyspace shard) on the same clock would all cascade at
//! the same millisecond, and a key due then in the last wheel to be visited would wait for all
//! of them. [`Wheel::with_phase`] shifts a wheel's slot boundaries against real time, so that
//! the keyspace can stagger its shards' cascades over different milliseconds.

const LEVELS: usize = 8;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// Furthest a timer can be placed from the current time; later deadlines are clamped to this
/// and simply re-armed by the owner when they come due.
const MAX_SPAN: u64 = (1 << (SLOT_BITS as u64 * LEVELS as u64)) - 1;
const NIL: u32 = u32::MAX;
/// `prev` value of a node that is allocated but in no list (popped, waiting for its owner).
const DETACHED: u32 = u32::MAX - 1;

/// Handle to a timer in a [`Wheel`]. Stable for the timer's whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub u32);

#[derive(Clone, Copy)]
struct Node {
    /// Tick at which the timer is due (clamped to the wheel's reach).
    when: u64,
    /// Opaque payload: the keyspace stores the key's hash here.
    hash: u64,
    prev: u32,
    next: u32,
}

/// A timing wheel. Not thread-safe by itself: each keyspace shard owns one under its lock.
pub struct Wheel {
    /// Added to every time at the API boundary (internal time = external time + phase).
    phase: u64,
    elapsed: u64,
    nodes: Vec<Node>,
    free: u32,
    len: usize,
    heads: Box<[[u32; SLOTS]; LEVELS]>,
    occupied: [u64; LEVELS],
}

impl Wheel {
    /// An empty wheel whose current time is `now`.
    pub fn new(now: u64) -> Self {
        Self::with_phase(now, 0)
    }

    /// An empty wheel whose current time is `now` and whose slot boundaries are shifted `phase`
    /// ticks earlier than [`Wheel::new`]'s. Firing times are the same; only the moments when
    /// coarse slots cascade move.
    pub fn with_phase(now: u64, phase: u64) -> Self {
        Wheel {
            phase,
            elapsed: now.saturating_add(phase),
            nodes: Vec::new(),
            free: NIL,
            len: 0,
            heads: Box::new([[NIL; SLOTS]; LEVELS]),
            occupied: [0; LEVELS],
        }
    }

    /// Number of live timers (including popped ones not yet removed or reset).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no timers exist.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's current time: every timer due before it has been handed out.
    pub fn elapsed(&self) -> u64 {
        self.elapsed - self.phase
    }

    /// Bytes of heap memory held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + std::mem::size_of::<[[u32; SLOTS]; LEVELS]>()
    }

    /// The payload stored with a timer.
    pub fn hash(&self, id: TimerId) -> u64 {
        self.nodes[id.0 as usize].hash
    }

    /// Adds a timer due at tick `when` carrying `hash`. A deadline in the past is due at once.
    pub fn insert(&mut self, when: u64, hash: u64) -> TimerId {
        let node = Node { when: self.clamp(when.saturating_add(self.phase)), hash, prev: DETACHED, next: NIL };
        let id = if self.free != NIL {
            let id = self.free;
            self.free = self.nodes[id as usize].next;
            self.nodes[id as usize] = node;
            id
        } else {
            let id = self.nodes.len() as u32;
            self.nodes.push(node);
            id
        };
        self.len += 1;
        self.link(id);
        TimerId(id)
    }

    /// Moves an existing timer (linked or popped) to a new deadline, keeping its id.
    pub fn reset(&mut self, id: TimerId, when: u64) {
        self.unlink(id.0);
        let w = self.clamp(when.saturating_add(self.phase));
        self.nodes[id.0 as usize].when = w;
        self.link(id.0);
    }

    /// Cancels a timer (linked or popped) and frees its id.
    pub fn remove(&mut self, id: TimerId) {
        self.unlink(id.0);
        let n = &mut self.nodes[id.0 as usize];
        n.prev = NIL;
        n.next = self.free;
        n.when = u64::MAX;
        self.free = id.0;
        self.len -= 1;
        if self.len == 0 {
            // Give the slab back once the wheel is empty (after an expiry storm, say).
            self.nodes = Vec::new();
            self.free = NIL;
        }
    }

    /// The earliest tick at which [`Wheel::pop_due`] may return something, if any timer exists.
    /// It is a lower bound: a timer in a coarse slot may be due later than its slot's start.
    pub fn next_due(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, t)| t.saturating_sub(self.phase))
    }

    /// Advances time to at most `now` and hands out one due timer, detached from the wheel: the
    /// caller must [`Wheel::remove`] or [`Wheel::reset`] it. Returns `None` when nothing is due.
    pub fn pop_due(&mut self, now: u64) -> Option<(TimerId, u64)> {
        let now = now.saturating_add(self.phase);
        loop {
            let Some((level, slot, start)) = self.next_expiration() else {
                self.elapsed = self.elapsed.max(now);
                return None;
            };
            if start > now {
                self.elapsed = self.elapsed.max(now);
                return None;
            }
            self.elapsed = self.elapsed.max(start);
            if level == 0 {
                let id = self.heads[0][slot];
                self.unlink(id);
                return Some((TimerId(id), self.nodes[id as usize].hash));
            }
            // Cascade the whole slot into lower levels now that time has reached it.
            let mut id = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1 << slot);
            while id != NIL {
                let next = self.nodes[id as usize].next;
                self.nodes[id as usize].prev = DETACHED;
                self.link(id);
                id = next;
            }
        }
    }

    fn clamp(&self, when: u64) -> u64 {
        when.max(self.elapsed).min(self.elapsed.saturating_add(MAX_SPAN))
    }

    #[inline]
    fn level_for(elapsed: u64, when: u64) -> usize {
        let masked = ((elapsed ^ when) | SLOT_MASK).min(MAX_SPAN);
        let significant = 63 - masked.leading_zeros();
        (significant / SLOT_BITS) as usize
    }

    #[inline]
    fn slot_for(when: u64, level: usize) -> usize {
        ((when >> (SLOT_BITS as usize * level)) & SLOT_MASK) as usize
    }

    fn link(&mut self, id: u32) {
        let when = self.nodes[id as usize].when.max(self.elapsed);
        self.nodes[id as usize].when = when;
        let level = Self::level_for(self.elapsed, when);
        let slot = Self::slot_for(when, level);
        let head = self.heads[level][slot];
        {
            let n = &mut self.nodes[id as usize];
            n.prev = NIL;
            n.next = head;
        }
        if head != NIL {
            self.nodes[head as usize].prev = id;
        }
        self.heads[level][slot] = id;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, id: u32) {
        let Node { when, prev, next, .. } = self.nodes[id as usize];
        if prev == DETACHED {
            return;
        }
        if prev == NIL {
            let level = Self::level_for(self.elapsed, when);
            let slot = Self::slot_for(when, level);
            debug_assert_eq!(self.heads[level][slot], id, "timer not where its deadline says");
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        let n = &mut self.nodes[id as usize];
        n.prev = DETACHED;
        n.next = NIL;
    }

    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ == 0 {
                continue;
            }
            let shift = SLOT_BITS as usize * level;
            let slot_range = 1u64 << shift;
            let level_range = slot_range << SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) & SLOT_MASK) as u32;
            let slot = ((occ.rotate_right(now_slot).trailing_zeros() + now_slot) % SLOTS as u32) as usize;
            let level_start = self.elapsed & !(level_range - 1);
            let mut start = level_start + slot as u64 * slot_range;
            if start < self.elapsed {
                // Only the top level wraps around: its reach is one rotation.
                start += level_range;
            }
            return Some((level, slot, start));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(w: &mut Wheel, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some((id, h)) = w.pop_due(now) {
            w.remove(id);
            out.push(h);
        }
        out
    }

    #[test]
    fn never_early_and_in_order() {
        let mut w = Wheel::new(1000);
        for d in [5u64, 70, 63, 64, 4100, 1, 300_000, 64 * 64 * 64 + 3] {
            w.insert(1000 + d, d);
        }
        let mut fired = Vec::new();
        let mut now = 1000;
        while !w.is_empty() {
            now += 1;
            for h in drain(&mut w, now) {
                assert_eq!(1000 + h, now, "timer {h} fired at {now}");
                fired.push(h);
            }
        }
        let mut sorted = fired.clone();
        sorted.sort_unstable();
        assert_eq!(fired, sorted);
    }

    #[test]
    fn big_jump_fires_everything_due_and_nothing_else() {
        let mut w = Wheel::new(0);
        for d in 1..=10_000u64 {
            w.insert(d * 7, d);
        }
        let fired = drain(&mut w, 35_000);
        assert_eq!(fired.len(), 5000);
        assert!(fired.iter().all(|&d| d * 7 <= 35_000));
        assert_eq!(w.len(), 5000);
        assert_eq!(w.next_due().map(|t| t > 35_000), Some(true));
    }

    #[test]
    fn cancel_and_reset() {
        let mut w = Wheel::new(0);
        let a = w.insert(100, 1);
        let b = w.insert(100, 2);
        let c = w.insert(5000, 3);
        w.remove(a);
        w.reset(c, 50);
        assert_eq!(drain(&mut w, 99), vec![3]);
        assert_eq!(drain(&mut w, 100), vec![2]);
        let _ = b;
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadlines_are_due_now() {
        let mut w = Wheel::new(500);
        w.insert(10, 9);
        assert_eq!(drain(&mut w, 500), vec![9]);
    }

    #[test]
    fn far_future_is_clamped_not_lost() {
        let mut w = Wheel::new(0);
        let id = w.insert(u64::MAX, 1);
        assert!(w.pop_due(1 << 40).is_none());
        w.remove(id);
        assert!(w.is_empty());
    }

    #[test]
    fn popped_timer_can_be_rearmed() {
        let mut w = Wheel::new(0);
        w.insert(10, 7);
        let (id, h) = w.pop_due(10).expect("due");
        assert_eq!(h, 7);
        w.reset(id, 20);
        assert!(w.pop_due(19).is_none());
        assert_eq!(w.pop_due(20).map(|(i, _)| i), Some(id));
        w.remove(id);
    }

    #[test]
    fn ids_are_reused() {
        let mut w = Wheel::new(0);
        let a = w.insert(10, 1);
        let _keep = w.insert(20, 2);
        w.remove(a);
        let b = w.insert(30, 3);
        assert_eq!(a, b);
    }

    /// A randomized comparison against a simple model: whatever the mix of inserts, resets,
    /// removals and time jumps, each timer pops exactly once, never before its deadline, and
    /// no later than the first pop call at or after it; with any phase.
    #[test]
    fn randomized_against_model() {
        for phase in [0, 1, 65, 4095, 64 * 65, 1 << 30] {
            randomized_against_model_with_phase(phase);
        }
    }

    fn randomized_against_model_with_phase(phase: u64) {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut w = Wheel::with_phase(0, phase);
        let mut live: std::collections::HashMap<u32, u64> = Default::default();
        let mut now = 0u64;
        for _ in 0..20_000 {
            match rnd() % 10 {
                0..=4 => {
                    let when = now + rnd() % [10, 1000, 100_000, 10_000_000][(rnd() % 4) as usize];
                    let id = w.insert(when, 0);
                    live.insert(id.0, when);
                }
                5 => {
                    if let Some(&id) = live.keys().next() {
                        let when = now + rnd() % 5000;
                        w.reset(TimerId(id), when);
                        live.insert(id, when);
                    }
                }
                6 => {
                    if let Some(&id) = live.keys().next() {
                        w.remove(TimerId(id));
                        live.remove(&id);
                    }
                }
                _ => {
                    now += rnd() % [2, 50, 5000][(rnd() % 3) as usize];
                    while let Some((id, _)) = w.pop_due(now) {
                        let when = live.remove(&id.0).expect("popped a live timer");
                        assert!(when <= now, "early: due {when}, now {now}");
                        w.remove(id);
                    }
                    assert!(live.values().all(|&when| when > now), "a due timer was not popped");
                }
            }
        }
    }
}
