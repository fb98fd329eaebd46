//! Hostile input: what a client sends must never take the server down, stall the other clients
//! or leave memory behind.
//!
//! - The fuzz targets' seed corpus (`fuzz/corpus/<target>/`) replays through the very code the
//!   cargo-fuzz targets run (`fuzz/src/lib.rs`, included below), so a crash once found and added
//!   there stays fixed in the normal test run.
//! - Against the real `tumbler-server` binary: garbage bytes, framing errors, truncated frames,
//!   huge declared lengths, deep nesting, slowloris clients, thousands of connections opened
//!   and dropped, and pipelines larger than the query buffer limit. Each gets Redis 7.0's reply
//!   (compared with a real redis-server where one is installed) or a disconnect; meanwhile a
//!   bystander client keeps checking that its own commands get correct answers; afterwards the
//!   server is still running, its memory (INFO `used_memory`, `VmRSS`) is back near where it
//!   started, and its output holds no panic.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tumbler_tests::resp::RawConn;
use tumbler_tests::{have, RedisServer, TumblerProcess};

// ---------------------------------------------------------------------------------------------
// Seed corpus replay
// ---------------------------------------------------------------------------------------------

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

#[test]
fn seed_corpus_replays_through_the_fuzz_targets() {
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 3] = [("proto", harness::proto), ("acl", harness::acl), ("conf", harness::conf)];
    for (target, run) in targets {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{}: only {} seeds", dir.display(), files.len());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("fuzz target {target} fails on {}", f.display());
            }
        }
    }
}

/// The harness' properties are not vacuous: a request split one byte at a time is still seen.
#[test]
fn proto_harness_sees_requests_split_anywhere() {
    // Byte 0 = 0: pieces of one byte. Large inputs too: a 100 KB bulk, a 70 KB inline line.
    let mut big = b"\x00*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'v', 100_000));
    big.extend_from_slice(b"\r\nPING\r\n");
    harness::proto(&big);
    let mut long = vec![0xfc];
    long.extend(std::iter::repeat_n(b'a', 70_000));
    long.extend_from_slice(b"\r\n");
    harness::proto(&long);
    let mut nested = vec![0x04];
    for _ in 0..100_000 {
        nested.extend_from_slice(b"*1\r\n");
    }
    harness::proto(&nested);
}

// ---------------------------------------------------------------------------------------------
// A server under attack, a bystander, memory
// ---------------------------------------------------------------------------------------------

