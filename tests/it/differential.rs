//! Differential tests: every case of `tests/corpus/*.redis` runs against a real redis-server
//! 7.0.15 and against tumbler, in RESP2 and RESP3, and the replies must match byte for byte
//! (under the masks a case declares for nondeterministic fields).
//!
//! Cases that cannot pass yet are listed in `tests/corpus/PENDING` with the issue that will
//! make them pass; a listed case that starts passing fails the run, so the list only shrinks.
//! Cases where tumbler differs on purpose are listed in `tests/corpus/DIFFERENT` (and explained
//! in the README); they must keep differing, so the list stays true.

use std::path::PathBuf;
use tumbler_tests::corpus::{diff_case, listed, load};
use tumbler_tests::resp::{encode, parse, RawConn, Value};
use tumbler_tests::{RedisServer, Tumbler};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn run_file(file: &str) {
    // The same `io-threads` on both sides (tumbler's test servers run two workers): CONFIG GET
    // reports it. redis-server turns its I/O thread on only under many clients.
    let redis = RedisServer::start(&["--io-threads", "2"]);
    let tumbler = Tumbler::start(&[]);
    let cases = load(&corpus_dir().join(file));
    assert!(!cases.is_empty(), "{file} has no cases");
    let pending = listed(&corpus_dir(), "PENDING");
    let different = listed(&corpus_dir(), "DIFFERENT");
    let mut failures = Vec::new();
    let mut now_passing = Vec::new();
    let (mut skipped, mut differ) = (0, 0);
    for case in &cases {
        let diffs = diff_case(redis.addr(), tumbler.addr(), case);
        let key = (file.to_string(), case.name.clone());
        let expected_diff = pending.contains(&key) || different.contains(&key);
        match (diffs.is_empty(), expected_diff) {
            (true, true) => now_passing.push(case.name.clone()),
            (false, true) if different.contains(&key) => differ += 1,
            (false, true) => skipped += 1,
            (false, false) => failures.extend(diffs),
            (true, false) => {}
        }
    }
    eprintln!("{file}: {} cases, {} pending, {} different on purpose", cases.len(), skipped, differ);
    let mut msg = String::new();
    for d in &failures {
        msg.push_str(&format!("{file}: {d}\n"));
    }
    for n in &now_passing {
        msg.push_str(&format!(
            "{file}: case '{n}' matches redis now: remove it from tests/corpus/PENDING or DIFFERENT\n"
        ));
    }
    assert!(failures.is_empty() && now_passing.is_empty(), "\n{msg}");
}

#[test]
fn strings() {
    run_file("strings.redis");
}

#[test]
fn keys() {
    run_file("keys.redis");
}

#[test]
fn connection() {
    run_file("connection.redis");
}

#[test]
fn server() {
    run_file("server.redis");
}

#[test]
fn protocol() {
    run_file("protocol.redis");
}

#[test]
fn hashes() {
    run_file("hashes.redis");
}

#[test]
fn sets() {
    run_file("sets.redis");
}

#[test]
fn lists() {
    run_file("lists.redis");
}

#[test]
fn zsets() {
    run_file("zsets.redis");
}

#[test]
fn scripting() {
    run_file("scripting.redis");
}

#[test]
fn lockscripts() {
    run_file("lockscripts.redis");
}

#[test]
fn pubsub() {
    run_file("pubsub.redis");
}

#[test]
fn transactions() {
    run_file("transactions.redis");
}

#[test]
fn acl() {
    run_file("acl.redis");
}

#[test]
fn monitor() {
    run_file("monitor.redis");
}

#[test]
fn notifications() {
    run_file("notifications.redis");
}

