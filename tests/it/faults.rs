//! Fault injection: five real `tumbler-server` processes, Redlock clients (crates/redlock)
//! taking one lock over and over, and a nemesis that kills, restarts and pauses nodes, or steps
//! their wall clocks (tests/shim/clockshift.c). Each
//! client records when it entered and left the critical section, its lock's validity deadline
//! and its fencing token, all on the test process' monotonic clock; `tumbler_tests::faults::
//! check` then looks for two clients inside at once while both believed their lock valid, and
//! for fencing tokens that do not increase in order of entry.
//!
//! The checker is shown to see violations, not only to find none: a majority restarted with
//! `lock-restart-fence no` lets two clients hold the lock (docs/locks.md, section 3), and nodes
//! that lose their token state file hand out smaller tokens again.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tumbler_redlock::{Error, NodeAddr, Options, Redlock, Retry};
use tumbler_tests::faults::{check, ms, ClockShim, Fleet, History, Section, Verdict};
use tumbler_tests::resp::Value;

/// The TTL of the workload's locks; also the restart fence after a crash (the longest TTL a
/// node granted).
const TTL: Duration = Duration::from_millis(800);
/// How long a holder stays inside.
const HOLD: Duration = Duration::from_millis(5);

/// Loopback timeouts, short enough that a round with a dead or paused node ends well inside
/// the TTL (the per-node request timeout bounds it).
fn options() -> Options {
    Options {
        request_timeout: ms(200),
        connect_timeout: ms(400),
        retry_delay: ms(10),
        retry_jitter: ms(20),
        ..Options::default()
    }
}

fn client(ports: &[u16]) -> Redlock {
    let nodes = ports.iter().map(|p| NodeAddr::new("127.0.0.1", *p)).collect();
    Redlock::new(nodes, options()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn sleep(d: Duration) {
    std::thread::sleep(d);
}

/// What a client's attempts came to.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    held: u64,
    refused: u64,
    unreachable: u64,
    timed_out: u64,
    other: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.held += o.held;
        self.refused += o.refused;
        self.unreachable += o.unreachable;
        self.timed_out += o.timed_out;
        self.other += o.other;
    }
}

/// One client: acquire (one attempt), stay inside for [`HOLD`], release — except that about
/// one holder in 24 walks away without releasing, so the next one waits for the TTL.
async fn worker(
    id: usize,
    c: Redlock,
    key: String,
    fenced: bool,
    history: Arc<History>,
    stop: Arc<AtomicBool>,
) -> Counts {
    let mut counts = Counts::default();
    // A per-client SplitMix-style sequence: clients fall out of step, runs stay comparable.
    let mut seed = (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = move || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (seed ^ (seed >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 29)
    };
    let once = Retry { query_retry_after: false, ..Retry::none() };
    while !stop.load(Relaxed) {
        let r = if fenced { c.acquire_fenced(&key, TTL, once).await } else { c.acquire_with(&key, TTL, once).await };
        match r {
            Ok(lock) => {
                let enter = Instant::now();
                counts.held += 1;
                tokio::time::sleep(HOLD).await;
                let leave = Instant::now();
                let valid_until = lock.valid_until().expect("a fresh lock knows its validity");
                history.record(Section { client: id, enter, leave, valid_until, token: lock.fencing_token() });
                if next() % 24 != 0 {
                    // Errors are the nemesis' doing; an unreleased lock expires.
                    let _ = c.release(&lock).await;
                }
            }
            Err(e) => {
                match e {
                    Error::Refused { .. } => counts.refused += 1,
                    Error::QuorumUnreachable { .. } => counts.unreachable += 1,
                    Error::TimedOut => counts.timed_out += 1,
                    _ => counts.other += 1,
                }
                tokio::time::sleep(ms(5 + next() % 20)).await;
            }
        }
    }
    counts
}

/// Clients running on a runtime of their own while the test thread plays the nemesis.
struct Workload {
    rt: tokio::runtime::Runtime,
    stop: Arc<AtomicBool>,
    keys: Vec<(String, Arc<History>, Vec<tokio::task::JoinHandle<Counts>>)>,
}

impl Workload {
    /// For each `(key, fenced, clients)`, that many clients (each with its own connections)
    /// taking `key`.
    fn start(ports: &[u16], spec: &[(&str, bool, usize)]) -> Workload {
        let rt = runtime();
        let stop = Arc::new(AtomicBool::new(false));
        let mut keys = Vec::new();
        let mut id = 0;
        for &(key, fenced, n) in spec {
            let history = Arc::new(History::default());
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (h, s) = (history.clone(), stop.clone());
                tasks.push(rt.spawn(worker(id, client(ports), key.to_string(), fenced, h, s)));
                id += 1;
            }
            keys.push((key.to_string(), history, tasks));
        }
        Workload { rt, stop, keys }
    }

    /// The history of `key` so far.
    fn history(&self, key: &str) -> Arc<History> {
        self.keys.iter().find(|(k, _, _)| k == key).map(|(_, h, _)| h.clone()).unwrap()
    }

    /// Stops the clients (each finishes its attempt, bounded by the timeouts) and returns, per
    /// key, its history and what the attempts came to.
    fn finish(self) -> Vec<(String, Vec<Section>, Counts)> {
        self.stop.store(true, Relaxed);
        let mut out = Vec::new();
        for (key, history, tasks) in self.keys {
            let mut counts = Counts::default();
            for t in tasks {
                counts.add(self.rt.block_on(t).expect("a client task panicked"));
            }
            out.push((key, history.sections(), counts));
        }
        out
    }
}

