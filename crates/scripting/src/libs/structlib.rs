//! The `struct` library: packing Lua values into binary strings and back, behaving like the
//! lua-struct copy bundled with Redis 7.0.15 (`struct.pack`, `struct.unpack`, `struct.size`).
//!
//! A format is a sequence of one-letter options, read up to its first NUL byte:
//!
//! | option | meaning |
//! |---|---|
//! | `<` `>` | little / big endian from here on (little is the default) |
//! | `!n` | align to `n` bytes at most (a power of 2; `!` alone is 8; the default is 1) |
//! | ` ` | ignored |
//! | `x` | a zero byte (no value) |
//! | `b` `B` | signed / unsigned 1-byte integer |
//! | `h` `H` | 2-byte integer |
//! | `l` `L` `T` | 8-byte integer |
//! | `i` `I` | integer of `n` bytes (`i3`; default 4, 0..=32) |
//! | `f` `d` | IEEE single / double |
//! | `cn` | `n` bytes of a string (default 1; `c0`: the whole string when packing, the length given by the previous value when unpacking) |
//! | `s` | a zero-terminated string |
//!
//! `=` is not an option in this version. Counts above 2^31 - 1 are refused (`integral size
//! overflow`), as Redis patched them to be. The integer conversions reproduce what the C code
//! does on x86-64, including for sizes above 8 bytes, NaN and out-of-range values.

use crate::lua::*;
use std::ffi::{c_char, c_int};

/// The largest `i`/`I` size.
const MAX_INT_SIZE: usize = 32;
/// The alignment `!` alone selects.
const MAX_ALIGN: usize = 8;
/// 2^63 as a double.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// A format error.
enum FmtError {
    /// A count above 2^31 - 1.
    Overflow,
    /// An `i`/`I` size above [`MAX_INT_SIZE`].
    IntSize(usize),
    /// `!n` with `n` not a power of 2.
    Align(usize),
    /// An unknown option byte.
    Invalid(u8),
}

/// The format being read, with the current byte order and alignment.
struct Format<'a> {
    /// The format up to its first NUL.
    text: &'a [u8],
    /// Read position in `text`.
    at: usize,
    /// Big endian?
    big: bool,
    /// The alignment cap (a power of 2).
    align: usize,
}

impl<'a> Format<'a> {
    /// A fresh reader over `text` (cut at its first NUL).
    fn new(text: &'a [u8]) -> Self {
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Format { text: &text[..end], at: 0, big: false, align: 1 }
    }

    /// Reads a decimal count at the current position, or `default` if there is no digit.
    fn count(&mut self, default: usize) -> Result<usize, FmtError> {
        let mut value: Option<usize> = None;
        while let Some(&c) = self.text.get(self.at) {
            if !c.is_ascii_digit() {
                break;
            }
            let next = value.unwrap_or(0) * 10 + usize::from(c - b'0');
            if next > i32::MAX as usize {
                return Err(FmtError::Overflow);
            }
            value = Some(next);
            self.at += 1;
        }
        Ok(value.unwrap_or(default))
    }

    /// The next option byte and its size in bytes (0 for `s`, control and unknown options),
    /// reading the count of `c`, `i` and `I`. `None` at the end.
    fn next(&mut self) -> Result<Option<(u8, usize)>, FmtError> {
        let Some(&opt) = self.text.get(self.at) else { return Ok(None) };
        self.at += 1;
        let size = match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'f' => 4,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'c' => self.count(1)?,
            b'i' | b'I' => {
                let n = self.count(4)?;
                if n > MAX_INT_SIZE {
                    return Err(FmtError::IntSize(n));
                }
                n
            }
            _ => 0,
        };
        Ok(Some((opt, size)))
    }

    /// Applies a control option (`<`, `>`, `!n`, space); anything else is invalid.
    fn control(&mut self, opt: u8) -> Result<(), FmtError> {
        match opt {
            b' ' => {}
            b'<' => self.big = false,
            b'>' => self.big = true,
            b'!' => {
                let a = self.count(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(FmtError::Align(a));
                }
                self.align = a;
            }
            _ => return Err(FmtError::Invalid(opt)),
        }
        Ok(())
    }

    /// Padding needed before an option of `size` bytes at offset `len`. The mask arithmetic
    /// is the library's own, also for sizes that are not powers of 2 (`i3` under `!4`).
    fn padding(&self, opt: u8, size: usize, len: usize) -> usize {
        if size <= 1 || opt == b'c' {
            return 0;
        }
        let a = size.min(self.align);
        a.wrapping_sub(len & (a - 1)) & (a - 1)
    }
}

