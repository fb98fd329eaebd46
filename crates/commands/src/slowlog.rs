//! SLOWLOG and the `command` event of LATENCY: commands that took longer than
//! `slowlog-log-slower-than` µs / `latency-monitor-threshold` ms, as Redis 7.0 records them.

use parking_lot::Mutex;
use std::collections::VecDeque;
use tumbler_proto::Args;

/// Most arguments an entry keeps (the last slot then says how many more there were).
const MAX_ARGS: usize = 32;
/// Most bytes an argument keeps.
const MAX_ARG_LEN: usize = 128;

/// One slow command.
pub struct Entry {
    /// Unique, increasing; never reset.
    pub id: u64,
    /// Unix seconds when it was logged.
    pub time: i64,
    /// Duration in µs.
    pub duration: u64,
    /// Arguments, shortened as Redis shortens them.
    pub args: Vec<Vec<u8>>,
    /// `ip:port` of the client (`?:0` for a script).
    pub peer: String,
    /// Client name.
    pub name: Vec<u8>,
}

/// The slow log, newest first.
#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<(u64, VecDeque<Entry>)>,
}

impl SlowLog {
    /// Records a command that took `duration` µs, keeping at most `max_len` entries.
    pub fn push(&self, args: Args<'_>, duration: u64, time: i64, peer: String, name: Vec<u8>, max_len: usize) {
        let redact = crate::monitor::redacted_args(args);
        let n = args.len();
        let kept = if n > MAX_ARGS { MAX_ARGS - 1 } else { n };
        let mut out: Vec<Vec<u8>> = (0..kept)
            .map(|i| {
                if redact(i) {
                    return b"(redacted)".to_vec();
                }
                let a = args.get(i);
                if a.len() > MAX_ARG_LEN {
                    let mut v = a[..MAX_ARG_LEN].to_vec();
                    v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
                    v
                } else {
                    a.to_vec()
                }
            })
            .collect();
        if n > MAX_ARGS {
            out.push(format!("... ({} more arguments)", n - kept).into_bytes());
        }
        let mut g = self.inner.lock();
        let id = g.0;
        g.0 += 1;
        g.1.push_front(Entry { id, time, duration, args: out, peer, name });
        g.1.truncate(max_len);
    }

    /// Runs `f` on up to `count` newest entries.
    pub fn with_entries<R>(&self, count: usize, f: impl FnOnce(&mut dyn Iterator<Item = &Entry>) -> R) -> R {
        let g = self.inner.lock();
        f(&mut g.1.iter().take(count))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.lock().1.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (ids keep counting).
    pub fn reset(&self) {
        self.inner.lock().1.clear();
    }

    /// Keeps at most `max_len` entries (after CONFIG SET slowlog-max-len).
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().1.truncate(max_len);
    }
}

/// Samples kept per latency event, as Redis' LATENCY_TS_LEN.
const LATENCY_SAMPLES: usize = 160;

/// One latency event's history: (unix seconds, ms) samples, one per second at most.
#[derive(Default)]
pub struct LatencyEvent {
    /// Samples, oldest first.
    pub samples: VecDeque<(i64, u64)>,
    /// Largest latency ever recorded (ms).
    pub max: u64,
}

/// LATENCY's events (tumbler records `command`: a command slower than the threshold).
#[derive(Default)]
pub struct Latency {
    events: Mutex<Vec<(&'static str, LatencyEvent)>>,
}

impl Latency {
    /// Adds a sample of `ms` for `event` at unix second `time`; samples in the same second keep
    /// the largest.
    pub fn add(&self, event: &'static str, time: i64, ms: u64) {
        let mut g = self.events.lock();
        let i = match g.iter().position(|(e, _)| *e == event) {
            Some(i) => i,
            None => {
                g.push((event, LatencyEvent::default()));
                g.len() - 1
            }
        };
        let ev = &mut g[i].1;
        ev.max = ev.max.max(ms);
        match ev.samples.back_mut() {
            Some(last) if last.0 == time => last.1 = last.1.max(ms),
            _ => {
                ev.samples.push_back((time, ms));
                if ev.samples.len() > LATENCY_SAMPLES {
                    ev.samples.pop_front();
                }
            }
        }
    }

    /// Runs `f` on every event.
    pub fn with_events<R>(&self, f: impl FnOnce(&[(&'static str, LatencyEvent)]) -> R) -> R {
        f(&self.events.lock())
    }

    /// Forgets the named events (all when `names` is empty); returns how many were reset.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut g = self.events.lock();
        let before = g.len();
        if names.is_empty() {
            g.clear();
        } else {
            g.retain(|(e, _)| !names.iter().any(|n| n.eq_ignore_ascii_case(e.as_bytes())));
        }
        before - g.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened_like_redis() {
        let log = SlowLog::default();
        let long = vec![b'x'; 130];
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for i in 0..40 {
            let s = data.len();
            if i == 1 {
                data.extend_from_slice(&long);
            } else {
                data.extend_from_slice(b"a");
            }
            spans.push((s, data.len()));
        }
        log.push(Args::new(&data, &spans), 5, 0, "?:0".into(), Vec::new(), 10);
        log.with_entries(1, |it| {
            let e = it.next().expect("an entry");
            assert_eq!(e.args.len(), 32);
            assert!(e.args[1].ends_with(b"... (2 more bytes)"));
            assert_eq!(e.args[31], b"... (9 more arguments)".to_vec());
        });
        log.push(Args::new(&data, &spans[..2]), 5, 0, "?:0".into(), Vec::new(), 1);
        assert_eq!(log.len(), 1, "trimmed to max-len");
        log.with_entries(10, |it| assert_eq!(it.next().map(|e| e.id), Some(1)));
    }

    #[test]
    fn latency_keeps_the_largest_sample_per_second() {
        let l = Latency::default();
        l.add("command", 100, 5);
        l.add("command", 100, 9);
        l.add("command", 101, 3);
        l.with_events(|ev| {
            assert_eq!(ev[0].1.samples, VecDeque::from(vec![(100, 9), (101, 3)]));
            assert_eq!(ev[0].1.max, 9);
        });
        assert_eq!(l.reset(&[b"COMMAND"]), 1);
    }
}
