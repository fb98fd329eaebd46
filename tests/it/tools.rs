//! redis-cli and redis-benchmark, unmodified, against tumbler.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tumbler_tests::resp::RawConn;
use tumbler_tests::Tumbler;

fn cli(t: &Tumbler, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(t.addr().port().to_string())
        .args(args)
        .output()
        .expect("redis-cli is installed");
    assert!(out.status.success(), "redis-cli {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn one_shot_commands() {
    let t = Tumbler::start(&[]);
    assert_eq!(cli(&t, &["SET", "lock:1", "tok", "NX", "PX", "30000"]), "OK\n");
    assert_eq!(cli(&t, &["SET", "lock:1", "other", "NX", "PX", "30000"]), "\n", "refusal is nil");
    assert_eq!(cli(&t, &["GET", "lock:1"]), "tok\n");
    let ttl: i64 = cli(&t, &["PTTL", "lock:1"]).trim().parse().unwrap();
    assert!((29_000..=30_000).contains(&ttl), "{ttl}");
    assert_eq!(cli(&t, &["DEL", "lock:1"]), "1\n");
    assert_eq!(cli(&t, &["NOSUCH"]), "ERR unknown command 'NOSUCH', with args beginning with: \n\n");
    // -n selects a database, as clients configured with a db do.
    assert_eq!(cli(&t, &["-n", "3", "SET", "k", "v"]), "OK\n");
    assert_eq!(cli(&t, &["-n", "3", "DBSIZE"]), "1\n");
    assert_eq!(cli(&t, &["DBSIZE"]), "0\n");
}

#[test]
fn piped_commands_keep_order() {
    let t = Tumbler::start(&[]);
    let mut child = Command::new("redis-cli")
        .args(["-p", &t.addr().port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&format!("SET k{i} {i}\nINCR k{i}\n"));
    }
    input.push_str("GET k199\n");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 401);
    for i in 0..200 {
        assert_eq!(lines[2 * i], "OK");
        assert_eq!(lines[2 * i + 1], (i + 1).to_string());
    }
    assert_eq!(lines[400], "200");
}

#[test]
fn resp3_mode() {
    let t = Tumbler::start(&[]);
    assert_eq!(cli(&t, &["-3", "GET", "missing"]), "\n");
    let hello = cli(&t, &["-3", "HELLO", "3"]);
    assert!(hello.contains("proto\n3\n") || hello.contains("proto 3"), "{hello}");
    // redis-cli renders a RESP3 map of booleans as such.
    assert_eq!(cli(&t, &["-3", "DEBUG", "PROTOCOL", "map"]), "0 (false)\n1 (true)\n2 (false)\n");
}

#[test]
fn scan_mode_lists_every_matching_key() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for i in 0..1500 {
        c.cmd_str(&["SET", &format!("lock:{i}"), "t"]);
    }
    for i in 0..300 {
        c.cmd_str(&["SET", &format!("other:{i}"), "t"]);
    }
    let out = cli(&t, &["--scan", "--pattern", "lock:*"]);
    let mut keys: Vec<&str> = out.lines().collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 1500);
    assert!(keys.iter().all(|k| k.starts_with("lock:")));
    let all = cli(&t, &["--scan"]);
    let mut all: Vec<&str> = all.lines().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 1800);
}

#[test]
fn latency_mode_reports_samples() {
    let t = Tumbler::start(&[]);
    // Without a terminal, --latency samples for about a second, prints one line and exits.
    let out = cli(&t, &["--latency"]);
    let fields: Vec<f64> = out.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields.len(), 4, "min max avg samples: {out}");
    assert!(fields[3] >= 10.0, "samples: {out}");
}

#[test]
fn stat_mode_reads_info() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for i in 0..42 {
        c.cmd_str(&["SET", &format!("k{i}"), "v"]);
    }
    let mut child = Command::new("stdbuf")
        .args(["-oL", "redis-cli", "-p", &t.addr().port().to_string(), "--stat", "-i", "0.05"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("stdbuf and redis-cli");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut rows = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows.len() < 3 && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) if l.trim_start().starts_with(|c: char| c.is_ascii_digit()) => rows.push(l),
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(cols[0], "42", "keys column: {r}");
        assert_eq!(cols[2], "2", "clients column (this test's connection and redis-cli): {r}");
    }
}

