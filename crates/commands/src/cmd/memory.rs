//! MEMORY: what a key and the server use, in Redis' reply shapes. The figures come from
//! tumbler's own accounting (a key's entry block and table slot; the counting allocator's total;
//! RSS from /proc), so the values differ from redis-server's; the fields, their order and the
//! errors do not.

use crate::cmd::connection::help;
use crate::info::{rss_bytes, used_memory};
use crate::util::{int, is};
use crate::{CmdResult, Ctx};
use tumbler_keyspace::SLOT_BYTES;
use tumbler_proto::errors;
use tumbler_proto::Args;

/// Below this much allocated memory MEMORY DOCTOR says the instance is too empty to judge
/// (Redis' 5 MB).
const DOCTOR_MIN_BYTES: usize = 5 << 20;
/// More cached scripts than this is a MEMORY DOCTOR finding (Redis' threshold).
const MANY_SCRIPTS: usize = 1000;

/// MEMORY USAGE key [SAMPLES count]: the bytes of the key's entry (key, value, header and any
/// owned buffers) and its table slot, or null. Sizes are exact, so SAMPLES is checked as Redis
/// checks it and otherwise has nothing to do.
pub fn usage(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut i = 3;
    while i < args.len() {
        if !(is(args.get(i), "samples") && i + 1 < args.len()) {
            return Err(errors::SYNTAX.into());
        }
        if int(args.get(i + 1))? < 0 {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    let now = ctx.now;
    let k = ctx.key(args.get(2));
    match ctx.srv.keyspace.read(k, now, |e| e.map(|e| e.heap_bytes() + SLOT_BYTES)) {
        Some(bytes) => ctx.reply.int(i64::try_from(bytes).unwrap_or(i64::MAX)),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// MEMORY STATS: Redis 7.0's fields in its order. tumbler keeps no peak (it reports the
/// current figure, as INFO does), no startup baseline and no client buffer totals (0).
pub fn stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let used = used_memory(ctx) as u64;
    let rss = rss_bytes() as u64;
    let dataset = srv.keyspace.dataset_bytes() as u64;
    let dbs: Vec<(usize, tumbler_keyspace::DbMemory)> =
        (0..srv.keyspace.databases()).map(|db| (db, srv.keyspace.db_memory(db))).filter(|(_, m)| m.keys > 0).collect();
    let keys: u64 = dbs.iter().map(|(_, m)| m.keys as u64).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let int = |r: &mut tumbler_proto::Reply, name: &str, v: u64| {
        r.bulk(name.as_bytes());
        r.int(i64::try_from(v).unwrap_or(i64::MAX));
    };
    let double = |r: &mut tumbler_proto::Reply, name: &str, v: f64| {
        r.bulk(name.as_bytes());
        r.double(v);
    };
    let r = &mut ctx.reply;
    r.map(27 + dbs.len());
    int(r, "peak.allocated", used);
    int(r, "total.allocated", used);
    int(r, "startup.allocated", 0);
    for name in ["replication.backlog", "clients.slaves", "clients.normal", "cluster.links", "aof.buffer"] {
        int(r, name, 0);
    }
    int(r, "lua.caches", srv.scripts.cache.body_bytes());
    int(r, "functions.caches", 0);
    for (db, m) in &dbs {
        r.bulk(format!("db.{db}").as_bytes());
        r.map(3);
        int(r, "overhead.hashtable.main", m.table_bytes as u64);
        int(r, "overhead.hashtable.expires", m.wheel_bytes as u64);
        int(r, "overhead.hashtable.slot-to-keys", 0);
    }
    int(r, "overhead.total", used.saturating_sub(dataset));
    int(r, "keys.count", keys);
    int(r, "keys.bytes-per-key", used.checked_div(keys).unwrap_or(0));
    int(r, "dataset.bytes", dataset);
    double(r, "dataset.percentage", ratio(dataset, used) * 100.0);
    double(r, "peak.percentage", if used == 0 { 0.0 } else { 100.0 });
    int(r, "allocator.allocated", used);
    int(r, "allocator.active", used);
    int(r, "allocator.resident", rss);
    double(r, "allocator-fragmentation.ratio", 1.0);
    int(r, "allocator-fragmentation.bytes", 0);
    double(r, "allocator-rss.ratio", ratio(rss, used));
    int(r, "allocator-rss.bytes", rss.saturating_sub(used));
    double(r, "rss-overhead.ratio", 1.0);
    int(r, "rss-overhead.bytes", 0);
    double(r, "fragmentation", ratio(rss, used));
    r.bulk(b"fragmentation.bytes");
    r.int(rss as i64 - used as i64);
    Ok(())
}

/// MEMORY DOCTOR: Redis' report, for what tumbler can judge: too little memory to say, too
/// many cached scripts, or nothing found.
pub fn doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let report: String = if used_memory(ctx) < DOCTOR_MIN_BYTES {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into()
    } else if ctx.srv.scripts.cache.len() > MANY_SCRIPTS {
        concat!(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n",
            "I'm here to keep you safe, Sam. I want to help you.\n"
        )
        .into()
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
            .into()
    };
    ctx.reply.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS: Redis' reply when its allocator is not jemalloc.
pub fn malloc_stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: mimalloc returns freed pages to the system by itself; OK, as Redis replies
/// when its allocator is not jemalloc.
pub fn purge(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.ok();
    Ok(())
}

/// MEMORY HELP
pub fn help_text(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
