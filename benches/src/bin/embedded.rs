//! Embedded benchmark: requests as bytes in, replies as bytes out, no socket. It measures what
//! a request costs inside tumbler (parsing, dispatch, keyspace, scripting, reply encoding)
//! without the kernel and the load generator, which dominate the socket benchmarks.
//!
//! Each workload is a pipeline of requests fed to one connection's parser and dispatcher, the
//! way the network layer does it; the figure is nanoseconds per request (median of rounds).
//!
//! Usage: cargo run --release -p tumbler-benches --bin embedded -- [--rounds N] [--requests N]
//!        [--workloads evalsha-cad,eval-cad,delifeq,set-nx-px,get,del,pexpire,mset,mget,ping]

use std::sync::Arc;
use std::time::Instant;
use tumbler_benches::{resp, CAD};
use tumbler_commands::{dispatch, ClientInfo, Config, Conn, Ctx, Passage, Server};
use tumbler_expiry::SystemClock;
use tumbler_proto::{Limits, Parser, Reply, Step};

/// The server's allocator, so that allocation costs are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sha1_hex(s: &str) -> String {
    String::from_utf8(tumbler_scripting::sha1_hex(s.as_bytes()).to_vec()).unwrap_or_default()
}

/// Keys the workloads spread over (the socket benchmark's are 100k: this keeps the table in
/// cache less than a tiny keyspace would, without making every round load 100k keys).
const KEYS: usize = 10_000;

/// A workload's requests: `setup` runs before each round unmeasured (the keys a GET or a
/// PEXPIRE finds), `measured` is timed; `per` requests of it count as one (a SET and the
/// compare-and-delete that releases it are one lock cycle).
struct Workload {
    setup: Vec<u8>,
    measured: Vec<u8>,
    per: usize,
}

/// The request stream of a workload of `n` measured requests.
fn workload(name: &str, n: usize) -> Workload {
    let token: &[u8] = b"\x8a\x01\xff\x10\x00tok-20-random-bytes";
    let sha = sha1_hex(CAD);
    let key = |i: usize| format!("lock:{}", i % KEYS).into_bytes();
    let mut setup = resp(&[b"FLUSHALL"]);
    if matches!(name, "get" | "del" | "pexpire" | "mget") {
        for i in 0..KEYS {
            setup.extend(resp(&[b"SET", &key(i), token, b"PX", b"600000"]));
        }
    }
    let mut measured = Vec::new();
    let mut per = 1;
    for i in 0..n {
        let k = key(i);
        let k = k.as_slice();
        match name {
            "set-nx-px" => measured.extend(resp(&[b"SET", k, token, b"NX", b"PX", b"30000"])),
            "get" => measured.extend(resp(&[b"GET", k])),
            "del" => measured.extend(resp(&[b"DEL", k])),
            "pexpire" => measured.extend(resp(&[b"PEXPIRE", k, b"30000"])),
            "ping" => measured.extend(resp(&[b"PING"])),
            "mset" | "mget" => {
                // Ten keys per request, as redis-benchmark's MSET.
                let keys: Vec<Vec<u8>> = (0..10).map(|j| key(i * 10 + j)).collect();
                let mut a: Vec<&[u8]> = vec![if name == "mset" { b"MSET" } else { b"MGET" }];
                for k in &keys {
                    a.push(k);
                    if name == "mset" {
                        a.push(token);
                    }
                }
                measured.extend(resp(&a));
            }
            "evalsha-cad" | "eval-cad" | "delifeq" => {
                per = 2;
                measured.extend(resp(&[b"SET", k, token, b"PX", b"30000"]));
                match name {
                    "evalsha-cad" => measured.extend(resp(&[b"EVALSHA", sha.as_bytes(), b"1", k, token])),
                    "eval-cad" => measured.extend(resp(&[b"EVAL", CAD.as_bytes(), b"1", k, token])),
                    _ => measured.extend(resp(&[b"DELIFEQ", k, token])),
                }
            }
            other => panic!("unknown workload {other}"),
        }
    }
    Workload { setup, measured, per }
}

/// Requests per batch, as a client pipelining 16 (`redis-benchmark -P 16`) delivers them: the
/// server reads the clock and passes the gate once per batch.
const BATCH: usize = 16;

