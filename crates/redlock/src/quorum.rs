//! The arithmetic of Redlock, free of sockets and clocks so it can be tested exactly: the
//! majority, the clock-drift allowance, the validity left after an attempt, and the decision an
//! attempt reaches from the replies it has so far.
//!
//! Every function takes durations and counts; the caller reads the clock.

use std::time::Duration;

/// The smallest majority of `nodes`: `nodes / 2 + 1` (3 of 5, 2 of 3, 1 of 1, 2 of 2).
pub fn quorum(nodes: usize) -> usize {
    nodes / 2 + 1
}

/// The allowance for clock drift between this process and the nodes: `ttl × factor + extra`
/// (Redlock's `ttl × 0.01 + 2 ms` with the defaults). A negative or non-finite factor counts as 0.
pub fn drift(ttl: Duration, factor: f64, extra: Duration) -> Duration {
    let factor = if factor.is_finite() && factor > 0.0 { factor } else { 0.0 };
    ttl.mul_f64(factor) + extra
}

/// What is left of a lock after an attempt that took `elapsed`: `ttl − elapsed − drift`, or
/// `None` when nothing is left (zero counts as nothing: a lock valid for no time is no lock).
pub fn validity(ttl: Duration, elapsed: Duration, drift: Duration) -> Option<Duration> {
    ttl.checked_sub(elapsed).and_then(|v| v.checked_sub(drift)).filter(|v| !v.is_zero())
}

/// The replies an attempt (acquire or extend) has collected so far.
///
/// `granted` nodes did what was asked (SET NX stored our token, or the compare-and-pexpire found
/// it), `denied` nodes answered no (another token, or none), `failed` nodes did not answer
/// usefully (connection error, timeout, error reply). The rest are still pending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Number of nodes asked.
    pub nodes: usize,
    /// Nodes that said yes.
    pub granted: usize,
    /// Nodes that answered no.
    pub denied: usize,
    /// Nodes that did not answer usefully.
    pub failed: usize,
}

/// Where an attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not decided: replies still pending could change the result.
    Pending,
    /// A majority said yes.
    Granted,
    /// A majority is out of reach, and enough nodes answered (or still may) that the cause is the
    /// answers, not the network: another holder (acquire) or a lost token (extend).
    Denied,
    /// A majority is out of reach because fewer than a majority answered or can still answer.
    Unreachable,
}

impl Tally {
    /// Nodes that have not replied yet.
    pub fn pending(&self) -> usize {
        self.nodes.saturating_sub(self.granted + self.denied + self.failed)
    }

    /// Nodes that answered yes or no.
    pub fn answered(&self) -> usize {
        self.granted + self.denied
    }

    /// The decision so far. It is final as soon as it is not [`Outcome::Pending`]: a majority of
    /// yes cannot be undone, and a majority that pending replies cannot reach never comes.
    /// Reaching the majority does not make a lock valid: the caller still checks [`validity`].
    pub fn outcome(&self) -> Outcome {
        let q = quorum(self.nodes);
        if self.granted >= q {
            return Outcome::Granted;
        }
        if self.granted + self.pending() >= q {
            return Outcome::Pending;
        }
        // The majority is out of reach. Blame the answers if a majority has answered or still may.
        if self.answered() + self.pending() >= q {
            Outcome::Denied
        } else {
            Outcome::Unreachable
        }
    }
}

/// How long until a lock refused by `refusals` nodes can be had, from their remaining TTLs
/// (`None`: unknown, or a key without expiry), when `free` nodes are known to be free. The
/// `k`-th smallest TTL with `k = quorum − free` is when a majority becomes free; `None` when
/// that depends on an unknown TTL or cannot happen by expiry alone (too few nodes known free).
pub fn holder_remaining(nodes: usize, free: usize, refusals: &[Option<Duration>]) -> Option<Duration> {
    let need = quorum(nodes).checked_sub(free)?;
    if need == 0 {
        return Some(Duration::ZERO);
    }
    if need > refusals.len() {
        return None;
    }
    // Unknown (None) sorts last: it can only make the answer unknown, never smaller.
    let mut ttls: Vec<Option<Duration>> = refusals.to_vec();
    ttls.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    ttls[need - 1]
}

