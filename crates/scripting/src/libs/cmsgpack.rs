//! `cmsgpack`: MessagePack for scripts, as Redis 7.0.15 ships it (lua-cmsgpack 0.4.0).
//!
//! Written from the MessagePack format and from observing Redis; what scripts can see:
//!
//! * `pack(v1, ...)` encodes each argument and concatenates the results. Numbers that are whole
//!   and fit an int64 use the smallest integer format (`-0` is `0`); other numbers are float32
//!   when that holds the value exactly (infinities too), float64 otherwise (NaN keeps its bits).
//!   Strings are fixstr/str8/str16/str32. A table whose keys are exactly `1..n` (the empty table
//!   included) is an array, any other table a map in `lua_next` order. Tables nested 16 deep, and
//!   values that are neither nil, booleans, numbers, strings nor tables, become nil.
//! * `unpack(s)` returns every value in `s`; `unpack_one(s [, offset])` and
//!   `unpack_limit(s, limit [, offset])` return the offset of the next value (-1 at the end)
//!   followed by at most one / `limit` values. `limit` and `offset` both 0 means "everything,
//!   without an offset". Bin, ext and the other unknown types are `Bad data format in input.`.
//! * Lua's stack is the real limit on how many values and how deep a nesting can be returned, as
//!   in Redis: the decoder makes the same pushes and the same `lua_checkstack` calls, so the
//!   same inputs overflow with the same messages.

use crate::lua::*;
use std::ffi::c_int;

/// Tables at this nesting level (the argument itself is level 0) are packed as nil.
const MAX_NESTING: u32 = 16;

/// `luaL_checkstack` message when one more decoded value does not fit on the stack.
const TOO_MANY_VALUES: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// Creates the global `cmsgpack` table.
///
/// # Safety
/// `L` is valid and its globals writable.
pub(crate) unsafe fn open(L: *mut lua_State) {
    // SAFETY: as documented.
    unsafe {
        new_global_table(L, "cmsgpack", || {
            set_functions(
                L,
                &[("pack", pack), ("unpack", unpack), ("unpack_one", unpack_one), ("unpack_limit", unpack_limit)],
            );
            set_field(L, b"_NAME", || push_bytes(L, b"cmsgpack"));
            set_field(L, b"_VERSION", || push_bytes(L, b"lua-cmsgpack 0.4.0"));
            set_field(L, b"_COPYRIGHT", || push_bytes(L, b"Copyright (C) 2012, Salvatore Sanfilippo"));
            set_field(L, b"_DESCRIPTION", || push_bytes(L, b"MessagePack C implementation for Lua"));
        });
    }
}

/// Lifts the memory cap while alive (so that pushes cannot raise), and tells whether the memory
/// in use has gone over the cap that was in force.
struct Uncapped {
    /// The state.
    L: *mut lua_State,
    /// Whether the cap was enforced (restored on drop).
    was: bool,
}

impl Uncapped {
    /// Lifts the cap of `L`.
    ///
    /// # Safety
    /// `L` is valid and outlives the guard.
    unsafe fn new(L: *mut lua_State) -> Uncapped {
        // SAFETY: as documented.
        let s = unsafe { State::of(L) };
        let was = std::mem::replace(&mut s.enforce, false);
        Uncapped { L, was }
    }

    /// Bytes that may still be allocated under the cap in force before the guard.
    fn room(&self) -> usize {
        // SAFETY: `L` is valid (see `new`); the reference does not outlive this call.
        let s = unsafe { State::of(self.L) };
        if self.was {
            s.limit.saturating_sub(s.used)
        } else {
            usize::MAX
        }
    }

    /// Whether Lua holds more memory than the cap allows.
    fn over(&self) -> bool {
        // SAFETY: as in `room`.
        let s = unsafe { State::of(self.L) };
        self.was && s.used > s.limit
    }
}

impl Drop for Uncapped {
    fn drop(&mut self) {
        // SAFETY: as in `room`.
        unsafe { State::of(self.L).enforce = self.was };
    }
}

/// The error for a result that does not fit under the memory cap.
fn no_memory() -> Raise {
    Raise::Plain(b"not enough memory".to_vec())
}

// ------------------------------------------------------------------------------------------------
// Packing

