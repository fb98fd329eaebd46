//! The `cjson` library of Redis scripts: JSON encoding and decoding that behaves like the
//! lua-cjson 2.1.0 embedded in Redis 7.0.15 (same output bytes, same settings, same error texts).
//!
//! Written from the library's documented and observed behaviour:
//!
//! * Encoding: numbers use `%.<precision>g` (precision 14 unless changed); strings escape `"`,
//!   `\`, `/` and control characters (`\b \t \n \f \r` short, the others and 0x7f as `\u00xx`),
//!   other bytes pass through. A table whose keys are all positive integers is an array (missing
//!   slots become `null`) unless it is "excessively sparse"; any other non-empty table, and the
//!   empty table, is an object whose number keys are written as strings, in `lua_next` order.
//! * Decoding: a hand-written tokenizer, numbers through the C library's `strtod` (so hex,
//!   `inf`, `nan` and out-of-range values behave alike), `\uXXXX` escapes and surrogate pairs to
//!   UTF-8, and JSON `null` as `cjson.null` (a NULL light userdata).
//! * Settings live in a userdata that every function of one instance holds as its first upvalue;
//!   `cjson.new()` builds another instance with the defaults.
//!
//! Encoding and decoding are iterative (no Rust recursion) and use the Lua stack as lua-cjson
//! does, so that the depth at which `lua_checkstack` gives up is the same.

use crate::lua::*;
use std::ffi::{c_char, c_int, CStr};

/// The settings of one cjson instance (the payload of the configuration userdata).
#[repr(C)]
#[derive(Clone, Copy)]
struct Config {
    /// `encode_sparse_array` 1st value: turn excessively sparse arrays into objects (else fail).
    sparse_convert: c_int,
    /// `encode_sparse_array` 2nd value: the sparseness ratio (0 = never excessive).
    sparse_ratio: c_int,
    /// `encode_sparse_array` 3rd value: arrays whose largest index is at most this are never sparse.
    sparse_safe: c_int,
    /// Deepest table nesting `encode` accepts.
    encode_max_depth: c_int,
    /// Deepest array/object nesting `decode` accepts.
    decode_max_depth: c_int,
    /// Significant digits when encoding numbers (1..=14).
    precision: c_int,
    /// `encode_keep_buffer` (no observable effect besides its value).
    keep_buffer: c_int,
    /// NaN and infinities when encoding: 0 = error, 1 = `nan`/`inf`, 2 = `null`.
    encode_invalid: c_int,
    /// Whether `decode` accepts hex, `inf`, `nan`, leading `+` and leading zeros.
    decode_invalid: c_int,
}

/// The settings of a new instance.
const DEFAULTS: Config = Config {
    sparse_convert: 0,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    precision: 14,
    keep_buffer: 1,
    encode_invalid: 0,
    decode_invalid: 1,
};

/// The functions of an instance, in the order they are stored in its table.
const FUNCTIONS: [(&[u8], lua_CFunction); 10] = [
    (b"encode", encode),
    (b"decode", decode),
    (b"encode_sparse_array", encode_sparse_array),
    (b"encode_max_depth", encode_max_depth),
    (b"decode_max_depth", decode_max_depth),
    (b"encode_number_precision", encode_number_precision),
    (b"encode_keep_buffer", encode_keep_buffer),
    (b"encode_invalid_numbers", encode_invalid_numbers),
    (b"decode_invalid_numbers", decode_invalid_numbers),
    (b"new", new),
];

/// Creates the global table `cjson`.
///
/// # Safety
/// `L` is valid and its globals writable.
pub(crate) unsafe fn open(L: *mut lua_State) {
    // SAFETY: as documented; `fill` runs with the new table on top.
    unsafe { new_global_table(L, "cjson", || fill(L)) }
}

/// Fills the table at the top of the stack with a fresh instance: the functions (sharing a new
/// configuration), `null`, `_NAME` and `_VERSION`.
///
/// # Safety
/// `L` is valid with a writable table on top and room for 4 more values.
unsafe fn fill(L: *mut lua_State) {
    // SAFETY: as documented; the userdata is big enough and suitably aligned for a Config.
    unsafe {
        let cfg = lua_newuserdata(L, std::mem::size_of::<Config>()).cast::<Config>();
        cfg.write(DEFAULTS);
        for (name, f) in FUNCTIONS {
            push_bytes(L, name);
            lua_pushvalue(L, -2);
            lua_pushcclosure(L, f, 1);
            lua_rawset(L, -4);
        }
        lua_pop(L, 1);
        set_field(L, b"null", || lua_pushlightuserdata(L, std::ptr::null_mut()));
        set_field(L, b"_NAME", || push_bytes(L, b"cjson"));
        set_field(L, b"_VERSION", || push_bytes(L, b"2.1.0"));
    }
}

/// The configuration of the running function's instance (its first upvalue).
///
/// # Safety
/// Called from one of this module's C functions.
unsafe fn config(L: *mut lua_State) -> Result<*mut Config, Raise> {
    // SAFETY: as documented.
    let p = unsafe { lua_touserdata(L, lua_upvalueindex(1)) }.cast::<Config>();
    if p.is_null() {
        return Err(Raise::at("BUG: Unable to fetch CJSON configuration"));
    }
    Ok(p)
}

/// Whether `n` more bytes fit under the memory cap, `enforced` telling whether the cap was in
/// force when the call began (the work itself runs with the cap lifted).
///
/// # Safety
/// As [`State::of`].
unsafe fn fits(L: *mut lua_State, enforced: bool, n: usize) -> bool {
    if !enforced {
        return true;
    }
    // SAFETY: as documented.
    let s = unsafe { State::of(L) };
    s.used.saturating_add(n) <= s.limit
}

/// Runs `f` with the memory cap lifted, passing it whether the cap was in force. Unlike
/// [`State::unlimited`], no borrow of the [`State`] is held while `f` runs (`f` reads it through
/// [`fits`]).
///
/// # Safety
/// As [`State::of`].
unsafe fn cap_lifted<R>(L: *mut lua_State, f: impl FnOnce(bool) -> R) -> R {
    // SAFETY: as documented; each borrow of the State ends at once.
    let was = unsafe { std::mem::replace(&mut State::of(L).enforce, false) };
    let r = f(was);
    // SAFETY: as documented.
    unsafe { State::of(L).enforce = was };
    r
}

