//! A wall-clock step never expires a lock early (docs/locks.md, section 1). The real
//! `tumbler-server` runs under tests/shim/clockshift.c, an LD_PRELOAD library that offsets its
//! CLOCK_REALTIME by the seconds written in a file; the test steps that clock a year forward and
//! then two years back while locks set with PX, PXAT and EXAT are held, and checks that each
//! lock lives exactly as long as it was granted for and that EXPIRETIME/PEXPIRETIME follow the
//! new wall clock. Redis loses such locks at once: the same checks run against redis-server
//! under the same shim fail, which shows they can (scripts/redis-clock-step.sh demonstrates it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{free_port, have, wait_listening, TumblerProcess};

const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

/// The clock-shifting library, built into a temporary directory, and its offset file.
struct Shim {
    dir: tempfile::TempDir,
    lib: PathBuf,
    offset_file: PathBuf,
}

impl Shim {
    fn build() -> Shim {
        let dir = tempfile::tempdir().unwrap();
        let lib = tumbler_tests::faults::build_clock_shim(dir.path());
        let offset_file = dir.path().join("offset");
        let shim = Shim { dir, lib, offset_file };
        shim.set_offset_ms(0);
        shim
    }

    /// Steps the shifted clock to real time + `ms` (whole seconds). Written to a new file and
    /// renamed over the old one, so the server never reads a half-written offset.
    fn set_offset_ms(&self, ms: i64) {
        let tmp = self.dir.path().join("offset.new");
        std::fs::write(&tmp, format!("{}\n", ms / 1000)).unwrap();
        std::fs::rename(&tmp, &self.offset_file).unwrap();
    }

    fn env(&self) -> [(&str, &str); 2] {
        [("LD_PRELOAD", self.lib.to_str().unwrap()), ("TUMBLER_CLOCK_OFFSET_FILE", self.offset_file.to_str().unwrap())]
    }
}

fn int(c: &mut RawConn, args: &[&str]) -> i64 {
    let r = c.cmd_str(args);
    match parse(&r).0 {
        Value::Int(i) => i,
        _ => panic!("{args:?}: {}", String::from_utf8_lossy(&r)),
    }
}

/// The server's wall clock (TIME), in ms.
fn time_ms(c: &mut RawConn) -> i64 {
    let r = c.cmd_str(&["TIME"]);
    match parse(&r).0 {
        Value::Array(v) if v.len() == 2 => {
            let s: i64 = v[0].text().parse().unwrap();
            let us: i64 = v[1].text().parse().unwrap();
            s * 1000 + us / 1000
        }
        _ => panic!("TIME: {}", String::from_utf8_lossy(&r)),
    }
}

/// A lock set by the test, with bounds on its deadline measured on this process's monotonic
/// clock (the server's and ours are the same clock).
struct Held {
    key: String,
    /// Just before the SET was sent.
    set_at: Instant,
    /// The server's deadline lies in `lo..=hi`.
    lo: Instant,
    hi: Instant,
    /// PEXPIRETIME when last checked.
    pexpiretime: i64,
    /// Seen present at 70 % of its TTL or later (and before `lo`).
    seen_late: bool,
    /// When it was first seen gone.
    gone_at: Option<Instant>,
}

/// Sets `key` with `SET key 1 NX <how...>` and measures its deadline with PTTL: the server's
/// remaining time `r` satisfies `p <= r < p + 1` at some moment between sending PTTL and
/// reading its reply.
fn set_lock(c: &mut RawConn, key: &str, how: &[&str]) -> Held {
    let set_at = Instant::now();
    let mut args = vec!["SET", key, "1", "NX"];
    args.extend_from_slice(how);
    assert_eq!(c.cmd_str(&args), b"+OK\r\n", "{args:?}");
    let before = Instant::now();
    let p = int(c, &["PTTL", key]);
    let after = Instant::now();
    assert!(p > 100, "{args:?}: PTTL {p}");
    let p = Duration::from_millis(p as u64);
    let mut h = Held {
        key: key.to_string(),
        set_at,
        lo: before + p,
        hi: after + p + Duration::from_millis(1),
        pexpiretime: 0,
        seen_late: false,
        gone_at: None,
    };
    h.pexpiretime = check_expiretime(c, &h);
    h
}

/// PEXPIRETIME and EXPIRETIME agree with the server's current wall clock plus PTTL; returns
/// PEXPIRETIME.
fn check_expiretime(c: &mut RawConn, h: &Held) -> i64 {
    let now = time_ms(c);
    let pttl = int(c, &["PTTL", &h.key]);
    let pat = int(c, &["PEXPIRETIME", &h.key]);
    let at = int(c, &["EXPIRETIME", &h.key]);
    assert!(pttl > 0, "{}: PTTL {pttl}: the lock is gone", h.key);
    assert!(
        (pat - (now + pttl)).abs() <= 20,
        "{}: PEXPIRETIME {pat}, TIME {now} + PTTL {pttl} = {}",
        h.key,
        now + pttl
    );
    assert!((at * 1000 - pat).abs() <= 1000, "{}: EXPIRETIME {at}, PEXPIRETIME {pat}", h.key);
    pat
}

