//! The state every connection shares.

use crate::client::Clients;
use crate::config::Config;
use crate::registry::Registry;
use crate::stats::Stats;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tumbler_expiry::Clock;
use tumbler_keyspace::{Gate, Keyspace};

/// Version of tumbler itself.
pub const TUMBLER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Redis version tumbler is compatible with, reported where clients look for it
/// (INFO `redis_version`, HELLO `version`): clients enable features by it.
pub const REDIS_VERSION: &str = "7.0.15";

/// Timers a worker reclaims per shard in one pass for the expiry thread ([`Server::help_reclaim`]): at
/// most 1,024 keys over the 64 shards, about 0.3 ms for the worker's other clients to wait
/// (0.3 µs a key); if keys are still due, the worker's next batch takes the next step.
pub const HELP_BUDGET: usize = 16;

/// Shared server state.
pub struct Server {
    /// The data.
    pub keyspace: Keyspace,
    /// Atomicity gate for scripts, transactions and whole-keyspace commands.
    pub gate: Gate,
    /// Configuration.
    pub config: Config,
    /// Commands, indexed.
    pub registry: Registry,
    /// Statistics.
    pub stats: Stats,
    /// Connected clients.
    pub clients: Clients,
    /// Clients blocked on keys.
    pub blocking: crate::blocking::Blocking,
    /// Script cache and the script in progress.
    pub scripts: crate::scripts::Scripts,
    /// Pub/sub subscriptions.
    pub pubsub: crate::pubsub::PubSub,
    /// Fencing tokens, the restart fence, lock statistics.
    pub locks: crate::locks::Locks,
    /// MONITOR clients.
    pub monitors: crate::monitor::Monitors,
    /// SLOWLOG.
    pub slowlog: crate::slowlog::SlowLog,
    /// LATENCY events.
    pub latency: crate::slowlog::Latency,
    /// Users, their permissions and the ACL LOG.
    pub acl: tumbler_acl::SharedAcl,
    /// The commands as the ACL sees them (ids are [`Registry`] ids).
    pub acl_catalog: Arc<tumbler_acl::Catalog>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Monotonic ms at startup.
    pub started: u64,
    /// 40 hex characters identifying this run (INFO `run_id`).
    pub run_id: String,
    /// Set when a SHUTDOWN or signal asked the server to stop.
    pub shutting_down: AtomicBool,
    /// Whether the active expiry (the wheel's reclamation) runs; DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: AtomicBool,
    /// Wall-clock seconds of the last successful save (LASTSAVE): startup, until persistence.
    pub lastsave: AtomicI64,
    /// Path of the configuration file, if any (INFO `config_file`).
    pub config_file: String,
    /// Listening TCP port, once bound (INFO `tcp_port`).
    pub port: AtomicU64,
    /// Number of worker threads.
    pub workers: usize,
    /// Rebuilds the TLS configuration after CONFIG SET changed a `tls-*` setting. The network
    /// layer installs it at startup; without it the values are only stored, as with TLS off.
    pub tls_reload: std::sync::OnceLock<TlsReload>,
    /// Answers a worker's other clients while a script on it is busy; the network layer,
    /// which owns the connections, installs it.
    pub busy_service: std::sync::OnceLock<crate::scripts::BusyService>,
}

/// See [`Server::tls_reload`]: given the new settings, applies them to new TLS connections or
/// says why it cannot, leaving the running configuration as it was.
pub type TlsReload = Box<dyn Fn(&crate::config::TlsSettings) -> Result<(), String> + Send + Sync>;

impl Server {
    /// Builds the shared state for `config`, with `workers` worker threads.
    pub fn new(config: Config, clock: Arc<dyn Clock>, workers: usize, config_file: String) -> Self {
        let registry = Registry::new();
        // One gate slot more than workers, for the expiry thread.
        let stats = Stats::new(workers, registry.len());
        let acl_catalog = Arc::new(registry.catalog());
        let mut acl = tumbler_acl::Acl::new(Arc::clone(&acl_catalog));
        acl.set_pubsub_default(config.acl_pubsub_all.load(Relaxed));
        let acl = tumbler_acl::SharedAcl::new(acl, config.acllog_max_len.load(Relaxed) as usize);
        let started = clock.mono_ms();
        let lastsave = clock.wall_us() / 1_000_000;
        Server {
            keyspace: Keyspace::new(config.databases),
            gate: Gate::new(workers + 1),
            config,
            registry,
            stats,
            clients: Clients::default(),
            blocking: crate::blocking::Blocking::default(),
            scripts: crate::scripts::Scripts::default(),
            pubsub: crate::pubsub::PubSub::default(),
            locks: crate::locks::Locks::default(),
            monitors: crate::monitor::Monitors::default(),
            slowlog: crate::slowlog::SlowLog::default(),
            latency: crate::slowlog::Latency::default(),
            acl,
            acl_catalog,
            clock,
            started,
            run_id: random_hex(40),
            shutting_down: AtomicBool::new(false),
            active_expire: AtomicBool::new(true),
            lastsave: AtomicI64::new(lastsave),
            config_file,
            port: AtomicU64::new(0),
            workers,
            tls_reload: std::sync::OnceLock::new(),
            busy_service: std::sync::OnceLock::new(),
        }
    }

