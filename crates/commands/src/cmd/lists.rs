//! List commands, blocking pops included (python-redis-lock waits for releases with BLPOP).

use crate::blocking::{BlockOp, BlockRequest, Outcome, Waiter};
use crate::notify::{self, N};
use crate::util::{int, is};
use crate::{CmdError, CmdResult, Ctx};
use std::sync::Arc;
use tumbler_keyspace::{List, Type};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::{Args, Reply};

fn read_list<R>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&List>) -> R) -> Result<R, CmdError> {
    ctx.srv.keyspace.read(ctx.key(key), ctx.now, |e| match e {
        None => Ok(f(None)),
        Some(e) => match e.list() {
            Some(l) => Ok(f(Some(l))),
            None => Err(CmdError::Static(errors::WRONGTYPE)),
        },
    })
}

/// Marks `key` as having new elements, so clients blocked on it are served after this command.
pub(crate) fn signal_ready(ctx: &mut Ctx<'_>, key: &[u8]) {
    if ctx.srv.blocking.count() > 0 {
        ctx.conn.ready.push((ctx.conn.db, key.to_vec()));
    }
}

fn push_generic(ctx: &mut Ctx<'_>, args: Args<'_>, left: bool, only_existing: bool) -> CmdResult {
    let key = args.get(1);
    let event = if left { "lpush" } else { "rpush" };
    let n = notify::write(ctx, key, N::LIST, event, |e| {
        Ok(e.with_list(!only_existing, |l| {
            for v in args.iter().skip(2) {
                if left {
                    l.push_front(v);
                } else {
                    l.push_back(v);
                }
            }
            l.len()
        })?)
    })?;
    if n.is_some() {
        signal_ready(ctx, key);
    }
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, false)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, false)
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, true)
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, true)
}

/// Pops up to `n` elements of the list at `key` of database `db` (`None`: no such key),
/// publishing `lpop`/`rpop` (and `del` when it empties the list).
fn pop_list(ctx: &Ctx<'_>, db: usize, key: &[u8], left: bool, n: usize) -> Result<Option<Vec<Box<[u8]>>>, CmdError> {
    notify::write_in(ctx, db, key, N::LIST, if left { "lpop" } else { "rpop" }, |e| {
        let popped = e.with_list(false, |l| pop_n(l, left, n))?;
        if popped.as_ref().is_some_and(Vec::is_empty) {
            e.unchanged();
        }
        Ok(popped)
    })
}

fn pop_n(l: &mut List, left: bool, n: usize) -> Vec<Box<[u8]>> {
    let mut out = Vec::with_capacity(n.min(l.len()));
    for _ in 0..n {
        match if left { l.pop_front() } else { l.pop_back() } {
            Some(v) => out.push(v),
            None => break,
        }
    }
    out
}

fn pop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, left: bool) -> CmdResult {
    if args.len() > 3 {
        let mut m = Vec::new();
        errors::wrong_arity(&mut m, if left { "lpop" } else { "rpop" });
        return Err(CmdError::Owned(m));
    }
    let count = match args.opt(2) {
        Some(c) => match tumbler_proto::num::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err("ERR value is out of range, must be positive".into()),
        },
        None => None,
    };
    let popped = pop_list(ctx, ctx.conn.db, args.get(1), left, count.unwrap_or(1))?;
    match (count, popped) {
        (None, Some(mut v)) => match v.pop() {
            Some(x) => ctx.reply.bulk(&x),
            None => ctx.reply.null(),
        },
        (None, None) => ctx.reply.null(),
        (Some(_), None) => ctx.reply.null_array(),
        (Some(_), Some(v)) => {
            ctx.reply.array(v.len());
            for x in &v {
                ctx.reply.bulk(x);
            }
        }
    }
    Ok(())
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, true)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, false)
}