/// Pipelined batches of lock-path commands, which tumbler reads ahead to prefetch their keys,
/// get the same replies from both servers, byte for byte: random batches of 1 to 40 commands
/// over 24 keys in two databases, each sent in one write, with scripts, database switches,
/// commands whose first argument is not a key, inline commands that end the read-ahead, and
/// SWAPDB and FLUSHDB, which move or replace the tables whose location the prefetch records.
#[test]
fn pipelined_batches_match_redis() {
    let redis = RedisServer::start(&[]);
    let tumbler = Tumbler::start(&[]);
    let mut conns = [RawConn::connect(redis.addr()).unwrap(), RawConn::connect(tumbler.addr()).unwrap()];
    let cad = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    let shas: Vec<Vec<u8>> = conns.iter_mut().map(|c| c.cmd_str(&["SCRIPT", "LOAD", cad])).collect();
    assert_eq!(shas[0], shas[1]);
    let sha = String::from_utf8_lossy(&shas[0][5..45]).into_owned();
    let mut next = tumbler_tests::xorshift(0x2545_f491_4f6c_dd1d);
    for round in 0..400 {
        let count = 1 + next(40);
        let mut batch = Vec::new();
        let mut shown = Vec::new();
        for _ in 0..count {
            let key = format!("lock:{}", next(24));
            let other = format!("lock:{}", next(24));
            let token = format!("token-{}", next(3));
            let cmd: Vec<&str> = match next(17) {
                0 | 1 => vec!["SET", &key, &token, "NX", "PX", "100000"],
                2 => vec!["SET", &key, &token, "PX", "100000"],
                3 | 4 => vec!["GET", &key],
                5 => vec!["DEL", &key],
                6 => vec!["DEL", &key, &other],
                7 => vec!["PEXPIRE", &key, "100000"],
                8 | 9 => vec!["EVALSHA", &sha, "1", &key, &token],
                10 => vec!["eval", cad, "1", &key, &token],
                11 => vec!["SELECT", if next(2) == 0 { "0" } else { "1" }],
                12 => vec!["MGET", &key, &other],
                13 => vec!["INCR", &key],
                14 => vec!["ECHO", &key],
                15 => vec!["PING"],
                _ if next(8) == 0 => vec!["FLUSHDB"],
                _ => vec!["SWAPDB", "0", "1"],
            };
            if cmd == ["PING"] && next(2) == 0 {
                batch.extend_from_slice(b"PING\r\n");
            } else {
                let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
                batch.extend_from_slice(&encode(&args));
            }
            shown.push(cmd.join(" "));
        }
        let replies: Vec<Vec<Vec<u8>>> = conns
            .iter_mut()
            .map(|c| {
                c.send(&batch).expect("send");
                (0..count).map(|_| c.read_reply().expect("reply")).collect()
            })
            .collect();
        for (i, (r, t)) in replies[0].iter().zip(&replies[1]).enumerate() {
            assert_eq!(
                String::from_utf8_lossy(r),
                String::from_utf8_lossy(t),
                "round {round}, command {i} ({}) of the batch {shown:?}",
                shown[i]
            );
        }
    }
}

/// Clients of a script that turned busy get the same replies from both servers while it runs:
/// the message it published (or the end of the connection, past the output limit), -BUSY (after the subscribed-context check, and marking an open
/// transaction to fail), the end of a request begun before the script, QUIT, SCRIPT KILL; then
/// the killed script's error and EXECABORT. That holds for clients connected before the
/// script, while it ran, and once it was busy. With one worker tumbler answers the first two
/// kinds from the script's hook; with two, from the hook and from the other worker, as
/// connections are dealt in turn.
#[test]
fn clients_of_a_busy_script_match_redis() {
    let redis = RedisServer::start(&["--busy-reply-threshold", "50"]);
    let expected = busy_script_scenario(redis.addr());
    for workers in ["1", "2"] {
        let tumbler = Tumbler::start(&[("io-threads", workers), ("busy-reply-threshold", "50")]);
        let got = busy_script_scenario(tumbler.addr());
        for (e, g) in expected.iter().zip(&got) {
            assert_eq!(e, g, "io-threads {workers}");
        }
        assert_eq!(expected.len(), got.len());
    }
}

