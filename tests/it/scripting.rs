//! Scripts that try to hurt the server: runaway loops, memory bombs, escapes from the sandbox,
//! patterns that backtrack forever. The server must stay up, answer with an error, refuse
//! nothing it should allow, and keep serving the next script. (What scripts compute and reply
//! is compared with Redis by the differential corpus; this file covers what Redis itself does
//! not guard against, or what a corpus cannot express.)

use std::time::{Duration, Instant};
use tumbler_tests::resp::{parse, RawConn};
use tumbler_tests::Tumbler;

fn eval(c: &mut RawConn, script: &str) -> Vec<u8> {
    c.cmd(&[b"EVAL", script.as_bytes(), b"0"]).unwrap()
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

/// The server still runs scripts and plain commands.
fn assert_healthy(c: &mut RawConn) {
    assert_eq!(eval(c, "return redis.call('set', 'after', 'ok')"), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "after"]), b"$2\r\nok\r\n");
}

#[test]
fn memory_bombs_hit_the_lua_memory_limit() {
    let t = Tumbler::start(&[("lua-memory-limit", "16mb")]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for bomb in [
        "local t = {} for i = 1, 1e8 do t[i] = i end return #t",
        "return #string.rep('x', 2^30)",
        "local s = 'x' for i = 1, 40 do s = s .. s end return #s",
        "local t = {} for i = 1, 1e7 do t[#t + 1] = tostring(i) end return table.concat(t)",
    ] {
        let r = text(&eval(&mut c, bomb));
        assert!(r.starts_with("-ERR ") && r.contains("not enough memory"), "{bomb}: {r}");
        assert_healthy(&mut c);
    }
    // The memory went back: INFO reports far less than the limit.
    let info = parse(&c.cmd_str(&["INFO", "memory"])).0.text();
    let lua: u64 = info.lines().find_map(|l| l.strip_prefix("used_memory_lua:")).unwrap().parse().unwrap();
    assert!(lua > 0 && lua < 8 << 20, "used_memory_lua {lua}");
}

#[test]
fn the_sandbox_holds() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for (script, expect) in [
        ("return os.time()", "Script attempted to access nonexistent global variable 'os'"),
        ("return io.open('/etc/passwd')", "Script attempted to access nonexistent global variable 'io'"),
        ("return debug.getinfo(1)", "Script attempted to access nonexistent global variable 'debug'"),
        ("return dofile('/etc/passwd')", "Script attempted to access nonexistent global variable 'dofile'"),
        ("return loadfile('/etc/passwd')", "Script attempted to access nonexistent global variable 'loadfile'"),
        ("return require('os')", "Script attempted to access nonexistent global variable 'require'"),
        ("return package.loaded", "Script attempted to access nonexistent global variable 'package'"),
        ("return setfenv(1, {})", "Script attempted to access nonexistent global variable 'setfenv'"),
        ("setmetatable(_G, nil)", "Attempt to modify a readonly table"),
        ("rawset(_G, 'x', 1)", "Attempt to modify a readonly table"),
        ("redis.call = function() return 1 end", "Attempt to modify a readonly table"),
        ("getmetatable('').__index = {}", "Attempt to modify a readonly table"),
        ("string.len = nil", "Attempt to modify a readonly table"),
        ("table.insert(math, 1)", "Attempt to modify a readonly table"),
        ("x = 1", "Attempt to modify a readonly table"),
    ] {
        let r = text(&eval(&mut c, script));
        assert!(r.starts_with("-ERR ") && r.contains(expect), "{script}: {r}");
    }
    // Precompiled chunks are never loaded, so string.dump output cannot be smuggled in.
    let r = eval(&mut c, "local f, err = loadstring(string.dump(function() return 1 end)) return {tostring(f), err}");
    let r = text(&r);
    assert!(r.contains("nil") && r.contains("unexpected symbol"), "{r}");
    // Nothing a script did survives into the next one.
    assert_eq!(eval(&mut c, "KEYS[5] = 'left behind' setmetatable(ARGV, {}) return 1"), b":1\r\n");
    assert_eq!(
        c.cmd(&[b"EVAL", b"return {#KEYS, tostring(KEYS[5]), tostring(getmetatable(ARGV))}", b"1", b"k"]).unwrap(),
        b"*3\r\n:1\r\n$3\r\nnil\r\n$3\r\nnil\r\n"
    );
    assert_healthy(&mut c);
}

