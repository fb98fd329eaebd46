//! Generic key commands and expiry: DEL, EXISTS, EXPIRE and friends, TTL, SCAN, RENAME, COPY…

use crate::notify::N;
use crate::util::{db_index, int, int32, is};
use crate::{CmdError, CmdResult, Ctx};
use tumbler_keyspace::{Entry, KeyRef, ScanFilter, NO_EXPIRE};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::Args;

/// `-ERR source and destination objects are the same`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

fn keys_of<'a>(ctx: &Ctx<'_>, args: &Args<'a>, from: usize) -> Vec<KeyRef<'a>> {
    args.iter().skip(from).map(|k| ctx.key(k)).collect()
}

fn del_generic(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let n = if args.len() == 2 {
        let gone = srv.keyspace.write(ctx.key(args.get(1)), ctx.now, |e| e.remove().is_some());
        if gone {
            ctx.notify(N::GENERIC, "del", args.get(1));
        }
        i64::from(gone)
    } else {
        let keys = keys_of(ctx, &args, 1);
        let mut locked = srv.keyspace.lock(ctx.now, true, &keys);
        let gone: Vec<bool> = keys.iter().map(|k| locked.entry(k).remove().is_some()).collect();
        drop(locked);
        for (k, _) in keys.iter().zip(&gone).filter(|(_, g)| **g) {
            ctx.notify(N::GENERIC, "del", k.key);
        }
        gone.iter().filter(|g| **g).count() as i64
    };
    ctx.reply.int(n);
    Ok(())
}

/// DEL key [key ...]
pub fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    del_generic(ctx, args)
}

/// UNLINK key [key ...] (values are small; freeing them inline costs no more than a handoff)
pub fn unlink(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    del_generic(ctx, args)
}

/// EXISTS key [key ...] (a key named twice counts twice)
pub fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let keys = keys_of(ctx, &args, 1);
    let locked = srv.keyspace.lock(ctx.now, false, &keys);
    let n = keys.iter().filter(|k| locked.get(k).is_some()).count();
    drop(locked);
    ctx.reply.int(n as i64);
    Ok(())
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let keys = keys_of(ctx, &args, 1);
    let locked = srv.keyspace.lock(ctx.now, false, &keys);
    let lru = tumbler_keyspace::lru_clock(ctx.now);
    let n = keys
        .iter()
        .filter(|k| match locked.get(k) {
            Some(e) => {
                e.touch(lru);
                true
            }
            None => false,
        })
        .count();
    drop(locked);
    ctx.reply.int(n as i64);
    Ok(())
}

/// TYPE key
pub fn type_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let name = srv.keyspace.read(ctx.key(args.get(1)), ctx.now, |e| e.map_or("none", |e| e.value_type().name()));
    ctx.reply.simple(name.as_bytes());
    Ok(())
}

