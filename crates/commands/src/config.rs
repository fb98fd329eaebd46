//! Configuration: one table of parameters shared by the config file, the command line and
//! CONFIG GET / SET, so a value is validated the same way wherever it comes from, with Redis'
//! error texts.
//!
//! Values read on hot paths (limits, maxmemory) are atomics; the rest sit behind a lock.

use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};

/// `enable-debug-command` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DebugMode {
    /// DEBUG refused.
    No = 0,
    /// DEBUG allowed.
    Yes = 1,
    /// DEBUG allowed from loopback connections only.
    Local = 2,
}

/// Why `port` and `bind` cannot change at runtime (Redis re-binds its listeners; tumbler's
/// listeners are set up once at startup).
const NO_REBIND: &str =
    "tumbler cannot change its listening address at runtime: set port and bind in the config file and restart";

/// Log levels, as redis.conf names them.
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];

/// Eviction policies Redis knows. tumbler accepts only `noeviction`.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Values that are not read on hot paths.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Listen addresses.
    pub bind: Vec<String>,
    /// TCP port.
    pub port: u16,
    /// listen() backlog.
    pub tcp_backlog: u32,
    /// Log file ("" = standard output).
    pub logfile: String,
    /// PID file ("" = none).
    pub pidfile: String,
    /// Working directory.
    pub dir: String,
    /// `save` points (accepted; persistence is not implemented yet).
    pub save: String,
    /// `latency-tracking-info-percentiles`: the percentiles INFO latencystats reports.
    pub latency_percentiles: Vec<f64>,
    /// `appendonly` (accepted; persistence is not implemented yet).
    pub appendonly: bool,
    /// `maxmemory-policy` (always noeviction).
    pub maxmemory_policy: String,
    /// `requirepass` ("" = none).
    pub requirepass: String,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `aclfile` ("" = none; immutable): where ACL LOAD / SAVE read and write users.
    pub aclfile: String,
    /// TLS (startup only): `tls-port` (0 = no TLS listener), certificate, key, CA for client
    /// certificates, `tls-auth-clients` (index into [`TLS_AUTH_CLIENTS`]), `tls-protocols`.
    pub tls: TlsSettings,
}

/// `tls-auth-clients` values.
pub const TLS_AUTH_CLIENTS: &[&str] = &["no", "yes", "optional"];

/// TLS directives.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// `tls-port`.
    pub port: u16,
    /// `tls-cert-file` (PEM chain).
    pub cert_file: String,
    /// `tls-key-file` (PEM private key).
    pub key_file: String,
    /// `tls-ca-cert-file` (PEM roots for client certificates).
    pub ca_cert_file: String,
    /// `tls-auth-clients`: 0 no, 1 yes, 2 optional.
    pub auth_clients: usize,
    /// `tls-protocols` ("" = TLSv1.2 and TLSv1.3).
    pub protocols: String,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            port: 0,
            cert_file: String::new(),
            key_file: String::new(),
            ca_cert_file: String::new(),
            auth_clients: 1,
            protocols: String::new(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: vec!["*".into(), "-::*".into()],
            port: 6379,
            tcp_backlog: 511,
            logfile: String::new(),
            pidfile: String::new(),
            dir: std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_else(|_| ".".into()),
            save: String::new(),
            latency_percentiles: vec![50.0, 99.0, 99.9],
            appendonly: false,
            maxmemory_policy: "noeviction".into(),
            requirepass: String::new(),
            protected_mode: true,
            aclfile: String::new(),
            tls: TlsSettings::default(),
        }
    }
}