/// Runs every request in `input` through one connection, in batches the way the network layer
/// does; returns the reply bytes produced.
fn run(srv: &Server, conn: &mut Conn, reply: &mut Reply, input: &[u8]) -> usize {
    let mut parser = Parser::new();
    let mut pos = 0;
    let mut out = 0;
    let limits = Limits { max_bulk_len: 512 << 20, unauthenticated: false };
    while pos < input.len() {
        let mut gate = Some(Passage::from(srv.gate.shared(0)));
        let us = srv.clock.mono_us();
        conn.cmd_start_us = us;
        conn.timed = tumbler_commands::dispatch::commands_timed(srv);
        let mut now = us / 1000;
        for _ in 0..BATCH {
            if pos >= input.len() {
                break;
            }
            let mut ctx = Ctx { srv, conn: &mut *conn, reply: &mut *reply, now, worker: 0, gate: &mut gate };
            let consumed = match parser.next(&input[pos..], limits) {
                Ok(Step::Request { args, consumed }) => {
                    dispatch(&mut ctx, args);
                    consumed
                }
                Ok(Step::Skip { consumed }) => consumed,
                _ => panic!("malformed benchmark input"),
            };
            now = ctx.now;
            pos += consumed;
        }
        out += reply.len();
        let n = reply.len();
        reply.consume(n);
    }
    out
}

/// The timed part, a function of its own so that callgrind can count it alone
/// (`--toggle-collect='embedded::measure'`).
#[inline(never)]
fn measure(srv: &Server, conn: &mut Conn, reply: &mut Reply, input: &[u8]) -> usize {
    run(srv, conn, reply, input)
}

const WORKLOADS: &str = "evalsha-cad,eval-cad,delifeq,set-nx-px,get,del,pexpire,mset,mget,ping";

const USAGE: &str = "\
Usage: embedded [--rounds N] [--requests N] [--workloads LIST]

Requests as bytes in, replies as bytes out through one connection's parser and dispatcher, no
socket: nanoseconds per request (median of rounds, with the fastest and slowest).

  --rounds N        rounds of each workload (7)
  --requests N      requests a round (200000)
  --workloads LIST  evalsha-cad,eval-cad,delifeq,set-nx-px,get,del,pexpire,mset,mget,ping (all)
";

fn main() {
    let opts = tumbler_benches::Opts::parse(USAGE, &["--rounds", "--requests", "--workloads"]);
    let rounds = opts.count("--rounds", 7);
    let requests = opts.count("--requests", 200_000);
    let workloads = opts.text("--workloads").unwrap_or(WORKLOADS).to_string();
    if let Some(w) = workloads.split(',').find(|w| !WORKLOADS.split(',').any(|k| k == *w)) {
        opts.refuse(&format!("unknown workload {w:?}"));
    }

    let srv = Arc::new(Server::new(Config::default(), Arc::new(SystemClock::new()), 1, String::new()));
    let info = Arc::new(ClientInfo::new(1, "127.0.0.1:1".into(), "127.0.0.1:6379".into(), -1, 0));
    let mut conn = Conn::new(info, true, true);
    let mut reply = Reply::new();
    // Load the script once, as clients do before their first EVALSHA.
    run(&srv, &mut conn, &mut reply, &resp(&[b"SCRIPT", b"LOAD", CAD.as_bytes()]));

    println!("{:<14} {:>12} {:>14}", "workload", "ns/request", "(min .. max)");
    for w in workloads.split(',') {
        let wl = workload(w, requests);
        let mut samples = Vec::new();
        for _ in 0..rounds {
            run(&srv, &mut conn, &mut reply, &wl.setup);
            let t = Instant::now();
            let bytes = measure(&srv, &mut conn, &mut reply, &wl.measured);
            let ns = t.elapsed().as_nanos() as f64 / (requests * wl.per) as f64;
            assert!(bytes > 0);
            samples.push(ns);
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "{:<14} {:>12.0} {:>14}",
            w,
            samples[samples.len() / 2],
            format!("({:.0} .. {:.0})", samples[0], samples[samples.len() - 1])
        );
    }
}