/// Raises a format error in the library's words: argument errors for argument 1, the rest as
/// `luaL_error`.
///
/// # Safety
/// Called from a Lua C function of `L` while nothing that needs dropping is owned.
unsafe fn raise_format(L: *mut lua_State, e: FmtError) -> c_int {
    let mut buf = [0u8; 96];
    let mut w = Writer { buf: &mut buf, len: 0 };
    let arg = match e {
        FmtError::Overflow => {
            w.put(b"integral size overflow");
            false
        }
        FmtError::IntSize(n) => {
            w.put(b"integral size ");
            w.num(n);
            w.put(b" is larger than limit of ");
            w.num(MAX_INT_SIZE);
            false
        }
        FmtError::Align(n) => {
            w.put(b"alignment ");
            w.num(n);
            w.put(b" is not a power of 2");
            false
        }
        FmtError::Invalid(c) => {
            w.put(b"invalid format option '");
            w.put(&[c]);
            w.put(b"'");
            true
        }
    };
    let len = w.len;
    // SAFETY: as documented; `buf` is NUL-terminated (it is longer than any message) and
    // owns nothing.
    unsafe {
        if arg {
            luaL_argerror(L, 1, buf.as_ptr().cast::<c_char>())
        } else {
            luaL_where(L, 1);
            lua_pushlstring_(L, buf.as_ptr().cast::<c_char>(), len);
            lua_concat(L, 2);
            lua_error(L)
        }
    }
}

/// A fixed buffer being filled with a message (no allocation, so it may be jumped over).
struct Writer<'b> {
    /// The bytes; a zero after `len` terminates the message.
    buf: &'b mut [u8; 96],
    /// Bytes written.
    len: usize,
}

impl Writer<'_> {
    /// Appends bytes (truncating silently past the end; the messages are short).
    fn put(&mut self, b: &[u8]) {
        for &c in b {
            if self.len + 1 < self.buf.len() {
                self.buf[self.len] = c;
                self.len += 1;
            }
        }
    }

    /// Appends a number in decimal.
    fn num(&mut self, n: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}

/// An argument error with a message of at most a few dozen bytes.
///
/// # Safety
/// As [`raise_format`].
unsafe fn arg_error(L: *mut lua_State, narg: c_int, msg: &[u8]) -> c_int {
    let mut buf = [0u8; 96];
    let mut w = Writer { buf: &mut buf, len: 0 };
    w.put(msg);
    // SAFETY: as documented; `buf` is NUL-terminated.
    unsafe { luaL_argerror(L, narg, buf.as_ptr().cast::<c_char>()) }
}

