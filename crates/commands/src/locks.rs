//! Lock safety that Redis leaves to operators: fencing tokens that never repeat, and the
//! restart fence (Redlock's "delayed restart", done by the server).
//!
//! Both rest on a small state file in `dir`, `tumbler-locks.state`:
//!
//! * `tokens_reserved N`: every token up to N may have been issued. Tokens are reserved in
//!   blocks of [`TOKEN_BLOCK`], each reservation written and fsynced before the first token of
//!   the block is handed out, so a restart (clean or not) resumes above every token issued.
//! * `max_ttl_ms M`: the largest TTL this node has granted a lock (capped by `lock-max-ttl`),
//!   written and fsynced before a grant that raises it is acknowledged.
//! * `clean_shutdown 0|1`: 1 only after a clean shutdown. At startup a 0 means the previous run
//!   died while it may have been holding locks for other clients; nothing persisted vouches for
//!   them, so for `max_ttl_ms` the node grants and extends no lock ([`Locks::fence_left`]).
//!
//! A clean shutdown first saves the locks still held in `tumbler-locks.held` (fsynced), and the
//! next start puts them back with the time they had left, so a planned restart neither forgets
//! a lock nor needs a fence. Without that file a "clean" stop vouches for nothing and is
//! treated like a crash.
//!
//! See docs/locks.md for what this guarantees and the argument.

use parking_lot::Mutex;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use tumbler_keyspace::{HeldLock, LockMeta};

/// Tokens reserved per write of the state file.
pub const TOKEN_BLOCK: u64 = 1 << 16;
/// The state file's name in `dir`.
pub const STATE_FILE: &str = "tumbler-locks.state";
/// Where a clean shutdown saves the locks still held.
pub const HELD_FILE: &str = "tumbler-locks.held";

/// What the state file holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct State {
    tokens_reserved: u64,
    max_ttl_ms: u64,
    clean_shutdown: bool,
}

impl State {
    fn parse(text: &str) -> Result<State, String> {
        let mut s = State::default();
        let mut seen = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once(' ').ok_or_else(|| format!("line {}: expected `name value`", n + 1))?;
            let v: u64 = v.trim().parse().map_err(|_| format!("line {}: `{v}` is not a number", n + 1))?;
            match k {
                "tokens_reserved" => s.tokens_reserved = v,
                "max_ttl_ms" => s.max_ttl_ms = v,
                "clean_shutdown" => s.clean_shutdown = v != 0,
                other => return Err(format!("line {}: unknown field `{other}`", n + 1)),
            }
            seen += 1;
        }
        if seen < 3 {
            return Err("incomplete".into());
        }
        Ok(s)
    }

    fn render(&self) -> String {
        format!(
            "# tumbler lock state (fencing tokens, restart fence): do not edit or delete\n\
             tokens_reserved {}\nmax_ttl_ms {}\nclean_shutdown {}\n",
            self.tokens_reserved,
            self.max_ttl_ms,
            u8::from(self.clean_shutdown)
        )
    }
}