/// What each client sees, in order, as (client and command, reply).
fn busy_script_scenario(addr: std::net::SocketAddr) -> Vec<(&'static str, String)> {
    let connect = || RawConn::connect(addr).unwrap();
    let mut runner = connect();
    let (mut plain, mut resp3, mut multi, mut partial, mut subscriber, mut quitter) =
        (connect(), connect(), connect(), connect(), connect(), connect());
    let (mut flood, mut garbage, mut victim) = (connect(), connect(), connect());
    let mut log = Vec::new();
    let mut note = |what: &'static str, reply: Vec<u8>| log.push((what, String::from_utf8_lossy(&reply).into_owned()));
    // Its reply names the server and the client id: set up only, not compared.
    assert_eq!(resp3.cmd_str(&["HELLO", "3"])[0], b'%');
    note("multi: MULTI", multi.cmd_str(&["MULTI"]));
    note("subscriber: SUBSCRIBE", subscriber.cmd_str(&["SUBSCRIBE", "ch"]));
    // The script's message to `victim` passes the pub/sub output limit: it is disconnected.
    note("plain: CONFIG SET", plain.cmd_str(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1024 0 0"]));
    note("victim: SUBSCRIBE", victim.cmd_str(&["SUBSCRIBE", "big"]));
    partial.send(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap();
    let script = b"redis.call('publish', 'big', string.rep('x', 40000)) redis.call('publish', 'ch', 'started') while true do end";
    runner.send(&encode(&[b"EVAL", script, b"0"])).unwrap();
    // Most likely while the script runs, before it turns busy (50 ms).
    let mut queued = connect();
    // The script's message gets out once it is busy.
    note("subscriber: message", subscriber.read_reply().unwrap());
    note("victim: closed", vec![u8::from(victim.is_closed(std::time::Duration::from_secs(5)))]);
    let mut late = connect();
    note("plain: GET", plain.cmd_str(&["GET", "k"]));
    note("queued: GET", queued.cmd_str(&["GET", "k"]));
    note("late: GET", late.cmd_str(&["GET", "k"]));
    note("resp3: GET", resp3.cmd_str(&["GET", "k"]));
    note("multi: SET", multi.cmd_str(&["SET", "k", "v"]));
    partial.send(b"x\r\n").unwrap();
    note("partial: (the rest of) GET x", partial.read_reply().unwrap());
    note("subscriber: PING", subscriber.cmd_str(&["PING"]));
    note("subscriber: GET", subscriber.cmd_str(&["GET", "k"]));
    // More replies than the hook writes at once (64 KB): every request still gets -BUSY.
    let gets = 3000;
    flood.send(&encode(&[b"GET", b"k"]).repeat(gets)).unwrap();
    let mut seen: Vec<(Vec<u8>, usize)> = Vec::new();
    for _ in 0..gets {
        let r = flood.read_reply().unwrap();
        match seen.iter_mut().find(|(s, _)| *s == r) {
            Some((_, n)) => *n += 1,
            None => seen.push((r, 1)),
        }
    }
    let summary = seen.iter().map(|(r, n)| format!("{n} x {}", String::from_utf8_lossy(r))).collect::<String>();
    note("flood: 3000 pipelined GETs", summary.into_bytes());
    note("garbage: a bad bulk length", garbage.raw(b"*1\r\n$x\r\n", std::time::Duration::from_secs(5)));
    note("quitter: QUIT", quitter.cmd_str(&["QUIT"]));
    note("quitter: closed", vec![u8::from(quitter.is_closed(std::time::Duration::from_secs(5)))]);
    note("queued: SCRIPT KILL", queued.cmd_str(&["SCRIPT", "KILL"]));
    note("runner: EVAL", runner.read_reply().unwrap());
    note("multi: EXEC", multi.cmd_str(&["EXEC"]));
    note("resp3: GET after", resp3.cmd_str(&["GET", "k"]));
    note("partial: GET after", partial.cmd_str(&["GET", "x"]));
    note("subscriber: UNSUBSCRIBE", subscriber.cmd_str(&["UNSUBSCRIBE"]));
    note("late: GET after", late.cmd_str(&["GET", "k"]));
    log
}

/// INFO commandstats' time is each command's own, as Redis counts it: a rejected command gets
/// none (not a share of its batch's), a queued one none until EXEC runs it, and EXEC's includes
/// the commands it ran. Times differ from run to run, so calls and rejections are compared
/// exactly and times by size: the 100 ms DEBUG SLEEPs (and the EXEC around one) on both sides,
/// everything else far below.
///
/// With latency tracking, the slowlog and the latency monitor all off, tumbler reads the clock
/// per batch, not per command, and shares the batch's time among the commands that ran (a
/// deliberate difference): a rejected one still gets none.
#[test]
fn commandstats_count_each_commands_own_time_as_redis() {
    let redis = RedisServer::start(&[]);
    let tumbler = Tumbler::start(&[]);
    // A GET with no key (rejected), then a slow command in the same batch; a transaction
    // around another.
    let pipeline: &[u8] = b"*1\r\n$3\r\nGET\r\n*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.1\r\n\
        MULTI\r\nDEBUG SLEEP 0.1\r\nSET k v\r\nEXEC\r\n";
    let run = |addr, setup: &[&[&str]]| -> (Vec<Vec<u8>>, Vec<CmdStat>) {
        let mut c = RawConn::connect(addr).unwrap();
        for cmd in setup {
            assert_eq!(c.cmd_str(cmd), b"+OK\r\n", "{cmd:?}");
        }
        assert_eq!(c.cmd_str(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        c.send(pipeline).unwrap();
        let replies = (0..6).map(|_| c.read_reply().unwrap()).collect();
        let info = String::from_utf8_lossy(&c.cmd_str(&["INFO", "commandstats"])).into_owned();
        (replies, commandstats(&info))
    };
    let counts = |stats: &[CmdStat]| -> Vec<(String, u64, u64, u64)> {
        stats.iter().map(|(name, [calls, _, rejected, failed])| (name.clone(), *calls, *rejected, *failed)).collect()
    };
    let usec = |stats: &[CmdStat], name: &str| stats.iter().find(|(n, _)| n == name).map(|(_, v)| v[1]);

    let seen = [run(redis.addr(), &[]), run(tumbler.addr(), &[])];
    assert_eq!(seen[0].0, seen[1].0, "replies");
    let sizes = |stats: &[CmdStat]| -> Vec<(String, bool)> {
        stats.iter().map(|(name, v)| (name.clone(), v[1] >= 50_000)).collect()
    };
    assert_eq!(counts(&seen[0].1), counts(&seen[1].1), "redis {:?}\ntumbler {:?}", seen[0].1, seen[1].1);
    assert_eq!(sizes(&seen[0].1), sizes(&seen[1].1), "redis {:?}\ntumbler {:?}", seen[0].1, seen[1].1);
    let stats = &seen[1].1;
    assert_eq!(usec(stats, "get"), Some(0), "{stats:?}");
    assert!(usec(stats, "debug").is_some_and(|u| u >= 200_000), "{stats:?}");
    assert!(usec(stats, "exec").is_some_and(|u| u >= 100_000), "{stats:?}");
    assert!(usec(stats, "multi").is_some_and(|u| u < 50_000), "{stats:?}");

    let untimed: &[&[&str]] =
        &[&["CONFIG", "SET", "latency-tracking", "no"], &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]];
    let seen = [run(redis.addr(), untimed), run(tumbler.addr(), untimed)];
    assert_eq!(seen[0].0, seen[1].0, "replies");
    assert_eq!(counts(&seen[0].1), counts(&seen[1].1), "redis {:?}\ntumbler {:?}", seen[0].1, seen[1].1);
    let stats = &seen[1].1;
    assert_eq!(usec(stats, "get"), Some(0), "{stats:?}");
    assert!(usec(stats, "debug").is_some_and(|u| u >= 50_000), "{stats:?}");

    // Timing turned off in the middle of a batch takes effect from the next: the commands
    // after it are still timed, each with its own time, as in Redis.
    let toggle: &[u8] = b"CONFIG SET latency-tracking no\r\nCONFIG SET slowlog-log-slower-than -1\r\n\
        DEBUG SLEEP 0.2\r\nPING\r\n";
    let seen: Vec<Vec<CmdStat>> = [redis.addr(), tumbler.addr()]
        .into_iter()
        .map(|addr| {
            let mut c = RawConn::connect(addr).unwrap();
            for cmd in [["CONFIG", "SET", "latency-tracking", "yes"], ["CONFIG", "SET", "slowlog-log-slower-than", "0"]]
            {
                assert_eq!(c.cmd_str(&cmd), b"+OK\r\n");
            }
            assert_eq!(c.cmd_str(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
            c.send(toggle).unwrap();
            for _ in 0..4 {
                c.read_reply().unwrap();
            }
            commandstats(&String::from_utf8_lossy(&c.cmd_str(&["INFO", "commandstats"])))
        })
        .collect();
    assert_eq!(counts(&seen[0]), counts(&seen[1]), "redis {:?}\ntumbler {:?}", seen[0], seen[1]);
    assert_eq!(sizes(&seen[0]), sizes(&seen[1]), "redis {:?}\ntumbler {:?}", seen[0], seen[1]);
    assert!(usec(&seen[1], "ping").is_some_and(|u| u < 50_000), "{:?}", seen[1]);
}

/// A line of INFO commandstats: the command, and its calls, usec, rejected_calls and failed_calls.
type CmdStat = (String, [u64; 4]);

/// INFO commandstats, by command name.
fn commandstats(info: &str) -> Vec<CmdStat> {
    let mut stats: Vec<CmdStat> = info
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .map(|l| {
            let (name, fields) = l.split_once(':').expect("cmdstat line");
            let field = |f: &str| -> u64 {
                fields
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f).and_then(|v| v.strip_prefix('=')))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{f} in {l}"))
            };
            (name.to_string(), [field("calls"), field("usec"), field("rejected_calls"), field("failed_calls")])
        })
        .collect();
    stats.sort();
    stats
}

/// A command's LATENCY HISTOGRAM entry: name, calls, (bucket label, running count)s.
type Histogram = (String, i64, Vec<(i64, i64)>);

/// INFO latencystats and LATENCY HISTOGRAM as Redis keeps them: an HdrHistogram per command,
/// read the same way. The durations differ from one server to the other, so what is compared
/// is what does not depend on them: the commands listed, their calls, the percentiles named as
/// configured, and figures that only Redis' histogram can produce (the top of a slot, or its
/// bottom for the 0th percentile; a bucket label from its list), with a 10 ms DEBUG SLEEP read
/// as the same figures on both.
#[test]
fn latency_stats_and_histograms_as_redis() {
    let redis = RedisServer::start(&[]);
    let tumbler = Tumbler::start(&[]);
    // LATENCY HISTOGRAM's labels: the top of the slot of 1,024 ns·2^k, in whole microseconds.
    let labels: Vec<i64> = (0..20)
        .map(|k| {
            let level = 1024u64 << k;
            let width = 1u64 << (64 - (level | 255).leading_zeros() - 8);
            ((level + width - 1) / 1000) as i64
        })
        .collect();
    assert_eq!(&labels[..8], &[1, 2, 4, 8, 16, 33, 66, 132], "as seen from redis-server");
    let seen: Vec<_> = [redis.addr(), tumbler.addr()]
        .into_iter()
        .map(|addr| {
            let mut c = RawConn::connect(addr).unwrap();
            assert_eq!(c.cmd_str(&["CONFIG", "SET", "latency-tracking-info-percentiles", "0 50 99.9 100"]), b"+OK\r\n");
            assert_eq!(c.cmd_str(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
            for cmd in [&["SET", "k", "v"][..], &["GET", "k"], &["GET", "k"], &["DEBUG", "SLEEP", "0.01"]] {
                c.cmd_str(cmd);
            }
            // A blocked command's latency is recorded when it is served, not when it times out.
            assert_eq!(c.cmd_str(&["BLPOP", "nothing", "0.01"]), b"*-1\r\n");
            let mut waiter = RawConn::connect(addr).unwrap();
            waiter.send(&encode(&[b"BLPOP", b"q", b"5"])).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert_eq!(c.cmd_str(&["RPUSH", "q", "x"]), b":1\r\n");
            assert_eq!(waiter.read_reply().unwrap(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
            let info = String::from_utf8_lossy(&c.cmd_str(&["INFO", "latencystats"])).into_owned();
            let all = parse(&c.cmd_str(&["LATENCY", "HISTOGRAM"])).0;
            let some = parse(&c.cmd_str(&["LATENCY", "HISTOGRAM", "debug", "nosuch", "debug", "GET", "config"])).0;
            assert_eq!(c.cmd_str(&["CONFIG", "SET", "latency-tracking-info-percentiles", ""]), b"+OK\r\n");
            let bare = String::from_utf8_lossy(&c.cmd_str(&["INFO", "latencystats"])).into_owned();
            (info, all, some, bare)
        })
        .collect();

    // INFO: per command, the percentiles' names and figures (µs).
    let percentiles = |info: &str| -> Vec<(String, Vec<(String, f64)>)> {
        let mut v: Vec<_> = info
            .lines()
            .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
            .map(|l| {
                let (name, fields) = l.split_once(':').expect("latencystats line");
                let figures = fields
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(|f| {
                        let (p, v) = f.split_once('=').expect("p=value");
                        assert!(v.len() > 4 && v.as_bytes()[v.len() - 4] == b'.', "three decimals: {l}");
                        (p.to_string(), v.parse().expect("figure"))
                    })
                    .collect();
                (name.to_string(), figures)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let shape = |p: &[(String, Vec<(String, f64)>)]| -> Vec<(String, Vec<String>)> {
        p.iter().map(|(n, f)| (n.clone(), f.iter().map(|(p, _)| p.clone()).collect())).collect()
    };
    let (r, t) = (percentiles(&seen[0].0), percentiles(&seen[1].0));
    assert_eq!(shape(&r), shape(&t), "redis:\n{}\ntumbler:\n{}", seen[0].0, seen[1].0);
    assert!(t.iter().any(|(n, _)| n == "config|resetstat") && t.iter().any(|(n, _)| n == "get"), "{t:?}");
    for (name, figures) in r.iter().chain(&t) {
        let ns: Vec<u64> = figures.iter().map(|(_, v)| (v * 1000.0).round() as u64).collect();
        // p0 is the bottom of a slot, the others its top: slots are 2^b ns wide, b from the value.
        let width = |v: u64| 1u64 << (64 - (v | 255).leading_zeros() - 8);
        assert_eq!(ns[0] % width(ns[0]), 0, "{name} p0 {figures:?}");
        for &v in &ns[1..] {
            assert_eq!((v + 1) % width(v), 0, "{name} {figures:?}");
        }
        assert!(ns.windows(2).all(|w| w[0] <= w[1]), "{name} {figures:?}");
    }
    // One 10 ms sleep: 10 ms or more, within the bucket LATENCY HISTOGRAM puts it in below.
    for p in [&r, &t] {
        let debug = &p.iter().find(|(n, _)| n == "debug").expect("debug").1;
        assert!(debug.iter().all(|(_, v)| (10_000.0..16_909.0).contains(v)), "{debug:?}");
    }
    // With no percentiles configured, each command's line is empty.
    let bare = |info: &str| -> Vec<String> {
        let mut v: Vec<String> =
            info.lines().filter(|l| l.starts_with("latency_percentiles_usec_")).map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(bare(&seen[0].3), bare(&seen[1].3));
    assert!(bare(&seen[1].3).iter().all(|l| l.ends_with(':')));

    // LATENCY HISTOGRAM: per command, its calls and its buckets' labels and running counts.
    let histograms = |v: &Value| -> Vec<Histogram> {
        let Value::Array(items) = v else { panic!("{v:?}") };
        let mut out: Vec<_> = items
            .chunks(2)
            .map(|kv| {
                let (Value::Bulk(name), Value::Array(fields)) = (&kv[0], &kv[1]) else { panic!("{kv:?}") };
                let [Value::Bulk(calls_name), Value::Int(calls), Value::Bulk(hist_name), Value::Array(buckets)] =
                    &fields[..]
                else {
                    panic!("{fields:?}")
                };
                assert_eq!((&calls_name[..], &hist_name[..]), (&b"calls"[..], &b"histogram_usec"[..]));
                let buckets: Vec<(i64, i64)> = buckets
                    .chunks(2)
                    .map(|b| match b {
                        [Value::Int(l), Value::Int(n)] => (*l, *n),
                        _ => panic!("{b:?}"),
                    })
                    .collect();
                (String::from_utf8_lossy(name).into_owned(), *calls, buckets)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    let (r, t) = (histograms(&seen[0].1), histograms(&seen[1].1));
    let calls = |h: &[Histogram]| -> Vec<(String, i64)> { h.iter().map(|(n, c, _)| (n.clone(), *c)).collect() };
    assert_eq!(calls(&r), calls(&t));
    assert!(calls(&t).contains(&("blpop".to_string(), 1)), "{:?}", calls(&t));
    for (name, n, buckets) in r.iter().chain(&t) {
        assert!(buckets.iter().all(|(l, _)| labels.contains(l)), "{name} {buckets:?}");
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "{name} {buckets:?}");
        assert_eq!(buckets.last().map(|b| b.1), Some(*n), "{name}: every call counted {buckets:?}");
    }
    for h in [&r, &t] {
        let debug = &h.iter().find(|(n, ..)| n == "debug").expect("debug").2;
        assert_eq!(debug, &[(16908, 1)], "a 10 ms sleep is in 16,777,216 ns' bucket");
    }
    // Named commands: unknown ones left out, a container command's subcommands that ran.
    let names = |v: &Value| -> Vec<String> {
        let Value::Array(items) = v else { panic!("{v:?}") };
        let mut names: Vec<String> = items
            .iter()
            .step_by(2)
            .map(|n| if let Value::Bulk(b) = n { String::from_utf8_lossy(b).into_owned() } else { panic!("{n:?}") })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&seen[0].2), names(&seen[1].2));
    // Named twice, listed twice; CONFIG brings the one subcommand that ran since RESETSTAT.
    assert_eq!(names(&seen[1].2), ["config|resetstat", "debug", "debug", "get"]);
}
