//! Small blocks of the Lua heap, kept for reuse.
//!
//! A short script allocates a few small strings each run (its keys, the values its calls
//! return), and the collector frees them hundreds of runs later, all in one sweep. The C heap
//! keeps only a handful of freed blocks per size in its fast per-thread cache, so most of those
//! frees, and then most of the next runs' allocations, took its slow paths. Here a freed block
//! of up to [`MAX_SMALL`] bytes goes onto a list for its 16-byte size class instead, and the
//! next allocation of that class takes it back: a pop and a push. Each list keeps at most
//! [`KEEP_BYTES`]; the rest goes back to the C heap. Blocks kept on the lists (at most 512 KiB
//! a state) are not counted in the state's `used` bytes (INFO `used_memory_lua`), which count
//! what Lua asked for, as before.

use std::ffi::c_void;

/// Size classes are multiples of this.
const GRAIN: usize = 16;
/// Number of size classes: blocks of 16, 32, … 128 bytes.
const CLASSES: usize = 8;
/// The largest block kept for reuse.
pub(crate) const MAX_SMALL: usize = GRAIN * CLASSES;
/// Most bytes each class's list keeps.
const KEEP_BYTES: usize = 64 * 1024;

/// A block on a free list: its first word links to the next.
struct Free {
    next: *mut Free,
}

/// Free lists of small blocks. Every block of at most [`MAX_SMALL`] bytes handed out comes
/// from here and is as large as its class, so any block of a class can serve any request of it.
pub(crate) struct Pool {
    heads: [*mut Free; CLASSES],
    counts: [usize; CLASSES],
}

/// The class of a block of `size` bytes (1 ..= [`MAX_SMALL`]).
#[inline]
fn class(size: usize) -> usize {
    (size - 1) / GRAIN
}

/// The bytes a block of class `c` really has.
#[inline]
fn class_size(c: usize) -> usize {
    (c + 1) * GRAIN
}

impl Pool {
    pub(crate) const fn new() -> Pool {
        Pool { heads: [std::ptr::null_mut(); CLASSES], counts: [0; CLASSES] }
    }

    /// A block of at least `size` (> 0) bytes, or null when the C heap has none.
    ///
    /// # Safety
    /// None beyond the caller freeing the block with [`Pool::free`] or resizing it with
    /// [`Pool::realloc`] of this pool, passing the size it asked for.
    #[inline]
    pub(crate) unsafe fn alloc(&mut self, size: usize) -> *mut c_void {
        debug_assert!(size > 0);
        if size == 0 || size > MAX_SMALL {
            // SAFETY: plain malloc.
            return unsafe { libc::malloc(size) };
        }
        let c = class(size);
        let head = self.heads[c];
        if head.is_null() {
            // SAFETY: plain malloc; the block gets its class's whole size.
            return unsafe { libc::malloc(class_size(c)) };
        }
        // SAFETY: blocks on the list are free, ours, and start with a link.
        self.heads[c] = unsafe { (*head).next };
        self.counts[c] -= 1;
        head.cast()
    }

    /// Gives back a block [`Pool::alloc`] or [`Pool::realloc`] returned for `size` bytes.
    ///
    /// # Safety
    /// `p` came from this pool for `size` bytes and is not used afterwards.
    #[inline]
    pub(crate) unsafe fn free(&mut self, p: *mut c_void, size: usize) {
        debug_assert!(size > 0);
        if size > 0 && size <= MAX_SMALL {
            let c = class(size);
            if self.counts[c] < KEEP_BYTES / class_size(c) {
                let b = p.cast::<Free>();
                // SAFETY: the block is at least 16 bytes, 16-aligned (malloc), and now free.
                unsafe { b.write(Free { next: self.heads[c] }) };
                self.heads[c] = b;
                self.counts[c] += 1;
                return;
            }
        }
        // SAFETY: every block came from malloc.
        unsafe { libc::free(p) }
    }

    /// Resizes a block from `old` to `new` (> 0) bytes, keeping its first `min(old, new)`
    /// bytes. Null (and the block untouched) when the C heap has no room.
    ///
    /// # Safety
    /// As [`Pool::free`] for `p` and `old`.
    pub(crate) unsafe fn realloc(&mut self, p: *mut c_void, old: usize, new: usize) -> *mut c_void {
        if old > MAX_SMALL && new > MAX_SMALL {
            // SAFETY: a large block came from malloc as is.
            return unsafe { libc::realloc(p, new) };
        }
        if old > 0 && new > 0 && old <= MAX_SMALL && new <= MAX_SMALL && class(old) == class(new) {
            return p;
        }
        // SAFETY: as documented; the copy stays inside both blocks.
        unsafe {
            let q = self.alloc(new);
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), old.min(new));
                self.free(p, old);
            }
            q
        }
    }

    /// Blocks kept on the lists (tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.counts.iter().sum()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for head in &mut self.heads {
            while !head.is_null() {
                // SAFETY: blocks on the lists are free, ours, from malloc, start with a link.
                unsafe {
                    let b = *head;
                    *head = (*b).next;
                    libc::free(b.cast());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `n` bytes at `p` with a pattern drawn from `seed`.
    unsafe fn fill(p: *mut c_void, n: usize, seed: u8) {
        for i in 0..n {
            unsafe { *p.cast::<u8>().add(i) = seed.wrapping_add(i as u8) };
        }
    }

    unsafe fn holds(p: *mut c_void, n: usize, seed: u8) -> bool {
        (0..n).all(|i| unsafe { *p.cast::<u8>().add(i) } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn blocks_keep_their_bytes_through_every_kind_of_resize() {
        let mut pool = Pool::new();
        let sizes = [1, 15, 16, 17, 40, 48, 100, 127, 128, 129, 200, 4096];
        for &a in &sizes {
            for &b in &sizes {
                unsafe {
                    let p = pool.alloc(a);
                    assert!(!p.is_null());
                    fill(p, a, a as u8);
                    let q = pool.realloc(p, a, b);
                    assert!(!q.is_null());
                    assert!(holds(q, a.min(b), a as u8), "{a} -> {b}");
                    // The whole new size is usable.
                    fill(q, b, 7);
                    assert!(holds(q, b, 7), "{a} -> {b}");
                    pool.free(q, b);
                }
            }
        }
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_class_and_the_lists_are_bounded() {
        let mut pool = Pool::new();
        unsafe {
            let p = pool.alloc(40);
            pool.free(p, 40);
            // 33..=48 bytes share a class.
            assert_eq!(pool.alloc(33), p);
            pool.free(p, 33);
            let q = pool.alloc(20);
            assert_ne!(q, p, "another class");
            pool.free(q, 20);
            assert_eq!(pool.kept(), 2);
            let limit = KEEP_BYTES / class_size(class(48));
            let blocks: Vec<_> = (0..limit + 100).map(|_| pool.alloc(48)).collect();
            assert!(blocks.contains(&p));
            assert_eq!(pool.kept(), 1);
            for b in blocks {
                pool.free(b, 48);
            }
            assert_eq!(pool.kept(), limit + 1, "the rest went back to the C heap");
        }
    }
}
