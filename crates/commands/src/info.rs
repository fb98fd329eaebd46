//! INFO: Redis' sections and field names, so monitoring tools (redis_exporter, redis-cli --stat,
//! ioredis' ready check) read tumbler unchanged. tumbler-specific figures (expiry lag, worker
//! threads) are added under their own names.

use crate::server::{REDIS_VERSION, TUMBLER_VERSION};
use crate::Ctx;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

/// Sections in canonical order, and whether `INFO` / `INFO default` includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
    ("locks", true),
];

static ALLOCATED: OnceLock<fn() -> usize> = OnceLock::new();

/// Installs the function that reports bytes allocated by the process (the binary's counting
/// allocator), used for `used_memory`. Without it, the keyspace's own accounting is used.
pub fn set_allocated_probe(f: fn() -> usize) {
    let _ = ALLOCATED.set(f);
}

/// Bytes currently allocated, as `used_memory` reports them.
pub fn used_memory(ctx: &Ctx<'_>) -> usize {
    used_memory_of(ctx.srv)
}

/// [`used_memory`] of a server.
pub fn used_memory_of(srv: &crate::Server) -> usize {
    match ALLOCATED.get() {
        Some(f) => f(),
        None => srv.keyspace.memory(),
    }
}

/// Resident set size of the process, from /proc.
pub fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<usize>().ok()))
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Redis' human-readable byte counts: `894.95K`, `1.56M`, `200B`.
pub fn human(n: u64) -> String {
    let f = n as f64;
    const UNITS: [(f64, &str); 5] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    for (div, u) in UNITS {
        if f >= div {
            return format!("{:.2}{}", f / div, u);
        }
    }
    format!("{n}B")
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the struct we pass; zeroed is a valid initial value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage struct.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn uname() -> String {
    // SAFETY: uname fills the struct; zeroed is valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let f = |a: &[libc::c_char]| {
        let bytes: Vec<u8> = a.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
}

/// Builds the INFO text for the requested section names (empty: the default set).
pub fn render(ctx: &Ctx<'_>, requested: &[&[u8]]) -> String {
    let mut want = [false; SECTIONS.len()];
    if requested.is_empty() {
        for (i, (_, def)) in SECTIONS.iter().enumerate() {
            want[i] = *def;
        }
    }
    for r in requested {
        let r = String::from_utf8_lossy(r).to_ascii_lowercase();
        match r.as_str() {
            "all" | "everything" => want = [true; SECTIONS.len()],
            "default" => {
                for (i, (_, def)) in SECTIONS.iter().enumerate() {
                    want[i] |= *def;
                }
            }
            name => {
                if let Some(i) = SECTIONS.iter().position(|(n, _)| *n == name) {
                    want[i] = true;
                }
            }
        }
    }
    let mut out = String::with_capacity(4096);
    let mut first = true;
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !want[i] {
            continue;
        }
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        section(ctx, name, &mut out);
    }
    out
}

macro_rules! field {
    ($out:expr, $name:expr, $val:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $val);
    };
}