/// The error raised when the memory cap would be exceeded.
fn out_of_memory() -> Raise {
    Raise::Plain(b"not enough memory".to_vec())
}

// ------------------------------------------------------------------------------------------------
// Settings

/// Checks that at most `n` arguments were given, pads them to `n` with nils and returns the
/// configuration.
///
/// # Safety
/// Called first thing from one of this module's C functions (may raise).
unsafe fn settings_args(L: *mut lua_State, n: c_int) -> Result<*mut Config, Raise> {
    // SAFETY: as documented; nothing is owned yet.
    unsafe {
        if lua_gettop(L) > n {
            luaL_argerror(L, n + 1, c"found too many arguments".as_ptr());
        }
        while lua_gettop(L) < n {
            lua_pushnil(L);
        }
        config(L)
    }
}

/// Sets `*setting` from argument `idx` unless it is nil (an integer in `min..=max`, else an
/// error that always names argument #1) and pushes the setting's value.
///
/// # Safety
/// As [`settings_args`]; `setting` points into the configuration userdata.
unsafe fn integer_option(L: *mut lua_State, idx: c_int, setting: *mut c_int, min: c_int, max: c_int) {
    // SAFETY: as documented; the message buffer is a plain array, so raising over it is fine.
    unsafe {
        if lua_isnil(L, idx) == 0 {
            // The C library stores the integer in an `int`: truncation as in C.
            let v = luaL_checkinteger(L, idx) as c_int;
            if v < min || v > max {
                let mut msg = [0 as c_char; 64];
                libc::snprintf(msg.as_mut_ptr(), msg.len(), c"expected integer between %d and %d".as_ptr(), min, max);
                luaL_argerror(L, 1, msg.as_ptr());
            }
            *setting = v;
        }
        lua_pushinteger(L, *setting as lua_Integer);
    }
}

/// The names of the boolean settings' values.
const ON_OFF: [*const c_char; 3] = [c"off".as_ptr(), c"on".as_ptr(), std::ptr::null()];
/// The names of `encode_invalid_numbers`' values.
const OFF_ON_NULL: [*const c_char; 4] = [c"off".as_ptr(), c"on".as_ptr(), c"null".as_ptr(), std::ptr::null()];

/// Sets `*setting` from argument `idx` unless it is nil (a boolean, or one of the names in
/// `options`) and pushes the setting's value: a boolean for 0 and 1, else the option's name.
///
/// # Safety
/// As [`integer_option`]; `options` is null-terminated.
unsafe fn enum_option(L: *mut lua_State, idx: c_int, setting: *mut c_int, options: &[*const c_char]) {
    // SAFETY: as documented.
    unsafe {
        if lua_isnil(L, idx) == 0 {
            *setting = if lua_isboolean(L, idx) != 0 {
                lua_toboolean(L, idx)
            } else {
                luaL_checkoption(L, idx, std::ptr::null(), options.as_ptr())
            };
        }
        let v = *setting;
        if v == 0 || v == 1 {
            lua_pushboolean(L, v);
        } else {
            lua_pushstring_(L, options[v as usize]);
        }
    }
}

lua_fn! {
    /// `cjson.encode_sparse_array([convert[, ratio[, safe]]])` → convert, ratio, safe.
    fn encode_sparse_array(L) {
        // SAFETY: argument handling only; settings are applied one by one as lua-cjson does.
        unsafe {
            let cfg = settings_args(L, 3)?;
            enum_option(L, 1, &raw mut (*cfg).sparse_convert, &ON_OFF);
            integer_option(L, 2, &raw mut (*cfg).sparse_ratio, 0, c_int::MAX);
            integer_option(L, 3, &raw mut (*cfg).sparse_safe, 0, c_int::MAX);
        }
        Ok(3)
    }
}

