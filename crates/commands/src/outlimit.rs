//! `client-output-buffer-limit`: how much undelivered output a client may pile up before it is
//! disconnected, per class (normal, replica — which MONITOR clients count as, as in Redis — and
//! pubsub), with a hard limit and a soft limit that may only be exceeded for some seconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

/// Client classes, in the order CONFIG GET lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Ordinary clients (their own replies).
    Normal = 0,
    /// Replicas and MONITOR clients.
    Replica = 1,
    /// Clients with subscriptions.
    Pubsub = 2,
}

/// One class's limits: bytes, bytes, seconds (0 = none).
#[derive(Default)]
pub struct ClassLimit {
    /// Disconnect at once above this.
    pub hard: AtomicU64,
    /// Disconnect when above this for longer than `soft_secs`.
    pub soft: AtomicU64,
    /// See `soft`.
    pub soft_secs: AtomicU64,
}

/// The limits of every class.
pub struct OutputLimits {
    classes: [ClassLimit; 3],
}

impl Default for OutputLimits {
    /// Redis' defaults: `normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        let l = OutputLimits { classes: Default::default() };
        l.store(Class::Replica, 256 << 20, 64 << 20, 60);
        l.store(Class::Pubsub, 32 << 20, 8 << 20, 60);
        l
    }
}

impl OutputLimits {
    fn store(&self, c: Class, hard: u64, soft: u64, secs: u64) {
        let l = &self.classes[c as usize];
        l.hard.store(hard, Relaxed);
        l.soft.store(soft, Relaxed);
        l.soft_secs.store(secs, Relaxed);
    }

    /// A class's limits.
    pub fn get(&self, c: Class) -> &ClassLimit {
        &self.classes[c as usize]
    }

    /// CONFIG GET's rendering (`normal 0 0 0 slave … pubsub …`).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        for (c, name) in [(Class::Normal, "normal"), (Class::Replica, "slave"), (Class::Pubsub, "pubsub")] {
            let l = self.get(c);
            out.push(format!("{name} {} {} {}", l.hard.load(Relaxed), l.soft.load(Relaxed), l.soft_secs.load(Relaxed)));
        }
        out.join(" ")
    }

    /// CONFIG SET: `class hard soft seconds` groups, all valid or nothing changes, with Redis'
    /// error texts.
    pub fn set(&self, v: &str) -> Result<(), String> {
        let words: Vec<&str> = v.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut parsed = Vec::new();
        for g in words.chunks(4) {
            let class = match g[0].to_ascii_lowercase().as_str() {
                "normal" => Class::Normal,
                "replica" | "slave" => Class::Replica,
                "pubsub" => Class::Pubsub,
                _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
            };
            let num = |s: &str| crate::config::parse_memory(s.as_bytes());
            let secs = g[3].parse::<u64>().ok().filter(|s| i64::try_from(*s).is_ok());
            match (num(g[1]), num(g[2]), secs) {
                (Some(h), Some(s), Some(t)) => parsed.push((class, h, s, t)),
                _ => return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()),
            }
        }
        for (c, h, s, t) in parsed {
            self.store(c, h, s, t);
        }
        Ok(())
    }
}

/// Milliseconds since the first call, for soft-limit timing (monotonic, process-wide).
fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Whether a client with `used` bytes pending must be disconnected under `l`. `over_since`
/// remembers when it went over the soft limit (0: it is not over).
pub fn exceeded(l: &ClassLimit, used: u64, over_since: &AtomicU64) -> bool {
    let hard = l.hard.load(Relaxed);
    if hard > 0 && used > hard {
        return true;
    }
    let soft = l.soft.load(Relaxed);
    if soft > 0 && used > soft {
        let now = mono_ms();
        let since = over_since.load(Relaxed);
        if since == 0 {
            over_since.store(now, Relaxed);
            return false;
        }
        return now - since > l.soft_secs.load(Relaxed) * 1000;
    }
    over_since.store(0, Relaxed);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_with_redis_texts() {
        let l = OutputLimits::default();
        assert_eq!(l.render(), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        l.set("pubsub 1mb 512kb 5").unwrap();
        assert_eq!(l.render(), "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5");
        assert_eq!(l.set("pubsub 1mb 512kb").unwrap_err(), "Wrong number of arguments in buffer limit configuration.");
        assert!(l.set("foo 1 1 1").unwrap_err().starts_with("Invalid client class"));
        assert!(l.set("normal 1 1 1 pubsub 1 x 1").unwrap_err().starts_with("Error in hard, soft"));
        assert_eq!(l.get(Class::Normal).hard.load(Relaxed), 0, "a failed SET changes nothing");
    }

    #[test]
    fn hard_limit_at_once_soft_limit_after_its_seconds() {
        let l = OutputLimits::default();
        l.set("normal 100 10 0").unwrap();
        let since = AtomicU64::new(0);
        let n = l.get(Class::Normal);
        assert!(!exceeded(n, 10, &since));
        assert!(exceeded(n, 101, &since));
        assert!(!exceeded(n, 50, &since), "over soft: the clock starts");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(exceeded(n, 50, &since), "over soft for longer than 0 s");
        assert!(!exceeded(n, 5, &since));
        assert_eq!(since.load(Relaxed), 0);
    }
}
