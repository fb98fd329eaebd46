//! Redis' conversions between Lua values and RESP, in both directions.
//!
//! * RESP → Lua ([`push_reply`]): what `redis.call` returns. Nulls become `false` (RESP2) or
//!   `nil` (RESP3), status replies `{ok=…}`, errors `{err=…}`, RESP3 maps/sets/doubles/big
//!   numbers/verbatim strings tables with a `map`/`set`/`double`/`big_number`/`verbatim_string`
//!   field.
//! * Lua → RESP ([`write_value`]): what a script returns. The same tables convert back; other
//!   tables are arrays up to their first nil; numbers are truncated to integers.

use crate::lua::*;
use std::ffi::c_int;
use tumbler_proto::Reply;

/// The `err` text of Redis' error tables, from a message as Redis builds it (`luaPushError`):
/// `-CODE rest` keeps its code, anything else gets `ERR`; CR/LF around the rest are trimmed.
pub(crate) fn error_table_text(msg: &[u8]) -> Vec<u8> {
    let (code, rest): (&[u8], &[u8]) = match msg.strip_prefix(b"-") {
        Some(m) => match memchr::memchr(b' ', m) {
            Some(sp) => (&m[..sp], &m[sp + 1..]),
            None => (b"ERR", m),
        },
        None => (b"ERR", msg),
    };
    let is_crlf = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = rest.iter().position(|b| !is_crlf(b)).unwrap_or(rest.len());
    let end = rest.iter().rposition(|b| !is_crlf(b)).map_or(start, |e| e + 1);
    let mut out = Vec::with_capacity(code.len() + 1 + end - start);
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(&rest[start..end]);
    out
}

/// Pushes `{err = error_table_text(msg)}`.
///
/// # Safety
/// `L` is valid with room for 3 values; allocations must not be able to fail (cap lifted).
pub(crate) unsafe fn push_error_table(L: *mut lua_State, msg: &[u8]) {
    let text = error_table_text(msg);
    // SAFETY: as documented.
    unsafe {
        lua_createtable(L, 0, 1);
        set_field(L, b"err", || push_bytes(L, &text));
    }
}

/// C's `(long long)` conversion of a double as x86-64 does it: NaN and anything outside the
/// int64 range give `i64::MIN` (Rust's `as` would saturate).
#[inline]
pub(crate) fn c_long_long(d: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// A reply that was not well-formed RESP (a bug in a command, never client input).
#[derive(Debug)]
pub(crate) struct Malformed;

/// Parses one RESP reply from `buf` and pushes it as a Lua value. Returns the bytes consumed.
///
/// # Safety
/// `L` is valid and allocations cannot fail (the caller lifted the cap).
pub(crate) unsafe fn push_reply(L: *mut lua_State, buf: &[u8]) -> Result<usize, Malformed> {
    let mut pos = 0;
    // SAFETY: as documented.
    unsafe { push_one(L, buf, &mut pos, true)? };
    Ok(pos)
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], Malformed> {
    let rest = buf.get(*pos..).ok_or(Malformed)?;
    // Header lines are a few bytes: a plain scan beats memchr's setup.
    let end = rest.iter().position(|&b| b == b'\r').ok_or(Malformed)?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn int(b: &[u8]) -> Result<i64, Malformed> {
    tumbler_proto::num::parse_i64(b).ok_or(Malformed)
}

fn bulk<'a>(buf: &'a [u8], pos: &mut usize, len: i64) -> Result<&'a [u8], Malformed> {
    let len = usize::try_from(len).map_err(|_| Malformed)?;
    let s = buf.get(*pos..*pos + len).ok_or(Malformed)?;
    *pos += len + 2;
    Ok(s)
}

