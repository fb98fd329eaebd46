//! Side-by-side load comparison: tumbler-server vs redis-server, in the same run.
//!
//! Both servers start on free loopback ports with the same settings. Each workload runs
//! redis-benchmark (50 clients, keys drawn from 100k) against each server in alternating rounds;
//! the table shows medians and tumbler/redis ratios of throughput, p99 latency, and the server's
//! own CPU time per request (all threads, from /proc/<pid>/task/*/schedstat), which is the
//! honest figure on a small machine where the load generator saturates first. A second table
//! shows where that time goes: the kernel's share of it, and how often the server's threads
//! went to sleep (voluntary context switches) per 1,000 requests: a server that idles between
//! the load generator's rounds pays for each wake-up.
//!
//! With `--pin` (the default when at least two CPUs are available) each server runs on CPU 0 and
//! redis-benchmark and this process (which loads keys and listens for events itself) on CPU 1
//! (taskset), so a multi-threaded server cannot win by taking the load generator's core.
//!
//! Usage: cargo run --release -p tumbler-benches --bin compare -- [--rounds N] [--requests N]
//!        [--pipeline 1,16] [--workloads set-nx-px,get,del,pexpire,evalsha-cad,delifeq,ping-inline]
//!        [--no-pin]
//!
//! `--floor` adds a third table: the CPU per request of two servers that do nothing but
//! answer (`floor --io epoll` and `floor --io uring`, beside this binary), run in the same
//! rounds. No server that reads and writes sockets on this machine can cost less, so a ratio
//! below the floor's cannot be reached by any work saved in user space.
//!
//! `--memory N` instead loads N lock keys (`lock:<n>`, a 20-byte token, PX 600000) into each
//! server and reports the memory each key costs: INFO `used_memory` and the process's RSS,
//! after minus before, divided by N.
//!
//! `--storm R` measures GET's p99 at -P 1 on a quiet server and while R keys a second expire.
//!
//! `--expiry N` loads N keys with TTLs spread over 2 s into each server and measures, through
//! keyspace notifications, how late each key's `expired` event comes after its deadline
//! (p50/p99/max), and the RSS afterwards.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tumbler_benches::CAD;

const CLIENTS: &str = "50";
const KEYSPACE: u64 = 100_000;

struct Opts {
    rounds: usize,
    requests: u64,
    pipelines: Vec<u32>,
    workloads: Vec<String>,
    pin: bool,
    /// Also run the floor servers.
    floor: bool,
    /// Lock keys for the memory comparison (0: run the load comparison).
    memory: u64,
    /// Keys for the expiry-lag comparison (0: none).
    expiry: u64,
    /// The shortest TTL of the expiry comparison, ms (the longest is 2 s more).
    expiry_after: u64,
    /// Keys a second expiring during the storm comparison (0: none).
    storm: u64,
}

fn parse_opts() -> Opts {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut o = Opts {
        rounds: 5,
        requests: 200_000,
        pipelines: vec![1, 16],
        workloads: ["set-nx-px", "get", "del", "pexpire"].iter().map(|s| s.to_string()).collect(),
        pin: cpus >= 2,
        floor: false,
        memory: 0,
        expiry: 0,
        expiry_after: 1000,
        storm: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if matches!(flag, "-h" | "--help") {
            print!("{USAGE}");
            std::process::exit(0);
        }
        // The options without a value.
        match flag {
            "--no-pin" => o.pin = false,
            "--floor" => o.floor = true,
            _ => {}
        }
        if matches!(flag, "--no-pin" | "--floor") {
            i += 1;
            continue;
        }
        let Some(v) = args.get(i + 1) else { usage_error(&format!("{flag} needs a value")) };
        let number =
            |what: &str| v.parse::<u64>().unwrap_or_else(|_| usage_error(&format!("{flag} {what}: not {v:?}")));
        match flag {
            "--rounds" => o.rounds = number("N").max(1) as usize,
            "--requests" => o.requests = number("N"),
            "--pipeline" => {
                o.pipelines = v
                    .split(',')
                    .map(|p| p.parse().unwrap_or_else(|_| usage_error(&format!("--pipeline 1,16: not {v:?}"))))
                    .collect()
            }
            "--workloads" => o.workloads = v.split(',').map(str::to_string).collect(),
            "--memory" => o.memory = number("N"),
            "--expiry" => o.expiry = number("N"),
            "--expiry-after" => o.expiry_after = number("MS"),
            "--storm" => o.storm = number("KEYS_PER_SECOND"),
            other => usage_error(&format!("unknown option {other}")),
        }
        i += 2;
    }
    // An unknown workload is refused before any server starts.
    for w in &o.workloads {
        workload_args(w);
    }
    o
}