/// Reads a PTTL reply: `-2` (no key) is zero, `-1` (no expiry) and anything else negative is
/// unknown.
pub fn pttl_to_remaining(pttl: i64) -> Option<Duration> {
    match pttl {
        -2 => Some(Duration::ZERO),
        ms if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn tally(nodes: usize, granted: usize, denied: usize, failed: usize) -> Tally {
        Tally { nodes, granted, denied, failed }
    }

    #[test]
    fn majorities() {
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(2), 2);
        assert_eq!(quorum(3), 2);
        assert_eq!(quorum(4), 3);
        assert_eq!(quorum(5), 3);
        assert_eq!(quorum(7), 4);
    }

    #[test]
    fn drift_is_one_percent_plus_two_ms() {
        assert_eq!(drift(ms(10_000), 0.01, ms(2)), ms(102));
        assert_eq!(drift(ms(300), 0.01, ms(2)), ms(5));
        assert_eq!(drift(ms(1_000), 0.0, ms(0)), ms(0));
        assert_eq!(drift(ms(1_000), -1.0, ms(2)), ms(2));
        assert_eq!(drift(ms(1_000), f64::NAN, ms(2)), ms(2));
        assert_eq!(drift(ms(1_000), 0.05, ms(0)), ms(50));
    }

    #[test]
    fn validity_is_ttl_minus_elapsed_minus_drift() {
        assert_eq!(validity(ms(10_000), ms(15), ms(102)), Some(ms(9_883)));
        assert_eq!(validity(ms(300), ms(0), ms(5)), Some(ms(295)));
        // Exactly nothing left is no lock; past the TTL is no lock.
        assert_eq!(validity(ms(300), ms(295), ms(5)), None);
        assert_eq!(validity(ms(300), ms(296), ms(5)), None);
        assert_eq!(validity(ms(300), ms(400), ms(5)), None);
        assert_eq!(validity(ms(300), ms(294), ms(5)), Some(ms(1)));
    }

    #[test]
    fn granted_as_soon_as_a_majority_says_yes() {
        assert_eq!(tally(5, 3, 0, 0).outcome(), Outcome::Granted);
        assert_eq!(tally(5, 3, 2, 0).outcome(), Outcome::Granted);
        assert_eq!(tally(5, 3, 0, 2).outcome(), Outcome::Granted);
        assert_eq!(tally(1, 1, 0, 0).outcome(), Outcome::Granted);
        assert_eq!(tally(2, 2, 0, 0).outcome(), Outcome::Granted);
    }

    #[test]
    fn pending_while_a_majority_is_still_possible() {
        assert_eq!(tally(5, 0, 0, 0).outcome(), Outcome::Pending);
        assert_eq!(tally(5, 2, 0, 0).outcome(), Outcome::Pending);
        assert_eq!(tally(5, 2, 1, 1).outcome(), Outcome::Pending);
        assert_eq!(tally(5, 1, 2, 0).outcome(), Outcome::Pending);
        assert_eq!(tally(2, 1, 0, 0).outcome(), Outcome::Pending);
    }

    #[test]
    fn denied_when_the_answers_rule_out_a_majority() {
        assert_eq!(tally(5, 0, 3, 0).outcome(), Outcome::Denied);
        assert_eq!(tally(5, 2, 3, 0).outcome(), Outcome::Denied);
        assert_eq!(tally(5, 1, 2, 2).outcome(), Outcome::Denied);
        // Two refusals and one failure: lost either way; two more may answer, so it is a refusal.
        assert_eq!(tally(5, 0, 2, 1).outcome(), Outcome::Denied);
        assert_eq!(tally(1, 0, 1, 0).outcome(), Outcome::Denied);
        assert_eq!(tally(2, 1, 1, 0).outcome(), Outcome::Denied);
    }

    #[test]
    fn unreachable_when_fewer_than_a_majority_answer() {
        assert_eq!(tally(5, 0, 0, 3).outcome(), Outcome::Unreachable);
        assert_eq!(tally(5, 2, 0, 3).outcome(), Outcome::Unreachable);
        assert_eq!(tally(5, 1, 1, 3).outcome(), Outcome::Unreachable);
        assert_eq!(tally(5, 0, 0, 5).outcome(), Outcome::Unreachable);
        assert_eq!(tally(1, 0, 0, 1).outcome(), Outcome::Unreachable);
        assert_eq!(tally(3, 1, 0, 2).outcome(), Outcome::Unreachable);
    }

    #[test]
    fn two_of_five_down_still_reaches_a_majority() {
        assert_eq!(tally(5, 3, 0, 2).outcome(), Outcome::Granted);
        assert_eq!(tally(5, 2, 0, 2).outcome(), Outcome::Pending);
        assert_eq!(tally(5, 2, 0, 3).outcome(), Outcome::Unreachable);
    }

    #[test]
    fn remaining_time_of_the_holder() {
        // Five nodes, all refused: the lock frees when the third-shortest TTL runs out.
        let r = [Some(ms(300)), Some(ms(100)), Some(ms(200)), Some(ms(500)), Some(ms(400))];
        assert_eq!(holder_remaining(5, 0, &r), Some(ms(300)));
        // Two nodes were free (we released them): one more must expire.
        assert_eq!(holder_remaining(5, 2, &r[..3]), Some(ms(100)));
        // An unknown TTL sorts last.
        assert_eq!(holder_remaining(5, 2, &[None, Some(ms(70)), Some(ms(90))]), Some(ms(70)));
        assert_eq!(holder_remaining(5, 0, &[None, None, Some(ms(1)), Some(ms(2)), Some(ms(3))]), Some(ms(3)));
        assert_eq!(holder_remaining(5, 0, &[None, None, None, Some(ms(2)), Some(ms(3))]), None);
        // Too few refusals to block a majority by expiry (the rest are down): unknown.
        assert_eq!(holder_remaining(5, 0, &[Some(ms(10))]), None);
        assert_eq!(holder_remaining(5, 3, &[]), Some(Duration::ZERO));
        assert_eq!(holder_remaining(1, 0, &[Some(ms(42))]), Some(ms(42)));
    }

    #[test]
    fn pttl_replies() {
        assert_eq!(pttl_to_remaining(-2), Some(Duration::ZERO));
        assert_eq!(pttl_to_remaining(-1), None);
        assert_eq!(pttl_to_remaining(-7), None);
        assert_eq!(pttl_to_remaining(0), Some(Duration::ZERO));
        assert_eq!(pttl_to_remaining(1234), Some(ms(1234)));
    }
}
