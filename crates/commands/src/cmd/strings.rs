//! String commands, the lock path among them: SET NX PX to acquire, GET to check, and the
//! conditional forms that release and refresh a lock without a script: DELEX / DELIFEQ and
//! SET IFEQ (tumbler extensions following Redis 8.4 and Valkey 9.0, see [`Cond`]).

use crate::ldouble::{incr_by_float, IncrFloatError};
use crate::notify::N;
use crate::util::{int, is};
use crate::{CmdError, CmdResult, Ctx};
use tumbler_keyspace::{Entry, KeyRef, NewValue, Ttl, Type, Value};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::{Args, Reply};
use xxhash_rust::xxh3::xxh3_64;

/// Which command family parses the extended options (SET or GETEX accept different ones).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Set,
    GetEx,
}

/// Expiration given with EX/PX/EXAT/PXAT.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Parsed SET / GETEX options.
#[derive(Default)]
struct Opts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, &'a [u8])>,
    /// IFEQ / IFNE / IFDEQ / IFDNE (Redis 8.4); exclusive with NX, XX and each other.
    cond: Option<Cond<'a>>,
}

/// `-ERR` of DELEX with a condition on a key that is not a string (Redis 8.4's text; SET with a
/// condition answers WRONGTYPE instead, as Redis does).
const DELEX_NOT_STRING: &str = "ERR Key should be of string type if conditions are specified";
/// `-ERR` of DELEX with a fourth argument that is no condition (Redis 8.4).
const DELEX_BAD_CONDITION: &str = "ERR Invalid condition. Use IFEQ, IFNE, IFDEQ, or IFDNE";
/// `-ERR` of IFDEQ / IFDNE with a digest that is not 16 characters long (Redis 8.4 checks the
/// length only, and only once there is a value to compare it with).
const BAD_DIGEST: &str = "ERR must be exactly 16 hexadecimal characters";