/// A `tumbler-server` process whose output is drained (so logging never blocks it) and checked
/// for panics when the test ends.
struct Server {
    p: TumblerProcess,
    output: Arc<Mutex<Vec<u8>>>,
    drains: Vec<JoinHandle<()>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut p = TumblerProcess::start(args);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut drains = Vec::new();
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            p.child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            p.child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        for mut pipe in pipes.into_iter().flatten() {
            let out = output.clone();
            drains.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }));
        }
        Server { p, output, drains }
    }

    fn addr(&self) -> SocketAddr {
        self.p.addr()
    }

    fn conn(&self) -> RawConn {
        RawConn::connect(self.addr()).unwrap()
    }

    fn assert_running(&mut self) {
        let st = self.p.child.try_wait().unwrap();
        assert!(st.is_none(), "tumbler-server exited ({st:?}):\n{}", self.output());
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The server's resident set size, from /proc.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.p.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kb * 1024
    }

    fn info_field(&self, section: &str, field: &str) -> u64 {
        let mut c = self.conn();
        let reply = c.cmd_str(&["INFO", section]);
        let text = String::from_utf8_lossy(&reply).into_owned();
        let prefix = format!("{field}:");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{text}"))
    }

    fn memory(&self) -> Memory {
        Memory { rss: self.rss(), used: self.info_field("memory", "used_memory") }
    }

    /// Waits (a bounded while) for memory to come back near `base`: within 20 MB or twice the
    /// baseline, whichever is more generous, for both RSS and `used_memory`.
    fn assert_memory_settles(&self, base: Memory, what: &str) {
        let near = |now: u64, base: u64| now <= (base + (20 << 20)).max(2 * base);
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            let now = self.memory();
            if near(now.rss, base.rss) && near(now.used, base.used) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: memory did not return to baseline: {base:?} -> {now:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (a bounded while) until INFO `connected_clients` is at most `n`.
    fn assert_clients_settle(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            // The connection asking counts itself.
            let now = self.info_field("clients", "connected_clients");
            if now <= n + 1 {
                return;
            }
            assert!(Instant::now() < deadline, "connected_clients stays at {now}, expected {n}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends the test: the server must still be running and must not have panicked.
    fn finish(mut self) {
        self.assert_running();
        let _ = self.p.child.kill();
        let _ = self.p.child.wait();
        for d in self.drains.drain(..) {
            let _ = d.join();
        }
        let out = self.output();
        assert!(!out.contains("panicked"), "tumbler-server panicked:\n{out}");
    }
}

#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    used: u64,
}

/// A well-behaved client running beside the attack: INCR on its own counter must count 1, 2,
/// 3…, and a value it wrote must read back, every time.
struct Bystander {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Bystander {
    fn start(addr: SocketAddr, tag: &str) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let key = format!("bystander:{tag}");
        let value = format!("value of {tag} \r\n\0 with bytes");
        let mut c = RawConn::connect(addr).unwrap();
        assert_eq!(c.cmd_str(&["SET", &format!("{key}:v"), &value]), b"+OK\r\n");
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Relaxed) || n < 3 {
                n += 1;
                assert_eq!(c.cmd_str(&["INCR", &key]), format!(":{n}\r\n").into_bytes(), "bystander INCR");
                let expect = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
                assert_eq!(c.cmd_str(&["GET", &format!("{key}:v")]), expect, "bystander GET");
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        });
        Bystander { stop, thread }
    }

    /// Stops the bystander; fails the test if any answer it got was wrong.
    fn finish(self) -> u64 {
        self.stop.store(true, Relaxed);
        match self.thread.join() {
            Ok(n) => n,
            Err(e) => std::panic::resume_unwind(e),
        }
    }
}

/// Warms the server up (so lazily allocated structures are in the baseline), then measures it.
fn baseline(s: &Server) -> Memory {
    let mut c = s.conn();
    for i in 0..50 {
        c.cmd_str(&["SET", &format!("warm:{i}"), "x"]);
    }
    let _ = c.cmd_str(&["INFO", "all"]);
    s.memory()
}

/// Sends `input` on a new connection and collects what comes back until the server closes the
/// connection (`true`) or, when `until` is given, the collected bytes end with it (`false`).
fn exchange(addr: SocketAddr, input: &[u8], until: Option<&[u8]>) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    // A server that closes while we are still writing may reset the connection: that is a
    // close too, and what it sent before is still checked.
    let _ = s.write_all(input);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(t) = until {
            if out.ends_with(t) {
                return (out, false);
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(Instant::now() < deadline, "no close and no complete reply after {input:?}: {out:?}");
            }
            Err(_) => return (out, true),
        }
    }
}

