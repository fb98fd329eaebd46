//! The texts of `LATENCY DOCTOR` and `LATENCY GRAPH <event>`, as redis-server 7.0.15 writes
//! them.
//!
//! Pure functions over [`LatencyEvent`] samples: the caller passes the current unix second (the
//! ages printed in the graph and the DOCTOR "period" depend on it) and the few server settings
//! DOCTOR's advice depends on.

use std::fmt::Write as _;

use crate::slowlog::LatencyEvent;

/// Width of a graph chunk, and of the dashed line under the graph header.
const GRAPH_COLUMNS: usize = 80;
/// Sparkline rows of a graph (each row gives three levels: `_`, `o`, `#`).
const GRAPH_ROWS: usize = 4;
/// The glyphs of one sparkline row, lowest first; a full cell under the top is `|`.
const FILL_GLYPHS: [char; 3] = ['_', 'o', '#'];

/// What DOCTOR knows of an event: Redis' per-event statistics over the kept samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Samples kept.
    pub samples: u64,
    /// Integer average of the samples (ms).
    pub avg: u64,
    /// Smallest sample (ms).
    pub min: u64,
    /// Largest kept sample (ms).
    pub max: u64,
    /// Integer mean absolute deviation from `avg` (ms).
    pub mad: u64,
    /// Seconds since the oldest kept sample (at least 1 when there are samples).
    pub period: i64,
    /// Largest latency ever recorded (ms).
    pub all_time_high: u64,
}

/// Computes an event's statistics at unix second `now`, with Redis' integer arithmetic.
pub fn analyze(ev: &LatencyEvent, now: i64) -> EventStats {
    let mut st = EventStats { all_time_high: ev.max, ..EventStats::default() };
    let mut sum: u64 = 0;
    let mut oldest: Option<i64> = None;
    for &(t, ms) in &ev.samples {
        if st.samples == 0 {
            st.min = ms;
            st.max = ms;
        } else {
            st.min = st.min.min(ms);
            st.max = st.max.max(ms);
        }
        st.samples += 1;
        sum = sum.wrapping_add(ms);
        oldest = Some(oldest.map_or(t, |o| o.min(t)));
    }
    if st.samples == 0 {
        return st;
    }
    st.avg = sum / st.samples;
    st.period = now - oldest.unwrap_or(now);
    if st.period == 0 {
        st.period = 1;
    }
    let dev: u64 = ev.samples.iter().map(|&(_, ms)| st.avg.abs_diff(ms)).sum();
    st.mad = dev / st.samples;
    st
}

/// Server state DOCTOR's advice depends on.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
    /// `latency-monitor-threshold` (ms; 0: monitoring off).
    pub threshold_ms: u64,
    /// `slowlog-log-slower-than` (µs; negative: slow log off).
    pub slowlog_log_slower_than_us: i64,
    /// `hz` (the expire-cycle advice is given under 100).
    pub hz: u64,
    /// `appendfsync always` (the aof-fsync-always advice needs it).
    pub aof_fsync_always: bool,
    /// INFO's `latest_fork_usec`-derived fork rate, GB/s (for a `fork` event).
    pub fork_rate_gb_per_sec: f64,
    /// The process has anonymous huge pages (Redis reads AnonHugePages from smaps).
    pub anon_huge_pages: bool,
}

impl DoctorSettings {
    /// Redis' defaults (slow log at 10000 µs, hz 10, no AOF, no huge pages) with `threshold_ms`.
    pub fn with_threshold(threshold_ms: u64) -> Self {
        DoctorSettings {
            threshold_ms,
            slowlog_log_slower_than_us: 10_000,
            hz: 10,
            aof_fsync_always: false,
            fork_rate_gb_per_sec: 0.0,
            anon_huge_pages: false,
        }
    }
}

