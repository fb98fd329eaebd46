//! Hash commands (Redisson keeps its re-entrant locks in hashes).

use crate::ldouble::{incr_by_float, IncrFloatError};
use crate::notify::{self, N};
use crate::util::{int, is, random_u64};
use crate::{CmdError, CmdResult, Ctx};
use tumbler_keyspace::Hash;
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::Args;

/// Reads the hash at `key` (None when missing), or WRONGTYPE.
fn read_hash<R>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&Hash>) -> R) -> Result<R, CmdError> {
    ctx.srv.keyspace.read(ctx.key(key), ctx.now, |e| match e {
        None => Ok(f(None)),
        Some(e) => match e.hash() {
            Some(h) => Ok(f(Some(h))),
            None => Err(CmdError::Static(errors::WRONGTYPE)),
        },
    })
}

fn hset_generic(ctx: &mut Ctx<'_>, args: Args<'_>, name: &str) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        let mut m = Vec::new();
        errors::wrong_arity(&mut m, name);
        return Err(CmdError::Owned(m));
    }
    let limits = ctx.srv.config.encoding.get();
    let added = notify::write(ctx, args.get(1), N::HASH, "hset", |e| {
        Ok(e.with_hash(true, |h| {
            (2..args.len()).step_by(2).filter(|&i| h.set(args.get(i), args.get(i + 1), &limits)).count()
        })?)
    })?;
    Ok(added.unwrap_or(0) as i64)
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = hset_generic(ctx, args, "hset")?;
    ctx.reply.int(n);
    Ok(())
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hset_generic(ctx, args, "hmset")?;
    ctx.reply.ok();
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let limits = ctx.srv.config.encoding.get();
    let set = notify::write(ctx, args.get(1), N::HASH, "hset", |e| {
        let set = e.with_hash(true, |h| {
            if h.get(args.get(2)).is_some() {
                false
            } else {
                h.set(args.get(2), args.get(3), &limits)
            }
        });
        if matches!(set, Ok(Some(false))) {
            e.unchanged();
        }
        Ok(set?)
    })?;
    ctx.reply.int(i64::from(set.unwrap_or(false)));
    Ok(())
}

