//! `tumbler bench`: C clients, each with its own connections, run acquire → hold → release
//! cycles on K keys (client i uses key i mod K, so K < C means contention) for a duration or a
//! number of cycles, and the latencies of acquiring and of whole cycles go into HDR histograms.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use tumbler_redlock::{Error, Redlock, Retry};

use crate::util::parse_duration;
use crate::{exit, ConnArgs, Fail};

/// `tumbler bench`.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Concurrent clients, each with its own connection to every node.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Run for this long (ignored with --cycles).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Run this many successful cycles in total instead of for a duration.
    #[arg(long)]
    cycles: Option<u64>,
    /// Distinct lock names; fewer keys than clients means contention (default: one per client).
    #[arg(long)]
    keys: Option<usize>,
    /// How long to hold each lock before releasing it.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    hold: Duration,
    /// Lock TTL.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ttl: Duration,
    /// Fenced acquisition (LOCK.ACQUIRE + LOCK.FENCE; tumbler nodes only).
    #[arg(long)]
    fenced: bool,
    /// Key prefix.
    #[arg(long, default_value = "tumbler-bench:")]
    prefix: String,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Counters shared by the clients.
#[derive(Default)]
struct Shared {
    cycles: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    /// Cycles still to start, with --cycles.
    budget: Option<AtomicU64>,
}

impl Shared {
    /// Claims one cycle; false once the work is done.
    fn claim(&self) -> bool {
        if self.stop.load(Relaxed) {
            return false;
        }
        match &self.budget {
            None => true,
            Some(b) => b.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok(),
        }
    }

    /// Gives a claimed cycle back (its acquisition failed).
    fn unclaim(&self) {
        if let Some(b) = &self.budget {
            b.fetch_add(1, Relaxed);
        }
    }
}

fn histogram() -> Result<Histogram<u64>, Fail> {
    // Microseconds, 1 µs to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| Fail::new(exit::SOFTWARE, format!("histogram: {e}")))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

async fn client_loop(
    client: Redlock,
    key: String,
    a: Arc<BenchParams>,
    shared: Arc<Shared>,
    empty: Histogram<u64>,
) -> (Histogram<u64>, Histogram<u64>) {
    let (mut acq, mut cyc) = (empty.clone(), empty);
    let retry = Retry { query_retry_after: false, ..Retry::none() };
    while shared.claim() {
        let start = Instant::now();
        let r = if a.fenced {
            client.acquire_fenced(&key, a.ttl, retry).await
        } else {
            client.acquire_with(&key, a.ttl, retry).await
        };
        let lock = match r {
            Ok(l) => l,
            Err(e) => {
                shared.unclaim();
                match e {
                    Error::Refused { .. } => shared.refused.fetch_add(1, Relaxed),
                    Error::Unsupported(_) | Error::Config(_) => {
                        shared.stop.store(true, Relaxed);
                        shared.errors.fetch_add(1, Relaxed)
                    }
                    _ => shared.errors.fetch_add(1, Relaxed),
                };
                // Let the holder get on; do not spin on a held key.
                tokio::time::sleep(Duration::from_micros(500)).await;
                continue;
            }
        };
        acq.saturating_record(micros(start.elapsed()));
        if !a.hold.is_zero() {
            tokio::time::sleep(a.hold).await;
        }
        if client.release(&lock).await.is_err() {
            shared.errors.fetch_add(1, Relaxed);
        }
        cyc.saturating_record(micros(start.elapsed()));
        shared.cycles.fetch_add(1, Relaxed);
    }
    (acq, cyc)
}

/// What every client needs to know.
struct BenchParams {
    ttl: Duration,
    hold: Duration,
    fenced: bool,
}

fn summary(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "p50": h.value_at_quantile(0.50),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
        "count": h.len(),
    })
}

fn fmt_us(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.3}ms", us as f64 / 1000.0)
    }
}

fn line(name: &str, h: &Histogram<u64>) -> String {
    format!(
        "{name:<8} p50 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
        fmt_us(h.value_at_quantile(0.50)),
        fmt_us(h.value_at_quantile(0.99)),
        fmt_us(h.value_at_quantile(0.999)),
        fmt_us(h.max())
    )
}

pub(crate) async fn bench(a: BenchArgs) -> Result<u8, Fail> {
    if a.clients == 0 {
        return Err(Fail::new(2, "--clients must be at least 1"));
    }
    let keys = a.keys.unwrap_or(a.clients).max(1);
    let (nodes, opts) = a.conn.parts()?;
    let node_count = nodes.len();
    let params = Arc::new(BenchParams { ttl: a.ttl, hold: a.hold, fenced: a.fenced });
    let shared = Arc::new(Shared { budget: a.cycles.map(AtomicU64::new), ..Shared::default() });
    let empty = histogram()?;
    let mut tasks = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let client = Redlock::new(nodes.clone(), opts.clone()).map_err(Fail::from)?;
        let key = format!("{}{}", a.prefix, i % keys);
        tasks.push(tokio::spawn(client_loop(client, key, params.clone(), shared.clone(), empty.clone())));
    }
    let start = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await;
    // Wait for the end: the duration, or every client finishing its share of --cycles.
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        let done = tasks.iter().all(|t| t.is_finished());
        if tty {
            let c = shared.cycles.load(Relaxed);
            eprint!(
                "\r{:>6.1}s  {c} cycles  {:.0}/s  refused {}  errors {}   ",
                elapsed.as_secs_f64(),
                c as f64 / elapsed.as_secs_f64().max(1e-9),
                shared.refused.load(Relaxed),
                shared.errors.load(Relaxed)
            );
        }
        if done || (a.cycles.is_none() && elapsed >= a.duration) {
            break;
        }
    }
    shared.stop.store(true, Relaxed);
    let (mut acq, mut cyc) = (histogram()?, histogram()?);
    for t in tasks {
        if let Ok((h1, h2)) = t.await {
            let _ = acq.add(&h1);
            let _ = cyc.add(&h2);
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    if tty {
        eprintln!();
    }
    let cycles = shared.cycles.load(Relaxed);
    let (refused, errors) = (shared.refused.load(Relaxed), shared.errors.load(Relaxed));
    let rate = cycles as f64 / elapsed;
    if a.conn.json {
        println!(
            "{}",
            json!({
                "nodes": node_count,
                "clients": a.clients,
                "keys": keys,
                "hold_ms": a.hold.as_secs_f64() * 1000.0,
                "ttl_ms": a.ttl.as_millis() as u64,
                "fenced": a.fenced,
                "seconds": (elapsed * 1000.0).round() / 1000.0,
                "cycles": cycles,
                "cycles_per_sec": (rate * 10.0).round() / 10.0,
                "refused": refused,
                "errors": errors,
                "acquire_us": summary(&acq),
                "cycle_us": summary(&cyc),
            })
        );
    } else {
        println!(
            "{node_count} node(s), {} client(s), {keys} key(s), hold {:?}, {}",
            a.clients,
            a.hold,
            if a.fenced { "fenced" } else { "plain Redlock" }
        );
        println!("{cycles} cycles in {elapsed:.2}s: {rate:.1} cycles/s, {refused} refused, {errors} errors");
        println!("{}", line("acquire", &acq));
        println!("{}", line("cycle", &cyc));
    }
    if cycles == 0 && errors > 0 {
        return Ok(exit::UNAVAILABLE);
    }
    Ok(0)
}
