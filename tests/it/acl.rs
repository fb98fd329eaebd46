//! ACLs end to end: a lock-service user that may take and release locks under `lock:*` and do
//! nothing else, driven by redis-py's `Lock` (the real client, when its virtualenv is installed)
//! and by raw RESP; the ACL LOG it leaves; `user` directives and the `aclfile` at startup; ACL
//! SAVE / LOAD. (Reply texts are compared with Redis by the `acl.redis` differential corpus.)

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tumbler_tests::resp::{parse, RawConn};
use tumbler_tests::{Tumbler, TumblerProcess};

/// What the lock service needs, and nothing more: its keys, the lock commands and scripts
/// (redis-py's extend script calls PTTL and PEXPIRE), and the handshake redis-py sends.
const LOCKER_RULES: &[&str] = &[
    "on",
    ">lockpw",
    "~lock:*",
    "resetchannels",
    "-@all",
    "+get",
    "+set",
    "+del",
    "+pttl",
    "+pexpire",
    "+eval",
    "+evalsha",
    "+script|load",
    "+hello",
    "+auth",
    "+ping",
    "+client|setinfo",
    "+client|setname",
];

const NOPERM_KEYS: &[u8] = b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";

fn noperm_cmd(name: &str) -> Vec<u8> {
    format!("-NOPERM this user has no permissions to run the '{name}' command\r\n").into_bytes()
}

fn setuser(admin: &mut RawConn, name: &str, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", name];
    args.extend_from_slice(rules);
    assert_eq!(admin.cmd_str(&args), b"+OK\r\n");
}