/// HGET key field
pub fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    let found = ctx.srv.keyspace.read(k, ctx.now, |e| -> Result<bool, CmdError> {
        let Some(e) = e else {
            reply.null();
            return Ok(false);
        };
        let h = e.hash().ok_or(CmdError::Static(errors::WRONGTYPE))?;
        match h.get(args.get(2)) {
            Some(v) => reply.bulk(v),
            None => reply.null(),
        }
        Ok(true)
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(found);
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    ctx.srv.keyspace.read(k, ctx.now, |e| -> CmdResult {
        let h = match e {
            None => None,
            Some(e) => Some(e.hash().ok_or(CmdError::Static(errors::WRONGTYPE))?),
        };
        reply.array(args.len() - 2);
        for f in args.iter().skip(2) {
            match h.and_then(|h| h.get(f)) {
                Some(v) => reply.bulk(v),
                None => reply.null(),
            }
        }
        Ok(())
    })
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = notify::write(ctx, args.get(1), N::HASH, "hdel", |e| {
        let n = e.with_hash(false, |h| args.iter().skip(2).filter(|f| h.remove(f)).count());
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_hash(ctx, args.get(1), |h| h.is_some_and(|h| h.get(args.get(2)).is_some()))?;
    ctx.reply.int(i64::from(n));
    Ok(())
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_hash(ctx, args.get(1), |h| h.map_or(0, Hash::len))?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_hash(ctx, args.get(1), |h| h.and_then(|h| h.get(args.get(2))).map_or(0, <[u8]>::len))?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = int(args.get(3))?;
    let limits = ctx.srv.config.encoding.get();
    let r = notify::write(ctx, args.get(1), N::HASH, "hincrby", |e| {
        e.with_hash(true, |h| -> Result<i64, CmdError> {
            let cur = match h.get(args.get(2)) {
                None => 0,
                Some(v) => {
                    tumbler_proto::num::parse_i64(v).ok_or(CmdError::Static("ERR hash value is not an integer"))?
                }
            };
            let new = cur.checked_add(by).ok_or(CmdError::Static(errors::INCR_OVERFLOW))?;
            h.set(args.get(2), itoa::Buffer::new().format(new).as_bytes(), &limits);
            Ok(new)
        })?
        .transpose()
    })?;
    ctx.reply.int(r.unwrap_or(0));
    Ok(())
}

/// HINCRBYFLOAT key field increment
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let incr = args.get(3);
    // The increment is validated before the key is looked at, as Redis does.
    match incr_by_float(None, incr) {
        Err(IncrFloatError::BadIncrement) | Err(IncrFloatError::BadValue) => return Err(errors::NOT_FLOAT.into()),
        Err(IncrFloatError::NanOrInf) => return Err("ERR value is NaN or Infinity".into()),
        Ok(_) => {}
    }
    let limits = ctx.srv.config.encoding.get();
    let r = notify::write(ctx, args.get(1), N::HASH, "hincrbyfloat", |e| {
        e.with_hash(true, |h| -> Result<Vec<u8>, CmdError> {
            let out = incr_by_float(h.get(args.get(2)), incr).map_err(|err| match err {
                IncrFloatError::BadValue => CmdError::Static("ERR hash value is not a float"),
                IncrFloatError::BadIncrement => CmdError::Static(errors::NOT_FLOAT),
                IncrFloatError::NanOrInf => CmdError::Static(errors::INCR_NAN),
            })?;
            h.set(args.get(2), &out, &limits);
            Ok(out)
        })?
        .transpose()
    })?;
    let v = r.unwrap_or_default();
    ctx.reply.bulk(&v);
    Ok(())
}

enum Part {
    Keys,
    Vals,
    All,
}

fn hget_parts(ctx: &mut Ctx<'_>, args: Args<'_>, part: Part) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    ctx.srv.keyspace.read(k, ctx.now, |e| -> CmdResult {
        let h = match e {
            None => None,
            Some(e) => Some(e.hash().ok_or(CmdError::Static(errors::WRONGTYPE))?),
        };
        let n = h.map_or(0, Hash::len);
        match part {
            Part::All => reply.map(n),
            Part::Keys | Part::Vals => reply.array(n),
        }
        if let Some(h) = h {
            for (f, v) in h.iter() {
                match part {
                    Part::Keys => reply.bulk(f),
                    Part::Vals => reply.bulk(v),
                    Part::All => {
                        reply.bulk(f);
                        reply.bulk(v);
                    }
                }
            }
        }
        Ok(())
    })
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hget_parts(ctx, args, Part::Keys)
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hget_parts(ctx, args, Part::Vals)
}

/// HGETALL key
pub fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hget_parts(ctx, args, Part::All)
}

/// The shared part of HSCAN, SSCAN and ZSCAN, in Redis' order of checks: the cursor, then a
/// missing key (an empty result, whatever the options), then the type, then the options.
/// `get` extracts the elements from an entry of the right type; `filter` applies MATCH.
pub(crate) fn scan_collection<T, R: Default>(
    ctx: &Ctx<'_>,
    args: &Args<'_>,
    get: impl FnOnce(&tumbler_keyspace::Entry) -> Option<T>,
    filter: impl FnOnce(Option<&[u8]>, T) -> R,
) -> Result<R, CmdError> {
    crate::cmd::keys::parse_cursor(args.get(2))?;
    let items = ctx.srv.keyspace.read(ctx.key(args.get(1)), ctx.now, |e| match e {
        None => Ok(None),
        Some(e) => get(e).map(Some).ok_or(CmdError::Static(errors::WRONGTYPE)),
    })?;
    let Some(items) = items else { return Ok(R::default()) };
    let pattern = scan_opts(args)?;
    Ok(filter(pattern, items))
}

/// Parses the options shared by HSCAN, SSCAN and ZSCAN; returns the MATCH pattern.
fn scan_opts<'a>(args: &Args<'a>) -> Result<Option<&'a [u8]>, CmdError> {
    let mut pattern = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i >= 2;
        let a = cstr(args.get(i));
        if is(a, "count") && more {
            if int(args.get(i + 1))? < 1 {
                return Err(errors::SYNTAX.into());
            }
        } else if is(a, "match") && more {
            pattern = Some(args.get(i + 1));
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    Ok(pattern.filter(|p| *p != b"*"))
}

