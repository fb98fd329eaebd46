//! Lock safety beyond Redis (docs/locks.md): the native LOCK.* commands, fencing tokens that
//! never repeat (across DEL, expiry, FLUSHALL and restarts, clean or not), the restart fence
//! after an unclean shutdown, `lock-delay`, and the INFO `locks` counters.

use std::time::{Duration, Instant};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{Tumbler, TumblerProcess};

fn info_field(c: &mut RawConn, name: &str) -> i64 {
    let text = parse(&c.cmd_str(&["INFO", "locks"])).0.text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// `LOCK.ACQUIRE` → (granted, token or remaining ms).
fn acquire(c: &mut RawConn, key: &str, owner: &str, px: u64) -> (bool, i64) {
    let r = c.cmd_str(&["LOCK.ACQUIRE", key, owner, "PX", &px.to_string()]);
    let (v, _) = parse(&r);
    match v {
        Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
            (Value::Int(g), Value::Int(n)) => (*g == 1, *n),
            _ => panic!("unexpected {}", String::from_utf8_lossy(&r)),
        },
        _ => panic!("unexpected {}", String::from_utf8_lossy(&r)),
    }
}

#[test]
fn lock_commands_grant_refuse_extend_release_and_describe() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    let (granted, t1) = acquire(&mut c, "l", "alice", 5_000);
    assert!(granted && t1 >= 1);
    // Someone else is refused with the time left; the holder retrying gets its token back.
    let (granted, left) = acquire(&mut c, "l", "bob", 5_000);
    assert!(!granted && (4_900..=5_000).contains(&left), "left {left}");
    assert_eq!(acquire(&mut c, "l", "alice", 5_000), (true, t1));
    // The lock is a plain string to the other commands.
    assert_eq!(c.cmd_str(&["GET", "l"]), b"$5\r\nalice\r\n");
    assert_eq!(c.cmd_str(&["TYPE", "l"]), b"+string\r\n");
    // Only the owner extends and releases.
    assert_eq!(c.cmd_str(&["LOCK.EXTEND", "l", "bob", "PX", "60000"]), b":0\r\n");
    assert_eq!(c.cmd_str(&["LOCK.EXTEND", "l", "alice", "PX", "60000"]), b":1\r\n");
    let pttl: i64 = String::from_utf8_lossy(&c.cmd_str(&["PTTL", "l"])).trim_start_matches(':').trim().parse().unwrap();
    assert!(pttl > 59_000, "{pttl}");
    // LOCK.INFO: RESP2 flat array, RESP3 map.
    let info = parse(&c.cmd_str(&["LOCK.INFO", "l"])).0;
    let Value::Array(items) = info else { panic!("array expected") };
    assert_eq!(items.len(), 10);
    assert_eq!(items[0], Value::Bulk(b"owner".to_vec()));
    assert_eq!(items[1], Value::Bulk(b"alice".to_vec()));
    assert_eq!(items[3], Value::Int(t1));
    assert_eq!(items[8], Value::Bulk(b"extensions".to_vec()));
    assert_eq!(items[9], Value::Int(2));
    let mut c3 = RawConn::connect(t.addr()).unwrap();
    c3.cmd_str(&["HELLO", "3"]);
    assert!(c3.cmd_str(&["LOCK.INFO", "l"]).starts_with(b"%5\r\n"));
    assert_eq!(c3.cmd_str(&["LOCK.INFO", "nosuch"]), b"_\r\n");
    assert_eq!(c.cmd_str(&["LOCK.INFO", "nosuch"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["LOCK.RELEASE", "l", "bob"]), b":0\r\n");
    assert_eq!(c.cmd_str(&["LOCK.RELEASE", "l", "alice"]), b":1\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "l"]), b":0\r\n");
    // Errors.
    assert_eq!(
        c.cmd_str(&["LOCK.ACQUIRE", "l", "a", "PX", "0"]),
        b"-ERR invalid expire time in 'lock.acquire' command\r\n"
    );
    assert_eq!(c.cmd_str(&["LOCK.ACQUIRE", "l", "a", "QX", "10"]), b"-ERR syntax error\r\n");
    assert_eq!(
        c.cmd_str(&["LOCK.ACQUIRE", "l", "a"]),
        b"-ERR wrong number of arguments for 'lock.acquire' command\r\n"
    );
    c.cmd_str(&["HSET", "h", "f", "v"]);
    assert_eq!(
        c.cmd_str(&["LOCK.ACQUIRE", "h", "a", "PX", "10"]),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    // A lock taken with SET NX PX works with the LOCK commands too (token 0: none was issued).
    assert_eq!(c.cmd_str(&["SET", "s", "tok", "NX", "PX", "5000"]), b"+OK\r\n");
    assert_eq!(acquire(&mut c, "s", "tok", 5_000), (true, 0));
    assert_eq!(c.cmd_str(&["LOCK.RELEASE", "s", "tok"]), b":1\r\n");
}

#[test]
fn tokens_increase_across_del_expiry_and_flushall() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    let mut last = 0;
    for round in 0..30 {
        let (granted, token) = acquire(&mut c, "l", &format!("owner{round}"), 20);
        assert!(granted, "round {round}");
        assert!(token > last, "token {token} after {last}");
        last = token;
        match round % 3 {
            0 => assert_eq!(c.cmd_str(&["DEL", "l"]), b":1\r\n"),
            1 => assert_eq!(c.cmd_str(&["FLUSHALL"]), b"+OK\r\n"),
            _ => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    // LOCK.FENCE raises the floor while the caller holds the lock, and only then.
    let (_, token) = acquire(&mut c, "f", "me", 5_000);
    assert_eq!(c.cmd_str(&["LOCK.FENCE", "f", "you", &(token + 1000).to_string()]), b":0\r\n");
    assert_eq!(
        c.cmd_str(&["LOCK.FENCE", "f", "me", &(token + 1000).to_string()]),
        format!(":{}\r\n", token + 1000).into_bytes()
    );
    let (_, next) = acquire(&mut c, "g", "me", 5_000);
    assert!(next > token + 1000, "{next}");
}

#[test]
fn lock_delay_holds_back_expired_locks_but_not_released_ones() {
    let t = Tumbler::start(&[("lock-delay", "300")]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "l", "a", "NX", "PX", "30"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(60));
    // Expired while held: the name is held back, for SET NX and LOCK.ACQUIRE alike.
    assert_eq!(c.cmd_str(&["EXISTS", "l"]), b":0\r\n");
    assert_eq!(c.cmd_str(&["SET", "l", "b", "NX", "PX", "1000"]), b"$-1\r\n");
    let (granted, left) = acquire(&mut c, "l", "b", 1_000);
    assert!(!granted && left > 0 && left <= 300, "{left}");
    let start = Instant::now();
    while c.cmd_str(&["SET", "l", "b", "NX", "PX", "1000"]) != b"+OK\r\n" {
        assert!(start.elapsed() < Duration::from_secs(2), "lock-delay never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(start.elapsed() >= Duration::from_millis(150), "held back only {:?}", start.elapsed());
    // Released explicitly: no delay.
    assert_eq!(c.cmd_str(&["DEL", "l"]), b":1\r\n");
    assert_eq!(c.cmd_str(&["SET", "l", "c", "NX", "PX", "1000"]), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "locks_expired_while_held"), 1);
    assert_eq!(info_field(&mut c, "locks_released"), 1);
}

#[test]
fn info_counts_grants_refusals_and_lost_locks() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "a", "1", "NX", "PX", "20"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "a", "2", "NX", "PX", "20"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["SET", "b", "1", "NX", "PX", "5000"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["PEXPIRE", "b", "6000"]), b":1\r\n");
    // A plain SET is not a lock: its expiry is not a lost lock.
    assert_eq!(c.cmd_str(&["SET", "plain", "1", "PX", "20"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.cmd_str(&["EXISTS", "a", "plain"]), b":0\r\n");
    assert_eq!(info_field(&mut c, "locks_acquired"), 2);
    assert_eq!(info_field(&mut c, "locks_refused"), 1);
    assert_eq!(info_field(&mut c, "locks_extended"), 1);
    assert_eq!(info_field(&mut c, "locks_expired_while_held"), 1);
}

/// Restarts a tumbler-server process on the same port and `dir`.
fn restart(dir: &std::path::Path, port: u16, extra: &[&str]) -> TumblerProcess {
    let mut args = vec!["--dir", dir.to_str().unwrap(), "--port", Box::leak(port.to_string().into_boxed_str())];
    args.extend_from_slice(extra);
    TumblerProcess::start(&args)
}

#[test]
fn a_crash_fences_grants_for_the_longest_ttl_and_tokens_resume_above() {
    let dir = tempfile::tempdir().unwrap();
    let port = tumbler_tests::free_port();
    let mut p = restart(dir.path(), port, &[]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    let (_, t1) = acquire(&mut c, "held", "a", 400);
    assert_eq!(c.cmd_str(&["SET", "other", "x", "NX", "PX", "300"]), b"+OK\r\n");
    // kill -9 while both locks are held.
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    drop(p);
    let p = restart(dir.path(), port, &[]);
    let started = Instant::now();
    let mut c = RawConn::connect(p.addr()).unwrap();
    let r = String::from_utf8_lossy(&c.cmd_str(&["SET", "held", "b", "NX", "PX", "1000"])).into_owned();
    assert!(r.starts_with("-FENCED "), "{r}");
    let r = String::from_utf8_lossy(&c.cmd_str(&["LOCK.ACQUIRE", "held", "b", "PX", "1000"])).into_owned();
    assert!(r.starts_with("-FENCED "), "{r}");
    let left = info_field(&mut c, "lock_fence_remaining_ms");
    assert!(left > 0 && left <= 400, "fence {left}");
    // Reads and deletes keep working.
    assert_eq!(c.cmd_str(&["GET", "held"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["DEL", "held"]), b":0\r\n");
    // Granted again once the fence (the longest TTL granted before the crash) is over.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = c.cmd_str(&["LOCK.ACQUIRE", "held", "b", "PX", "1000"]);
        if !r.starts_with(b"-FENCED") {
            let (v, _) = parse(&r);
            let Value::Array(items) = v else { panic!("{}", String::from_utf8_lossy(&r)) };
            let Value::Int(t2) = items[1] else { panic!() };
            assert!(t2 > t1, "token {t2} reissued after {t1}");
            break;
        }
        assert!(Instant::now() < deadline, "fence never lifted");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(started.elapsed() >= Duration::from_millis(300), "fence lasted only {:?}", started.elapsed());
    assert!(info_field(&mut c, "locks_refused_by_fence") >= 2);
    // A clean shutdown saves the locks still held: the restarted node has no fence and still
    // knows them (same owner, same fencing token, a TTL no longer than it had).
    assert_eq!(c.cmd_str(&["LOCK.EXTEND", "held", "b", "PX", "5000"]), b":1\r\n");
    assert_eq!(c.cmd_str(&["SET", "plain", "tok", "NX", "PX", "5000"]), b"+OK\r\n");
    let token = lock_info(&mut c, "held").1;
    let _ = c.raw(b"SHUTDOWN\r\n", Duration::from_secs(5));
    let mut p = p;
    p.child.wait().unwrap();
    drop(p);
    let p = restart(dir.path(), port, &[]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(info_field(&mut c, "lock_fence_remaining_ms"), 0);
    assert_eq!(c.cmd_str(&["SET", "held", "c", "NX", "PX", "1000"]), b"$-1\r\n", "the restored lock is held");
    assert_eq!(c.cmd_str(&["SET", "plain", "c", "NX", "PX", "1000"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["GET", "plain"]), b"$3\r\ntok\r\n");
    assert_eq!(lock_info(&mut c, "held"), (b"b".to_vec(), token));
    let Value::Int(pttl) = parse(&c.cmd_str(&["PTTL", "held"])).0 else { panic!("PTTL") };
    assert!(pttl > 0 && pttl <= 5000, "{pttl}");
    assert_eq!(c.cmd_str(&["SET", "fresh", "c", "NX", "PX", "1000"]), b"+OK\r\n", "no fence for other names");
}

/// LOCK.INFO's owner and fencing token.
fn lock_info(c: &mut RawConn, key: &str) -> (Vec<u8>, i64) {
    let (v, _) = parse(&c.cmd_str(&["LOCK.INFO", key]));
    let Value::Array(items) = v else { panic!("LOCK.INFO {key}: {v:?}") };
    let owner = match &items[1] {
        Value::Bulk(b) => b.clone(),
        other => panic!("owner {other:?}"),
    };
    let Value::Int(token) = items[3] else { panic!("token {:?}", items[3]) };
    (owner, token)
}

#[test]
fn the_fence_is_bounded_by_lock_max_ttl_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = tumbler_tests::free_port();
    let mut p = restart(dir.path(), port, &[]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "l", "x", "NX", "PX", "3600000"]), b"+OK\r\n");
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    drop(p);
    let mut p = restart(dir.path(), port, &["--lock-max-ttl", "200"]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    let left = info_field(&mut c, "lock_fence_remaining_ms");
    assert!(left > 0 && left <= 200, "fence {left}");
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    drop(p);
    let p = restart(dir.path(), port, &["--lock-restart-fence", "no"]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(info_field(&mut c, "lock_fence_remaining_ms"), 0);
    assert_eq!(c.cmd_str(&["SET", "l", "y", "NX", "PX", "100"]), b"+OK\r\n");
}
