//! Expiry: exact lazy expiry on a clock the test moves by hand, wall-clock steps that move no
//! deadline, and the timing wheel reclaiming keys nobody touches.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tumbler_expiry::{Clock, ManualClock};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{Tumbler, TumblerProcess};

const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

fn int(r: Vec<u8>) -> i64 {
    match parse(&r).0 {
        Value::Int(i) => i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn info_field(c: &mut RawConn, section: &str, field: &str) -> String {
    let text = parse(&c.cmd_str(&["INFO", section])).0.text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .to_string()
}

fn manual() -> (ManualClock, Tumbler) {
    let clock = ManualClock::new(10_000_000, 1_700_000_000_000 - 10_000_000);
    let t = Tumbler::start_with(&[], Some(Arc::new(clock.clone())));
    (clock, t)
}

#[test]
fn a_lock_lives_exactly_its_ttl() {
    let (clock, t) = manual();
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "lock:a", "tok", "NX", "PX", "1000"]), b"+OK\r\n");
    clock.advance_ms(999);
    assert_eq!(int(c.cmd_str(&["PTTL", "lock:a"])), 1);
    clock.advance_ms(1);
    assert_eq!(c.cmd_str(&["GET", "lock:a"]), b"$3\r\ntok\r\n", "still held at exactly its deadline");
    assert_eq!(c.cmd_str(&["SET", "lock:a", "other", "NX", "PX", "1000"]), b"$-1\r\n");
    clock.advance_ms(1);
    assert_eq!(c.cmd_str(&["GET", "lock:a"]), b"$-1\r\n", "gone one millisecond later");
    assert_eq!(c.cmd_str(&["SET", "lock:a", "other", "NX", "PX", "1000"]), b"+OK\r\n");
}

#[test]
fn wall_clock_steps_move_no_deadline() {
    let (clock, t) = manual();
    let mut c = RawConn::connect(t.addr()).unwrap();
    c.cmd_str(&["SET", "lock:rel", "tok", "PX", "10000"]);
    let wall = clock.mono_ms() as i64 + 1_700_000_000_000 - 10_000_000;
    c.cmd_str(&["SET", "lock:abs", "tok", "PXAT", &(wall + 20_000).to_string()]);
    assert_eq!(int(c.cmd_str(&["PEXPIRETIME", "lock:abs"])), wall + 20_000);

    clock.step_wall_ms(YEAR_MS);
    assert_eq!(c.cmd_str(&["GET", "lock:rel"]), b"$3\r\ntok\r\n", "a year forward expires nothing");
    assert_eq!(c.cmd_str(&["GET", "lock:abs"]), b"$3\r\ntok\r\n");
    assert_eq!(int(c.cmd_str(&["PTTL", "lock:rel"])), 10_000);
    // Absolute times follow the new wall clock: the deadline itself did not move.
    assert_eq!(int(c.cmd_str(&["PEXPIRETIME", "lock:abs"])), wall + 20_000 + YEAR_MS);
    assert_eq!(int(c.cmd_str(&["EXPIRETIME", "lock:rel"])), (wall + 10_000 + YEAR_MS + 500) / 1000);

    clock.step_wall_ms(-2 * YEAR_MS);
    assert_eq!(int(c.cmd_str(&["PTTL", "lock:abs"])), 20_000, "a step back does not extend it either");
    clock.advance_ms(10_001);
    assert_eq!(c.cmd_str(&["GET", "lock:rel"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["GET", "lock:abs"]), b"$3\r\ntok\r\n");
    clock.advance_ms(10_000);
    assert_eq!(c.cmd_str(&["GET", "lock:abs"]), b"$-1\r\n");
}

#[test]
fn expire_conditions_compare_in_wall_time() {
    let (clock, t) = manual();
    let mut c = RawConn::connect(t.addr()).unwrap();
    c.cmd_str(&["SET", "k", "v", "PX", "5000"]);
    clock.step_wall_ms(-YEAR_MS);
    assert_eq!(int(c.cmd_str(&["PEXPIRE", "k", "4000", "GT"])), 0);
    assert_eq!(int(c.cmd_str(&["PEXPIRE", "k", "6000", "GT"])), 1);
    assert_eq!(int(c.cmd_str(&["PTTL", "k"])), 6000);
    // An EXPIREAT computed from the stepped-back wall clock lands where it says.
    let wall_now = clock.mono_ms() as i64 + 1_700_000_000_000 - 10_000_000 - YEAR_MS;
    assert_eq!(int(c.cmd_str(&["PEXPIREAT", "k", &(wall_now + 3000).to_string()])), 1);
    assert_eq!(int(c.cmd_str(&["PTTL", "k"])), 3000);
}

#[test]
fn the_wheel_reclaims_keys_nobody_touches() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for i in 0..500 {
        c.cmd_str(&["SET", &format!("lock:{i}"), "tok", "PX", &(20 + i % 50).to_string()]);
    }
    c.cmd_str(&["SET", "keeper", "v"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(c.cmd_str(&["DBSIZE"])) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 1, "only the key without TTL is left");
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), "500");
    assert_eq!(info_field(&mut c, "keyspace", "db0"), "keys=1,expires=0,avg_ttl=0");
    let lag: u64 = info_field(&mut c, "stats", "expiry_lag_max_ms").parse().unwrap();
    let p99: u64 = info_field(&mut c, "stats", "expiry_lag_p99_ms").parse().unwrap();
    assert!(p99 <= lag, "the figures are consistent: p99 {p99} <= max {lag}");
}

