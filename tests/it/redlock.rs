//! The Redlock client library (crates/redlock) against five real tumbler-server processes and
//! against five real redis-server 7.0.15 processes: acquire/release, mutual exclusion,
//! refusal with the holder's remaining time, extend, the watchdog, quorum arithmetic with
//! nodes down, fencing tokens across holders and restarts, and TLS (`rediss://`) with client
//! certificates.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tumbler_redlock::{Error, NodeAddr, Options, Redlock, Retry, TlsOptions, Transport};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{RedisServer, TumblerProcess};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn start_tumblers(n: usize) -> Vec<TumblerProcess> {
    (0..n).map(|_| TumblerProcess::start(&[])).collect()
}

fn start_redis(n: usize) -> Vec<RedisServer> {
    (0..n).map(|_| RedisServer::start(&[])).collect()
}

/// Short timeouts and retries: everything is on loopback.
fn opts() -> Options {
    Options {
        request_timeout: ms(250),
        connect_timeout: ms(250),
        retry_delay: ms(10),
        retry_jitter: ms(20),
        ..Options::default()
    }
}

fn client(ports: &[u16]) -> Redlock {
    let nodes = ports.iter().map(|p| NodeAddr::new("127.0.0.1", *p)).collect();
    Redlock::new(nodes, opts()).unwrap()
}

fn cmd(port: u16, args: &[&[u8]]) -> Value {
    let mut c = RawConn::connect(([127, 0, 0, 1], port).into()).unwrap();
    parse(&c.cmd(args).unwrap()).0
}

fn get(port: u16, key: &str) -> Value {
    cmd(port, &[b"GET", key.as_bytes()])
}

fn pttl(port: u16, key: &str) -> i64 {
    match cmd(port, &[b"PTTL", key.as_bytes()]) {
        Value::Int(n) => n,
        v => panic!("PTTL replied {v:?}"),
    }
}

/// Acquire, the token on every node, release, nothing left.
async fn acquire_and_release(ports: &[u16]) {
    let c = client(ports);
    let lock = c.acquire("rl:basic", ms(2_000)).await.unwrap();
    assert_eq!(lock.fencing_token(), None);
    let v = lock.validity().unwrap();
    assert!(v > ms(1_500) && v <= ms(2_000), "validity {v:?}");
    for &p in ports {
        assert_eq!(get(p, "rl:basic"), Value::Bulk(lock.token().as_bytes().to_vec()));
        let t = pttl(p, "rl:basic");
        assert!(t > 1_000 && t <= 2_000, "pttl {t}");
    }
    assert_eq!(c.release(&lock).await.unwrap(), ports.len());
    for &p in ports {
        assert_eq!(get(p, "rl:basic"), Value::Null);
    }
    // Releasing again finds nothing of ours.
    assert_eq!(c.release(&lock).await.unwrap(), 0);
}