/// The live configuration.
pub struct Config {
    /// `databases` (immutable).
    pub databases: usize,
    /// `io-threads` (immutable): worker threads.
    pub io_threads: usize,
    /// `maxmemory` in bytes (0 = no limit).
    pub maxmemory: AtomicU64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicU64,
    /// `client-query-buffer-limit`.
    pub client_query_buffer_limit: AtomicU64,
    /// `timeout` in seconds (0 = never).
    pub timeout: AtomicU64,
    /// `tcp-keepalive` in seconds.
    pub tcp_keepalive: AtomicU64,
    /// `maxclients`.
    pub maxclients: AtomicU64,
    /// `hz` (clamped to 1..=500 as in Redis).
    pub hz: AtomicU64,
    /// `busy-reply-threshold` (alias `lua-time-limit`) in ms: how long a script runs before
    /// other clients get -BUSY and SCRIPT KILL becomes possible (0 = never).
    pub busy_reply_threshold: AtomicU64,
    /// `lua-memory-limit` (tumbler): bytes each worker's Lua state may hold while a script
    /// runs. Redis has no such limit; a script that allocates without bound would take the
    /// whole machine.
    pub lua_memory_limit: AtomicU64,
    /// `lock-max-ttl` (tumbler) in ms: the longest restart fence, and the cap on the TTL the
    /// fence accounts for.
    pub lock_max_ttl: AtomicU64,
    /// `lock-restart-fence` (tumbler): after an unclean shutdown, grant no lock for as long as
    /// the previous run may have granted them.
    pub lock_restart_fence: AtomicBool,
    /// `lock-delay` (tumbler) in ms: after a lock expires (not when it is released), its name
    /// cannot be acquired again for this long (0: off). Applied to the keyspace by
    /// [`crate::Server::apply_config`].
    pub lock_delay: AtomicU64,
    /// `notify-keyspace-events`, parsed.
    pub notify: crate::notify::Flags,
    /// `slowlog-log-slower-than` in µs (-1: off).
    pub slowlog_slower_than: AtomicI64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: AtomicU64,
    /// `latency-monitor-threshold` in ms (0: off).
    pub latency_monitor_threshold: AtomicU64,
    /// `latency-tracking`: per-command latency histograms (LATENCY HISTOGRAM).
    pub latency_tracking: AtomicBool,
    /// `client-output-buffer-limit`, shared with every client record.
    pub output_limits: std::sync::Arc<crate::outlimit::OutputLimits>,
    /// `enable-debug-command`.
    pub debug: AtomicU8,
    /// `loglevel` index into [`LOGLEVELS`].
    pub loglevel: AtomicU8,
    /// Whether the default user needs a password (it is not `on nopass`): new connections
    /// start unauthenticated. Kept current by [`crate::Server::acl_update`].
    pub has_password: AtomicBool,
    /// Set by CONFIG SET `requirepass`; [`crate::Server::apply_config`] then gives the default
    /// user the new password (only then: other CONFIG SETs leave ACL SETUSER's changes alone).
    pub requirepass_changed: AtomicBool,
    /// `acllog-max-len`.
    pub acllog_max_len: AtomicU64,
    /// `acl-pubsub-default allchannels` (the default is `resetchannels`).
    pub acl_pubsub_all: AtomicBool,
    /// `user` directives of the config file (and command line), validated, applied at startup.
    pub users: tumbler_acl::ConfigUsers,
    /// Encoding thresholds (`hash-max-listpack-entries` …), read per aggregate write.
    pub encoding: EncodingLimits,
    /// `daemonize` (startup only).
    pub daemonize: AtomicBool,
    /// `disable-thp` (startup only): no transparent huge pages for the process.
    pub disable_thp: AtomicBool,
    /// Set once the server is listening: `port` and `bind` can no longer change.
    pub running: AtomicBool,
    /// Everything else.
    pub settings: RwLock<Settings>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            databases: 16,
            io_threads: 0,
            maxmemory: AtomicU64::new(0),
            proto_max_bulk_len: AtomicU64::new(512 * 1024 * 1024),
            client_query_buffer_limit: AtomicU64::new(1024 * 1024 * 1024),
            timeout: AtomicU64::new(0),
            tcp_keepalive: AtomicU64::new(300),
            maxclients: AtomicU64::new(10000),
            hz: AtomicU64::new(10),
            busy_reply_threshold: AtomicU64::new(5000),
            lua_memory_limit: AtomicU64::new(512 << 20),
            lock_max_ttl: AtomicU64::new(60_000),
            lock_restart_fence: AtomicBool::new(true),
            lock_delay: AtomicU64::new(0),
            notify: Default::default(),
            slowlog_slower_than: AtomicI64::new(10_000),
            slowlog_max_len: AtomicU64::new(128),
            latency_monitor_threshold: AtomicU64::new(0),
            latency_tracking: AtomicBool::new(true),
            output_limits: Default::default(),
            debug: AtomicU8::new(DebugMode::No as u8),
            loglevel: AtomicU8::new(2),
            has_password: AtomicBool::new(false),
            requirepass_changed: AtomicBool::new(false),
            acllog_max_len: AtomicU64::new(tumbler_acl::DEFAULT_MAX_LEN as u64),
            acl_pubsub_all: AtomicBool::new(false),
            users: tumbler_acl::ConfigUsers::default(),
            encoding: EncodingLimits::default(),
            daemonize: AtomicBool::new(false),
            disable_thp: AtomicBool::new(true),
            running: AtomicBool::new(false),
            settings: RwLock::new(Settings::default()),
        }
    }
}