/// The `LATENCY DOCTOR` report for `events` (in the order given) at unix second `now_unix`,
/// with Redis' default settings otherwise (see [`DoctorSettings::with_threshold`]).
pub fn doctor(events: &[(&str, &LatencyEvent)], threshold_ms: u64, now_unix: i64) -> String {
    doctor_with(events, &DoctorSettings::with_threshold(threshold_ms), now_unix)
}

/// The advice DOCTOR may give, in the order it prints them.
#[derive(Default)]
struct Advice {
    better_vm: bool,
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    scheduler: bool,
    local_disk: bool,
    ssd: bool,
    data_writeback: bool,
    disk_contention: bool,
    no_appendfsync: bool,
    relax_fsync_policy: bool,
    write_load_info: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    disable_thp: bool,
    /// Redis' count of advice, which decides between the closing texts (it counts some
    /// advice twice, and some it may not print).
    count: u32,
}

/// The `LATENCY DOCTOR` report for `events` (in the order given) at unix second `now_unix`.
pub fn doctor_with(events: &[(&str, &LatencyEvent)], cfg: &DoctorSettings, now_unix: i64) -> String {
    let mut out = String::new();
    if events.is_empty() && cfg.threshold_ms == 0 {
        out.push_str(
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis \
             instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in \
             order to enable it. If we weren't in a deep space mission I'd suggest to take a look \
             at https://redis.io/topics/latency-monitor.\n",
        );
        return out;
    }

    let mut adv = Advice::default();
    for (n, (name, ev)) in events.iter().enumerate() {
        if n == 0 {
            out.push_str(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind \
                 talking about it, do you Dave?\n\n",
            );
        }
        let st = analyze(ev, now_unix);
        let _ = write!(
            out,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {} sec). \
             Worst all time event {}ms.",
            n + 1,
            name,
            st.samples,
            st.avg,
            st.mad,
            period_per_sample(st.period, st.samples),
            ev.max
        );
        event_advice(name, cfg, &mut adv, &mut out);
        out.push('\n');
    }

    if cfg.anon_huge_pages {
        adv.disable_thp = true;
        adv.count += 1;
    }

    if events.is_empty() && adv.count == 0 {
        out.push_str(
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not \
             in the slightest bit. I honestly think you ought to sit down calmly, take a stress \
             pill, and think things over.\n",
        );
    } else if !events.is_empty() && adv.count == 0 {
        out.push_str(
            "\nWhile there are latency events logged, I'm not able to suggest any easy fix. \
             Please use the Redis community to get some help, providing this report in your help \
             request.\n",
        );
    } else {
        write_advice(&adv, cfg, &mut out);
    }
    out
}

/// `period / samples` as C's `%.2f` prints it (a NaN when there are no samples, as Redis').
fn period_per_sample(period: i64, samples: u64) -> String {
    if samples == 0 {
        // C's 0.0/0 on x86 is the negative default NaN, which glibc prints so.
        return "-nan".to_string();
    }
    // Rust rounds exact halves to even, as glibc does.
    format!("{:.2}", period as f64 / samples as f64)
}

