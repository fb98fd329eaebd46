//! TLS: a `tls-port` beside the plain port, with certificates this test makes with openssl,
//! tried with `redis-cli --tls` and with redis-py's Lock. Client certificates are required,
//! optional or not asked for, as `tls-auth-clients` says; one signed by another CA is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use tumbler_tests::resp::RawConn;
use tumbler_tests::{free_port, RedisServer, TumblerProcess};

/// A tumbler-server with a TLS port (certificates from `tumbler_tests::tls_certificates` in
/// `dir`) and `tls-auth-clients auth`; returns it and its TLS port.
pub(crate) fn server(dir: &Path, auth: &str) -> (TumblerProcess, u16) {
    server_with(dir, auth, &[])
}

/// [`server`], with more command-line options.
fn server_with(dir: &Path, auth: &str, extra: &[&str]) -> (TumblerProcess, u16) {
    let tls_port = free_port();
    let p = |f: &str| dir.join(f).display().to_string();
    let (cert, key, ca) = (p("server.crt"), p("server.key"), p("ca.crt"));
    let port = tls_port.to_string();
    let mut args =
        vec!["--tls-port", &port, "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca];
    args.extend(["--tls-auth-clients", auth]);
    args.extend(extra);
    let t = TumblerProcess::start(&args);
    // The TLS listener is bound before the plain one is announced, so it is up.
    (t, tls_port)
}

/// Runs a Python script with the pinned client libraries in `dir`; it must print "ok".
fn run_python(dir: &Path, script: &str) {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/python/.venv/bin/python");
    assert!(python.exists(), "run scripts/test.sh, which installs the pinned client libraries");
    let out = Command::new(&python).current_dir(dir).args(["-c", script]).output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `redis-cli --tls` with the given client certificate (or none); its stdout and exit status.
fn cli(dir: &Path, port: u16, client: Option<&str>, args: &[&str]) -> (String, bool) {
    let mut c = Command::new("redis-cli");
    c.current_dir(dir).args(["-h", "127.0.0.1", "-p", &port.to_string(), "--tls", "--cacert", "ca.crt"]);
    if let Some(name) = client {
        c.args(["--cert", &format!("{name}.crt"), "--key", &format!("{name}.key")]);
    }
    let out = c.args(args).output().expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if text.is_empty() {
        eprintln!("redis-cli {args:?} with {client:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    (text, out.status.success())
}

#[test]
fn tls_port_beside_the_plain_port_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    tumbler_tests::tls_certificates(dir.path());
    let (t, tls_port) = server(dir.path(), "yes");
    let d = dir.path();
    assert_eq!(cli(d, tls_port, Some("client"), &["SET", "lock:tls", "tok", "NX", "PX", "30000"]).0, "OK");
    assert_eq!(cli(d, tls_port, Some("client"), &["GET", "lock:tls"]).0, "tok");
    // The plain port serves the same data.
    let mut plain = tumbler_tests::resp::RawConn::connect(t.addr()).unwrap();
    assert_eq!(plain.cmd_str(&["GET", "lock:tls"]), b"$3\r\ntok\r\n");
    // No certificate, or one from a CA the server does not trust: no session.
    let (out, _) = cli(d, tls_port, None, &["PING"]);
    assert_ne!(out, "PONG", "a client without a certificate was served");
    let (out, _) = cli(d, tls_port, Some("rogue"), &["PING"]);
    assert_ne!(out, "PONG", "a client with an untrusted certificate was served");
    // Plain RESP on the TLS port is not a command either.
    let mut raw =
        tumbler_tests::resp::RawConn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], tls_port))).unwrap();
    let got = raw.raw(b"PING\r\n", std::time::Duration::from_millis(300));
    assert!(!got.starts_with(b"+PONG"), "plain text answered on the TLS port");
    assert_eq!(plain.cmd_str(&["PING"]), b"+PONG\r\n", "the server is still up");
}

