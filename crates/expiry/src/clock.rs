//! Clocks.
//!
//! [`SystemClock`] reads `CLOCK_MONOTONIC` (through `Instant`) for deadlines and derives wall time
//! as `monotonic + offset`. The offset is re-read from the real wall clock whenever someone asks
//! for wall time and it has moved by more than [`WALL_TOLERANCE_MS`]: small jitter from truncating
//! two clocks to milliseconds is absorbed (so `PEXPIREAT k T` then `PEXPIRETIME k` gives back
//! exactly `T`), while a real step of the wall clock is picked up immediately.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far the derived wall time may drift from the real one before the offset is re-read.
pub const WALL_TOLERANCE_MS: i64 = 2;

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds on a monotonic clock with an arbitrary origin. Never goes backwards.
    fn mono_ms(&self) -> u64;

    /// Microseconds on the same monotonic clock (for latency statistics).
    fn mono_us(&self) -> u64;

    /// `wall_ms - mono_ms`: adding it to a monotonic instant gives Unix milliseconds.
    fn wall_offset_ms(&self) -> i64;

    /// Unix time in microseconds, read from the real wall clock (TIME, LASTSAVE).
    fn wall_us(&self) -> i64;

    /// Unix milliseconds corresponding to the monotonic instant `mono`.
    fn wall_at(&self, mono: u64) -> i64 {
        mono as i64 + self.wall_offset_ms()
    }
}

/// The real clock.
pub struct SystemClock {
    /// `CLOCK_MONOTONIC` µs at creation.
    origin: u64,
    offset: AtomicI64,
}

/// Monotonic ms start one hour after the clock's creation, so that they are never small, which
/// keeps "deadline in the past" arithmetic away from zero.
const ORIGIN_BACK_US: u64 = 3_600_000_000;

/// `CLOCK_MONOTONIC` in µs, read directly: `Instant::elapsed` costs three times as much, and the
/// clock is read once per command (SLOWLOG, LATENCY).
#[inline]
fn raw_mono_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on every supported
    // system, and on failure `ts` simply stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000).wrapping_add(ts.tv_nsec as u64 / 1000)
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

fn unix_us() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

impl SystemClock {
    /// A clock whose monotonic origin is now. The origin is placed one hour back so that
    /// monotonic milliseconds are never small, which keeps "deadline in the past" arithmetic
    /// away from zero.
    pub fn new() -> Self {
        let c = SystemClock { origin: raw_mono_us(), offset: AtomicI64::new(0) };
        let mono = c.mono_ms() as i64;
        c.offset.store(unix_us() / 1000 - mono, Ordering::Relaxed);
        c
    }
}

impl Clock for SystemClock {
    #[inline]
    fn mono_ms(&self) -> u64 {
        self.mono_us() / 1000
    }

    #[inline]
    fn mono_us(&self) -> u64 {
        (raw_mono_us() + ORIGIN_BACK_US).saturating_sub(self.origin)
    }

    fn wall_offset_ms(&self) -> i64 {
        let mono = self.mono_ms() as i64;
        let real = unix_us() / 1000;
        let off = self.offset.load(Ordering::Relaxed);
        if (real - (mono + off)).abs() > WALL_TOLERANCE_MS {
            let new = real - mono;
            self.offset.store(new, Ordering::Relaxed);
            return new;
        }
        off
    }

    fn wall_us(&self) -> i64 {
        unix_us()
    }
}

/// A clock moved by hand, for tests: nothing waits for real time to pass.
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Default)]
struct ManualInner {
    mono_us: AtomicU64,
    offset_ms: AtomicI64,
}

impl ManualClock {
    /// A manual clock at monotonic time `start_ms` whose wall time is `start_ms + offset_ms`.
    pub fn new(start_ms: u64, offset_ms: i64) -> Self {
        let c = ManualClock::default();
        c.inner.mono_us.store(start_ms * 1000, Ordering::Relaxed);
        c.inner.offset_ms.store(offset_ms, Ordering::Relaxed);
        c
    }

    /// Moves monotonic (and wall) time forward.
    pub fn advance_ms(&self, ms: u64) {
        self.inner.mono_us.fetch_add(ms * 1000, Ordering::Relaxed);
    }

    /// Steps the wall clock by `delta_ms` without touching monotonic time.
    pub fn step_wall_ms(&self, delta_ms: i64) {
        self.inner.offset_ms.fetch_add(delta_ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn mono_ms(&self) -> u64 {
        self.inner.mono_us.load(Ordering::Relaxed) / 1000
    }
    fn mono_us(&self) -> u64 {
        self.inner.mono_us.load(Ordering::Relaxed)
    }
    fn wall_offset_ms(&self) -> i64 {
        self.inner.offset_ms.load(Ordering::Relaxed)
    }
    fn wall_us(&self) -> i64 {
        (self.mono_ms() as i64 + self.wall_offset_ms()) * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_wall_tracks_real_time() {
        let c = SystemClock::new();
        let derived = c.wall_at(c.mono_ms());
        let real = unix_us() / 1000;
        assert!((derived - real).abs() <= WALL_TOLERANCE_MS + 1, "{derived} vs {real}");
        assert!(c.mono_ms() >= 3_600_000);
    }

    #[test]
    fn manual_clock_steps() {
        let c = ManualClock::new(1000, 5_000);
        assert_eq!(c.wall_at(c.mono_ms()), 6000);
        c.advance_ms(10);
        c.step_wall_ms(-1_000_000);
        assert_eq!(c.mono_ms(), 1010);
        assert_eq!(c.wall_at(c.mono_ms()), 1010 + 5000 - 1_000_000);
    }
}
