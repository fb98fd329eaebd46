//! The `tumbler` command-line tool against real tumbler-server (and redis-server) processes:
//! run under a lock, the documented exit codes, acquire/extend/release/status with --json,
//! bench, and quorum up/down.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::{server_binary, RedisServer, TumblerProcess};

/// The `tumbler` binary of this workspace, built on first use (next to tumbler-server).
fn tumbler_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    BIN.get_or_init(|| {
        let _g = LOCK.lock().unwrap();
        let server = server_binary();
        let profile_dir = server.parent().unwrap().to_path_buf();
        let mut cmd = tumbler_tests::cargo();
        cmd.args(["build", "-q", "-p", "tumbler-cli", "--bin", "tumbler"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let st = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo");
        assert!(st.success(), "building tumbler failed");
        profile_dir.join("tumbler")
    })
    .clone()
}

fn tumbler(args: &[&str]) -> Output {
    Command::new(tumbler_binary()).args(args).env_remove("TUMBLER_NODES").stdin(Stdio::null()).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn json(o: &Output) -> Json {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

fn nodes(n: usize) -> (Vec<TumblerProcess>, String) {
    let procs: Vec<TumblerProcess> = (0..n).map(|_| TumblerProcess::start(&[])).collect();
    let urls = procs.iter().map(|p| format!("redis://127.0.0.1:{}", p.port)).collect::<Vec<_>>().join(",");
    (procs, urls)
}

fn get(port: u16, key: &str) -> Value {
    let mut c = RawConn::connect(([127, 0, 0, 1], port).into()).unwrap();
    parse(&c.cmd(&[b"GET", key.as_bytes()]).unwrap()).0
}

#[test]
fn run_exits_with_the_commands_status_and_releases_the_lock() {
    let (procs, urls) = nodes(3);
    let o = tumbler(&["run", "--lock", "cli:run", "--ttl", "1s", "--nodes", &urls, "--", "sh", "-c", "exit 7"]);
    assert_eq!(code(&o), 7, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    for p in &procs {
        assert_eq!(get(p.port, "cli:run"), Value::Null);
    }
    // The command sees its lock, and holds it while it runs.
    let script = format!(
        "test \"$TUMBLER_LOCK\" = cli:run && test -n \"$TUMBLER_LOCK_TOKEN\" && \
         redis-cli -p {} GET cli:run | grep -qx \"$TUMBLER_LOCK_TOKEN\"",
        procs[0].port
    );
    let o = tumbler(&["run", "--lock", "cli:run", "--nodes", &urls, "--", "sh", "-c", &script]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    // Killed by a signal: 128 + N.
    let o = tumbler(&["run", "--lock", "cli:run", "--nodes", &urls, "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(code(&o), 128 + 15);
    // Not found: 127, and the lock is released all the same.
    let o = tumbler(&["run", "--lock", "cli:run", "--nodes", &urls, "--", "/nonexistent/cmd"]);
    assert_eq!(code(&o), 127);
    for p in &procs {
        assert_eq!(get(p.port, "cli:run"), Value::Null);
    }
}

#[test]
fn a_second_run_waits_for_the_lock_or_fails_with_75() {
    let (procs, urls) = nodes(3);
    // The first holder outlives its 300 ms TTL: the watchdog extends it.
    let mut first = Command::new(tumbler_binary())
        .args(["run", "--lock", "cli:busy", "--ttl", "300ms", "--nodes", &urls, "--", "sleep", "0.9"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(procs[0].port, "cli:busy") == Value::Null {
        assert!(start.elapsed() < Duration::from_secs(5), "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = tumbler(&["run", "--lock", "cli:busy", "--wait", "200ms", "--nodes", &urls, "--", "true"]);
    assert_eq!(code(&o), 75, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let o = tumbler(&["acquire", "cli:busy", "--nodes", &urls]);
    assert_eq!(code(&o), 75);
    // Waiting long enough gets it once the first run has finished.
    let o = tumbler(&["run", "--lock", "cli:busy", "--wait", "5s", "--nodes", &urls, "--", "true"]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    assert!(first.wait().unwrap().success());
    assert!(start.elapsed() >= Duration::from_millis(850));
}

#[test]
fn acquire_extend_release_and_status_with_json() {
    let (procs, urls) = nodes(3);
    let o = tumbler(&["acquire", "cli:tok", "--ttl", "2s", "--json", "--nodes", &urls]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let a = json(&o);
    let token = a["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);
    assert!(a["fencing_token"].is_null());
    for p in &procs {
        assert_eq!(get(p.port, "cli:tok"), Value::Bulk(token.clone().into_bytes()));
    }

    let s = json(&tumbler(&["status", "cli:tok", "--json", "--nodes", &urls]));
    assert_eq!(s["holder"], Json::String(token.clone()));
    assert_eq!(s["held_by_majority"], Json::Bool(true));
    assert_eq!(s["nodes"].as_array().unwrap().len(), 3);
    let pttl = s["nodes"][0]["pttl"].as_i64().unwrap();
    assert!(pttl > 0 && pttl <= 2_000, "pttl {pttl}");

    let o = tumbler(&["extend", "cli:tok", "--token", &token, "--ttl", "30s", "--json", "--nodes", &urls]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o)["extended"], Json::Bool(true));
    let s = json(&tumbler(&["status", "cli:tok", "--json", "--nodes", &urls]));
    assert!(s["nodes"][1]["pttl"].as_i64().unwrap() > 20_000);

    // A wrong token neither extends nor releases (exit 1).
    let o = tumbler(&["extend", "cli:tok", "--token", "nope", "--ttl", "1s", "--json", "--nodes", &urls]);
    assert_eq!((code(&o), json(&o)["extended"].clone()), (1, Json::Bool(false)));
    assert_eq!(code(&tumbler(&["release", "cli:tok", "--token", "nope", "--nodes", &urls])), 1);

    let o = tumbler(&["release", "cli:tok", "--token", &token, "--json", "--nodes", &urls]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o)["released"], Json::from(3));
    let s = json(&tumbler(&["status", "cli:tok", "--json", "--nodes", &urls]));
    assert_eq!(s["held_by_majority"], Json::Bool(false));
    assert!(s["holder"].is_null());

    // Fenced: a fencing token, shown by status through LOCK.INFO; the next one is greater.
    let f1 = json(&tumbler(&["acquire", "cli:fen", "--fenced", "--json", "--nodes", &urls]));
    let t1 = f1["fencing_token"].as_u64().unwrap();
    let s = json(&tumbler(&["status", "cli:fen", "--json", "--nodes", &urls]));
    assert_eq!(s["nodes"][0]["info"]["token"].as_u64(), Some(t1));
    let tok1 = f1["token"].as_str().unwrap();
    assert_eq!(code(&tumbler(&["release", "cli:fen", "--token", tok1, "--nodes", &urls])), 0);
    let f2 = json(&tumbler(&["acquire", "cli:fen", "--fenced", "--json", "--nodes", &urls]));
    assert!(f2["fencing_token"].as_u64().unwrap() > t1);

    // Nodes from the environment and from a config file.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tumbler.conf");
    std::fs::write(&conf, format!("# test\nnodes = {urls}\n")).unwrap();
    let s = json(&tumbler(&["status", "cli:fen", "--json", "--config", conf.to_str().unwrap()]));
    assert_eq!(s["held_by_majority"], Json::Bool(true));
    let o = Command::new(tumbler_binary())
        .args(["status", "cli:fen", "--json"])
        .env("TUMBLER_NODES", &urls)
        .output()
        .unwrap();
    assert_eq!(json(&o)["held_by_majority"], Json::Bool(true));
    // No node at all answers: 69.
    let o = tumbler(&["acquire", "x", "--nodes", &format!("redis://127.0.0.1:{}", tumbler_tests::free_port())]);
    assert_eq!(code(&o), 69);
}

fn check_bench(o: &Output, cycles: u64) {
    assert_eq!(code(o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let b = json(o);
    assert_eq!(b["cycles"].as_u64(), Some(cycles));
    assert_eq!(b["errors"].as_u64(), Some(0));
    for h in ["acquire_us", "cycle_us"] {
        let (p50, p99, p999, max) = (
            b[h]["p50"].as_u64().unwrap(),
            b[h]["p99"].as_u64().unwrap(),
            b[h]["p999"].as_u64().unwrap(),
            b[h]["max"].as_u64().unwrap(),
        );
        assert!(0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max, "{h}: {}", b[h]);
    }
    assert!(b["cycles_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_completes_and_reports_percentiles() {
    let (_procs, urls) = nodes(3);
    let o = tumbler(&["bench", "--cycles", "60", "--clients", "4", "--keys", "2", "--json", "--nodes", &urls]);
    check_bench(&o, 60);
    let o = tumbler(&[
        "bench",
        "--cycles",
        "20",
        "--clients",
        "2",
        "--fenced",
        "--hold",
        "1ms",
        "--json",
        "--nodes",
        &urls,
    ]);
    check_bench(&o, 20);
    let o = tumbler(&["bench", "--cycles", "10", "--clients", "2", "--nodes", &urls]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("10 cycles") && text.contains("p99.9"), "{text}");
    // Plain Redis too (its release goes through the Lua script).
    let redis = RedisServer::start(&[]);
    let o = tumbler(&[
        "bench",
        "--cycles",
        "30",
        "--clients",
        "3",
        "--json",
        "--nodes",
        &format!("redis://127.0.0.1:{}", redis.port),
    ]);
    check_bench(&o, 30);
}

/// The first of `n` consecutive ports that are free right now.
fn free_ports(n: u16) -> u16 {
    'outer: for _ in 0..50 {
        let base = tumbler_tests::free_port();
        if base > u16::MAX - n {
            continue;
        }
        for p in base..base + n {
            if TcpListener::bind(("127.0.0.1", p)).is_err() {
                continue 'outer;
            }
        }
        return base;
    }
    panic!("no {n} consecutive free ports");
}

/// Runs `quorum down` when dropped, so a failing test leaves no detached servers behind.
struct QuorumDown<'a>(&'a Path);

impl Drop for QuorumDown<'_> {
    fn drop(&mut self) {
        if self.0.join("quorum.pid").exists() {
            let _ = tumbler(&["quorum", "down", "--dir", self.0.to_str().unwrap()]);
        }
    }
}

#[test]
fn quorum_up_detached_and_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let base = free_ports(5);
    let server = server_binary();
    let _down = QuorumDown(dir.path());
    let o = tumbler(&[
        "quorum",
        "up",
        "--detach",
        "--json",
        "--nodes",
        "5",
        "--base-port",
        &base.to_string(),
        "--dir",
        &d,
        "--server",
        server.to_str().unwrap(),
        "--io-threads",
        "2",
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let q = json(&o);
    let ports: Vec<u16> = q["nodes"].as_array().unwrap().iter().map(|n| n["port"].as_u64().unwrap() as u16).collect();
    assert_eq!(ports, (base..base + 5).collect::<Vec<_>>());
    for &p in &ports {
        let mut c = RawConn::connect(([127, 0, 0, 1], p).into()).unwrap();
        assert_eq!(parse(&c.cmd(&[b"PING"]).unwrap()).0, Value::Simple("PONG".into()));
        let info = c.cmd(&[b"INFO", b"server"]).unwrap();
        let info = String::from_utf8_lossy(&info);
        assert!(info.contains("tumbler_worker_threads:2\r\n"), "node {p}: {info}");
    }
    assert!(dir.path().join("node1/tumbler.log").exists());
    // A lock on the new quorum.
    let urls = q["urls"].as_str().unwrap();
    assert_eq!(code(&tumbler(&["run", "--lock", "q", "--nodes", urls, "--", "true"])), 0);
    // A second `up` on the same directory refuses.
    let o = tumbler(&["quorum", "up", "--detach", "--base-port", &base.to_string(), "--dir", &d]);
    assert_eq!(code(&o), 78);
    // A node needs a worker.
    let o = tumbler(&["quorum", "up", "--detach", "--io-threads", "0", "--dir", &d]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--io-threads"), "{}", String::from_utf8_lossy(&o.stderr));

    let o = tumbler(&["quorum", "down", "--dir", &d, "--json"]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["stopped"].as_u64(), Some(5));
    for &p in &ports {
        assert!(RawConn::connect(([127, 0, 0, 1], p).into()).is_err(), "port {p} still answers");
    }
    assert!(!dir.path().join("quorum.pid").exists());
}

#[test]
fn run_reports_a_lost_lock_kills_on_loss_and_forwards_signals() {
    let (procs, urls) = nodes(3);
    // --kill-on-loss: the lock is deleted behind the holder's back on a majority; the watchdog
    // notices and the command is terminated (SIGTERM: 143).
    let child = Command::new(tumbler_binary())
        .args(["run", "--lock", "cli:loss", "--ttl", "300ms", "--kill-on-loss", "--nodes", &urls, "--", "sleep", "30"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(procs[0].port, "cli:loss") == Value::Null {
        assert!(start.elapsed() < Duration::from_secs(5), "the run never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    for p in &procs[..2] {
        let mut c = RawConn::connect(([127, 0, 0, 1], p.port).into()).unwrap();
        assert_eq!(parse(&c.cmd(&[b"DEL", b"cli:loss"]).unwrap()).0, Value::Int(1));
    }
    let deleted = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143);
    assert!(deleted.elapsed() < Duration::from_secs(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lost the lock"), "{}", String::from_utf8_lossy(&o.stderr));

    // SIGINT to tumbler reaches the command, whose own exit status comes back.
    let child = Command::new(tumbler_binary())
        .args([
            "run",
            "--lock",
            "cli:sig",
            "--nodes",
            &urls,
            "--",
            "sh",
            "-c",
            "trap 'kill $!; exit 42' INT; sleep 30 & wait",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(procs[0].port, "cli:sig") == Value::Null {
        assert!(start.elapsed() < Duration::from_secs(5), "the run never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Give the shell a moment to install its trap.
    std::thread::sleep(Duration::from_millis(200));
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 42);
    for p in &procs {
        assert_eq!(get(p.port, "cli:sig"), Value::Null);
    }
}

/// acquire/release over rediss:// with --tls-ca/--tls-cert/--tls-key (servers that require a
/// client certificate); the same settings from a config file (paths relative to it); without
/// the client certificate no node answers (69).
#[test]
fn acquire_and_release_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tumbler_tests::tls_certificates(d);
    let procs: Vec<(TumblerProcess, u16)> = (0..3).map(|_| crate::tls::server(d, "yes")).collect();
    let urls = procs.iter().map(|(_, p)| format!("rediss://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
    let p = |f: &str| d.join(f).display().to_string();
    let (ca, cert, key) = (p("ca.crt"), p("client.crt"), p("client.key"));
    // A per-node timeout with room for TLS handshakes on a busy machine.
    let tls = ["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key, "--timeout", "1s"];
    let mut args = vec!["acquire", "cli:tls", "--ttl", "5s", "--json", "--nodes", &urls];
    args.extend(tls);
    let o = tumbler(&args);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let token = json(&o)["token"].as_str().unwrap().to_string();
    for (n, _) in &procs {
        assert_eq!(get(n.port, "cli:tls"), Value::Bulk(token.clone().into_bytes()));
    }
    let mut args = vec!["release", "cli:tls", "--token", &token, "--json", "--nodes", &urls];
    args.extend(tls);
    let o = tumbler(&args);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["released"], Json::from(3));
    for (n, _) in &procs {
        assert_eq!(get(n.port, "cli:tls"), Value::Null);
    }

    // From a config file, with paths relative to it.
    let conf = d.join("tumbler.conf");
    std::fs::write(&conf, format!("nodes = {urls}\ntls-ca = ca.crt\ntls-cert = client.crt\ntls-key = client.key\n"))
        .unwrap();
    let conf = conf.display().to_string();
    let o = tumbler(&["acquire", "cli:tls", "--ttl", "5s", "--timeout", "1s", "--json", "--config", &conf]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let token = json(&o)["token"].as_str().unwrap().to_string();
    let o = tumbler(&["release", "cli:tls", "--token", &token, "--timeout", "1s", "--config", &conf]);
    assert_eq!(code(&o), 0, "stderr: {}", String::from_utf8_lossy(&o.stderr));

    // Only the CA: the servers want a client certificate, so no node answers.
    let o = tumbler(&["acquire", "cli:tls", "--wait", "0s", "--nodes", &urls, "--tls-ca", &ca]);
    assert_eq!(code(&o), 69, "stderr: {}", String::from_utf8_lossy(&o.stderr));
    // rediss:// without a CA: a configuration error.
    let o = tumbler(&["acquire", "cli:tls", "--nodes", &urls]);
    assert_eq!(code(&o), 78, "stderr: {}", String::from_utf8_lossy(&o.stderr));
}
