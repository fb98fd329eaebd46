//! Set commands.

use crate::cmd::hashes::{pick, scan_accepts, scan_collection};
use crate::notify::{self, N};
use crate::util::{is, random_u64};
use crate::{CmdError, CmdResult, Ctx};
use tumbler_keyspace::{KeyRef, NewValue, Set, Ttl, Type};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::Args;

fn read_set<R>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&Set>) -> R) -> Result<R, CmdError> {
    ctx.srv.keyspace.read(ctx.key(key), ctx.now, |e| match e {
        None => Ok(f(None)),
        Some(e) => match e.set() {
            Some(s) => Ok(f(Some(s))),
            None => Err(CmdError::Static(errors::WRONGTYPE)),
        },
    })
}

fn reply_members(ctx: &mut Ctx<'_>, members: &[Vec<u8>], as_set: bool) {
    if as_set {
        ctx.reply.set(members.len());
    } else {
        ctx.reply.array(members.len());
    }
    for m in members {
        ctx.reply.bulk(m);
    }
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let limits = ctx.srv.config.encoding.get();
    let n = notify::write(ctx, args.get(1), N::SET, "sadd", |e| {
        let n = e.with_set(true, |s| args.iter().skip(2).filter(|m| s.insert(m, &limits)).count());
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = notify::write(ctx, args.get(1), N::SET, "srem", |e| {
        let n = e.with_set(false, |s| args.iter().skip(2).filter(|m| s.remove(m)).count());
        if matches!(n, Ok(Some(0))) {
            e.unchanged();
        }
        Ok(n?)
    })?;
    ctx.reply.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let b = read_set(ctx, args.get(1), |s| s.is_some_and(|s| s.contains(args.get(2))))?;
    ctx.reply.int(i64::from(b));
    Ok(())
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let v: Vec<bool> =
        read_set(ctx, args.get(1), |s| args.iter().skip(2).map(|m| s.is_some_and(|s| s.contains(m))).collect())?;
    ctx.reply.array(v.len());
    for b in v {
        ctx.reply.int(i64::from(b));
    }
    Ok(())
}

/// SMEMBERS key
pub fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let v = read_set(ctx, args.get(1), |s| s.map(Set::members).unwrap_or_default())?;
    reply_members(ctx, &v, true);
    Ok(())
}

/// SCARD key
pub fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = read_set(ctx, args.get(1), |s| s.map_or(0, Set::len))?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
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
    let popped = notify::write(ctx, args.get(1), N::SET, "spop", |e| {
        let popped = e.with_set(false, |s| {
            let want = count.unwrap_or(1).min(s.len());
            let mut out = Vec::with_capacity(want);
            for _ in 0..want {
                let i = (random_u64() % s.len() as u64) as usize;
                if let Some(m) = s.nth(i) {
                    s.remove(&m);
                    out.push(m);
                }
            }
            out
        })?;
        if popped.as_ref().is_some_and(Vec::is_empty) {
            e.unchanged();
        }
        Ok(popped)
    })?;
    match count {
        None => match popped.and_then(|mut v| v.pop()) {
            Some(m) => ctx.reply.bulk(&m),
            None => ctx.reply.null(),
        },
        Some(_) => reply_members(ctx, &popped.unwrap_or_default(), true),
    }
    Ok(())
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match args.opt(2) {
        Some(c) => Some(crate::cmd::hashes::random_count(c)?),
        None => None,
    };
    crate::cmd::hashes::cap_random(count)?;
    let members = read_set(ctx, args.get(1), |s| s.map(Set::members))?;
    match count {
        None => match members.filter(|m| !m.is_empty()) {
            Some(m) => {
                let i = (random_u64() % m.len() as u64) as usize;
                ctx.reply.bulk(&m[i]);
            }
            None => ctx.reply.null(),
        },
        Some(c) => {
            let m = members.unwrap_or_default();
            let picked: Vec<Vec<u8>> = pick(m.len(), c).into_iter().map(|i| m[i].clone()).collect();
            reply_members(ctx, &picked, false);
        }
    }
    Ok(())
}