/// Asserts that every key's history is clean and shows real work: at least `min_judged`
/// sections judged.
fn assert_clean(results: &[(String, Vec<Section>, Counts)], origin: Instant, min_judged: usize) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for (key, sections, counts) in results {
        let v = check(sections);
        eprintln!("{key}: {} judged of {} sections; attempts {counts:?}", v.judged, v.sections);
        assert!(v.ok(), "{key}: {}", v.describe(origin));
        assert!(v.judged >= min_judged, "{key}: too little progress to judge: {} ({counts:?})", v.describe(origin));
        verdicts.push(v);
    }
    verdicts
}

/// Both kinds of lock at once, on keys of their own: plain Redlock (SET NX PX) and fenced
/// (LOCK.ACQUIRE + LOCK.FENCE).
const MIXED: &[(&str, bool, usize)] = &[("faults:plain", false, 3), ("faults:fenced", true, 3)];

/// (a) kill -9 two nodes at a time and restart them on their data (the restart fence on, as by
/// default), five times over: never two holders, tokens in order; the quorum keeps working
/// with a minority down or fenced; the restarted nodes did refuse grants during their fence.
#[test]
fn killing_and_restarting_a_minority_keeps_holders_apart() {
    let mut fleet = Fleet::start(5, &[]);
    let origin = Instant::now();
    let load = Workload::start(&fleet.ports(), MIXED);
    sleep(ms(500));
    let mut degraded = Vec::new();
    let mut refused_by_fence = 0;
    for (x, y) in [(0, 1), (2, 3), (4, 0), (1, 2), (3, 4)] {
        let from = Instant::now();
        fleet.kill(x);
        fleet.kill(y);
        sleep(ms(300));
        fleet.restart(x, &[]);
        fleet.restart(y, &[]);
        // The restarted nodes grant nothing for TTL; let that pass, and a little more.
        sleep(TTL + ms(300));
        degraded.push((from, Instant::now() - ms(300)));
        refused_by_fence += fleet.info_lock_field(x, "locks_refused_by_fence");
        refused_by_fence += fleet.info_lock_field(y, "locks_refused_by_fence");
    }
    let hist = load.history("faults:fenced");
    let while_degraded: usize = degraded.iter().map(|(a, b)| hist.entered_between(*a, *b)).sum();
    let results = load.finish();
    assert_clean(&results, origin, 10);
    assert!(while_degraded > 0, "no fenced lock was held while two nodes were down or fenced");
    assert!(refused_by_fence > 0, "the restarted nodes never refused a grant: was the fence armed?");
}

