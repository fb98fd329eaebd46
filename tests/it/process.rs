//! The `tumbler-server` binary: command line, config files, logging, pid file, shutdown.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{server_binary, RedisServer, TumblerProcess};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(server_binary()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_get(c: &mut RawConn, name: &str) -> String {
    match parse(&c.cmd_str(&["CONFIG", "GET", name])).0 {
        Value::Array(v) if v.len() == 2 => v[1].text(),
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("tumbler-server v="), "{out}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: tumbler-server"), "{out}");
}

#[test]
fn bad_directive_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(&path, "# a comment\nport 0\n\nmaxmemroy 100mb\n").unwrap();
    let (code, _, err) = run(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{}:4", path.display())), "{err}");
    assert!(err.contains("maxmemroy 100mb"), "{err}");
    assert!(err.contains("unknown directive 'maxmemroy'"), "{err}");
}

#[test]
fn malformed_value_and_refused_policy_stop_startup() {
    let (code, _, err) = run(&["--port", "0", "--maxmemory", "lots"]);
    assert_eq!(code, 1);
    assert!(err.contains("command line") && err.contains("argument must be a memory value"), "{err}");
    let (code, _, err) = run(&["--port", "0", "--maxmemory-policy", "allkeys-lru"]);
    assert_eq!(code, 1);
    assert!(err.contains("only supports noeviction"), "{err}");
    let (code, out, _) = run(&["--test-config", "--port", "0", "--hz", "50"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn the_shipped_config_passes_test_config_in_both_spellings() {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/tumbler.conf");
    for args in
        [vec!["--test-config", conf], vec![conf, "--test-config"], vec!["--test-config", conf, "--port", "7001"]]
    {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(out.contains("Configuration test passed"), "{args:?}: {out}");
    }
}

/// The shipped systemd unit is valid as systemd reads it (`systemd-analyze verify`), with its
/// ExecStart pointed at the binary under test; its config file passes --test-config above.
#[test]
fn the_shipped_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/tumbler.service")).unwrap();
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).expect("an ExecStart line");
    assert!(exec.contains("/usr/local/bin/tumbler-server"), "{exec}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tumbler.service");
    let bin = server_binary();
    std::fs::write(&path, unit.replace("/usr/local/bin/tumbler-server", bin.to_str().unwrap())).unwrap();
    let out =
        Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze (Debian: systemd)");
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Complaints about this machine's own units (no systemd running here) are not ours.
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("tumbler")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify: {text}");
}

/// --test-config also loads the users: an aclfile that startup would refuse fails the test,
/// naming the file and line; a good one passes.
#[test]
fn test_config_checks_the_aclfile() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("users.acl");
    let conf = dir.path().join("tumbler.conf");
    std::fs::write(&conf, format!("aclfile {}\n", acl.display())).unwrap();
    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser locks on >secret ~lock:* +get +set +del\n").unwrap();
    let (code, out, err) = run(&["--test-config", conf.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Configuration test passed"), "{out}");

    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser locks on >secret +nosuchcommand\n").unwrap();
    let (code, out, err) = run(&["--test-config", conf.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("Configuration test passed"), "{out}");
    assert!(err.contains("ACL errors") && err.contains("nosuchcommand"), "{err}");

    // The same file stops a real start, with the same message.
    let (code, _, start_err) = run(&[conf.to_str().unwrap(), "--port", "0"]);
    assert_eq!(code, 1);
    assert!(start_err.contains("nosuchcommand"), "{start_err}");
}

#[test]
fn config_file_then_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("t.conf");
    std::fs::write(&conf, "hz 20\ntimeout 30\nsave 3600 1\nsave 300 100\nmaxmemory 1mb\ndatabases 4\n").unwrap();
    let p = TumblerProcess::start(&[conf.to_str().unwrap(), "--timeout", "40"]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(config_get(&mut c, "hz"), "20");
    assert_eq!(config_get(&mut c, "timeout"), "40", "the command line wins over the file");
    assert_eq!(config_get(&mut c, "save"), "3600 1 300 100");
    assert_eq!(config_get(&mut c, "maxmemory"), "1048576");
    assert_eq!(config_get(&mut c, "databases"), "4");
    assert_eq!(c.cmd_str(&["SELECT", "4"]), b"-ERR DB index is out of range\r\n");
    // The file is the one INFO reports and CONFIG REWRITE updates.
    let info = parse(&c.cmd_str(&["INFO", "server"])).0.text();
    assert!(info.contains(&format!("config_file:{}", std::fs::canonicalize(&conf).unwrap().display())), "{info}");
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "hz", "33"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("hz 33\n") && text.contains("timeout 40\n"), "{text}");
    assert!(text.contains("databases 4\n"), "{text}");
}

/// CONFIG REWRITE writes the ACL users in place of the file's `user` lines, appends those left
/// over and drops the deleted ones, line for line as redis-server does; the rewritten file
/// starts a server with the same users. With an `aclfile`, the users stay out of the file.
#[test]
fn config_rewrite_writes_the_acl_users_as_redis_does() {
    let dir = tempfile::tempdir().unwrap();
    let original =
        "# users of the lock service\nuser alice on >pw ~lock:* +get\nhz 10\nuser carol on nopass ~* &* +@all\n";
    let changes: [&[&str]; 4] = [
        &["ACL", "SETUSER", "bob", "on", ">x", "~*", "+@all"],
        &["ACL", "SETUSER", "dave", "on", "nopass", "%R~r:*", "+@read", "(~s:* +set)"],
        &["ACL", "DELUSER", "alice"],
        &["CONFIG", "REWRITE"],
    ];
    // The lines both files should agree on: comments, `hz` and the users, in order.
    let kept = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter(|l| l.starts_with("user ") || l.starts_with('#') || l.starts_with("hz "))
            .map(String::from)
            .collect()
    };
    let (redis_conf, tumbler_conf) = (dir.path().join("redis.conf"), dir.path().join("tumbler.conf"));
    std::fs::write(&redis_conf, original).unwrap();
    std::fs::write(&tumbler_conf, original).unwrap();
    let redis = RedisServer::start_from(Some(&redis_conf), &[]);
    let tumbler = TumblerProcess::start(&[tumbler_conf.to_str().unwrap()]);
    let mut lists = Vec::new();
    for addr in [redis.addr(), tumbler.addr()] {
        let mut c = RawConn::connect(addr).unwrap();
        for cmd in changes {
            assert!(matches!(c.cmd_str(cmd).as_slice(), b"+OK\r\n" | b":1\r\n"), "{cmd:?}");
        }
        lists.push(c.cmd_str(&["ACL", "LIST"]));
    }
    assert_eq!(lists[0], lists[1], "ACL LIST");
    let ours = kept(&tumbler_conf);
    assert_eq!(kept(&redis_conf), ours);
    let users: Vec<&str> = ours.iter().filter_map(|l| l.strip_prefix("user ")?.split(' ').next()).collect();
    assert_eq!(users, ["bob", "carol", "dave", "default"], "{ours:?}");
    assert_eq!(
        ours[1],
        "user bob on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~* resetchannels +@all"
    );

    // The rewritten files start servers with the same users (the temporary `dir`s they name
    // go with the first servers; the command line gives new ones). A second rewrite appends
    // under the first one's signature.
    drop((redis, tumbler));
    for conf in [&redis_conf, &tumbler_conf] {
        let text = std::fs::read_to_string(conf).unwrap();
        std::fs::write(
            conf,
            text.lines().filter(|l| !l.starts_with("dir ")).map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }
    let redis = RedisServer::start_from(Some(&redis_conf), &[]);
    let tumbler = TumblerProcess::start(&[tumbler_conf.to_str().unwrap()]);
    let mut again = Vec::new();
    for addr in [redis.addr(), tumbler.addr()] {
        let mut c = RawConn::connect(addr).unwrap();
        again.push(c.cmd_str(&["ACL", "LIST"]));
        assert_eq!(c.cmd_str(&["CONFIG", "SET", "hz", "12"]), b"+OK\r\n");
        assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    }
    assert_eq!(again[0], again[1], "ACL LIST after a restart");
    let users = String::from_utf8_lossy(&again[1]).into_owned();
    for name in ["user bob ", "user carol ", "user dave ", "user default "] {
        assert!(users.contains(name), "{name}: {users}");
    }
    assert!(!users.contains("alice"), "{users}");
    for conf in [&redis_conf, &tumbler_conf] {
        let text = std::fs::read_to_string(conf).unwrap();
        assert_eq!(text.matches("# Generated by CONFIG REWRITE").count(), 1, "{}: {text}", conf.display());
        assert!(text.contains("hz 12\n"), "{text}");
    }
    drop((redis, tumbler));

    // With an aclfile, the users are ACL SAVE's business: no `user` line is written.
    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\n").unwrap();
    let with_acl = format!("aclfile {}\nhz 10\n", acl.display());
    std::fs::write(&redis_conf, &with_acl).unwrap();
    std::fs::write(&tumbler_conf, &with_acl).unwrap();
    let redis = RedisServer::start_from(Some(&redis_conf), &[]);
    let tumbler = TumblerProcess::start(&[tumbler_conf.to_str().unwrap()]);
    for addr in [redis.addr(), tumbler.addr()] {
        let mut c = RawConn::connect(addr).unwrap();
        assert_eq!(c.cmd_str(&["ACL", "SETUSER", "eve", "on"]), b"+OK\r\n");
        assert_eq!(c.cmd_str(&["CONFIG", "SET", "hz", "11"]), b"+OK\r\n");
        assert_eq!(c.cmd_str(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    }
    for conf in [&redis_conf, &tumbler_conf] {
        let text = std::fs::read_to_string(conf).unwrap();
        assert!(text.contains("hz 11\n") && !text.contains("user "), "{}: {text}", conf.display());
    }
}

/// `disable-thp` (default yes, as in Redis 7) turns transparent huge pages off for the process:
/// mimalloc asks for them, and each first touch of a huge page zeroes 2 MB in one stall.
#[test]
fn transparent_huge_pages_are_off_unless_disable_thp_is_no() {
    let thp = |p: &TumblerProcess| {
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("THP_enabled:")).expect("THP_enabled in /proc/pid/status");
        line.split_whitespace().nth(1).unwrap().to_string()
    };
    let p = TumblerProcess::start(&[]);
    assert_eq!(config_get(&mut RawConn::connect(p.addr()).unwrap(), "disable-thp"), "yes");
    assert_eq!(thp(&p), "0");
    let system = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let p = TumblerProcess::start(&["--disable-thp", "no"]);
    assert_eq!(config_get(&mut RawConn::connect(p.addr()).unwrap(), "disable-thp"), "no");
    if !system.contains("[never]") {
        assert_eq!(thp(&p), "1", "left to the system ({system})");
    }
}

#[test]
fn sigterm_shuts_down_gracefully_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("t.pid");
    let log = dir.path().join("t.log");
    let mut p = TumblerProcess::start(&["--pidfile", pid.to_str().unwrap(), "--logfile", log.to_str().unwrap()]);
    let written: u32 = std::fs::read_to_string(&pid).unwrap().trim().parse().unwrap();
    assert_eq!(written, p.child.id());
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(c.cmd_str(&["PING"]), b"+PONG\r\n");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc_kill(p.child.id() as i32, 15) };
    let status = wait_exit(&mut p, Duration::from_secs(10));
    assert_eq!(status, Some(0));
    assert!(c.is_closed(Duration::from_secs(2)), "clients are disconnected");
    assert!(!pid.exists(), "pid file removed");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Ready to accept connections") && text.contains("SIGTERM"), "{text}");
}

#[test]
fn shutdown_command_stops_the_server_without_replying() {
    let mut p = TumblerProcess::start(&[]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SHUTDOWN", "BOGUS"]), b"-ERR syntax error\r\n");
    let r = c.raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n", Duration::from_secs(5));
    assert!(r.is_empty(), "no reply: {:?}", String::from_utf8_lossy(&r));
    assert_eq!(wait_exit(&mut p, Duration::from_secs(10)), Some(0));
}

#[test]
fn shutdown_nosave_stops_a_server_stuck_in_a_script() {
    shutdown_nosave_ends_a_script_with_workers(2);
}

/// With one worker (the default on two cores) the script's hook answers the admin.
#[test]
fn shutdown_nosave_stops_a_single_worker_stuck_in_a_script() {
    shutdown_nosave_ends_a_script_with_workers(1);
}

fn shutdown_nosave_ends_a_script_with_workers(workers: usize) {
    let n = workers.to_string();
    let mut p = TumblerProcess::start(&["--io-threads", &n, "--busy-reply-threshold", "20"]);
    let mut runner = RawConn::connect(p.addr()).unwrap();
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE still ends it and the server.
    runner.send(b"EVAL \"redis.call('set', 'k', 'v') while true do end\" 0\r\n").unwrap();
    // Until the script turns busy, the admin's SCRIPT KILL waits for it, or, sent before the
    // script started, finds nothing to kill.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut admin = RawConn::connect(p.addr()).unwrap();
    loop {
        let r = admin.cmd_str(&["SCRIPT", "KILL"]);
        if r.starts_with(b"-UNKILLABLE") {
            break;
        }
        assert!(r.starts_with(b"-NOTBUSY"), "{}", String::from_utf8_lossy(&r));
        assert!(Instant::now() < deadline, "never busy");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(admin.cmd_str(&["SHUTDOWN"]).starts_with(b"-BUSY"));
    let r = admin.raw(b"SHUTDOWN NOSAVE\r\n", Duration::from_secs(5));
    assert!(r.is_empty(), "no reply: {:?}", String::from_utf8_lossy(&r));
    assert_eq!(wait_exit(&mut p, Duration::from_secs(10)), Some(0));
    // The script's caller got no reply either: its connection was closed.
    assert!(runner.is_closed(Duration::from_secs(2)));
}

fn wait_exit(p: &mut TumblerProcess, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(st) = p.child.try_wait().unwrap() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn logs_are_readable_by_people() {
    let mut p = TumblerProcess::start(&["--save", "3600 1"]);
    let _ = RawConn::connect(p.addr()).unwrap().raw(b"SHUTDOWN NOSAVE\r\n", Duration::from_secs(5));
    let _ = wait_exit(&mut p, Duration::from_secs(10));
    let mut out = String::new();
    p.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("Ready to accept connections tcp on 127.0.0.1:"), "{out}");
    assert!(out.contains("does not persist data yet"), "the accepted-but-ignored save is said: {out}");
    assert!(!out.contains('\u{1b}'), "no terminal colours when not on a terminal: {out}");
}

/// `client-output-buffer-limit`: a subscriber that stops reading is disconnected once its
/// pending messages pass the pubsub hard limit, a normal client whose one batch of replies
/// passes the normal hard limit too, and everybody else is served on.
#[test]
fn output_buffer_limits_disconnect_the_client_that_exceeds_them() {
    let t = tumbler_tests::Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    assert_eq!(
        admin.cmd_str(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 64kb 0 0 normal 1mb 0 0"]),
        b"+OK\r\n"
    );
    assert_eq!(
        config_get(&mut admin, "client-output-buffer-limit"),
        "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 65536 0 0"
    );
    // A subscriber that never reads again.
    let mut sub = RawConn::connect(t.addr()).unwrap();
    sub.cmd_str(&["SUBSCRIBE", "news"]);
    let payload = "x".repeat(10_000);
    let mut closed = false;
    for _ in 0..2000 {
        admin.cmd_str(&["PUBLISH", "news", &payload]);
        if parse(&admin.cmd_str(&["PUBSUB", "NUMSUB", "news"])).0
            == Value::Array(vec![Value::Bulk(b"news".to_vec()), Value::Int(0)])
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the subscriber over its pubsub limit was not disconnected");
    // A normal client asking for a 2 MB reply under a 1 MB limit (tumbler writes replies as it
    // produces them, so what can pile up for a client that does not read is one batch).
    admin.cmd_str(&["SET", "big", &"y".repeat(2_000_000)]);
    admin.cmd_str(&["SET", "small", &"y".repeat(300_000)]);
    let mut greedy = RawConn::connect(t.addr()).unwrap();
    greedy.send(&tumbler_tests::resp::encode(&[b"GET", b"big"])).unwrap();
    assert!(greedy.is_closed(Duration::from_secs(5)), "a 2 MB reply passed a 1 MB limit");
    // Within the limits nothing happens.
    let mut ok = RawConn::connect(t.addr()).unwrap();
    let r = ok.cmd_str(&["GET", "small"]);
    assert_eq!(r.len(), "$300000\r\n".len() + 300_000 + 2);
    assert_eq!(admin.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.cmd_str(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.\r\n"
    );
}