const USAGE: &str = "\
Usage: compare [--rounds N] [--requests N] [--pipeline 1,16] [--workloads LIST] [--no-pin] [--floor]
       compare --memory N | --expiry N [--expiry-after MS] | --storm KEYS_PER_SECOND

Starts redis-server and tumbler-server (the one beside this binary) on free loopback ports and
compares them in alternating rounds: medians of throughput, p99 and server CPU per request,
then where that CPU time went (the kernel's share, and the server's sleeps per 1,000 requests).

  --rounds N          rounds per workload (5)
  --requests N        requests per round (200000)
  --pipeline 1,16     redis-benchmark -P values (1,16)
  --workloads LIST    set-nx-px,get,del,pexpire,evalsha-cad,delifeq,ping-inline,mset,mget
                      (set-nx-px,get,del,pexpire)
  --no-pin            do not pin the servers to CPU 0 and the load to CPU 1
  --floor             also run two servers that only answer (floor, beside this binary: epoll
                      and io_uring) and show their CPU per request: the least any server costs
  --memory N          bytes per lock key with N keys loaded instead
  --expiry N          expiry lag of N keys with TTLs spread over 2 s instead
  --expiry-after MS   the shortest TTL of --expiry (1000)
  --storm R           GET p99 at -P 1, quiet and while R keys a second expire, instead
";

