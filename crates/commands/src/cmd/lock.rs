//! Native lock commands (tumbler extensions): LOCK.ACQUIRE, LOCK.RELEASE, LOCK.EXTEND,
//! LOCK.INFO and LOCK.FENCE. A lock is a string key holding its owner, as with SET NX PX, so
//! GET, PTTL, DEL and the usual release scripts keep working on it; LOCK.ACQUIRE also records
//! a fencing token, the acquisition time and the number of extensions (see docs/locks.md).

use crate::notify::N;
use crate::util::is;
use crate::{CmdError, CmdResult, Ctx};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_keyspace::{KeyEntry, LockMeta, NewValue, Ttl, Type, NO_EXPIRE};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::Args;

/// Parses `PX ms` or `EX s` at `args[at..at + 2]`; `cmd` names the command in the error.
fn parse_ttl(args: &Args<'_>, at: usize, cmd: &str) -> Result<u64, CmdError> {
    if args.len() != at + 2 {
        return Err(errors::SYNTAX.into());
    }
    let unit = cstr(args.get(at));
    let ms = if is(unit, "px") {
        1
    } else if is(unit, "ex") {
        1000
    } else {
        return Err(errors::SYNTAX.into());
    };
    let v = crate::util::int(args.get(at + 1))?;
    let bad = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(bad());
    }
    (v as u64).checked_mul(ms).filter(|t| *t <= i64::MAX as u64 / 2).ok_or_else(bad)
}

/// The remaining TTL of the entry at `now` (-1 without one), as PTTL reports it.
fn pttl_of(expire_at: u64, now: u64) -> i64 {
    if expire_at == NO_EXPIRE {
        -1
    } else {
        expire_at.saturating_sub(now) as i64
    }
}

/// What a key's current holder looks like to the lock commands.
enum Holder {
    /// No key.
    Free,
    /// A string held by `owner` (this caller), with its record when LOCK.ACQUIRE made it.
    Mine(Option<LockMeta>),
    /// A string held by someone else; remaining ms (-1: no TTL).
    Other(i64),
}

fn holder(e: &KeyEntry<'_>, owner: &[u8], now: u64) -> Result<Holder, CmdError> {
    let Some(entry) = e.get() else { return Ok(Holder::Free) };
    if entry.value_type() != Type::String {
        return Err(errors::WRONGTYPE.into());
    }
    let same = match entry.value() {
        tumbler_keyspace::Value::Str(s) => s == owner,
        tumbler_keyspace::Value::Int(i) => itoa::Buffer::new().format(i).as_bytes() == owner,
    };
    Ok(if same { Holder::Mine(entry.lock_meta()) } else { Holder::Other(pttl_of(entry.expire_at(), now)) })
}

/// Refuses a grant or extension while the restart fence lasts.
fn check_fence(ctx: &Ctx<'_>) -> Result<(), CmdError> {
    match ctx.srv.locks.fence_left(ctx.now) {
        Some(left) => Err(CmdError::Owned(ctx.srv.locks.fence_error(left))),
        None => Ok(()),
    }
}

/// LOCK.ACQUIRE key owner PX ms | EX s
///
/// Granted: `[1, token]`, the token greater than any this node issued before. Refused:
/// `[0, ms]`, how long the current holder's lock (or `lock-delay`) still lasts, -1 for a key
/// without a TTL. The holder itself acquiring again gets its lock refreshed and its own token
/// back, so a client that lost a reply can simply retry.
pub fn lock_acquire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let ttl = parse_ttl(&args, 3, "lock.acquire")?;
    check_fence(ctx)?;
    let (key, owner) = (args.get(1), args.get(2));
    let now = ctx.ttl_now();
    let wall = ctx.srv.clock.wall_at(now);
    let locks = &ctx.srv.locks;
    let mut created = false;
    let outcome = ctx.srv.keyspace.write(ctx.key(key), ctx.now, |e| -> Result<(bool, i64), CmdError> {
        match holder(e, owner, now)? {
            Holder::Other(left) => Ok((false, left)),
            Holder::Mine(meta) => {
                e.set_expire(now.saturating_add(ttl));
                let token = match meta {
                    Some(mut m) => {
                        m.extensions = m.extensions.saturating_add(1);
                        if let Some(entry) = e.get_mut() {
                            entry.set_lock_meta(m);
                        }
                        m.token
                    }
                    None => 0,
                };
                Ok((true, token as i64))
            }
            Holder::Free => {
                if let Some(left) = e.lock_delay_left() {
                    return Ok((false, left as i64));
                }
                let token = locks.issue_token().map_err(|m| CmdError::msg(format!("ERR {m}")))?;
                let meta = LockMeta { token, acquired_ms: wall, extensions: 0 };
                e.set(NewValue::Lock(owner, meta), Ttl::At(now.saturating_add(ttl)));
                created = true;
                Ok((true, token as i64))
            }
        }
    })?;
    let (granted, n) = outcome;
    if granted {
        locks
            .note_ttl(ttl, ctx.srv.config.lock_max_ttl.load(Relaxed))
            .map_err(|m| CmdError::msg(format!("ERR {m}")))?;
        locks.stats.acquired.fetch_add(1, Relaxed);
        // The same events as the SET NX PX it stands for (or the PEXPIRE of a refresh).
        if created {
            ctx.notify(N::STRING, "set", key);
        }
        ctx.notify(N::GENERIC, "expire", key);
    } else {
        locks.stats.refused.fetch_add(1, Relaxed);
    }
    ctx.reply.array(2);
    ctx.reply.int(i64::from(granted));
    ctx.reply.int(n);
    Ok(())
}

