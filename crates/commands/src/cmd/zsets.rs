//! Sorted set commands (redis-semaphore keeps its semaphores in sorted sets).

use crate::blocking::{BlockOp, Waiter};
use crate::cmd::hashes::{pick, random_count, scan_accepts, scan_collection};
use crate::cmd::lists::{block, parse_mpop, parse_timeout, signal_ready};
use crate::notify::{self, N};
use crate::util::{int, is, parse_double};
use crate::{CmdError, CmdResult, Ctx};
use tumbler_keyspace::ZSet;
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::{Args, Reply};

fn read_zset<R>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&ZSet>) -> R) -> Result<R, CmdError> {
    ctx.srv.keyspace.read(ctx.key(key), ctx.now, |e| match e {
        None => Ok(f(None)),
        Some(e) => match e.zset() {
            Some(z) => Ok(f(Some(z))),
            None => Err(CmdError::Static(errors::WRONGTYPE)),
        },
    })
}

/// A score bound: value and exclusivity.
#[derive(Clone, Copy, Debug)]
struct Bound {
    v: f64,
    excl: bool,
}

/// Parses a score range bound as Redis' `zslParseRange` does: an optional `(`, then plain
/// `strtod` that must consume the rest (so leading blanks and an empty string, meaning 0, are
/// accepted), NaN refused.
fn parse_bound(arg: &[u8]) -> Result<Bound, CmdError> {
    let bad = || CmdError::Static("ERR min or max is not a float");
    let (excl, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    match crate::util::strtod(body) {
        Some((v, used, _)) if used == body.len() && !v.is_nan() => Ok(Bound { v, excl }),
        _ => Err(bad()),
    }
}

fn above_min(s: f64, min: Bound) -> bool {
    if min.excl {
        s > min.v
    } else {
        s >= min.v
    }
}

fn below_max(s: f64, max: Bound) -> bool {
    if max.excl {
        s < max.v
    } else {
        s <= max.v
    }
}

/// A lexicographic bound.
#[derive(Clone, Debug)]
enum Lex {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex(arg: &[u8]) -> Result<Lex, CmdError> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Ok(Lex::Min),
        Some(b'+') if arg.len() == 1 => Ok(Lex::Max),
        Some(b'[') => Ok(Lex::Incl(arg[1..].to_vec())),
        Some(b'(') => Ok(Lex::Excl(arg[1..].to_vec())),
        _ => Err("ERR min or max not valid string range item".into()),
    }
}

fn lex_gte_min(m: &[u8], min: &Lex) -> bool {
    match min {
        Lex::Min => true,
        Lex::Max => false,
        Lex::Incl(v) => m >= v.as_slice(),
        Lex::Excl(v) => m > v.as_slice(),
    }
}

fn lex_lte_max(m: &[u8], max: &Lex) -> bool {
    match max {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(v) => m <= v.as_slice(),
        Lex::Excl(v) => m < v.as_slice(),
    }
}