/// Redis' encoding thresholds, which decide OBJECT ENCODING and small-collection ordering.
pub struct EncodingLimits {
    /// hash-max-listpack-entries.
    pub hash_entries: AtomicU64,
    /// hash-max-listpack-value.
    pub hash_value: AtomicU64,
    /// set-max-intset-entries.
    pub set_intset_entries: AtomicU64,
    /// zset-max-listpack-entries.
    pub zset_entries: AtomicU64,
    /// zset-max-listpack-value.
    pub zset_value: AtomicU64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_entries: AtomicU64::new(128),
            hash_value: AtomicU64::new(64),
            set_intset_entries: AtomicU64::new(512),
            zset_entries: AtomicU64::new(128),
            zset_value: AtomicU64::new(64),
        }
    }
}

impl EncodingLimits {
    /// A snapshot for the keyspace.
    pub fn get(&self) -> tumbler_keyspace::Limits {
        tumbler_keyspace::Limits {
            hash_entries: self.hash_entries.load(Relaxed) as usize,
            hash_value: self.hash_value.load(Relaxed) as usize,
            set_intset_entries: self.set_intset_entries.load(Relaxed) as usize,
            zset_entries: self.zset_entries.load(Relaxed) as usize,
            zset_value: self.zset_value.load(Relaxed) as usize,
        }
    }
}

/// How a parameter's value is read and written.
enum Kind {
    Bool { get: fn(&Config) -> bool, set: fn(&Config, bool) },
    Int { min: i64, max: i64, get: fn(&Config) -> i64, set: fn(&Config, i64) -> Result<(), String> },
    Memory { min: u64, max: u64, get: fn(&Config) -> u64, set: fn(&Config, u64) },
    Enum { names: &'static [&'static str], get: fn(&Config) -> usize, set: fn(&Config, usize) -> Result<(), String> },
    Str { get: fn(&Config) -> String, set: fn(&Config, &str) -> Result<(), String> },
}

/// One configuration parameter.
pub struct Param {
    /// Name, as in redis.conf.
    pub name: &'static str,
    /// Can only be set at startup.
    pub immutable: bool,
    /// Refused by CONFIG SET like Redis' protected configs (`enable-protected-configs no`):
    /// settable only in the config file or on the command line.
    pub protected: bool,
    kind: Kind,
}

fn settings(c: &Config) -> parking_lot::RwLockReadGuard<'_, Settings> {
    c.settings.read()
}