/// Milliseconds from now to a monotonic deadline, and the deadline as Unix ms.
fn wall_of(ctx: &Ctx<'_>, at: u64) -> i64 {
    let off = ctx.srv.clock.wall_offset_ms();
    (i128::from(at) + i128::from(off)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Shared body of TTL, PTTL, EXPIRETIME and PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ms: bool, absolute: bool) -> CmdResult {
    let srv = ctx.srv;
    let at = srv.keyspace.read(ctx.key(args.get(1)), ctx.now, |e| e.map(Entry::expire_at));
    // Inside a long script (whose lookups keep the script's start time) a key past its deadline
    // reports 0, not a stale TTL: see Ctx::ttl_now.
    let now = ctx.ttl_now();
    let v: i64 = match at {
        None => -2,
        Some(NO_EXPIRE) => -1,
        Some(at) => {
            let t: i128 =
                if absolute { i128::from(wall_of(ctx, at)) } else { (i128::from(at) - i128::from(now)).max(0) };
            let t = if ms { t } else { (t + 500) / 1000 };
            t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
        }
    };
    ctx.srv.stats.worker(ctx.worker).lookup(at.is_some());
    ctx.reply.int(v);
    Ok(())
}

/// TTL key
pub fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let done = srv.keyspace.write(ctx.key(args.get(1)), ctx.now, |e| e.persist());
    if done {
        ctx.notify(N::GENERIC, "persist", args.get(1));
    }
    ctx.reply.int(i64::from(done));
    Ok(())
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, following Redis' order of checks:
/// options, number, overflow, key, conditions, then delete-if-past or set.
fn expire_generic(ctx: &mut Ctx<'_>, args: Args<'_>, seconds: bool, relative: bool, cmd: &str) -> CmdResult {
    let mut f = ExpireFlags::default();
    for opt in args.iter().skip(3) {
        let o = cstr(opt);
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            let mut m = b"ERR Unsupported option ".to_vec();
            m.extend_from_slice(o);
            return Err(CmdError::Owned(m));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(errors::EXPIRE_NX_XX_GT_LT.into());
    }
    if f.gt && f.lt {
        return Err(errors::EXPIRE_GT_LT.into());
    }
    let mut when = int(args.get(2))?;
    let bad = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(bad());
        }
        when *= 1000;
    }
    // Deadlines are compared and stored on the monotonic clock. A relative time needs no wall
    // clock at all (except to reproduce Redis' overflow error for absurd values); an absolute
    // one is converted once, here.
    let now = i128::from(ctx.ttl_now());
    let new_at: i128 = if relative {
        if when > i64::MAX / 2 && when.checked_add(ctx.wall_ms()).is_none() {
            return Err(bad());
        }
        now + i128::from(when)
    } else {
        now + i128::from(when) - i128::from(ctx.wall_ms())
    };
    let srv = ctx.srv;
    let mut event = "expire";
    let r = srv.keyspace.write(ctx.key(args.get(1)), ctx.now, |e| -> i64 {
        let Some(cur) = e.get() else { return 0 };
        let current = match cur.expire_at() {
            NO_EXPIRE => None,
            at => Some(i128::from(at)),
        };
        if (f.nx && current.is_some()) || (f.xx && current.is_none()) {
            return 0;
        }
        if f.gt && current.is_none_or(|c| new_at <= c) {
            return 0;
        }
        if f.lt && current.is_some_and(|c| new_at >= c) {
            return 0;
        }
        if new_at <= now {
            e.remove();
            event = "del";
        } else {
            e.set_expire(new_at.min(i128::from(u64::MAX - 2)) as u64);
        }
        1
    });
    if r == 1 {
        ctx.notify(N::GENERIC, event, args.get(1));
    }
    ctx.reply.int(r);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, true, true, "expire")
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, false, true, "pexpire")
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, true, false, "expireat")
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// KEYS pattern
pub fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut out = Vec::new();
    ctx.srv.keyspace.keys(ctx.conn.db, args.get(1), ctx.now, &mut out);
    ctx.reply.array(out.len());
    for k in &out {
        ctx.reply.bulk(k);
    }
    Ok(())
}