/// x86-64 `cvttsd2si`: truncation, or `i64::MIN` for NaN and anything out of range.
fn trunc_i64(x: f64) -> i64 {
    if (-TWO_63..TWO_63).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// A C cast of a double to a 64-bit unsigned integer as the x86-64 compiler emits it: values
/// below 2^63 (negative ones and NaN included) go through the signed conversion, the others
/// are reduced by 2^63 first, so 2^64 and above (and +inf) become 0.
fn c_to_u64(x: f64) -> u64 {
    if x >= TWO_63 {
        (trunc_i64(x - TWO_63) as u64) ^ (1 << 63)
    } else {
        trunc_i64(x) as u64
    }
}

/// A double rounded to single precision as the hardware does it (NaNs keep their sign and
/// top payload bits and become quiet).
fn to_f32_bits(x: f64) -> u32 {
    if x.is_nan() {
        let b = x.to_bits();
        (((b >> 63) as u32) << 31) | 0x7fc0_0000 | ((b >> 29) as u32 & 0x003f_ffff)
    } else {
        (x as f32).to_bits()
    }
}

/// A single widened to a double as the hardware does it (NaNs become quiet).
fn from_f32_bits(b: u32) -> f64 {
    let f = f32::from_bits(b);
    if f.is_nan() {
        let sign = u64::from(b >> 31) << 63;
        f64::from_bits(sign | 0x7ff8_0000_0000_0000 | (u64::from(b & 0x003f_ffff) << 29))
    } else {
        f64::from(f)
    }
}

/// Appends `bytes` (given little-endian) in the format's byte order.
fn put_ordered(out: &mut Vec<u8>, bytes: &[u8], big: bool) {
    if big {
        out.extend(bytes.iter().rev());
    } else {
        out.extend_from_slice(bytes);
    }
}

/// The number `n` as a `size`-byte integer: its 64-bit two's complement pattern, then zero
/// bytes for sizes above 8.
fn put_int(out: &mut Vec<u8>, n: f64, size: usize, big: bool) {
    let v = c_to_u64(n).to_le_bytes();
    let mut le = [0u8; MAX_INT_SIZE];
    let k = size.min(8);
    le[..k].copy_from_slice(&v[..k]);
    put_ordered(out, &le[..size], big);
}

/// The integer stored in `bytes`: the last eight bytes read in significance order are kept
/// (the rest shift out of 64 bits), and a signed value is extended from bit
/// `(8 * size - 1) mod 64`, which is what the C code does for every size (0 and above 8
/// included).
fn get_int(bytes: &[u8], big: bool, signed: bool) -> f64 {
    let mut v: u64 = 0;
    let mut add = |b: u8| v = (v << 8) | u64::from(b);
    if big {
        bytes.iter().for_each(|&b| add(b));
    } else {
        bytes.iter().rev().for_each(|&b| add(b));
    }
    if !signed {
        return v as f64;
    }
    let shift = (bytes.len() as u32).wrapping_mul(8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

/// Is `opt` one of the integer options?
fn is_int(opt: u8) -> bool {
    matches!(opt, b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I')
}

lua_fn! {
    /// `struct.pack(fmt, ...)`: the values packed into a string.
    fn pack(L) {
        // SAFETY: the first pass checks every argument and the format while owning nothing
        // (the format and argument bytes are borrowed from the Lua stack, which keeps them);
        // the second pass cannot fail.
        unsafe {
            let mut flen = 0usize;
            let fp = luaL_checklstring(L, 1, &mut flen);
            let ftext = std::slice::from_raw_parts(fp.cast::<u8>(), flen);
            // Like the library, a nil goes right after the arguments: the first missing value
            // is reported as `got nil`.
            lua_pushnil(L);

            let mut f = Format::new(ftext);
            let mut arg: c_int = 2;
            loop {
                let (opt, size) = match f.next() {
                    Ok(Some(o)) => o,
                    Ok(None) => break,
                    Err(e) => return Ok(raise_format(L, e)),
                };
                match opt {
                    _ if is_int(opt) || opt == b'f' || opt == b'd' => {
                        luaL_checknumber(L, arg);
                        arg += 1;
                    }
                    b'x' => {}
                    b'c' | b's' => {
                        let mut l = 0usize;
                        luaL_checklstring(L, arg, &mut l);
                        arg += 1;
                        if l < size {
                            return Ok(arg_error(L, arg, b"string too short"));
                        }
                    }
                    _ => {
                        if let Err(e) = f.control(opt) {
                            return Ok(raise_format(L, e));
                        }
                    }
                }
            }

            let mut out: Vec<u8> = Vec::new();
            let mut f = Format::new(ftext);
            let mut arg: c_int = 2;
            while let Ok(Some((opt, size))) = f.next() {
                let pad = f.padding(opt, size, out.len());
                out.resize(out.len() + pad, 0);
                match opt {
                    _ if is_int(opt) => {
                        put_int(&mut out, lua_tonumber(L, arg), size, f.big);
                        arg += 1;
                    }
                    b'f' => {
                        put_ordered(&mut out, &to_f32_bits(lua_tonumber(L, arg)).to_le_bytes(), f.big);
                        arg += 1;
                    }
                    b'd' => {
                        put_ordered(&mut out, &lua_tonumber(L, arg).to_bits().to_le_bytes(), f.big);
                        arg += 1;
                    }
                    b'x' => out.push(0),
                    b'c' | b's' => {
                        let s = to_bytes(L, arg).unwrap_or_default();
                        arg += 1;
                        let n = if size == 0 { s.len() } else { size };
                        out.extend_from_slice(&s[..n]);
                        if opt == b's' {
                            out.push(0);
                        }
                    }
                    _ => {
                        let _ = f.control(opt);
                    }
                }
            }
            if !room_for(L, out.len()) {
                return Err(Raise::Plain(b"not enough memory".to_vec()));
            }
            State::of(L).unlimited(|| push_bytes(L, &out));
            Ok(1)
        }
    }
}

lua_fn! {
    /// `struct.unpack(fmt, data [, pos])`: the values read from `data` starting at `pos`
    /// (1-based), then the position after them.
    fn unpack(L) {
        // SAFETY: the results are pushed as they are read; nothing Rust-owned is alive when an
        // argument error is raised directly.
        unsafe {
            let mut flen = 0usize;
            let fp = luaL_checklstring(L, 1, &mut flen);
            let ftext = std::slice::from_raw_parts(fp.cast::<u8>(), flen);
            let mut dlen = 0usize;
            let dp = luaL_checklstring(L, 2, &mut dlen);
            let data = std::slice::from_raw_parts(dp.cast::<u8>(), dlen);
            let start = luaL_optinteger(L, 3, 1);
            if start == 0 {
                return Ok(arg_error(L, 3, b"offset must be 1 or greater"));
            }
            // Positions are unsigned: a negative start is a huge offset.
            let mut pos = (start as u64 as usize).wrapping_sub(1);
            let fits = |pos: usize, size: usize| size <= dlen && pos <= dlen - size;

            let mut f = Format::new(ftext);
            let mut n: c_int = 0;
            loop {
                let (opt, mut size) = match f.next() {
                    Ok(Some(o)) => o,
                    Ok(None) => break,
                    Err(e) => return Ok(raise_format(L, e)),
                };
                pos = pos.wrapping_add(f.padding(opt, size, pos));
                if !fits(pos, size) {
                    return Ok(arg_error(L, 2, b"data string too short"));
                }
                // Growing the stack allocates: with the cap lifted, only the depth limit can refuse.
                if State::of(L).unlimited(|| lua_checkstack(L, 2)) == 0 {
                    return Err(Raise::at("stack overflow (too many results)"));
                }
                match opt {
                    _ if is_int(opt) => {
                        let v = get_int(&data[pos..pos + size], f.big, opt.is_ascii_lowercase());
                        lua_pushnumber(L, v);
                        n += 1;
                    }
                    b'f' => {
                        let mut b = [0u8; 4];
                        b.copy_from_slice(&data[pos..pos + 4]);
                        let bits = if f.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
                        lua_pushnumber(L, from_f32_bits(bits));
                        n += 1;
                    }
                    b'd' => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&data[pos..pos + 8]);
                        let bits = if f.big { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) };
                        lua_pushnumber(L, f64::from_bits(bits));
                        n += 1;
                    }
                    b'x' => {}
                    b'c' => {
                        if size == 0 {
                            // The length is the previous result, which is consumed.
                            if n == 0 || lua_isnumber(L, -1) == 0 {
                                return Err(Raise::at("format 'c0' needs a previous size"));
                            }
                            size = c_to_u64(lua_tonumber(L, -1)) as usize;
                            lua_settop(L, -2);
                            n -= 1;
                            if !fits(pos, size) {
                                return Ok(arg_error(L, 2, b"data string too short"));
                            }
                        }
                        if !room_for(L, size) {
                            return Err(Raise::Plain(b"not enough memory".to_vec()));
                        }
                        State::of(L).unlimited(|| push_bytes(L, &data[pos..pos + size]));
                        n += 1;
                    }
                    b's' => {
                        let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                            return Err(Raise::at("unfinished string in data"));
                        };
                        if !room_for(L, len) {
                            return Err(Raise::Plain(b"not enough memory".to_vec()));
                        }
                        State::of(L).unlimited(|| push_bytes(L, &data[pos..pos + len]));
                        size = len + 1;
                        n += 1;
                    }
                    _ => {
                        if let Err(e) = f.control(opt) {
                            return Ok(raise_format(L, e));
                        }
                    }
                }
                pos = pos.wrapping_add(size);
            }
            lua_pushinteger(L, pos.wrapping_add(1) as lua_Integer);
            Ok(n + 1)
        }
    }
}