#[test]
fn optional_and_no_client_authentication() {
    let dir = tempfile::tempdir().unwrap();
    tumbler_tests::tls_certificates(dir.path());
    let d = dir.path();
    let (_t, port) = server(d, "optional");
    assert_eq!(cli(d, port, None, &["PING"]).0, "PONG", "optional: no certificate is fine");
    assert_eq!(cli(d, port, Some("client"), &["PING"]).0, "PONG");
    assert_ne!(cli(d, port, Some("rogue"), &["PING"]).0, "PONG", "optional: a bad certificate is still refused");
    let (_t2, port2) = server(d, "no");
    assert_eq!(cli(d, port2, None, &["PING"]).0, "PONG");
}

/// redis-py's Lock over TLS, with a client certificate (the library the lock-client tests use).
#[test]
fn redis_py_lock_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    tumbler_tests::tls_certificates(dir.path());
    let (_t, port) = server(dir.path(), "yes");
    let script = format!(
        r#"
import redis
r = redis.Redis(host="127.0.0.1", port={port}, ssl=True, ssl_ca_certs="ca.crt",
                ssl_certfile="client.crt", ssl_keyfile="client.key")
lock = r.lock("lock:py", timeout=5, blocking=False)
assert lock.acquire(), "not acquired"
other = r.lock("lock:py", timeout=5, blocking=False)
assert not other.acquire(), "acquired twice"
assert r.pttl("lock:py") > 4000
lock.release()
assert r.get("lock:py") is None
print("ok")
"#
    );
    run_python(dir.path(), &script);
}