/// Pushes one value (or skips it when `push` is false, for attributes).
unsafe fn push_one(L: *mut lua_State, buf: &[u8], pos: &mut usize, push: bool) -> Result<(), Malformed> {
    let tag = *buf.get(*pos).ok_or(Malformed)?;
    *pos += 1;
    // SAFETY: the caller's guarantees; every push is preceded by a stack check.
    unsafe {
        if push && lua_checkstack(L, 4) == 0 {
            return Err(Malformed);
        }
        match tag {
            b':' => {
                let n = int(line(buf, pos)?)?;
                if push {
                    lua_pushnumber(L, n as f64);
                }
            }
            b'$' => {
                let n = int(line(buf, pos)?)?;
                if n < 0 {
                    if push {
                        lua_pushboolean(L, 0);
                    }
                } else {
                    let s = bulk(buf, pos, n)?;
                    if push {
                        push_bytes(L, s);
                    }
                }
            }
            b'+' => {
                let s = line(buf, pos)?;
                if push {
                    lua_createtable(L, 0, 1);
                    set_field(L, b"ok", || push_bytes(L, s));
                }
            }
            b'-' => {
                let start = *pos - 1;
                line(buf, pos)?;
                if push {
                    push_error_table(L, &buf[start..*pos - 2]);
                }
            }
            b'*' | b'~' | b'>' => {
                let n = int(line(buf, pos)?)?;
                if n < 0 {
                    if push {
                        lua_pushboolean(L, 0);
                    }
                    return Ok(());
                }
                if tag == b'~' && push {
                    lua_createtable(L, 0, 1);
                    push_bytes(L, b"set");
                    lua_createtable(L, 0, n.min(1024) as c_int);
                    for _ in 0..n {
                        push_one(L, buf, pos, true)?;
                        lua_pushboolean(L, 1);
                        lua_rawset(L, -3);
                    }
                    lua_rawset(L, -3);
                } else {
                    if push {
                        lua_createtable(L, n.min(1 << 20) as c_int, 0);
                    }
                    for i in 1..=n {
                        push_one(L, buf, pos, push)?;
                        if push {
                            lua_rawseti_(L, -2, i as c_int);
                        }
                    }
                }
            }
            b'%' => {
                let n = int(line(buf, pos)?)?;
                if push {
                    lua_createtable(L, 0, 1);
                    push_bytes(L, b"map");
                    lua_createtable(L, 0, n.min(1024) as c_int);
                }
                for _ in 0..n {
                    push_one(L, buf, pos, push)?;
                    push_one(L, buf, pos, push)?;
                    if push {
                        lua_rawset(L, -3);
                    }
                }
                if push {
                    lua_rawset(L, -3);
                }
            }
            b'|' => {
                let n = int(line(buf, pos)?)?;
                for _ in 0..2 * n {
                    push_one(L, buf, pos, false)?;
                }
                push_one(L, buf, pos, push)?;
            }
            b'_' => {
                line(buf, pos)?;
                if push {
                    lua_pushnil(L);
                }
            }
            b'#' => {
                let s = line(buf, pos)?;
                if push {
                    lua_pushboolean(L, c_int::from(s == b"t"));
                }
            }
            b',' => {
                let s = line(buf, pos)?;
                let d = parse_double(s);
                if push {
                    lua_createtable(L, 0, 1);
                    set_field(L, b"double", || lua_pushnumber(L, d));
                }
            }
            b'(' => {
                let s = line(buf, pos)?;
                if push {
                    lua_createtable(L, 0, 1);
                    set_field(L, b"big_number", || push_bytes(L, s));
                }
            }
            b'=' => {
                let n = int(line(buf, pos)?)?;
                let s = bulk(buf, pos, n)?;
                if s.len() < 4 {
                    return Err(Malformed);
                }
                if push {
                    lua_createtable(L, 0, 1);
                    push_bytes(L, b"verbatim_string");
                    lua_createtable(L, 0, 2);
                    set_field(L, b"string", || push_bytes(L, &s[4..]));
                    set_field(L, b"format", || push_bytes(L, &s[..3]));
                    lua_rawset(L, -3);
                }
            }
            _ => return Err(Malformed),
        }
    }
    Ok(())
}

fn parse_double(s: &[u8]) -> f64 {
    std::str::from_utf8(s).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0)
}

/// Writes the Lua value at the top of the stack as a reply and pops it. `script_resp` is the
/// protocol the script chose with `redis.setresp` (it decides how booleans convert).
///
/// # Safety
/// `L` is valid; allocations cannot fail (cap lifted); only raw table accesses are made, so
/// nothing raises.
pub(crate) unsafe fn write_value(L: *mut lua_State, reply: &mut Reply, script_resp: u8) {
    // SAFETY: as documented.
    unsafe {
        if lua_checkstack(L, 4) == 0 {
            reply.error("ERR reached lua stack limit");
            lua_settop(L, -2);
            return;
        }
        match lua_type(L, -1) {
            LUA_TSTRING => reply.bulk(to_bytes(L, -1).unwrap_or_default()),
            LUA_TBOOLEAN => {
                let b = lua_toboolean(L, -1) != 0;
                if script_resp == 2 {
                    if b {
                        reply.int(1);
                    } else {
                        reply.null();
                    }
                } else {
                    reply.boolean(b);
                }
            }
            LUA_TNUMBER => reply.int(c_long_long(lua_tonumber(L, -1))),
            LUA_TTABLE => {
                write_table(L, reply, script_resp);
                return;
            }
            _ => reply.null(),
        }
        lua_settop(L, -2);
    }
}

