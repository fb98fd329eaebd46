//! The benchmark harness stays runnable: `scripts/bench.sh --quick` runs every part of the
//! comparison with tiny sizes against this build and a real redis-server, and every table must
//! come out whole, with figures for both servers. The figures themselves are not judged (a
//! debug build, tiny runs, a busy machine): benchmarks are never timed tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tumbler_tests::{have, server_binary};

const ALL: [&str; 9] = ["set-nx-px", "get", "del", "pexpire", "evalsha-cad", "delifeq", "ping-inline", "mset", "mget"];
const LOCKS: [&str; 6] = ["set-nx-px", "get", "del", "pexpire", "evalsha-cad", "delifeq"];

/// The directory holding this build's tumbler-server, with tumbler and the benchmark programs
/// built beside it.
fn bin_dir() -> PathBuf {
    let dir = server_binary().parent().unwrap().to_path_buf();
    let mut cmd = tumbler_tests::cargo();
    cmd.args(["build", "-q", "-p", "tumbler-cli", "-p", "tumbler-benches", "--bins"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let st = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo");
    assert!(st.success(), "building tumbler and the benchmarks failed");
    dir
}

/// The lines of part `title` of the results, from its command line to the next part.
fn part<'a>(out: &'a str, title: &str) -> Vec<&'a str> {
    let start = out.find(&format!("\n== {title}\n")).unwrap_or_else(|| panic!("no part {title:?} in:\n{out}"));
    let body = &out[start + title.len() + 5..];
    let end = body.find("\n== ").unwrap_or(body.len());
    body[..end].lines().collect()
}

/// The numbers of the row starting with `label` (followed by whitespace) in `lines`; fields that
/// are not numbers (`|`, names) are skipped.
fn row(lines: &[&str], label: &str) -> Vec<f64> {
    let line = lines
        .iter()
        .find(|l| l.strip_prefix(label).is_some_and(|rest| rest.starts_with(char::is_whitespace)))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{}", lines.join("\n")));
    line[label.len()..].split_whitespace().filter_map(|f| f.parse::<f64>().ok()).collect()
}

fn positive(label: &str, numbers: &[f64], count: usize) {
    assert_eq!(numbers.len(), count, "{label}: {numbers:?}");
    assert!(numbers.iter().all(|n| n.is_finite() && *n > 0.0), "{label}: {numbers:?}");
}

/// A `compare` table: one row per workload at pipeline `p`, three figures of each server and
/// their ratios; then the breakdown of where the CPU time went, a row per workload too.
fn compare_table(lines: &[&str], workloads: &[&str], p: u32) {
    let split = lines.iter().position(|l| l.starts_with("where the CPU time goes")).expect("CPU breakdown");
    let (table, breakdown) = lines.split_at(split);
    for w in workloads {
        let label = format!("{w:<12} {p:>3}");
        let numbers = row(table, &label);
        positive(&label, &numbers, 9);
        // The ratios are tumbler's figure over redis-server's.
        for i in [0, 3, 6] {
            let ratio = numbers[i + 1] / numbers[i];
            assert!((ratio - numbers[i + 2]).abs() <= 0.01 + ratio * 0.01, "{label}: {numbers:?}");
        }
        // Kernel shares (0-100 %) and sleeps per 1,000 requests.
        let cpu: Vec<f64> =
            breakdown.iter().find(|l| l.starts_with(&label)).unwrap_or_else(|| panic!("no breakdown for {label}"))
                [label.len()..]
                .split_whitespace()
                .filter_map(|f| f.trim_end_matches('%').parse::<f64>().ok())
                .collect();
        assert_eq!(cpu.len(), 4, "{label}: {cpu:?}");
        assert!(cpu[..2].iter().all(|s| (0.0..=100.0).contains(s)), "{label}: {cpu:?}");
        assert!(cpu[2..].iter().all(|s| *s >= 0.0), "{label}: {cpu:?}");
    }
}

/// The floor table of `compare --floor`, after the main one: per workload, redis-server's and
/// tumbler's CPU per request as the main table gives them, then each floor server's (epoll, and
/// io_uring where the kernel has it) with its ratio to redis-server's.
fn floor_table(lines: &[&str], workloads: &[&str], p: u32) {
    let split = lines.iter().position(|l| l.starts_with("the floor:")).expect("floor table");
    let (main, floor) = lines.split_at(split);
    let uring = !lines.iter().any(|l| l.starts_with("compare: no uring floor: "));
    let header = floor.get(1).expect("floor header");
    assert!(header.contains("epoll ns") && header.contains("uring ns") == uring, "{header}");
    for w in workloads {
        let label = format!("{w:<12} {p:>3}");
        let numbers = row(floor, &label);
        positive(&label, &numbers, if uring { 7 } else { 5 });
        assert_eq!(numbers[..3], row(main, &label)[6..], "{label}: the main table's CPU figures");
        for i in (3..numbers.len()).step_by(2) {
            let ratio = numbers[i] / numbers[0];
            assert!((ratio - numbers[i + 1]).abs() <= 0.01 + ratio * 0.01, "{label}: {numbers:?}");
        }
    }
}