/// Writes `state` to `path` atomically and durably: a temporary file, fsync, rename, fsync of
/// the directory.
fn write_state(path: &Path, state: &State) -> std::io::Result<()> {
    let tmp = path.with_extension("state.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(state.render().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// One held lock per line: `db remaining_ms token acquired_ms extensions kind key value`, kind
/// `s` for a SET NX lock and `l` for LOCK.ACQUIRE, key and value in hex; an `end` line last, so a
/// torn file is never mistaken for a complete one.
fn render_held(locks: &[HeldLock]) -> String {
    let mut out = String::from("# locks held at a clean shutdown, restored at the next start\n");
    for l in locks {
        let (kind, m) = match l.meta {
            Some(m) => ('l', m),
            None => ('s', LockMeta { token: 0, acquired_ms: 0, extensions: 0 }),
        };
        out.push_str(&format!(
            "{} {} {} {} {} {kind} {} {}\n",
            l.db,
            l.remaining_ms,
            m.token,
            m.acquired_ms,
            m.extensions,
            hex(&l.key),
            hex(&l.value)
        ));
    }
    out.push_str("end\n");
    out
}

fn parse_held(text: &str) -> Option<Vec<HeldLock>> {
    let mut out = Vec::new();
    let mut ended = false;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        if line == "end" {
            ended = true;
            break;
        }
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() != 8 {
            return None;
        }
        let meta =
            LockMeta { token: f[2].parse().ok()?, acquired_ms: f[3].parse().ok()?, extensions: f[4].parse().ok()? };
        out.push(HeldLock {
            db: f[0].parse().ok()?,
            remaining_ms: f[1].parse().ok()?,
            meta: match f[5] {
                "l" => Some(meta),
                "s" => None,
                _ => return None,
            },
            key: unhex(f[6])?,
            value: unhex(f[7])?,
        });
    }
    ended.then_some(out)
}

/// Lock counters for INFO's `locks` section (the keyspace counts releases, extensions and
/// locks lost to expiry, which it sees happen).
#[derive(Default)]
pub struct LockStats {
    /// Locks granted (SET NX with a TTL, LOCK.ACQUIRE).
    pub acquired: AtomicU64,
    /// Acquisitions refused because the lock was held (or held back by `lock-delay`).
    pub refused: AtomicU64,
    /// Grants and extensions refused by the restart fence.
    pub refused_by_fence: AtomicU64,
}

/// Fencing tokens, the restart fence and lock statistics.
#[derive(Default)]
pub struct Locks {
    /// The last token issued (or the floor LOCK.FENCE raised it to).
    issued: AtomicU64,
    /// Tokens up to this one are covered by the state file.
    reserved: AtomicU64,
    /// Largest TTL granted, as persisted.
    max_ttl: AtomicU64,
    /// Monotonic ms until which no lock is granted or extended (0: no fence).
    fence_until: AtomicU64,
    /// Set once [`Locks::open`] has run: without a state file (in-process tools and
    /// benchmarks), tokens start at 1 and nothing is persisted.
    persistent: AtomicBool,
    file: Mutex<Option<PathBuf>>,
    /// Counters.
    pub stats: LockStats,
}

impl Locks {
    /// Reads the state file in `dir` (creating it on a first start), arms the restart fence if
    /// the previous run did not shut down cleanly, and records that this run is under way.
    /// `max_ttl_cap` is `lock-max-ttl`; `fence` is `lock-restart-fence`; `now` is monotonic ms.
    ///
    /// Returns the locks a clean shutdown saved, for the caller to put back.
    pub fn open(&self, dir: &Path, max_ttl_cap: u64, fence: bool, now: u64) -> Result<Vec<HeldLock>, String> {
        let path = dir.join(STATE_FILE);
        let held_path = dir.join(HELD_FILE);
        // Locks saved by the previous run's clean shutdown (consumed: read once).
        let held = std::fs::read_to_string(&held_path).ok().and_then(|t| parse_held(&t));
        let _ = std::fs::remove_file(&held_path);
        let previous = match std::fs::read_to_string(&path) {
            Ok(text) => Some(State::parse(&text).map_err(|e| {
                format!(
                    "{}: {e}. The file records the fencing tokens already issued; tumbler will not guess. \
                     Restore it, or delete it knowingly (tokens then start again at 1)",
                    path.display()
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let prev = previous.unwrap_or_default();
        let vouched = prev.clean_shutdown && held.is_some();
        if let Some(p) = previous {
            if p.clean_shutdown && held.is_none() {
                tracing::warn!(
                    "the previous run shut down cleanly but its held locks were not saved: fencing as after a crash"
                );
            }
            if !vouched && fence {
                let window = p.max_ttl_ms.min(max_ttl_cap);
                if window > 0 {
                    self.fence_until.store(now.saturating_add(window), Relaxed);
                    tracing::warn!(
                        "the previous run did not shut down cleanly: no lock is granted or extended for the next {window} ms \
                         (the longest TTL it may have granted; lock-restart-fence)"
                    );
                }
            }
        }
        // Whatever the previous run may have issued is behind us.
        let issued = prev.tokens_reserved;
        let state = State { tokens_reserved: issued + TOKEN_BLOCK, max_ttl_ms: prev.max_ttl_ms, clean_shutdown: false };
        write_state(&path, &state).map_err(|e| format!("{}: {e}", path.display()))?;
        self.issued.store(issued, Relaxed);
        self.reserved.store(state.tokens_reserved, Relaxed);
        self.max_ttl.store(state.max_ttl_ms, Relaxed);
        *self.file.lock() = Some(path);
        self.persistent.store(true, Relaxed);
        Ok(if vouched { held.unwrap_or_default() } else { Vec::new() })
    }

    /// Records a clean shutdown: saves the locks still `held` (fsynced), then marks the stop
    /// clean, so the next start restores them and needs no restart fence.
    pub fn close_clean(&self, held: &[HeldLock]) {
        let file = self.file.lock();
        if let Some(path) = file.as_ref() {
            let held_path = path.with_file_name(HELD_FILE);
            let saved = (|| -> std::io::Result<()> {
                let tmp = held_path.with_extension("held.tmp");
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(render_held(held).as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &held_path)
            })();
            if let Err(e) = saved {
                tracing::error!(
                    "cannot save the held locks in {}: {e}; the next start will be fenced",
                    held_path.display()
                );
                return;
            }
            let state = self.snapshot(true);
            if let Err(e) = write_state(path, &state) {
                tracing::error!("cannot record the clean shutdown in {}: {e}", path.display());
            }
        }
    }

    fn snapshot(&self, clean: bool) -> State {
        State {
            tokens_reserved: self.reserved.load(Relaxed),
            max_ttl_ms: self.max_ttl.load(Relaxed),
            clean_shutdown: clean,
        }
    }

    /// Writes the current state (with the file lock held by the caller).
    fn persist(&self, file: &Option<PathBuf>, state: State) -> Result<(), String> {
        match file {
            Some(path) => write_state(path, &state)
                .map_err(|e| format!("cannot persist the lock state in {}: {e}", path.display())),
            None => Ok(()),
        }
    }

    /// A new fencing token, greater than every token this node issued before (across DEL,
    /// expiry, FLUSHALL and restarts).
    pub fn issue_token(&self) -> Result<u64, String> {
        let t = self.issued.fetch_add(1, Relaxed) + 1;
        if t > self.reserved.load(Relaxed) {
            self.reserve_through(t)?;
        }
        Ok(t)
    }

    /// Makes every future token greater than `t` (LOCK.FENCE), persisting before returning.
    pub fn raise_floor(&self, t: u64) -> Result<(), String> {
        if t >= self.reserved.load(Relaxed) {
            // Persist first: the floor must survive a crash right after the reply.
            self.reserve_through(t.saturating_add(1))?;
        }
        self.issued.fetch_max(t, Relaxed);
        Ok(())
    }

    fn reserve_through(&self, t: u64) -> Result<(), String> {
        let file = self.file.lock();
        if t <= self.reserved.load(Relaxed) {
            return Ok(());
        }
        let mut state = self.snapshot(false);
        state.tokens_reserved = t.saturating_add(TOKEN_BLOCK - 1);
        self.persist(&file, state)?;
        self.reserved.store(state.tokens_reserved, Relaxed);
        Ok(())
    }

    /// Records a lock granted or extended for `ttl_ms` (capped at `cap`, `lock-max-ttl`): a
    /// longer TTL than any before is persisted before the grant is acknowledged, so the restart
    /// fence after a crash lasts long enough.
    #[inline]
    pub fn note_ttl(&self, ttl_ms: u64, cap: u64) -> Result<(), String> {
        let ttl = ttl_ms.min(cap);
        if ttl <= self.max_ttl.load(Relaxed) || !self.persistent.load(Relaxed) {
            return Ok(());
        }
        let file = self.file.lock();
        if ttl <= self.max_ttl.load(Relaxed) {
            return Ok(());
        }
        let mut state = self.snapshot(false);
        state.max_ttl_ms = ttl;
        self.persist(&file, state)?;
        self.max_ttl.store(ttl, Relaxed);
        Ok(())
    }

    /// Milliseconds the restart fence still lasts at `now`, if it does.
    #[inline]
    pub fn fence_left(&self, now: u64) -> Option<u64> {
        let until = self.fence_until.load(Relaxed);
        (until > now).then(|| until - now)
    }

    /// The error a fenced grant or extension answers.
    pub fn fence_error(&self, left_ms: u64) -> Vec<u8> {
        self.stats.refused_by_fence.fetch_add(1, Relaxed);
        format!(
            "FENCED this node restarted without a clean shutdown and grants or extends no lock for another {left_ms} ms"
        )
        .into_bytes()
    }

    /// The next token this node would issue.
    pub fn next_token(&self) -> u64 {
        self.issued.load(Relaxed) + 1
    }

    /// The largest TTL granted, as persisted.
    pub fn max_ttl_granted(&self) -> u64 {
        self.max_ttl.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_repeat_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut last = 0;
        for _ in 0..3 {
            let l = Locks::default();
            l.open(dir.path(), 60_000, true, 0).unwrap();
            for _ in 0..(TOKEN_BLOCK + 10) {
                let t = l.issue_token().unwrap();
                assert!(t > last, "{t} after {last}");
                last = t;
            }
            // No clean shutdown: the next run starts above what this one reserved.
        }
    }

    #[test]
    fn the_fence_follows_the_longest_ttl_and_a_clean_shutdown_lifts_it() {
        let dir = tempfile::tempdir().unwrap();
        let l = Locks::default();
        l.open(dir.path(), 60_000, true, 0).unwrap();
        assert_eq!(l.fence_left(0), None, "a first start has nothing to fence");
        l.note_ttl(5_000, 60_000).unwrap();
        l.note_ttl(3_000, 60_000).unwrap();
        drop(l);
        // Crash: the next start fences for the longest TTL granted.
        let l = Locks::default();
        l.open(dir.path(), 60_000, true, 1_000).unwrap();
        assert_eq!(l.fence_left(1_000), Some(5_000));
        assert_eq!(l.fence_left(6_000), None);
        let held = vec![
            HeldLock { db: 0, key: b"lock:a".to_vec(), value: b"\x00tok".to_vec(), remaining_ms: 700, meta: None },
            HeldLock {
                db: 3,
                key: b"k y".to_vec(),
                value: b"owner".to_vec(),
                remaining_ms: 9,
                meta: Some(LockMeta { token: 42, acquired_ms: -5, extensions: 2 }),
            },
        ];
        l.close_clean(&held);
        drop(l);
        let l = Locks::default();
        let restored = l.open(dir.path(), 60_000, true, 0).unwrap();
        assert_eq!(l.fence_left(0), None, "clean shutdown: no fence");
        assert_eq!(restored, held, "the held locks come back as saved");
        drop(l);
        // The saved locks are read once; a clean flag without them vouches for nothing.
        let l = Locks::default();
        assert!(l.open(dir.path(), 60_000, true, 0).unwrap().is_empty());
        l.close_clean(&[]);
        std::fs::remove_file(dir.path().join(HELD_FILE)).unwrap();
        drop(l);
        let l = Locks::default();
        l.open(dir.path(), 60_000, true, 0).unwrap();
        assert_eq!(l.fence_left(0), Some(5_000), "clean flag but no saved locks: fenced");
        // lock-max-ttl bounds the window; lock-restart-fence no disables it.
        l.note_ttl(600_000, 60_000).unwrap();
        drop(l);
        let l = Locks::default();
        l.open(dir.path(), 10_000, true, 0).unwrap();
        assert_eq!(l.fence_left(0), Some(10_000));
        drop(l);
        let l = Locks::default();
        l.open(dir.path(), 10_000, false, 0).unwrap();
        assert_eq!(l.fence_left(0), None);
    }

    #[test]
    fn raising_the_floor_persists_and_a_corrupt_file_stops_startup() {
        let dir = tempfile::tempdir().unwrap();
        let l = Locks::default();
        l.open(dir.path(), 60_000, true, 0).unwrap();
        l.raise_floor(1_000_000).unwrap();
        assert_eq!(l.issue_token().unwrap(), 1_000_001);
        drop(l);
        let l = Locks::default();
        l.open(dir.path(), 60_000, true, 0).unwrap();
        assert!(l.issue_token().unwrap() > 1_000_001);
        std::fs::write(dir.path().join(STATE_FILE), "tokens_reserved banana\n").unwrap();
        let err = Locks::default().open(dir.path(), 60_000, true, 0).unwrap_err();
        assert!(err.contains("not a number"), "{err}");
    }
}