/// LOCK.RELEASE key owner: `1` when the caller held the lock (now deleted), `0` otherwise.
pub fn lock_release(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, owner) = (args.get(1), args.get(2));
    let now = ctx.now;
    let released = ctx.srv.keyspace.write(ctx.key(key), now, |e| -> Result<bool, CmdError> {
        Ok(match holder(e, owner, now)? {
            Holder::Mine(_) => e.remove().is_some(),
            _ => false,
        })
    })?;
    if released {
        ctx.notify(N::GENERIC, "del", key);
    }
    ctx.reply.int(i64::from(released));
    Ok(())
}

/// LOCK.EXTEND key owner PX ms | EX s: `1` when the caller holds the lock (its TTL is now
/// `ms`), `0` otherwise.
pub fn lock_extend(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let ttl = parse_ttl(&args, 3, "lock.extend")?;
    check_fence(ctx)?;
    let (key, owner) = (args.get(1), args.get(2));
    let now = ctx.ttl_now();
    let extended = ctx.srv.keyspace.write(ctx.key(key), ctx.now, |e| -> Result<bool, CmdError> {
        Ok(match holder(e, owner, now)? {
            Holder::Mine(meta) => {
                e.set_expire(now.saturating_add(ttl));
                if let Some(mut m) = meta {
                    m.extensions = m.extensions.saturating_add(1);
                    if let Some(entry) = e.get_mut() {
                        entry.set_lock_meta(m);
                    }
                }
                true
            }
            _ => false,
        })
    })?;
    if extended {
        ctx.srv
            .locks
            .note_ttl(ttl, ctx.srv.config.lock_max_ttl.load(Relaxed))
            .map_err(|m| CmdError::msg(format!("ERR {m}")))?;
        ctx.notify(N::GENERIC, "expire", key);
    }
    ctx.reply.int(i64::from(extended));
    Ok(())
}

/// LOCK.INFO key: the lock's owner, fencing token (0 for a lock taken with SET NX), remaining
/// ms, acquisition time (Unix ms, -1 when unknown) and extensions, as a map (a flat array in
/// RESP2); null when there is no such key.
pub fn lock_info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let now = ctx.ttl_now();
    let info = ctx.srv.keyspace.read(ctx.key(args.get(1)), ctx.now, |e| -> Result<_, CmdError> {
        let Some(e) = e else { return Ok(None) };
        if e.value_type() != Type::String {
            return Err(errors::WRONGTYPE.into());
        }
        Ok(Some((e.value().to_vec(), e.lock_meta(), pttl_of(e.expire_at(), now))))
    })?;
    let Some((owner, meta, pttl)) = info else {
        ctx.reply.null();
        return Ok(());
    };
    let r = &mut *ctx.reply;
    r.map(5);
    r.bulk(b"owner");
    r.bulk(&owner);
    r.bulk(b"token");
    r.int(meta.map_or(0, |m| m.token as i64));
    r.bulk(b"pttl");
    r.int(pttl);
    r.bulk(b"acquired-at");
    r.int(meta.map_or(-1, |m| m.acquired_ms));
    r.bulk(b"extensions");
    r.int(meta.map_or(0, |m| i64::from(m.extensions)));
    Ok(())
}

/// LOCK.FENCE key owner token: round two of fenced acquisition on a quorum. While the caller
/// still holds the lock, every token this node issues from now on is greater than `token`
/// (persisted before the reply) and the lock records `token`; replies the lock's token then,
/// or `0` when the caller does not hold the lock.
pub fn lock_fence(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, owner) = (args.get(1), args.get(2));
    let token = match tumbler_proto::num::parse_i64(args.get(3)) {
        Some(t) if t > 0 => t as u64,
        _ => return Err(errors::NOT_INTEGER.into()),
    };
    let now = ctx.now;
    let locks = &ctx.srv.locks;
    let r = ctx.srv.keyspace.write(ctx.key(key), now, |e| -> Result<i64, CmdError> {
        match holder(e, owner, now)? {
            Holder::Mine(meta) => {
                locks.raise_floor(token).map_err(|m| CmdError::msg(format!("ERR {m}")))?;
                let now_token = match meta {
                    Some(mut m) => {
                        m.token = m.token.max(token);
                        if let Some(entry) = e.get_mut() {
                            entry.set_lock_meta(m);
                        }
                        m.token
                    }
                    None => token,
                };
                Ok(now_token as i64)
            }
            _ => Ok(0),
        }
    })?;
    ctx.reply.int(r);
    Ok(())
}