#[test]
fn deep_recursion_and_hostile_patterns_are_errors() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    for (script, expect) in [
        ("local function f(n) return f(n + 1) + 1 end return f(1)", "stack overflow"),
        ("return select(2, loadstring(string.rep('(', 100000) .. '1'))", "chunk has too many syntax levels"),
        // 5.1's matcher recursed once per `?` with no limit: this would overflow the C stack.
        ("return string.find(string.rep('a', 50000), string.rep('a?', 50000) .. 'b')", "pattern too complex"),
        ("return cjson.decode(string.rep('[', 100000))", "Found too many nested data structures"),
    ] {
        let r = text(&eval(&mut c, script));
        assert!(r.contains(expect), "{script}: {r}");
    }
    // string.rep of an empty string no longer spins 2^31 times.
    let t0 = Instant::now();
    assert_eq!(eval(&mut c, "return #string.rep('', 2^31 - 1)"), b":0\r\n");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_healthy(&mut c);
}

/// Starts `script` on its own connection (it is expected to run until killed), then kills it
/// from another connection once the server reports it busy.
fn kill_busy(t: &Tumbler, script: &str) -> String {
    let mut runner = RawConn::connect(t.addr()).unwrap();
    runner.send(&tumbler_tests::resp::encode(&[b"EVAL", script.as_bytes(), b"0"])).unwrap();
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = admin.cmd_str(&["SCRIPT", "KILL"]);
        if r == b"+OK\r\n" {
            break;
        }
        // NOTBUSY until the script starts; BUSY replies are not expected for SCRIPT KILL.
        assert_eq!(r, b"-NOTBUSY No scripts in execution right now.\r\n");
        assert!(Instant::now() < deadline, "the script never became killable");
        std::thread::sleep(Duration::from_millis(5));
    }
    text(&runner.read_reply().unwrap())
}

/// With one worker the admin's connection is answered from the script's hook; with two, it
/// may land on the other worker.
#[test]
fn runaway_scripts_can_be_killed() {
    for workers in ["1", "2"] {
        runaway_scripts_can_be_killed_with_workers(workers);
    }
}