/// (b) SIGSTOP one node (and once two) for longer than the TTL, then SIGCONT: requests queued
/// while it slept run late (stale SET NX included), its keys expired meanwhile by the monotonic
/// clock; never two holders, and the other nodes carry the lock while one sleeps.
#[test]
fn pausing_a_node_past_the_ttl_keeps_holders_apart() {
    let mut fleet = Fleet::start(5, &[]);
    let origin = Instant::now();
    let load = Workload::start(&fleet.ports(), MIXED);
    sleep(ms(500));
    let mut paused = Vec::new();
    for group in [&[0][..], &[2], &[4], &[1, 3]] {
        let from = Instant::now();
        for &i in group {
            fleet.pause(i);
        }
        sleep(TTL + TTL / 2);
        paused.push((from, Instant::now()));
        for &i in group {
            fleet.resume(i);
        }
        sleep(ms(400));
    }
    let hist = load.history("faults:plain");
    let while_paused: usize = paused.iter().map(|(a, b)| hist.entered_between(*a, *b)).sum();
    let results = load.finish();
    assert_clean(&results, origin, 10);
    assert!(while_paused > 0, "no plain lock was held while a node was paused");
}

/// A node's wall clock (`TIME`), in seconds since the epoch.
fn node_time_s(fleet: &Fleet, i: usize) -> i64 {
    match fleet.cmd(i, &["TIME"]) {
        Value::Array(v) if v.len() == 2 => v[0].text().parse().unwrap(),
        v => panic!("TIME replied {v:?}"),
    }
}

/// (e) Wall-clock steps: the five nodes run under the clock-shifting library, each with a clock
/// of its own, and while clients take both kinds of lock the nemesis steps node clocks a year
/// forward and back — one node, a node two years at once, a majority, all five — as NTP or an
/// operator might. TTLs run on the monotonic clock, so a step neither expires a lock early nor
/// keeps one alive: never two holders, tokens in order, and locks granted after every step.
#[test]
fn stepping_wall_clocks_by_a_year_keeps_holders_apart() {
    const YEAR: i64 = 365 * 24 * 3600;
    let shim = ClockShim::build();
    let fleet = Fleet::start_with_env(5, &[], |i| shim.env(i));
    let origin = Instant::now();
    let load = Workload::start(&fleet.ports(), MIXED);
    sleep(ms(500));
    let steps: &[&[(usize, i64)]] = &[
        &[(0, YEAR)],
        &[(1, -YEAR)],
        // Node 0 two years back, node 2 forward.
        &[(0, -YEAR), (2, YEAR)],
        // A majority at once, in both directions.
        &[(1, YEAR), (3, YEAR), (4, -YEAR)],
        // Everyone a year ahead, then everyone back to real time.
        &[(0, YEAR), (1, YEAR), (2, YEAR), (3, YEAR), (4, YEAR)],
        &[(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)],
    ];
    let mut windows = Vec::new();
    for step in steps {
        for &(i, offset) in *step {
            shim.set_offset(i, offset);
        }
        // The step took: the node's wall clock now reads real time + offset.
        for &(i, offset) in *step {
            let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            let skew = node_time_s(&fleet, i) - (real + offset);
            assert!(skew.abs() < 60, "node {i}: TIME is {skew} s off real time + {offset} s");
        }
        // Longer than the TTL: a holder that walked away has expired within it.
        let from = Instant::now();
        sleep(TTL + ms(500));
        windows.push((from, Instant::now()));
    }
    let results = load.finish();
    assert_clean(&results, origin, 10);
    for (n, (from, to)) in windows.iter().enumerate() {
        let granted: usize = results
            .iter()
            .map(|(_, sections, _)| sections.iter().filter(|s| s.enter >= *from && s.enter < *to).count())
            .sum();
        assert!(granted > 0, "no lock was granted after step {n} ({:?})", steps[n]);
    }
}

