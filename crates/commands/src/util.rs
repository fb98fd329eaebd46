//! Argument parsing shared by handlers, with Redis' error texts.

use crate::CmdError;
use tumbler_proto::{errors, num};

/// Parses a 64-bit integer argument (`string2ll` rules).
#[inline]
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    num::parse_i64(arg).ok_or(CmdError::Static(errors::NOT_INTEGER))
}

/// Parses an integer that must fit in a C `int` (database indexes), with Redis' texts:
/// not a number → "not an integer"; beyond `int` → "value is out of range, must between …".
pub fn int32(arg: &[u8]) -> Result<i64, CmdError> {
    let v = int(arg)?;
    if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
        return Err(CmdError::Static("ERR value is out of range, value must between -2147483648 and 2147483647"));
    }
    Ok(v)
}

/// Case-insensitive comparison of an argument with an option name.
#[inline]
pub fn is(arg: &[u8], opt: &str) -> bool {
    arg.eq_ignore_ascii_case(opt.as_bytes())
}

/// Validates a database index argument against the configured number of databases.
pub fn db_index(arg: &[u8], databases: usize) -> Result<usize, CmdError> {
    let v = int32(arg)?;
    if v < 0 || v as usize >= databases {
        return Err(CmdError::Static(errors::DB_OUT_OF_RANGE));
    }
    Ok(v as usize)
}

/// Parses a double the way Redis' `string2d` does (ZADD scores, INCRBYFLOAT-like arguments).
pub fn double(arg: &[u8]) -> Result<f64, CmdError> {
    parse_double(arg).ok_or(CmdError::Static(errors::NOT_FLOAT))
}

/// Redis' `string2d`: C `strtod` over the whole argument, no leading blank, no overflow to
/// infinity or underflow to zero, not NaN.
pub fn parse_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (v, used, range_error) = strtod(arg)?;
    if used != arg.len() || range_error || v.is_nan() {
        return None;
    }
    Some(v)
}

/// C's `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// C's `strtod`: skips leading blanks, parses the longest valid prefix (decimal with optional
/// exponent, hexadecimal with optional binary exponent, `inf`/`infinity`, `nan`), and returns
/// the value, the number of bytes used (0 when nothing was converted), and whether the result
/// over- or underflowed (C's ERANGE with HUGE_VAL or 0). `None` only for invalid UTF-8-free
/// reasons never occurs: the function always returns `Some`.
pub fn strtod(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let lower = |n: usize| -> Vec<u8> { rest.iter().take(n).map(u8::to_ascii_lowercase).collect() };
    let sign = |v: f64| if neg { -v } else { v };
    if lower(8) == b"infinity" {
        return Some((sign(f64::INFINITY), i + 8, false));
    }
    if lower(3) == b"inf" {
        return Some((sign(f64::INFINITY), i + 3, false));
    }
    if lower(3) == b"nan" {
        let mut j = i + 3;
        // nan(n-char-sequence)
        if s.get(j) == Some(&b'(') {
            let mut k = j + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                j = k + 1;
            }
        }
        return Some((f64::NAN, j, false));
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, used)) = hex_float(&rest[2..]) {
            let overflow = v.is_infinite();
            return Some((sign(v), i + 2 + used, overflow));
        }
        // "0x" with no hex digits: only the "0" is converted.
        return Some((sign(0.0), i + 1, false));
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut mant_digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        mant_digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            j += 1;
            mant_digits += 1;
        }
    }
    if mant_digits == 0 {
        return Some((0.0, 0, false));
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        let digits_start = k;
        while k < rest.len() && rest[k].is_ascii_digit() {
            k += 1;
        }
        if k > digits_start {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let v: f64 = text.parse().ok()?;
    let range_error = v.is_infinite() || (v == 0.0 && nonzero);
    let _ = start;
    Some((sign(v), i + j, range_error))
}

/// Hexadecimal floating point after the `0x`: returns the value and the bytes used.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut j = 0;
    let mut v = 0f64;
    let mut digits = 0;
    while j < s.len() && s[j].is_ascii_hexdigit() {
        v = v * 16.0 + f64::from((s[j] as char).to_digit(16)?);
        j += 1;
        digits += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        let mut scale = 1.0 / 16.0;
        while j < s.len() && s[j].is_ascii_hexdigit() {
            v += f64::from((s[j] as char).to_digit(16)?) * scale;
            scale /= 16.0;
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        let ds = k;
        let mut e: i32 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = e.saturating_mul(10).saturating_add(i32::from(s[k] - b'0'));
            k += 1;
        }
        if k > ds {
            j = k;
            v *= 2f64.powi(if eneg { -e } else { e });
        }
    }
    Some((v, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"").map(|t| t.1), Some(0));
        assert_eq!(strtod(b"  1.5x").map(|t| (t.0, t.1)), Some((1.5, 5)));
        assert_eq!(strtod(b"1e").map(|t| (t.0, t.1)), Some((1.0, 1)));
        assert_eq!(strtod(b"1e400").map(|t| (t.0, t.2)), Some((f64::INFINITY, true)));
        assert_eq!(strtod(b"1e-400").map(|t| (t.0, t.2)), Some((0.0, true)));
        assert_eq!(strtod(b"0x10").map(|t| t.0), Some(16.0));
        assert_eq!(strtod(b"-Infinity").map(|t| (t.0, t.1)), Some((f64::NEG_INFINITY, 9)));
    }

    #[test]
    fn doubles() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"0x1p3"), Some(8.0));
        assert_eq!(parse_double(b".5"), Some(0.5));
        assert_eq!(parse_double(b"5."), Some(5.0));
        assert_eq!(parse_double(b"1e3"), Some(1000.0));
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"1 "), None);
        assert_eq!(parse_double(b""), None);
        assert_eq!(parse_double(b"abc"), None);
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"1e-400"), None);
        assert_eq!(parse_double(b"1e-310").map(|v| v > 0.0), Some(true));
    }

    #[test]
    fn db_indexes() {
        assert_eq!(db_index(b"3", 16), Ok(3));
        assert_eq!(db_index(b"16", 16), Err(CmdError::Static(errors::DB_OUT_OF_RANGE)));
        assert!(matches!(db_index(b"2147483648", 16), Err(CmdError::Static(s)) if s.contains("must between")));
        assert_eq!(db_index(b"x", 16), Err(CmdError::Static(errors::NOT_INTEGER)));
    }
}

thread_local! {
    static RNG: std::cell::Cell<u64> = std::cell::Cell::new({
        let mut b = [0u8; 8];
        crate::server::fill_random(&mut b);
        u64::from_le_bytes(b) | 1
    });
}

/// A fast per-thread pseudo-random number (xorshift64*), for SPOP, SRANDMEMBER, RANDOMKEY.
/// Not for anything security-related.
pub fn random_u64() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Writes `WRONGTYPE` for a keyspace type mismatch.
impl From<tumbler_keyspace::WrongType> for CmdError {
    fn from(_: tumbler_keyspace::WrongType) -> Self {
        CmdError::Static(errors::WRONGTYPE)
    }
}