/// Framing errors Redis closes the connection after (the reply, then EOF), and garbage it
/// answers and goes on after; `PING` follows the latter to show the connection still works.
fn framing_cases() -> Vec<(&'static str, Vec<u8>, Vec<u8>, bool)> {
    let e = |m: &str| format!("-ERR Protocol error: {m}\r\n").into_bytes();
    let rep = |unit: &[u8], n: usize| unit.repeat(n);
    let mut cases = vec![
        ("count not a number", b"*abc\r\n".to_vec(), e("invalid multibulk length"), true),
        ("count above INT_MAX", b"*2147483648\r\n".to_vec(), e("invalid multibulk length"), true),
        ("count overflowing i64", b"*99999999999999999999\r\n".to_vec(), e("invalid multibulk length"), true),
        ("bulk not a number", b"*1\r\n$abc\r\n".to_vec(), e("invalid bulk length"), true),
        ("negative bulk", b"*1\r\n$-1\r\n".to_vec(), e("invalid bulk length"), true),
        ("bulk above proto-max-bulk-len", b"*1\r\n$536870913\r\n".to_vec(), e("invalid bulk length"), true),
        ("integer instead of bulk", b"*1\r\n:5\r\n".to_vec(), e("expected '$', got ':'"), true),
        (
            "nested arrays",
            [rep(b"*1\r\n", 1000), b"$4\r\nPING\r\n".to_vec()].concat(),
            e("expected '$', got '*'"),
            true,
        ),
        ("unbalanced double quote", b"SET k \"abc\r\n".to_vec(), e("unbalanced quotes in request"), true),
        ("unbalanced single quote", b"SET k 'abc\r\n".to_vec(), e("unbalanced quotes in request"), true),
        ("quote followed by a letter", b"SET k \"a\"b\r\n".to_vec(), e("unbalanced quotes in request"), true),
        ("inline line of 64 KB + 1", vec![b'a'; 64 * 1024 + 1], e("too big inline request"), true),
        (
            "count line of 64 KB + 1",
            [b"*".to_vec(), vec![b'1'; 64 * 1024]].concat(),
            e("too big mbulk count string"),
            true,
        ),
        (
            "bulk length line of 64 KB + 1",
            [b"*1\r\n$".to_vec(), vec![b'1'; 64 * 1024]].concat(),
            e("too big bulk count string"),
            true,
        ),
        (
            "bytes after a bulk are not checked",
            b"*1\r\n$4\r\nPINGxx*1\r\n\r\n".to_vec(),
            [b"+PONG\r\n".to_vec(), e("expected '$', got ' '")].concat(),
            true,
        ),
    ];
    // Answered (with an error or, for a payload holding CRLF, the payload); the connection stays
    // usable. Replies as redis-server 7.0.15 sends them.
    let open: [(&str, &[u8], &[u8]); 4] = [
        (
            "binary garbage inline",
            b"\x01\x02\xfe\xff hello \x7f\r\n",
            b"-ERR unknown command '\x01\x02\xfe\xff', with args beginning with: 'hello' '\x7f' \r\n",
        ),
        (
            "RESP3 types as requests",
            b"%1\r\n+a\r\n:1\r\n",
            b"-ERR unknown command '%1', with args beginning with: \r\n\
              -ERR unknown command '+a', with args beginning with: \r\n\
              -ERR unknown command ':1', with args beginning with: \r\n",
        ),
        ("empty and blank lines", b"\r\n\n   \r\n*0\r\n*-1\r\n", b""),
        ("bulk payload with CRLF inside", b"*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n", b"$4\r\n\r\n\r\n\r\n"),
    ];
    for (name, input, reply) in open {
        cases.push((name, [input, b"PING\r\n"].concat(), [reply, b"+PONG\r\n"].concat(), false));
    }
    cases
}

#[test]
fn framing_errors_reply_like_redis_and_close() {
    let s = Server::start(&[]);
    let by = Bystander::start(s.addr(), "framing");
    let base = baseline(&s);
    let redis = have("redis-server").then(|| RedisServer::start(&[]));
    for (name, input, expected, closes) in framing_cases() {
        let until = (!closes).then_some(b"+PONG\r\n".as_slice());
        let (got, closed) = exchange(s.addr(), &input, until);
        assert_eq!(closed, closes, "{name}: closed");
        assert_eq!(got.escape_ascii().to_string(), expected.escape_ascii().to_string(), "{name}");
        if let Some(r) = &redis {
            let (want, rclosed) = exchange(r.addr(), &input, until);
            assert_eq!(closed, rclosed, "{name}: redis-server closed: {rclosed}");
            assert_eq!(got.escape_ascii().to_string(), want.escape_ascii().to_string(), "{name}: redis-server differs");
        }
    }
    assert!(by.finish() > 0);
    s.assert_memory_settles(base, "framing errors");
    s.finish();
}

