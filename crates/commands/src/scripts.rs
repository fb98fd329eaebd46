//! Server-wide script state: the cache of bodies by SHA1, and the script in progress (for
//! SCRIPT KILL, -BUSY replies and SHUTDOWN NOSAVE while a script runs).
//!
//! A script runs with the keyspace to itself (the gate, taken exclusively), so at most one runs
//! at a time. Until it has run `busy-reply-threshold` ms, other clients simply wait, as with
//! Redis. After that it is *busy*: workers stop waiting for the gate and answer every command
//! with -BUSY except the few that Redis allows (SCRIPT KILL, SHUTDOWN NOSAVE, AUTH, HELLO…).
//! The worker running the script answers its own other clients from the script's hook
//! ([`BusyService`]), as Redis does from its event loop while a script runs.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use tumbler_scripting::ScriptCache;

/// The -BUSY reply.
pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL / FUNCTION KILL with nothing to kill.
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
/// SCRIPT KILL after the script wrote.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// How a worker answers its other clients while a script on it is busy (Redis'
/// processEventsWhileBlocked). Installed by the network layer, which owns the connections.
#[derive(Clone, Copy)]
pub struct BusyService {
    /// Called now and then from the hook of a busy script, on the thread running it, with the
    /// time in monotonic ms.
    pub serve: fn(&crate::Server, u64),
    /// Called on the same thread once a script that turned busy has ended.
    pub ended: fn(),
}

/// Shared script state.
#[derive(Default)]
pub struct Scripts {
    /// Script bodies by SHA1.
    pub cache: ScriptCache,
    running: AtomicBool,
    busy: AtomicBool,
    kill: AtomicBool,
    wrote: AtomicBool,
    /// Worker running the script, plus one (0: none).
    worker: AtomicUsize,
    /// Monotonic ms at which the script started.
    started: AtomicU64,
    /// Bytes held by Lua states, by thread (INFO `used_memory_lua`), folded into a few slots.
    lua_memory: [AtomicU64; 16],
}

impl Scripts {
    /// A script starts on `worker` at `now` (monotonic ms).
    pub fn begin(&self, worker: usize, now: u64) {
        self.started.store(now, Relaxed);
        self.kill.store(false, Relaxed);
        self.wrote.store(false, Relaxed);
        self.busy.store(false, Relaxed);
        self.worker.store(worker + 1, Relaxed);
        self.running.store(true, Relaxed);
    }

    /// The script ended.
    pub fn end(&self) {
        self.running.store(false, Relaxed);
        self.busy.store(false, Relaxed);
        self.kill.store(false, Relaxed);
        self.worker.store(0, Relaxed);
    }

    /// A script is running.
    #[inline]
    pub fn running(&self) -> bool {
        self.running.load(Relaxed)
    }

    /// A script has run past the busy threshold: other clients get -BUSY.
    #[inline]
    pub fn busy(&self) -> bool {
        self.busy.load(Relaxed)
    }

    /// The worker running a busy script, if any (new connections go elsewhere).
    pub fn busy_worker(&self) -> Option<usize> {
        if self.busy() {
            self.worker.load(Relaxed).checked_sub(1)
        } else {
            None
        }
    }

    /// Called from the running script now and then: marks it busy once it has run for
    /// `threshold_ms` (0: never), and says whether it must stop.
    pub fn check(&self, now: u64, threshold_ms: u64) -> bool {
        if threshold_ms > 0 && !self.busy() && now.saturating_sub(self.started.load(Relaxed)) >= threshold_ms {
            self.busy.store(true, Relaxed);
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.",
                now.saturating_sub(self.started.load(Relaxed))
            );
        }
        self.kill.load(Relaxed)
    }

    /// SCRIPT KILL asked the running script to stop.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Relaxed)
    }

    /// The running script called a write command: SCRIPT KILL can no longer stop it.
    pub fn mark_wrote(&self) {
        self.wrote.store(true, Relaxed);
    }

    /// The running script has written.
    pub fn wrote(&self) -> bool {
        self.wrote.load(Relaxed)
    }

    /// Records the Lua memory of the calling thread's engine.
    pub fn set_lua_memory(&self, bytes: usize) {
        thread_local! {
            static SLOT: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Relaxed)
            };
        }
        let slot = SLOT.with(|s| *s) % self.lua_memory.len();
        self.lua_memory[slot].store(bytes as u64, Relaxed);
    }

    /// Bytes held by all Lua states (approximate when more threads than slots run scripts).
    pub fn lua_memory(&self) -> u64 {
        self.lua_memory.iter().map(|m| m.load(Relaxed)).sum()
    }

    /// SCRIPT KILL: `Ok` when the script will stop, or the error reply.
    pub fn kill(&self) -> Result<(), &'static str> {
        if !self.running() {
            return Err(NOTBUSY);
        }
        if self.wrote.load(Relaxed) {
            return Err(UNKILLABLE);
        }
        self.kill.store(true, Relaxed);
        Ok(())
    }
}