lua_fn! {
    /// `cmsgpack.pack(v1, ...)`: the concatenated encodings of the arguments.
    fn pack(L) {
        // SAFETY: called by Lua; the checks raise while nothing is owned.
        let nargs = unsafe { lua_gettop(L) };
        if nargs == 0 {
            // SAFETY: as above.
            unsafe { luaL_argerror(L, 0, c"MessagePack pack needs input.".as_ptr()) };
        }
        // SAFETY: as above. Lua's rule (at most 8000 slots per C call) makes this fail for more
        // than 4000 arguments, which Redis reports.
        if unsafe { lua_checkstack(L, nargs) } == 0 {
            // SAFETY: as above.
            unsafe { luaL_argerror(L, 0, c"Too many arguments for MessagePack pack.".as_ptr()) };
        }
        // Room for the traversal: a key and a value per nesting level.
        // SAFETY: as above.
        unsafe { luaL_checkstack_(L, 2 * MAX_NESTING as c_int + 8, c"in function mp_pack".as_ptr()) };
        // SAFETY: L is valid for the whole call.
        let guard = unsafe { Uncapped::new(L) };
        let mut enc = Encoder { L, out: Vec::new(), budget: guard.room() };
        for i in 1..=nargs {
            // SAFETY: `i` is a valid index; the traversal only reads.
            if !unsafe { enc.value(i, 0) } {
                return Err(no_memory());
            }
        }
        if enc.out.len() >= guard.room() {
            return Err(no_memory());
        }
        // SAFETY: the cap is lifted, so the push cannot raise.
        unsafe { push_bytes(L, &enc.out) };
        if guard.over() {
            return Err(no_memory());
        }
        Ok(1)
    }
}

/// Encodes Lua values into `out`.
struct Encoder {
    /// The state holding the values.
    L: *mut lua_State,
    /// The encoding so far.
    out: Vec<u8>,
    /// The longest `out` may grow (what fits under the memory cap).
    budget: usize,
}

impl Encoder {
    /// Appends the encoding of the value at the absolute index `idx`, nested `level` deep.
    /// False when the output has outgrown the budget.
    ///
    /// # Safety
    /// `idx` is a valid absolute index of the state, with room on the stack for the traversal.
    unsafe fn value(&mut self, idx: c_int, level: u32) -> bool {
        let L = self.L;
        // SAFETY: as documented; nothing here can raise.
        unsafe {
            match lua_type(L, idx) {
                LUA_TBOOLEAN => self.out.push(if lua_toboolean(L, idx) != 0 { 0xc3 } else { 0xc2 }),
                LUA_TNUMBER => self.number(lua_tonumber(L, idx)),
                LUA_TSTRING => {
                    let s = to_bytes(L, idx).unwrap_or_default();
                    self.header(s.len(), 0xa0, 31, Some(0xd9), 0xda, 0xdb);
                    self.out.extend_from_slice(s);
                }
                LUA_TTABLE if level < MAX_NESTING => return self.table(idx, level),
                _ => self.out.push(0xc0),
            }
        }
        self.out.len() <= self.budget
    }

    /// A number: an integer when it is a whole number within int64, else a float.
    fn number(&mut self, n: f64) {
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if n.is_finite() && n.trunc() == n && (-TWO_63..TWO_63).contains(&n) {
            self.integer(n as i64);
        } else {
            let f = n as f32;
            if f64::from(f) == n {
                self.out.push(0xca);
                self.out.extend_from_slice(&f.to_bits().to_be_bytes());
            } else {
                self.out.push(0xcb);
                self.out.extend_from_slice(&n.to_bits().to_be_bytes());
            }
        }
    }