/// Notes what `name` calls for, appending the event line's remarks (the fork rate).
fn event_advice(name: &str, cfg: &DoctorSettings, adv: &mut Advice, out: &mut String) {
    let is = |s: &str| name.eq_ignore_ascii_case(s);
    if is("fork") {
        let rate = cfg.fork_rate_gb_per_sec;
        let quality = if rate < 10.0 {
            "terrible"
        } else if rate < 25.0 {
            "poor"
        } else if rate < 100.0 {
            "good"
        } else {
            "excellent"
        };
        if rate < 25.0 {
            adv.better_vm = true;
            adv.count += 1;
        }
        let _ = write!(out, " Fork rate is {rate:.2} GB/sec ({quality}).");
    }
    if is("command") {
        if cfg.slowlog_log_slower_than_us < 0 {
            adv.slowlog_enabled = true;
            adv.count += 1;
        } else if cfg.slowlog_log_slower_than_us / 1000 > cfg.threshold_ms as i64 {
            adv.slowlog_tuning = true;
            adv.count += 1;
        }
        adv.slowlog_inspect = true;
        adv.large_objects = true;
        adv.count += 2;
    }
    if is("fast-command") {
        adv.scheduler = true;
        adv.count += 1;
    }
    if is("aof-write-pending-fsync") {
        adv.local_disk = true;
        adv.disk_contention = true;
        adv.ssd = true;
        adv.data_writeback = true;
        adv.count += 4;
    }
    if is("aof-write-active-child") {
        adv.no_appendfsync = true;
        adv.data_writeback = true;
        adv.ssd = true;
        adv.count += 3;
    }
    if is("aof-write-alone") {
        adv.local_disk = true;
        adv.data_writeback = true;
        adv.ssd = true;
        adv.count += 3;
    }
    if is("aof-fsync-always") {
        adv.relax_fsync_policy = true;
        adv.count += 1;
    }
    if is("aof-fstat") || is("rdb-unlink-temp-file") {
        adv.disk_contention = true;
        adv.local_disk = true;
        adv.count += 2;
    }
    if is("aof-rewrite-diff-write") || is("aof-rename") {
        adv.write_load_info = true;
        adv.data_writeback = true;
        adv.ssd = true;
        adv.local_disk = true;
        adv.count += 4;
    }
    if is("expire-cycle") {
        adv.hz = true;
        adv.large_objects = true;
        adv.count += 2;
    }
    if is("eviction-del") {
        adv.large_objects = true;
        adv.count += 1;
    }
    if is("eviction-cycle") {
        adv.mass_eviction = true;
        adv.count += 1;
    }
}