fn usage_error(msg: &str) -> ! {
    eprintln!("compare: {msg}\n\n{USAGE}");
    std::process::exit(2);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

struct Server {
    name: &'static str,
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pinned(pin: bool, cpu: &str, program: &Path) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start(name: &'static str, program: &Path, pin: bool) -> Server {
    let started = start_with(name, program, pin, |port, dir| {
        let port = port.to_string();
        let dir = dir.display().to_string();
        ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", &dir]
            .map(str::to_string)
            .to_vec()
    });
    started.unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `program` with the arguments `args` gives for its port and directory, and waits
/// until it accepts connections; says why not if it exits or does not listen within 10 s.
fn start_with(
    name: &'static str,
    program: &Path,
    pin: bool,
    args: impl Fn(u16, &Path) -> Vec<String>,
) -> Result<Server, String> {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let errors = dir.path().join("stderr");
    let child = pinned(pin, "0", program)
        .args(args(port, dir.path()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errors).map_err(|e| format!("{}: {e}", errors.display()))?)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    // Dropped (and killed) on the way out unless it starts.
    let mut server = Server { name, port, child, _dir: dir };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            let err = std::fs::read_to_string(&errors).unwrap_or_default();
            return Err(format!("{name} did not start ({status}): {}", err.trim()));
        }
        if Instant::now() > deadline {
            return Err(format!("{name} did not start within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// CPU time in ns used so far by every thread of a process.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

/// What the threads of a process have used so far: CPU ticks in user space and in the kernel
/// (`/proc/<pid>/task/*/stat`), and how many times they went to sleep (voluntary context
/// switches, `/proc/<pid>/task/*/status`).
#[derive(Clone, Copy, Default)]
struct Usage {
    user: u64,
    sys: u64,
    sleeps: u64,
}

fn usage(pid: u32) -> Usage {
    let mut u = Usage::default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return u };
    for t in tasks.filter_map(|t| t.ok()) {
        if let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) {
            // After the command name (in parentheses, which may hold anything): state is field
            // 3 of stat(5), utime 14 and stime 15.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
            if let [user, sys] = f[..] {
                u.user += user;
                u.sys += sys;
            }
        }
        if let Ok(status) = std::fs::read_to_string(t.path().join("status")) {
            let n = status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"));
            u.sleeps += n.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
        }
    }
    u
}

/// Runs commands on a fresh connection, pipelined, and waits for every reply.
fn pipeline(port: u16, cmds: impl Iterator<Item = Vec<Vec<u8>>>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut buf = Vec::new();
    let mut n = 0u64;
    for c in cmds {
        buf.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
        for a in c {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(&a);
            buf.extend_from_slice(b"\r\n");
        }
        n += 1;
    }
    s.write_all(&buf).expect("write");
    // Every reply here is one line (+OK / :n).
    let mut seen = 0u64;
    let mut tmp = vec![0u8; 1 << 16];
    while seen < n {
        let r = s.read(&mut tmp).expect("read");
        assert!(r > 0, "server closed during preload");
        seen += tmp[..r].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// Fills `lock:<000000000000..KEYSPACE>` the way redis-benchmark names its random keys.
fn preload(port: u16) {
    pipeline(port, std::iter::once(vec![b"FLUSHALL".to_vec()]));
    pipeline(
        port,
        (0..KEYSPACE).map(|i| {
            vec![
                b"SET".to_vec(),
                format!("lock:{i:012}").into_bytes(),
                b"01234567890123456789".to_vec(),
                b"PX".to_vec(),
                b"600000".to_vec(),
            ]
        }),
    );
}

struct Sample {
    rps: f64,
    p99_ms: f64,
    cpu_ns_per_req: f64,
    /// The kernel's share of the server's CPU time.
    sys_share: f64,
    /// Times the server's threads went to sleep, per 1,000 requests.
    sleeps_per_k: f64,
}

/// The command a workload sends, and whether it needs the lock keys loaded first.
fn workload_args(w: &str) -> (Vec<String>, bool) {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match w {
        "set-nx-px" => (v(&["SET", "lock:__rand_int__", "01234567890123456789", "NX", "PX", "30000"]), false),
        "get" => (v(&["GET", "lock:__rand_int__"]), true),
        "del" => (v(&["DEL", "lock:__rand_int__"]), true),
        "pexpire" => (v(&["PEXPIRE", "lock:__rand_int__", "30000"]), true),
        "evalsha-cad" => {
            let sha = tumbler_scripting::sha1_hex(CAD.as_bytes());
            let sha = String::from_utf8_lossy(&sha).into_owned();
            (vec!["EVALSHA".into(), sha, "1".into(), "lock:__rand_int__".into(), "01234567890123456789".into()], true)
        }
        // tumbler's native release; redis-server runs `evalsha-cad` in this row.
        "delifeq" => (v(&["DELIFEQ", "lock:__rand_int__", "01234567890123456789"]), true),
        "ping-inline" => (vec![], false),
        // Ten keys a request, as redis-benchmark's own MSET test (each `__rand_int__` is drawn
        // on its own).
        "mset" => {
            let mut a = v(&["MSET"]);
            for _ in 0..10 {
                a.extend(v(&["lock:__rand_int__", "01234567890123456789"]));
            }
            (a, false)
        }
        "mget" => {
            let mut a = v(&["MGET"]);
            a.extend((0..10).map(|_| "lock:__rand_int__".to_string()));
            (a, true)
        }
        other => usage_error(&format!("unknown workload {other}")),
    }
}

fn run(server: &Server, w: &str, pipeline: u32, o: &Opts) -> Sample {
    prepare(server, w);
    bench(server, w, pipeline, o.requests, o.pin)
}

/// Redis 7.0 has no DELIFEQ: its side of that row is the script clients use instead.
fn server_workload<'a>(server: &Server, w: &'a str) -> &'a str {
    if w == "delifeq" && server.name == "redis" {
        "evalsha-cad"
    } else {
        w
    }
}

/// Empties the server and loads what workload `w` needs (the lock keys, the script).
fn prepare(server: &Server, w: &str) {
    let w_server = server_workload(server, w);
    let (_, needs_keys) = workload_args(w_server);
    if needs_keys {
        preload(server.port);
    } else {
        pipeline_flush(server.port);
    }
    if w_server == "evalsha-cad" {
        self::pipeline(
            server.port,
            std::iter::once(vec![b"SCRIPT".to_vec(), b"LOAD".to_vec(), CAD.as_bytes().to_vec()]),
        );
    }
}

/// One redis-benchmark run of workload `w`, with the server's CPU time over it.
fn bench(server: &Server, w: &str, pipeline: u32, requests: u64, pin: bool) -> Sample {
    let (cmd, _) = workload_args(server_workload(server, w));
    let (before, usage_before) = (cpu_ns(server.child.id()), usage(server.child.id()));
    let mut c = pinned(pin, "1", Path::new("redis-benchmark"));
    c.args(["-p", &server.port.to_string(), "-c", CLIENTS, "-n", &requests.to_string(), "-P", &pipeline.to_string()]);
    c.args(["-r", &KEYSPACE.to_string(), "--csv", "-q"]);
    if w == "ping-inline" {
        c.args(["-t", "ping_inline"]);
    } else {
        c.args(&cmd);
    }
    let out = c.output().expect("redis-benchmark is installed");
    let used = cpu_ns(server.child.id()) - before;
    let u = usage(server.child.id());
    // Saturating: a thread that ended during the run takes its counts with it.
    let (user, sys) = (u.user.saturating_sub(usage_before.user), u.sys.saturating_sub(usage_before.sys));
    let sleeps = u.sleeps.saturating_sub(usage_before.sleeps);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{} {w}: {text}{}", server.name, String::from_utf8_lossy(&out.stderr));
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let row = text.lines().rfind(|l| !l.starts_with("\"test\"")).unwrap_or_default().to_string();
    let f: Vec<f64> = row.split(',').skip(1).map(|v| v.trim_matches('"').parse().unwrap_or(f64::NAN)).collect();
    Sample {
        rps: f[0],
        p99_ms: f[5],
        cpu_ns_per_req: used as f64 / requests as f64,
        sys_share: sys as f64 / (user + sys).max(1) as f64,
        sleeps_per_k: sleeps as f64 * 1000.0 / requests as f64,
    }
}

fn pipeline_flush(port: u16) {
    pipeline(port, std::iter::once(vec![b"FLUSHALL".to_vec()]));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The binary `name` of package `package` beside this one, built if it is not there.
fn sibling(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().expect("target dir");
    let bin = dir.join(name);
    if !bin.exists() {
        let st = Command::new(env!("CARGO")).args(["build", "--release", "-p", package]).status().expect("cargo");
        assert!(st.success());
    }
    bin
}

/// The floor servers of `--floor`, one per way of doing I/O; one that cannot run here (no
/// io_uring) is left out, saying why.
fn floors(pin: bool) -> Vec<Server> {
    let bin = sibling("floor", "tumbler-benches");
    let mut floors = Vec::new();
    for (name, io) in [("epoll", "epoll"), ("uring", "uring")] {
        let args = |port: u16, _: &Path| ["--port", &port.to_string(), "--io", io].map(str::to_string).to_vec();
        match start_with(name, &bin, pin, args) {
            Ok(server) => floors.push(server),
            Err(e) => eprintln!("compare: no {name} floor: {e}"),
        }
    }
    floors
}

/// A field of INFO `section` of the server on `port`, if it has one.
fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(format!("INFO {section}\r\n").as_bytes()).expect("write");
    // A bulk string: "$<len>\r\n<text>\r\n".
    let mut text = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        let n = s.read(&mut tmp).expect("read");
        assert!(n > 0, "closed");
        text.extend_from_slice(&tmp[..n]);
        let Some(eol) = text.iter().position(|&b| b == b'\n') else { continue };
        let len: usize = std::str::from_utf8(&text[1..eol - 1]).ok().and_then(|l| l.parse().ok()).expect("bulk");
        if text.len() >= eol + 1 + len + 2 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&text);
    let prefix = format!("{field}:");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(|v| v.trim().to_string())
}

/// INFO memory's `used_memory` of the server on `port`.
fn used_memory(port: u16) -> u64 {
    info_field(port, "memory", "used_memory").and_then(|v| v.parse().ok()).expect("used_memory")
}

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Memory per lock key: load `n` keys into each server, in batches.
fn memory(o: &Opts, redis: &Server, tumbler: &Server) {
    println!("memory per lock key: {} keys `lock:<n>`, 20-byte token, PX 600000", o.memory);
    println!("{:<8} | {:>12} {:>12}", "server", "used_memory/key", "rss/key");
    let mut per = Vec::new();
    for s in [redis, tumbler] {
        pipeline(s.port, std::iter::once(vec![b"FLUSHALL".to_vec()]));
        let (u0, r0) = (used_memory(s.port), rss(s.child.id()));
        let batch = 100_000;
        let mut i = 0;
        while i < o.memory {
            let end = (i + batch).min(o.memory);
            pipeline(
                s.port,
                (i..end).map(|k| {
                    vec![
                        b"SET".to_vec(),
                        format!("lock:{k}").into_bytes(),
                        b"01234567890123456789".to_vec(),
                        b"NX".to_vec(),
                        b"PX".to_vec(),
                        b"600000".to_vec(),
                    ]
                }),
            );
            i = end;
        }
        std::thread::sleep(Duration::from_millis(500));
        let (u1, r1) = (used_memory(s.port), rss(s.child.id()));
        let u = u1.saturating_sub(u0) as f64 / o.memory as f64;
        let r = r1.saturating_sub(r0) as f64 / o.memory as f64;
        println!("{:<8} | {:>15.1} {:>12.1}", s.name, u, r);
        per.push((u, r));
    }
    println!("{:<8} | {:>15.2} {:>12.2}", "ratio", per[1].0 / per[0].0, per[1].1 / per[0].1);
}

/// Expiry lag: keys with TTLs spread over 2 s; each `expired` event's delay past the deadline.
fn expiry(o: &Opts, redis: &Server, tumbler: &Server) {
    let n = o.expiry;
    println!(
        "expiry lag: {n} keys, TTLs spread over {:.1}-{:.1} s, lag of each `expired` event after its deadline (ms)",
        o.expiry_after as f64 / 1000.0,
        (o.expiry_after + 2000) as f64 / 1000.0
    );
    println!(
        "{:<8} | {:>9} {:>8} {:>8} {:>8} {:>10} {:>8}",
        "server", "expired", "p50", "p99", "max", "rss after", "load s"
    );
    for s in [redis, tumbler] {
        pipeline(s.port, std::iter::once(vec![b"FLUSHALL".to_vec()]));
        pipeline(
            s.port,
            std::iter::once(vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                b"notify-keyspace-events".to_vec(),
                b"Ex".to_vec(),
            ]),
        );
        let mut sub = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
        sub.write_all(b"SUBSCRIBE __keyevent@0__:expired\r\n").expect("subscribe");
        let mut tmp = vec![0u8; 1 << 16];
        let _ = sub.read(&mut tmp);
        let after = o.expiry_after;
        let ttl = move |i: u64| after + i * 2000 / n;
        let start = Instant::now();
        // The subscriber reads on its own thread from the start, noting when each event
        // arrives: the keys that expire while later ones are still being loaded are heard
        // when they are published, not when loading ends.
        let listener = std::thread::spawn(move || {
            let mut arrivals = Vec::with_capacity(n as usize);
            let mut buf: Vec<u8> = Vec::new();
            let _ = sub.set_read_timeout(Some(Duration::from_secs(1)));
            let give_up = Instant::now() + Duration::from_secs(90);
            while (arrivals.len() as u64) < n && Instant::now() < give_up {
                let Ok(r) = sub.read(&mut tmp) else { continue };
                if r == 0 {
                    break;
                }
                let now = start.elapsed();
                buf.extend_from_slice(&tmp[..r]);
                // Messages end with the key: "$<len>\r\nexp:<i>\r\n".
                let mut consumed = 0;
                while let Some(p) = buf[consumed..].windows(4).position(|w| w == b"exp:") {
                    let from = consumed + p + 4;
                    let Some(e) = buf[from..].iter().position(|&b| b == b'\r') else { break };
                    if let Some(i) = std::str::from_utf8(&buf[from..from + e]).ok().and_then(|t| t.parse::<u64>().ok())
                    {
                        arrivals.push((i, now));
                    }
                    consumed = from + e;
                }
                buf.drain(..consumed);
            }
            arrivals
        });
        // In batches of 1,000, noting when each batch was acknowledged: a key's deadline is at
        // most its batch's acknowledgement plus its TTL, and the lag is measured from there (never
        // overstated; understated by at most one batch's time, a millisecond or two).
        const BATCH: u64 = 1000;
        let mut acked = Vec::new();
        let mut i = 0;
        while i < n {
            let end = (i + BATCH).min(n);
            pipeline(
                s.port,
                (i..end).map(|k| {
                    vec![
                        b"SET".to_vec(),
                        format!("exp:{k}").into_bytes(),
                        b"01234567890123456789".to_vec(),
                        b"PX".to_vec(),
                        ttl(k).to_string().into_bytes(),
                    ]
                }),
            );
            acked.push(start.elapsed());
            i = end;
        }
        let loaded = start.elapsed();
        let mut lags: Vec<f64> = listener
            .join()
            .expect("subscriber thread")
            .into_iter()
            .map(|(i, at)| {
                let deadline = acked[(i / BATCH) as usize] + Duration::from_millis(ttl(i));
                at.saturating_sub(deadline).as_secs_f64() * 1000.0
            })
            .collect();
        lags.sort_by(|a, b| a.total_cmp(b));
        let pct = |q: f64| lags.get(((lags.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(f64::NAN);
        println!(
            "{:<8} | {:>9} {:>8.1} {:>8.1} {:>8.1} {:>9}M {:>8.2}",
            s.name,
            lags.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0),
            rss(s.child.id()) >> 20,
            loaded.as_secs_f64()
        );
        // tumbler also reports, in INFO, the lag between each deadline and the key's removal
        // (what the events above add to it is publishing and delivery).
        if let Some(p99) = info_field(s.port, "stats", "expiry_lag_p99_ms") {
            let f = |name: &str| info_field(s.port, "stats", name).unwrap_or_default();
            println!(
                "{:<8} | removal lag in INFO: p50 {} ms, p99 {p99} ms, max {} ms; {} keys reclaimed by workers",
                s.name,
                f("expiry_lag_p50_ms"),
                f("expiry_lag_max_ms"),
                f("expired_by_workers")
            );
        }
    }
}

/// Request latency during an expiry storm: GET at -P 1 over the lock keys on a quiet server,
/// then while `--storm` keys a second expire around it (2.5 s worth, loaded beforehand with
/// TTLs spread so that the storm covers the measured run); medians of rounds.
fn storm(o: &Opts, redis: &Server, tumbler: &Server) {
    let rate = o.storm;
    let n = rate * 5 / 2;
    let requests = o.requests.min(100_000);
    println!(
        "GET -P 1, {CLIENTS} clients, {requests} requests: quiet, and while {rate} keys/s expire ({} rounds, medians)",
        o.rounds
    );
    println!(
        "{:<8} | {:>9} {:>9} | {:>9} {:>9} | {:>14}",
        "server", "quiet rps", "quiet p99", "storm rps", "storm p99", "expired during"
    );
    for s in [redis, tumbler] {
        let (mut quiet, mut stormy, mut expired) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..o.rounds {
            prepare(s, "get");
            quiet.push(bench(s, "get", 1, requests, o.pin));
            prepare(s, "get");
            // TTLs from 1 s to 3.5 s after loading starts; the measured run starts at 1 s.
            let start = Instant::now();
            let mut i = 0;
            while i < n {
                let end = (i + 1000).min(n);
                pipeline(
                    s.port,
                    (i..end).map(|k| {
                        let left = (1000 + k * 2500 / n).saturating_sub(start.elapsed().as_millis() as u64);
                        vec![
                            b"SET".to_vec(),
                            format!("storm:{k}").into_bytes(),
                            b"x".to_vec(),
                            b"PX".to_vec(),
                            left.max(1).to_string().into_bytes(),
                        ]
                    }),
                );
                i = end;
            }
            std::thread::sleep(Duration::from_millis(1000).saturating_sub(start.elapsed()));
            let count = || info_field(s.port, "stats", "expired_keys").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let before = count();
            stormy.push(bench(s, "get", 1, requests, o.pin));
            expired.push((count() - before) as f64);
        }
        let m = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
        println!(
            "{:<8} | {:>9.0} {:>9.3} | {:>9.0} {:>9.3} | {:>14.0}",
            s.name,
            m(&quiet, |x| x.rps),
            m(&quiet, |x| x.p99_ms),
            m(&stormy, |x| x.rps),
            m(&stormy, |x| x.p99_ms),
            median(expired)
        );
    }
}

fn main() {
    let o = parse_opts();
    if o.pin {
        // This process loads keys and listens for events in the memory, expiry and storm
        // comparisons: it is a load generator too, and stays off the servers' core.
        let pinned = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
        assert!(pinned.is_ok_and(|s| s.success()), "taskset could not pin this process to CPU 1");
    }
    let redis = start("redis", Path::new("redis-server"), o.pin);
    let tumbler = start("tumbler", &sibling("tumbler-server", "tumbler-server"), o.pin);
    if o.memory > 0 {
        memory(&o, &redis, &tumbler);
        return;
    }
    if o.expiry > 0 {
        expiry(&o, &redis, &tumbler);
        return;
    }
    if o.storm > 0 {
        storm(&o, &redis, &tumbler);
        return;
    }
    // tumbler's worker count follows the cores it may use: say how many this run had.
    let workers = info_field(tumbler.port, "server", "tumbler_worker_threads").unwrap_or_else(|| "?".into());
    println!(
        "tumbler vs redis-server 7.0.15: {} clients, {} requests per run, {} rounds (medians), keys over {}k, {}, tumbler workers: {}",
        CLIENTS,
        o.requests,
        o.rounds,
        KEYSPACE / 1000,
        if o.pin { "servers pinned to CPU 0, redis-benchmark to CPU 1" } else { "unpinned" },
        workers
    );
    println!(
        "{:<12} {:>3} | {:>10} {:>10} {:>6} | {:>8} {:>8} {:>6} | {:>9} {:>9} {:>6}",
        "workload",
        "P",
        "redis rps",
        "tumb rps",
        "ratio",
        "redis p99",
        "tumb p99",
        "ratio",
        "redis ns",
        "tumb ns",
        "ratio"
    );
    let floors = if o.floor { floors(o.pin) } else { Vec::new() };
    let servers: Vec<&Server> = [&redis, &tumbler].into_iter().chain(&floors).collect();
    let (mut breakdown, mut floor_rows) = (Vec::new(), Vec::new());
    for w in &o.workloads {
        for &p in &o.pipelines {
            let mut samples: Vec<Vec<Sample>> = servers.iter().map(|_| Vec::new()).collect();
            for round in 0..o.rounds {
                // Each round starts with the next server, so that drift affects all alike.
                for i in (0..servers.len()).map(|i| (i + round) % servers.len()) {
                    samples[i].push(run(servers[i], w, p, &o));
                }
            }
            let m = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
            let (r, t) = (&samples[0], &samples[1]);
            if o.floor {
                let (rc, tc) = (m(r, |s| s.cpu_ns_per_req), m(t, |s| s.cpu_ns_per_req));
                let mut row = format!("{:<12} {:>3} | {:>9.0} {:>9.0} {:>6.2}", w, p, rc, tc, tc / rc);
                for f in &samples[2..] {
                    let fc = m(f, |s| s.cpu_ns_per_req);
                    row += &format!(" | {:>9.0} {:>6.2}", fc, fc / rc);
                }
                floor_rows.push(row);
            }
            let (rr, tr) = (m(r, |s| s.rps), m(t, |s| s.rps));
            let (rp, tp) = (m(r, |s| s.p99_ms), m(t, |s| s.p99_ms));
            let (rc, tc) = (m(r, |s| s.cpu_ns_per_req), m(t, |s| s.cpu_ns_per_req));
            breakdown.push(format!(
                "{:<12} {:>3} | {:>8.0}% {:>8.0}% | {:>12.2} {:>12.2}",
                w,
                p,
                100.0 * m(r, |s| s.sys_share),
                100.0 * m(t, |s| s.sys_share),
                m(r, |s| s.sleeps_per_k),
                m(t, |s| s.sleeps_per_k)
            ));
            println!(
                "{:<12} {:>3} | {:>10.0} {:>10.0} {:>6.2} | {:>8.3} {:>8.3} {:>6.2} | {:>9.0} {:>9.0} {:>6.2}",
                w,
                p,
                rr,
                tr,
                tr / rr,
                rp,
                tp,
                tp / rp,
                rc,
                tc,
                tc / rc
            );
        }
    }
    println!();
    println!("where the CPU time goes (medians): the kernel's share, and sleeps per 1,000 requests");
    println!(
        "{:<12} {:>3} | {:>9} {:>9} | {:>12} {:>12}",
        "workload", "P", "redis sys", "tumb sys", "redis sleeps", "tumb sleeps"
    );
    for line in breakdown {
        println!("{line}");
    }
    if o.floor {
        println!();
        let names: Vec<String> = floors.iter().map(|f| format!("--io {}", f.name)).collect();
        println!(
            "the floor: CPU per request of servers that only answer (floor {}), medians; ratios to redis",
            names.join(", ")
        );
        let mut header = format!("{:<12} {:>3} | {:>9} {:>9} {:>6}", "workload", "P", "redis ns", "tumb ns", "ratio");
        for f in &floors {
            header += &format!(" | {:>9} {:>6}", format!("{} ns", f.name), "ratio");
        }
        println!("{header}");
        for line in floor_rows {
            println!("{line}");
        }
    }
}