/// Steps the clock by `delta_ms` and checks that the server saw the step (TIME), that every
/// lock is still held, and that its PEXPIRETIME moved with the wall clock.
fn step(c: &mut RawConn, shim: &Shim, offset: &mut i64, delta_ms: i64, held: &mut [Held]) {
    let before = time_ms(c);
    *offset += delta_ms;
    shim.set_offset_ms(*offset);
    let after = time_ms(c);
    assert!(
        (after - before - delta_ms).abs() < 1000,
        "the shim did not step the server's clock by {delta_ms} ms: TIME {before} then {after}"
    );
    for h in held.iter_mut() {
        let pat = check_expiretime(c, h);
        assert!(
            (pat - h.pexpiretime - delta_ms).abs() <= 20,
            "{}: PEXPIRETIME {} then {pat} across a step of {delta_ms} ms",
            h.key,
            h.pexpiretime
        );
        h.pexpiretime = pat;
    }
}

#[test]
fn wall_clock_steps_neither_shorten_nor_lengthen_locks() {
    let shim = Shim::build();
    let server = TumblerProcess::start_with_env(&[], &shim.env());
    let mut c = RawConn::connect(server.addr()).unwrap();
    step_the_clock_under_locks(&mut c, &shim);
}

/// The same checks fail on Redis, which keeps deadlines on the wall clock: they can fail.
#[test]
fn redis_loses_its_locks_in_the_same_test() {
    assert!(have("redis-server"), "redis-server is needed: apt-get install redis-server");
    let shim = Shim::build();
    let redis = RedisUnderShim::start(&shim);
    let mut c = RawConn::connect(redis.addr()).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step_the_clock_under_locks(&mut c, &shim)));
    let message = match outcome {
        Ok(()) => panic!("redis-server kept its locks across a wall-clock step"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("the lock is gone"), "{message}");
}

/// `redis-server` under the shim, stopped when dropped.
struct RedisUnderShim {
    port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl RedisUnderShim {
    fn start(shim: &Shim) -> RedisUnderShim {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .envs(shim.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = RedisUnderShim { port, child, _dir: dir };
        assert!(wait_listening(r.addr(), Duration::from_secs(10)), "redis-server under the shim did not start");
        r
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for RedisUnderShim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Steps the server's wall clock a year forward, then two years back, under locks set with PX,
/// PXAT and EXAT, and checks every lock lives exactly as long as it was granted for.
fn step_the_clock_under_locks(c: &mut RawConn, shim: &Shim) {
    let mut offset = 0;
    // The shim works: TIME jumps a year and back.
    step(c, shim, &mut offset, YEAR_MS, &mut []);
    step(c, shim, &mut offset, -YEAR_MS, &mut []);

    // Locks set on the true clock: PX, PXAT and EXAT (the EXAT deadline is 250–1250 ms away).
    let w = time_ms(c);
    let mut held = vec![
        set_lock(c, "a:px", &["PX", "600"]),
        set_lock(c, "a:pxat", &["PXAT", &(w + 500).to_string()]),
        set_lock(c, "a:exat", &["EXAT", &((w + 250) / 1000 + 1).to_string()]),
    ];
    // A year forward: Redis expires all of them here.
    step(c, shim, &mut offset, YEAR_MS, &mut held);
    // Locks whose PXAT/EXAT come from the shifted clock.
    let w = time_ms(c);
    held.push(set_lock(c, "b:px", &["PX", "400"]));
    held.push(set_lock(c, "b:pxat", &["PXAT", &(w + 450).to_string()]));
    held.push(set_lock(c, "b:exat", &["EXAT", &((w + 250) / 1000 + 1).to_string()]));
    // Two years back, to a year before the true time: Redis would keep all of them a year.
    step(c, shim, &mut offset, -2 * YEAR_MS, &mut held);

    // Watch every lock until it is gone: present until its deadline (and seen present at 70 %
    // of its TTL or later), gone right after it. Expiry is exact on access, so an EXISTS sent
    // after `hi` must find the key gone whatever the scheduling of this thread.
    let limit = Instant::now() + Duration::from_secs(3);
    while held.iter().any(|h| h.gone_at.is_none()) {
        assert!(Instant::now() < limit, "locks still present long after their deadline");
        for h in held.iter_mut().filter(|h| h.gone_at.is_none()) {
            let sent = Instant::now();
            let exists = int(c, &["EXISTS", &h.key]);
            let received = Instant::now();
            if exists == 1 {
                assert!(sent <= h.hi, "{}: still present {:?} after its deadline", h.key, sent - h.hi);
                let late = h.set_at + (h.lo - h.set_at).mul_f64(0.7);
                h.seen_late |= sent >= late;
            } else {
                assert!(received >= h.lo, "{}: gone {:?} before its deadline", h.key, h.lo - received);
                h.gone_at = Some(received);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for h in &held {
        assert!(h.seen_late, "{}: never checked between 70 % of its TTL and its deadline", h.key);
    }
    // The clock is still a year behind: the step stayed in force throughout.
    let w = time_ms(c);
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((real - YEAR_MS - w).abs() < 2000, "TIME {w}, expected about {}", real - YEAR_MS);
}