/// Two clients hammering one key are never inside together, and both get through.
async fn mutual_exclusion(ports: &[u16]) {
    let inside = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (c, inside, done) = (client(ports), inside.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..15 {
                let retry = Retry::for_up_to(Duration::from_secs(5), c.options());
                let lock = c.acquire_with("rl:mutex", ms(2_000), retry).await.unwrap();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                tokio::time::sleep(ms(2)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                assert!(!lock.is_expired());
                c.release(&lock).await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 30);
}

/// A second client is refused and told roughly how long the holder has left.
async fn refusal_with_retry_after(ports: &[u16], fenced: bool) {
    let (a, b) = (client(ports), client(ports));
    let key = if fenced { "rl:refuse:f" } else { "rl:refuse" };
    let held = if fenced {
        a.acquire_fenced(key, ms(800), Retry::none()).await.unwrap()
    } else {
        a.acquire(key, ms(800)).await.unwrap()
    };
    let err = if fenced {
        b.acquire_fenced(key, ms(800), Retry::none()).await.unwrap_err()
    } else {
        b.try_acquire(key, ms(800)).await.unwrap_err()
    };
    match err {
        Error::Refused { retry_after: Some(d) } => assert!(d > ms(300) && d <= ms(800), "retry_after {d:?}"),
        e => panic!("expected a refusal with retry_after, got {e:?}"),
    }
    // The loser left nothing behind: the holder's token is on every node.
    for &p in ports {
        assert_eq!(get(p, key), Value::Bulk(held.token().as_bytes().to_vec()));
    }
    a.release(&held).await.unwrap();
    let l = b.try_acquire(key, ms(800)).await.unwrap();
    b.release(&l).await.unwrap();
}

/// Extend renews the TTL on the nodes and the validity; a foreign token cannot extend.
async fn extend(ports: &[u16]) {
    let c = client(ports);
    let mut lock = c.acquire("rl:extend", ms(300)).await.unwrap();
    c.extend(&mut lock, ms(3_000)).await.unwrap();
    assert!(lock.validity().unwrap() > ms(2_000));
    for &p in ports {
        assert!(pttl(p, "rl:extend") > 2_000);
    }
    let stranger = tumbler_redlock::Lock::from_parts("rl:extend", tumbler_redlock::Token::random().unwrap(), None);
    let mut stranger2 = stranger.clone();
    assert_eq!(c.extend(&mut stranger2, ms(3_000)).await.unwrap_err(), Error::NotHeld);
    assert_eq!(c.release(&stranger).await.unwrap(), 0);
    c.release(&lock).await.unwrap();
}

/// The watchdog holds a 300 ms lock for much longer, and reports loss once the key is gone
/// from a majority.
async fn watchdog(ports: &[u16]) {
    let c = client(ports);
    let lock = c.acquire("rl:watch", ms(300)).await.unwrap();
    let guard = c.watch(lock);
    tokio::time::sleep(ms(900)).await;
    assert!(!guard.is_lost());
    assert!(matches!(client(ports).try_acquire("rl:watch", ms(300)).await, Err(Error::Refused { .. })));
    // Delete it on a majority (behind the holder's back).
    for &p in &ports[..3] {
        assert_eq!(cmd(p, &[b"DEL", b"rl:watch"]), Value::Int(1));
    }
    tokio::time::timeout(ms(1_000), guard.lost()).await.expect("the watchdog did not report the loss");
    assert!(guard.is_lost());
    guard.release().await.unwrap();
}

fn tumbler_ports(nodes: &[TumblerProcess]) -> Vec<u16> {
    nodes.iter().map(|n| n.port).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_on_five_tumblers() {
    let nodes = start_tumblers(5);
    let ports = tumbler_ports(&nodes);
    acquire_and_release(&ports).await;
    mutual_exclusion(&ports).await;
    refusal_with_retry_after(&ports, false).await;
    refusal_with_retry_after(&ports, true).await;
    extend(&ports).await;
    watchdog(&ports).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_on_five_redis_servers() {
    let nodes = start_redis(5);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    acquire_and_release(&ports).await;
    mutual_exclusion(&ports).await;
    refusal_with_retry_after(&ports, false).await;
    extend(&ports).await;
    watchdog(&ports).await;
    // Fenced locks need tumbler; the error says so, and nothing is left behind.
    let c = client(&ports);
    match c.acquire_fenced("rl:fenced", ms(500), Retry::none()).await {
        Err(Error::Unsupported(_)) => {}
        r => panic!("expected Unsupported, got {r:?}"),
    }
    for &p in &ports {
        assert_eq!(get(p, "rl:fenced"), Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_survives_two_of_five_down_but_not_three() {
    let mut nodes = start_tumblers(5);
    let ports = tumbler_ports(&nodes);
    let c = client(&ports);
    // Warm the connections, then take two nodes away.
    let l = c.acquire("rl:q", ms(2_000)).await.unwrap();
    c.release(&l).await.unwrap();
    drop(nodes.pop());
    drop(nodes.pop());
    let l = c.acquire("rl:q", ms(2_000)).await.unwrap();
    assert_eq!(c.release(&l).await.unwrap(), 3);
    let l = c.acquire_fenced("rl:qf", ms(2_000), Retry::none()).await.unwrap();
    assert!(l.fencing_token().is_some());
    c.release(&l).await.unwrap();
    drop(nodes.pop());
    match c.try_acquire("rl:q", ms(2_000)).await {
        Err(Error::QuorumUnreachable { reachable: 2, needed: 3, nodes: 5, failures }) => assert_eq!(failures.len(), 3),
        r => panic!("expected QuorumUnreachable, got {r:?}"),
    }
    // Nothing left on the nodes still up.
    for n in &nodes {
        assert_eq!(get(n.port, "rl:q"), Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_increase_across_holders_and_restarts() {
    // Nodes keep their data directories across restarts (the token state lives there).
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports: Vec<u16> = (0..5).map(|_| tumbler_tests::free_port()).collect();
    let start = |i: usize| {
        TumblerProcess::start(&["--port", &ports[i].to_string(), "--dir", &dirs[i].path().display().to_string()])
    };
    let mut nodes: Vec<Option<TumblerProcess>> = (0..5).map(|i| Some(start(i))).collect();
    let (a, b) = (client(&ports), client(&ports));
    let retry = Retry::for_up_to(Duration::from_secs(5), a.options());
    let mut last = 0u64;
    // Successive holders, alternating clients, released or left to expire.
    for round in 0..6 {
        let c = if round % 2 == 0 { &a } else { &b };
        let lock = c.acquire_fenced("rl:fence", ms(300), retry).await.unwrap();
        let t = lock.fencing_token().unwrap();
        assert!(t > last, "token {t} after {last}");
        last = t;
        if round % 3 == 2 {
            tokio::time::sleep(ms(350)).await;
        } else {
            c.release(&lock).await.unwrap();
        }
    }
    // Kill three nodes without a clean shutdown and bring them back on the same data: the
    // next holder (once the restart fence has passed) still gets a greater token.
    for n in nodes.iter_mut().take(3) {
        drop(n.take());
    }
    for (i, n) in nodes.iter_mut().enumerate().take(3) {
        *n = Some(start(i));
    }
    let lock = b.acquire_fenced("rl:fence", ms(300), retry).await.unwrap();
    let t = lock.fencing_token().unwrap();
    assert!(t > last, "token {t} after restart, {last} before");
    b.release(&lock).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_databases_and_resp3() {
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::start(&["--requirepass", "s3cret", "--user", "alice", "on", ">pw", "~*", "&*", "+@all"]))
        .collect();
    for (user, db, protocol) in [
        ("", 0, tumbler_redlock::Protocol::Resp2),
        ("alice", 2, tumbler_redlock::Protocol::Resp2),
        ("", 3, tumbler_redlock::Protocol::Resp3),
        ("alice", 0, tumbler_redlock::Protocol::Resp3),
    ] {
        let pass = if user.is_empty() { "s3cret" } else { "pw" };
        let urls: Vec<String> =
            nodes.iter().map(|n| format!("redis://{user}:{pass}@127.0.0.1:{}/{db}", n.port)).collect();
        let c = Redlock::from_urls(&urls.join(","), Options { protocol, ..opts() }).unwrap();
        let mut lock = c.acquire("rl:auth", ms(1_000)).await.unwrap();
        // The key is in the database asked for.
        for n in &nodes {
            let mut raw = RawConn::connect(n.addr()).unwrap();
            assert_eq!(parse(&raw.cmd(&[b"AUTH", b"s3cret"]).unwrap()).0, Value::Simple("OK".into()));
            let dbs = db.to_string();
            assert_eq!(parse(&raw.cmd(&[b"SELECT", dbs.as_bytes()]).unwrap()).0, Value::Simple("OK".into()));
            assert_eq!(
                parse(&raw.cmd(&[b"GET", b"rl:auth"]).unwrap()).0,
                Value::Bulk(lock.token().as_bytes().to_vec())
            );
        }
        c.extend(&mut lock, ms(1_000)).await.unwrap();
        assert_eq!(c.release(&lock).await.unwrap(), 3);
    }
    // A wrong password: every node fails with the server's reason.
    let urls: Vec<String> = nodes.iter().map(|n| format!("redis://:wrong@127.0.0.1:{}", n.port)).collect();
    let c = Redlock::from_urls(&urls.join(","), opts()).unwrap();
    match c.try_acquire("rl:auth", ms(1_000)).await {
        Err(Error::QuorumUnreachable { reachable: 0, failures, .. }) => {
            assert!(failures.iter().all(|f| f.error.to_string().contains("WRONGPASS")), "{failures:?}")
        }
        r => panic!("expected QuorumUnreachable, got {r:?}"),
    }
    assert_eq!("rediss://127.0.0.1:1".parse::<NodeAddr>().unwrap().transport, Transport::Tls);
}

/// Loopback timeouts with room for TLS handshakes (key exchange and certificate checks) on a
/// busy machine: a node that misses its slot would leave the lock on a bare majority.
fn tls_opts(tls: TlsOptions) -> Options {
    Options { tls: Some(tls), connect_timeout: ms(3_000), request_timeout: ms(1_000), ..opts() }
}

/// Three nodes (any count works; three is the smallest that tolerates a failure) serving TLS
/// with client certificates required: a lock acquired, extended and released over rediss://
/// with a client certificate, fenced too; without a certificate, with a name the servers'
/// certificate does not carry, or without TLS settings at all, no lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redlock_over_tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tumbler_tests::tls_certificates(d);
    let nodes: Vec<(TumblerProcess, u16)> = (0..3).map(|_| crate::tls::server(d, "yes")).collect();
    let urls = nodes.iter().map(|(_, p)| format!("rediss://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
    let tls = TlsOptions::with_ca(d.join("ca.crt")).client_cert(d.join("client.crt"), d.join("client.key"));
    let c = Redlock::from_urls(&urls, tls_opts(tls.clone())).unwrap();
    // Every node answers over TLS (and the sessions are set up before the lock is taken).
    let pings = c.ping().await;
    assert!(pings.iter().all(|(_, r)| r.is_ok()), "{pings:?}");
    let mut lock = c.acquire("rl:tls", ms(2_000)).await.unwrap();
    for (n, _) in &nodes {
        // The plain port of the same server sees the token set over TLS.
        assert_eq!(get(n.port, "rl:tls"), Value::Bulk(lock.token().as_bytes().to_vec()));
    }
    c.extend(&mut lock, ms(5_000)).await.unwrap();
    assert!(lock.validity().unwrap() > ms(4_000));
    for (n, _) in &nodes {
        assert!(pttl(n.port, "rl:tls") > 4_000);
    }
    assert_eq!(c.release(&lock).await.unwrap(), 3);
    for (n, _) in &nodes {
        assert_eq!(get(n.port, "rl:tls"), Value::Null);
    }
    let f = c.acquire_fenced("rl:tls:f", ms(2_000), Retry::none()).await.unwrap();
    assert!(f.fencing_token().is_some());
    assert_eq!(c.release(&f).await.unwrap(), 3);

    // The name to verify can be given: the servers' certificate also names localhost.
    let mut named = tls.clone();
    named.server_name = Some("localhost".into());
    let c2 = Redlock::from_urls(&urls, tls_opts(named)).unwrap();
    let l = c2.try_acquire("rl:tls", ms(1_000)).await.unwrap();
    assert_eq!(c2.release(&l).await.unwrap(), 3);

    // No client certificate: the servers refuse the session, so no node answers.
    let no_cert = Redlock::from_urls(&urls, tls_opts(TlsOptions::with_ca(d.join("ca.crt")))).unwrap();
    match no_cert.try_acquire("rl:tls", ms(1_000)).await {
        Err(Error::QuorumUnreachable { reachable: 0, needed: 2, nodes: 3, failures }) => {
            assert_eq!(failures.len(), 3, "{failures:?}")
        }
        r => panic!("expected QuorumUnreachable without a client certificate, got {r:?}"),
    }
    // A name the certificate does not carry: refused by the client.
    let mut wrong = tls.clone();
    wrong.server_name = Some("elsewhere.invalid".into());
    let c3 = Redlock::from_urls(&urls, tls_opts(wrong)).unwrap();
    match c3.try_acquire("rl:tls", ms(1_000)).await {
        Err(Error::QuorumUnreachable { reachable: 0, failures, .. }) => {
            assert!(failures.iter().all(|f| f.error.to_string().contains("TLS")), "{failures:?}")
        }
        r => panic!("expected QuorumUnreachable with the wrong server name, got {r:?}"),
    }
    for (n, _) in &nodes {
        assert_eq!(get(n.port, "rl:tls"), Value::Null);
    }
    // rediss:// without TLS settings, or with a file that is not there: a configuration error.
    assert!(matches!(Redlock::from_urls(&urls, opts()), Err(Error::Config(_))));
    let missing = TlsOptions::with_ca(d.join("nonexistent.crt"));
    assert!(matches!(Redlock::from_urls(&urls, tls_opts(missing)), Err(Error::Config(_))));
}