#[test]
fn active_expiry_can_be_paused_for_tests() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.cmd_str(&["SET", "k", "v", "PX", "10"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 1, "not reclaimed while paused, as in Redis");
    assert_eq!(int(c.cmd_str(&["EXISTS", "k"])), 0, "but invisible");
    c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(c.cmd_str(&["DBSIZE"])) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 0);
}

/// CPU time (ms) the server thread named `name` has run, from /proc.
fn thread_cpu_ms(pid: u32, name: &str) -> u64 {
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let t = t.unwrap().path();
        if std::fs::read_to_string(t.join("comm")).unwrap().trim() == name {
            let ns: u64 =
                std::fs::read_to_string(t.join("schedstat")).unwrap().split(' ').next().unwrap().parse().unwrap();
            return ns / 1_000_000;
        }
    }
    panic!("no thread {name} in process {pid}");
}

/// With active expiry paused and a key past its deadline, the expiry thread has nothing to do
/// and must sleep: it used to see the due timer, skip it, and look again at once, a busy loop
/// of a whole core. Turning expiry back on reclaims the key.
#[test]
fn paused_expiry_sleeps_and_resumes() {
    let p = TumblerProcess::start(&["--enable-debug-command", "yes"]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.cmd_str(&["SET", "k", "v", "PX", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    let before = thread_cpu_ms(p.child.id(), "tumbler-expiry");
    std::thread::sleep(Duration::from_millis(400));
    let spent = thread_cpu_ms(p.child.id(), "tumbler-expiry") - before;
    // A busy loop runs ~400 ms of these 400; a sleeping thread a few wake-ups' worth.
    assert!(spent < 100, "the paused expiry thread ran {spent} ms of 400");
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 1, "not reclaimed while paused");
    c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    let resumed = Instant::now();
    while int(c.cmd_str(&["DBSIZE"])) > 0 && resumed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 0);
}

/// Keyspace notifications of expirations come from the timing wheel, so a subscriber hears of
/// each lock's expiry within milliseconds of its deadline, never before it, without anyone
/// touching the key (Redis' arrive whenever its sampling happens to find the key).
#[test]
fn expired_events_follow_the_deadline_closely() {
    let t = Tumbler::start(&[]);
    let mut sub = RawConn::connect(t.addr()).unwrap();
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]), b"+OK\r\n");
    sub.cmd_str(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    // Long-lived keys set first, as on a real lock server: a shorter deadline inserted after a
    // longer one must not wait for it.
    for i in 0..500 {
        c.cmd_str(&["SET", &format!("held:{i}"), "tok", "PX", "60000"]);
    }
    let n = 100;
    // The subscriber notes when each event arrives, while the locks are still being taken.
    let listener = std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (v, _) = parse(&sub.read_reply().expect("an expired event"));
                let Value::Array(items) = v else { panic!("not a message: {v:?}") };
                (items[2].text(), Instant::now())
            })
            .collect::<Vec<_>>()
    });
    let mut deadline = std::collections::HashMap::new();
    for i in 0..n {
        let key = format!("lock:{i}");
        let ttl = Duration::from_millis(40 + (i as u64 * 3) % 160);
        let before = Instant::now();
        assert_eq!(c.cmd_str(&["SET", &key, "tok", "NX", "PX", &ttl.as_millis().to_string()]), b"+OK\r\n");
        deadline.insert(key, (before + ttl, Instant::now() + ttl));
    }
    let mut late = Vec::new();
    for (key, arrived) in listener.join().expect("the subscriber") {
        let (earliest, latest) = deadline.remove(&key).unwrap_or_else(|| panic!("unexpected or repeated {key}"));
        assert!(arrived >= earliest, "{key} reported expired before its deadline");
        late.push(arrived.saturating_duration_since(latest).as_millis() as u64);
    }
    late.sort_unstable();
    // Generous for a loaded CI machine: the point is milliseconds, not seconds.
    assert!(late[n - 1] < 250, "expired events lag their deadlines: sorted lateness (ms) {late:?}");
    assert_eq!(int(c.cmd_str(&["DBSIZE"])), 500, "only the short locks expired");
}