#[test]
fn interactive_session_in_a_terminal() {
    if !tumbler_tests::have("tmux") {
        panic!("tmux is required for the interactive redis-cli test (apt-get install tmux)");
    }
    let t = Tumbler::start(&[]);
    let sock = format!("tumbler-test-{}-{}", std::process::id(), t.addr().port());
    let tmux = |args: &[&str]| Command::new("tmux").arg("-L").arg(&sock).args(args).output().unwrap();
    let start = tmux(&["new-session", "-d", "-x", "200", "-y", "50", "redis-cli", "-p", &t.addr().port().to_string()]);
    assert!(start.status.success(), "{}", String::from_utf8_lossy(&start.stderr));
    struct Kill<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            (self.0)(&["kill-server"]);
        }
    }
    let _guard = Kill(&tmux);
    let screen = |want: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
            if s.contains(want) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let prompt = format!("127.0.0.1:{}>", t.addr().port());
    assert!(screen(&prompt).contains(&prompt));
    tmux(&["send-keys", "SET greeting \"hello world\"", "Enter"]);
    assert!(screen("OK").contains("OK"));
    tmux(&["send-keys", "GET greeting", "Enter"]);
    assert!(screen("\"hello world\"").contains("\"hello world\""));
    tmux(&["send-keys", "SELECT 2", "Enter"]);
    let s = screen(&format!("127.0.0.1:{}[2]>", t.addr().port()));
    assert!(s.contains(&format!("127.0.0.1:{}[2]>", t.addr().port())), "{s}");
    tmux(&["send-keys", "INCRBY counter 41", "Enter"]);
    assert!(screen("(integer) 41").contains("(integer) 41"));
    tmux(&["send-keys", "NOSUCH", "Enter"]);
    assert!(screen("(error) ERR unknown command").contains("(error) ERR unknown command 'NOSUCH'"));
}

fn benchmark(t: &Tumbler, args: &[&str]) -> String {
    let out = Command::new("redis-benchmark")
        .args(["-p", &t.addr().port().to_string()])
        .args(args)
        .output()
        .expect("redis-benchmark is installed (redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redis-benchmark {args:?} failed: {text}");
    // redis-benchmark 7.0 exits on the first error reply; it also warns when it cannot read
    // the server's CONFIG.
    assert!(!text.contains("Error from server"), "redis-benchmark saw errors: {text}");
    assert!(!text.contains("WARNING"), "redis-benchmark warned: {text}");
    text
}

#[test]
fn benchmark_default_suite() {
    let t = Tumbler::start(&[]);
    let out = benchmark(&t, &["-q", "-n", "10000"]);
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LPUSH (needed to benchmark LRANGE)",
        "LRANGE_100 (first 100 elements)",
        "LRANGE_300 (first 300 elements)",
        "LRANGE_500 (first 500 elements)",
        "LRANGE_600 (first 600 elements)",
        "MSET (10 keys)",
    ] {
        assert!(out.contains(&format!("{test}: ")), "missing {test} in:\n{out}");
    }
}

#[test]
fn benchmark_set_get_pipelined() {
    let t = Tumbler::start(&[]);
    let out = benchmark(&t, &["-q", "-n", "20000", "-t", "set,get", "-P", "16"]);
    assert_eq!(out.matches("requests per second").count(), 2, "{out}");
}

#[test]
fn benchmark_lock_acquisitions() {
    let t = Tumbler::start(&[]);
    let out =
        benchmark(&t, &["-q", "-n", "20000", "-r", "100000", "SET", "lock:__rand_int__", "tok", "NX", "PX", "30000"]);
    assert!(out.contains("requests per second"), "{out}");
    // Every distinct lock taken is there with its TTL: keys <= requests, all with an expiry.
    let mut c = RawConn::connect(t.addr()).unwrap();
    let info = String::from_utf8_lossy(&c.cmd_str(&["INFO", "keyspace"])).into_owned();
    let line = info.lines().find(|l| l.starts_with("db0:")).expect("db0 line");
    let keys: u64 = line.split(&['=', ','][..]).nth(1).unwrap().parse().unwrap();
    let expires: u64 = line.split(&['=', ','][..]).nth(3).unwrap().parse().unwrap();
    assert!(keys > 10_000 && keys <= 20_000, "{line}");
    assert_eq!(keys, expires, "{line}");
}
