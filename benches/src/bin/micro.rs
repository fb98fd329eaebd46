//! Microbenchmarks of the pieces a request passes through, each alone: the request parser, the
//! reply writer, keyspace operations (each one shard lock held for its duration, and the
//! expiry thread's longest hold), and the timing wheel (insert, move, cancel, and advancing
//! through a mass expiry, with the longest single tick: that bounds the expiry lag). Scripts
//! and whole requests are the embedded benchmark's (`embedded`), the network the socket
//! comparison's (`compare`).
//!
//! Each figure is the median of `--rounds` runs, in nanoseconds per operation.
//!
//! Usage: cargo run --release -p tumbler-benches --bin micro -- [--rounds N] [--timers N]

use std::hint::black_box;
use std::time::{Duration, Instant};
use tumbler_benches::resp;
use tumbler_expiry::{TimerId, Wheel};
use tumbler_keyspace::{Keyspace, NewValue, Ttl, SHARDS};
use tumbler_proto::{Limits, Parser, Reply, Step};

/// The server's allocator, so that allocation costs are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` (which performs `ops` operations) `rounds` times; prints the median ns/op.
fn bench(name: &str, rounds: usize, ops: usize, mut f: impl FnMut()) {
    let samples = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    println!("{name:<40} {:>10.1}", median(samples));
}

const TOKEN: &[u8] = b"01234567890123456789";

fn parser(rounds: usize) {
    let n = 100_000;
    let mut input = Vec::new();
    for i in 0..n {
        input.extend(resp(&[b"SET", format!("lock:{i:012}").as_bytes(), TOKEN, b"NX", b"PX", b"30000"]));
    }
    let limits = Limits { max_bulk_len: 512 << 20, unauthenticated: false };
    bench("parse SET k v NX PX (pipelined)", rounds, n, || {
        let mut p = Parser::new();
        let mut pos = 0;
        while pos < input.len() {
            match p.next(&input[pos..], limits) {
                Ok(Step::Request { args, consumed }) => {
                    black_box(args.len());
                    pos += consumed;
                }
                _ => panic!("malformed input"),
            }
        }
    });
}

fn writer(rounds: usize) {
    let n = 100_000;
    let mut r = Reply::new();
    bench("write +OK, a 20-byte bulk, :1", rounds, n, || {
        for _ in 0..n {
            r.ok();
            r.bulk(TOKEN);
            r.int(1);
        }
        black_box(r.as_bytes().len());
        let len = r.as_bytes().len();
        r.consume(len);
    });
}

fn keyspace(rounds: usize) {
    let n = 100_000;
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("lock:{i:012}").into_bytes()).collect();
    let ks = Keyspace::new(16);
    let now = 1_000_000;
    bench("keyspace: set with a TTL (new key)", rounds, n, || {
        for k in &keys {
            ks.write(ks.key(0, k), now, |e| {
                e.set(NewValue::Str(TOKEN), Ttl::At(now + 30_000));
            });
        }
        drop(ks.flush_all(now));
    });
    for k in &keys {
        ks.write(ks.key(0, k), now, |e| {
            e.set(NewValue::Str(TOKEN), Ttl::At(now + 600_000));
        });
    }
    bench("keyspace: get (hit)", rounds, n, || {
        for k in &keys {
            black_box(ks.read(ks.key(0, k), now, |e| e.map(|e| e.heap_bytes())));
        }
    });
    let mut at = now + 30_000;
    bench("keyspace: extend a deadline", rounds, n, || {
        at += 1;
        for k in &keys {
            ks.write(ks.key(0, k), now, |e| e.set_expire(at));
        }
    });
    // Absent keys in the same database as the 100k present ones (a miss in an empty
    // database would cost nothing but the hash).
    let absent: Vec<Vec<u8>> = (0..n).map(|i| format!("none:{i:012}").into_bytes()).collect();
    bench("keyspace: get (miss)", rounds, n, || {
        for k in &absent {
            black_box(ks.read(ks.key(0, k), now, |e| e.is_some()));
        }
    });
    reclaim_hold(rounds, &keys);
}