/// The advice section, in Redis' order.
fn write_advice(adv: &Advice, cfg: &DoctorSettings, out: &mut String) {
    out.push_str("\nI have a few advices for you:\n\n");
    let threshold_us = cfg.threshold_ms.wrapping_mul(1000);
    if adv.better_vm {
        out.push_str(
            "- If you are using a virtual machine, consider upgrading it with a faster one using \
             a hypervisior that provides less latency during fork() calls. Xen is known to have \
             poor fork() performance. Even in the context of the same VM provider, certain kinds \
             of instances can execute fork faster than others.\n",
        );
    }
    if adv.slowlog_enabled {
        let _ = writeln!(
            out,
            "- There are latency issues with potentially slow commands you are using. Try to \
             enable the Slow Log Redis feature using the command 'CONFIG SET \
             slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not \
             able to log slow commands execution for you."
        );
    }
    if adv.slowlog_tuning {
        let _ = writeln!(
            out,
            "- Your current Slow Log configuration only logs events that are slower than your \
             configured latency monitor threshold. Please use 'CONFIG SET \
             slowlog-log-slower-than {threshold_us}'."
        );
    }
    if adv.slowlog_inspect {
        out.push_str(
            "- Check your Slow Log to understand what are the commands you are running which are \
             too slow to execute. Please check https://redis.io/commands/slowlog for more \
             information.\n",
        );
    }
    if adv.scheduler {
        out.push_str(
            "- The system is slow to execute Redis code paths not containing system calls. This \
             usually means the system does not provide Redis CPU time to run for long periods. \
             You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for \
             Redis if you are running other software in the same system.\n  3) Check if you have \
             a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' \
             what is the intrinsic latency in your system.\n  5) Check if the problem is \
             allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. \
             However this may create fragmentation problems.\n",
        );
    }
    if adv.local_disk {
        out.push_str(
            "- It is strongly advised to use local disks for persistence, especially if you are \
             using AOF. Remote disks provided by platform-as-a-service providers are known to be \
             slow.\n",
        );
    }
    if adv.ssd {
        out.push_str(
            "- SSD disks are able to reduce fsync latency, and total time needed for \
             snapshotting and AOF log rewriting (resulting in smaller memory usage and smaller \
             final AOF rewrite buffer flushes). With extremely high write load SSD disks can be a \
             good option. However Redis should perform reasonably with high load using normal \
             disks. Use this advice as a last resort.\n",
        );
    }
    if adv.data_writeback {
        out.push_str(
            "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost \
             compared to data=ordered, however this mode of operation provides less guarantees, \
             and sometimes it can happen that after a hard crash the AOF file will have a \
             half-written command at the end and will require to be repaired before Redis \
             restarts.\n",
        );
    }
    if adv.disk_contention {
        out.push_str(
            "- Try to lower the disk contention. This is often caused by other disk intensive \
             processes running in the same computer (including other Redis instances).\n",
        );
    }
    if adv.no_appendfsync {
        out.push_str(
            "- Assuming from the point of view of data safety this is viable in your \
             environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so \
             that fsync will not be performed while there is a child rewriting the AOF file or \
             producing an RDB file (the moment where there is high disk contention).\n",
        );
    }
    if adv.relax_fsync_policy && cfg.aof_fsync_always {
        out.push_str(
            "- Your fsync policy is set to 'always'. It is very hard to get good performances \
             with such a setup, if possible try to relax the fsync policy to 'onesec'.\n",
        );
    }
    if adv.write_load_info {
        out.push_str(
            "- Latency during the AOF atomic rename operation or when the final difference is \
             flushed to the AOF file at the end of the rewrite, sometimes is caused by very high \
             write load, causing the AOF buffer to get very large. If possible try to send less \
             commands to accomplish the same work, or use Lua scripts to group multiple \
             operations into a single EVALSHA call.\n",
        );
    }
    if adv.hz && cfg.hz < 100 {
        out.push_str(
            "- In order to make the Redis keys expiring process more incremental, try to set the \
             'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
        );
    }
    if adv.large_objects {
        out.push_str(
            "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a \
             blocking operation. If you have very large objects that are often deleted, expired, \
             or evicted, try to fragment those objects into multiple smaller objects.\n",
        );
    }
    if adv.mass_eviction {
        out.push_str(
            "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of \
             large objects via sets or sorted sets intersections, STORE option of SORT, Redis \
             Cluster large keys migrations (RESTORE command), may create sudden memory pressure \
             forcing the server to block trying to evict keys. \n",
        );
    }
    if adv.disable_thp {
        out.push_str(
            "- I detected a non zero amount of anonymous huge pages used by your process. This \
             creates very serious latency events in different conditions, especially when Redis \
             is persisting on disk. To disable THP support use the command 'echo never > \
             /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into \
             /etc/rc.local so that the command will be executed again after a reboot. Note that \
             even if you have already disabled THP, you still need to restart the Redis process \
             to get rid of the huge pages already created.\n",
        );
    }
}

/// The `LATENCY GRAPH <event>` text for `ev` at unix second `now_unix`: a header, a dashed
/// line, and a filled sparkline of the samples (oldest first) in chunks of 80 columns, each
/// sample labelled with its age written downwards.
pub fn graph(name: &str, ev: &LatencyEvent, now_unix: i64) -> String {
    let (mut low, mut high) = (0u64, 0u64);
    for (i, &(_, ms)) in ev.samples.iter().enumerate() {
        if i == 0 {
            (low, high) = (ms, ms);
        } else {
            low = low.min(ms);
            high = high.max(ms);
        }
    }
    let mut out = format!("{name} - high {high} ms, low {low} ms (all time high {} ms)\n", ev.max);
    out.extend(std::iter::repeat_n('-', GRAPH_COLUMNS));
    out.push('\n');

    let values: Vec<f64> = ev.samples.iter().map(|&(_, ms)| ms as f64).collect();
    let labels: Vec<String> = ev.samples.iter().map(|&(t, _)| age_label(now_unix - t)).collect();
    render_sparkline(&mut out, &values, &labels, GRAPH_COLUMNS, GRAPH_ROWS);
    out
}

/// An age in seconds as the graph labels it: `13s`, `2m`, `5h`, `3d` (truncated).
fn age_label(elapsed: i64) -> String {
    if elapsed < 60 {
        format!("{elapsed}s")
    } else if elapsed < 3600 {
        format!("{}m", elapsed / 60)
    } else if elapsed < 86_400 {
        format!("{}h", elapsed / 3600)
    } else {
        format!("{}d", elapsed / 86_400)
    }
}