/// What (c) sets up: A holds `key` through nodes 1–3 exactly (4 and 5 are held by someone
/// else, then freed behind A's back), and nodes 2 and 3 are killed and restarted at once with
/// `args`. Returns the fleet, B's client, A's lock and when A entered.
struct MajorityRestart {
    fleet: Fleet,
    rt: tokio::runtime::Runtime,
    b: Redlock,
    a: Redlock,
    lock_a: tumbler_redlock::Lock,
    a_enter: Instant,
}

const KEY_C: &str = "faults:majority";

/// Retries for up to 10 s: in (c) only timeouts of a slow machine make an attempt fail.
fn patient(c: &Redlock) -> Retry {
    Retry::for_up_to(ms(10_000), c.options())
}

fn majority_restart(ttl_a: Duration, args: &[&str]) -> MajorityRestart {
    let mut fleet = Fleet::start(5, &[]);
    let ports = fleet.ports();
    let rt = runtime();
    for i in [3, 4] {
        assert_eq!(fleet.cmd(i, &["SET", KEY_C, "someone-else", "PX", "30000"]), Value::Simple("OK".into()));
    }
    let a = client(&ports);
    // Retries only cover a slow machine (a timed-out node): 4 and 5 refuse A whatever happens.
    let lock_a = rt.block_on(a.acquire_fenced(KEY_C, ttl_a, patient(&a))).expect("nodes 1-3 grant A");
    let a_enter = Instant::now();
    let owner = Value::Bulk(lock_a.token().as_bytes().to_vec());
    for i in 0..3 {
        assert_eq!(fleet.cmd(i, &["GET", KEY_C]), owner, "node {} holds A", i + 1);
    }
    for i in [3, 4] {
        assert_eq!(fleet.cmd(i, &["DEL", KEY_C]), Value::Int(1));
    }
    // A crash of two of A's three nodes, and an immediate restart on the same data.
    fleet.kill(1);
    fleet.kill(2);
    fleet.restart(1, args);
    fleet.restart(2, args);
    let b = client(&ports);
    MajorityRestart { fleet, rt, b, a, lock_a, a_enter }
}

/// (c), without the fence: nodes 2 and 3 forget A's lock, and B gets nodes 2–5 while A still
/// holds node 1 and believes its lock valid. The checker must report exactly that overlap.
/// The fencing tokens still order the two (B's is greater), which is what lets a resource
/// that checks them refuse A from B's first request on.
#[test]
fn restarting_a_majority_without_the_fence_lets_two_clients_hold_the_lock() {
    let s = majority_restart(ms(20_000), &["--lock-restart-fence", "no"]);
    let origin = s.a_enter;
    let lock_b = s.rt.block_on(s.b.acquire_fenced(KEY_C, ms(5_000), patient(&s.b))).expect("nodes 2-5 grant B");
    let b_enter = Instant::now();
    sleep(HOLD);
    let leave = Instant::now();
    let (ta, tb) = (s.lock_a.fencing_token().unwrap(), lock_b.fencing_token().unwrap());
    let history = [
        Section { client: 0, enter: s.a_enter, leave, valid_until: s.lock_a.valid_until().unwrap(), token: Some(ta) },
        Section { client: 1, enter: b_enter, leave, valid_until: lock_b.valid_until().unwrap(), token: Some(tb) },
    ];
    let v = check(&history);
    eprintln!("{}", v.describe(origin));
    assert_eq!(v.overlaps.len(), 1, "the checker must see A and B inside together: {}", v.describe(origin));
    assert!(v.token_inversions.is_empty() && tb > ta, "tokens A {ta}, B {tb}");
    // Each release finds its own token: node 1 still has A's, nodes 2-5 have B's.
    assert_eq!(s.rt.block_on(s.a.release(&s.lock_a)).unwrap(), 1);
    assert_eq!(s.rt.block_on(s.b.release(&lock_b)).unwrap(), 4);
    drop(s.fleet);
}

