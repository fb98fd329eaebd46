//! The `bit` library: 32-bit bitwise operations on Lua numbers, behaving like LuaBitOp 1.0.2 as
//! bundled with Redis 7.0.15.
//!
//! Every argument is a number (or a string Lua can convert to one). It becomes a 32-bit integer
//! the way LuaBitOp does it: the number is added to 2^52 + 2^51 in double precision and the low
//! 32 bits of the sum's representation are kept. For every number within ±2^51 this is the
//! integer nearest to it (ties to even), reduced modulo 2^32; beyond that (and for NaN and the
//! infinities) it is whatever those low bits hold, which is what Redis observes too.
//!
//! Results are always returned as signed 32-bit values. Shift and rotate counts use their low
//! five bits only.

use crate::lua::*;
use std::ffi::c_int;

/// 2^52 + 2^51: adding it to a double of magnitude below 2^51 leaves the integer nearest to the
/// value (ties to even, the FPU's rounding) in the low bits of the sum's mantissa.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// The 32-bit integer LuaBitOp makes of the number `x`.
fn to_bits(x: f64) -> u32 {
    // Truncation to the low 32 bits is the point.
    (x + MAGIC).to_bits() as u32
}

/// Argument `idx` as a 32-bit integer. Raises `number expected, got <type>` (through
/// `luaL_checknumber`) when it is neither a number nor a numeric string.
///
/// # Safety
/// Called from a Lua C function of `L` while the caller owns nothing that needs dropping.
unsafe fn arg(L: *mut lua_State, idx: c_int) -> u32 {
    // SAFETY: as documented.
    to_bits(unsafe { luaL_checknumber(L, idx) })
}

/// Pushes a result as a signed 32-bit number.
///
/// # Safety
/// `L` is valid and has a free stack slot (every C function starts with at least 20).
unsafe fn push(L: *mut lua_State, v: u32) -> c_int {
    // SAFETY: as documented; pushing a number allocates nothing.
    unsafe { lua_pushnumber(L, f64::from(v as i32)) };
    1
}

lua_fn! {
    /// `bit.tobit(x)`: `x` normalised to a signed 32-bit number.
    fn tobit(L) {
        // SAFETY: nothing is owned.
        unsafe {
            let x = arg(L, 1);
            Ok(push(L, x))
        }
    }
}

lua_fn! {
    /// `bit.bnot(x)`: the bitwise complement.
    fn bnot(L) {
        // SAFETY: nothing is owned.
        unsafe {
            let x = arg(L, 1);
            Ok(push(L, !x))
        }
    }
}

lua_fn! {
    /// `bit.bswap(x)`: the four bytes in reverse order.
    fn bswap(L) {
        // SAFETY: nothing is owned.
        unsafe {
            let x = arg(L, 1);
            Ok(push(L, x.swap_bytes()))
        }
    }
}

/// Folds every argument into one value with `op`. Like LuaBitOp, the first argument is read
/// first and the others from the last one backwards, which decides which bad argument is
/// reported when there are several.
///
/// # Safety
/// Called from a Lua C function of `L` while the caller owns nothing that needs dropping.
unsafe fn fold(L: *mut lua_State, op: fn(u32, u32) -> u32) -> c_int {
    // SAFETY: as documented.
    unsafe {
        let mut acc = arg(L, 1);
        let mut i = lua_gettop(L);
        while i > 1 {
            acc = op(acc, arg(L, i));
            i -= 1;
        }
        push(L, acc)
    }
}

lua_fn! {
    /// `bit.band(x, ...)`: the bitwise and of all arguments.
    fn band(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { fold(L, |a, b| a & b) })
    }
}

lua_fn! {
    /// `bit.bor(x, ...)`: the bitwise or of all arguments.
    fn bor(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { fold(L, |a, b| a | b) })
    }
}

lua_fn! {
    /// `bit.bxor(x, ...)`: the bitwise exclusive or of all arguments.
    fn bxor(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { fold(L, |a, b| a ^ b) })
    }
}

/// Applies the shift or rotation `op` to argument 1 by argument 2 (low five bits).
///
/// # Safety
/// Called from a Lua C function of `L` while the caller owns nothing that needs dropping.
unsafe fn shift(L: *mut lua_State, op: fn(u32, u32) -> u32) -> c_int {
    // SAFETY: as documented.
    unsafe {
        let x = arg(L, 1);
        let n = arg(L, 2) & 31;
        push(L, op(x, n))
    }
}

lua_fn! {
    /// `bit.lshift(x, n)`: logical shift left.
    fn lshift(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { shift(L, |x, n| x << n) })
    }
}

lua_fn! {
    /// `bit.rshift(x, n)`: logical shift right.
    fn rshift(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { shift(L, |x, n| x >> n) })
    }
}

lua_fn! {
    /// `bit.arshift(x, n)`: arithmetic shift right (the sign bit is copied).
    fn arshift(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { shift(L, |x, n| ((x as i32) >> n) as u32) })
    }
}

lua_fn! {
    /// `bit.rol(x, n)`: rotation left.
    fn rol(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { shift(L, u32::rotate_left) })
    }
}

lua_fn! {
    /// `bit.ror(x, n)`: rotation right.
    fn ror(L) {
        // SAFETY: nothing is owned.
        Ok(unsafe { shift(L, u32::rotate_right) })
    }
}

