//! Per-command latency histograms as Redis keeps them (INFO latencystats, LATENCY HISTOGRAM):
//! an HdrHistogram of nanoseconds from 1 to 1,000,000,000 with two significant figures, each
//! execution recorded as its whole microseconds times 1,000. The layout and the two ways of
//! reading it follow HdrHistogram's C implementation, which Redis embeds, so that the same
//! durations give the same figures: a percentile is the highest value equivalent to the first
//! bucket at which the running count reaches it, and LATENCY HISTOGRAM reports the running
//! count at 1,024 ns and each power of two above.
//!
//! With two significant figures each power-of-two range holds 128 sub-buckets (256 in the
//! first), so a value is kept to within 1/128 of itself, in one of [`COUNTS`] slots.

/// Sub-buckets per bucket: the smallest power of two holding 2·10^2 (two significant figures).
const SUB_BUCKETS: u64 = 256;
/// log2 of half of that, the sub-buckets each bucket above the first adds.
const HALF_MAGNITUDE: u32 = 7;
const HALF: u64 = SUB_BUCKETS / 2;
/// Buckets covering 1..=[`MAX_NS`]: the first power of two of sub-buckets past 10^9 is 2^22 of
/// them up, 23 buckets.
const BUCKETS: u64 = 23;
/// Slots of one histogram.
pub const COUNTS: usize = ((BUCKETS + 1) * HALF) as usize;
/// The largest value recorded (a second); longer executions count as this.
pub const MAX_NS: u64 = 1_000_000_000;

/// The bucket of `v`: which power-of-two range above the first 256 values it falls in.
#[inline]
fn bucket(v: u64) -> u32 {
    (u64::BITS - (v | (SUB_BUCKETS - 1)).leading_zeros()) - (HALF_MAGNITUDE + 1)
}

/// The slot that counts an execution of `us` microseconds.
#[inline]
pub fn slot(us: u64) -> usize {
    slot_of_ns(us.saturating_mul(1000).clamp(1, MAX_NS))
}

/// The slot of `v` nanoseconds (unclamped: past the end above [`MAX_NS`]'s bucket).
#[inline]
fn slot_of_ns(v: u64) -> usize {
    let b = bucket(v);
    (((u64::from(b) + 1) << HALF_MAGNITUDE) + (v >> b) - HALF) as usize
}