/// Certificate rotation: CONFIG SET of the `tls-*` files reloads them for new connections, even
/// with the same paths, and a set that does not load is refused and changes nothing. The same
/// steps run against redis-server and tumbler must end the same way, reply for reply.
#[test]
fn config_set_reloads_certificates_as_redis_does() {
    let redis = rotation(|d| {
        let tls_port = free_port();
        let p = |f: &str| d.join(f).display().to_string();
        let (port, cert, key, ca) = (tls_port.to_string(), p("server.crt"), p("server.key"), p("ca.crt"));
        let args = ["--tls-port", &port, "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca];
        let s = RedisServer::start(&[&args[..], &["--tls-auth-clients", "yes"]].concat());
        let addr = s.addr();
        (Box::new(s) as Box<dyn std::any::Any>, addr, tls_port)
    });
    let tumbler = rotation(|d| {
        let (t, tls_port) = server(d, "yes");
        let addr = t.addr();
        (Box::new(t) as Box<dyn std::any::Any>, addr, tls_port)
    });
    assert_eq!(redis, tumbler);
    // And they are the outcomes a rotation should have.
    let ok = |s: &str| s.to_string();
    let expected = [
        ok("old: PONG"),
        ok("-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"),
        ok("tls-cert-file unchanged: true"),
        ok("-ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - Unable to update TLS configuration. Check server logs.\r\n"),
        ok("old: PONG"),
        ok("+OK\r\n"),
        ok("new: PONG"),
        ok("old: refused"),
        ok("+OK\r\n"),
        ok("old: PONG"),
        ok("new: refused"),
    ];
    assert_eq!(tumbler, expected);
}

/// The rotation steps of [`config_set_reloads_certificates_as_redis_does`] against the server
/// `start` starts (from the certificates in the directory it is given, `tls-auth-clients yes`;
/// it returns the server, its plain address and its TLS port); what each step gave.
fn rotation(start: impl Fn(&Path) -> (Box<dyn std::any::Any>, SocketAddr, u16)) -> Vec<String> {
    let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (d, n) = (old.path(), new.path());
    tumbler_tests::tls_certificates(d);
    tumbler_tests::tls_certificates(n);
    let (_server, addr, tls_port) = start(d);
    let mut c = RawConn::connect(addr).unwrap();
    let p = |dir: &Path, f: &str| dir.join(f).display().to_string();
    let mut out = Vec::new();
    let set = |c: &mut RawConn, args: &[String]| {
        let mut cmd = vec!["CONFIG", "SET"];
        cmd.extend(args.iter().map(String::as_str));
        String::from_utf8_lossy(&c.cmd_str(&cmd)).into_owned()
    };
    let ping = |name: &str, dir: &Path| {
        let served = cli(dir, tls_port, Some("client"), &["PING"]).0 == "PONG";
        format!("{name}: {}", if served { "PONG" } else { "refused" })
    };
    out.push(ping("old", d));
    out.push(set(&mut c, &["tls-cert-file".into(), p(n, "missing.crt"), "tls-key-file".into(), p(n, "server.key")]));
    let cert = c.cmd_str(&["CONFIG", "GET", "tls-cert-file"]);
    out.push(format!("tls-cert-file unchanged: {}", String::from_utf8_lossy(&cert).contains(&p(d, "server.crt"))));
    out.push(set(&mut c, &["tls-protocols".into(), "bogus".into()]));
    out.push(ping("old", d));
    let rotate = ["tls-cert-file", "server.crt", "tls-key-file", "server.key", "tls-ca-cert-file", "ca.crt"];
    let to_new: Vec<String> = rotate.chunks(2).flat_map(|kv| [kv[0].to_string(), p(n, kv[1])]).collect();
    out.push(set(&mut c, &to_new));
    out.push(ping("new", n));
    out.push(ping("old", d));
    // The same paths with the old contents: setting them again reloads.
    for f in ["server.crt", "server.key", "ca.crt"] {
        std::fs::copy(d.join(f), n.join(f)).unwrap();
    }
    out.push(set(&mut c, &to_new));
    out.push(ping("old", d));
    out.push(ping("new", n));
    out
}

/// A TLS client connected before a script turned busy on the only worker is answered from the
/// script's hook through its TLS session, as a plain one is: -BUSY for a single request and
/// for a pipeline whose replies fill the session's buffer, QUIT (its reply, then the end of the
/// session), then SCRIPT KILL; afterwards the connection carries on. One that connects while
/// the script is busy gets its handshake (from the acceptor) and -BUSY. (redis-py over TLS;
/// the script's caller is another TLS client.)
#[test]
fn tls_clients_of_a_busy_script_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    tumbler_tests::tls_certificates(dir.path());
    let (_t, tls_port) = server_with(dir.path(), "no", &["--io-threads", "1", "--busy-reply-threshold", "500"]);
    let script = format!(
        r#"
import redis, redis.backoff, redis.retry, socket, ssl, threading, time
def client():
    # No retries: a request the server leaves unanswered fails the test in 10 s.
    return redis.Redis(host="127.0.0.1", port={tls_port}, ssl=True, ssl_ca_certs="ca.crt",
                       single_connection_client=True, socket_timeout=10,
                       retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
def busy_script(c):
    """Runs an endless script on c in a thread: the thread, and where its error lands."""
    outcome = []
    def run():
        try:
            c.eval("while true do end", 0)
        except Exception as e:
            outcome.append(str(e))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, outcome
def until_busy(c, reply_before):
    """Asks c for k (replying reply_before) until the script is busy."""
    deadline = time.time() + 10
    while True:
        try:
            assert c.get("k") == reply_before
        except redis.exceptions.ResponseError as e:
            assert str(e).startswith("BUSY Redis is busy running a script"), e
            return
        assert time.time() < deadline, "never busy"
def assert_busy(c):
    try:
        c.get("k")
        raise AssertionError("served while the script runs")
    except redis.exceptions.ResponseError as e:
        assert str(e).startswith("BUSY"), e
before, runner = client(), client()
assert before.ping() and runner.ping()
# Connected before the script, its TLS handshake only once the script is busy.
unshaken = socket.create_connection(("127.0.0.1", {tls_port}), timeout=10)
context = ssl.create_default_context(cafile="ca.crt")
quitter = context.wrap_socket(socket.create_connection(("127.0.0.1", {tls_port}), timeout=10),
                              server_hostname="127.0.0.1")
quitter.sendall(b"PING\r\n")
assert quitter.recv(100) == b"+PONG\r\n"
t, outcome = busy_script(runner)
# A TLS client that connects while the script runs but before it turns busy has its
# handshake on the acceptor thread and waits in the worker's queue: once the script is busy,
# the hook takes it from there, and it gets -BUSY.
time.sleep(0.1)
assert_busy(client())
until_busy(before, None)
# Handshakes do not wait for the worker: one begun only now completes, and gets -BUSY.
unshaken = context.wrap_socket(unshaken, server_hostname="127.0.0.1")
unshaken.sendall(b"GET k\r\n")
reply = unshaken.recv(100)
assert reply.startswith(b"-BUSY"), reply
pipe = before.pipeline(transaction=False)
for _ in range(3000):
    pipe.get("k")
replies = pipe.execute(raise_on_error=False)
assert len(replies) == 3000, len(replies)
assert all(str(r).startswith("BUSY") for r in replies), set(map(str, replies))
# A TLS client that connects now completes its handshake and gets -BUSY too.
late = client()
assert_busy(late)
# QUIT: the reply, then the end of the session (close_notify) while the script still runs.
quitter.sendall(b"QUIT\r\n")
assert quitter.recv(100) == b"+OK\r\n"
assert quitter.recv(100) == b""
assert before.script_kill()
t.join(10)
assert outcome and outcome[0].startswith("Script killed by user with SCRIPT KILL"), outcome
assert before.set("k", "v") and before.get("k") == b"v"
assert runner.get("k") == b"v"
# The late client, whose handshake the acceptor ran, is the worker's like any other: a script
# of its own that turns busy leaves the server accepting, and TLS newcomers get -BUSY.
t, late_outcome = busy_script(late)
until_busy(before, b"v")
for _ in range(3):
    newcomer = client()
    assert_busy(newcomer)
assert newcomer.script_kill()
t.join(10)
assert late_outcome and late_outcome[0].startswith("Script killed by user with SCRIPT KILL"), late_outcome
assert late.get("k") == b"v" and newcomer.get("k") == b"v"
print("ok")
"#
    );
    run_python(dir.path(), &script);
}

/// A client in its TLS handshake counts toward `maxclients`, as in Redis. Over the limit, a
/// plain client gets Redis' error and a TLS one is dropped without a word (nothing can be
/// written before a handshake, and Redis writes nothing either).
#[test]
fn clients_in_their_tls_handshake_count_toward_maxclients() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    tumbler_tests::tls_certificates(dir.path());
    let (t, tls_port) = server_with(dir.path(), "no", &["--maxclients", "2"]);
    let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
    // Two clients that never send their ClientHello.
    let silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(tls_addr).unwrap()).collect();
    // What the server first sends to a client that says PING (nothing: it hung up).
    let first_reply = |addr: SocketAddr| {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(b"PING\r\n");
        let mut got = [0u8; 64];
        let n = c.read(&mut got).unwrap_or(0);
        got[..n].to_vec()
    };
    // The acceptor takes the two from the TLS port's listener and the next from the plain
    // port's, in either order: ask until they are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = first_reply(t.addr());
        if got == b"-ERR max number of clients reached\r\n" {
            break;
        }
        assert_eq!(got, b"+PONG\r\n");
        assert!(Instant::now() < deadline, "clients in their handshake are not counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(first_reply(tls_addr), b"", "nothing is written on the TLS port before a handshake");
    // Once they hang up, there is room again.
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while first_reply(t.addr()) != b"+PONG\r\n" {
        assert!(Instant::now() < deadline, "the handshakes that ended still count");
        std::thread::sleep(Duration::from_millis(20));
    }
}
