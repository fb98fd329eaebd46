//! Blocking list and sorted-set pops across connections: first come, first served wake-ups,
//! timeouts, CLIENT UNBLOCK, and what was pipelined behind a blocked command.

use std::time::{Duration, Instant};
use tumbler_tests::resp::{parse, RawConn, Value};
use tumbler_tests::Tumbler;

fn blocked_count(c: &mut RawConn) -> i64 {
    let text = parse(&c.cmd_str(&["INFO", "clients"])).0.text();
    text.lines().find_map(|l| l.strip_prefix("blocked_clients:")).unwrap().parse().unwrap()
}

/// Waits until the server reports `n` blocked clients.
fn until_blocked(c: &mut RawConn, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_count(c) != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn push_wakes_the_longest_waiting_client_first() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let mut first = RawConn::connect(t.addr()).unwrap();
    let mut second = RawConn::connect(t.addr()).unwrap();
    first.send(b"BLPOP q 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    second.send(b"BLPOP q 0\r\n").unwrap();
    until_blocked(&mut admin, 2);
    assert_eq!(admin.cmd_str(&["RPUSH", "q", "a", "b", "c"]), b":3\r\n");
    assert_eq!(first.read_reply().unwrap(), b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(second.read_reply().unwrap(), b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    // Served before the pusher got its reply: what is left is exactly the rest.
    assert_eq!(admin.cmd_str(&["LRANGE", "q", "0", "-1"]), b"*1\r\n$1\r\nc\r\n");
    assert_eq!(blocked_count(&mut admin), 0);
}

#[test]
fn timeouts_reply_null_in_each_protocol() {
    let t = Tumbler::start(&[]);
    let mut c2 = RawConn::connect(t.addr()).unwrap();
    let start = Instant::now();
    assert_eq!(c2.cmd_str(&["BLPOP", "nothing", "0.05"]), b"*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(50));
    let mut c3 = RawConn::connect(t.addr()).unwrap();
    c3.cmd_str(&["HELLO", "3"]);
    assert_eq!(c3.cmd_str(&["BRPOPLPUSH", "nothing", "dst", "0.05"]), b"_\r\n");
    assert_eq!(c3.cmd_str(&["BZPOPMIN", "nothing", "0.05"]), b"_\r\n");
    // Redis 7.0 answers a BLMOVE timeout with a null array, not a null bulk (see lists.redis).
    assert_eq!(c2.cmd_str(&["BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.05"]), b"*-1\r\n");
}

#[test]
fn commands_pipelined_behind_a_blocked_pop_run_after_it() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let mut c = RawConn::connect(t.addr()).unwrap();
    c.send(b"BLPOP q 0\r\nSET after 1\r\nGET after\r\n").unwrap();
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd_str(&["EXISTS", "after"]), b":0\r\n", "nothing behind the blocked command ran yet");
    admin.cmd_str(&["LPUSH", "q", "x"]);
    assert_eq!(c.read_reply().unwrap(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(c.read_reply().unwrap(), b"$1\r\n1\r\n");
}

#[test]
fn blmove_chains_wake_the_next_list() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let mut mover = RawConn::connect(t.addr()).unwrap();
    let mut reader = RawConn::connect(t.addr()).unwrap();
    mover.send(b"BLMOVE a b LEFT RIGHT 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    reader.send(b"BLPOP b 0\r\n").unwrap();
    until_blocked(&mut admin, 2);
    admin.cmd_str(&["RPUSH", "a", "v"]);
    assert_eq!(mover.read_reply().unwrap(), b"$1\r\nv\r\n");
    assert_eq!(reader.read_reply().unwrap(), b"*2\r\n$1\r\nb\r\n$1\r\nv\r\n");
    assert_eq!(admin.cmd_str(&["EXISTS", "a", "b"]), b":0\r\n");
}

#[test]
fn client_unblock_and_kill() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let mut c = RawConn::connect(t.addr()).unwrap();
    let id = match parse(&c.cmd_str(&["CLIENT", "ID"])).0 {
        Value::Int(i) => i.to_string(),
        other => panic!("{other:?}"),
    };
    c.send(b"BZPOPMAX z 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd_str(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(c.read_reply().unwrap(), b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    c.send(b"BLPOP q 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd_str(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(c.read_reply().unwrap(), b"*-1\r\n");
    assert_eq!(admin.cmd_str(&["CLIENT", "UNBLOCK", &id]), b":0\r\n", "not blocked any more");
    c.send(b"BLPOP q 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    until_blocked(&mut admin, 0);
    assert!(c.is_closed(Duration::from_secs(2)));
    // Nobody waits on q any more: a push stays in the list.
    admin.cmd_str(&["RPUSH", "q", "kept"]);
    assert_eq!(admin.cmd_str(&["LLEN", "q"]), b":1\r\n");
}

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    {
        let mut c = RawConn::connect(t.addr()).unwrap();
        c.send(b"BLPOP q 0\r\n").unwrap();
        until_blocked(&mut admin, 1);
    }
    until_blocked(&mut admin, 0);
    admin.cmd_str(&["RPUSH", "q", "v"]);
    assert_eq!(admin.cmd_str(&["LLEN", "q"]), b":1\r\n");
}

/// A push inside a transaction or a script wakes a blocked client once the transaction or
/// script has finished: it is served from the final state, as in Redis.
#[test]
fn pushes_inside_exec_and_scripts_wake_blocked_clients_after_them() {
    let t = Tumbler::start(&[]);
    let mut admin = RawConn::connect(t.addr()).unwrap();
    let mut waiter = RawConn::connect(t.addr()).unwrap();
    waiter.send(b"BLPOP tx 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd_str(&["MULTI"]), b"+OK\r\n");
    assert_eq!(admin.cmd_str(&["RPUSH", "tx", "a", "b"]), b"+QUEUED\r\n");
    assert_eq!(admin.cmd_str(&["LPOP", "tx"]), b"+QUEUED\r\n");
    assert_eq!(admin.cmd_str(&["EXEC"]), b"*2\r\n:2\r\n$1\r\na\r\n");
    // The transaction popped "a" itself: the waiter gets what was left when EXEC ended.
    assert_eq!(waiter.read_reply().unwrap(), b"*2\r\n$2\r\ntx\r\n$1\r\nb\r\n");

    waiter.send(b"BLPOP sc 0\r\n").unwrap();
    until_blocked(&mut admin, 1);
    let script =
        "redis.call('rpush', KEYS[1], 'x'); redis.call('rpush', KEYS[1], 'y'); return redis.call('llen', KEYS[1])";
    assert_eq!(admin.cmd_str(&["EVAL", script, "1", "sc"]), b":2\r\n");
    assert_eq!(waiter.read_reply().unwrap(), b"*2\r\n$2\r\nsc\r\n$1\r\nx\r\n");
    assert_eq!(admin.cmd_str(&["LRANGE", "sc", "0", "-1"]), b"*1\r\n$1\r\ny\r\n");
    assert_eq!(blocked_count(&mut admin), 0);
}
