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

/// Parses a double the way Redis' `string2d` does (`strtod`, no blanks, not NaN).
pub fn double(arg: &[u8]) -> Result<f64, CmdError> {
    parse_double(arg).ok_or(CmdError::Static(errors::NOT_FLOAT))
}

/// `string2d`: C `strtod` syntax (decimal, exponent, hex, inf/infinity), no leading blank, the
/// whole argument consumed, NaN refused.
pub fn parse_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    let lower = s.to_ascii_lowercase();
    let (neg, body) = match lower.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        _ if body.starts_with("0x") => parse_hex_float(&body[2..])?,
        _ => {
            // Rust's parser accepts exactly the decimal forms strtod does, plus "inf"/"nan"
            // spellings handled above; refuse the rest.
            if body.contains("nan") || body.contains("inf") || body.is_empty() {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    let v = if neg { -v } else { v };
    (!v.is_nan()).then_some(v)
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

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