/// Appends a filled sparkline of `values` (each with a label, written one character a line
/// under a blank line) in chunks of `columns`, separated by an empty line.
fn render_sparkline(out: &mut String, values: &[f64], labels: &[String], columns: usize, rows: usize) {
    if values.is_empty() {
        return;
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if max - min == 0.0 { 1.0 } else { max - min };
    let levels = FILL_GLYPHS.len() * rows;
    // The level of each value: its share of the range in `levels` steps, truncated (the
    // scaled value is truncated before the division, as Redis does).
    let level = |v: f64| -> usize {
        let scaled = ((v - min) * levels as f64) as i64 as f64;
        ((scaled / range) as i64).clamp(0, levels as i64 - 1) as usize
    };
    let any_label = labels.iter().any(|l| !l.is_empty());

    for (chunk, start) in (0..values.len()).step_by(columns).enumerate() {
        if chunk > 0 {
            out.push('\n');
        }
        let end = (start + columns).min(values.len());
        let steps: Vec<usize> = values[start..end].iter().map(|&v| level(v)).collect();
        for row in 0..rows {
            // Glyph index of this row's band: rows above the value are blank, rows below full.
            let floor = (rows - row - 1) * FILL_GLYPHS.len();
            for &step in &steps {
                out.push(match step.checked_sub(floor) {
                    None => ' ',
                    Some(i) => FILL_GLYPHS.get(i).copied().unwrap_or('|'),
                });
            }
            out.push('\n');
        }
        if !any_label {
            continue;
        }
        out.extend(std::iter::repeat_n(' ', steps.len()));
        out.push('\n');
        let chunk_labels = &labels[start..end];
        let tallest = chunk_labels.iter().map(|l| l.len()).max().unwrap_or(0);
        for ch in 0..tallest {
            for l in chunk_labels {
                out.push(l.as_bytes().get(ch).map_or(' ', |&b| b as char));
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn ev(samples: &[(i64, u64)], max: u64) -> LatencyEvent {
        LatencyEvent { samples: VecDeque::from(samples.to_vec()), max }
    }

    // Captured from redis-server 7.0.15 (`redis-server --port 6431 --save '' --enable-debug-command
    // yes`, slowlog-log-slower-than 10000 unless noted) by a script over a raw RESP2 connection:
    // `CONFIG SET latency-monitor-threshold 100`, `LATENCY RESET`, then `DEBUG SLEEP <s>` one
    // second apart for `command` events and `SADD bigset <200000 members>` (a fast command) for
    // `fast-command` events. Each capture read `TIME`, `LATENCY HISTORY` / `LATEST` (the input
    // samples and all-time max below), `LATENCY GRAPH` and `LATENCY DOCTOR`, then `TIME` again,
    // retrying until both `TIME`s were the same second (the `now` passed here).

    #[test]
    fn captured_no_events() {
        // Threshold 100 after LATENCY RESET; then threshold 0 after LATENCY RESET.
        assert_eq!(
            doctor(&[], 100, 1795729977),
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        );
        assert_eq!(
            doctor(&[], 0, 1795729977),
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        );
    }

    #[test]
    fn captured_one_sample() {
        let now = 1795729977;
        let command = ev(&[(1795729977, 120)], 120);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 120 ms, low 120 ms (all time high 120 ms)\n",
                "--------------------------------------------------------------------------------\n",
                " \n",
                " \n",
                " \n",
                "_\n",
                " \n",
                "0\n",
                "s\n",
            )
        );
        assert_eq!(
            doctor(&[("command", &command)], 100, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 1 latency spikes (average 120ms, mean deviation 0ms, period 1.00 sec). Worst all time event 120ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn captured_several_samples() {
        let now = 1795729988;
        let command = ev(
            &[
                (1795729977, 120),
                (1795729979, 200),
                (1795729980, 350),
                (1795729981, 500),
                (1795729983, 123),
                (1795729984, 300),
                (1795729985, 150),
            ],
            500,
        );
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 500 ms, low 120 ms (all time high 500 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "   #   \n",
                "  o|   \n",
                "  || # \n",
                "_#||_|_\n",
                "       \n",
                "1987543\n",
                "1ssssss\n",
                "s      \n",
            )
        );
        assert_eq!(
            doctor(&[("command", &command)], 100, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 7 latency spikes (average 249ms, mean deviation 115ms, period 1.57 sec). Worst all time event 500ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn captured_with_fast_command() {
        let now = 1795729994;
        let command = ev(
            &[
                (1795729977, 120),
                (1795729979, 200),
                (1795729980, 350),
                (1795729981, 500),
                (1795729983, 123),
                (1795729984, 300),
                (1795729985, 150),
            ],
            500,
        );
        let fast_command = ev(&[(1795729990, 381), (1795729992, 235), (1795729994, 376)], 381);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 500 ms, low 120 ms (all time high 500 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "   #   \n",
                "  o|   \n",
                "  || # \n",
                "_#||_|_\n",
                "       \n",
                "1111119\n",
                "754310s\n",
                "ssssss \n",
            )
        );
        assert_eq!(
            graph("fast-command", &fast_command, now),
            concat!(
                "fast-command - high 381 ms, low 235 ms (all time high 381 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "# #\n",
                "| |\n",
                "| |\n",
                "|_|\n",
                "   \n",
                "420\n",
                "sss\n",
            )
        );
        assert_eq!(
            doctor(&[("command", &command), ("fast-command", &fast_command)], 100, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 7 latency spikes (average 249ms, mean deviation 115ms, period 2.43 sec). Worst all time event 500ms.\n",
                "2. fast-command: 3 latency spikes (average 330ms, mean deviation 64ms, period 1.33 sec). Worst all time event 381ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n",
                "  1) Lower the system load.\n",
                "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n",
                "  3) Check if you have a \"noisy neighbour\" problem.\n",
                "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n",
                "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn captured_slowlog_disabled() {
        let now = 1795729994;
        let command = ev(
            &[
                (1795729977, 120),
                (1795729979, 200),
                (1795729980, 350),
                (1795729981, 500),
                (1795729983, 123),
                (1795729984, 300),
                (1795729985, 150),
            ],
            500,
        );
        let fast_command = ev(&[(1795729990, 381), (1795729992, 235), (1795729994, 376)], 381);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 500 ms, low 120 ms (all time high 500 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "   #   \n",
                "  o|   \n",
                "  || # \n",
                "_#||_|_\n",
                "       \n",
                "1111119\n",
                "754310s\n",
                "ssssss \n",
            )
        );
        assert_eq!(
            graph("fast-command", &fast_command, now),
            concat!(
                "fast-command - high 381 ms, low 235 ms (all time high 381 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "# #\n",
                "| |\n",
                "| |\n",
                "|_|\n",
                "   \n",
                "420\n",
                "sss\n",
            )
        );
        assert_eq!(
            doctor_with(&[("command", &command), ("fast-command", &fast_command)], &DoctorSettings { slowlog_log_slower_than_us: -1, ..DoctorSettings::with_threshold(100) }, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 7 latency spikes (average 249ms, mean deviation 115ms, period 2.43 sec). Worst all time event 500ms.\n",
                "2. fast-command: 3 latency spikes (average 330ms, mean deviation 64ms, period 1.33 sec). Worst all time event 381ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than 100000'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n",
                "  1) Lower the system load.\n",
                "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n",
                "  3) Check if you have a \"noisy neighbour\" problem.\n",
                "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n",
                "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn captured_slowlog_above_threshold() {
        let now = 1795729994;
        let command = ev(
            &[
                (1795729977, 120),
                (1795729979, 200),
                (1795729980, 350),
                (1795729981, 500),
                (1795729983, 123),
                (1795729984, 300),
                (1795729985, 150),
            ],
            500,
        );
        let fast_command = ev(&[(1795729990, 381), (1795729992, 235), (1795729994, 376)], 381);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 500 ms, low 120 ms (all time high 500 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "   #   \n",
                "  o|   \n",
                "  || # \n",
                "_#||_|_\n",
                "       \n",
                "1111119\n",
                "754310s\n",
                "ssssss \n",
            )
        );
        assert_eq!(
            graph("fast-command", &fast_command, now),
            concat!(
                "fast-command - high 381 ms, low 235 ms (all time high 381 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "# #\n",
                "| |\n",
                "| |\n",
                "|_|\n",
                "   \n",
                "420\n",
                "sss\n",
            )
        );
        assert_eq!(
            doctor_with(&[("command", &command), ("fast-command", &fast_command)], &DoctorSettings { slowlog_log_slower_than_us: 500000, ..DoctorSettings::with_threshold(100) }, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 7 latency spikes (average 249ms, mean deviation 115ms, period 2.43 sec). Worst all time event 500ms.\n",
                "2. fast-command: 3 latency spikes (average 330ms, mean deviation 64ms, period 1.33 sec). Worst all time event 381ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than 100000'.\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n",
                "  1) Lower the system load.\n",
                "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n",
                "  3) Check if you have a \"noisy neighbour\" problem.\n",
                "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n",
                "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn captured_two_chunks_and_minutes() {
        let now = 1795730090;
        let command = ev(
            &[
                (1795729977, 120),
                (1795729979, 200),
                (1795729980, 350),
                (1795729981, 500),
                (1795729983, 123),
                (1795729984, 300),
                (1795729985, 150),
                (1795729995, 100),
                (1795729996, 137),
                (1795729997, 174),
                (1795729998, 116),
                (1795729999, 148),
                (1795730000, 185),
                (1795730001, 122),
                (1795730002, 163),
                (1795730003, 199),
                (1795730004, 133),
                (1795730005, 170),
                (1795730006, 107),
                (1795730007, 144),
                (1795730008, 181),
                (1795730009, 118),
                (1795730010, 155),
                (1795730011, 192),
                (1795730012, 129),
                (1795730013, 166),
                (1795730014, 103),
                (1795730015, 140),
                (1795730016, 180),
                (1795730017, 114),
                (1795730018, 159),
                (1795730019, 249),
                (1795730020, 127),
                (1795730021, 191),
                (1795730023, 203),
                (1795730024, 138),
                (1795730025, 175),
                (1795730026, 110),
                (1795730027, 147),
                (1795730028, 184),
                (1795730029, 121),
                (1795730030, 158),
                (1795730031, 195),
                (1795730032, 132),
                (1795730033, 169),
                (1795730034, 106),
                (1795730035, 143),
                (1795730036, 180),
                (1795730037, 117),
                (1795730038, 154),
                (1795730039, 191),
                (1795730040, 131),
                (1795730041, 165),
                (1795730042, 102),
                (1795730043, 139),
                (1795730044, 176),
                (1795730045, 113),
                (1795730046, 150),
                (1795730047, 187),
                (1795730048, 124),
                (1795730049, 161),
                (1795730050, 198),
                (1795730051, 135),
                (1795730052, 172),
                (1795730053, 109),
                (1795730054, 146),
                (1795730055, 183),
                (1795730056, 120),
                (1795730057, 157),
                (1795730058, 194),
                (1795730059, 131),
                (1795730060, 168),
                (1795730061, 105),
                (1795730062, 142),
                (1795730063, 179),
                (1795730064, 116),
                (1795730065, 153),
                (1795730066, 190),
                (1795730067, 127),
                (1795730068, 164),
                (1795730069, 101),
                (1795730070, 138),
                (1795730071, 175),
                (1795730072, 112),
                (1795730073, 149),
                (1795730074, 186),
                (1795730075, 124),
                (1795730076, 160),
                (1795730077, 197),
                (1795730078, 134),
                (1795730079, 171),
                (1795730080, 108),
                (1795730081, 145),
                (1795730082, 182),
                (1795730083, 119),
                (1795730084, 156),
                (1795730085, 193),
                (1795730086, 130),
                (1795730087, 167),
                (1795730088, 104),
                (1795730089, 141),
                (1795730090, 178),
            ],
            500,
        );
        let fast_command = ev(&[(1795729990, 381), (1795729992, 235), (1795729994, 376)], 381);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 500 ms, low 100 ms (all time high 500 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "   #                                                                            \n",
                "  o| _                                                                          \n",
                " _|| |                         o  _                                             \n",
                "_|||_|o_o#_o#_o#_#_o#_o#_o_o#_o|_#|o#_o#_o#_#_o#_o#_o_o#_o#_o#o#_o#_o#_#_o#_o#_o\n",
                "                                                                                \n",
                "11111111111111111111111111111111111111111155555555554444444444333333333322222222\n",
                "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm98765432109876543210987654321098765432\n",
                "                                          ssssssssssssssssssssssssssssssssssssss\n",
                "\n",
                "                      \n",
                "                      \n",
                "                      \n",
                "_o#_o#_o#o#_o#_o#_#_o#\n",
                "                      \n",
                "2211111111119876543210\n",
                "109876543210ssssssssss\n",
                "ssssssssssss          \n",
            )
        );
        assert_eq!(
            graph("fast-command", &fast_command, now),
            concat!(
                "fast-command - high 381 ms, low 235 ms (all time high 381 ms)\n",
                "--------------------------------------------------------------------------------\n",
                "# #\n",
                "| |\n",
                "| |\n",
                "|_|\n",
                "   \n",
                "111\n",
                "mmm\n",
            )
        );
        assert_eq!(
            doctor(&[("command", &command), ("fast-command", &fast_command)], 100, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 102 latency spikes (average 157ms, mean deviation 32ms, period 1.11 sec). Worst all time event 500ms.\n",
                "2. fast-command: 3 latency spikes (average 330ms, mean deviation 64ms, period 33.33 sec). Worst all time event 381ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n",
                "  1) Lower the system load.\n",
                "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n",
                "  3) Check if you have a \"noisy neighbour\" problem.\n",
                "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n",
                "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    // Threshold set back to 0 after one `DEBUG SLEEP 0.13` sample: the events are still
    // reported, and 10000 µs / 1000 > 0 asks for slow log tuning.

    #[test]
    fn captured_threshold_off_with_events() {
        let now = 1795730118;
        let command = ev(&[(1795730117, 130)], 130);
        assert_eq!(
            graph("command", &command, now),
            concat!(
                "command - high 130 ms, low 130 ms (all time high 130 ms)\n",
                "--------------------------------------------------------------------------------\n",
                " \n",
                " \n",
                " \n",
                "_\n",
                " \n",
                "1\n",
                "s\n",
            )
        );
        assert_eq!(
            doctor(&[("command", &command)], 0, now),
            concat!(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n",
                "\n",
                "1. command: 1 latency spikes (average 130ms, mean deviation 0ms, period 1.00 sec). Worst all time event 130ms.\n",
                "\n",
                "I have a few advices for you:\n",
                "\n",
                "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than 0'.\n",
                "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
                "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
            )
        );
    }

    #[test]
    fn exact_halves_round_to_even_like_printf() {
        assert_eq!(period_per_sample(1, 8), "0.12");
        assert_eq!(period_per_sample(3, 8), "0.38");
        assert_eq!(period_per_sample(7, 3), "2.33");
    }

    #[test]
    fn age_labels() {
        assert_eq!(age_label(0), "0s");
        assert_eq!(age_label(59), "59s");
        assert_eq!(age_label(60), "1m");
        assert_eq!(age_label(3599), "59m");
        assert_eq!(age_label(7300), "2h");
        assert_eq!(age_label(86_400 * 3 + 5), "3d");
    }
}