/// A value condition of `SET ... IFxx` and `DELEX key IFxx` (Redis 8.4). A missing key is
/// never equal: IFEQ / IFDEQ fail on it, IFNE / IFDNE hold (SET then creates the key; DELEX
/// has nothing to delete and answers 0 before looking at the condition).
#[derive(Clone, Copy)]
enum Cond<'a> {
    /// IFEQ: the value is exactly these bytes.
    Eq(&'a [u8]),
    /// IFNE: the value is not exactly these bytes.
    Ne(&'a [u8]),
    /// IFDEQ: the value's digest (see [`digest_hex`]) is this one, compared without case.
    DigestEq(&'a [u8]),
    /// IFDNE: the value's digest is not this one.
    DigestNe(&'a [u8]),
}

impl<'a> Cond<'a> {
    /// The condition named by `opt` (case-insensitive, as a C string like every option) with
    /// its argument.
    fn parse(opt: &[u8], arg: &'a [u8]) -> Option<Cond<'a>> {
        if is(opt, "ifeq") {
            Some(Cond::Eq(arg))
        } else if is(opt, "ifne") {
            Some(Cond::Ne(arg))
        } else if is(opt, "ifdeq") {
            Some(Cond::DigestEq(arg))
        } else if is(opt, "ifdne") {
            Some(Cond::DigestNe(arg))
        } else {
            None
        }
    }

    /// Whether the condition holds for the current string value (`None`: no key). A digest
    /// of the wrong length is an error, but only when there is a value to compare it with.
    fn holds(self, cur: Option<Value<'_>>) -> Result<bool, CmdError> {
        let digest_matches = |want: &[u8], v: Value<'_>| -> Result<bool, CmdError> {
            if want.len() != 16 {
                return Err(BAD_DIGEST.into());
            }
            Ok(digest_hex(v).eq_ignore_ascii_case(want))
        };
        Ok(match (self, cur) {
            (Cond::Eq(want), Some(v)) => value_is(v, want),
            (Cond::Ne(want), Some(v)) => !value_is(v, want),
            (Cond::DigestEq(want), Some(v)) => digest_matches(want, v)?,
            (Cond::DigestNe(want), Some(v)) => !digest_matches(want, v)?,
            (Cond::Eq(_) | Cond::DigestEq(_), None) => false,
            (Cond::Ne(_) | Cond::DigestNe(_), None) => true,
        })
    }
}

/// True when a string value is exactly `want` (an integer-encoded value compares as its
/// decimal text, formatted on the stack).
#[inline]
fn value_is(v: Value<'_>, want: &[u8]) -> bool {
    match v {
        Value::Str(b) => b == want,
        Value::Int(i) => itoa::Buffer::new().format(i).as_bytes() == want,
    }
}

/// Redis 8.4's digest of a string value: XXH3 64-bit (seed 0) of its bytes (an integer-encoded
/// value hashes its decimal text), as 16 lower-case hex digits with leading zeros.
pub(crate) fn digest_hex(v: Value<'_>) -> [u8; 16] {
    let h = match v {
        Value::Str(b) => xxh3_64(b),
        Value::Int(i) => xxh3_64(itoa::Buffer::new().format(i).as_bytes()),
    };
    let mut out = [0u8; 16];
    for (i, d) in out.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[(h >> (60 - 4 * i)) as usize & 0xf];
    }
    out
}

/// Parses options from `args[from..]` left to right, as Redis' `parseExtendedStringArguments`:
/// repeating an option is fine (the last value wins), conflicting ones are a syntax error.
/// Options are compared as C strings (a NUL byte ends them), like Redis does.
fn parse_opts<'a>(args: &Args<'a>, from: usize, family: Family) -> Result<Opts<'a>, CmdError> {
    let mut o = Opts::default();
    let mut j = from;
    while j < args.len() {
        let opt = cstr(args.get(j));
        let next = args.opt(j + 1);
        let unit = if is(opt, "ex") {
            Some(Unit::Ex)
        } else if is(opt, "px") {
            Some(Unit::Px)
        } else if is(opt, "exat") {
            Some(Unit::ExAt)
        } else if is(opt, "pxat") {
            Some(Unit::PxAt)
        } else {
            None
        };
        let set = family == Family::Set;
        // NX, XX and the IFxx conditions exclude each other in either order; NX or XX may be
        // repeated (Redis 7.0), a condition may not (Redis 8.4 and Valkey refuse any second
        // condition).
        if set && is(opt, "nx") && !o.xx && o.cond.is_none() {
            o.nx = true;
        } else if set && is(opt, "xx") && !o.nx && o.cond.is_none() {
            o.xx = true;
        } else if let Some(c) =
            next.filter(|_| set && !o.nx && !o.xx && o.cond.is_none()).and_then(|v| Cond::parse(opt, v))
        {
            o.cond = Some(c);
            j += 1;
        } else if set && is(opt, "get") {
            o.get = true;
        } else if set && is(opt, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && is(opt, "persist") && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(u), Some(v)) = (unit, next) {
            if o.keepttl || o.persist || o.expire.is_some_and(|(cur, _)| cur != u) {
                return Err(errors::SYNTAX.into());
            }
            o.expire = Some((u, v));
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// Where an expiration lands.
pub(crate) enum Deadline {
    /// A monotonic deadline.
    At(u64),
    /// An absolute time already in the past: the key is gone at once.
    Past,
}

/// Converts an EX/PX/EXAT/PXAT value into a monotonic deadline, with Redis' validation and error
/// text (`invalid expire time in '<cmd>' command`). Relative values are added to the monotonic
/// clock; absolute ones are converted from the wall clock once, here.
fn deadline(ctx: &Ctx<'_>, unit: Unit, raw: &[u8], cmd: &str) -> Result<Deadline, CmdError> {
    let v = int(raw)?;
    let bad = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let ms = if seconds { v * 1000 } else { v };
    match unit {
        Unit::Ex | Unit::Px => {
            // Redis adds the wall-clock time and refuses an overflow; the check only needs the
            // real wall time when the value is anywhere near the limit.
            if ms > i64::MAX / 2 && ms.checked_add(ctx.wall_ms()).is_none() {
                return Err(bad());
            }
            Ok(Deadline::At(ctx.ttl_now().saturating_add(ms as u64)))
        }
        Unit::ExAt | Unit::PxAt => Ok(wall_to_deadline(ctx, ms)),
    }
}

/// Converts an absolute Unix time in ms into a monotonic deadline (or [`Deadline::Past`]).
pub(crate) fn wall_to_deadline(ctx: &Ctx<'_>, at_ms: i64) -> Deadline {
    let now = ctx.ttl_now();
    let wall_now = ctx.srv.clock.wall_at(now);
    if at_ms <= wall_now {
        return Deadline::Past;
    }
    let delta = (at_ms as i128 - wall_now as i128) as u128;
    Deadline::At((u128::from(now) + delta).min(u128::from(u64::MAX - 2)) as u64)
}

impl Deadline {
    fn ttl(&self) -> Ttl {
        match self {
            Deadline::At(t) => Ttl::At(*t),
            // Stored already expired: invisible at once, reclaimed by the wheel.
            Deadline::Past => Ttl::At(0),
        }
    }
}

/// Writes a string value as a bulk reply.
#[inline]
pub(crate) fn reply_value(reply: &mut Reply, v: Value<'_>) {
    match v {
        Value::Str(b) => reply.bulk(b),
        Value::Int(i) => reply.bulk_i64(i),
    }
}

/// Checks that an entry holds a string.
#[inline]
fn string(e: &Entry) -> Result<Value<'_>, CmdError> {
    if e.value_type() == Type::String {
        Ok(e.value())
    } else {
        Err(errors::WRONGTYPE.into())
    }
}

/// GET key
pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    let found = ctx.srv.keyspace.read(k, ctx.now, |e| -> Result<bool, CmdError> {
        match e {
            None => {
                reply.null();
                Ok(false)
            }
            Some(e) => {
                e.touch(tumbler_keyspace::lru_clock(ctx.now));
                reply_value(reply, string(e)?);
                Ok(true)
            }
        }
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(found);
    Ok(())
}

/// SET key value [NX | XX | IFEQ v | IFNE v | IFDEQ digest | IFDNE digest] [GET]
/// [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
///
/// The IFxx conditions are Redis 8.4's (a tumbler extension over 7.0): the value is replaced
/// only when the condition holds; a key of another type is WRONGTYPE; without GET a refused
/// write answers null, with GET the old value (or null) is the answer either way.
pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_opts(&args, 3, Family::Set)?;
    set_generic(ctx, args.get(1), args.get(2), &o, "set", SetReply::Ok)
}

/// How a SET-like command answers when it stores or refuses.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK` / null (SET).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

fn set_generic(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], o: &Opts<'_>, cmd: &str, style: SetReply) -> CmdResult {
    let dl = match o.expire {
        Some((unit, raw)) => Some(deadline(ctx, unit, raw, cmd)?),
        None => None,
    };
    // SET NX (and the conditional forms) grant or refresh locks: the restart fence refuses
    // them, and the longest TTL granted is persisted before the reply.
    let lock_ttl = match dl.as_ref() {
        Some(Deadline::At(at)) if o.nx || o.cond.is_some() => Some(at.saturating_sub(ctx.ttl_now())),
        _ => None,
    };
    if o.nx || o.cond.is_some() {
        if let Some(left) = ctx.srv.locks.fence_left(ctx.now) {
            return Err(CmdError::Owned(ctx.srv.locks.fence_error(left)));
        }
        if let Some(ttl) = lock_ttl {
            ctx.srv
                .locks
                .note_ttl(ttl, ctx.srv.config.lock_max_ttl.load(std::sync::atomic::Ordering::Relaxed))
                .map_err(|m| CmdError::msg(format!("ERR {m}")))?;
        }
    }
    let k = ctx.key(key);
    let reply = &mut *ctx.reply;
    let now = ctx.now;
    let mut granted = None;
    let mut wrote = false;
    let hit = ctx.srv.keyspace.write(k, now, |e| -> Result<Option<bool>, CmdError> {
        // Everything that can fail is decided before the first reply byte: the type (for GET
        // and the conditions), then the condition (a malformed digest), then GET's answer.
        // The entry is only probed when its value is needed: SET NX on a held lock decides on
        // the presence bit alone.
        let (write, hit) = {
            let found = e.exists();
            let cur = match (o.get || o.cond.is_some()).then(|| e.get()).flatten() {
                Some(old) => Some(string(old)?),
                None => None,
            };
            let met = match o.cond {
                Some(c) => c.holds(cur)?,
                None => true,
            };
            let hit = o.get.then(|| {
                match cur {
                    Some(v) => reply_value(reply, v),
                    None => reply.null(),
                }
                cur.is_some()
            });
            if hit == Some(false) {
                e.note_miss();
            }
            // `lock-delay` holds back the name of a lock that expired recently.
            let refused = (o.nx && (found || e.lock_delay_left().is_some())) || (o.xx && !found);
            (met && !refused, hit)
        };
        let was_lock = o.cond.is_some() && e.get().is_some_and(|old| old.is_lock());
        if lock_ttl.is_some() && o.nx {
            granted = Some(write);
        }
        if !write {
            if !o.get {
                match style {
                    SetReply::Ok => reply.null(),
                    SetReply::Int => reply.int(0),
                }
            }
            return Ok(hit);
        }
        let ttl = match &dl {
            Some(d) => d.ttl(),
            None if o.keepttl => Ttl::Keep,
            None => Ttl::Clear,
        };
        // A lock granted with SET NX and a TTL, or refreshed by a conditional SET with one.
        if lock_ttl.is_some() && (o.nx || was_lock) {
            e.set_lock(NewValue::Str(value), ttl);
        } else {
            e.set(NewValue::Str(value), ttl);
        }
        wrote = true;
        if !o.get {
            match style {
                SetReply::Ok => reply.ok(),
                SetReply::Int => reply.int(1),
            }
        }
        Ok(hit)
    })?;
    if let Some(h) = hit {
        ctx.srv.stats.worker(ctx.worker).lookup(h);
    }
    if wrote {
        ctx.notify(N::STRING, "set", key);
        if dl.is_some() {
            ctx.notify(N::GENERIC, "expire", key);
        }
    }
    match granted {
        Some(true) => ctx.srv.locks.stats.acquired.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        Some(false) => ctx.srv.locks.stats.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        None => 0,
    };
    Ok(())
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = Opts { nx: true, ..Opts::default() };
    set_generic(ctx, args.get(1), args.get(2), &o, "setnx", SetReply::Int)
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = Opts { expire: Some((Unit::Ex, args.get(2))), ..Opts::default() };
    set_generic(ctx, args.get(1), args.get(3), &o, "setex", SetReply::Ok)
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = Opts { expire: Some((Unit::Px, args.get(2))), ..Opts::default() };
    set_generic(ctx, args.get(1), args.get(3), &o, "psetex", SetReply::Ok)
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = Opts { get: true, ..Opts::default() };
    set_generic(ctx, args.get(1), args.get(2), &o, "getset", SetReply::Ok)
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    let hit = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<bool, CmdError> {
        match e.get() {
            None => {
                e.note_miss();
                reply.null();
                Ok(false)
            }
            Some(old) => {
                reply_value(reply, string(old)?);
                e.remove();
                Ok(true)
            }
        }
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(hit);
    if hit {
        ctx.notify(N::GENERIC, "del", args.get(1));
    }
    Ok(())
}

/// DELEX key [IFEQ v | IFNE v | IFDEQ digest | IFDNE digest] (Redis 8.4; a tumbler extension)
///
/// Without a condition it is DEL of one key, of any type. With one: 0 for a missing key
/// (before the condition is even looked at), the string-type error for another type, then
/// the condition's name and digest are checked, and the key is deleted (1) when it holds.
pub fn delex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    match args.len() {
        2 => return crate::cmd::keys::del(ctx, args),
        4 => {}
        _ => {
            let mut msg = Vec::new();
            errors::wrong_arity(&mut msg, "delex");
            return Err(CmdError::Owned(msg));
        }
    }
    let (name, arg) = (cstr(args.get(2)), args.get(3));
    let k = ctx.key(args.get(1));
    let lru = tumbler_keyspace::lru_clock(ctx.now);
    let (deleted, hit) = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<(bool, bool), CmdError> {
        let matched = {
            let Some(old) = e.get() else { return Ok((false, false)) };
            old.touch(lru);
            if old.value_type() != Type::String {
                return Err(DELEX_NOT_STRING.into());
            }
            let cond = Cond::parse(name, arg).ok_or(CmdError::Static(DELEX_BAD_CONDITION))?;
            cond.holds(Some(old.value()))?
        };
        if matched {
            e.remove();
        }
        Ok((matched, true))
    })?;
    // Redis looks the key up with statistics (lookupKey without flags).
    ctx.srv.stats.worker(ctx.worker).lookup(hit);
    if deleted {
        ctx.notify(N::GENERIC, "del", args.get(1));
    }
    ctx.reply.int(i64::from(deleted));
    Ok(())
}