fn runaway_scripts_can_be_killed_with_workers(workers: &str) {
    let t = Tumbler::start(&[("io-threads", workers), ("busy-reply-threshold", "20")]);
    for script in [
        "while true do end",
        // Catching the kill error does not keep a script alive.
        "while true do pcall(function() while true do end end) end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        // Backtracking inside the C pattern matcher runs no Lua instruction at all.
        "return string.find(string.rep('a', 200000), '.-.-.-b')",
    ] {
        let r = kill_busy(&t, script);
        assert!(r.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{workers} workers, {script}: {r}");
        let mut c = RawConn::connect(t.addr()).unwrap();
        assert_healthy(&mut c);
    }
}

/// With two workers `other` lands on the one not running the script; with one, it waits in the
/// worker's queue until the script's hook takes it.
#[test]
fn other_clients_get_busy_while_a_script_runs_and_wait_before() {
    for workers in ["1", "2"] {
        other_clients_get_busy_with_workers(workers);
    }
}

fn other_clients_get_busy_with_workers(workers: &str) {
    let t = Tumbler::start(&[("io-threads", workers), ("busy-reply-threshold", "100")]);
    let mut runner = RawConn::connect(t.addr()).unwrap();
    let script = b"local t = redis.call('time') repeat local n = redis.call('time') until (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 400000 return 'done'";
    runner.send(&tumbler_tests::resp::encode(&[b"EVAL", script, b"0"])).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Before the threshold a command waits for the script instead of seeing a half-run state;
    // after it, -BUSY.
    let mut other = RawConn::connect(t.addr()).unwrap();
    let started = Instant::now();
    let r = other.cmd_str(&["GET", "x"]);
    assert!(
        r == b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
        "{}",
        text(&r)
    );
    assert!(started.elapsed() >= Duration::from_millis(50), "replied BUSY before the threshold");
    assert_eq!(runner.read_reply().unwrap(), b"$4\r\ndone\r\n");
    assert_eq!(other.cmd_str(&["GET", "x"]), b"$-1\r\n");
}

/// A spin of `ms` milliseconds inside a script, on the script's own view of TIME.
fn spin(ms: u32) -> String {
    format!(
        "local t = redis.call('time') repeat local n = redis.call('time') until (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > {}",
        ms * 1000
    )
}

fn int(reply: &[u8]) -> i64 {
    text(reply).trim_start_matches(':').trim().parse().unwrap_or_else(|_| panic!("not an integer: {}", text(reply)))
}

/// TTLs count from when a command runs, as in Redis, even when the command waited for a
/// script, came after one in the same pipeline, or ran inside one.
#[test]
fn ttls_count_from_when_the_command_runs() {
    let t = Tumbler::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    // Pipelined after a 50 ms script.
    let mut batch = tumbler_tests::resp::encode(&[b"EVAL", spin(50).as_bytes(), b"0"]);
    batch.extend(tumbler_tests::resp::encode(&[b"SET", b"k", b"v", b"PX", b"100000"]));
    batch.extend(tumbler_tests::resp::encode(&[b"PTTL", b"k"]));
    c.send(&batch).unwrap();
    assert_eq!(c.read_reply().unwrap(), b"$-1\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    let pttl = int(&c.read_reply().unwrap());
    assert!(pttl >= 99_990, "PTTL {pttl} after a pipelined script");

    // Set inside a script after 20 ms of work, and read back inside it.
    let script = format!("{} redis.call('pexpire', KEYS[1], 100000) return redis.call('pttl', KEYS[1])", spin(20));
    let pttl = int(&c.cmd(&[b"EVAL", script.as_bytes(), b"1", b"k"]).unwrap());
    assert!(pttl >= 99_990, "PTTL {pttl} inside the script");

    // Sent by another client while a 50 ms script holds the server.
    let mut runner = RawConn::connect(t.addr()).unwrap();
    runner.send(&tumbler_tests::resp::encode(&[b"EVAL", spin(50).as_bytes(), b"0"])).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(c.cmd_str(&["SET", "k2", "v", "PX", "100000"]), b"+OK\r\n");
    let pttl = int(&c.cmd_str(&["PTTL", "k2"]));
    assert!(pttl >= 99_990, "PTTL {pttl} after waiting for another client's script");
    assert_eq!(runner.read_reply().unwrap(), b"$-1\r\n");
}

/// Scripts are atomic: while writers run scripts that pass a key through intermediate values,
/// readers on other connections (and so on other worker threads) only ever see the values the
/// scripts leave behind.
#[test]
fn no_client_observes_a_half_run_script() {
    let t = Tumbler::start(&[("io-threads", "2")]);
    let script = b"redis.call('set', KEYS[1], 'half') redis.call('incr', KEYS[2]) redis.call('set', KEYS[1], 'whole') return redis.call('get', KEYS[2])";
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["SET", "k", "whole"]), b"+OK\r\n");
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (addr, stop) = (t.addr(), stop.clone());
            std::thread::spawn(move || {
                let mut r = RawConn::connect(addr).unwrap();
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let v = r.cmd_str(&["GET", "k"]);
                    assert_eq!(v, b"$5\r\nwhole\r\n", "a reader saw a script half-run");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let n = 2000;
    for i in 1..=n {
        let r = c.cmd(&[b"EVAL", script, b"2", b"k", b"count"]).unwrap();
        assert_eq!(r, format!("${}\r\n{}\r\n", i.to_string().len(), i).into_bytes());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(reads > 0);
}

/// A batch that runs a script keeps the gate to its end (a pipeline of scripts passes it once):
/// the commands after the script in that batch run as usual, transactions included, and a
/// client on the other worker still gets through between batches.
#[test]
fn pipelined_scripts_keep_the_gate_for_their_batch_only() {
    let t = Tumbler::start(&[("io-threads", "2")]);
    let addr = t.addr();
    let other = std::thread::spawn(move || {
        let mut o = RawConn::connect(addr).unwrap();
        for i in 1..=500i64 {
            assert_eq!(int(&o.cmd_str(&["INCR", "other"])), i);
        }
    });
    let mut c = RawConn::connect(t.addr()).unwrap();
    let incr = b"return redis.call('incr', KEYS[1])";
    let rounds = 300;
    for i in 1..=rounds {
        let mut batch = tumbler_tests::resp::encode(&[b"EVAL", incr, b"1", b"a"]);
        batch.extend(tumbler_tests::resp::encode(&[b"GET", b"a"]));
        batch.extend(tumbler_tests::resp::encode(&[b"INCR", b"b"]));
        batch.extend(tumbler_tests::resp::encode(&[b"EVAL", incr, b"1", b"a"]));
        batch.extend(tumbler_tests::resp::encode(&[b"MULTI"]));
        batch.extend(tumbler_tests::resp::encode(&[b"INCR", b"b"]));
        batch.extend(tumbler_tests::resp::encode(&[b"EXEC"]));
        c.send(&batch).unwrap();
        let a = 2 * i - 1;
        assert_eq!(int(&c.read_reply().unwrap()), a);
        assert_eq!(c.read_reply().unwrap(), format!("${}\r\n{a}\r\n", a.to_string().len()).into_bytes());
        assert_eq!(int(&c.read_reply().unwrap()), 2 * i - 1);
        assert_eq!(int(&c.read_reply().unwrap()), a + 1);
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
        assert_eq!(c.read_reply().unwrap(), b"+QUEUED\r\n");
        assert_eq!(c.read_reply().unwrap(), format!("*1\r\n:{}\r\n", 2 * i).into_bytes());
    }
    other.join().expect("the other client got through");
    assert_eq!(c.cmd_str(&["GET", "other"]), b"$3\r\n500\r\n");
}

/// A single worker stuck in a script still answers every client: one connected before the
/// script gets -BUSY from the script's hook, and so does one connected once the script is busy
/// (the hook takes it from the worker's queue); either can kill the script.
#[test]
fn a_single_worker_busy_in_a_script_answers_every_client() {
    let t = Tumbler::start(&[("io-threads", "1"), ("busy-reply-threshold", "20")]);
    let mut before = RawConn::connect(t.addr()).unwrap();
    let mut runner = RawConn::connect(t.addr()).unwrap();
    runner.send(&tumbler_tests::resp::encode(&[b"EVAL", b"while true do end", b"0"])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = text(&before.cmd_str(&["GET", "x"]));
        if r.starts_with("-BUSY") {
            break;
        }
        // Served before the script started.
        assert_eq!(r, "$-1\r\n");
        assert!(Instant::now() < deadline, "the script never turned busy");
    }
    let mut after = RawConn::connect(t.addr()).unwrap();
    assert!(text(&after.cmd_str(&["GET", "x"])).starts_with("-BUSY"));
    assert!(text(&before.cmd_str(&["SET", "x", "1"])).starts_with("-BUSY"));
    assert_eq!(before.cmd_str(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let r = text(&runner.read_reply().unwrap());
    assert!(r.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{r}");
    assert_healthy(&mut before);
    assert_healthy(&mut after);
    // What the hook ran is counted as the task would count it.
    let stats = text(&after.cmd_str(&["INFO", "commandstats"]));
    let line = |name: &str| {
        stats.lines().find(|l| l.starts_with(&format!("cmdstat_{name}:"))).unwrap_or_else(|| panic!("{name}: {stats}"))
    };
    assert!(line("script|kill").starts_with("cmdstat_script|kill:calls=1,"), "{stats}");
    assert!(line("set").contains(",rejected_calls=1,"), "{stats}");
}

/// The `scripts_beside_others` and `scripts_alone` counters of INFO locks.
fn script_runs(c: &mut RawConn) -> (i64, i64) {
    let info = text(&c.cmd_str(&["INFO", "locks"]));
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {info}"))
    };
    (field("scripts_beside_others"), field("scripts_alone"))
}

/// Scripts that touch only their declared keys run on two workers at once, each on the shards
/// of its own keys, and stay atomic: transfers between two keys never show a half-done state
/// to MGET or to each other, and none is lost. A script that names an undeclared key still
/// runs, alone.
#[test]
fn scripts_on_declared_keys_run_beside_each_other_and_stay_atomic() {
    let t = Tumbler::start(&[("io-threads", "2")]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    assert_eq!(c.cmd_str(&["MSET", "acct:a", "100000", "acct:b", "0"]), b"+OK\r\n");
    // Moves one unit from KEYS[1] to KEYS[2]; returns the total it saw, which must not move.
    let transfer = b"local a = tonumber(redis.call('get', KEYS[1])) local b = tonumber(redis.call('get', KEYS[2])) \
                     redis.call('set', KEYS[1], a - 1) redis.call('set', KEYS[2], b + 1) return a + b";
    let (beside0, alone0) = script_runs(&mut c);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (addr, stop) = (t.addr(), stop.clone());
        std::thread::spawn(move || {
            let mut r = RawConn::connect(addr).unwrap();
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let v = parse(&r.cmd_str(&["MGET", "acct:a", "acct:b"])).0;
                let tumbler_tests::resp::Value::Array(items) = &v else { panic!("MGET: {v:?}") };
                let sum: i64 = items.iter().map(|n| n.text().parse::<i64>().unwrap()).sum();
                assert_eq!(sum, 100000, "MGET saw a transfer half done: {v:?}");
                reads += 1;
            }
            reads
        })
    };
    // Four clients, spread over both workers, in pipelines of 20 so that batches meet.
    let (clients, rounds, depth) = (4, 50, 20);
    let writers: Vec<_> = (0..clients)
        .map(|_| {
            let addr = t.addr();
            std::thread::spawn(move || {
                let mut w = RawConn::connect(addr).unwrap();
                for _ in 0..rounds {
                    let mut batch = Vec::new();
                    for _ in 0..depth {
                        batch.extend(tumbler_tests::resp::encode(&[b"EVAL", transfer, b"2", b"acct:a", b"acct:b"]));
                    }
                    w.send(&batch).unwrap();
                    for _ in 0..depth {
                        assert_eq!(int(&w.read_reply().unwrap()), 100000, "a script saw a transfer half done");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let n = (clients * rounds * depth) as i64;
    assert_eq!(c.cmd_str(&["GET", "acct:b"]), format!("${}\r\n{n}\r\n", n.to_string().len()).into_bytes());
    let (beside, alone) = script_runs(&mut c);
    assert_eq!((beside - beside0, alone - alone0), (n, 0), "every transfer ran beside the others");

    // Naming a key that is not in KEYS: the script runs alone, and just as well.
    let undeclared = b"return redis.call('incr', 'acct:' .. ARGV[1])";
    assert_eq!(int(&c.cmd(&[b"EVAL", undeclared, b"0", b"c"]).unwrap()), 1);
    assert_eq!(script_runs(&mut c), (beside, alone + 1));
}

/// The source check that lets a script run beside others must be sound: whatever it accepts
/// must never reach a key outside its claim, which the run-time check refuses with an error.
/// Four thousand scripts are built at random (fixed seed) from the constructs that could fool
/// it: each binds a key variable, then may rebind or alias it (locals, multiple assignments,
/// loops over KEYS and ARGV, writes to KEYS, indexing, pcall), then uses it. Every one that
/// runs beside others must finish without that error; the undeclared keys it might touch are
/// `k:z`, `k:ax` and ARGV[1] = `k:c`. (With the check's assignment tracking or its "the whole
/// expression is KEYS[...]" rule switched off, this test fails.)
/// A script that begins by selecting the database its arguments name (as
/// @sesamecare-oss/redlock's do) runs beside others, on its keys in that database; replies and
/// data match redis-server's, also when the SELECT fails and the script goes on in the caller's
/// database. A database that cannot be told from the arguments before the script runs makes it
/// run alone, with the same result.
#[test]
fn a_leading_select_runs_beside_others_in_the_database_it_names() {
    let t = Tumbler::start(&[("io-threads", "2")]);
    let redis = tumbler_tests::RedisServer::start(&[]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    let mut r = RawConn::connect(redis.addr()).unwrap();
    let scripts = [
        "redis.pcall('SELECT', tonumber(ARGV[1])) redis.call('set', KEYS[1], ARGV[2]) return redis.call('get', KEYS[1])",
        "redis.call('select', ARGV[1]) return redis.call('incr', KEYS[1])",
        "local ok = redis.pcall('select', ARGV[1]) return {redis.call('exists', KEYS[1]), type(ok)}",
    ];
    for script in scripts {
        for db in ["3", "0", "15", "99", "x", " 3", "03"] {
            // Through tonumber, only plain digits say which database for sure.
            let plain = db == "0" || !db.starts_with('0') && db.bytes().all(|b| b.is_ascii_digit());
            let beside = !script.contains("tonumber") || plain;
            let args: [&[u8]; 6] = [b"EVAL", script.as_bytes(), b"1", b"sel:k", db.as_bytes(), b"v"];
            let (before, _) = script_runs(&mut c);
            let (got, want) = (c.cmd(&args).unwrap(), r.cmd(&args).unwrap());
            assert_eq!(text(&got), text(&want), "{script} with ARGV[1] = {db:?}");
            let (after, _) = script_runs(&mut c);
            assert_eq!(after > before, beside, "{script} with ARGV[1] = {db:?}: beside others");
        }
    }
    // Where every write landed, database by database, and the callers stayed in database 0.
    for db in 0..16 {
        let n = db.to_string();
        let probe: [&[&[u8]]; 3] = [&[b"SELECT", n.as_bytes()], &[b"GET", b"sel:k"], &[b"SELECT", b"0"]];
        for cmd in probe {
            assert_eq!(text(&c.cmd(cmd).unwrap()), text(&r.cmd(cmd).unwrap()), "database {db}: {cmd:?}");
        }
    }
}

#[test]
fn the_source_check_accepts_no_script_that_reaches_an_undeclared_key() {
    let t = Tumbler::start(&[("io-threads", "2")]);
    let mut c = RawConn::connect(t.addr()).unwrap();
    let mut next = tumbler_tests::xorshift(0x9e37_79b9_7f4a_7c15);
    let mut rand = move |n: usize| next(n as u64) as usize;
    const VARS: [&str; 4] = ["a", "b", "k", "key"];
    const KEYISH: [&str; 8] = [
        "KEYS[1]",
        "KEYS[2]",
        "KEYS[#KEYS]",
        "ARGV[1]",
        "'k:z'",
        "KEYS[1] .. 'x'",
        "KEYS[tonumber(ARGV[2]) - 3]",
        "nil",
    ];
    // Databases a SELECT may name: ARGV[2] is "5", ARGV[1] no number.
    const SELECT: [&str; 5] = ["ARGV[2]", "tonumber(ARGV[2])", "ARGV[1]", "tonumber(ARGV[1])", "2"];
    fn pick<'a>(rand: &mut impl FnMut(usize) -> usize, from: &[&'a str]) -> &'a str {
        from[rand(from.len())]
    }
    let statement = |rand: &mut dyn FnMut(usize) -> usize, depth: u32| -> String {
        let mut r = |n: usize| rand(n);
        let v = pick(&mut r, &VARS);
        let w = pick(&mut r, &VARS);
        let e = pick(&mut r, &KEYISH);
        let call = |r: &mut dyn FnMut(usize) -> usize, arg: &str| match r(6) {
            0 => format!("redis.call('get', {arg})"),
            1 => format!("redis.call('set', {arg}, 'v')"),
            2 => format!("redis.call('del', {arg}, KEYS[1])"),
            3 => format!("redis.call('exists', {arg})"),
            4 => format!("redis.call('incr', {arg})"),
            _ => format!("local r = redis.pcall('get', {arg}) if type(r) == 'table' and r.err then return r.err end"),
        };
        match r(13) {
            10 => format!("redis.pcall('select', {})", pick(&mut r, &SELECT)),
            0 => format!("local {v} = {e}"),
            1 => format!("{v} = {e}"),
            2 => format!("local {v}, {w} = {e}, {}", pick(&mut r, &KEYISH)),
            3 => format!("tostring(1) {v}, {w} = {e}, {}", pick(&mut r, &KEYISH)),
            4 if depth == 0 => format!("for _, {v} in ipairs(KEYS) do {} end", call(&mut r, v)),
            5 if depth == 0 => format!("for _, {v} in ipairs(ARGV) do {} end", call(&mut r, v)),
            6 => format!("KEYS[{}] = {e}", 1 + r(2)),
            7 => format!("local t = {{{e}}} {}", call(&mut r, "t[1]")),
            8 => format!("if {} then {} end", call(&mut r, "KEYS[1]").replace("local r = ", ""), call(&mut r, v)),
            9 => call(&mut r, e),
            _ => call(&mut r, v),
        }
    };
    let (mut beside_runs, mut refused) = (0, Vec::new());
    for _ in 0..4000 {
        // A key variable first, then whatever may rebind it, then a use of it.
        let v = VARS[rand(VARS.len())];
        let mut body = Vec::new();
        if rand(3) == 0 {
            // A leading SELECT, the one kind the check can follow.
            body.push(format!("redis.{}('select', {})", ["call", "pcall"][rand(2)], SELECT[rand(SELECT.len())]));
        }
        body.push(format!("local {v} = KEYS[{}]", 1 + rand(2)));
        body.extend((0..1 + rand(4)).map(|_| statement(&mut rand, 0)));
        body.push(format!("redis.call('get', {v})"));
        let script = format!("{} return 1", body.join(" "));
        let (before, _) = script_runs(&mut c);
        let reply = c.cmd(&[b"EVAL", script.as_bytes(), b"2", b"k:a", b"k:b", b"k:c", b"5"]).unwrap();
        let (after, _) = script_runs(&mut c);
        if after > before {
            beside_runs += 1;
            if text(&reply).contains("may only call commands on its declared keys") {
                refused.push(script);
            }
        }
    }
    assert!(refused.is_empty(), "accepted, yet reached an undeclared key:\n{}", refused.join("\n"));
    eprintln!("{beside_runs} of 4000 scripts ran beside others");
    // The generator reaches both sides of the check.
    assert!(beside_runs > 200 && beside_runs < 3800, "{beside_runs} of 4000 ran beside others");
}

/// Clients come and go while a script is busy on the only worker: each gets -BUSY for every
/// request it completes (whole, pipelined, or finished across writes), those that hang up
/// leave nothing behind, and once the script is killed every client left is served normally.
#[test]
fn clients_come_and_go_while_a_script_is_busy() {
    let t = Tumbler::start(&[("io-threads", "1"), ("busy-reply-threshold", "20")]);
    let connect = || RawConn::connect(t.addr()).unwrap();
    const BUSY: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    let get = tumbler_tests::resp::encode(&[b"GET", b"k"]);
    // Each client, and the part of a request it has sent without the rest.
    let mut clients: Vec<(RawConn, usize)> = (0..40).map(|_| (connect(), 0)).collect();
    let mut watcher = connect();
    assert!(text(&watcher.cmd_str(&["SUBSCRIBE", "ch"])).contains("subscribe"));
    let mut runner = connect();
    let script: &[u8] = b"redis.call('publish', 'ch', 'busy') while true do end";
    runner.send(&tumbler_tests::resp::encode(&[b"EVAL", script, b"0"])).unwrap();
    // The message gets out once the script is busy.
    assert!(text(&watcher.read_reply().unwrap()).contains("busy"));
    let mut next = tumbler_tests::xorshift(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let i = next(clients.len() as u64) as usize;
        let (c, sent) = &mut clients[i];
        match next(4) {
            0 => {
                // The rest of a request begun earlier, or a whole one.
                c.send(&get[*sent..]).unwrap();
                *sent = 0;
                assert_eq!(c.read_reply().unwrap(), BUSY, "round {round}");
            }
            1 if *sent == 0 => {
                *sent = 1 + next(get.len() as u64 - 1) as usize;
                c.send(&get[..*sent]).unwrap();
            }
            2 => {
                let n = 1 + next(50) as usize;
                let mut batch = get[*sent..].to_vec();
                batch.extend(get.repeat(n - 1));
                c.send(&batch).unwrap();
                *sent = 0;
                for _ in 0..n {
                    assert_eq!(c.read_reply().unwrap(), BUSY, "round {round}");
                }
            }
            _ => {
                // Hang up, perhaps in the middle of a request; someone else connects.
                clients[i] = (connect(), 0);
            }
        }
    }
    // SCRIPT KILL, after the rest of a request begun before, if any.
    let (admin, sent) = &mut clients[0];
    let begun = *sent > 0;
    let mut kill = if begun { get[*sent..].to_vec() } else { Vec::new() };
    kill.extend(tumbler_tests::resp::encode(&[b"SCRIPT", b"KILL"]));
    admin.send(&kill).unwrap();
    if begun {
        assert_eq!(admin.read_reply().unwrap(), BUSY);
    }
    *sent = 0;
    assert_eq!(admin.read_reply().unwrap(), b"+OK\r\n");
    let r = text(&runner.read_reply().unwrap());
    assert!(r.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{r}");
    for (c, sent) in &mut clients {
        c.send(&get[*sent..]).unwrap();
        assert_eq!(c.read_reply().unwrap(), b"$-1\r\n");
    }
    // The clients that hung up are gone: the 40, the watcher, the runner.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = text(&runner.cmd_str(&["INFO", "clients"]));
        if info.contains("connected_clients:42\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_healthy(&mut runner);
}