lua_fn! {
    /// `cjson.encode_max_depth([depth])` → depth.
    fn encode_max_depth(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            integer_option(L, 1, &raw mut (*cfg).encode_max_depth, 1, c_int::MAX);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.decode_max_depth([depth])` → depth.
    fn decode_max_depth(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            integer_option(L, 1, &raw mut (*cfg).decode_max_depth, 1, c_int::MAX);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.encode_number_precision([digits])` → digits.
    fn encode_number_precision(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            integer_option(L, 1, &raw mut (*cfg).precision, 1, 14);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.encode_keep_buffer([keep])` → keep.
    fn encode_keep_buffer(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            enum_option(L, 1, &raw mut (*cfg).keep_buffer, &ON_OFF);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.encode_invalid_numbers([setting])` → false, true or "null".
    fn encode_invalid_numbers(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            enum_option(L, 1, &raw mut (*cfg).encode_invalid, &OFF_ON_NULL);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.decode_invalid_numbers([allow])` → allow.
    fn decode_invalid_numbers(L) {
        // SAFETY: argument handling only.
        unsafe {
            let cfg = settings_args(L, 1)?;
            enum_option(L, 1, &raw mut (*cfg).decode_invalid, &ON_OFF);
        }
        Ok(1)
    }
}

lua_fn! {
    /// `cjson.new()` → a new, independent instance with the default settings.
    fn new(L) {
        // SAFETY: a C function of L; the pushes cannot raise with the cap lifted.
        unsafe {
            cap_lifted(L, |_| {
                lua_newtable(L);
                fill(L);
            });
        }
        Ok(1)
    }
}

// ------------------------------------------------------------------------------------------------
// Encoding

lua_fn! {
    /// `cjson.encode(value)` → the JSON text.
    fn encode(L) {
        // SAFETY: a C function of L; the argument check comes first, while nothing is owned.
        unsafe {
            let cfg = *config(L)?;
            if lua_gettop(L) != 1 {
                luaL_argerror(L, 1, c"expected 1 argument".as_ptr());
            }
            let out = cap_lifted(L, |enforced| {
                let mut enc = Encoder { L, cfg, enforced, out: Vec::new() };
                enc.run().map(|()| enc.out)
            })?;
            if !room_for(L, out.len().saturating_add(32)) {
                return Err(out_of_memory());
            }
            cap_lifted(L, |_| push_bytes(L, &out));
        }
        Ok(1)
    }
}

/// A table being encoded, its value on the Lua stack.
enum Open {
    /// An array of `len` elements, of which `done` were started (the last one is on the stack
    /// above the table when `done > 0`).
    Array { len: c_int, done: c_int },
    /// An object being walked with `lua_next`: the current key (and, once started, its value)
    /// are on the stack above the table.
    Object { started: bool },
}

/// The state of one `encode` call.
struct Encoder {
    /// The Lua state (the value to encode is at the top of its stack).
    L: *mut lua_State,
    /// The instance's settings.
    cfg: Config,
    /// Whether the memory cap was in force when the call began.
    enforced: bool,
    /// The JSON text so far.
    out: Vec<u8>,
}

impl Encoder {
    /// Encodes the value at the top of the stack into `out`.
    ///
    /// # Safety
    /// `L` is the state of a running C function with the value on top; Lua must not be able to
    /// raise (the memory cap is lifted).
    unsafe fn run(&mut self) -> Result<(), Raise> {
        let L = self.L;
        let mut open: Vec<Open> = Vec::new();
        // SAFETY: as documented; every index used below refers to values pushed here.
        unsafe {
            loop {
                // The value at the top of the stack. The text is held outside Lua, so it is
                // checked against the cap as it grows.
                if !fits(L, self.enforced, self.out.len()) {
                    return Err(out_of_memory());
                }
                if lua_type(L, -1) == LUA_TTABLE {
                    let depth = c_int::try_from(open.len() + 1).unwrap_or(c_int::MAX);
                    if depth > self.cfg.encode_max_depth || lua_checkstack(L, 3) == 0 {
                        return Err(Raise::at(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    let len = self.array_length()?;
                    if len > 0 {
                        self.out.push(b'[');
                        open.push(Open::Array { len, done: 0 });
                    } else {
                        self.out.push(b'{');
                        lua_pushnil(L);
                        open.push(Open::Object { started: false });
                    }
                } else {
                    self.scalar(-1)?;
                }
                // Find the next value to encode, closing the tables that are complete.
                loop {
                    match open.last_mut() {
                        None => return Ok(()),
                        Some(Open::Array { len, done }) => {
                            if *done > 0 {
                                lua_pop(L, 1);
                            }
                            if *done == *len {
                                self.out.push(b']');
                                open.pop();
                                continue;
                            }
                            if *done > 0 {
                                self.out.push(b',');
                            }
                            *done += 1;
                            lua_rawgeti_(L, -1, *done);
                            break;
                        }
                        Some(Open::Object { started }) => {
                            let first = !*started;
                            if *started {
                                lua_pop(L, 1);
                            }
                            *started = true;
                            if lua_next(L, -2) == 0 {
                                self.out.push(b'}');
                                open.pop();
                                continue;
                            }
                            if !first {
                                self.out.push(b',');
                            }
                            match lua_type(L, -2) {
                                LUA_TNUMBER => {
                                    self.out.push(b'"');
                                    self.number(-2)?;
                                    self.out.extend_from_slice(b"\":");
                                }
                                LUA_TSTRING => {
                                    self.string(-2)?;
                                    self.out.push(b':');
                                }
                                _ => return Err(self.cannot(-2, "table key must be a number or string")),
                            }
                            break;
                        }
                    }
                }
            }
        }
    }

    /// `Cannot serialise <type of the value at idx>: <reason>`.
    ///
    /// # Safety
    /// As [`Encoder::run`].
    unsafe fn cannot(&self, idx: c_int, reason: &str) -> Raise {
        // SAFETY: as documented; type names are static C strings.
        let t = unsafe { CStr::from_ptr(lua_typename(self.L, lua_type(self.L, idx))) };
        Raise::at(format!("Cannot serialise {}: {reason}", t.to_string_lossy()))
    }

    /// Encodes the non-table value at `idx`.
    ///
    /// # Safety
    /// As [`Encoder::run`].
    unsafe fn scalar(&mut self, idx: c_int) -> Result<(), Raise> {
        // SAFETY: as documented.
        unsafe {
            match lua_type(self.L, idx) {
                LUA_TSTRING => self.string(idx)?,
                LUA_TNUMBER => self.number(idx)?,
                LUA_TBOOLEAN => {
                    let b: &[u8] = if lua_toboolean(self.L, idx) != 0 { b"true" } else { b"false" };
                    self.out.extend_from_slice(b);
                }
                LUA_TNIL => self.out.extend_from_slice(b"null"),
                LUA_TLIGHTUSERDATA if lua_touserdata(self.L, idx).is_null() => self.out.extend_from_slice(b"null"),
                _ => return Err(self.cannot(idx, "type not supported")),
            }
        }
        Ok(())
    }

    /// Encodes the number at `idx`.
    ///
    /// # Safety
    /// As [`Encoder::run`].
    unsafe fn number(&mut self, idx: c_int) -> Result<(), Raise> {
        // SAFETY: as documented.
        let x = unsafe { lua_tonumber(self.L, idx) };
        if !x.is_finite() {
            match self.cfg.encode_invalid {
                // SAFETY: as documented.
                0 => return Err(unsafe { self.cannot(idx, "must not be NaN or Inf") }),
                1 if x.is_nan() => {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
                1 => {}
                _ => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        format_number(&mut self.out, x, self.cfg.precision);
        Ok(())
    }

    /// Encodes the string at `idx` (quoted and escaped).
    ///
    /// # Safety
    /// As [`Encoder::run`]; the value at `idx` is a string.
    unsafe fn string(&mut self, idx: c_int) -> Result<(), Raise> {
        // SAFETY: as documented; a string value converts to nothing else.
        let s = unsafe { to_bytes(self.L, idx) }.unwrap_or_default();
        escape_string(&mut self.out, s);
        Ok(())
    }

    /// How the table at the top of the stack is encoded: its largest index (> 0) when it is an
    /// array, or a value ≤ 0 when it is an object. Fails on an excessively sparse array unless
    /// those are converted to objects.
    ///
    /// # Safety
    /// As [`Encoder::run`], with a table on top and room for 2 more values.
    unsafe fn array_length(&mut self) -> Result<c_int, Raise> {
        let L = self.L;
        let mut max: c_int = 0;
        let mut items: c_int = 0;
        // SAFETY: as documented.
        unsafe {
            lua_pushnil(L);
            while lua_next(L, -2) != 0 {
                if lua_type(L, -2) == LUA_TNUMBER {
                    let k = lua_tonumber(L, -2);
                    if k != 0.0 && k.floor() == k && k >= 1.0 {
                        if k > f64::from(max) {
                            max = c_int_of(k);
                        }
                        items = items.wrapping_add(1);
                        lua_pop(L, 1);
                        continue;
                    }
                }
                lua_pop(L, 2);
                return Ok(-1);
            }
        }
        let ratio = self.cfg.sparse_ratio;
        if ratio > 0 && max > items.wrapping_mul(ratio) && max > self.cfg.sparse_safe {
            if self.cfg.sparse_convert == 0 {
                // SAFETY: as documented.
                return Err(unsafe { self.cannot(-1, "excessively sparse array") });
            }
            return Ok(-1);
        }
        Ok(max)
    }
}

/// A whole number ≥ 1 stored into a C `int` as the x86-64 conversion does: values that do not
/// fit become `INT_MIN`.
fn c_int_of(k: f64) -> c_int {
    if k < 2147483648.0 {
        k as c_int
    } else {
        c_int::MIN
    }
}

/// Appends `x` formatted with `%.<precision>g`.
fn format_number(out: &mut Vec<u8>, x: f64, precision: c_int) {
    let mut buf = [0u8; 40];
    // SAFETY: the buffer and its size match; the format takes an int and a double.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.*g".as_ptr(), precision, x) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    out.extend_from_slice(&buf[..n]);
}

/// Appends `s` as a JSON string.
fn escape_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut from = 0;
    for (i, &b) in s.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f | 0x7f => 0,
            _ => continue,
        };
        out.extend_from_slice(&s[from..i]);
        from = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    out.extend_from_slice(&s[from..]);
    out.push(b'"');
}

// ------------------------------------------------------------------------------------------------
// Decoding

lua_fn! {
    /// `cjson.decode(text)` → the value.
    fn decode(L) {
        // SAFETY: a C function of L; the argument checks come first, while nothing is owned.
        unsafe {
            if lua_gettop(L) != 1 {
                luaL_argerror(L, 1, c"expected 1 argument".as_ptr());
            }
            let cfg = *config(L)?;
            let mut len = 0usize;
            let text = luaL_checklstring(L, 1, &mut len);
            // Lua strings carry a NUL after their `len` bytes, which the tokenizer relies on.
            let data = std::slice::from_raw_parts(text.cast::<u8>(), len);
            if len >= 2 && (data[0] == 0 || data[1] == 0) {
                return Err(Raise::at("JSON parser does not support UTF-16 or UTF-32"));
            }
            cap_lifted(L, |enforced| {
                let mut p = Parser {
                    L,
                    cfg,
                    enforced,
                    text,
                    data,
                    pos: 0,
                    depth: 0,
                    tmp: Vec::new(),
                };
                p.run()
            })?;
        }
        Ok(1)
    }
}

/// A JSON token.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    /// `{`
    ObjBegin,
    /// `}`
    ObjEnd,
    /// `[`
    ArrBegin,
    /// `]`
    ArrEnd,
    /// A string, whose bytes are in [`Parser::tmp`].
    Str,
    /// A number.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`
    Null,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// The end of the text (or a NUL byte).
    End,
    /// Something invalid, with the reason.
    Error(&'static str),
}

impl Tok {
    /// How error messages name the token.
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(why) => why,
        }
    }
}

/// A table being filled by the parser, on the Lua stack.
enum Filling {
    /// An array; the next element goes to this index.
    Array(c_int),
    /// An object; its current key is on the stack above it.
    Object,
}

/// The state of one `decode` call.
struct Parser<'a> {
    /// The Lua state.
    L: *mut lua_State,
    /// The instance's settings.
    cfg: Config,
    /// Whether the memory cap was in force when the call began.
    enforced: bool,
    /// The text, NUL-terminated (for `strtod`).
    text: *const c_char,
    /// The text's bytes (without the terminating NUL).
    data: &'a [u8],
    /// The offset of the next byte to read.
    pos: usize,
    /// The nesting depth of the tables being filled.
    depth: c_int,
    /// The bytes of the last string token.
    tmp: Vec<u8>,
}

impl Parser<'_> {
    /// The byte at `i`, NUL past the end.
    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// The next token and the offset it is reported at.
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
        let start = self.pos;
        let single = match self.at(start) {
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            0 => return (Tok::End, start),
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid == 0 && self.invalid_number() {
                    return (Tok::Error("invalid number"), start);
                }
                return self.number();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                let rest = &self.data[start..];
                for (word, tok) in [(&b"true"[..], Tok::Bool(true)), (b"false", Tok::Bool(false)), (b"null", Tok::Null)]
                {
                    if rest.starts_with(word) {
                        self.pos += word.len();
                        return (tok, start);
                    }
                }
                if self.cfg.decode_invalid != 0 && self.invalid_number() {
                    return self.number();
                }
                return (Tok::Error("invalid token"), start);
            }
            _ => return (Tok::Error("invalid token"), start),
        };
        self.pos += 1;
        (single, start)
    }

    /// Whether the number starting at `pos` is one that strict JSON forbids: a leading `+`,
    /// hex, leading zeros, infinity or NaN.
    fn invalid_number(&self) -> bool {
        let mut i = self.pos;
        match self.at(i) {
            b'+' => return true,
            b'-' => i += 1,
            _ => {}
        }
        let c = self.at(i);
        if c == b'0' {
            let c2 = self.at(i + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        // C compares a (signed) char here: bytes from 0x80 count as "ordinary numbers".
        if c <= b'9' || c >= 0x80 {
            return false;
        }
        let word = [self.at(i), self.at(i + 1), self.at(i + 2)].map(|b| b.to_ascii_lowercase());
        &word == b"inf" || &word == b"nan"
    }

    /// A number token at `pos`, read with the C library's `strtod`.
    fn number(&mut self) -> (Tok, usize) {
        let start = self.pos;
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated after `data`, and `start <= data.len()`.
        let (x, used) = unsafe {
            let p = self.text.add(start);
            let x = libc::strtod(p, &mut end);
            (x, usize::try_from(end.offset_from(p)).unwrap_or(0))
        };
        if used == 0 {
            return (Tok::Error("invalid number"), start);
        }
        self.pos += used;
        (Tok::Num(x), start)
    }

    /// A string token starting at the quote at `pos`; its bytes go to `tmp`. Errors are reported
    /// where they are found (the offending backslash, or the end of the text).
    fn string(&mut self) -> (Tok, usize) {
        let start = self.pos;
        self.pos += 1;
        self.tmp.clear();
        loop {
            // Copy the plain run up to the next quote, backslash or NUL.
            let rest = self.data.get(self.pos..).unwrap_or_default();
            let run = rest.iter().position(|&b| matches!(b, b'"' | b'\\' | 0)).unwrap_or(rest.len());
            self.tmp.extend_from_slice(&rest[..run]);
            self.pos += run;
            match self.at(self.pos) {
                b'"' => break,
                0 => return (Tok::Error("unexpected end of string"), self.pos),
                _ => {}
            }
            // A backslash.
            let c = match self.at(self.pos + 1) {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    if self.unicode_escape() {
                        continue;
                    }
                    return (Tok::Error("invalid unicode escape code"), self.pos);
                }
                _ => return (Tok::Error("invalid escape code"), self.pos),
            };
            self.tmp.push(c);
            self.pos += 2;
        }
        self.pos += 1;
        (Tok::Str, start)
    }

    /// Four hex digits at `i` as a number.
    fn hex4(&self, i: usize) -> Option<u32> {
        (i..i + 4).try_fold(0u32, |acc, j| Some(acc << 4 | char::from(self.at(j)).to_digit(16)?))
    }

    /// The `\uXXXX` escape (or surrogate pair of escapes) at `pos`, appended to `tmp` as UTF-8.
    /// False when it is malformed: bad hex, a lone or reversed surrogate.
    fn unicode_escape(&mut self) -> bool {
        let Some(first) = self.hex4(self.pos + 2) else { return false };
        let mut code = first;
        let mut len = 6;
        if first & 0xf800 == 0xd800 {
            if first & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            code = (((first & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        match char::from_u32(code) {
            Some(ch) => {
                let mut buf = [0u8; 4];
                self.tmp.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            None => return false,
        }
        self.pos += len;
        true
    }

    /// `Expected <what> but found <token> at character <n>`.
    fn expected(what: &str, (tok, at): (Tok, usize)) -> Raise {
        Raise::at(format!("Expected {what} but found {} at character {}", tok.name(), at + 1))
    }

    /// Enters a table needing `slots` stack slots, failing when that is one level too deep.
    ///
    /// # Safety
    /// As [`Parser::run`].
    unsafe fn descend(&mut self, slots: c_int) -> Result<(), Raise> {
        self.depth = self.depth.saturating_add(1);
        // SAFETY: as documented.
        if self.depth <= self.cfg.decode_max_depth && unsafe { lua_checkstack(self.L, slots) } != 0 {
            // SAFETY: as documented.
            unsafe { lua_newtable(self.L) };
            return Ok(());
        }
        Err(Raise::at(format!("Found too many nested data structures ({}) at character {}", self.depth, self.pos)))
    }

    /// Reads an object member's key and colon, pushing the key, and returns the token after
    /// the colon (the start of the value).
    ///
    /// # Safety
    /// As [`Parser::run`].
    unsafe fn member(&mut self, key: (Tok, usize)) -> Result<(Tok, usize), Raise> {
        if key.0 != Tok::Str {
            return Err(Self::expected("object key string", key));
        }
        // SAFETY: as documented.
        unsafe { self.push_tmp()? };
        let colon = self.next();
        if colon.0 != Tok::Colon {
            return Err(Self::expected("colon", colon));
        }
        Ok(self.next())
    }

    /// Pushes the last string token.
    ///
    /// # Safety
    /// As [`Parser::run`].
    unsafe fn push_tmp(&mut self) -> Result<(), Raise> {
        // SAFETY: as documented.
        unsafe {
            if !fits(self.L, self.enforced, self.tmp.len().saturating_add(32)) {
                return Err(out_of_memory());
            }
            push_bytes(self.L, &self.tmp);
        }
        Ok(())
    }

    /// Parses the whole text, leaving the value on the stack.
    ///
    /// # Safety
    /// `L` is the state of a running C function; Lua must not be able to raise (the memory cap
    /// is lifted).
    unsafe fn run(&mut self) -> Result<(), Raise> {
        let L = self.L;
        let mut filling: Vec<Filling> = Vec::new();
        let mut tok = self.next();
        // SAFETY: as documented; the stack holds exactly the tables and keys being filled.
        unsafe {
            'value: loop {
                // Each value costs Lua memory: stay under the cap as the result grows.
                if !fits(L, self.enforced, 64) {
                    return Err(out_of_memory());
                }
                match tok.0 {
                    Tok::Str => self.push_tmp()?,
                    Tok::Num(x) => lua_pushnumber(L, x),
                    Tok::Bool(b) => lua_pushboolean(L, c_int::from(b)),
                    Tok::Null => lua_pushlightuserdata(L, std::ptr::null_mut()),
                    Tok::ObjBegin => {
                        self.descend(3)?;
                        tok = self.next();
                        if tok.0 == Tok::ObjEnd {
                            self.depth -= 1;
                        } else {
                            filling.push(Filling::Object);
                            tok = self.member(tok)?;
                            continue 'value;
                        }
                    }
                    Tok::ArrBegin => {
                        self.descend(2)?;
                        tok = self.next();
                        if tok.0 == Tok::ArrEnd {
                            self.depth -= 1;
                        } else {
                            filling.push(Filling::Array(1));
                            continue 'value;
                        }
                    }
                    _ => return Err(Self::expected("value", tok)),
                }
                // A complete value is on top: store it, then find the next value.
                loop {
                    match filling.last_mut() {
                        None => break 'value,
                        Some(Filling::Array(i)) => {
                            lua_rawseti_(L, -2, *i);
                            tok = self.next();
                            if tok.0 == Tok::ArrEnd {
                                self.depth -= 1;
                                filling.pop();
                                continue;
                            }
                            if tok.0 != Tok::Comma {
                                return Err(Self::expected("comma or array end", tok));
                            }
                            *i = i.wrapping_add(1);
                            tok = self.next();
                            continue 'value;
                        }
                        Some(Filling::Object) => {
                            lua_rawset(L, -3);
                            tok = self.next();
                            if tok.0 == Tok::ObjEnd {
                                self.depth -= 1;
                                filling.pop();
                                continue;
                            }
                            if tok.0 != Tok::Comma {
                                return Err(Self::expected("comma or object end", tok));
                            }
                            let key = self.next();
                            tok = self.member(key)?;
                            continue 'value;
                        }
                    }
                }
            }
        }
        let end = self.next();
        if end.0 != Tok::End {
            return Err(Self::expected("the end", end));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// Runs each chunk (which returns one string) and compares the result with the expected bytes.
    fn check(cases: &[(&str, &[u8])]) {
        for (code, want) in cases {
            let got =
                crate::testing::run(code).unwrap_or_else(|e| panic!("{code}: error {}", String::from_utf8_lossy(&e)));
            assert_eq!(got.len(), 1, "{code}");
            assert_eq!(
                got[0].as_slice(),
                *want,
                "{code}\n got: {}\nwant: {}",
                String::from_utf8_lossy(&got[0]),
                String::from_utf8_lossy(want)
            );
        }
    }

    // Expected values: replies of redis-server 7.0.15 to the same scripts.
    #[test]
    fn encode_basics() {
        check(&[
            ("return cjson.encode({})", b"{}"),
            ("return cjson.encode({1,2,3})", b"[1,2,3]"),
            ("return cjson.encode({a=1})", b"{\"a\":1}"),
            ("return cjson.encode({a={b={c={1,2}}}})", b"{\"a\":{\"b\":{\"c\":[1,2]}}}"),
            ("return cjson.encode({'a',{x=true},false})", b"[\"a\",{\"x\":true},false]"),
            ("return cjson.encode('a\"b\\\\c/d\\n\\t\\0\\1\\27\\127\\200\\8\\12\\13')", b"\"a\\\"b\\\\c\\/d\\n\\t\\u0000\\u0001\\u001b\\u007f\xc8\\b\\f\\r\""),
            ("return cjson.encode(true) .. cjson.encode(nil) .. cjson.encode(cjson.null)", b"truenullnull"),
            ("return cjson.encode({[1]=1,a=2})", b"{\"1\":1,\"a\":2}"),
            ("return cjson.encode({[-1]=1})", b"{\"-1\":1}"),
            ("return cjson.encode({[0]=1})", b"{\"0\":1}"),
            ("return cjson.encode({[1.5]=1})", b"{\"1.5\":1}"),
            ("return cjson.encode(cjson.decode('{\"b\":1,\"a\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}'))", b"{\"a\":2,\"c\":3,\"b\":1,\"e\":5,\"d\":4,\"g\":7,\"f\":6,\"i\":9,\"h\":8}"),
        ]);
    }

    #[test]
    fn encode_arrays() {
        check(&[
            ("return cjson.encode({1,2,nil,4})", b"[1,2,null,4]"),
            ("return cjson.encode({[1]=1,[3]=3})", b"[1,null,3]"),
            ("return cjson.encode({[2]=1})", b"[null,1]"),
            ("return cjson.encode({[10]=1})", b"[null,null,null,null,null,null,null,null,null,1]"),
            ("return select(2, pcall(function() return cjson.encode({[1]=1,[20]=3}) end))", b"user_script:1: Cannot serialise table: excessively sparse array"),
            ("return select(2, pcall(function() return cjson.encode({[11]=1}) end))", b"user_script:1: Cannot serialise table: excessively sparse array"),
            ("return cjson.encode({[2^31]=1})", b"{\"2147483648\":1}"),
            ("return cjson.encode({[3e9]=1, [5]=2})", b"[null,null,null,null,2]"),
            ("cjson.encode_sparse_array(true) local s = cjson.encode({[1]=1,[20]=3}) cjson.encode_sparse_array(false) return s", b"{\"1\":1,\"20\":3}"),
            ("cjson.encode_sparse_array(false, 0) local s = cjson.encode({[1]=1,[12]=3}) cjson.encode_sparse_array(false, 2) return s", b"[1,null,null,null,null,null,null,null,null,null,null,3]"),
            ("local c = cjson.new() c.encode_sparse_array(false, 3, 5) return c.encode({[6]=1,[1]=1}) .. c.encode({[5]=1}) .. select(2, pcall(c.encode, {[7]=1, [2]=1}))", b"[1,null,null,null,null,1][null,null,null,null,1]Cannot serialise table: excessively sparse array"),
        ]);
    }

    #[test]
    fn encode_numbers() {
        check(&[
            ("return cjson.encode({1e300, 0.1, 1/3, 100, -0.0, 2^53, 1e15, 123456789012345, 12345678901234, 5e-324, -1e-5})", b"[1e+300,0.1,0.33333333333333,100,-0,9.007199254741e+15,1e+15,1.2345678901234e+14,12345678901234,4.9406564584125e-324,-1e-05]"),
            ("local c = cjson.new() c.encode_number_precision(3) return c.encode({1/3, 1234567, 0.5})", b"[0.333,1.23e+06,0.5]"),
            ("local c = cjson.new() c.encode_number_precision(1) return c.encode({0.5, 1.5, 123})", b"[0.5,2,1e+02]"),
            ("return select(2, pcall(function() return cjson.encode(0/0) end))", b"user_script:1: Cannot serialise number: must not be NaN or Inf"),
            ("return select(2, pcall(function() return cjson.encode({math.huge}) end))", b"user_script:1: Cannot serialise number: must not be NaN or Inf"),
            ("return select(2, pcall(function() return cjson.encode({[math.huge]=1}) end))", b"user_script:1: Cannot serialise number: must not be NaN or Inf"),
            ("local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({0/0, math.huge, -math.huge, [5]=1})", b"[nan,inf,-inf,null,1]"),
            ("local c = cjson.new() c.encode_invalid_numbers('null') return c.encode({0/0, math.huge, -math.huge})", b"[null,null,null]"),
            ("local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({[math.huge]=1})", b"{\"inf\":1}"),
        ]);
    }

    #[test]
    fn encode_errors() {
        check(&[
            ("return select(2, pcall(function() return cjson.encode() end))", b"user_script:1: bad argument #1 to 'encode' (expected 1 argument)"),
            ("return select(2, pcall(function() return cjson.encode(1, 2) end))", b"user_script:1: bad argument #1 to 'encode' (expected 1 argument)"),
            ("return select(2, pcall(function() return cjson.encode(function() end) end))", b"user_script:1: Cannot serialise function: type not supported"),
            ("return select(2, pcall(function() return cjson.encode({coroutine.create(function() end)}) end))", b"user_script:1: Cannot serialise thread: type not supported"),
            ("return select(2, pcall(function() return cjson.encode({[true]=1}) end))", b"user_script:1: Cannot serialise boolean: table key must be a number or string"),
            ("return select(2, pcall(function() local t = {} local c = t for i=1,1001 do c[1] = {} c = c[1] end return cjson.encode(t) end))", b"user_script:1: Cannot serialise, excessive nesting (1001)"),
            ("return select(2, pcall(function() local t = {} t.x = t return cjson.encode(t) end))", b"user_script:1: Cannot serialise, excessive nesting (1001)"),
            ("local c = cjson.new() c.encode_max_depth(100000) local t = {} t[1] = t return select(2, pcall(function() return c.encode(t) end))", b"user_script:1: Cannot serialise, excessive nesting (7998)"),
            ("local c = cjson.new() c.encode_max_depth(100000) local t = {} local p = t for i=1,20000 do p.a = {} p = p.a end return select(2, pcall(function() return c.encode(t) end))", b"user_script:1: Cannot serialise, excessive nesting (4000)"),
            ("return select(2, pcall(cjson.encode, function() end))", b"Cannot serialise function: type not supported"),
        ]);
    }

    #[test]
    fn decode_values() {
        check(&[
            ("local t = cjson.decode('{\"a\":1,\"b\":[1,2,3],\"c\":null,\"d\":true,\"e\":1.5,\"f\":\"s\"}') return table.concat({t.a, #t.b, tostring(t.c), tostring(t.d), tostring(t.e), t.f, type(t.c)}, ' ')", b"1 3 userdata: (nil) true 1.5 s userdata"),
            ("return cjson.encode(cjson.decode('[1,null,3,{},[],{\"x\":[true,false]}]'))", b"[1,null,3,{},{},{\"x\":[true,false]}]"),
            ("return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\u0000\\\\uffff\\\\u07ff\"')", b"\xc3\xa9\xf0\x9f\x98\x80\x00\xef\xbf\xbf\xdf\xbf"),
            ("return cjson.decode('\"a\\\\/b\\\\n\\\\b\\\\f\\\\r\\\\t\\\\\\\"\\\\\\\\\"')", b"a/b\x0a\x08\x0c\x0d\x09\"\\"),
            ("return table.concat({tostring(cjson.decode('1e400')), tostring(cjson.decode('-0')), tostring(cjson.decode('nan')), tostring(cjson.decode('Infinity')), tostring(cjson.decode('0x10')), tostring(cjson.decode('+1')), tostring(cjson.decode('01')), tostring(cjson.decode(' 1.5e3 ')), tostring(cjson.decode('-0x1p3'))}, ' ')", b"inf -0 nan inf 16 1 1 1500 -8"),
            ("return cjson.decode('[1]\\0xyz')[1] .. cjson.decode(7) .. cjson.decode('\"x\"')", b"17x"),
            ("local t = cjson.decode('{\"a\":1,\"a\":2}') return tostring(t.a)", b"2"),
            ("local s = string.rep('[', 1000) .. string.rep(']', 1000) return type(cjson.decode(s))", b"table"),
        ]);
    }

    #[test]
    fn decode_errors() {
        check(&[
            ("return select(2, pcall(function() return cjson.decode('') end))", b"user_script:1: Expected value but found T_END at character 1"),
            ("return select(2, pcall(function() return cjson.decode('  ') end))", b"user_script:1: Expected value but found T_END at character 3"),
            ("return select(2, pcall(function() return cjson.decode('{') end))", b"user_script:1: Expected object key string but found T_END at character 2"),
            ("return select(2, pcall(function() return cjson.decode('[1,]') end))", b"user_script:1: Expected value but found T_ARR_END at character 4"),
            ("return select(2, pcall(function() return cjson.decode('{a:1}') end))", b"user_script:1: Expected object key string but found invalid token at character 2"),
            ("return select(2, pcall(function() return cjson.decode('nul') end))", b"user_script:1: Expected value but found invalid token at character 1"),
            ("return select(2, pcall(function() return cjson.decode('[1] x') end))", b"user_script:1: Expected the end but found invalid token at character 5"),
            ("return select(2, pcall(function() return cjson.decode('[1 2]') end))", b"user_script:1: Expected comma or array end but found T_NUMBER at character 4"),
            ("return select(2, pcall(function() return cjson.decode('{\"a\" 1}') end))", b"user_script:1: Expected colon but found T_NUMBER at character 6"),
            ("return select(2, pcall(function() return cjson.decode('{\"a\":1 \"b\":2}') end))", b"user_script:1: Expected comma or object end but found T_STRING at character 8"),
            ("return select(2, pcall(function() return cjson.decode('{\"a\":1,}') end))", b"user_script:1: Expected object key string but found T_OBJ_END at character 8"),
            ("return select(2, pcall(function() return cjson.decode('[:]') end))", b"user_script:1: Expected value but found T_COLON at character 2"),
            ("return select(2, pcall(function() return cjson.decode('{\"a\":1}}') end))", b"user_script:1: Expected the end but found T_OBJ_END at character 8"),
            ("return select(2, pcall(function() return cjson.decode('\"\\\\ud800\"') end))", b"user_script:1: Expected value but found invalid unicode escape code at character 2"),
            ("return select(2, pcall(function() return cjson.decode('\"\\\\udc00\"') end))", b"user_script:1: Expected value but found invalid unicode escape code at character 2"),
            ("return select(2, pcall(function() return cjson.decode('\"\\\\u12\"') end))", b"user_script:1: Expected value but found invalid unicode escape code at character 2"),
            ("return select(2, pcall(function() return cjson.decode('\"ab\\\\x\"') end))", b"user_script:1: Expected value but found invalid escape code at character 4"),
            ("return select(2, pcall(function() return cjson.decode('\"abc') end))", b"user_script:1: Expected value but found unexpected end of string at character 5"),
            ("return select(2, pcall(function() return cjson.decode('\"ab\\0c\"') end))", b"user_script:1: Expected value but found unexpected end of string at character 4"),
            ("return select(2, pcall(function() return cjson.decode('\\0[1]') end))", b"user_script:1: JSON parser does not support UTF-16 or UTF-32"),
            ("return select(2, pcall(function() return cjson.decode('nano') end))", b"user_script:1: Expected the end but found invalid token at character 4"),
            ("return select(2, pcall(function() return cjson.decode('.5') end))", b"user_script:1: Expected value but found invalid token at character 1"),
            ("return select(2, pcall(function() return cjson.decode('-') end))", b"user_script:1: Expected value but found invalid number at character 1"),
            ("return select(2, pcall(function() return cjson.decode('\\v1') end))", b"user_script:1: Expected value but found invalid token at character 1"),
            ("return select(2, pcall(function() return cjson.decode() end))", b"user_script:1: bad argument #1 to 'decode' (expected 1 argument)"),
            ("return select(2, pcall(function() return cjson.decode({}) end))", b"user_script:1: bad argument #1 to 'decode' (string expected, got table)"),
            ("return select(2, pcall(function() local s = string.rep('[', 1001) .. string.rep(']', 1001) return cjson.decode(s) end))", b"user_script:1: Found too many nested data structures (1001) at character 1001"),
            ("return select(2, pcall(function() return cjson.decode(string.rep('{\"a\":', 1001)) end))", b"user_script:1: Found too many nested data structures (1001) at character 5001"),
            ("local c = cjson.new() c.decode_max_depth(100000) return select(2, pcall(function() return c.decode(string.rep('[', 20000)) end))", b"user_script:1: Found too many nested data structures (7999) at character 7999"),
            ("local c = cjson.new() c.decode_invalid_numbers(false) return select(2, pcall(function() return c.decode('[1, 0x10]') end))", b"user_script:1: Expected value but found invalid number at character 5"),
            ("local c = cjson.new() c.decode_invalid_numbers(false) return select(2, pcall(function() return c.decode('-inf') end))", b"user_script:1: Expected value but found invalid number at character 1"),
            ("local c = cjson.new() c.decode_invalid_numbers(false) return select(2, pcall(function() return c.decode('NaN') end))", b"user_script:1: Expected value but found invalid token at character 1"),
            ("return select(2, pcall(cjson.decode, '[1,'))", b"Expected value but found T_END at character 4"),
        ]);
    }

    #[test]
    fn settings() {
        check(&[
            ("return table.concat({cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}, ' ')", b"1000 1000 14"),
            ("local a, b, c = cjson.encode_sparse_array() return tostring(a) .. ' ' .. b .. ' ' .. c", b"false 2 10"),
            ("return tostring(cjson.encode_invalid_numbers()) .. tostring(cjson.decode_invalid_numbers()) .. tostring(cjson.encode_keep_buffer())", b"falsetruetrue"),
            ("local c = cjson.new() return tostring(c.encode_invalid_numbers('null')) .. tostring(c.encode_invalid_numbers('on')) .. tostring(c.encode_keep_buffer('off')) .. tostring(c.encode_number_precision('5'))", b"nulltruefalse5"),
            ("return select(2, pcall(function() return cjson.encode_number_precision(0) end))", b"user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"),
            ("return select(2, pcall(function() return cjson.encode_number_precision(15) end))", b"user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"),
            ("return select(2, pcall(function() return cjson.encode_number_precision('x') end))", b"user_script:1: bad argument #1 to 'encode_number_precision' (number expected, got string)"),
            ("return select(2, pcall(function() return cjson.encode_max_depth(1, 2) end))", b"user_script:1: bad argument #2 to 'encode_max_depth' (found too many arguments)"),
            ("return select(2, pcall(function() return cjson.encode_sparse_array(true, -1) end))", b"user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"),
            ("return select(2, pcall(function() return cjson.encode_sparse_array(nil, nil, 'x') end))", b"user_script:1: bad argument #3 to 'encode_sparse_array' (number expected, got string)"),
            ("return select(2, pcall(function() return cjson.encode_sparse_array('yes') end))", b"user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option 'yes')"),
            ("return select(2, pcall(function() return cjson.encode_invalid_numbers(1) end))", b"user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option '1')"),
            ("return select(2, pcall(function() return cjson:encode(1) end))", b"user_script:1: calling 'encode' on bad self (expected 1 argument)"),
            ("local c = cjson.new() pcall(c.encode_sparse_array, true, -1) local a, b, d = c.encode_sparse_array() return tostring(a) .. ' ' .. b .. ' ' .. d", b"true 2 10"),
            ("local c = cjson.new() c.encode_number_precision(2) return c.encode(1/3) .. ' ' .. cjson.encode(1/3)", b"0.33 0.33333333333333"),
            ("cjson.encode_number_precision(3) local s = cjson.encode(1/3) cjson.encode_number_precision(14) return s .. cjson.encode(1/3)", b"0.3330.33333333333333"),
        ]);
    }

    #[test]
    fn module_table() {
        check(&[
            ("return table.concat({cjson._NAME, cjson._VERSION, type(cjson.new), tostring(cjson.null), tostring(cjson.new().null == cjson.null)}, ' ')", b"cjson 2.1.0 function userdata: (nil) true"),
            ("local r = {} for k in pairs(cjson) do r[#r+1] = k end return table.concat(r, ',')", b"_NAME,encode,decode_max_depth,_VERSION,decode_invalid_numbers,encode_keep_buffer,null,encode_number_precision,new,encode_max_depth,encode_invalid_numbers,decode,encode_sparse_array"),
            ("local r = {} for k in pairs(cjson.new()) do r[#r+1] = k end return table.concat(r, ',')", b"_NAME,encode,decode_max_depth,_VERSION,decode_invalid_numbers,encode_keep_buffer,null,encode_number_precision,new,encode_max_depth,encode_invalid_numbers,decode,encode_sparse_array"),
        ]);
    }
}