/// The locker takes, checks and releases a lock with the compare-and-delete script, and is
/// refused everything else with Redis' NOPERM texts; each refusal is in ACL LOG.
#[test]
fn lock_user_can_lock_and_nothing_else() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    setuser(&mut admin, "locker", LOCKER_RULES);
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(
        c.cmd_str(&["AUTH", "locker", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_str(&["AUTH", "locker", "lockpw"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "lock:a", "tok", "NX", "PX", "10000"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "lock:a", "tok2", "NX", "PX", "10000"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["GET", "lock:a"]), b"$3\r\ntok\r\n");
    let release = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    assert_eq!(c.cmd_str(&["EVAL", release, "1", "lock:a", "tok"]), b":1\r\n");
    // Everything else is refused.
    assert_eq!(c.cmd_str(&["FLUSHDB"]), noperm_cmd("flushdb"));
    assert_eq!(c.cmd_str(&["FLUSHALL"]), noperm_cmd("flushall"));
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "maxmemory", "1"]), noperm_cmd("config|set"));
    assert_eq!(c.cmd_str(&["KEYS", "*"]), noperm_cmd("keys"));
    assert_eq!(c.cmd_str(&["ACL", "SETUSER", "locker", "+@all"]), noperm_cmd("acl|setuser"));
    assert_eq!(c.cmd_str(&["CLIENT", "KILL", "ID", "1"]), noperm_cmd("client|kill"));
    assert_eq!(c.cmd_str(&["SET", "other", "x"]), NOPERM_KEYS);
    assert_eq!(c.cmd_str(&["GET", "other"]), NOPERM_KEYS);
    assert_eq!(c.cmd_str(&["DEL", "lock:b", "other"]), NOPERM_KEYS);
    // A script runs with the caller's permissions: no way around the key patterns.
    let r = c.cmd_str(&["EVAL", "return redis.call('set', 'other', 'x')", "0"]);
    assert!(
        String::from_utf8_lossy(&r)
            .starts_with("-ERR The user executing the script can't access at least one of the keys"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    let r = c.cmd_str(&["EVAL", "return redis.call('flushall')", "0"]);
    assert!(
        String::from_utf8_lossy(&r).starts_with("-ERR The user executing the script can't run this command"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(c.cmd_str(&["EVAL", "return redis.acl_check_cmd('flushall')", "0"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["EVAL", "return redis.acl_check_cmd('set', 'lock:x', 'v')", "0"]), b":1\r\n");
    // Nothing was written outside lock:*.
    assert_eq!(admin.cmd_str(&["EXISTS", "other"]), b":0\r\n");

    // ACL LOG: newest first, with the user and the client that was refused.
    let log = String::from_utf8_lossy(&admin.cmd_str(&["ACL", "LOG", "20"])).into_owned();
    for needle in ["flushall", "flushdb", "config|set", "other", "auth", "username", "locker", "toplevel", "lua"] {
        assert!(log.contains(needle), "ACL LOG lacks {needle}: {log}");
    }
    assert!(log.contains("user=locker"), "client-info names the user: {log}");
    // CLIENT LIST shows who is who.
    let list = parse(&admin.cmd_str(&["CLIENT", "LIST"])).0.text();
    assert!(list.contains("user=locker") && list.contains("user=default"), "{list}");

    // Deleting the user disconnects its clients.
    assert_eq!(admin.cmd_str(&["ACL", "DELUSER", "locker"]), b":1\r\n");
    assert!(c.is_closed(Duration::from_secs(2)), "the locker's connection must be closed");
}

/// The default user stays unrestricted; restricting it applies to connected clients at once,
/// and EXEC checks the queued commands again.
#[test]
fn changes_apply_to_connected_clients() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    setuser(&mut admin, "admin", &["on", ">adm", "+@all", "~*", "&*"]);
    assert_eq!(admin.cmd_str(&["AUTH", "admin", "adm"]), b"+OK\r\n");
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "k"]), b"+QUEUED\r\n");
    setuser(&mut admin, "default", &["-get"]);
    let r = c.cmd_str(&["EXEC"]);
    assert!(String::from_utf8_lossy(&r).contains("NOPERM ACLs rules changed"), "{}", String::from_utf8_lossy(&r));
    assert_eq!(c.cmd_str(&["GET", "k"]), noperm_cmd("get"));
    setuser(&mut admin, "default", &["+get"]);
    assert_eq!(c.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
    // requirepass gives the default user a password: new connections must authenticate.
    assert_eq!(admin.cmd_str(&["CONFIG", "SET", "requirepass", "s3cret"]), b"+OK\r\n");
    let mut n = RawConn::connect(t.addr()).unwrap();
    assert_eq!(n.cmd_str(&["GET", "k"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(n.cmd_str(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(n.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
    // The connection that was authenticated before stays so.
    assert_eq!(c.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
}

fn python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/python/.venv/bin/python");
    p.exists().then_some(p)
}

/// redis-py's `Lock`, authenticated as the locker over RESP3 (HELLO 3 AUTH), acquires, extends
/// and releases a lock, and its FLUSHDB is refused with a permission error.
#[test]
fn redis_py_lock_as_restricted_user() {
    let Some(py) = python() else {
        eprintln!("skipped: tests/clients/python/.venv is not installed (scripts/test.sh installs it)");
        return;
    };
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    setuser(&mut admin, "locker", LOCKER_RULES);
    let script = r#"
import sys, redis
port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port, username="locker", password="lockpw", protocol=3, client_name="lockapp")
lock = r.lock("lock:job", timeout=5, blocking_timeout=1)
assert lock.acquire(), "acquire"
assert lock.owned(), "owned"
assert lock.extend(5), "extend"
other = r.lock("lock:job", timeout=5, blocking_timeout=0.2)
assert not other.acquire(), "second acquire must fail"
lock.release()
assert r.get("lock:job") is None
try:
    r.flushdb()
    raise SystemExit("FLUSHDB was allowed")
except redis.exceptions.NoPermissionError as e:
    assert "flushdb" in str(e), str(e)
try:
    r.get("secret")
    raise SystemExit("GET secret was allowed")
except redis.exceptions.NoPermissionError:
    pass
print("ok")
"#;
    let out = Command::new(py).arg("-c").arg(script).arg(t.addr().port().to_string()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `user` directives in the config file define users at startup; `aclfile` loads users, ACL
/// SAVE writes them back and ACL LOAD re-reads them; both at once refuse to start.
#[test]
fn users_from_config_and_aclfile() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("t.conf");
    std::fs::write(&conf, "user locker on >lockpw ~lock:* +get +set\nuser default on nopass ~* &* +@all\n").unwrap();
    let p = TumblerProcess::start(&[conf.to_str().unwrap()]);
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(c.cmd_str(&["AUTH", "locker", "lockpw"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "lock:1", "x"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["DEL", "lock:1"]), noperm_cmd("del"));
    drop(c);
    drop(p);

    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser locker on #9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ~lock:* +get\n").unwrap();
    let p = TumblerProcess::start(&["--aclfile", acl.to_str().unwrap()]);
    let mut admin = RawConn::connect(p.addr()).unwrap();
    let mut c = RawConn::connect(p.addr()).unwrap();
    assert_eq!(c.cmd_str(&["AUTH", "locker", "test"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["SET", "lock:1", "x"]), noperm_cmd("set"));
    setuser(&mut admin, "other", &["on", "nopass", "+ping"]);
    assert_eq!(admin.cmd_str(&["ACL", "SAVE"]), b"+OK\r\n");
    let saved = std::fs::read_to_string(&acl).unwrap();
    assert!(saved.contains("user other on nopass resetchannels -@all +ping"), "{saved}");
    // ACL LOAD: a bad file changes nothing; a good one replaces the users and disconnects the
    // clients of the users that existed before.
    std::fs::write(&acl, "user locker on nopass bogus\n").unwrap();
    let r = String::from_utf8_lossy(&admin.cmd_str(&["ACL", "LOAD"])).into_owned();
    assert!(r.starts_with("-ERR ") && r.contains("no change to the previously active ACL rules"), "{r}");
    assert_eq!(c.cmd_str(&["PING"]), noperm_cmd("ping"));
    std::fs::write(&acl, "user locker on nopass ~* +@all\n").unwrap();
    assert_eq!(admin.cmd_str(&["ACL", "LOAD"]), b"+OK\r\n");
    assert!(c.is_closed(Duration::from_secs(2)), "clients of reloaded users are disconnected");
    assert_eq!(admin.cmd_str(&["ACL", "USERS"]), b"*2\r\n$7\r\ndefault\r\n$6\r\nlocker\r\n");
    drop(p);

    // Users in the config file and an ACL file at once: refuse to start.
    let out = Command::new(tumbler_tests::server_binary())
        .args([conf.to_str().unwrap(), "--aclfile", acl.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users defined in redis.conf and at the same setting an ACL file path is invalid"), "{err}");
}