/// DELIFEQ key value (Valkey 9.0; a tumbler extension): deletes the key when it holds exactly
/// `value` (1), else 0; a key of another type is WRONGTYPE.
pub fn delifeq(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let want = args.get(2);
    let k = ctx.key(args.get(1));
    let deleted = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<bool, CmdError> {
        let matched = match e.get() {
            None => false,
            Some(old) => value_is(string(old)?, want),
        };
        if matched {
            e.remove();
        }
        Ok(matched)
    })?;
    if deleted {
        ctx.notify(N::GENERIC, "del", args.get(1));
    }
    ctx.reply.int(i64::from(deleted));
    Ok(())
}

/// DIGEST key (Redis 8.4; a tumbler extension): the XXH3 digest of a string value as 16
/// lower-case hex digits, null for a missing key, WRONGTYPE for another type.
pub fn digest(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    let found = ctx.srv.keyspace.read(k, ctx.now, |e| -> Result<bool, CmdError> {
        let Some(e) = e else {
            reply.null();
            return Ok(false);
        };
        e.touch(tumbler_keyspace::lru_clock(ctx.now));
        reply.bulk(&digest_hex(string(e)?));
        Ok(true)
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(found);
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
pub fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_opts(&args, 2, Family::GetEx)?;
    let k = ctx.key(args.get(1));
    // Redis checks existence and type before validating the expiration; the conversion needs the
    // context, so it is prepared here and applied under the lock.
    let ctx_ro: &Ctx<'_> = ctx;
    let computed: Option<Result<Deadline, CmdError>> = o.expire.map(|(unit, raw)| deadline(ctx_ro, unit, raw, "getex"));
    let reply = &mut *ctx.reply;
    let mut event = None;
    let hit = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<bool, CmdError> {
        let Some(cur) = e.get() else {
            e.note_miss();
            reply.null();
            return Ok(false);
        };
        let v = string(cur)?;
        let d = match computed {
            Some(r) => Some(r?),
            None => None,
        };
        reply_value(reply, v);
        match d {
            Some(Deadline::Past) => {
                e.remove();
                event = Some("del");
            }
            Some(Deadline::At(t)) => {
                e.set_expire(t);
                event = Some("expire");
            }
            None if o.persist && e.persist() => event = Some("persist"),
            None => {}
        }
        Ok(true)
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(hit);
    if let Some(ev) = event {
        ctx.notify(N::GENERIC, ev, args.get(1));
    }
    Ok(())
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys: Vec<KeyRef<'_>> = args.iter().skip(1).map(|k| ctx.key(k)).collect();
    let locked = ctx.srv.keyspace.lock(ctx.now, false, &keys);
    ctx.reply.array(keys.len());
    let (mut hits, mut misses) = (0u64, 0u64);
    for k in &keys {
        match locked.get(k) {
            Some(e) if e.value_type() == Type::String => {
                hits += 1;
                reply_value(ctx.reply, e.value());
            }
            Some(_) => {
                hits += 1;
                ctx.reply.null();
            }
            None => {
                misses += 1;
                ctx.reply.null();
            }
        }
    }
    drop(locked);
    let w = ctx.srv.stats.worker(ctx.worker);
    for _ in 0..hits {
        w.lookup(true);
    }
    for _ in 0..misses {
        w.lookup(false);
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        let mut msg = Vec::new();
        errors::wrong_arity(&mut msg, if nx { "msetnx" } else { "mset" });
        return Err(CmdError::Owned(msg));
    }
    let keys: Vec<KeyRef<'_>> = (1..args.len()).step_by(2).map(|i| ctx.key(args.get(i))).collect();
    let mut locked = ctx.srv.keyspace.lock(ctx.now, true, &keys);
    if nx && keys.iter().any(|k| locked.get(k).is_some()) {
        ctx.reply.int(0);
        return Ok(());
    }
    for (i, k) in keys.iter().enumerate() {
        locked.entry(k).set(NewValue::Str(args.get(2 + 2 * i)), Ttl::Clear);
    }
    drop(locked);
    for i in (1..args.len()).step_by(2) {
        ctx.notify(N::STRING, "set", args.get(i));
    }
    if nx {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_generic(ctx, args, false)
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_generic(ctx, args, true)
}

fn incr_generic(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let k = ctx.key(key);
    let v = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<i64, CmdError> {
        let cur = match e.get() {
            None => 0,
            Some(old) => match string(old)? {
                Value::Int(i) => i,
                Value::Str(s) => tumbler_proto::num::parse_i64(s).ok_or(CmdError::Static(errors::NOT_INTEGER))?,
            },
        };
        let new = cur.checked_add(by).ok_or(CmdError::Static(errors::INCR_OVERFLOW))?;
        e.set(NewValue::Int(new), Ttl::Keep);
        Ok(new)
    })?;
    ctx.notify(N::STRING, "incrby", key);
    ctx.reply.int(v);
    Ok(())
}

/// INCR key
pub fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_generic(ctx, args.get(1), 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_generic(ctx, args.get(1), -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = int(args.get(2))?;
    incr_generic(ctx, args.get(1), by)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = int(args.get(2))?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_generic(ctx, args.get(1), -by)
}

/// INCRBYFLOAT key increment
pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let incr = args.get(2);
    let text = ctx.srv.keyspace.write(k, ctx.now, |e| -> Result<Vec<u8>, CmdError> {
        let cur = match e.get() {
            None => None,
            Some(old) => Some(string(old)?.to_vec()),
        };
        let out = incr_by_float(cur.as_deref(), incr).map_err(|err| match err {
            IncrFloatError::BadValue | IncrFloatError::BadIncrement => CmdError::Static(errors::NOT_FLOAT),
            IncrFloatError::NanOrInf => CmdError::Static(errors::INCR_NAN),
        })?;
        e.set(NewValue::Exact(&out), Ttl::Keep);
        Ok(out)
    })?;
    ctx.notify(N::STRING, "incrbyfloat", args.get(1));
    ctx.reply.bulk(&text);
    Ok(())
}

/// Refuses a string that would exceed `proto-max-bulk-len` (Redis' `checkStringLength`).
fn check_len(ctx: &Ctx<'_>, size: u64, append: u64) -> CmdResult {
    let max = ctx.srv.config.proto_max_bulk_len.load(std::sync::atomic::Ordering::Relaxed);
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(errors::STRING_TOO_LONG.into()),
    }
}

/// APPEND key value
pub fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let add = args.get(2);
    let ctx_ro: &Ctx<'_> = ctx;
    let len = ctx_ro.srv.keyspace.write(k, ctx_ro.now, |e| -> Result<usize, CmdError> {
        match e.get() {
            None => {
                e.set(NewValue::Str(add), Ttl::Clear);
                Ok(add.len())
            }
            Some(old) => {
                let cur = string(old)?.str_len();
                check_len(ctx_ro, cur as u64, add.len() as u64)?;
                Ok(e.with_raw_string(|v| {
                    v.extend_from_slice(add);
                    v.len()
                })
                .unwrap_or(0))
            }
        }
    })?;
    ctx.notify(N::STRING, "append", args.get(1));
    ctx.reply.int(len as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let n = ctx.srv.keyspace.read(k, ctx.now, |e| -> Result<usize, CmdError> {
        match e {
            None => Ok(0),
            Some(e) => Ok(string(e)?.str_len()),
        }
    })?;
    ctx.reply.int(n as i64);
    Ok(())
}

/// GETRANGE key start end (and its old name SUBSTR)
pub fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = int(args.get(2))?;
    let end = int(args.get(3))?;
    let k = ctx.key(args.get(1));
    let reply = &mut *ctx.reply;
    let hit = ctx.srv.keyspace.read(k, ctx.now, |e| -> Result<bool, CmdError> {
        let Some(e) = e else {
            reply.bulk(b"");
            return Ok(false);
        };
        let v = string(e)?;
        let mut tmp = itoa::Buffer::new();
        let s: &[u8] = match v {
            Value::Str(s) => s,
            Value::Int(i) => tmp.format(i).as_bytes(),
        };
        let len = s.len() as i128;
        let (mut a, mut b) = (i128::from(start), i128::from(end));
        if a < 0 && b < 0 && a > b {
            reply.bulk(b"");
            return Ok(true);
        }
        if a < 0 {
            a += len;
        }
        if b < 0 {
            b += len;
        }
        a = a.max(0);
        b = b.max(0);
        if b >= len {
            b = len - 1;
        }
        if a > b || len == 0 {
            reply.bulk(b"");
        } else {
            reply.bulk(&s[a as usize..=b as usize]);
        }
        Ok(true)
    })?;
    ctx.srv.stats.worker(ctx.worker).lookup(hit);
    Ok(())
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let offset = int(args.get(2))?;
    if offset < 0 {
        return Err(errors::OFFSET_OUT_OF_RANGE.into());
    }
    let offset = offset as u64;
    let value = args.get(3);
    let k = ctx.key(args.get(1));
    let ctx_ro: &Ctx<'_> = ctx;
    let len = ctx_ro.srv.keyspace.write(k, ctx_ro.now, |e| -> Result<usize, CmdError> {
        match e.get() {
            None => {
                if value.is_empty() {
                    return Ok(0);
                }
                check_len(ctx_ro, offset, value.len() as u64)?;
                let mut v = vec![0u8; offset as usize + value.len()];
                v[offset as usize..].copy_from_slice(value);
                let n = v.len();
                e.set(NewValue::Raw(v), Ttl::Clear);
                Ok(n)
            }
            Some(old) => {
                let cur = string(old)?.str_len();
                if value.is_empty() {
                    return Ok(cur);
                }
                check_len(ctx_ro, offset, value.len() as u64)?;
                Ok(e.with_raw_string(|v| {
                    let end = offset as usize + value.len();
                    if v.len() < end {
                        v.resize(end, 0);
                    }
                    v[offset as usize..end].copy_from_slice(value);
                    v.len()
                })
                .unwrap_or(0))
            }
        }
    })?;
    if !value.is_empty() {
        ctx.notify(N::STRING, "setrange", args.get(1));
    }
    ctx.reply.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{digest_hex, Cond, BAD_DIGEST};
    use crate::spec::F;
    use crate::CmdError;
    use tumbler_keyspace::Value;

    fn hex(v: Value<'_>) -> String {
        String::from_utf8(digest_hex(v).to_vec()).unwrap()
    }

    #[test]
    fn digest_matches_the_documented_values() {
        // redis.io's DIGEST page: SET key1 "Hello world" / DIGEST key1.
        assert_eq!(hex(Value::Str(b"Hello world")), "b6acb9d84a38ff74");
        // Redis' own test suite (tests/unit/type/string.tcl): the leading zeros are kept.
        let long = b"v8lf0c11xh8ymlqztfd3eeq16kfn4sspw7fqmnuuq3k3t75em5wdizgcdw7uc26nnf961u2jkfzkjytls2kwlj7626sd";
        assert_eq!(hex(Value::Str(long)), "00006c38adf31777");
        // XXH3-64 with seed 0 of the empty input, and values other servers' docs print.
        assert_eq!(hex(Value::Str(b"")), "2d06800538d394c2");
        assert_eq!(hex(Value::Str(b"hello")), "9555e8555c62dcfd");
        assert_eq!(hex(Value::Str(b"v8")), "0cc76dbb41381419");
        // An integer-encoded value hashes its decimal text.
        assert_eq!(hex(Value::Int(123)), "404a763b3f4c8c9a");
        assert_eq!(hex(Value::Int(-999)), hex(Value::Str(b"-999")));
    }

    #[test]
    fn conditions_on_present_and_missing_values() {
        let v = Value::Str(b"tok");
        let d = digest_hex(v);
        let upper = d.to_ascii_uppercase();
        let holds = |c: Cond<'_>, cur| c.holds(cur).unwrap();
        assert!(holds(Cond::Eq(b"tok"), Some(v)));
        assert!(!holds(Cond::Eq(b"to"), Some(v)));
        assert!(!holds(Cond::Eq(b"tok"), None));
        assert!(holds(Cond::Ne(b"x"), Some(v)));
        assert!(!holds(Cond::Ne(b"tok"), Some(v)));
        assert!(holds(Cond::Ne(b"tok"), None));
        assert!(holds(Cond::Eq(b"42"), Some(Value::Int(42))));
        assert!(!holds(Cond::Eq(b"042"), Some(Value::Int(42))));
        assert!(holds(Cond::DigestEq(&d), Some(v)));
        assert!(holds(Cond::DigestEq(&upper), Some(v)));
        assert!(!holds(Cond::DigestNe(&upper), Some(v)));
        assert!(!holds(Cond::DigestEq(b"zzzzzzzzzzzzzzzz"), Some(v)), "only the length is validated");
        assert!(holds(Cond::DigestNe(b"zzzzzzzzzzzzzzzz"), Some(v)));
        // A malformed digest is an error only when there is a value to compare.
        assert!(!holds(Cond::DigestEq(b"12"), None));
        assert!(holds(Cond::DigestNe(b"12"), None));
        assert_eq!(Cond::DigestEq(&d[1..]).holds(Some(v)), Err(CmdError::Static(BAD_DIGEST)));
        assert_eq!(Cond::DigestNe(b"0123456789abcdef0").holds(Some(v)), Err(CmdError::Static(BAD_DIGEST)));
    }

    #[test]
    fn every_extension_command_has_docs() {
        // docs.rs is generated from redis-server 7.0.15; the extensions' entries are written by
        // hand and must survive a regeneration.
        let ext: Vec<&str> = crate::table::TABLE.iter().filter(|c| c.has(F::EXTENSION)).map(|c| c.name).collect();
        assert_eq!(
            ext,
            ["delex", "delifeq", "digest", "lock.acquire", "lock.release", "lock.extend", "lock.info", "lock.fence"]
        );
        for name in ext {
            assert!(crate::docs::DOCS.iter().any(|(n, _)| *n == name), "no COMMAND DOCS entry for {name}");
        }
    }
}