#[test]
fn quick_run_prints_every_table_for_both_servers() {
    for tool in ["redis-server", "redis-benchmark", "jq"] {
        assert!(have(tool), "{tool} is needed (scripts/test.sh installs it)");
    }
    let bin = bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.txt");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let o = Command::new(root.join("scripts/bench.sh"))
        .args(["--quick", "--bin-dir"])
        .arg(&bin)
        .arg("--out")
        .arg(&results)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "bench.sh failed:\n{shown}\n{}", String::from_utf8_lossy(&o.stderr));
    let out = std::fs::read_to_string(&results).unwrap();
    assert_eq!(out, shown, "the results file keeps what was shown");
    assert!(!out.contains("FAILED"), "{out}");

    for (title, p) in [("requests, -P 16, pinned", 16), ("requests, -P 1, pinned", 1)] {
        compare_table(&part(&out, title), &ALL, p);
        floor_table(&part(&out, title), &ALL, p);
    }
    compare_table(&part(&out, "requests, -P 16, unpinned"), &LOCKS, 16);
    compare_table(&part(&out, "requests, -P 1, unpinned"), &LOCKS, 1);

    let memory = part(&out, "memory per lock key");
    for server in ["redis", "tumbler", "ratio"] {
        positive(server, &row(&memory, server), 2);
    }

    // Every key's `expired` event is heard, from either server, and its lag is never negative.
    let expiry = part(&out, "expiry lag");
    for server in ["redis", "tumbler"] {
        let numbers = row(&expiry, server);
        assert_eq!(numbers.len(), 5, "{server}: {numbers:?}");
        assert_eq!(numbers[0], 2000.0, "{server}: every key's event: {numbers:?}");
        assert!(numbers[1..4].iter().all(|n| *n >= 0.0) && numbers[1] <= numbers[2] && numbers[2] <= numbers[3]);
    }
    assert!(expiry.iter().any(|l| l.starts_with("tumbler  | removal lag in INFO: p50 ")), "{expiry:?}");

    let storm = part(&out, "expiry storm");
    for server in ["redis", "tumbler"] {
        let numbers = row(&storm, server);
        assert_eq!(numbers.len(), 5, "{server}: {numbers:?}");
        positive(server, &numbers[..4], 4);
    }

    // Five rows for tumbler (the fenced one has no redis counterpart), four for redis-server.
    let cycles = part(&out, "lock cycles");
    let rows: Vec<&&str> = cycles.iter().filter(|l| l.contains("node")).collect();
    assert_eq!(rows.len(), 9, "{cycles:?}");
    for l in rows {
        let cps: f64 = l[31..].split_whitespace().nth(1).and_then(|f| f.parse().ok()).unwrap_or(0.0);
        assert!(cps > 0.0, "no cycles: {l}");
    }

    let instructions = part(&out, "instructions per request");
    if have("valgrind") {
        positive("set-nx-px", &row(&instructions, "set-nx-px"), 3);
        for server in ["redis", "tumbler"] {
            let calls = row(&instructions, &format!("set-nx-px    {server}"));
            assert_eq!(calls.len(), 5, "{server}: {calls:?}");
            assert!(calls.iter().all(|c| *c >= 0.0) && calls[3] > 0.0, "{server}: {calls:?}");
        }
    } else {
        assert!(instructions.is_empty(), "skipped, saying why: {instructions:?}");
        assert!(out.contains("== instructions per request: skipped, valgrind is not installed"));
    }

    let micro = part(&out, "microbenchmarks");
    let figures: Vec<&&str> = micro.iter().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(figures.len() >= 10, "{micro:?}");
    for l in figures {
        // Nanoseconds per operation; the longest wheel tick, in milliseconds, may round to 0.
        let n: f64 = l.split_whitespace().last().and_then(|f| f.parse().ok()).unwrap_or(-1.0);
        assert!(n > 0.0 || (n == 0.0 && l.contains("longest")), "{l}");
    }
    let embedded = part(&out, "embedded (no socket)");
    for w in ["evalsha-cad", "eval-cad", "delifeq", "set-nx-px", "get", "del", "pexpire", "mset", "mget", "ping"] {
        let numbers = row(&embedded, w);
        positive(w, &numbers[..1], 1);
    }
    assert!(out.contains(&format!("results in {}", results.display())), "{out}");
}