/// The longest a shard lock is held in normal operation: the expiry thread removing a pass's
/// budget of due keys from one shard (the server's budget is 256 timers a shard a pass). The
/// figure is a shard's whole pass: its lock held while the keys are taken out, then their
/// memory freed with the lock released. Every other keyspace call holds one shard's lock for
/// its own duration, as timed above.
fn reclaim_hold(rounds: usize, keys: &[Vec<u8>]) {
    const BUDGET: usize = 256;
    let now = 1_000_000;
    let mut holds = Vec::new();
    for _ in 0..rounds {
        let ks = Keyspace::new(1);
        for k in keys {
            ks.write(ks.key(0, k), now, |e| {
                e.set(NewValue::Str(TOKEN), Ttl::At(now + 10));
            });
        }
        // 100k keys over 64 shards: every shard has more than a budget's worth due, so one
        // pass removes a full budget from each, one lock hold each.
        let t = Instant::now();
        let removed = ks.reclaim(now + 1_000, BUDGET);
        let elapsed = t.elapsed();
        assert_eq!(removed, SHARDS * BUDGET, "a shard had less than a budget's worth due");
        holds.push(elapsed.as_nanos() as f64 / SHARDS as f64);
    }
    println!("{:<40} {:>10.1}", format!("keyspace: reclaim a shard's {BUDGET} due keys"), median(holds));
}

fn wheel(rounds: usize, timers: usize) {
    // Deadlines spread over 2 s, in an order unrelated to time (as keys arrive).
    let now = 10_000_000u64;
    let deadlines: Vec<u64> = (0..timers as u64).map(|i| now + 1 + (i * 7919) % 2000).collect();
    bench("wheel: insert", rounds, timers, || {
        let mut w = Wheel::new(now);
        for (i, &d) in deadlines.iter().enumerate() {
            black_box(w.insert(d, i as u64));
        }
    });
    let mut w = Wheel::new(now);
    let ids: Vec<TimerId> = deadlines.iter().enumerate().map(|(i, &d)| w.insert(d, i as u64)).collect();
    let mut shift = 0;
    bench("wheel: move to an earlier deadline", rounds, timers, || {
        shift += 1;
        for (id, &d) in ids.iter().zip(&deadlines) {
            w.reset(*id, d - shift % 500);
        }
    });
    bench("wheel: cancel and insert again", rounds, timers, || {
        for (id, &d) in ids.iter().zip(&deadlines) {
            w.remove(*id);
            black_box(w.insert(d, 0));
        }
    });
    // A mass expiry: every timer comes due over 2 s; the wheel advances 1 ms at a time, as
    // the expiry thread does. The longest tick is how late a key can be reclaimed by the
    // wheel's own work alone.
    let mut per_timer = Vec::new();
    let mut worst = Vec::new();
    for _ in 0..rounds {
        let mut w = Wheel::new(now);
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, i as u64);
        }
        let (mut popped, mut longest) = (0, Duration::ZERO);
        let t = Instant::now();
        for tick in now..=now + 2001 {
            let t0 = Instant::now();
            while let Some((id, _)) = w.pop_due(tick) {
                w.remove(id);
                popped += 1;
            }
            longest = longest.max(t0.elapsed());
        }
        assert_eq!(popped, timers);
        per_timer.push(t.elapsed().as_nanos() as f64 / timers as f64);
        worst.push(longest.as_secs_f64() * 1000.0);
    }
    println!("{:<40} {:>10.1}", format!("wheel: advance through {timers} expiries"), median(per_timer));
    println!("{:<40} {:>10.3}", "  longest 1 ms tick (ms)", median(worst));
}

const USAGE: &str = "\
Usage: micro [--rounds N] [--timers N]

Microbenchmarks of the parser, the reply writer, keyspace operations and the timing wheel, in
nanoseconds per operation (medians of rounds).

  --rounds N   rounds of each benchmark (7)
  --timers N   timers of the wheel's mass-expiry benchmark (1000000)
";

fn main() {
    let opts = tumbler_benches::Opts::parse(USAGE, &["--rounds", "--timers"]);
    let rounds = opts.count("--rounds", 7);
    let timers = opts.count("--timers", 1_000_000);
    println!("{:<40} {:>10}", "operation", "ns/op");
    parser(rounds);
    writer(rounds);
    keyspace(rounds);
    wheel(rounds, timers);
}