/// (c), with the fence (the default): the restarted nodes answer `-FENCED` for the longest TTL
/// they granted, so B is refused — and told how long A has left — until A's lock has expired on
/// node 1; no overlap, tokens in order.
#[test]
fn restarting_a_majority_with_the_fence_keeps_the_second_client_out_until_the_ttl_has_passed() {
    let ttl_a = ms(4_000);
    let s = majority_restart(ttl_a, &[]);
    let origin = s.a_enter;
    let a_valid = s.lock_a.valid_until().unwrap();
    // B's first answer, a slow machine's timeouts aside, must be a refusal.
    loop {
        let first = s.rt.block_on(s.b.acquire_fenced(KEY_C, ms(4_000), Retry::none()));
        assert!(
            Instant::now() < a_valid,
            "restarting two nodes took longer than A's whole TTL ({ttl_a:?}); the scenario did not happen"
        );
        match first {
            Err(Error::Refused { retry_after: Some(d) }) => {
                assert!(d <= ttl_a && d > Duration::ZERO, "{d:?}");
                break;
            }
            Err(Error::QuorumUnreachable { .. } | Error::TimedOut) => sleep(ms(50)),
            other => panic!("B must be refused while A holds node 1 and nodes 2-3 are fenced: {other:?}"),
        }
    }
    for i in [1, 2] {
        assert!(s.fleet.info_lock_field(i, "lock_fence_remaining_ms") > 0, "node {} is fenced", i + 1);
        assert!(s.fleet.info_lock_field(i, "locks_refused_by_fence") > 0, "node {} refused B", i + 1);
    }
    let retry = Retry::for_up_to(ms(15_000), s.b.options());
    let lock_b = s.rt.block_on(s.b.acquire_fenced(KEY_C, ms(4_000), retry)).expect("B gets the lock once A's expired");
    let b_enter = Instant::now();
    sleep(HOLD);
    let leave = Instant::now();
    assert!(b_enter >= a_valid, "B entered {:?} before A's validity ended", a_valid - b_enter);
    let (ta, tb) = (s.lock_a.fencing_token().unwrap(), lock_b.fencing_token().unwrap());
    let history = [
        // A never released: it believed in its lock until its validity ran out.
        Section { client: 0, enter: s.a_enter, leave, valid_until: a_valid, token: Some(ta) },
        Section { client: 1, enter: b_enter, leave, valid_until: lock_b.valid_until().unwrap(), token: Some(tb) },
    ];
    let v = check(&history);
    assert!(v.ok() && v.judged == 2, "{}", v.describe(origin));
    s.rt.block_on(s.b.release(&lock_b)).unwrap();
}

/// Kills every node, then restarts every node on its data directory (after deleting its lock
/// state file, with `deleting_state`). Returns the instant at which the last node died: a
/// section entered before it holds a token from before the crash, one entered after it (but
/// for a client descheduled between acquiring and noting its entry) a token from after.
fn restart_everything(fleet: &mut Fleet, deleting_state: bool) -> Instant {
    for i in 0..5 {
        fleet.kill(i);
    }
    let all_dead = Instant::now();
    if deleting_state {
        for i in 0..5 {
            std::fs::remove_file(fleet.dir(i).join("tumbler-locks.state")).unwrap();
        }
    }
    for i in 0..5 {
        fleet.restart(i, &[]);
    }
    all_dead
}