/// The hex digits of `x`: the lowest `digits` of them (at most 8), upper case if asked.
fn hex(x: u32, digits: usize, upper: bool) -> ([u8; 8], usize) {
    let set: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let mut out = [0u8; 8];
    for (k, slot) in out[..digits].iter_mut().enumerate() {
        let nibble = (x >> (4 * (digits - 1 - k))) & 15;
        *slot = set[nibble as usize];
    }
    (out, digits)
}

lua_fn! {
    /// `bit.tohex(x [, n])`: `x` as `|n|` hex digits (default 8, at most 8), upper case when `n`
    /// is negative.
    fn tohex(L) {
        // SAFETY: nothing is owned; a short string on the stack is the only allocation.
        unsafe {
            let x = arg(L, 1);
            let n = if lua_type(L, 2) == LUA_TNONE { 8 } else { arg(L, 2) as i32 };
            // The most negative count stays negative when negated in 32 bits, and LuaBitOp as
            // Redis builds it then prints 8 upper-case digits; `unsigned_abs` gives the same.
            let upper = n < 0;
            let digits = n.unsigned_abs().min(8) as usize;
            let (buf, len) = hex(x, digits, upper);
            State::of(L).unlimited(|| push_bytes(L, &buf[..len]));
            Ok(1)
        }
    }
}

/// Creates the global table `bit`.
///
/// # Safety
/// `L` is valid and its globals writable.
pub(crate) unsafe fn open(L: *mut lua_State) {
    // SAFETY: as documented.
    unsafe {
        new_global_table(L, "bit", || {
            set_functions(
                L,
                &[
                    ("tobit", tobit as lua_CFunction),
                    ("bnot", bnot),
                    ("band", band),
                    ("bor", bor),
                    ("bxor", bxor),
                    ("lshift", lshift),
                    ("rshift", rshift),
                    ("arshift", arshift),
                    ("rol", rol),
                    ("ror", ror),
                    ("bswap", bswap),
                    ("tohex", tohex),
                ],
            )
        });
    }
}

#[cfg(test)]
mod tests {
    //! Expected values were produced by redis-server 7.0.15.

    /// Runs `code`, which returns one string, and gives it back.
    fn one(code: &str) -> String {
        let out = crate::testing::run(code).unwrap();
        String::from_utf8(out[0].clone()).unwrap()
    }

    #[test]
    fn logic() {
        assert_eq!(
            one("return table.concat({bit.band(12, 10), bit.bor(12, 10), bit.bxor(12, 10), bit.bnot(0), \
                 bit.band(0xff, 0x0f, 0x3), bit.bor(1), bit.bxor(5, 3, 1, 7)}, ',')"),
            "8,14,6,-1,3,1,0"
        );
    }

    #[test]
    fn shifts_and_rotations() {
        assert_eq!(
            one("return table.concat({bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), \
                 bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), bit.lshift(1, 32), \
                 bit.lshift(1, 33), bit.rshift(256, -1), bit.arshift(-1, 31)}, ',')"),
            "-2147483648,15,-16,878082066,2014458966,2018915346,1,2,0,-1"
        );
    }

    #[test]
    fn conversion() {
        assert_eq!(
            one("return table.concat({bit.tobit(2^32 + 1), bit.tobit(0xffffffff), bit.tobit(1.5), \
                 bit.tobit(-1.5), bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(0.5), bit.tobit(2^31), \
                 bit.tobit(2^52 + 1), bit.tobit(2^53 + 2), bit.tobit(2^64), bit.tobit(1e300), bit.tobit(1/0), \
                 bit.tobit(-1/0), bit.tobit(0/0), bit.tobit('0x10'), bit.tobit(' 12 ')}, ',')"),
            "1,-1,2,-2,2,-2,0,-2147483648,0,1,0,-2013235812,0,0,0,16,12"
        );
    }

    #[test]
    fn hex() {
        assert_eq!(
            one("return table.concat({bit.tohex(255), bit.tohex(255, 4), bit.tohex(255, -4), bit.tohex(-1), \
                 bit.tohex(0x1234abcd, 0), bit.tohex(0x1234abcd, 12), bit.tohex(0x1234abcd, -12), \
                 bit.tohex(0xabc, -2^31), bit.tohex(0xabc, 2^32 + 3), bit.tohex(0xabc, 2.5)}, ',')"),
            "000000ff,00ff,00FF,ffffffff,,1234abcd,1234ABCD,00000ABC,abc,bc"
        );
    }

    #[test]
    fn errors() {
        for (code, want) in [
            ("bit.band()", "user_script:1: bad argument #1 to 'band' (number expected, got no value)"),
            ("bit.tobit('x')", "user_script:1: bad argument #1 to 'tobit' (number expected, got string)"),
            ("bit.tobit(nil)", "user_script:1: bad argument #1 to 'tobit' (number expected, got nil)"),
            ("bit.bor(1, 'x', {})", "user_script:1: bad argument #3 to 'bor' (number expected, got table)"),
            ("bit.lshift(1)", "user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"),
            ("bit.tohex(1, nil)", "user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"),
        ] {
            assert_eq!(one(&format!("return select(2, pcall(function() return {code} end))")), want, "{code}");
        }
        assert_eq!(one("return select(2, pcall(bit.band))"), "bad argument #1 to '?' (number expected, got no value)");
    }
}