lua_fn! {
    /// `struct.size(fmt)`: the length of what `fmt` packs; an error for `s` and `c0`.
    /// Letters and digits that are not options count as nothing here.
    fn size(L) {
        // SAFETY: nothing is owned.
        unsafe {
            let mut flen = 0usize;
            let fp = luaL_checklstring(L, 1, &mut flen);
            let ftext = std::slice::from_raw_parts(fp.cast::<u8>(), flen);
            let mut f = Format::new(ftext);
            let mut total = 0usize;
            loop {
                let (opt, size) = match f.next() {
                    Ok(Some(o)) => o,
                    Ok(None) => break,
                    Err(e) => return Ok(raise_format(L, e)),
                };
                total = total.wrapping_add(f.padding(opt, size, total));
                if opt == b's' {
                    return Ok(arg_error(L, 1, b"option 's' has no fixed size"));
                }
                if opt == b'c' && size == 0 {
                    return Ok(arg_error(L, 1, b"option 'c0' has no fixed size"));
                }
                if !opt.is_ascii_alphanumeric() {
                    if let Err(e) = f.control(opt) {
                        return Ok(raise_format(L, e));
                    }
                }
                total = total.wrapping_add(size);
            }
            lua_pushnumber(L, total as f64);
            Ok(1)
        }
    }
}