/// Keeps an element for a *SCAN MATCH.
pub(crate) fn scan_accepts(pattern: Option<&[u8]>, member: &[u8]) -> bool {
    pattern.is_none_or(|p| tumbler_glob::matches(p, member))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the whole hash in one step (COUNT is a hint,
/// and one step guarantees every field is returned exactly once).
pub fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let items = scan_collection(
        ctx,
        &args,
        |e| e.hash().map(|h| h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect::<Vec<_>>()),
        |pattern, pairs| pairs.into_iter().filter(|(f, _)| scan_accepts(pattern, f)).collect::<Vec<_>>(),
    )?;
    ctx.reply.array(2);
    ctx.reply.bulk(b"0");
    ctx.reply.array(items.len() * 2);
    for (f, v) in &items {
        ctx.reply.bulk(f);
        ctx.reply.bulk(v);
    }
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut count = None;
    let mut withvalues = false;
    if args.len() >= 3 {
        count = Some(random_count(args.get(2))?);
        if args.len() == 4 {
            if !is(cstr(args.get(3)), "withvalues") {
                return Err(errors::SYNTAX.into());
            }
            withvalues = true;
        } else if args.len() > 4 {
            return Err(errors::SYNTAX.into());
        }
    }
    if let Some(c) = count {
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
            return Err("ERR value is out of range".into());
        }
    }
    cap_random(count)?;
    let pairs: Option<Vec<(Vec<u8>, Vec<u8>)>> =
        read_hash(ctx, args.get(1), |h| h.map(|h| h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()))?;
    let Some(count) = count else {
        match pairs {
            Some(p) if !p.is_empty() => {
                let i = (random_u64() % p.len() as u64) as usize;
                ctx.reply.bulk(&p[i].0);
            }
            _ => ctx.reply.null(),
        }
        return Ok(());
    };
    let pairs = pairs.unwrap_or_default();
    let picked: Vec<usize> = pick(pairs.len(), count);
    let resp3 = ctx.reply.is_resp3();
    if withvalues && resp3 {
        ctx.reply.array(picked.len());
        for i in picked {
            ctx.reply.array(2);
            ctx.reply.bulk(&pairs[i].0);
            ctx.reply.bulk(&pairs[i].1);
        }
    } else {
        ctx.reply.array(picked.len() * if withvalues { 2 } else { 1 });
        for i in picked {
            ctx.reply.bulk(&pairs[i].0);
            if withvalues {
                ctx.reply.bulk(&pairs[i].1);
            }
        }
    }
    Ok(())
}

/// Largest number of elements a negative count may ask for. Redis would try to build a reply
/// of any size (and hang); tumbler refuses beyond this rather than exhaust memory.
const MAX_RANDOM_PICKS: u64 = 10_000_000;

/// Parses the count of SRANDMEMBER / HRANDFIELD / ZRANDMEMBER (Redis' accepted range is
/// -LONG_MAX..LONG_MAX).
pub(crate) fn random_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = int(arg)?;
    if n == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    Ok(n)
}

/// Refuses a negative count that would build an absurdly large reply (checked after Redis'
/// own validations, so its errors come first).
pub(crate) fn cap_random(count: Option<i64>) -> Result<(), CmdError> {
    match count {
        Some(n) if n < 0 && n.unsigned_abs() > MAX_RANDOM_PICKS => Err(CmdError::msg(format!(
            "ERR value is out of range: at most {MAX_RANDOM_PICKS} elements with repetition"
        ))),
        _ => Ok(()),
    }
}

/// Indexes for random picks: `count >= 0` distinct elements (all when count >= n), `count < 0`
/// exactly |count| picks with repetition (SRANDMEMBER / HRANDFIELD / ZRANDMEMBER semantics).
pub(crate) fn pick(n: usize, count: i64) -> Vec<usize> {
    if n == 0 || count == 0 {
        return Vec::new();
    }
    if count < 0 {
        return (0..count.unsigned_abs()).map(|_| (random_u64() % n as u64) as usize).collect();
    }
    let count = count as usize;
    let mut idx: Vec<usize> = (0..n).collect();
    if count >= n {
        return idx;
    }
    // Partial Fisher-Yates shuffle.
    for i in 0..count {
        let j = i + (random_u64() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(count);
    idx
}
