//! TLS: a `tls-port` beside the plain port, with certificates this test makes with openssl,
//! tried with `redis-cli --tls` and with redis-py's Lock. Client certificates are required,
//! optional or not asked for, as `tls-auth-clients` says; one signed by another CA is refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use tumbler_tests::{free_port, TumblerProcess};

/// A tumbler-server with a TLS port (certificates from `tumbler_tests::tls_certificates` in
/// `dir`) and `tls-auth-clients auth`; returns it and its TLS port.
pub(crate) fn server(dir: &Path, auth: &str) -> (TumblerProcess, u16) {
    let tls_port = free_port();
    let p = |f: &str| dir.join(f).display().to_string();
    let (cert, key, ca) = (p("server.crt"), p("server.key"), p("ca.crt"));
    let port = tls_port.to_string();
    let t = TumblerProcess::start(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        auth,
    ]);
    // The TLS listener is bound before the plain one is announced, so it is up.
    (t, tls_port)
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
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/python/.venv/bin/python");
    assert!(python.exists(), "run scripts/test.sh, which installs the pinned client libraries");
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
    let out = Command::new(&python).current_dir(dir.path()).args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
