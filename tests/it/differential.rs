//! Differential tests: every case of `tests/corpus/*.redis` runs against a real redis-server
//! 7.0.15 and against tumbler, in RESP2 and RESP3, and the replies must match byte for byte
//! (under the masks a case declares for nondeterministic fields).
//!
//! Cases that cannot pass yet are listed in `tests/corpus/PENDING` with the issue that will
//! make them pass; a listed case that starts passing fails the run, so the list only shrinks.
//! Cases where tumbler differs on purpose are listed in `tests/corpus/DIFFERENT` (and explained
//! in the README); they must keep differing, so the list stays true.

use std::path::PathBuf;
use tumbler_tests::corpus::{diff_case, listed, load};
use tumbler_tests::{RedisServer, Tumbler};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn run_file(file: &str) {
    let redis = RedisServer::start(&[]);
    let tumbler = Tumbler::start(&[]);
    let cases = load(&corpus_dir().join(file));
    assert!(!cases.is_empty(), "{file} has no cases");
    let pending = listed(&corpus_dir(), "PENDING");
    let different = listed(&corpus_dir(), "DIFFERENT");
    let mut failures = Vec::new();
    let mut now_passing = Vec::new();
    let (mut skipped, mut differ) = (0, 0);
    for case in &cases {
        let diffs = diff_case(redis.addr(), tumbler.addr(), case);
        let key = (file.to_string(), case.name.clone());
        let expected_diff = pending.contains(&key) || different.contains(&key);
        match (diffs.is_empty(), expected_diff) {
            (true, true) => now_passing.push(case.name.clone()),
            (false, true) if different.contains(&key) => differ += 1,
            (false, true) => skipped += 1,
            (false, false) => failures.extend(diffs),
            (true, false) => {}
        }
    }
    eprintln!("{file}: {} cases, {} pending, {} different on purpose", cases.len(), skipped, differ);
    let mut msg = String::new();
    for d in &failures {
        msg.push_str(&format!("{file}: {d}\n"));
    }
    for n in &now_passing {
        msg.push_str(&format!(
            "{file}: case '{n}' matches redis now: remove it from tests/corpus/PENDING or DIFFERENT\n"
        ));
    }
    assert!(failures.is_empty() && now_passing.is_empty(), "\n{msg}");
}

#[test]
fn strings() {
    run_file("strings.redis");
}

#[test]
fn keys() {
    run_file("keys.redis");
}

#[test]
fn connection() {
    run_file("connection.redis");
}

#[test]
fn server() {
    run_file("server.redis");
}

#[test]
fn protocol() {
    run_file("protocol.redis");
}

#[test]
fn hashes() {
    run_file("hashes.redis");
}

#[test]
fn sets() {
    run_file("sets.redis");
}

#[test]
fn lists() {
    run_file("lists.redis");
}

#[test]
fn zsets() {
    run_file("zsets.redis");
}

#[test]
fn scripting() {
    run_file("scripting.redis");
}

#[test]
fn lockscripts() {
    run_file("lockscripts.redis");
}

#[test]
fn pubsub() {
    run_file("pubsub.redis");
}

#[test]
fn transactions() {
    run_file("transactions.redis");
}

#[test]
fn acl() {
    run_file("acl.redis");
}

#[test]
fn monitor() {
    run_file("monitor.redis");
}

#[test]
fn notifications() {
    run_file("notifications.redis");
}