/// Parses a SCAN cursor like C's `strtoul(s, &end, 10)` with Redis' checks: no leading blank,
/// the whole string consumed, no overflow. A sign is accepted and a minus wraps around.
pub(crate) fn parse_cursor(s: &[u8]) -> Result<u64, CmdError> {
    let bad = || CmdError::Static(errors::INVALID_CURSOR);
    if s.first().is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')) {
        return Err(bad());
    }
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: valid only if the whole input was empty.
        return if s.is_empty() { Ok(0) } else { Err(bad()) };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = parse_cursor(args.get(1))?;
    let mut count: i64 = 10;
    let mut pattern = None;
    let mut type_name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i >= 2;
        let a = cstr(args.get(i));
        if is(a, "count") && more {
            count = int(args.get(i + 1))?;
            if count < 1 {
                return Err(errors::SYNTAX.into());
            }
        } else if is(a, "match") && more {
            pattern = Some(args.get(i + 1));
        } else if is(a, "type") && more {
            type_name = Some(args.get(i + 1));
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    let filter = ScanFilter { pattern, type_name };
    let mut out = Vec::new();
    let next = ctx.srv.keyspace.scan(ctx.conn.db, cursor, count as usize, ctx.now, &filter, &mut out);
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(out.len());
    for k in &out {
        ctx.reply.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let mut state = [0u8; 8];
    crate::server::fill_random(&mut state);
    let mut x = u64::from_le_bytes(state) | 1;
    let rng = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match ctx.srv.keyspace.random_key(ctx.conn.db, ctx.now, rng) {
        Some(k) => ctx.reply.bulk(&k),
        None => ctx.reply.null(),
    }
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    let srv = ctx.srv;
    let (ks, kd) = (ctx.key(src), ctx.key(dst));
    let lru = tumbler_keyspace::lru_clock(ctx.now);
    let mut locked = srv.keyspace.lock(ctx.now, true, &[ks, kd]);
    if locked.get(&ks).is_none() {
        return Err(errors::NO_SUCH_KEY.into());
    }
    if src == dst {
        drop(locked);
        if nx {
            ctx.reply.int(0);
        } else {
            ctx.reply.ok();
        }
        return Ok(());
    }
    if nx && locked.get(&kd).is_some() {
        drop(locked);
        ctx.reply.int(0);
        return Ok(());
    }
    // Read the deadline first: removing an entry clears its timer fields.
    let at = locked.get(&ks).map_or(NO_EXPIRE, Entry::expire_at);
    let Some(old) = locked.entry(&ks).remove() else { return Err(errors::NO_SUCH_KEY.into()) };
    locked.entry(&kd).put(old.clone_as(dst, lru), at);
    drop(locked);
    ctx.notify(N::GENERIC, "rename_from", src);
    ctx.notify(N::GENERIC, "rename_to", dst);
    if nx {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let mut replace = false;
    let mut dst_db = ctx.conn.db;
    let mut j = 3;
    while j < args.len() {
        let a = cstr(args.get(j));
        if is(a, "replace") {
            replace = true;
        } else if is(a, "db") && j + 1 < args.len() {
            dst_db = db_index(args.get(j + 1), srv.keyspace.databases())?;
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let (src, dst) = (args.get(1), args.get(2));
    if dst_db == ctx.conn.db && src == dst {
        return Err(SAME_OBJECT.into());
    }
    let ks = ctx.key(src);
    let kd = srv.keyspace.key(dst_db, dst);
    let lru = tumbler_keyspace::lru_clock(ctx.now);
    let mut locked = srv.keyspace.lock(ctx.now, true, &[ks, kd]);
    let Some((copy, at)) = locked.get(&ks).map(|e| (e.clone_as(dst, lru), e.expire_at())) else {
        drop(locked);
        ctx.reply.int(0);
        return Ok(());
    };
    if locked.get(&kd).is_some() && !replace {
        drop(locked);
        ctx.reply.int(0);
        return Ok(());
    }
    locked.entry(&kd).put(copy, at);
    drop(locked);
    srv.notify(N::GENERIC, "copy_to", dst_db, dst);
    ctx.reply.int(1);
    Ok(())
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let dst_db = db_index(args.get(2), srv.keyspace.databases())?;
    if dst_db == ctx.conn.db {
        return Err(SAME_OBJECT.into());
    }
    let key = args.get(1);
    let ks = ctx.key(key);
    let kd = srv.keyspace.key(dst_db, key);
    let mut locked = srv.keyspace.lock(ctx.now, true, &[ks, kd]);
    if locked.get(&ks).is_none() || locked.get(&kd).is_some() {
        drop(locked);
        ctx.reply.int(0);
        return Ok(());
    }
    let at = locked.get(&ks).map_or(NO_EXPIRE, Entry::expire_at);
    let moved = locked.entry(&ks).remove();
    if let Some(e) = moved {
        locked.entry(&kd).put(e, at);
    }
    drop(locked);
    ctx.notify(N::GENERIC, "move_from", key);
    srv.notify(N::GENERIC, "move_to", dst_db, key);
    ctx.reply.int(1);
    Ok(())
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let n = ctx.srv.keyspace.dbsize(ctx.conn.db);
    ctx.reply.int(n as i64);
    Ok(())
}

/// Parses FLUSHDB / FLUSHALL's optional ASYNC|SYNC; returns whether to free in the background.
fn flush_mode(args: &Args<'_>) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(false),
        2 if is(cstr(args.get(1)), "async") => Ok(true),
        2 if is(cstr(args.get(1)), "sync") => Ok(false),
        _ => Err(errors::SYNTAX.into()),
    }
}

/// Drops old shards, on another thread when asked to (ASYNC) or when there is a lot to free.
fn dispose(old: Vec<tumbler_keyspace::Shard>, background: bool) {
    let big = old.iter().map(|s| s.len()).sum::<usize>() > 64 * 1024;
    if background || big {
        std::thread::Builder::new().name("tumbler-lazyfree".into()).spawn(move || drop(old)).ok();
    }
}

/// FLUSHDB [ASYNC | SYNC]
pub fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bg = flush_mode(&args)?;
    let old = ctx.srv.keyspace.flush_db(ctx.conn.db, ctx.now);
    dispose(old, bg);
    ctx.reply.ok();
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]
pub fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bg = flush_mode(&args)?;
    let old = ctx.srv.keyspace.flush_all(ctx.now);
    dispose(old, bg);
    ctx.reply.ok();
    Ok(())
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let first = int32(args.get(1)).map_err(|_| CmdError::Static("ERR invalid first DB index"))?;
    let second = int32(args.get(2)).map_err(|_| CmdError::Static("ERR invalid second DB index"))?;
    let n = ctx.srv.keyspace.databases() as i64;
    if !(0..n).contains(&first) || !(0..n).contains(&second) {
        return Err(errors::DB_OUT_OF_RANGE.into());
    }
    ctx.srv.keyspace.swap_db(first as usize, second as usize, ctx.now);
    ctx.reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"00"), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Ok(1));
        assert!(parse_cursor(b"+").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1.5").is_err());
        assert!(parse_cursor(b"18446744073709551616").is_err());
    }
}