    /// An integer in its smallest format.
    fn integer(&mut self, i: i64) {
        let o = &mut self.out;
        if i >= 0 {
            if i <= 0x7f {
                o.push(i as u8);
            } else if i <= 0xff {
                o.extend_from_slice(&[0xcc, i as u8]);
            } else if i <= 0xffff {
                o.push(0xcd);
                o.extend_from_slice(&(i as u16).to_be_bytes());
            } else if i <= 0xffff_ffff {
                o.push(0xce);
                o.extend_from_slice(&(i as u32).to_be_bytes());
            } else {
                o.push(0xcf);
                o.extend_from_slice(&(i as u64).to_be_bytes());
            }
        } else if i >= -32 {
            o.push(i as u8);
        } else if i >= -128 {
            o.extend_from_slice(&[0xd0, i as u8]);
        } else if i >= -32768 {
            o.push(0xd1);
            o.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= -(1 << 31) {
            o.push(0xd2);
            o.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            o.push(0xd3);
            o.extend_from_slice(&i.to_be_bytes());
        }
    }

    /// A length header: `fix | len` up to `fix_max`, then the 8-bit form (if any), the 16-bit
    /// form and the 32-bit form.
    fn header(&mut self, len: usize, fix: u8, fix_max: usize, h8: Option<u8>, h16: u8, h32: u8) {
        let o = &mut self.out;
        match h8 {
            _ if len <= fix_max => o.push(fix | len as u8),
            Some(h) if len <= 0xff => o.extend_from_slice(&[h, len as u8]),
            _ if len <= 0xffff => {
                o.push(h16);
                o.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                o.push(h32);
                o.extend_from_slice(&(len as u32).to_be_bytes());
            }
        }
    }

    /// A table at `idx` (absolute), as an array when its keys are exactly 1..n, else as a map.
    ///
    /// # Safety
    /// As [`Encoder::value`].
    unsafe fn table(&mut self, idx: c_int, level: u32) -> bool {
        let L = self.L;
        // SAFETY: as documented; lua_next, lua_rawgeti and pops cannot raise here (every key
        // handed back to lua_next came from it).
        unsafe {
            // Array test: every key a whole number in 1..=i32::MAX, and as many keys as the
            // largest one.
            let (mut count, mut max, mut array) = (0usize, 0usize, true);
            lua_pushnil(L);
            while lua_next(L, idx) != 0 {
                lua_pop(L, 1);
                let n = if lua_type(L, -1) == LUA_TNUMBER { lua_tonumber(L, -1) } else { 0.0 };
                if !(n > 0.0 && n <= f64::from(i32::MAX) && n.trunc() == n) {
                    lua_pop(L, 1);
                    array = false;
                    break;
                }
                max = max.max(n as usize);
                count += 1;
            }
            if array && count == max {
                self.header(max, 0x90, 15, None, 0xdc, 0xdd);
                for j in 1..=max {
                    lua_rawgeti_(L, idx, j as c_int);
                    let ok = self.value(lua_gettop(L), level + 1);
                    lua_pop(L, 1);
                    if !ok {
                        return false;
                    }
                }
            } else {
                let mut len = 0usize;
                lua_pushnil(L);
                while lua_next(L, idx) != 0 {
                    lua_pop(L, 1);
                    len += 1;
                }
                self.header(len, 0x80, 15, None, 0xde, 0xdf);
                lua_pushnil(L);
                while lua_next(L, idx) != 0 {
                    let top = lua_gettop(L);
                    let ok = self.value(top - 1, level + 1) && self.value(top, level + 1);
                    lua_pop(L, if ok { 1 } else { 2 });
                    if !ok {
                        return false;
                    }
                }
            }
        }
        self.out.len() <= self.budget
    }
}

// ------------------------------------------------------------------------------------------------
// Unpacking

lua_fn! {
    /// `cmsgpack.unpack(s)`: every value encoded in `s`.
    fn unpack(L) {
        // SAFETY: called by Lua.
        unsafe { unpack_full(L, 0, 0) }
    }
}

lua_fn! {
    /// `cmsgpack.unpack_one(s [, offset])`: the next offset (-1 at the end) and the value there.
    fn unpack_one(L) {
        // SAFETY: called by Lua; the check raises while nothing is owned.
        unsafe {
            let offset = luaL_optinteger(L, 2, 0);
            lua_settop(L, 1.min(lua_gettop(L)));
            unpack_full(L, 1, offset as i64)
        }
    }
}

lua_fn! {
    /// `cmsgpack.unpack_limit(s, limit [, offset])`: the next offset (-1 at the end) and at most
    /// `limit` values from `offset` on.
    fn unpack_limit(L) {
        // SAFETY: called by Lua; the checks raise while nothing is owned.
        unsafe {
            let limit = luaL_checkinteger(L, 2);
            let offset = luaL_optinteger(L, 3, 0);
            lua_settop(L, 1.min(lua_gettop(L)));
            unpack_full(L, limit as i64, offset as i64)
        }
    }
}

/// The three unpack functions: decodes up to `limit` values of the string argument 1 from
/// `offset` on and pushes them, preceded by the next offset unless both are 0 (decode all).
///
/// # Safety
/// Called from a C function of `L`, before it owns anything.
unsafe fn unpack_full(L: *mut lua_State, limit: i64, offset: i64) -> Result<c_int, Raise> {
    let mut len = 0usize;
    // SAFETY: as documented; raises while nothing is owned. The string stays at index 1, so the
    // slice lives as long as this call.
    let s: &[u8] = unsafe {
        let p = luaL_checklstring(L, 1, &mut len);
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    };
    // Redis formats these with `%d` from 64-bit values: only the low 32 bits show.
    if offset < 0 || limit < 0 {
        return Err(Raise::at(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Raise::at(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i64::from(i32::MAX) } else { limit };
    // SAFETY: L is valid for the whole call.
    let guard = unsafe { Uncapped::new(L) };
    let mut dec = Decoder { L, s, pos: offset as usize, frames: Vec::new(), guard: &guard };
    let mut count: c_int = 0;
    while dec.pos < s.len() && i64::from(count) < limit {
        // SAFETY: nothing in the decoder raises.
        unsafe { dec.one() }.map_err(DecodeError::into_raise)?;
        count += 1;
    }
    if !decode_all {
        // SAFETY: the cap is lifted, so neither call raises.
        unsafe {
            if lua_checkstack(L, 1) == 0 {
                return Err(Raise::at("stack overflow (in function mp_unpack_full)"));
            }
            lua_pushinteger(L, if dec.pos == s.len() { -1 } else { dec.pos as lua_Integer });
            lua_insert(L, 2);
        }
        count += 1;
    }
    if guard.over() {
        return Err(no_memory());
    }
    Ok(count)
}

/// Why decoding stopped.
#[derive(Debug)]
enum DecodeError {
    /// The input ends inside a value.
    Eof,
    /// A type byte this library does not decode.
    BadFormat,
    /// No room on the Lua stack (the `luaL_checkstack` message).
    Stack(&'static str),
    /// A map key that is nil or NaN (Lua's own message for the assignment).
    Index(&'static str),
    /// Over the memory cap.
    Memory,
}

impl DecodeError {
    /// The error the script sees.
    fn into_raise(self) -> Raise {
        match self {
            DecodeError::Eof => Raise::at("Missing bytes in input."),
            DecodeError::BadFormat => Raise::at("Bad data format in input."),
            DecodeError::Stack(m) => Raise::at(format!("stack overflow ({m})")),
            DecodeError::Index(m) => Raise::Plain(m.as_bytes().to_vec()),
            DecodeError::Memory => no_memory(),
        }
    }
}

/// A table being filled, its table (and pending key or index) on the Lua stack.
enum Frame {
    /// An array: elements still to decode, and the index of the one being decoded.
    Array { left: u64, index: f64 },
    /// A map: entries still to decode, and whether the key of the current one is on the stack.
    Map { left: u64, have_key: bool },
}

/// Decodes values onto the Lua stack. Iterative, because nesting is bounded only by the stack.
struct Decoder<'a> {
    /// The state.
    L: *mut lua_State,
    /// The whole input.
    s: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// The tables being filled, innermost last.
    frames: Vec<Frame>,
    /// The lifted memory cap.
    guard: &'a Uncapped,
}

impl Decoder<'_> {
    /// Bytes left.
    fn left(&self) -> usize {
        self.s.len() - self.pos
    }

    /// Fails unless `n` bytes are left.
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    /// The `N` bytes after the type byte (which `need` has checked).
    fn arg<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&self.s[self.pos + 1..self.pos + 1 + N]);
        b
    }

    /// Decodes one complete value and pushes it.
    ///
    /// # Safety
    /// The memory cap is lifted (by `guard`), so pushes cannot raise.
    unsafe fn one(&mut self) -> Result<(), DecodeError> {
        let L = self.L;
        loop {
            // SAFETY: as documented.
            if !unsafe { self.start()? } {
                continue;
            }
            // A value is complete: store it into the tables it completes.
            loop {
                match self.frames.last_mut() {
                    None => return Ok(()),
                    Some(Frame::Array { left, index }) => {
                        // SAFETY: the stack holds table, index, value.
                        unsafe { lua_rawset(L, -3) };
                        *left -= 1;
                        if *left > 0 {
                            *index += 1.0;
                            // SAFETY: the slot was checked when the array was created.
                            unsafe { lua_pushnumber(L, *index) };
                            break;
                        }
                    }
                    Some(Frame::Map { have_key, .. }) if !*have_key => {
                        *have_key = true;
                        break;
                    }
                    Some(Frame::Map { left, have_key }) => {
                        // SAFETY: the stack holds table, key, value.
                        unsafe {
                            match lua_type(L, -2) {
                                LUA_TNIL => return Err(DecodeError::Index("table index is nil")),
                                LUA_TNUMBER if lua_tonumber(L, -2).is_nan() => {
                                    return Err(DecodeError::Index("table index is NaN"))
                                }
                                _ => lua_rawset(L, -3),
                            }
                        }
                        *left -= 1;
                        if *left > 0 {
                            *have_key = false;
                            break;
                        }
                    }
                }
                self.frames.pop();
                if self.guard.over() {
                    return Err(DecodeError::Memory);
                }
            }
            if self.guard.over() {
                return Err(DecodeError::Memory);
            }
        }
    }

    /// Reads a type byte and what follows: pushes a scalar (true), or an empty table, opening
    /// a frame when it has elements (false when the frame waits for them).
    ///
    /// # Safety
    /// As [`Decoder::one`].
    unsafe fn start(&mut self) -> Result<bool, DecodeError> {
        let L = self.L;
        self.need(1)?;
        // SAFETY: as documented.
        unsafe {
            if lua_checkstack(L, 1) == 0 {
                return Err(DecodeError::Stack(TOO_MANY_VALUES));
            }
            let t = self.s[self.pos];
            let (num, size): (f64, usize) = match t {
                0x00..=0x7f => (f64::from(t), 1),
                0xe0..=0xff => (f64::from(t as i8), 1),
                0xcc => (self.need(2).map(|()| f64::from(self.arg::<1>()[0]))?, 2),
                0xd0 => (self.need(2).map(|()| f64::from(self.arg::<1>()[0] as i8))?, 2),
                0xcd => (self.need(3).map(|()| f64::from(u16::from_be_bytes(self.arg())))?, 3),
                0xd1 => (self.need(3).map(|()| f64::from(i16::from_be_bytes(self.arg())))?, 3),
                0xce => (self.need(5).map(|()| f64::from(u32::from_be_bytes(self.arg())))?, 5),
                0xd2 => (self.need(5).map(|()| f64::from(i32::from_be_bytes(self.arg())))?, 5),
                // Redis pushes uint64 as a signed integer: 2^64-1 is -1.
                0xcf | 0xd3 => (self.need(9).map(|()| i64::from_be_bytes(self.arg()) as f64)?, 9),
                0xca => (self.need(5).map(|()| f64::from(f32::from_be_bytes(self.arg())))?, 5),
                0xcb => (self.need(9).map(|()| f64::from_be_bytes(self.arg()))?, 9),
                0xc0 | 0xc2 | 0xc3 => {
                    match t {
                        0xc0 => lua_pushnil(L),
                        _ => lua_pushboolean(L, c_int::from(t == 0xc3)),
                    }
                    self.pos += 1;
                    return Ok(true);
                }
                0xa0..=0xbf => return self.string(1, usize::from(t & 0x1f)),
                0xd9 => {
                    self.need(2)?;
                    return self.string(2, usize::from(self.arg::<1>()[0]));
                }
                0xda => {
                    self.need(3)?;
                    return self.string(3, usize::from(u16::from_be_bytes(self.arg())));
                }
                0xdb => {
                    self.need(5)?;
                    return self.string(5, u32::from_be_bytes(self.arg()) as usize);
                }
                0x90..=0x9f => return self.table(1, u64::from(t & 0xf), true),
                0x80..=0x8f => return self.table(1, u64::from(t & 0xf), false),
                0xdc | 0xde => {
                    self.need(3)?;
                    return self.table(3, u64::from(u16::from_be_bytes(self.arg())), t == 0xdc);
                }
                0xdd | 0xdf => {
                    self.need(5)?;
                    return self.table(5, u64::from(u32::from_be_bytes(self.arg())), t == 0xdd);
                }
                _ => return Err(DecodeError::BadFormat),
            };
            lua_pushnumber(L, num);
            self.pos += size;
            Ok(true)
        }
    }

    /// Pushes the `len` bytes after a `head`-byte header.
    ///
    /// # Safety
    /// As [`Decoder::one`], with a stack slot available.
    unsafe fn string(&mut self, head: usize, len: usize) -> Result<bool, DecodeError> {
        self.need(head + len)?;
        let start = self.pos + head;
        // SAFETY: as documented.
        unsafe { push_bytes(self.L, &self.s[start..start + len]) };
        self.pos = start + len;
        if self.guard.over() {
            return Err(DecodeError::Memory);
        }
        Ok(true)
    }

    /// Pushes a new table for an array or map of `len` elements after a `head`-byte header.
    ///
    /// # Safety
    /// As [`Decoder::one`], with a stack slot available.
    unsafe fn table(&mut self, head: usize, len: u64, array: bool) -> Result<bool, DecodeError> {
        let L = self.L;
        self.pos += head;
        // SAFETY: as documented.
        unsafe {
            lua_newtable(L);
            if array && lua_checkstack(L, 1) == 0 {
                return Err(DecodeError::Stack("in function mp_decode_to_lua_array"));
            }
        }
        if self.guard.over() {
            return Err(DecodeError::Memory);
        }
        if len == 0 {
            return Ok(true);
        }
        if array {
            self.frames.push(Frame::Array { left: len, index: 1.0 });
            // SAFETY: the slot was just checked.
            unsafe { lua_pushnumber(L, 1.0) };
        } else {
            self.frames.push(Frame::Map { left: len, have_key: false });
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    /// Runs `code` and returns its only result as text.
    fn one(code: &str) -> String {
        match run(code) {
            Ok(v) => v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>().join("|"),
            Err(e) => format!("ERR {}", String::from_utf8_lossy(&e)),
        }
    }

    /// `code` evaluates to a string; returns it in hex.
    fn hex(expr: &str) -> String {
        one(&format!("local s = {expr} return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))"))
    }

    #[test]
    fn pack_scalars() {
        for (e, want) in [
            ("cmsgpack.pack(1.5)", "ca3fc00000"),
            ("cmsgpack.pack(0.1)", "cb3fb999999999999a"),
            ("cmsgpack.pack(-1)", "ff"),
            ("cmsgpack.pack(-200)", "d1ff38"),
            ("cmsgpack.pack(300)", "cd012c"),
            ("cmsgpack.pack(2^40)", "cf0000010000000000"),
            ("cmsgpack.pack(2^63)", "ca5f000000"),
            ("cmsgpack.pack(-2^63)", "d38000000000000000"),
            ("cmsgpack.pack(2^64)", "ca5f800000"),
            ("cmsgpack.pack(-2^64)", "cadf800000"),
            ("cmsgpack.pack(0/0)", "cbfff8000000000000"),
            ("cmsgpack.pack(-(0/0))", "cb7ff8000000000000"),
            ("cmsgpack.pack(1/0)", "ca7f800000"),
            ("cmsgpack.pack(-1/0)", "caff800000"),
            ("cmsgpack.pack(-0.0)", "00"),
            ("cmsgpack.pack(2^53+1)", "cf0020000000000000"),
            ("cmsgpack.pack(4294967296)", "cf0000000100000000"),
            ("cmsgpack.pack(-2147483649)", "d3ffffffff7fffffff"),
            ("cmsgpack.pack(1e300)", "cb7e37e43c8800759c"),
            ("cmsgpack.pack(true, false, nil)", "c3c2c0"),
            ("cmsgpack.pack(tostring)", "c0"),
            ("cmsgpack.pack(string.rep('x',40)):sub(1,3)", "d92878"),
        ] {
            assert_eq!(hex(e), want, "{e}");
        }
    }

    #[test]
    fn pack_tables() {
        for (e, want) in [
            ("cmsgpack.pack({})", "90"),
            ("cmsgpack.pack({1,2,3})", "93010203"),
            ("cmsgpack.pack({a=1})", "81a16101"),
            ("cmsgpack.pack({[1]=1,[3]=3})", "8201010303"),
            ("cmsgpack.pack({[2^31]=1})", "81ce8000000001"),
            ("cmsgpack.pack({[2^31-1]=1})", "81ce7fffffff01"),
            ("(function() local t={} t[1]=t return cmsgpack.pack(t) end)()", "91919191919191919191919191919191c0"),
            (
                "(function() local t={} t[t]=1 return cmsgpack.pack(t) end)()",
                "81818181818181818181818181818181c001010101010101010101010101010101",
            ),
        ] {
            assert_eq!(hex(e), want, "{e}");
        }
    }

    #[test]
    fn pack_errors() {
        assert_eq!(
            one("return select(2, pcall(cmsgpack.pack))"),
            "bad argument #0 to '?' (MessagePack pack needs input.)"
        );
        assert_eq!(
            one("return select(2, pcall(function() return cmsgpack.pack() end))"),
            "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
        assert_eq!(
            one("local t={} for i=1,4001 do t[i]=i end return select(2, pcall(function() return cmsgpack.pack(unpack(t)) end))"),
            "user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"
        );
        assert_eq!(one("local t={} for i=1,4000 do t[i]=i end return #cmsgpack.pack(unpack(t))"), "11618");
    }

    #[test]
    fn unpack_values() {
        let p = "local function P(...) local r={pcall(...)} for i=1,#r do r[i]=tostring(r[i]) end \
                 return table.concat(r,'|') end return ";
        for (e, want) in [
            ("P(cmsgpack.unpack,'\\207\\255\\255\\255\\255\\255\\255\\255\\255')", "true|-1"),
            ("P(cmsgpack.unpack,'\\207\\128\\0\\0\\0\\0\\0\\0\\0')", "true|-9.2233720368548e+18"),
            ("P(cmsgpack.unpack,'\\206\\255\\255\\255\\255')", "true|4294967295"),
            ("P(cmsgpack.unpack,'\\217\\3abc')", "true|abc"),
            ("P(cmsgpack.unpack,'\\196\\3abc')", "false|Bad data format in input."),
            ("P(cmsgpack.unpack,'\\212\\3abc')", "false|Bad data format in input."),
            ("P(cmsgpack.unpack,'\\217\\4abc')", "false|Missing bytes in input."),
            ("P(cmsgpack.unpack,'\\147\\1')", "false|Missing bytes in input."),
            ("P(cmsgpack.unpack,'\\1\\193')", "false|Bad data format in input."),
            ("P(cmsgpack.unpack,'\\129\\192\\1')", "false|table index is nil"),
            ("P(cmsgpack.unpack,'\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1')", "false|table index is NaN"),
            ("P(function() return cmsgpack.unpack('\\193') end)", "false|user_script:1: Bad data format in input."),
            ("P(cmsgpack.unpack_limit,'\\1\\2\\3',0)", "true|1|2|3"),
            ("P(cmsgpack.unpack_limit,'\\1\\2\\3',0,1)", "true|1"),
            (
                "P(cmsgpack.unpack_limit,'\\1\\2\\3',-1)",
                "false|Invalid request to unpack with offset of 0 and limit of 3.",
            ),
            ("P(cmsgpack.unpack_limit,'\\1\\2\\3',2,1)", "true|-1|2|3"),
            (
                "P(cmsgpack.unpack_limit,'\\1\\2\\3',2^63)",
                "false|Invalid request to unpack with offset of 0 and limit of 3.",
            ),
            ("P(cmsgpack.unpack_limit,'\\1\\2\\3',2^32,2^32)", "false|Start offset 0 greater than input length 3."),
            ("P(cmsgpack.unpack_one,'\\1\\2\\3',4294967297)", "false|Start offset 1 greater than input length 3."),
            ("P(cmsgpack.unpack_one,'\\1\\2\\3',2^31)", "false|Start offset -2147483648 greater than input length 3."),
            ("P(cmsgpack.unpack_one,'\\1\\2\\3',1.9)", "true|2|2"),
            (
                "P(cmsgpack.unpack_one,'\\1\\2\\3',1e300)",
                "false|Invalid request to unpack with offset of 0 and limit of 3.",
            ),
            ("P(cmsgpack.unpack_one,'\\1\\2\\3','2')", "true|-1|3"),
            ("P(cmsgpack.unpack_one,'abc',-1)", "false|Invalid request to unpack with offset of -1 and limit of 3."),
            ("P(cmsgpack.unpack_one,'abc',3)", "true|-1"),
            ("P(cmsgpack.unpack_limit,'abc')", "false|bad argument #2 to '?' (number expected, got no value)"),
            ("P(cmsgpack.unpack_one,nil,'x')", "false|bad argument #2 to '?' (number expected, got string)"),
            ("P(cmsgpack.unpack_one)", "false|bad argument #1 to '?' (string expected, got no value)"),
            ("P(cmsgpack.unpack,'\\1\\2\\3',5,6)", "true|1|2|3"),
            ("P(cmsgpack.unpack,12)", "true|49|50"),
            ("P(cmsgpack.unpack, '\\202\\127\\192\\0\\1')", "true|nan"),
            (
                "P(cmsgpack.unpack,string.rep('\\1',8000))",
                "false|stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            ),
            ("select('#',cmsgpack.unpack(string.rep('\\1',7999)))", "7999"),
            (
                "P(cmsgpack.unpack_limit,string.rep('\\1',7999),8000)",
                "false|stack overflow (in function mp_unpack_full)",
            ),
            ("#{cmsgpack.unpack_limit(string.rep('\\1',7998),8000)}", "7999"),
        ] {
            assert_eq!(one(&format!("{p}{e}")), want, "{e}");
        }
    }

    #[test]
    fn unpack_nesting() {
        let d = "local function D(t) local d=0 while type(t)=='table' do d=d+1 t=t[1] or next(t) end return d end ";
        for (n, p, want) in [
            (3999, "'\\145'", "3999"),
            (4000, "'\\145'", "stack overflow (in function mp_decode_to_lua_array)"),
            (3999, "'\\129\\1'", "3999"),
            (
                4000,
                "'\\129\\1'",
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            ),
            (4000, "'\\129'", "Missing bytes in input."),
            (3999, "'\\220\\0\\1'", "3999"),
            (4000, "'\\220\\0\\1'", "stack overflow (in function mp_decode_to_lua_array)"),
        ] {
            let code = format!(
                "{d} local ok, v = pcall(cmsgpack.unpack, string.rep({p}, {n})..'\\1') if ok then return D(v) else return v end"
            );
            assert_eq!(one(&code), want, "{n} {p}");
        }
    }

    /// Calls `cmsgpack.<f>` in a state capped at 1 MiB, with arguments pushed by `args`;
    /// returns the error, or the length of the first result.
    fn capped(f: &str, args: impl FnOnce(*mut crate::lua::lua_State) -> i32) -> Result<usize, String> {
        use crate::lua::*;
        let vm = crate::vm::Vm::new(1 << 20);
        let L = vm.ptr();
        // SAFETY: a fresh state, used from this thread only.
        unsafe {
            super::open(L);
            lua_settop(L, 0);
            lua_pushstring_(L, c"cmsgpack".as_ptr());
            lua_rawget_(L, LUA_GLOBALSINDEX);
            push_bytes(L, f.as_bytes());
            lua_rawget_(L, -2);
            let n = args(L);
            State::of(L).enforce = true;
            let rc = lua_pcall(L, n, 1, 0);
            State::of(L).enforce = false;
            let out = to_bytes(L, -1).map(<[u8]>::len);
            if rc != 0 {
                return Err(String::from_utf8_lossy(to_bytes(L, -1).unwrap_or_default()).into_owned());
            }
            Ok(out.unwrap_or(0))
        }
    }

    #[test]
    fn memory_cap() {
        use crate::lua::*;
        // A table holding itself ten times packs to 10^16 values: stopped by the cap.
        let r = capped("pack", |L| unsafe {
            lua_newtable(L);
            for i in 1..=10 {
                lua_pushvalue(L, -1);
                lua_rawseti_(L, -2, i);
            }
            1
        });
        assert_eq!(r, Err("not enough memory".to_string()));
        // Two bytes per empty table: far more tables than fit.
        let r = capped("unpack", |L| unsafe {
            let mut s = vec![0xddu8, 0, 4, 0, 0];
            s.extend(std::iter::repeat_n(0x90, 256 * 1024));
            push_bytes(L, &s);
            1
        });
        assert_eq!(r, Err("not enough memory".to_string()));
        let r = capped("unpack", |L| unsafe {
            push_bytes(L, &[0xdb, 0, 0x10, 0, 0]);
            1
        });
        assert_eq!(r, Err("Missing bytes in input.".to_string()));
        let r = capped("pack", |L| unsafe {
            push_bytes(L, &[b'x'; 300 * 1024]);
            lua_pushvalue(L, -1);
            lua_pushvalue(L, -1);
            lua_pushvalue(L, -1);
            4
        });
        assert_eq!(r, Err("not enough memory".to_string()));
        assert_eq!(
            capped("pack", |L| unsafe {
                push_bytes(L, &[b'x'; 300 * 1024]);
                1
            }),
            Ok(300 * 1024 + 5)
        );
    }

    #[test]
    fn library_table() {
        assert_eq!(
            one("return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION"),
            "cmsgpack|lua-cmsgpack 0.4.0|Copyright (C) 2012, Salvatore Sanfilippo|MessagePack C implementation for Lua"
        );
    }
}