/// The lowest value slot `i` counts.
fn value_at(i: usize) -> u64 {
    let i = i as u64;
    let mut b = (i >> HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (i & (HALF - 1)) + HALF;
    if b < 0 {
        sub -= HALF;
        b = 0;
    }
    sub << b
}

/// The highest value counted in the same slot as `v`.
fn highest_equivalent(v: u64) -> u64 {
    let b = bucket(v);
    let lowest = (v >> b) << b;
    lowest + (1 << b) - 1
}

/// The value at `percentile` (0-100) of the executions counted in `counts`, in nanoseconds:
/// the highest value of the slot where the running count reaches it (the lowest for the 0th
/// percentile); 0 when there are none.
pub fn percentile(counts: &[u64], percentile: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    let wanted = ((percentile.min(100.0) / 100.0 * total as f64) + 0.5) as u64;
    let mut seen = 0;
    for (i, &n) in counts.iter().enumerate() {
        seen += n;
        if seen >= wanted.max(1) {
            let v = value_at(i);
            return if percentile == 0.0 { v } else { highest_equivalent(v) };
        }
    }
    0
}

/// LATENCY HISTOGRAM's buckets: for 1,024 ns and each power of two above it that the slots
/// reach, the highest value of its slot in whole microseconds and the number of executions up
/// to there, where that number grew; until every execution is counted.
pub fn cumulative(counts: &[u64]) -> Vec<(u64, u64)> {
    let total: u64 = counts.iter().sum();
    let mut out = Vec::new();
    let (mut seen, mut next) = (0u64, 0usize);
    let mut level = 1024u64;
    while seen < total {
        let at = slot_of_ns(level);
        if at >= counts.len() {
            break;
        }
        let before = seen;
        seen += counts[next..=at].iter().sum::<u64>();
        next = at + 1;
        if seen > before {
            out.push((highest_equivalent(level) / 1000, seen));
        }
        level *= 2;
    }
    out
}

/// A percentile as Redis names it in INFO: C's `%f`, trailing zeros and point trimmed.
pub fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(us: u64) -> Vec<u64> {
        let mut c = vec![0; COUNTS];
        c[slot(us)] += 1;
        c
    }

    #[test]
    fn slots_cover_the_range_and_keep_order() {
        assert_eq!(slot(0), 1, "0 µs counts as 1 ns");
        assert_eq!(slot(1_000_000), slot(2_000_000), "a second and more share the last value");
        assert!(slot(1_000_000) < COUNTS);
        let mut last = 0;
        for us in 0..2_000_000u64 {
            let s = slot(us);
            assert!(s >= last, "{us}");
            last = s;
            // Every value lies within its slot's range.
            let v = (us * 1000).clamp(1, MAX_NS);
            assert!(value_at(s) <= v && v <= highest_equivalent(value_at(s)), "{us}");
        }
    }

    #[test]
    fn percentiles_of_single_executions_read_as_redis_reports_them() {
        // Seen from redis-server 7.0.15: an EVAL of 64 µs, a DBSIZE of 4 µs.
        assert_eq!(percentile(&one(64), 50.0), 64_255);
        assert_eq!(percentile(&one(4), 99.9), 4_015);
        assert_eq!(percentile(&one(0), 50.0), 1);
        // And CONFIG SET latency-tracking-info-percentiles "0 100" with one of 19 µs: the 0th
        // percentile is the bottom of the slot, the 100th its top.
        assert_eq!(percentile(&one(19), 0.0), 18_944);
        assert_eq!(percentile(&one(19), 100.0), 19_071);
        assert_eq!(percentile(&one(1), 50.0), 1_003, "1,000 ns shares a slot with 1,001-1,003");
        assert_eq!(percentile(&vec![0; COUNTS], 50.0), 0);
    }

    #[test]
    fn percentiles_count_from_the_bottom() {
        let mut c = vec![0; COUNTS];
        for us in 1..=100 {
            c[slot(us)] += 1;
        }
        // 50 % of 100 is the 50th execution, 50 µs; 99.9 % rounds to the 100th.
        assert_eq!(percentile(&c, 50.0), highest_equivalent(50_000));
        assert_eq!(percentile(&c, 99.0), highest_equivalent(99_000));
        assert_eq!(percentile(&c, 99.9), highest_equivalent(100_000));
        assert_eq!(percentile(&c, 100.0), highest_equivalent(100_000));
        assert_eq!(percentile(&c, 0.0), 1_000);
    }

    #[test]
    fn cumulative_buckets_are_powers_of_two_from_1024_ns() {
        // Seen from redis-server 7.0.15: one EVAL of 66 µs is `66 => 1`.
        assert_eq!(cumulative(&one(66)), vec![(66, 1)]);
        assert_eq!(cumulative(&one(0)), vec![(1, 1)]);
        let mut c = vec![0; COUNTS];
        for us in [1, 1, 3, 67, 1_000_000] {
            c[slot(us)] += 1;
        }
        // 1,024 ns holds the two 1 µs ones (1,031 is its slot's top); 67 µs is past 66,047.
        assert_eq!(cumulative(&c), vec![(1, 2), (4, 3), (132, 4)]);
        assert!(cumulative(&vec![0; COUNTS]).is_empty());
    }

    #[test]
    fn percentile_names_as_c_prints_them() {
        assert_eq!(percentile_name(50.0), "50");
        assert_eq!(percentile_name(99.9), "99.9");
        assert_eq!(percentile_name(0.0), "0");
        assert_eq!(percentile_name(12.3456789), "12.345679");
        assert_eq!(percentile_name(100.0), "100");
    }
}