    /// Enters the gate in shared mode for a batch of commands on `worker`: waits while a
    /// script runs, until it turns busy (then `None`: the batch runs in busy mode, see
    /// [`crate::Ctx::gate`]) or the server shuts down.
    pub fn enter(&self, worker: usize) -> Option<tumbler_keyspace::gate::Shared> {
        loop {
            if let Some(g) = self.gate.try_shared_for(worker, std::time::Duration::ZERO) {
                return Some(g);
            }
            if self.scripts.busy() || self.shutting_down.load(Relaxed) {
                return None;
            }
            if let Some(g) = self.gate.try_shared_for(worker, std::time::Duration::from_millis(10)) {
                return Some(g);
            }
        }
    }

    /// Pushes settings that live outside the configuration (the keyspace's `lock-delay`) after
    /// startup and after CONFIG SET.
    pub fn apply_config(&self) {
        self.keyspace.stats.set_lock_delay_ms(self.config.lock_delay.load(Relaxed));
        crate::notify::apply(self);
        self.slowlog.trim(usize::try_from(self.config.slowlog_max_len.load(Relaxed)).unwrap_or(usize::MAX));
        self.apply_acl_config();
    }

    /// The ACL side of [`Server::apply_config`]: `acllog-max-len`, `acl-pubsub-default`, and
    /// a `requirepass` that was just set.
    fn apply_acl_config(&self) {
        let c = &self.config;
        self.acl.log().set_max_len(usize::try_from(c.acllog_max_len.load(Relaxed)).unwrap_or(usize::MAX));
        let all = c.acl_pubsub_all.load(Relaxed);
        if self.acl.read().pubsub_default() != all {
            self.acl_update(|acl| acl.set_pubsub_default(all));
        }
        if c.requirepass_changed.swap(false, Relaxed) {
            let pass = c.settings.read().requirepass.clone();
            self.acl_update(|acl| acl.set_requirepass(pass.as_bytes()));
        }
    }

    /// Changes the user table (see [`tumbler_acl::SharedAcl::update`]) and keeps
    /// `has_password` (does the default user need a password?) in step with it.
    pub fn acl_update<R>(&self, f: impl FnOnce(&mut tumbler_acl::Acl) -> R) -> R {
        self.acl.update(|acl| {
            let r = f(acl);
            let d = acl.default_user();
            self.config.has_password.store(!(d.is_enabled() && d.is_nopass()), Relaxed);
            r
        })
    }

    /// Startup: `requirepass`, then the config file's `user` directives, then the `aclfile`,
    /// in Redis' order. Refuses both `user` directives and an `aclfile`, as Redis does. The
    /// error is the text to print before exiting; the warnings go to the log.
    pub fn init_acl(&self) -> Result<Vec<String>, String> {
        self.apply_acl_config();
        let aclfile = self.config.settings.read().aclfile.clone();
        if !self.config.users.is_empty() && !aclfile.is_empty() {
            return Err(tumbler_acl::error::CONFIG_AND_ACLFILE.to_string());
        }
        let warnings = self.acl_update(|acl| acl.apply_config_users(&self.config.users))?;
        if !aclfile.is_empty() {
            self.acl_update(|acl| acl.load_file(std::path::Path::new(&aclfile), &aclfile))
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {}", e.0))?;
        }
        Ok(warnings)
    }

    /// Gate slot of the expiry thread.
    pub fn expiry_slot(&self) -> usize {
        self.workers
    }

    /// Between batches, worker `worker` reclaims a little itself once the time the expiry
    /// thread planned to reclaim at has come: that thread runs at a lower priority and shares
    /// a core with the workers, so under a saturating load it waits for the CPU while keys
    /// stay past their deadlines (and their `expired` events unsent). At most [`HELP_BUDGET`]
    /// timers a shard, so the worker's other clients wait for little; unless a script holds
    /// the whole keyspace, or DEBUG SET-ACTIVE-EXPIRE 0 turned expiry off. Returns keys
    /// removed.
    #[inline]
    pub fn help_reclaim(&self, worker: usize, now: u64) -> usize {
        if !self.keyspace.reclaim_due(now) || !self.active_expire.load(Relaxed) {
            return 0;
        }
        let mut passage = self.gate.try_shared_for(worker, std::time::Duration::ZERO);
        if passage.is_none() {
            return 0;
        }
        // Like the expiry thread's pass, this one gives way between shards to a script or
        // EXEC that waits for the gate; the worker's clients can wait for the rest.
        self.keyspace
            .help_reclaim(now, HELP_BUDGET, || self.gate.yield_shared(&mut passage, worker, std::time::Duration::ZERO))
    }

    /// Reclaims expired keys due now (called by the expiry thread), unless DEBUG
    /// SET-ACTIVE-EXPIRE 0 turned it off. Returns keys removed.
    pub fn reclaim_expired(&self, budget: usize) -> usize {
        if !self.active_expire.load(Relaxed) {
            return 0;
        }
        // Not while a script holds the gate (its keys must not expire under it).
        let (slot, wait) = (self.expiry_slot(), std::time::Duration::from_millis(100));
        let mut passage = self.gate.try_shared_for(slot, wait);
        if passage.is_none() {
            return 0;
        }
        // A script or EXEC waiting for the gate waits for one shard's reclaiming, not for the
        // pass over every shard (a backlog's pass takes 64 of them); meanwhile it holds every
        // worker's slot, so every client waits with it.
        self.keyspace
            .reclaim_yielding(self.clock.mono_ms(), budget, || self.gate.yield_shared(&mut passage, slot, wait))
    }
}

/// Random lower-case hex of `n` characters, from the OS's random source when available.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    fill_random(&mut bytes);
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}

/// Fills `buf` with random bytes from /dev/urandom, falling back to a time-seeded generator.
pub fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    let mut x =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
            | 1;
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}