/// (d) fenced tokens across crashes of the whole quorum: kill -9 all five nodes and restart
/// them on their data, three times; every epoch has holders, their tokens keep increasing
/// (each node resumes above the block of tokens it had reserved, and above every floor a
/// LOCK.FENCE raised), and nobody holds the lock twice at once.
#[test]
fn fencing_tokens_keep_increasing_across_restarts_of_every_node() {
    let key = "faults:tokens";
    let mut fleet = Fleet::start(5, &[]);
    let origin = Instant::now();
    let load = Workload::start(&fleet.ports(), &[(key, true, 4)]);
    let mut bounds = vec![origin];
    for _ in 0..3 {
        sleep(ms(1_800));
        bounds.push(restart_everything(&mut fleet, false));
    }
    // After the last restart: the fence (TTL), then holders again.
    sleep(TTL + ms(1_000));
    bounds.push(Instant::now() + ms(60_000));
    let results = load.finish();
    let verdicts = assert_clean(&results, origin, 12);
    assert!(verdicts[0].token_inversions.is_empty());
    let sections = &results[0].1;
    let mut last_max = 0;
    for (e, w) in bounds.windows(2).enumerate() {
        let tokens: Vec<u64> =
            sections.iter().filter(|s| s.enter >= w[0] && s.enter < w[1]).filter_map(|s| s.token).collect();
        assert!(tokens.len() >= 2, "epoch {e}: only {} holders", tokens.len());
        let (lo, hi) = (*tokens.iter().min().unwrap(), *tokens.iter().max().unwrap());
        assert!(lo > last_max, "epoch {e}: token {lo} after {last_max} in the epoch before");
        last_max = hi;
    }
}

/// The token half of the checker sees a violation when there is one: nodes that lose their
/// state file (tokens_reserved) start again at 1 after a crash, and the first holders after
/// the restart carry smaller tokens than the last ones before it.
#[test]
fn lost_token_state_shows_up_as_tokens_going_backwards() {
    let key = "faults:lost-state";
    let mut fleet = Fleet::start(5, &[]);
    let origin = Instant::now();
    let load = Workload::start(&fleet.ports(), &[(key, true, 3)]);
    sleep(ms(1_200));
    let crashed = restart_everything(&mut fleet, true);
    sleep(ms(800));
    let results = load.finish();
    let sections = &results[0].1;
    let before = sections.iter().filter(|s| s.enter < crashed).count();
    let after = sections.iter().filter(|s| s.enter >= crashed).count();
    assert!(before >= 3 && after >= 1, "holders before {before}, after {after}");
    let v = check(sections);
    assert!(!v.token_inversions.is_empty(), "tokens went back to 1, the checker must say so: {}", v.describe(origin));
}

/// The checker on histories made up by hand.
#[test]
fn checker_judges_what_clients_believed() {
    let t0 = Instant::now();
    let at = |n: u64| t0 + ms(n);
    let s = |client, enter, leave, valid, token| Section {
        client,
        enter: at(enter),
        leave: at(leave),
        valid_until: at(valid),
        token: Some(token),
    };
    // Back to back, tokens rising: clean.
    assert!(check(&[s(0, 0, 10, 100, 1), s(1, 10, 20, 100, 2), s(0, 20, 30, 100, 3)]).ok());
    // Inside together while both valid: an overlap (order of recording does not matter).
    let v = check(&[s(1, 5, 20, 100, 2), s(0, 0, 10, 100, 1)]);
    assert_eq!((v.overlaps.len(), v.token_inversions.len()), (1, 0));
    // Still inside, but past its validity: A no longer believed, so no overlap.
    assert!(check(&[s(0, 0, 50, 10, 1), s(1, 20, 30, 100, 2)]).ok());
    // Validity gone before entering: not judged at all, its token neither.
    let v = check(&[s(0, 0, 10, 100, 5), s(1, 30, 40, 20, 9), s(2, 50, 60, 100, 6)]);
    assert!(v.ok() && v.judged == 2, "{v:?}");
    // A later entry with a smaller or equal token.
    let v = check(&[s(0, 0, 10, 100, 5), s(1, 20, 30, 100, 5)]);
    assert_eq!((v.overlaps.len(), v.token_inversions.len()), (0, 1));
}