/// Replaces CR and LF by spaces, as Redis does for status and error texts.
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect()
}

unsafe fn write_table(L: *mut lua_State, reply: &mut Reply, resp: u8) {
    // SAFETY: the caller's guarantees; the table is at -1 and the stack has room for 4 more.
    unsafe {
        if raw_field(L, -1, b"err") == LUA_TSTRING {
            // `-` and the text verbatim: no `ERR` is added, a leading dash stays (`--x`).
            reply.error_bytes(to_bytes(L, -1).unwrap_or_default());
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"ok") == LUA_TSTRING {
            reply.simple(&one_line(to_bytes(L, -1).unwrap_or_default()));
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"double") == LUA_TNUMBER {
            reply.double(lua_tonumber(L, -1));
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"big_number") == LUA_TSTRING {
            reply.bignum(&one_line(to_bytes(L, -1).unwrap_or_default()));
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"verbatim_string") == LUA_TTABLE {
            if raw_field(L, -1, b"format") == LUA_TSTRING {
                if raw_field(L, -2, b"string") == LUA_TSTRING {
                    let f = to_bytes(L, -2).unwrap_or_default();
                    let mut format = [b' '; 3];
                    for (d, s) in format.iter_mut().zip(f) {
                        *d = *s;
                    }
                    reply.verbatim(&format, to_bytes(L, -1).unwrap_or_default());
                    lua_settop(L, -5);
                    return;
                }
                lua_settop(L, -2);
            }
            lua_settop(L, -2);
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"map") == LUA_TTABLE {
            let mark = reply.mark();
            let mut n = 0;
            lua_pushnil(L);
            while lua_next(L, -2) != 0 {
                lua_pushvalue(L, -2);
                write_value(L, reply, resp);
                write_value(L, reply, resp);
                n += 1;
            }
            reply.insert_map(mark, n);
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        if raw_field(L, -1, b"set") == LUA_TTABLE {
            let mark = reply.mark();
            let mut n = 0;
            lua_pushnil(L);
            while lua_next(L, -2) != 0 {
                lua_settop(L, -2);
                lua_pushvalue(L, -1);
                write_value(L, reply, resp);
                n += 1;
            }
            reply.insert_set(mark, n);
            lua_settop(L, -3);
            return;
        }
        lua_settop(L, -2);
        let mark = reply.mark();
        let mut n = 0;
        loop {
            lua_rawgeti_(L, -1, (n + 1) as c_int);
            if lua_type(L, -1) == LUA_TNIL {
                lua_settop(L, -2);
                break;
            }
            write_value(L, reply, resp);
            n += 1;
        }
        reply.insert_array(mark, n);
        lua_settop(L, -2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_follow_redis() {
        let t = |s: &[u8]| String::from_utf8(error_table_text(s)).unwrap_or_default();
        assert_eq!(t(b"hello"), "ERR hello");
        assert_eq!(t(b"-hello"), "ERR hello");
        assert_eq!(t(b"-MY hello"), "MY hello");
        assert_eq!(t(b"-"), "ERR ");
        assert_eq!(t(b"--x"), "ERR -x");
        assert_eq!(t(b"- x"), " x");
        assert_eq!(t(b"-\nx\n"), "ERR x");
        assert_eq!(t(b"-WRONGTYPE Operation against a key\r\n"), "WRONGTYPE Operation against a key");
    }

    #[test]
    fn c_cast_matches_x86() {
        assert_eq!(c_long_long(3.99), 3);
        assert_eq!(c_long_long(-3.5), -3);
        assert_eq!(c_long_long(f64::NAN), i64::MIN);
        assert_eq!(c_long_long(1e100), i64::MIN);
        assert_eq!(c_long_long(-1e100), i64::MIN);
        assert_eq!(c_long_long(2f64.powi(63)), i64::MIN);
        assert_eq!(c_long_long(-(2f64.powi(63))), i64::MIN);
        assert_eq!(c_long_long(2f64.powi(62)), 1 << 62);
    }
}