/// LLEN key
pub fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_list(ctx, args.get(1), |l| l.map_or(0, List::len))?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// Converts Redis range indexes (negative from the end) to a clamped `start..=end`, or `None`
/// when the range is empty.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (start, end) = (int(args.get(2))?, int(args.get(3))?);
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    ctx.srv.keyspace.read(k, ctx.now, |e| -> CmdResult {
        let l = match e {
            None => None,
            Some(e) => Some(e.list().ok_or(CmdError::Static(errors::WRONGTYPE))?),
        };
        match l.and_then(|l| range(start, end, l.len()).map(|r| (l, r))) {
            None => reply.array(0),
            Some((l, (s, e))) => {
                reply.array(e - s + 1);
                for v in l.iter().skip(s).take(e - s + 1) {
                    reply.bulk(v);
                }
            }
        }
        Ok(())
    })
}

/// LINDEX key index (the key is looked up before the index is parsed, as in Redis)
pub fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let v = read_list(ctx, args.get(1), |l| -> Result<Option<Vec<u8>>, CmdError> {
        let Some(l) = l else { return Ok(None) };
        let idx = int(args.get(2))?;
        let i = if idx < 0 { l.len() as i64 + idx } else { idx };
        Ok((i >= 0).then(|| l.get(i as usize).map(<[u8]>::to_vec)).flatten())
    })??;
    match v {
        Some(v) => ctx.reply.bulk(&v),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// LSET key index element (the key is looked up before the index is parsed, as in Redis)
pub fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    notify::write(ctx, args.get(1), N::LIST, "lset", |e| {
        e.with_list(false, |l| -> CmdResult {
            let idx = int(args.get(2))?;
            let i = if idx < 0 { l.len() as i64 + idx } else { idx };
            if i >= 0 && l.set(i as usize, args.get(3)) {
                Ok(())
            } else {
                Err(errors::INDEX_OUT_OF_RANGE.into())
            }
        })?
        .ok_or(CmdError::Static(errors::NO_SUCH_KEY))?
    })?;
    ctx.reply.ok();
    Ok(())
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let count = int(args.get(2))?;
    let n = notify::write(ctx, args.get(1), N::LIST, "lrem", |e| {
        let n = e.with_list(false, |l| l.remove_value(args.get(3), count.unsigned_abs() as usize, count < 0));
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (start, end) = (int(args.get(2))?, int(args.get(3))?);
    notify::write(ctx, args.get(1), N::LIST, "ltrim", |e| {
        Ok(e.with_list(false, |l| match range(start, end, l.len()) {
            Some((s, e)) => l.trim(s, e),
            None => {
                let n = l.len();
                if n > 0 {
                    l.trim(n, n - 1);
                }
            }
        })?)
    })?;
    ctx.reply.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let w = cstr(args.get(2));
    let after = if is(w, "after") {
        true
    } else if is(w, "before") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let (pivot, v) = (args.get(3), args.get(4));
    let r = notify::write(ctx, args.get(1), N::LIST, "linsert", |e| {
        let r = e.with_list(false, |l| {
            let at = l.iter().position(|x| x == pivot);
            match at {
                Some(i) => {
                    l.insert(if after { i + 1 } else { i }, v);
                    l.len() as i64
                }
                None => -1,
            }
        });
        if matches!(r, Ok(Some(-1))) {
            e.unchanged();
        }
        Ok(r?)
    })?;
    ctx.reply.int(r.unwrap_or(0));
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = cstr(args.get(i));
        let more = i + 1 < args.len();
        if is(opt, "rank") && more {
            rank = int(args.get(i + 1))?;
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if is(opt, "count") && more {
            count = match tumbler_proto::num::parse_i64(args.get(i + 1)) {
                Some(c) if c >= 0 => Some(c),
                _ => return Err("ERR COUNT can't be negative".into()),
            };
        } else if is(opt, "maxlen") && more {
            maxlen = match tumbler_proto::num::parse_i64(args.get(i + 1)) {
                Some(m) if m >= 0 => m,
                _ => return Err("ERR MAXLEN can't be negative".into()),
            };
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    let target = args.get(2);
    let found: Option<Vec<i64>> = read_list(ctx, args.get(1), |l| {
        l.map(|l| {
            // Redis negates a negative rank; i64::MIN stays negative, which makes it act as -1
            // with no COUNT limit (its `matches - rank + 1 >= count` overflows): reproduced.
            let want = match count {
                Some(0) => usize::MAX,
                Some(_) if rank == i64::MIN => usize::MAX,
                Some(c) => c as usize,
                None => 1,
            };
            let mut skip = if rank == i64::MIN { 0 } else { rank.unsigned_abs() - 1 };
            let limit = if maxlen == 0 { usize::MAX } else { maxlen as usize };
            let mut out = Vec::new();
            let n = l.len();
            let idxs: Box<dyn Iterator<Item = usize>> = if rank > 0 { Box::new(0..n) } else { Box::new((0..n).rev()) };
            for (checked, idx) in idxs.enumerate() {
                if checked >= limit || out.len() >= want {
                    break;
                }
                if l.get(idx) == Some(target) {
                    if skip > 0 {
                        skip -= 1;
                    } else {
                        out.push(idx as i64);
                    }
                }
            }
            out
        })
    })?;
    match count {
        None => match found.and_then(|v| v.first().copied()) {
            Some(i) => ctx.reply.int(i),
            None => ctx.reply.null(),
        },
        Some(_) => {
            let v = found.unwrap_or_default();
            ctx.reply.array(v.len());
            for i in v {
                ctx.reply.int(i);
            }
        }
    }
    Ok(())
}

fn side(arg: &[u8]) -> Result<bool, CmdError> {
    let a = cstr(arg);
    if is(a, "left") {
        Ok(true)
    } else if is(a, "right") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

/// Moves one element between lists under one lock (LMOVE, RPOPLPUSH, served BLMOVE). Returns
/// the element, `Ok(None)` when the source is missing; WRONGTYPE when either key is not a list.
fn move_one(
    ctx: &Ctx<'_>,
    db: usize,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Box<[u8]>>, CmdError> {
    let ks = &ctx.srv.keyspace;
    let (s, d) = (ks.key(db, src), ks.key(db, dst));
    let mut locked = ks.lock(ctx.now, true, &[s, d]);
    let Some(se) = locked.get(&s) else { return Ok(None) };
    if se.value_type() != Type::List {
        return Err(errors::WRONGTYPE.into());
    }
    if locked.get(&d).is_some_and(|e| e.value_type() != Type::List) {
        return Err(errors::WRONGTYPE.into());
    }
    let (v, emptied) = {
        let mut e = locked.entry(&s);
        let v = e.with_list(false, |l| if from_left { l.pop_front() } else { l.pop_back() })?.flatten();
        (v, !e.exists())
    };
    if let Some(v) = &v {
        locked.entry(&d).with_list(true, |l| if to_left { l.push_front(v) } else { l.push_back(v) })?;
    }
    drop(locked);
    if v.is_some() {
        // In Redis' order: the push, then the pop (and the source's deletion).
        ctx.srv.notify(N::LIST, if to_left { "lpush" } else { "rpush" }, db, dst);
        ctx.srv.notify(N::LIST, if from_left { "lpop" } else { "rpop" }, db, src);
        if emptied {
            ctx.srv.notify(N::GENERIC, "del", db, src);
        }
    }
    Ok(v)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (from_left, to_left) = (side(args.get(3))?, side(args.get(4))?);
    lmove_generic(ctx, args.get(1), args.get(2), from_left, to_left)
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    lmove_generic(ctx, args.get(1), args.get(2), false, true)
}

fn lmove_generic(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> CmdResult {
    match move_one(ctx, ctx.conn.db, src, dst, from_left, to_left)? {
        Some(v) => {
            signal_ready(ctx, dst);
            ctx.reply.bulk(&v);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// Keys, direction and COUNT of an LMPOP-style command.
pub(crate) type MPop<'a> = (Vec<&'a [u8]>, bool, Option<usize>);

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` (LMPOP, BLMPOP from `at`; ZMPOP and
/// BZMPOP with MIN|MAX).
pub(crate) fn parse_mpop<'a>(args: &Args<'a>, at: usize, sides: (&str, &str)) -> Result<MPop<'a>, CmdError> {
    let numkeys = match tumbler_proto::num::parse_i64(args.get(at)) {
        Some(n) if n > 0 => n,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    let numkeys = numkeys as usize;
    let first = at + 1;
    if first.saturating_add(numkeys) > args.len() {
        return Err(errors::SYNTAX.into());
    }
    let keys: Vec<&[u8]> = (first..first + numkeys).map(|i| args.get(i)).collect();
    let mut i = first + numkeys;
    let w = args.opt(i).map(cstr).ok_or(CmdError::Static(errors::SYNTAX))?;
    let left = if is(w, sides.0) {
        true
    } else if is(w, sides.1) {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    i += 1;
    let mut count = None;
    while i < args.len() {
        if is(cstr(args.get(i)), "count") && i + 1 < args.len() && count.is_none() {
            count = match tumbler_proto::num::parse_i64(args.get(i + 1)) {
                Some(c) if c > 0 => Some(c as usize),
                _ => return Err("ERR count should be greater than 0".into()),
            };
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok((keys, left, count))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (keys, left, count) = parse_mpop(&args, 1, ("left", "right"))?;
    for k in keys {
        if let Some(v) = pop_list(ctx, ctx.conn.db, k, left, count.unwrap_or(1))? {
            write_mpop(ctx.reply, k, &v);
            return Ok(());
        }
    }
    ctx.reply.null_array();
    Ok(())
}

fn write_mpop(r: &mut Reply, key: &[u8], v: &[Box<[u8]>]) {
    r.array(2);
    r.bulk(key);
    r.array(v.len());
    for x in v {
        r.bulk(x);
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking

/// Parses a blocking timeout in seconds (a float) into a monotonic deadline; 0 blocks forever.
pub(crate) fn parse_timeout(ctx: &Ctx<'_>, arg: &[u8]) -> Result<Option<u64>, CmdError> {
    let ms = crate::ldouble::timeout_ms(arg).ok_or(CmdError::Static("ERR timeout is not a float or out of range"))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - ctx.wall_ms() {
        return Err("ERR timeout is out of range".into());
    }
    Ok(Some(ctx.now.saturating_add(ms as u64)))
}

/// Whether blocking is possible: inside a script or a transaction a blocking command behaves
/// as if its timeout expired at once, as in Redis.
fn may_block(ctx: &Ctx<'_>) -> bool {
    !ctx.conn.no_block
}

/// Registers a waiter for this connection.
pub(crate) fn block(ctx: &mut Ctx<'_>, keys: Vec<Vec<u8>>, op: BlockOp, deadline: Option<u64>) {
    let wake = ctx.conn.wake.clone();
    let w = Arc::new(Waiter::new(ctx.conn.id(), ctx.conn.db, keys, op, ctx.reply.protocol(), Box::new(move || wake())));
    ctx.srv.blocking.add(w.clone());
    ctx.conn.blocked = Some(BlockRequest { waiter: w, deadline, latency: None });
}

fn bpop(ctx: &mut Ctx<'_>, args: Args<'_>, left: bool) -> CmdResult {
    let deadline = parse_timeout(ctx, args.get(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for k in &keys {
        if let Some(v) = pop_list(ctx, ctx.conn.db, k, left, 1)?.and_then(|mut v| v.pop()) {
            ctx.reply.array(2);
            ctx.reply.bulk(k);
            ctx.reply.bulk(&v);
            return Ok(());
        }
    }
    if !may_block(ctx) {
        ctx.reply.null_array();
        return Ok(());
    }
    block(ctx, keys.iter().map(|k| k.to_vec()).collect(), BlockOp::ListPop { left, count: None }, deadline);
    Ok(())
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bpop(ctx, args, true)
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bpop(ctx, args, false)
}

fn bmove(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from_left: bool, to_left: bool, timeout: &[u8]) -> CmdResult {
    let deadline = parse_timeout(ctx, timeout)?;
    if let Some(v) = move_one(ctx, ctx.conn.db, src, dst, from_left, to_left)? {
        signal_ready(ctx, dst);
        ctx.reply.bulk(&v);
        return Ok(());
    }
    if !may_block(ctx) {
        ctx.reply.null();
        return Ok(());
    }
    block(ctx, vec![src.to_vec()], BlockOp::ListMove { to: dst.to_vec(), from_left, to_left }, deadline);
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (from_left, to_left) = (side(args.get(3))?, side(args.get(4))?);
    bmove(ctx, args.get(1), args.get(2), from_left, to_left, args.get(5))
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bmove(ctx, args.get(1), args.get(2), false, true, args.get(3))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (keys, left, count) = parse_mpop(&args, 2, ("left", "right"))?;
    let deadline = parse_timeout(ctx, args.get(1))?;
    for k in &keys {
        if let Some(v) = pop_list(ctx, ctx.conn.db, k, left, count.unwrap_or(1))? {
            write_mpop(ctx.reply, k, &v);
            return Ok(());
        }
    }
    if !may_block(ctx) {
        ctx.reply.null_array();
        return Ok(());
    }
    block(
        ctx,
        keys.iter().map(|k| k.to_vec()).collect(),
        BlockOp::ListPop { left, count: Some(count.unwrap_or(1)) },
        deadline,
    );
    Ok(())
}

/// Tries to serve a list waiter from `key`; returns the encoded reply when it was served, or
/// `None` when `key` has nothing for it (the caller stops serving that key).
pub(crate) fn serve_list(ctx: &mut Ctx<'_>, w: &Waiter, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let mut r = Reply::new();
    r.set_protocol(w.protocol);
    match &w.op {
        BlockOp::ListPop { left, count } => {
            let popped = pop_list(ctx, w.db, key, *left, count.unwrap_or(1));
            match popped {
                Ok(Some(v)) if !v.is_empty() => {
                    if count.is_some() {
                        write_mpop(&mut r, key, &v);
                    } else {
                        r.array(2);
                        r.bulk(key);
                        r.bulk(&v[0]);
                    }
                }
                _ => return Ok(None),
            }
        }
        BlockOp::ListMove { to, from_left, to_left } => match move_one(ctx, w.db, key, to, *from_left, *to_left) {
            Ok(Some(v)) => {
                r.bulk(&v);
                if ctx.srv.blocking.count() > 0 {
                    ctx.conn.ready.push((w.db, to.clone()));
                }
            }
            Ok(None) => return Ok(None),
            Err(CmdError::Static(e)) => r.error(e),
            Err(CmdError::Owned(e)) => r.error_bytes(&e),
        },
        BlockOp::ZPop { .. } | BlockOp::Wait => return Ok(None),
    }
    Ok(Some(r.as_bytes().to_vec()))
}

/// The reply a blocked command gives when its timeout expires.
pub fn timeout_reply(op: &BlockOp, r: &mut Reply) {
    match op {
        // The number of replicas that acknowledged: none.
        BlockOp::Wait => r.int(0),
        // Even BLMOVE / BRPOPLPUSH answer a timeout with a null array (Redis 7.0).
        _ => r.null_array(),
    }
}

/// Serves every waiter of every key marked ready during the command that just ran.
pub(crate) fn serve_ready(ctx: &mut Ctx<'_>) {
    let mut i = 0;
    while i < ctx.conn.ready.len() {
        let (db, key) = ctx.conn.ready[i].clone();
        i += 1;
        for w in ctx.srv.blocking.waiters(db, &key) {
            // Hold the waiter while serving it: a timeout racing with us waits for the outcome.
            let mut state = w.outcome.lock();
            if *state != Outcome::Waiting {
                continue;
            }
            let served = if w.zset { crate::cmd::zsets::serve_zset(ctx, &w, &key) } else { serve_list(ctx, &w, &key) };
            match served {
                Ok(Some(bytes)) => {
                    *state = Outcome::Served(bytes);
                    drop(state);
                    ctx.srv.blocking.remove(&w);
                    w.wake();
                }
                _ => break,
            }
        }
    }
    ctx.conn.ready.clear();
}