/// Set algebra over `keys`, with Redis' rules: a missing key is an empty set; a key of another
/// type is WRONGTYPE. Returns the result as a `Set` (so an all-integer result is an intset and
/// iterates sorted, as Redis' does).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn algebra(ctx: &Ctx<'_>, keys: &[KeyRef<'_>], op: Op, extra: &[KeyRef<'_>]) -> Result<Set, CmdError> {
    let mut all: Vec<KeyRef<'_>> = keys.to_vec();
    all.extend_from_slice(extra);
    let locked = ctx.srv.keyspace.lock(ctx.now, false, &all);
    let mut sets: Vec<Option<&Set>> = Vec::with_capacity(keys.len());
    for k in keys {
        match locked.get(k) {
            None => sets.push(None),
            Some(e) => sets.push(Some(e.set().ok_or(CmdError::Static(errors::WRONGTYPE))?)),
        }
    }
    let limits = ctx.srv.config.encoding.get();
    let mut out = Set::default();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let mut order: Vec<&Set> = sets.iter().flatten().copied().collect();
            order.sort_by_key(|s| s.len());
            if let Some((first, rest)) = order.split_first() {
                for m in first.members() {
                    if rest.iter().all(|s| s.contains(&m)) {
                        out.insert(&m, &limits);
                    }
                }
            }
        }
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.members() {
                    out.insert(&m, &limits);
                }
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                for m in first.members() {
                    if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                        out.insert(&m, &limits);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn algebra_reply(ctx: &mut Ctx<'_>, args: Args<'_>, op: Op) -> CmdResult {
    let keys: Vec<KeyRef<'_>> = args.iter().skip(1).map(|k| ctx.key(k)).collect();
    let set = algebra(ctx, &keys, op, &[])?;
    reply_members(ctx, &set.members(), true);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx<'_>, args: Args<'_>, op: Op) -> CmdResult {
    let dst = ctx.key(args.get(1));
    let keys: Vec<KeyRef<'_>> = args.iter().skip(2).map(|k| ctx.key(k)).collect();
    // Compute under read locks, then store; the gate makes the pair atomic for scripts and
    // transactions, and for plain clients the result is a consistent snapshot of the sources.
    let set = algebra(ctx, &keys, op, &[])?;
    let n = set.len();
    let existed = ctx.srv.keyspace.write(dst, ctx.now, |e| {
        let existed = e.remove().is_some();
        if n > 0 {
            e.set(NewValue::Set(set), Ttl::Clear);
        }
        existed
    });
    if n > 0 {
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(N::SET, event, args.get(1));
    } else if existed {
        ctx.notify(N::GENERIC, "del", args.get(1));
    }
    ctx.reply.int(n as i64);
    Ok(())
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_reply(ctx, args, Op::Inter)
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_reply(ctx, args, Op::Union)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_reply(ctx, args, Op::Diff)
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, Op::Inter)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, Op::Union)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numkeys = match tumbler_proto::num::parse_i64(args.get(1)) {
        Some(n) if n > 0 => n,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    if numkeys as usize > args.len() - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys as usize;
    while i < args.len() {
        if is(cstr(args.get(i)), "limit") && i + 1 < args.len() {
            limit = match tumbler_proto::num::parse_i64(args.get(i + 1)) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err("ERR LIMIT can't be negative".into()),
            };
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let keys: Vec<KeyRef<'_>> = (2..2 + numkeys as usize).map(|i| ctx.key(args.get(i))).collect();
    let n = algebra(ctx, &keys, Op::Inter, &[])?.len();
    ctx.reply.int(if limit > 0 { n.min(limit) } else { n } as i64);
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (src, dst, m) = (ctx.key(args.get(1)), ctx.key(args.get(2)), args.get(3));
    let limits = ctx.srv.config.encoding.get();
    let mut locked = ctx.srv.keyspace.lock(ctx.now, true, &[src, dst]);
    let Some(se) = locked.get(&src) else {
        drop(locked);
        ctx.reply.int(0);
        return Ok(());
    };
    if se.value_type() != Type::Set || locked.get(&dst).is_some_and(|d| d.value_type() != Type::Set) {
        return Err(errors::WRONGTYPE.into());
    }
    if args.get(1) == args.get(2) {
        let present = se.set().is_some_and(|s| s.contains(m));
        drop(locked);
        ctx.reply.int(i64::from(present));
        return Ok(());
    }
    let (removed, emptied) = {
        let mut se = locked.entry(&src);
        let removed = se.with_set(false, |s| s.remove(m))?.unwrap_or(false);
        if !removed {
            se.unchanged();
        }
        (removed, !se.exists())
    };
    let added = removed && locked.entry(&dst).with_set(true, |s| s.insert(m, &limits))?.unwrap_or(false);
    drop(locked);
    if removed {
        ctx.notify(N::SET, "srem", args.get(1));
        if emptied {
            ctx.notify(N::GENERIC, "del", args.get(1));
        }
        if added {
            ctx.notify(N::SET, "sadd", args.get(2));
        }
    }
    ctx.reply.int(i64::from(removed));
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let members = scan_collection(
        ctx,
        &args,
        |e| e.set().map(Set::members),
        |pattern, members: Vec<Vec<u8>>| members.into_iter().filter(|m| scan_accepts(pattern, m)).collect::<Vec<_>>(),
    )?;
    ctx.reply.array(2);
    ctx.reply.bulk(b"0");
    ctx.reply.array(members.len());
    for m in &members {
        ctx.reply.bulk(m);
    }
    Ok(())
}