fn section(ctx: &Ctx<'_>, name: &str, o: &mut String) {
    let srv = ctx.srv;
    let now = ctx.now;
    let uptime = now.saturating_sub(srv.started) / 1000;
    match name {
        "server" => {
            o.push_str("# Server\r\n");
            field!(o, "redis_version", REDIS_VERSION);
            field!(o, "redis_git_sha1", "00000000");
            field!(o, "redis_git_dirty", 0);
            field!(o, "redis_build_id", "0");
            field!(o, "redis_mode", "standalone");
            field!(o, "os", uname());
            field!(o, "arch_bits", usize::BITS);
            field!(o, "monotonic_clock", "POSIX clock_gettime");
            field!(o, "multiplexing_api", "epoll");
            field!(o, "atomicvar_api", "c11-builtin");
            field!(o, "gcc_version", "0.0.0");
            field!(o, "process_id", std::process::id());
            field!(o, "process_supervised", "no");
            field!(o, "run_id", srv.run_id);
            field!(o, "tcp_port", srv.port.load(Relaxed));
            field!(o, "server_time_usec", srv.clock.wall_us());
            field!(o, "uptime_in_seconds", uptime);
            field!(o, "uptime_in_days", uptime / 86400);
            field!(o, "hz", srv.config.hz.load(Relaxed));
            field!(o, "configured_hz", srv.config.hz.load(Relaxed));
            field!(o, "lru_clock", tumbler_keyspace::lru_clock(now));
            field!(o, "executable", std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
            field!(o, "config_file", srv.config_file);
            field!(o, "io_threads_active", 0);
            field!(o, "tumbler_version", TUMBLER_VERSION);
            field!(o, "tumbler_worker_threads", srv.workers);
        }
        "clients" => {
            o.push_str("# Clients\r\n");
            field!(o, "connected_clients", srv.clients.len());
            field!(o, "cluster_connections", 0);
            field!(o, "maxclients", srv.config.maxclients.load(Relaxed));
            field!(o, "client_recent_max_input_buffer", 0);
            field!(o, "client_recent_max_output_buffer", 0);
            field!(o, "blocked_clients", srv.blocking.count());
            field!(o, "tracking_clients", 0);
            field!(o, "clients_in_timeout_table", 0);
        }
        "memory" => {
            let used = used_memory(ctx) as u64;
            let rss = rss_bytes() as u64;
            let dataset = srv.keyspace.dataset_bytes() as u64;
            let maxmem = srv.config.maxmemory.load(Relaxed);
            let sys = total_system_memory();
            let overhead = used.saturating_sub(dataset);
            o.push_str("# Memory\r\n");
            field!(o, "used_memory", used);
            field!(o, "used_memory_human", human(used));
            field!(o, "used_memory_rss", rss);
            field!(o, "used_memory_rss_human", human(rss));
            field!(o, "used_memory_peak", used);
            field!(o, "used_memory_peak_human", human(used));
            field!(o, "used_memory_peak_perc", "100.00%");
            field!(o, "used_memory_overhead", overhead);
            field!(o, "used_memory_startup", 0);
            field!(o, "used_memory_dataset", dataset);
            field!(
                o,
                "used_memory_dataset_perc",
                format!("{:.2}%", if used > 0 { dataset as f64 * 100.0 / used as f64 } else { 0.0 })
            );
            field!(o, "allocator_allocated", used);
            field!(o, "allocator_active", used);
            field!(o, "allocator_resident", rss);
            field!(o, "total_system_memory", sys);
            field!(o, "total_system_memory_human", human(sys));
            let lua = srv.scripts.lua_memory();
            let scripts = srv.scripts.cache.body_bytes();
            field!(o, "used_memory_lua", lua);
            field!(o, "used_memory_vm_eval", lua);
            field!(o, "used_memory_lua_human", human(lua));
            field!(o, "used_memory_scripts_eval", scripts);
            field!(o, "number_of_cached_scripts", srv.scripts.cache.len());
            field!(o, "number_of_functions", 0);
            field!(o, "number_of_libraries", 0);
            field!(o, "used_memory_vm_functions", 0);
            field!(o, "used_memory_vm_total", lua);
            field!(o, "used_memory_vm_total_human", human(lua));
            field!(o, "used_memory_functions", 0);
            field!(o, "used_memory_scripts", scripts);
            field!(o, "used_memory_scripts_human", human(scripts));
            field!(o, "maxmemory", maxmem);
            field!(o, "maxmemory_human", human(maxmem));
            field!(o, "maxmemory_policy", srv.config.settings.read().maxmemory_policy);
            field!(o, "allocator_frag_ratio", "1.00");
            field!(o, "allocator_frag_bytes", 0);
            field!(o, "allocator_rss_ratio", format!("{:.2}", if used > 0 { rss as f64 / used as f64 } else { 0.0 }));
            field!(o, "allocator_rss_bytes", rss.saturating_sub(used));
            field!(o, "rss_overhead_ratio", "1.00");
            field!(o, "rss_overhead_bytes", 0);
            field!(
                o,
                "mem_fragmentation_ratio",
                format!("{:.2}", if used > 0 { rss as f64 / used as f64 } else { 0.0 })
            );
            field!(o, "mem_fragmentation_bytes", rss as i64 - used as i64);
            field!(o, "mem_not_counted_for_evict", 0);
            field!(o, "mem_replication_backlog", 0);
            field!(o, "mem_total_replication_buffers", 0);
            field!(o, "mem_clients_slaves", 0);
            field!(o, "mem_clients_normal", 0);
            field!(o, "mem_cluster_links", 0);
            field!(o, "mem_aof_buffer", 0);
            field!(o, "mem_allocator", "mimalloc");
            field!(o, "active_defrag_running", 0);
            field!(o, "lazyfree_pending_objects", 0);
            field!(o, "lazyfreed_objects", 0);
        }
        "persistence" => {
            let lastsave = srv.lastsave.load(Relaxed);
            o.push_str("# Persistence\r\n");
            field!(o, "loading", 0);
            field!(o, "async_loading", 0);
            field!(o, "current_cow_peak", 0);
            field!(o, "current_cow_size", 0);
            field!(o, "current_cow_size_age", 0);
            field!(o, "current_fork_perc", "0.00");
            field!(o, "current_save_keys_processed", 0);
            field!(o, "current_save_keys_total", 0);
            field!(o, "rdb_changes_since_last_save", 0);
            field!(o, "rdb_bgsave_in_progress", 0);
            field!(o, "rdb_last_save_time", lastsave);
            field!(o, "rdb_last_bgsave_status", "ok");
            field!(o, "rdb_last_bgsave_time_sec", -1);
            field!(o, "rdb_current_bgsave_time_sec", -1);
            field!(o, "rdb_saves", 0);
            field!(o, "rdb_last_cow_size", 0);
            field!(o, "rdb_last_load_keys_expired", 0);
            field!(o, "rdb_last_load_keys_loaded", 0);
            field!(o, "aof_enabled", 0);
            field!(o, "aof_rewrite_in_progress", 0);
            field!(o, "aof_rewrite_scheduled", 0);
            field!(o, "aof_last_rewrite_time_sec", -1);
            field!(o, "aof_current_rewrite_time_sec", -1);
            field!(o, "aof_last_bgrewrite_status", "ok");
            field!(o, "aof_rewrites", 0);
            field!(o, "aof_rewrites_consecutive_failures", 0);
            field!(o, "aof_last_write_status", "ok");
            field!(o, "aof_last_cow_size", 0);
            field!(o, "module_fork_in_progress", 0);
            field!(o, "module_fork_last_cow_size", 0);
            // tumbler keeps nothing on disk yet: `save` and `appendonly` are accepted and ignored.
            field!(o, "tumbler_persistence", "none");
        }
        "stats" => {
            let st = &srv.stats;
            let ks = &srv.keyspace.stats;
            o.push_str("# Stats\r\n");
            field!(o, "total_connections_received", st.connections.load(Relaxed));
            field!(o, "total_commands_processed", st.sum(|w| &w.commands));
            field!(o, "instantaneous_ops_per_sec", 0);
            field!(o, "total_net_input_bytes", st.sum(|w| &w.net_in));
            field!(o, "total_net_output_bytes", st.sum(|w| &w.net_out));
            field!(o, "total_net_repl_input_bytes", 0);
            field!(o, "total_net_repl_output_bytes", 0);
            field!(o, "instantaneous_input_kbps", "0.00");
            field!(o, "instantaneous_output_kbps", "0.00");
            field!(o, "instantaneous_input_repl_kbps", "0.00");
            field!(o, "instantaneous_output_repl_kbps", "0.00");
            field!(o, "rejected_connections", st.rejected_connections.load(Relaxed));
            field!(o, "sync_full", 0);
            field!(o, "sync_partial_ok", 0);
            field!(o, "sync_partial_err", 0);
            field!(o, "expired_keys", ks.expired_keys());
            field!(o, "expired_stale_perc", "0.00");
            field!(o, "expired_time_cap_reached_count", 0);
            field!(o, "expire_cycle_cpu_milliseconds", 0);
            field!(o, "evicted_keys", 0);
            field!(o, "evicted_clients", 0);
            field!(o, "total_eviction_exceeded_time", 0);
            field!(o, "current_eviction_exceeded_time", 0);
            field!(o, "keyspace_hits", st.sum(|w| &w.hits));
            field!(o, "keyspace_misses", st.sum(|w| &w.misses));
            field!(o, "pubsub_channels", srv.pubsub.count(crate::pubsub::Kind::Channel));
            field!(o, "pubsub_patterns", srv.pubsub.numpat());
            field!(o, "pubsubshard_channels", srv.pubsub.count(crate::pubsub::Kind::Shard));
            field!(o, "latest_fork_usec", 0);
            field!(o, "total_forks", 0);
            field!(o, "migrate_cached_sockets", 0);
            field!(o, "slave_expires_tracked_keys", 0);
            field!(o, "active_defrag_hits", 0);
            field!(o, "active_defrag_misses", 0);
            field!(o, "active_defrag_key_hits", 0);
            field!(o, "active_defrag_key_misses", 0);
            field!(o, "total_active_defrag_time", 0);
            field!(o, "current_active_defrag_time", 0);
            field!(o, "tracking_total_keys", 0);
            field!(o, "tracking_total_items", 0);
            field!(o, "tracking_total_prefixes", 0);
            field!(o, "unexpected_error_replies", 0);
            field!(o, "total_error_replies", st.total_errors.load(Relaxed));
            field!(o, "dump_payload_sanitizations", 0);
            field!(o, "total_reads_processed", 0);
            field!(o, "total_writes_processed", 0);
            field!(o, "io_threaded_reads_processed", 0);
            field!(o, "io_threaded_writes_processed", 0);
            field!(o, "reply_buffer_shrinks", 0);
            field!(o, "reply_buffer_expands", 0);
            field!(o, "client_limit_disconnections", st.limit_disconnects.load(Relaxed));
            // How late the timing wheel removed expired keys (bucket bounds, ms).
            field!(o, "expiry_lag_p50_ms", ks.lag(0.5).unwrap_or(0));
            field!(o, "expiry_lag_p99_ms", ks.lag(0.99).unwrap_or(0));
            field!(o, "expiry_lag_max_ms", ks.lag_max());
            field!(o, "expired_by_workers", ks.expired_by_workers());
        }
        "replication" => {
            o.push_str("# Replication\r\n");
            field!(o, "role", "master");
            field!(o, "connected_slaves", 0);
            field!(o, "master_failover_state", "no-failover");
            field!(o, "master_replid", srv.run_id);
            field!(o, "master_replid2", "0000000000000000000000000000000000000000");
            field!(o, "master_repl_offset", 0);
            field!(o, "second_repl_offset", -1);
            field!(o, "repl_backlog_active", 0);
            field!(o, "repl_backlog_size", 1048576);
            field!(o, "repl_backlog_first_byte_offset", 0);
            field!(o, "repl_backlog_histlen", 0);
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            o.push_str("# CPU\r\n");
            field!(o, "used_cpu_sys", format!("{sys:.6}"));
            field!(o, "used_cpu_user", format!("{user:.6}"));
            field!(o, "used_cpu_sys_children", "0.000000");
            field!(o, "used_cpu_user_children", "0.000000");
            field!(o, "used_cpu_sys_main_thread", format!("{sys:.6}"));
            field!(o, "used_cpu_user_main_thread", format!("{user:.6}"));
        }
        "modules" => o.push_str("# Modules\r\n"),
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            for (id, r) in srv.registry.all() {
                let calls = srv.stats.cmd_sum(id, |c| &c.calls);
                let rejected = srv.stats.cmd_sum(id, |c| &c.rejected);
                let failed = srv.stats.cmd_sum(id, |c| &c.failed);
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let usec = srv.stats.cmd_sum(id, |c| &c.usec);
                let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                    r.fullname
                );
            }
        }
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            for (code, n) in srv.stats.errors() {
                let _ = write!(o, "errorstat_{code}:count={n}\r\n");
            }
        }
        "latencystats" => {
            o.push_str("# Latencystats\r\n");
            let percentiles = srv.config.settings.read().latency_percentiles.clone();
            for (id, r) in srv.registry.all() {
                let Some(h) = srv.stats.histogram(id) else { continue };
                let _ = write!(o, "latency_percentiles_usec_{}:", r.fullname);
                for (i, &p) in percentiles.iter().enumerate() {
                    let sep = if i + 1 < percentiles.len() { "," } else { "" };
                    let usec = crate::hdr::percentile(&h, p) as f64 / 1000.0;
                    let _ = write!(o, "p{}={usec:.3}{sep}", crate::hdr::percentile_name(p));
                }
                o.push_str("\r\n");
            }
        }
        "cluster" => {
            o.push_str("# Cluster\r\n");
            field!(o, "cluster_enabled", 0);
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for db in 0..srv.keyspace.databases() {
                let i = srv.keyspace.db_info(db, now);
                if i.keys > 0 {
                    let _ = write!(o, "db{db}:keys={},expires={},avg_ttl={}\r\n", i.keys, i.expires, i.avg_ttl);
                }
            }
        }
        "locks" => {
            // tumbler's own section (docs/locks.md): locks are keys granted by SET NX with a TTL
            // or by LOCK.ACQUIRE.
            let l = &srv.locks;
            let ks = &srv.keyspace.stats;
            o.push_str("# Locks\r\n");
            field!(o, "locks_acquired", l.stats.acquired.load(Relaxed));
            field!(o, "locks_refused", l.stats.refused.load(Relaxed));
            field!(o, "locks_released", ks.locks_released());
            field!(o, "locks_extended", ks.locks_extended());
            field!(o, "locks_expired_while_held", ks.locks_expired());
            field!(o, "locks_refused_by_fence", l.stats.refused_by_fence.load(Relaxed));
            field!(o, "lock_fence_remaining_ms", l.fence_left(now).unwrap_or(0));
            field!(o, "lock_token_next", l.next_token());
            field!(o, "lock_max_ttl_granted_ms", l.max_ttl_granted());
            field!(o, "lock_delay_ms", ks.lock_delay_ms());
            field!(o, "expiry_lag_p50_ms", ks.lag(0.5).unwrap_or(0));
            field!(o, "expiry_lag_p99_ms", ks.lag(0.99).unwrap_or(0));
            field!(o, "expiry_lag_max_ms", ks.lag_max());
            field!(o, "expired_by_workers", ks.expired_by_workers());
            // Scripts that provably touch only their declared keys run beside other workers.
            field!(o, "scripts_beside_others", srv.stats.sum(|w| &w.scripts_beside));
            field!(o, "scripts_alone", srv.stats.sum(|w| &w.scripts_alone));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(200), "200B");
        assert_eq!(human(916_432), "894.95K");
        assert_eq!(human(1_635_778), "1.56M");
    }
}