/// Creates the global table `struct`.
///
/// # Safety
/// `L` is valid and its globals writable.
pub(crate) unsafe fn open(L: *mut lua_State) {
    // SAFETY: as documented.
    unsafe {
        new_global_table(L, "struct", || {
            set_functions(L, &[("pack", pack as lua_CFunction), ("unpack", unpack), ("size", size)])
        });
    }
}

#[cfg(test)]
mod tests {
    //! Expected values were produced by redis-server 7.0.15.

    /// Runs `code`, which returns one string, and gives it back.
    fn one(code: &str) -> Vec<u8> {
        crate::testing::run(code).unwrap().swap_remove(0)
    }

    /// Lua that returns the hex of the concatenation of `exprs`.
    fn hex_of(exprs: &str) -> String {
        format!("local s = {exprs} return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))")
    }

    #[test]
    fn pack_integers() {
        let code = hex_of(
            "struct.pack('>I2', 258) .. struct.pack('<i4', -2) .. struct.pack('<i17', -1) .. \
             struct.pack('>i17', -2) .. struct.pack('!4bi', 1, 2) .. struct.pack('>bhilT', -1, 2, 3, 4, 5) .. \
             struct.pack('<I8', 2^64) .. struct.pack('<I8', 0/0) .. struct.pack('<i8', -1/0) .. \
             struct.pack('<i4', 2.7) .. struct.pack('<i4', -2.7) .. struct.pack('i0', 5)",
        );
        assert_eq!(
            one(&code),
            b"0102feffffffffffffffffffffff000000000000000000000000000000000000fffffffffffffffe0100000002000000\
              ff0002000000030000000000000004000000000000000500000000000000000000000000000080000000000000008002\
              000000feffffff"
        );
    }

