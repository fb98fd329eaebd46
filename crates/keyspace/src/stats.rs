//! Keyspace statistics that INFO reports: expirations and how late the wheel reclaimed keys.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (inclusive, in ms) of the expiry-lag histogram buckets; the last bucket holds
/// everything above the previous bound.
pub const LAG_BOUNDS_MS: [u64; 16] = [0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 50, 100, 200, 500, 1000, u64::MAX];

/// Counters updated by expiry; readable without locks.
#[derive(Default)]
pub struct KeyspaceStats {
    expired: AtomicU64,
    /// Locks that expired while held (the lost-lock counter).
    locks_expired: AtomicU64,
    /// Locks deleted (released) before they expired.
    locks_released: AtomicU64,
    /// New deadlines given to locks.
    locks_extended: AtomicU64,
    /// The `lock-delay` setting in ms (kept here because every expiry path has these stats).
    lock_delay: AtomicU64,
    lag_buckets: [AtomicU64; LAG_BOUNDS_MS.len()],
    lag_max: AtomicU64,
    /// Keys reclaimed by workers rather than the expiry thread (see `Keyspace::help_reclaim`).
    by_workers: AtomicU64,
}

impl KeyspaceStats {
    /// Records a key reclaimed by the wheel `lag_ms` after its deadline.
    pub fn record_expired(&self, lag_ms: u64) {
        self.expired.fetch_add(1, Ordering::Relaxed);
        let i = LAG_BOUNDS_MS.iter().position(|&b| lag_ms <= b).unwrap_or(LAG_BOUNDS_MS.len() - 1);
        self.lag_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.lag_max.fetch_max(lag_ms, Ordering::Relaxed);
    }

    /// Records a key found expired on access and deleted then (not a wheel reclamation, so no
    /// lag is recorded: the key was invisible from its deadline on).
    pub fn record_expired_on_access(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a lock that expired while held.
    pub fn record_lock_expired(&self) {
        self.locks_expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Locks that expired while held.
    pub fn locks_expired(&self) -> u64 {
        self.locks_expired.load(Ordering::Relaxed)
    }

    /// Records a lock deleted before it expired.
    pub fn record_lock_released(&self) {
        self.locks_released.fetch_add(1, Ordering::Relaxed);
    }

    /// Locks released.
    pub fn locks_released(&self) -> u64 {
        self.locks_released.load(Ordering::Relaxed)
    }

    /// Records a new deadline for a lock.
    pub fn record_lock_extended(&self) {
        self.locks_extended.fetch_add(1, Ordering::Relaxed);
    }

    /// Lock extensions.
    pub fn locks_extended(&self) -> u64 {
        self.locks_extended.load(Ordering::Relaxed)
    }

    /// `lock-delay` in ms (0: off).
    pub fn lock_delay_ms(&self) -> u64 {
        self.lock_delay.load(Ordering::Relaxed)
    }

    /// Sets `lock-delay`.
    pub fn set_lock_delay_ms(&self, ms: u64) {
        self.lock_delay.store(ms, Ordering::Relaxed);
    }

    /// Total keys expired (INFO `expired_keys`).
    pub fn expired_keys(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// The `q`-quantile (0..=1) of the wheel's reclamation lag, as a bucket upper bound in ms,
    /// and the maximum seen. `None` before any reclamation.
    pub fn lag(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.lag_buckets.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some(LAG_BOUNDS_MS[i].min(self.lag_max()));
            }
        }
        Some(self.lag_max())
    }

    /// Records `n` keys reclaimed by a worker rather than the expiry thread.
    pub fn reclaimed_by_workers(&self, n: u64) {
        if n > 0 {
            self.by_workers.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Keys reclaimed by workers rather than the expiry thread.
    pub fn expired_by_workers(&self) -> u64 {
        self.by_workers.load(Ordering::Relaxed)
    }

    /// Largest lag seen, in ms.
    pub fn lag_max(&self) -> u64 {
        self.lag_max.load(Ordering::Relaxed)
    }

    /// Resets counters (CONFIG RESETSTAT).
    pub fn reset(&self) {
        self.expired.store(0, Ordering::Relaxed);
        for b in &self.lag_buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.lag_max.store(0, Ordering::Relaxed);
        self.by_workers.store(0, Ordering::Relaxed);
        self.locks_expired.store(0, Ordering::Relaxed);
        self.locks_released.store(0, Ordering::Relaxed);
        self.locks_extended.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let s = KeyspaceStats::default();
        assert_eq!(s.lag(0.5), None);
        for _ in 0..98 {
            s.record_expired(0);
        }
        s.record_expired(3);
        s.record_expired(40);
        assert_eq!(s.expired_keys(), 100);
        assert_eq!(s.lag(0.5), Some(0));
        assert_eq!(s.lag(0.99), Some(3));
        assert_eq!(s.lag(1.0), Some(40));
        assert_eq!(s.lag_max(), 40);
    }
}
