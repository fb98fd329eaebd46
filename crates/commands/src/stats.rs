//! Server statistics for INFO.
//!
//! Counters that change on every command live per worker thread ([`WorkerStats`]): only the
//! owning thread writes them (plain load + store, no locked instruction, no shared cache line),
//! and INFO sums them. Rare events use shared atomics.

use crate::registry::CommandId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Per-command counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStat {
    /// Successful and failed executions.
    pub calls: AtomicU64,
    /// Microseconds spent.
    pub usec: AtomicU64,
    /// Rejected before execution (arity, auth, ACL, OOM…).
    pub rejected: AtomicU64,
    /// Executed and replied with an error.
    pub failed: AtomicU64,
    /// Latency histogram (INFO latencystats, LATENCY HISTOGRAM), [`crate::hdr`]'s slots,
    /// allocated at the first execution timed (24 KB): most commands never run.
    pub hist: std::sync::OnceLock<Box<[AtomicU64]>>,
}

#[inline]
fn bump(a: &AtomicU64, by: u64) {
    // Single writer: a relaxed load and store is enough and avoids a locked instruction.
    a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
}

/// Counters owned by one worker thread.
#[repr(align(128))]
pub struct WorkerStats {
    cmds: Box<[CmdStat]>,
    /// Commands processed.
    pub commands: AtomicU64,
    /// Key lookups that found a key.
    pub hits: AtomicU64,
    /// Key lookups that found nothing.
    pub misses: AtomicU64,
    /// Bytes read from clients.
    pub net_in: AtomicU64,
    /// Bytes written to clients.
    pub net_out: AtomicU64,
    /// Scripts run beside other workers, on the shards of their declared keys.
    pub scripts_beside: AtomicU64,
    /// Scripts run alone, with the whole keyspace.
    pub scripts_alone: AtomicU64,
}

impl WorkerStats {
    /// Counters for `ncmds` commands.
    pub fn new(ncmds: usize) -> Self {
        WorkerStats {
            cmds: (0..ncmds).map(|_| CmdStat::default()).collect(),
            commands: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            net_in: AtomicU64::new(0),
            net_out: AtomicU64::new(0),
            scripts_beside: AtomicU64::new(0),
            scripts_alone: AtomicU64::new(0),
        }
    }

    /// Records one execution of `id`.
    #[inline]
    pub fn call(&self, id: CommandId, failed: bool) {
        let s = &self.cmds[id as usize];
        bump(&s.calls, 1);
        if failed {
            bump(&s.failed, 1);
        }
        bump(&self.commands, 1);
    }

    /// Adds time spent in `id` (the network layer measures batches and shares them out).
    #[inline]
    pub fn add_usec(&self, id: CommandId, usec: u64) {
        bump(&self.cmds[id as usize].usec, usec);
    }

    /// Records how long an execution of `id` took.
    #[inline]
    pub fn latency(&self, id: CommandId, us: u64) {
        let hist =
            self.cmds[id as usize].hist.get_or_init(|| (0..crate::hdr::COUNTS).map(|_| AtomicU64::new(0)).collect());
        bump(&hist[crate::hdr::slot(us)], 1);
    }

    /// Records a rejection of `id` before execution.
    #[inline]
    pub fn reject(&self, id: CommandId) {
        bump(&self.cmds[id as usize].rejected, 1);
    }

    /// Records a key lookup.
    #[inline]
    pub fn lookup(&self, hit: bool) {
        bump(if hit { &self.hits } else { &self.misses }, 1);
    }

    /// Records network traffic.
    #[inline]
    pub fn net(&self, input: u64, output: u64) {
        bump(&self.net_in, input);
        bump(&self.net_out, output);
    }

    /// The counters of one command.
    pub fn cmd(&self, id: CommandId) -> &CmdStat {
        &self.cmds[id as usize]
    }

    fn reset(&self) {
        for c in self.cmds.iter() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
            c.failed.store(0, Relaxed);
            for b in c.hist.get().into_iter().flat_map(|h| h.iter()) {
                b.store(0, Relaxed);
            }
        }
        for a in [
            &self.commands,
            &self.hits,
            &self.misses,
            &self.net_in,
            &self.net_out,
            &self.scripts_beside,
            &self.scripts_alone,
        ] {
            a.store(0, Relaxed);
        }
    }
}

/// Server-wide statistics.
pub struct Stats {
    workers: Box<[WorkerStats]>,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused (maxclients).
    pub rejected_connections: AtomicU64,
    /// Error replies by error code (`ERR`, `WRONGTYPE`…), INFO errorstats.
    errors: parking_lot::Mutex<BTreeMap<String, u64>>,
    /// Total error replies.
    pub total_errors: AtomicU64,
    /// Clients disconnected for exceeding a limit.
    pub limit_disconnects: AtomicU64,
}

impl Stats {
    /// Statistics for `workers` worker threads and `ncmds` commands.
    pub fn new(workers: usize, ncmds: usize) -> Self {
        Stats {
            workers: (0..workers.max(1)).map(|_| WorkerStats::new(ncmds)).collect(),
            connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            errors: parking_lot::Mutex::new(BTreeMap::new()),
            total_errors: AtomicU64::new(0),
            limit_disconnects: AtomicU64::new(0),
        }
    }

    /// The counters of worker `i` (the last ones for any `i` beyond). Called a few times per
    /// command, so a bounds check rather than a division.
    #[inline]
    pub fn worker(&self, i: usize) -> &WorkerStats {
        &self.workers[i.min(self.workers.len() - 1)]
    }

    /// Sum of a per-worker counter.
    pub fn sum(&self, f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
        self.workers.iter().map(|w| f(w).load(Relaxed)).sum()
    }

    /// Sum over workers of a command's counter.
    pub fn cmd_sum(&self, id: CommandId, f: impl Fn(&CmdStat) -> &AtomicU64) -> u64 {
        self.workers.iter().map(|w| f(w.cmd(id)).load(Relaxed)).sum()
    }

    /// A command's latency histogram ([`crate::hdr`]'s slots) summed over workers; `None` when
    /// no execution of it was timed (since CONFIG RESETSTAT).
    pub fn histogram(&self, id: CommandId) -> Option<Vec<u64>> {
        let mut out: Option<Vec<u64>> = None;
        for h in self.workers.iter().filter_map(|w| w.cmd(id).hist.get()) {
            let sum = out.get_or_insert_with(|| vec![0; crate::hdr::COUNTS]);
            for (o, b) in sum.iter_mut().zip(h.iter()) {
                *o += b.load(Relaxed);
            }
        }
        out.filter(|h| h.iter().any(|&n| n > 0))
    }

    /// Records an error reply whose text starts with `msg`. The code is the first word when it
    /// is upper case, as in Redis; anything else counts as `ERR`.
    pub fn error(&self, msg: &[u8]) {
        let word = msg.split(|&c| c == b' ').next().unwrap_or(b"ERR");
        let code = if !word.is_empty() && word.iter().all(|c| c.is_ascii_uppercase() || *c == b'_') {
            String::from_utf8_lossy(word).into_owned()
        } else {
            "ERR".to_string()
        };
        self.total_errors.fetch_add(1, Relaxed);
        let mut m = self.errors.lock();
        // Redis caps distinct error codes at 128 to bound memory.
        if m.len() < 128 || m.contains_key(&code) {
            *m.entry(code).or_insert(0) += 1;
        }
    }

    /// Error counts by code.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.errors.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for w in self.workers.iter() {
            w.reset();
        }
        self.connections.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.errors.lock().clear();
        self.total_errors.store(0, Relaxed);
        self.limit_disconnects.store(0, Relaxed);
    }
}