    #[test]
    fn pack_strings() {
        let code = hex_of(
            "struct.pack('c3xs', 'abcdef', 'a\\0b') .. struct.pack('c', 1) .. struct.pack('c0', 12345) .. \
             struct.pack('s', 1.5) .. struct.pack('b\\0z', 1) .. struct.pack('!', 1) .. struct.pack(' < > ')",
        );
        assert_eq!(one(&code), b"6162630061006200313132333435312e350001");
    }

    #[test]
    fn pack_floats() {
        let code = hex_of(
            "struct.pack('<f', 0.1) .. struct.pack('>d', 0.1) .. struct.pack('>f', 0/0) .. \
             struct.pack('<f', 1e300) .. struct.pack('<f', 1e-300) .. \
             struct.pack('<f', struct.unpack('<d', '\\0\\0\\0\\0\\1\\0\\240\\127')) .. \
             struct.pack('<d', struct.unpack('<f', '\\1\\0\\128\\127'))",
        );
        assert_eq!(one(&code), b"cdcccc3d3fb999999999999affc000000000807f000000000800c07f000000200000f87f");
    }

    #[test]
    fn unpack_integers() {
        let code = "return table.concat({struct.unpack('<i9', ('\\255'):rep(9))}, ',') .. ';' .. \
            table.concat({struct.unpack('<i9', '\\1\\0\\0\\0\\0\\0\\0\\128\\0')}, ',') .. ';' .. \
            table.concat({struct.unpack('>i9', '\\0\\0\\0\\0\\0\\0\\0\\0\\128')}, ',') .. ';' .. \
            table.concat({struct.unpack('<i0', '')}, ',') .. ';' .. \
            string.format('%.17g', (struct.unpack('<I8', ('\\255'):rep(8)))) .. ';' .. \
            table.concat({struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')}, ',') .. ';' .. \
            table.concat({struct.unpack('<i4s', struct.pack('<i4s', 7, 'hi'))}, ',')";
        assert_eq!(one(code), b"-1,10;-127,10;-128,10;0,1;1.8446744073709552e+19;1,2,9;7,hi,8");
    }

    #[test]
    fn unpack_strings_and_positions() {
        let code = "return table.concat({struct.unpack('bc0', '\\2abc')}, ',') .. ';' .. \
            table.concat({struct.unpack('c1c0', '2ab')}, ',') .. ';' .. \
            table.concat({struct.unpack('bc0bc0', '\\1a\\2bc')}, ',') .. ';' .. \
            table.concat({struct.unpack('dc0', struct.pack('d', 1e300) .. 'ab')}, ',') .. ';' .. \
            table.concat({struct.unpack('dc0', struct.pack('d', 1.9) .. 'ab')}, ',') .. ';' .. \
            table.concat({struct.unpack('s', 'ab\\0c')}, ',') .. ';' .. \
            table.concat({struct.unpack('b', 'abc', 2.9)}, ',') .. ';' .. \
            table.concat({struct.unpack('', 'abc', -5)}, ',') .. ';' .. \
            table.concat({struct.unpack('', 'abc', 1e300)}, ',') .. ';' .. \
            table.concat({struct.unpack('xc', 'abc', '2')}, ',') .. ';' .. \
            table.concat({struct.unpack('<f', '\\1\\0\\192\\127')}, ',')";
        assert_eq!(one(code), b"ab,4;ab,4;a,bc,6;,9;a,10;ab,4;98,3;-5;-9.2233720368548e+18;c,4;nan,5");
    }

    #[test]
    fn size() {
        let code = "return table.concat({struct.size('>i4i2b'), struct.size('d'), struct.size('c10'), \
            struct.size('bi'), struct.size('!4bi'), struct.size('!bd'), struct.size('!bi3'), struct.size('!bi6'), \
            struct.size('!bc5i'), struct.size('b!'), struct.size('z'), struct.size('bq2'), \
            struct.size('c2147483647c2147483647'), struct.size('i32'), struct.size('!bi24')}, ',')";
        assert_eq!(one(code), b"7,8,10,5,8,16,6,12,12,1,0,1,4294967294,32,32");
    }