#[test]
fn unauthenticated_limits_reply_like_redis() {
    let s = Server::start(&["--requirepass", "pw"]);
    let redis = have("redis-server").then(|| RedisServer::start(&["--requirepass", "pw"]));
    let cases: [(&[u8], &[u8]); 3] = [
        (b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
        (b"*2\r\n$3\r\nGET\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n"),
        (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    ];
    for (input, expected) in cases {
        let (got, closed) = exchange(s.addr(), input, None);
        assert!(closed);
        assert_eq!(got.escape_ascii().to_string(), expected.escape_ascii().to_string());
        if let Some(r) = &redis {
            assert_eq!(exchange(r.addr(), input, None), (got, true), "redis-server differs");
        }
    }
    // The limits end with AUTH, for the next request in the same packet too: Redis parses each
    // request after running the one before.
    let big = "x".repeat(16385);
    let mut input = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n$3\r\nDEL\r\n".to_vec();
    for i in 0..10 {
        input.extend_from_slice(format!("$2\r\nk{i}\r\n").as_bytes());
    }
    input.extend_from_slice(format!("*2\r\n$4\r\nECHO\r\n$16385\r\n{big}\r\n*1\r\n$4\r\nPING\r\n").as_bytes());
    let (got, closed) = exchange(s.addr(), &input, Some(b"+PONG\r\n"));
    assert!(!closed);
    let want = format!("+OK\r\n:0\r\n$16385\r\n{big}\r\n+PONG\r\n");
    assert_eq!(got.escape_ascii().to_string(), want.as_bytes().escape_ascii().to_string());
    if let Some(r) = &redis {
        assert_eq!(exchange(r.addr(), &input, Some(b"+PONG\r\n")), (got, false), "redis-server differs");
    }
    // At the limits exactly, the request is read and refused for want of authentication.
    let mut c = s.conn();
    let big = "x".repeat(16384);
    let reply = c.cmd_str(&["ECHO", &big]);
    assert!(reply.starts_with(b"-NOAUTH"), "{:?}", String::from_utf8_lossy(&reply));
    s.finish();
}

#[test]
fn deep_nesting_and_long_garbage_disconnect() {
    let s = Server::start(&[]);
    let by = Bystander::start(s.addr(), "deep");
    let base = baseline(&s);
    // A megabyte of nesting: the parser does not recurse; the first nested header is refused.
    // The server closes while the client is still writing, so the reply may be lost to the
    // reset that follows: only a prefix of it is required.
    let nested = b"*1\r\n".repeat(256 * 1024);
    // A megabyte of odd bytes: no NUL and no newline, so one endless inline line.
    let garbage: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1).collect();
    let cases: [(&str, &[u8], &[u8]); 2] = [
        ("nesting", &nested, b"-ERR Protocol error: expected '$', got '*'\r\n"),
        ("garbage", &garbage, b"-ERR Protocol error: too big inline request\r\n"),
    ];
    for (name, input, reply) in cases {
        let (got, closed) = exchange(s.addr(), input, None);
        assert!(closed, "{name}: not closed");
        assert!(reply.starts_with(&got), "{name}: {:?}", String::from_utf8_lossy(&got));
    }
    assert!(by.finish() > 0);
    s.assert_memory_settles(base, "deep nesting");
    s.finish();
}

#[test]
fn huge_declared_lengths_are_not_allocated_up_front() {
    let s = Server::start(&[]);
    let by = Bystander::start(s.addr(), "huge");
    let base = baseline(&s);
    // 16 clients each announce ~500 MB (8 GB in all) and send 64 KB of it, 8 more announce two
    // billion arguments. Memory must follow what arrived, not what was announced.
    let mut held = Vec::new();
    for i in 0..16 {
        let mut c = s.conn();
        let mut req = format!("*3\r\n$3\r\nSET\r\n$6\r\nhuge:{i:x}\r\n$500000000\r\n").into_bytes();
        req.extend(std::iter::repeat_n(b'z', 64 * 1024));
        c.send(&req).unwrap();
        held.push(c);
    }
    for _ in 0..8 {
        let mut c = s.conn();
        c.send(b"*2000000000\r\n$4\r\nPING\r\n$1\r\n").unwrap();
        held.push(c);
    }
    // Nothing is answered while the requests are incomplete.
    for c in held.iter_mut().take(2) {
        assert!(c.raw(b"", Duration::from_millis(50)).is_empty());
    }
    let during = s.memory();
    // 8 GB announced; about 1 MB arrived.
    assert!(during.rss < base.rss + (200 << 20), "announced lengths were allocated: {base:?} -> {during:?}");
    assert!(during.used < base.used + (64 << 20), "announced lengths were allocated: {base:?} -> {during:?}");
    assert!(s.conn().cmd_str(&["PING"]) == b"+PONG\r\n");
    drop(held);
    s.assert_clients_settle(1);
    assert!(by.finish() > 0);
    // Nothing was stored by the truncated requests.
    assert_eq!(s.conn().cmd_str(&["EXISTS", "huge:0", "huge:f"]), b":0\r\n");
    s.assert_memory_settles(base, "huge declared lengths");
    s.finish();
}

#[test]
fn slowloris_clients_one_byte_at_a_time() {
    let s = Server::start(&[]);
    let by = Bystander::start(s.addr(), "slow");
    let base = baseline(&s);
    // 20 clients interleave their requests one byte per write; they get the right replies.
    let mut slow: Vec<(TcpStream, Vec<u8>)> = (0..20)
        .map(|i| {
            let st = TcpStream::connect(s.addr()).unwrap();
            st.set_nodelay(true).unwrap();
            st.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut req = tumbler_tests::resp::encode(&[b"SET", format!("slow:{i}").as_bytes(), b"v\r\nv"]);
            req.extend_from_slice(format!("GET slow:{i}\r\n").as_bytes());
            (st, req)
        })
        .collect();
    let longest = slow.iter().map(|(_, r)| r.len()).max().unwrap();
    for at in 0..longest {
        for (st, req) in slow.iter_mut() {
            if let Some(&b) = req.get(at) {
                st.write_all(&[b]).unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for (st, _) in slow.iter_mut() {
        let want = b"+OK\r\n$4\r\nv\r\nv\r\n";
        let mut got = vec![0u8; want.len()];
        st.read_exact(&mut got).unwrap();
        assert_eq!(got, want);
    }
    // A 20 KB value one byte per write (thousands of reads resuming one request).
    let mut st = TcpStream::connect(s.addr()).unwrap();
    st.set_nodelay(true).unwrap();
    st.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let value = vec![b'q'; 20_000];
    for b in tumbler_tests::resp::encode(&[b"SET", b"slow:big", &value]) {
        st.write_all(&[b]).unwrap();
    }
    let mut ok = [0u8; 5];
    st.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    assert_eq!(s.conn().cmd_str(&["STRLEN", "slow:big"]), b":20000\r\n");
    // Clients that stop in the middle of a request hold nothing up.
    let stalled: Vec<RawConn> = (0..50)
        .map(|i| {
            let mut c = s.conn();
            c.send(&b"*2\r\n$3\r\nGET\r\n$10\r\nslow:"[..14 + i % 10]).unwrap();
            c
        })
        .collect();
    assert_eq!(s.conn().cmd_str(&["GET", "slow:3"]), b"$4\r\nv\r\nv\r\n");
    drop(stalled);
    drop(slow);
    drop(st);
    assert!(by.finish() > 0);
    s.assert_clients_settle(1);
    s.assert_memory_settles(base, "slowloris");
    s.finish();
}

#[test]
fn thousands_of_connections_opened_and_dropped() {
    let s = Server::start(&[]);
    let by = Bystander::start(s.addr(), "churn");
    let base = baseline(&s);
    let before = s.info_field("stats", "total_connections_received");
    let full = tumbler_tests::resp::encode(&[b"SET", b"churn", b"1"]);
    let payloads: [&[u8]; 6] = [
        b"",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk",
        &full,
        b"PING\r\nPING\r\nPING\r\n",
        b"*1\r\n$abc\r\n",
        b"\xff\xfe\xfd garbage without end",
    ];
    const TOTAL: usize = 3000;
    const AT_ONCE: usize = 300;
    let mut opened = 0;
    while opened < TOTAL {
        let mut batch = Vec::with_capacity(AT_ONCE);
        for i in opened..opened + AT_ONCE {
            let mut st = TcpStream::connect(s.addr()).unwrap();
            let _ = st.write_all(payloads[i % payloads.len()]);
            batch.push(st);
        }
        opened += AT_ONCE;
        // Dropped without reading: a socket closed with a reply unread in it sends a reset (as
        // a crashed client's does), the others a normal FIN.
        drop(batch);
        assert_eq!(s.conn().cmd_str(&["PING"]), b"+PONG\r\n");
    }
    s.assert_clients_settle(1);
    let after = s.info_field("stats", "total_connections_received");
    assert!(after >= before + TOTAL as u64, "{before} -> {after}");
    assert!(by.finish() > 0);
    s.assert_memory_settles(base, "connection churn");
    s.finish();
}

/// Writes `data` from another thread while this one reads `n` replies, so neither side's
/// socket buffers can fill up and deadlock the exchange. Returns the replies' bytes.
fn pipeline(addr: SocketAddr, data: Vec<u8>, expect: &[u8]) -> Vec<u8> {
    let st = TcpStream::connect(addr).unwrap();
    st.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = st.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&data).is_ok());
    let mut r = st;
    let mut got = vec![0u8; expect.len()];
    r.read_exact(&mut got).unwrap();
    assert!(writer.join().unwrap());
    got
}

#[test]
fn pipelines_larger_than_the_query_buffer() {
    // Redis' smallest query buffer limit, 1 MB.
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let by = Bystander::start(s.addr(), "pipeline");
    let base = baseline(&s);
    // 4 MB of small commands in one write: read and run as they arrive, all answered in order.
    const N: usize = 60_000;
    let mut data = Vec::new();
    let mut expect = Vec::new();
    for i in 0..N {
        if i % 2 == 0 {
            data.extend(tumbler_tests::resp::encode(&[b"INCR", b"pipe:counter"]));
            expect.extend(format!(":{}\r\n", i / 2 + 1).into_bytes());
        } else {
            data.extend(tumbler_tests::resp::encode(&[b"SET", format!("pipe:{}", i % 100).as_bytes(), &[b'p'; 40]]));
            expect.extend_from_slice(b"+OK\r\n");
        }
    }
    assert!(data.len() > 2 << 20, "{}", data.len());
    let got = pipeline(s.addr(), data, &expect);
    assert!(got == expect, "pipeline replies differ");
    // Inline commands too.
    let inline = b"INCR pipe:inline\r\n".repeat(100_000);
    let expect: Vec<u8> = (1..=100_000).flat_map(|i| format!(":{i}\r\n").into_bytes()).collect();
    assert!(pipeline(s.addr(), inline, &expect) == expect, "inline pipeline replies differ");
    // One argument larger than the limit: the client is disconnected and nothing is stored.
    let mut c = s.conn();
    let over = vec![b'o'; (1 << 20) + 4096];
    let _ = c.send(&tumbler_tests::resp::encode(&[b"SET", b"pipe:over", &over]));
    assert!(c.is_closed(Duration::from_secs(5)), "an argument above client-query-buffer-limit was kept");
    drop(c);
    assert_eq!(s.conn().cmd_str(&["EXISTS", "pipe:over"]), b":0\r\n");
    assert!(by.finish() > 0);
    s.assert_clients_settle(1);
    s.assert_memory_settles(base, "large pipelines");
    s.finish();
}