/// Parses a ZADD score (`strtod` rules, NaN refused).
fn score(arg: &[u8]) -> Result<f64, CmdError> {
    parse_double(arg).ok_or(CmdError::Static(errors::NOT_FLOAT))
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zadd_generic(ctx, args, false)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, args: Args<'_>, zincrby: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, zincrby);
    let mut i = 2;
    if !zincrby {
        while i < args.len() {
            let o = cstr(args.get(i));
            if is(o, "nx") {
                nx = true;
            } else if is(o, "xx") {
                xx = true;
            } else if is(o, "gt") {
                gt = true;
            } else if is(o, "lt") {
                lt = true;
            } else if is(o, "ch") {
                ch = true;
            } else if is(o, "incr") {
                incr = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let rest = args.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    if nx && xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if incr && rest > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let mut pairs = Vec::with_capacity(rest / 2);
    for j in (i..args.len()).step_by(2) {
        pairs.push((score(args.get(j))?, args.get(j + 1)));
    }
    let key = args.get(1);
    let limits = ctx.srv.config.encoding.get();
    let event = if incr { "zincr" } else { "zadd" };
    let outcome = notify::write(ctx, key, N::ZSET, event, |e| {
        let exists = e.get().is_some();
        if xx && !exists {
            // Nothing can be added: do not create the key.
            return Ok(None);
        }
        let mut modified = false;
        let r = e.with_zset(true, |z| -> Result<(usize, Option<f64>), CmdError> {
            let (mut added, mut changed) = (0usize, 0usize);
            let mut last = None;
            for (s, m) in &pairs {
                let cur = z.score(m);
                if (nx && cur.is_some()) || (xx && cur.is_none()) {
                    continue;
                }
                let new = if incr {
                    // A new member takes the increment itself (so -0 stays -0 in the reply).
                    let n = match cur {
                        Some(c) => c + s,
                        None => *s,
                    };
                    if n.is_nan() {
                        return Err(CmdError::Static("ERR resulting score is not a number (NaN)"));
                    }
                    n
                } else {
                    *s
                };
                if let Some(c) = cur {
                    if (gt && new <= c) || (lt && new >= c) {
                        continue;
                    }
                    if new != c {
                        z.insert(m, new, &limits);
                        changed += 1;
                    }
                } else {
                    z.insert(m, new, &limits);
                    added += 1;
                }
                last = Some(new);
            }
            modified = added + changed > 0;
            Ok((if ch { added + changed } else { added }, last))
        });
        if !modified {
            e.unchanged();
        }
        r?.transpose()
    })?;
    if outcome.is_some_and(|(n, _)| n > 0) || (incr && outcome.is_some_and(|(_, l)| l.is_some())) {
        signal_ready(ctx, key);
    }
    if incr {
        match outcome.and_then(|(_, l)| l) {
            Some(v) => ctx.reply.double(v),
            None => ctx.reply.null(),
        }
    } else {
        ctx.reply.int(outcome.map_or(0, |(n, _)| n) as i64);
    }
    Ok(())
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = notify::write(ctx, args.get(1), N::ZSET, "zrem", |e| {
        let n = e.with_zset(false, |z| args.iter().skip(2).filter(|m| z.remove(m)).count());
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    match read_zset(ctx, args.get(1), |z| z.and_then(|z| z.score(args.get(2))))? {
        Some(s) => ctx.reply.double(s),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let v: Vec<Option<f64>> =
        read_zset(ctx, args.get(1), |z| args.iter().skip(2).map(|m| z.and_then(|z| z.score(m))).collect())?;
    ctx.reply.array(v.len());
    for s in v {
        match s {
            Some(s) => ctx.reply.double(s),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_zset(ctx, args.get(1), |z| z.map_or(0, ZSet::len))?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (min, max) = (parse_bound(args.get(2))?, parse_bound(args.get(3))?);
    let n = read_zset(ctx, args.get(1), |z| {
        z.map_or(0, |z| z.iter().filter(|(s, _)| above_min(*s, min) && below_max(*s, max)).count())
    })?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (min, max) = (parse_lex(args.get(2))?, parse_lex(args.get(3))?);
    let n = read_zset(ctx, args.get(1), |z| {
        z.map_or(0, |z| z.iter().filter(|(_, m)| lex_gte_min(m, &min) && lex_lte_max(m, &max)).count())
    })?;
    ctx.reply.int(n as i64);
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> CmdResult {
    let r = read_zset(ctx, args.get(1), |z| {
        z.and_then(|z| z.rank(args.get(2)).map(|r| if rev { z.len() - 1 - r } else { r }))
    })?;
    match r {
        Some(r) => ctx.reply.int(r as i64),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// ZRANK key member
pub fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// What a range selects.
enum By {
    Rank(i64, i64),
    Score(Bound, Bound),
    Lex(Lex, Lex),
}

/// Selects (score, member) pairs from `z` by `by`, in ascending order or reversed, after LIMIT.
fn select(z: &ZSet, by: &By, rev: bool, limit: Option<(i64, i64)>) -> Vec<(f64, Vec<u8>)> {
    let all: Vec<(f64, &[u8])> = match by {
        By::Rank(start, end) => {
            let n = z.len() as i64;
            let (mut s, mut e) = (*start, *end);
            if s < 0 {
                s += n;
            }
            if e < 0 {
                e += n;
            }
            if s < 0 {
                s = 0;
            }
            if s > e || s >= n {
                return Vec::new();
            }
            if e >= n {
                e = n - 1;
            }
            let (s, e) = (s as usize, e as usize);
            if rev {
                (s..=e).map(|i| z.at(z.len() - 1 - i)).flatten_opt()
            } else {
                (s..=e).map(|i| z.at(i)).flatten_opt()
            }
        }
        By::Score(min, max) => {
            let it = z.iter().filter(|(s, _)| above_min(*s, *min) && below_max(*s, *max));
            if rev {
                it.rev().collect()
            } else {
                it.collect()
            }
        }
        By::Lex(min, max) => {
            let it = z.iter().filter(|(_, m)| lex_gte_min(m, min) && lex_lte_max(m, max));
            if rev {
                it.rev().collect()
            } else {
                it.collect()
            }
        }
    };
    let (off, count) = limit.unwrap_or((0, -1));
    if off < 0 {
        return Vec::new();
    }
    let it = all.into_iter().skip(off as usize);
    let it: Box<dyn Iterator<Item = (f64, &[u8])>> =
        if count < 0 { Box::new(it) } else { Box::new(it.take(count as usize)) };
    it.map(|(s, m)| (s, m.to_vec())).collect()
}

trait FlattenOpt<'a> {
    fn flatten_opt(self) -> Vec<(f64, &'a [u8])>;
}

impl<'a, I: Iterator<Item = Option<(f64, &'a [u8])>>> FlattenOpt<'a> for I {
    fn flatten_opt(self) -> Vec<(f64, &'a [u8])> {
        self.flatten().collect()
    }
}

fn reply_range(r: &mut Reply, items: &[(f64, Vec<u8>)], withscores: bool) {
    if withscores && r.is_resp3() {
        r.array(items.len());
        for (s, m) in items {
            r.array(2);
            r.bulk(m);
            r.double(*s);
        }
    } else {
        r.array(items.len() * if withscores { 2 } else { 1 });
        for (s, m) in items {
            r.bulk(m);
            if withscores {
                r.double(*s);
            }
        }
    }
}

/// The shared range machinery: `kind` is how the command names its range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeCmd {
    Range,
    RevRank,
    ByScore,
    RevByScore,
    ByLex,
    RevByLex,
}

fn range_generic(ctx: &mut Ctx<'_>, args: Args<'_>, cmd: RangeCmd) -> CmdResult {
    let (mut byscore, mut bylex, mut rev, mut withscores) = (false, false, false, false);
    match cmd {
        RangeCmd::ByScore => byscore = true,
        RangeCmd::RevByScore => {
            byscore = true;
            rev = true;
        }
        RangeCmd::ByLex => bylex = true,
        RangeCmd::RevByLex => {
            bylex = true;
            rev = true;
        }
        RangeCmd::RevRank => rev = true,
        RangeCmd::Range => {}
    }
    let mut limit = None;
    let mut i = 4;
    while i < args.len() {
        let o = cstr(args.get(i));
        if is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && i + 2 < args.len() {
            limit = Some((int(args.get(i + 1))?, int(args.get(i + 2))?));
            i += 2;
        } else if cmd == RangeCmd::Range && is(o, "byscore") {
            byscore = true;
        } else if cmd == RangeCmd::Range && is(o, "bylex") {
            bylex = true;
        } else if cmd == RangeCmd::Range && is(o, "rev") && !rev {
            rev = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if limit.is_some() && !byscore && !bylex {
        return Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into());
    }
    if withscores && bylex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    if byscore && bylex {
        return Err(errors::SYNTAX.into());
    }
    // With REV, ZRANGE takes max then min for scores and lex ranges, as ZREV*BY* do.
    let (a, b) = (args.get(2), args.get(3));
    let (lo, hi) = if rev && (byscore || bylex) { (b, a) } else { (a, b) };
    let by = if byscore {
        By::Score(parse_bound(lo)?, parse_bound(hi)?)
    } else if bylex {
        By::Lex(parse_lex(lo)?, parse_lex(hi)?)
    } else {
        By::Rank(int(a)?, int(b)?)
    };
    let items = read_zset(ctx, args.get(1), |z| z.map(|z| select(z, &by, rev, limit)).unwrap_or_default())?;
    reply_range(ctx.reply, &items, withscores);
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Range)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::ByScore)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::RevByScore)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::ByLex)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::RevByLex)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_generic(ctx, args, RangeCmd::RevRank)
}

fn remrange(ctx: &mut Ctx<'_>, args: Args<'_>, by: By) -> CmdResult {
    let event = match by {
        By::Rank(..) => "zremrangebyrank",
        By::Score(..) => "zremrangebyscore",
        By::Lex(..) => "zremrangebylex",
    };
    let n = notify::write(ctx, args.get(1), N::ZSET, event, |e| {
        let n = e.with_zset(false, |z| {
            let victims: Vec<Vec<u8>> = select(z, &by, false, None).into_iter().map(|(_, m)| m).collect();
            victims.iter().filter(|m| z.remove(m)).count()
        });
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = By::Score(parse_bound(args.get(2))?, parse_bound(args.get(3))?);
    remrange(ctx, args, by)
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = By::Rank(int(args.get(2))?, int(args.get(3))?);
    remrange(ctx, args, by)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = By::Lex(parse_lex(args.get(2))?, parse_lex(args.get(3))?);
    remrange(ctx, args, by)
}

/// Members popped from a sorted set, with their scores.
type Popped = Vec<(f64, Vec<u8>)>;

/// Pops up to `n` members of the sorted set at `key` of database `db` (`None`: no such key),
/// publishing `zpopmin`/`zpopmax` (and `del` when it empties the set).
fn pop_zset(ctx: &Ctx<'_>, db: usize, key: &[u8], min: bool, n: usize) -> Result<Option<Popped>, CmdError> {
    notify::write_in(ctx, db, key, N::ZSET, if min { "zpopmin" } else { "zpopmax" }, |e| {
        let popped = e.with_zset(false, |z| pop_n(z, min, n))?;
        if popped.as_ref().is_some_and(Vec::is_empty) {
            e.unchanged();
        }
        Ok(popped)
    })
}

fn pop_n(z: &mut ZSet, min: bool, n: usize) -> Vec<(f64, Vec<u8>)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let next = if min { z.at(0) } else { z.len().checked_sub(1).and_then(|i| z.at(i)) };
        let Some((s, m)) = next.map(|(s, m)| (s, m.to_vec())) else { break };
        z.remove(&m);
        out.push((s, m));
    }
    out
}

fn zpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, min: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match args.opt(2) {
        Some(c) => match tumbler_proto::num::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err("ERR value is out of range, must be positive".into()),
        },
        None => None,
    };
    let popped = pop_zset(ctx, ctx.conn.db, args.get(1), min, count.unwrap_or(1))?.unwrap_or_default();
    let r = &mut *ctx.reply;
    if count.is_some() && r.is_resp3() {
        r.array(popped.len());
        for (s, m) in &popped {
            r.array(2);
            r.bulk(m);
            r.double(*s);
        }
    } else {
        r.array(popped.len() * 2);
        for (s, m) in &popped {
            r.bulk(m);
            r.double(*s);
        }
    }
    Ok(())
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_generic(ctx, args, true)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_generic(ctx, args, false)
}

fn bzpop(ctx: &mut Ctx<'_>, args: Args<'_>, min: bool) -> CmdResult {
    let deadline = parse_timeout(ctx, args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for k in &keys {
        let popped = pop_zset(ctx, ctx.conn.db, k, min, 1)?;
        if let Some(v) = popped.filter(|v| !v.is_empty()) {
            write_bzpop(ctx.reply, k, &v[0]);
            return Ok(());
        }
    }
    if ctx.conn.no_block {
        ctx.reply.null_array();
        return Ok(());
    }
    block(ctx, keys.iter().map(|k| k.to_vec()).collect(), BlockOp::ZPop { min, count: None }, deadline);
    Ok(())
}

fn write_bzpop(r: &mut Reply, key: &[u8], item: &(f64, Vec<u8>)) {
    r.array(3);
    r.bulk(key);
    r.bulk(&item.1);
    r.double(item.0);
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop(ctx, args, true)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop(ctx, args, false)
}

/// ZMPOP's reply: the key, then `[member, score]` pairs.
fn write_zmpop(r: &mut Reply, key: &[u8], items: &[(f64, Vec<u8>)]) {
    r.array(2);
    r.bulk(key);
    r.array(items.len());
    for (s, m) in items {
        r.array(2);
        r.bulk(m);
        r.double(*s);
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (keys, min, count) = parse_mpop(&args, 1, ("min", "max"))?;
    for k in keys {
        let popped = pop_zset(ctx, ctx.conn.db, k, min, count.unwrap_or(1))?;
        if let Some(v) = popped.filter(|v| !v.is_empty()) {
            write_zmpop(ctx.reply, k, &v);
            return Ok(());
        }
    }
    ctx.reply.null_array();
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (keys, min, count) = parse_mpop(&args, 2, ("min", "max"))?;
    let deadline = parse_timeout(ctx, args.get(1))?;
    for k in &keys {
        let popped = pop_zset(ctx, ctx.conn.db, k, min, count.unwrap_or(1))?;
        if let Some(v) = popped.filter(|v| !v.is_empty()) {
            write_zmpop(ctx.reply, k, &v);
            return Ok(());
        }
    }
    if ctx.conn.no_block {
        ctx.reply.null_array();
        return Ok(());
    }
    block(
        ctx,
        keys.iter().map(|k| k.to_vec()).collect(),
        BlockOp::ZPop { min, count: Some(count.unwrap_or(1)) },
        deadline,
    );
    Ok(())
}

/// Tries to serve a sorted-set waiter from `key`.
pub(crate) fn serve_zset(ctx: &mut Ctx<'_>, w: &Waiter, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let BlockOp::ZPop { min, count } = w.op else { return Ok(None) };
    let popped = pop_zset(ctx, w.db, key, min, count.unwrap_or(1));
    match popped {
        Ok(Some(v)) if !v.is_empty() => {
            let mut r = Reply::new();
            r.set_protocol(w.protocol);
            match count {
                Some(_) => write_zmpop(&mut r, key, &v),
                None => write_bzpop(&mut r, key, &v[0]),
            }
            Ok(Some(r.as_bytes().to_vec()))
        }
        _ => Ok(None),
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let items = scan_collection(
        ctx,
        &args,
        |e| e.zset().map(|z| z.iter().map(|(s, m)| (s, m.to_vec())).collect::<Vec<_>>()),
        |pattern, items| items.into_iter().filter(|(_, m)| scan_accepts(pattern, m)).collect::<Vec<_>>(),
    )?;
    ctx.reply.array(2);
    ctx.reply.bulk(b"0");
    ctx.reply.array(items.len() * 2);
    for (s, m) in &items {
        ctx.reply.bulk(m);
        // Scores in ZSCAN are bulk strings even in RESP3.
        ctx.reply.bulk(&tumbler_proto::num::double_g17(*s));
    }
    Ok(())
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut count = None;
    let mut withscores = false;
    if args.len() >= 3 {
        count = Some(random_count(args.get(2))?);
        if args.len() == 4 {
            if !is(cstr(args.get(3)), "withscores") {
                return Err(errors::SYNTAX.into());
            }
            withscores = true;
        } else if args.len() > 4 {
            return Err(errors::SYNTAX.into());
        }
    }
    crate::cmd::hashes::cap_random(count)?;
    let items: Option<Vec<(f64, Vec<u8>)>> =
        read_zset(ctx, args.get(1), |z| z.map(|z| z.iter().map(|(s, m)| (s, m.to_vec())).collect()))?;
    let Some(count) = count else {
        match items.filter(|v| !v.is_empty()) {
            Some(v) => {
                let i = (crate::util::random_u64() % v.len() as u64) as usize;
                ctx.reply.bulk(&v[i].1);
            }
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let items = items.unwrap_or_default();
    let picked: Vec<(f64, Vec<u8>)> = pick(items.len(), count).into_iter().map(|i| items[i].clone()).collect();
    reply_range(ctx.reply, &picked, withscores);
    Ok(())
}