/// The parameters, in the order CONFIG GET lists them.
pub static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).bind.join(" "),
            set: |c, v| {
                let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                if addrs.is_empty() {
                    return Err("Too many bind addresses specified.".into());
                }
                if c.running.load(Relaxed) && addrs != settings(c).bind {
                    return Err(NO_REBIND.into());
                }
                c.settings.write().bind = addrs;
                Ok(())
            },
        },
    },
    Param {
        name: "port",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |c| i64::from(settings(c).port),
            set: |c, v| {
                if c.running.load(Relaxed) && v as u16 != settings(c).port {
                    return Err(NO_REBIND.into());
                }
                c.settings.write().port = v as u16;
                Ok(())
            },
        },
    },
    Param {
        name: "daemonize",
        immutable: true,
        protected: false,
        kind: Kind::Bool { get: |c| c.daemonize.load(Relaxed), set: |c, v| c.daemonize.store(v, Relaxed) },
    },
    Param {
        name: "disable-thp",
        immutable: true,
        protected: false,
        kind: Kind::Bool { get: |c| c.disable_thp.load(Relaxed), set: |c, v| c.disable_thp.store(v, Relaxed) },
    },
    Param {
        name: "databases",
        immutable: true,
        protected: false,
        kind: Kind::Int { min: 1, max: i32::MAX as i64, get: |c| c.databases as i64, set: |_, _| Ok(()) },
    },
    Param {
        name: "tcp-backlog",
        immutable: true,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
            get: |c| i64::from(settings(c).tcp_backlog),
            set: |c, v| {
                c.settings.write().tcp_backlog = v as u32;
                Ok(())
            },
        },
    },
    Param {
        name: "timeout",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
            get: |c| c.timeout.load(Relaxed) as i64,
            set: |c, v| {
                c.timeout.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "tcp-keepalive",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
            get: |c| c.tcp_keepalive.load(Relaxed) as i64,
            set: |c, v| {
                c.tcp_keepalive.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "maxclients",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 1,
            max: u32::MAX as i64,
            get: |c| c.maxclients.load(Relaxed) as i64,
            set: |c, v| {
                c.maxclients.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "proto-max-bulk-len",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX as u64,
            get: |c| c.proto_max_bulk_len.load(Relaxed),
            set: |c, v| c.proto_max_bulk_len.store(v, Relaxed),
        },
    },
    Param {
        name: "client-query-buffer-limit",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX as u64,
            get: |c| c.client_query_buffer_limit.load(Relaxed),
            set: |c, v| c.client_query_buffer_limit.store(v, Relaxed),
        },
    },
    Param {
        name: "loglevel",
        immutable: false,
        protected: false,
        kind: Kind::Enum {
            names: LOGLEVELS,
            get: |c| c.loglevel.load(Relaxed) as usize,
            set: |c, i| {
                c.loglevel.store(i as u8, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "logfile",
        immutable: true,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).logfile.clone(),
            set: |c, v| {
                c.settings.write().logfile = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "pidfile",
        immutable: true,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).pidfile.clone(),
            set: |c, v| {
                c.settings.write().pidfile = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "dir",
        immutable: false,
        protected: true,
        kind: Kind::Str {
            get: |c| settings(c).dir.clone(),
            set: |c, v| {
                let p = std::path::Path::new(v);
                if !p.is_dir() {
                    return Err(format!("No such file or directory: {v}"));
                }
                let abs = std::fs::canonicalize(p).map_err(|e| e.to_string())?;
                c.settings.write().dir = abs.display().to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "hz",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
            get: |c| c.hz.load(Relaxed) as i64,
            set: |c, v| {
                c.hz.store(v.clamp(1, 500) as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "io-threads",
        immutable: true,
        protected: false,
        kind: Kind::Int { min: 1, max: 128, get: |c| c.io_threads.max(1) as i64, set: |_, _| Ok(()) },
    },
    Param {
        name: "maxmemory",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 0,
            max: u64::MAX,
            get: |c| c.maxmemory.load(Relaxed),
            set: |c, v| c.maxmemory.store(v, Relaxed),
        },
    },
    Param {
        name: "maxmemory-policy",
        immutable: false,
        protected: false,
        kind: Kind::Enum {
            names: MAXMEMORY_POLICIES,
            get: |c| MAXMEMORY_POLICIES.iter().position(|p| *p == settings(c).maxmemory_policy).unwrap_or(7),
            set: |c, i| {
                if MAXMEMORY_POLICIES[i] != "noeviction" {
                    return Err(format!(
                        "tumbler only supports noeviction: the '{}' policy would evict keys, and evicting a lock key silently breaks mutual exclusion",
                        MAXMEMORY_POLICIES[i]
                    ));
                }
                c.settings.write().maxmemory_policy = MAXMEMORY_POLICIES[i].to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "enable-debug-command",
        immutable: true,
        protected: false,
        kind: Kind::Enum {
            names: &["no", "yes", "local"],
            get: |c| c.debug.load(Relaxed) as usize,
            set: |c, i| {
                c.debug.store(i as u8, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "save",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).save.clone(),
            set: |c, v| {
                let parts: Vec<&str> = v.split_whitespace().collect();
                if !parts.len().is_multiple_of(2)
                    || parts.iter().any(|p| tumbler_proto::num::parse_i64(p.as_bytes()).is_none_or(|n| n < 0))
                {
                    return Err("Invalid save parameters".into());
                }
                c.settings.write().save = parts.join(" ");
                Ok(())
            },
        },
    },
    Param {
        name: "appendonly",
        immutable: false,
        protected: false,
        kind: Kind::Bool { get: |c| settings(c).appendonly, set: |c, v| c.settings.write().appendonly = v },
    },
    Param {
        name: "lock-max-ttl",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.lock_max_ttl.load(Relaxed) as i64,
            set: |c, v| {
                c.lock_max_ttl.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "lock-restart-fence",
        immutable: true,
        protected: false,
        kind: Kind::Bool {
            get: |c| c.lock_restart_fence.load(Relaxed),
            set: |c, v| c.lock_restart_fence.store(v, Relaxed),
        },
    },
    Param {
        name: "lock-delay",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.lock_delay.load(Relaxed) as i64,
            set: |c, v| {
                c.lock_delay.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "notify-keyspace-events",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| crate::notify::render(c.notify.get()),
            set: |c, v| {
                let f = crate::notify::parse(v)
                    .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
                c.notify.set(f);
                Ok(())
            },
        },
    },
    Param {
        name: "slowlog-log-slower-than",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: -1,
            max: i64::MAX,
            get: |c| c.slowlog_slower_than.load(Relaxed),
            set: |c, v| {
                c.slowlog_slower_than.store(v, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "slowlog-max-len",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.slowlog_max_len.load(Relaxed) as i64,
            set: |c, v| {
                c.slowlog_max_len.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "latency-monitor-threshold",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.latency_monitor_threshold.load(Relaxed) as i64,
            set: |c, v| {
                c.latency_monitor_threshold.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "client-output-buffer-limit",
        immutable: false,
        protected: false,
        kind: Kind::Str { get: |c| c.output_limits.render(), set: |c, v| c.output_limits.set(v) },
    },
    Param {
        name: "latency-tracking",
        immutable: false,
        protected: false,
        kind: Kind::Bool {
            get: |c| c.latency_tracking.load(Relaxed),
            set: |c, v| c.latency_tracking.store(v, Relaxed),
        },
    },
    Param {
        name: "latency-tracking-info-percentiles",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| {
                let names: Vec<String> =
                    settings(c).latency_percentiles.iter().map(|&p| crate::hdr::percentile_name(p)).collect();
                names.join(" ")
            },
            set: |c, v| {
                // Split on single spaces as Redis does: an empty field is not a number.
                let mut percentiles = Vec::new();
                for field in v.split(' ').filter(|_| !v.is_empty()) {
                    let p = crate::util::parse_double(field.as_bytes())
                        .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err(
                            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into()
                        );
                    }
                    percentiles.push(p);
                }
                c.settings.write().latency_percentiles = percentiles;
                Ok(())
            },
        },
    },
    Param {
        name: "lua-memory-limit",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 1 << 20,
            max: i64::MAX as u64,
            get: |c| c.lua_memory_limit.load(Relaxed),
            set: |c, v| c.lua_memory_limit.store(v, Relaxed),
        },
    },
    Param {
        name: "busy-reply-threshold",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.busy_reply_threshold.load(Relaxed) as i64,
            set: |c, v| {
                c.busy_reply_threshold.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "lua-time-limit",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.busy_reply_threshold.load(Relaxed) as i64,
            set: |c, v| {
                c.busy_reply_threshold.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "hash-max-listpack-entries",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.encoding.hash_entries.load(Relaxed) as i64,
            set: |c, v| {
                c.encoding.hash_entries.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "hash-max-ziplist-entries",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.encoding.hash_entries.load(Relaxed) as i64,
            set: |c, v| {
                c.encoding.hash_entries.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "hash-max-listpack-value",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX as u64,
            get: |c| c.encoding.hash_value.load(Relaxed),
            set: |c, v| c.encoding.hash_value.store(v, Relaxed),
        },
    },
    Param {
        name: "hash-max-ziplist-value",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX as u64,
            get: |c| c.encoding.hash_value.load(Relaxed),
            set: |c, v| c.encoding.hash_value.store(v, Relaxed),
        },
    },
    Param {
        name: "set-max-intset-entries",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.encoding.set_intset_entries.load(Relaxed) as i64,
            set: |c, v| {
                c.encoding.set_intset_entries.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "zset-max-listpack-entries",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.encoding.zset_entries.load(Relaxed) as i64,
            set: |c, v| {
                c.encoding.zset_entries.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "zset-max-ziplist-entries",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.encoding.zset_entries.load(Relaxed) as i64,
            set: |c, v| {
                c.encoding.zset_entries.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "zset-max-listpack-value",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX as u64,
            get: |c| c.encoding.zset_value.load(Relaxed),
            set: |c, v| c.encoding.zset_value.store(v, Relaxed),
        },
    },
    Param {
        name: "zset-max-ziplist-value",
        immutable: false,
        protected: false,
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX as u64,
            get: |c| c.encoding.zset_value.load(Relaxed),
            set: |c, v| c.encoding.zset_value.store(v, Relaxed),
        },
    },
    Param {
        name: "requirepass",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).requirepass.clone(),
            set: |c, v| {
                c.settings.write().requirepass = v.to_string();
                c.requirepass_changed.store(true, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "aclfile",
        immutable: true,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).aclfile.clone(),
            set: |c, v| {
                c.settings.write().aclfile = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "acllog-max-len",
        immutable: false,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.acllog_max_len.load(Relaxed) as i64,
            set: |c, v| {
                c.acllog_max_len.store(v as u64, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "acl-pubsub-default",
        immutable: false,
        protected: false,
        kind: Kind::Enum {
            names: &["allchannels", "resetchannels"],
            get: |c| if c.acl_pubsub_all.load(Relaxed) { 0 } else { 1 },
            set: |c, i| {
                c.acl_pubsub_all.store(i == 0, Relaxed);
                Ok(())
            },
        },
    },
    Param {
        name: "tls-port",
        immutable: true,
        protected: false,
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |c| i64::from(settings(c).tls.port),
            set: |c, v| {
                c.settings.write().tls.port = v as u16;
                Ok(())
            },
        },
    },
    Param {
        name: "tls-cert-file",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).tls.cert_file.clone(),
            set: |c, v| {
                c.settings.write().tls.cert_file = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "tls-key-file",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).tls.key_file.clone(),
            set: |c, v| {
                c.settings.write().tls.key_file = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "tls-ca-cert-file",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).tls.ca_cert_file.clone(),
            set: |c, v| {
                c.settings.write().tls.ca_cert_file = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "tls-auth-clients",
        immutable: false,
        protected: false,
        kind: Kind::Enum {
            names: TLS_AUTH_CLIENTS,
            get: |c| settings(c).tls.auth_clients,
            set: |c, i| {
                c.settings.write().tls.auth_clients = i;
                Ok(())
            },
        },
    },
    Param {
        name: "tls-protocols",
        immutable: false,
        protected: false,
        kind: Kind::Str {
            get: |c| settings(c).tls.protocols.clone(),
            // Checked where the TLS configuration is built (at startup and on CONFIG SET with
            // TLS on), as in Redis: with TLS off any value is kept.
            set: |c, v| {
                c.settings.write().tls.protocols = v.to_string();
                Ok(())
            },
        },
    },
    Param {
        name: "protected-mode",
        immutable: false,
        protected: false,
        kind: Kind::Bool { get: |c| settings(c).protected_mode, set: |c, v| c.settings.write().protected_mode = v },
    },
];

/// The comment before the lines CONFIG REWRITE appends (Redis' text).
const SIGNATURE: &[u8] = b"# Generated by CONFIG REWRITE";

/// Writes the current value of every parameter into the config file at `path`: lines that set
/// a parameter are replaced by its current value (later duplicates dropped), other lines and
/// comments are kept, and parameters that differ from their defaults are appended. The file is
/// replaced atomically.
///
/// `users` are the ACL users as `user <name> <rules>` lines (ACL LIST), or empty when an
/// `aclfile` keeps them. As in Redis, they take the places of the file's `user` lines in order;
/// old lines left over are dropped, users left over are appended after the parameters. So ACL
/// SETUSER and DELUSER followed by CONFIG REWRITE survive a restart.
pub fn rewrite(c: &Config, users: &[Vec<u8>], path: &str) -> std::io::Result<()> {
    let text = std::fs::read(path)?;
    let defaults = Config::default();
    let mut written = vec![false; PARAMS.len()];
    let mut users = users.iter();
    let mut out = Vec::with_capacity(text.len() + 256);
    let line_for = |p: &Param| {
        let v = p.get(c);
        let multi = matches!(p.name, "bind" | "save" | "client-output-buffer-limit");
        let quoted = if v.is_empty() || (v.contains(' ') && !multi) || v.contains('"') {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v
        };
        format!("{} {}\n", p.name, quoted)
    };
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let first = line.split(u8::is_ascii_whitespace).find(|w| !w.is_empty()).unwrap_or_default();
        if first.eq_ignore_ascii_case(b"user") {
            if let Some(u) = users.next() {
                out.extend_from_slice(u);
                out.push(b'\n');
            }
            continue;
        }
        match PARAMS.iter().position(|p| p.name.as_bytes().eq_ignore_ascii_case(first)) {
            Some(i) if written[i] => {}
            Some(i) => {
                written[i] = true;
                out.extend_from_slice(line_for(&PARAMS[i]).as_bytes());
            }
            None => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
    }
    // Appended lines follow one signature: the file's own from an earlier rewrite, if any.
    let mut signed = text.split(|&b| b == b'\n').any(|l| l == SIGNATURE);
    let mut append = |out: &mut Vec<u8>, line: &[u8]| {
        if !signed {
            out.push(b'\n');
            out.extend_from_slice(SIGNATURE);
            out.push(b'\n');
            signed = true;
        }
        out.extend_from_slice(line);
    };
    for (i, p) in PARAMS.iter().enumerate() {
        if !written[i] && p.get(c) != p.get(&defaults) {
            append(&mut out, line_for(p).as_bytes());
        }
    }
    for u in users {
        append(&mut out, u);
        out.push(b'\n');
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, out)?;
    std::fs::rename(&tmp, path)
}

/// Why a value was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError {
    /// No such parameter.
    Unknown,
    /// The parameter can only be set at startup.
    Immutable,
    /// The value is invalid; the text says why (Redis' wording).
    Invalid(String),
}

/// Parses a memory value the way Redis' `memtoull` does: digits and an optional unit
/// (b, k, kb, m, mb, g, gb; k = 1000, kb = 1024), case-insensitive.
pub fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (num, unit) = s.split_at(digits);
    let unit = std::str::from_utf8(unit).ok()?.to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let v: u64 = if num.is_empty() { 0 } else { std::str::from_utf8(num).ok()?.parse().ok()? };
    v.checked_mul(mul)
}

impl Param {
    /// The current value as CONFIG GET prints it.
    pub fn get(&self, c: &Config) -> String {
        match &self.kind {
            Kind::Bool { get, .. } => if get(c) { "yes" } else { "no" }.into(),
            Kind::Int { get, .. } => get(c).to_string(),
            Kind::Memory { get, .. } => get(c).to_string(),
            Kind::Enum { names, get, .. } => names.get(get(c)).copied().unwrap_or("").into(),
            Kind::Str { get, .. } => get(c),
        }
    }

    /// Validates and applies `value`.
    pub fn set(&self, c: &Config, value: &[u8]) -> Result<(), SetError> {
        let invalid = |s: &str| SetError::Invalid(s.to_string());
        match &self.kind {
            Kind::Bool { set, .. } => {
                if value.eq_ignore_ascii_case(b"yes") {
                    set(c, true)
                } else if value.eq_ignore_ascii_case(b"no") {
                    set(c, false)
                } else {
                    return Err(invalid("argument must be 'yes' or 'no'"));
                }
            }
            Kind::Int { min, max, set, .. } => {
                let v = tumbler_proto::num::parse_i64(value)
                    .ok_or_else(|| invalid("argument couldn't be parsed into an integer"))?;
                if v < *min || v > *max {
                    return Err(SetError::Invalid(format!("argument must be between {min} and {max} inclusive")));
                }
                set(c, v).map_err(SetError::Invalid)?
            }
            Kind::Memory { min, max, set, .. } => {
                let v = parse_memory(value).ok_or_else(|| invalid("argument must be a memory value"))?;
                if v < *min || v > *max {
                    return Err(SetError::Invalid(format!("argument must be between {min} and {max} inclusive")));
                }
                set(c, v)
            }
            Kind::Enum { names, set, .. } => {
                let Some(i) = names.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(value)) else {
                    return Err(SetError::Invalid(format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )));
                };
                set(c, i).map_err(SetError::Invalid)?
            }
            Kind::Str { set, .. } => {
                let s = std::str::from_utf8(value).map_err(|_| invalid("argument must be valid UTF-8"))?;
                set(c, s).map_err(SetError::Invalid)?
            }
        }
        Ok(())
    }
}

impl Config {
    /// The parameter called `name` (case-insensitive).
    pub fn param(name: &[u8]) -> Option<&'static Param> {
        PARAMS.iter().find(|p| p.name.as_bytes().eq_ignore_ascii_case(name))
    }

    /// Sets a parameter at startup (immutable ones included).
    pub fn set_startup(&mut self, name: &[u8], value: &[u8]) -> Result<(), SetError> {
        let p = Self::param(name).ok_or(SetError::Unknown)?;
        match p.name {
            "databases" => {
                let n = tumbler_proto::num::parse_i64(value).filter(|n| (1..=i32::MAX as i64).contains(n));
                self.databases = n
                    .ok_or_else(|| SetError::Invalid("argument must be between 1 and 2147483647 inclusive".into()))?
                    as usize;
                Ok(())
            }
            "io-threads" => {
                let n = tumbler_proto::num::parse_i64(value).filter(|n| (1..=128).contains(n));
                self.io_threads =
                    n.ok_or_else(|| SetError::Invalid("argument must be between 1 and 128 inclusive".into()))? as usize;
                Ok(())
            }
            _ => p.set(self, value),
        }
    }

    /// Sets a parameter at runtime (CONFIG SET): immutable parameters are refused.
    pub fn set_runtime(&self, name: &[u8], value: &[u8]) -> Result<(), SetError> {
        let p = Self::param(name).ok_or(SetError::Unknown)?;
        if p.immutable {
            return Err(SetError::Immutable);
        }
        p.set(self, value)
    }

    /// `enable-debug-command`.
    pub fn debug_mode(&self) -> DebugMode {
        match self.debug.load(Relaxed) {
            1 => DebugMode::Yes,
            2 => DebugMode::Local,
            _ => DebugMode::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"2gb"), Some(2 << 30));
        assert_eq!(parse_memory(b"1.5gb"), None);
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"abc"), None);
    }

    #[test]
    fn set_and_get() {
        let c = Config::default();
        assert_eq!(c.set_runtime(b"maxmemory", b"1gb"), Ok(()));
        assert_eq!(Config::param(b"MAXMEMORY").map(|p| p.get(&c)), Some("1073741824".into()));
        assert_eq!(c.set_runtime(b"databases", b"3"), Err(SetError::Immutable));
        assert_eq!(c.set_runtime(b"nope", b"3"), Err(SetError::Unknown));
        assert!(
            matches!(c.set_runtime(b"timeout", b"-1"), Err(SetError::Invalid(m)) if m == "argument must be between 0 and 2147483647 inclusive")
        );
        assert!(
            matches!(c.set_runtime(b"maxmemory-policy", b"allkeys-lru"), Err(SetError::Invalid(m)) if m.contains("noeviction"))
        );
        assert_eq!(c.set_runtime(b"maxmemory-policy", b"NOEVICTION"), Ok(()));
        assert_eq!(c.set_runtime(b"hz", b"1000"), Ok(()));
        assert_eq!(Config::param(b"hz").map(|p| p.get(&c)), Some("500".into()));
    }
}