    #[test]
    fn many_results() {
        let out = crate::testing::run("return select('#', struct.unpack(('b'):rep(7990), ('a'):rep(10000)))");
        assert_eq!(out.unwrap(), vec![b"7991".to_vec()]);
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &[u8])] = &[
            ("struct.pack('z', 'abc')", b"user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"),
            ("struct.pack('=i', 1)", b"user_script:1: bad argument #1 to 'pack' (invalid format option '=')"),
            (
                "struct.unpack('\\200', '')",
                b"user_script:1: bad argument #1 to 'unpack' (invalid format option '\xc8')",
            ),
            ("struct.size('@')", b"user_script:1: bad argument #1 to 'size' (invalid format option '@')"),
            ("struct.pack('i40', 'x')", b"user_script:1: integral size 40 is larger than limit of 32"),
            ("struct.size('c2147483648')", b"user_script:1: integral size overflow"),
            ("struct.size('!2147483648')", b"user_script:1: integral size overflow"),
            ("struct.pack('!3')", b"user_script:1: alignment 3 is not a power of 2"),
            ("struct.size('!0')", b"user_script:1: alignment 0 is not a power of 2"),
            ("struct.pack('i')", b"user_script:1: bad argument #2 to 'pack' (number expected, got nil)"),
            ("struct.pack('ii', 1)", b"user_script:1: bad argument #3 to 'pack' (number expected, got nil)"),
            ("struct.pack('i', 'x')", b"user_script:1: bad argument #2 to 'pack' (number expected, got string)"),
            ("struct.pack('s', nil)", b"user_script:1: bad argument #2 to 'pack' (string expected, got nil)"),
            ("struct.pack('ic3', 1, 'ab')", b"user_script:1: bad argument #4 to 'pack' (string too short)"),
            ("struct.pack({})", b"user_script:1: bad argument #1 to 'pack' (string expected, got table)"),
            ("struct.size()", b"user_script:1: bad argument #1 to 'size' (string expected, got no value)"),
            ("struct.unpack('b')", b"user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"),
            ("struct.unpack('>I4', 'AB')", b"user_script:1: bad argument #2 to 'unpack' (data string too short)"),
            (
                "struct.unpack('b', 'abc', 0)",
                b"user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ),
            ("struct.unpack('b', 'abc', 4)", b"user_script:1: bad argument #2 to 'unpack' (data string too short)"),
            ("struct.unpack('b', 'abc', -1)", b"user_script:1: bad argument #2 to 'unpack' (data string too short)"),
            (
                "struct.unpack('b', 'abc', 'x')",
                b"user_script:1: bad argument #3 to 'unpack' (number expected, got string)",
            ),
            ("struct.unpack('!3', 'abc', 5)", b"user_script:1: bad argument #2 to 'unpack' (data string too short)"),
            ("struct.unpack('c0', 'abc')", b"user_script:1: format 'c0' needs a previous size"),
            ("struct.unpack('xc0', 'ab')", b"user_script:1: format 'c0' needs a previous size"),
            ("struct.unpack('c1c0', 'xab')", b"user_script:1: format 'c0' needs a previous size"),
            ("struct.unpack('bc0', '\\5abc')", b"user_script:1: bad argument #2 to 'unpack' (data string too short)"),
            (
                "struct.unpack('dc0', struct.pack('d', -1) .. 'ab')",
                b"user_script:1: bad argument #2 to 'unpack' (data string too short)",
            ),
            ("struct.unpack('s', 'abc')", b"user_script:1: unfinished string in data"),
            ("struct.size('s')", b"user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"),
            ("struct.size('bc0')", b"user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"),
            ("struct.unpack(('b'):rep(8000), ('a'):rep(10000))", b"user_script:1: stack overflow (too many results)"),
        ];
        for (code, want) in cases {
            let got = one(&format!("return select(2, pcall(function() return {code} end))"));
            assert_eq!(got, want.to_vec(), "{code}");
        }
    }
}
