//! Numbers as Redis reads and writes them.
//!
//! Redis is strict about integers (`string2ll`: no sign but `-`, no leading zeros, no blanks) and
//! formats doubles with C's `%.17g`. Clients and scripts see these texts, so they are reproduced
//! exactly rather than approximated with Rust's own parsing and `Display`.

/// Parses a signed 64-bit integer with Redis' `string2ll` rules: an optional `-`, then `0` alone
/// or a digit 1-9 followed by digits; no `+`, no blanks, no leading zeros, at most 20 bytes.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned 64-bit integer with the same strictness as [`parse_i64`] (no sign).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (&first, rest) = s.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Appends the decimal text of `v` to `out`.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends `d` formatted as C's `printf("%.17g", d)` to `out`, which is how Redis 7.0 renders a
/// double in replies (RESP2 bulk strings and RESP3 doubles alike).
pub fn push_double_g17(out: &mut Vec<u8>, d: f64) {
    if d.is_nan() {
        out.extend_from_slice(if d.is_sign_negative() { b"-nan" } else { b"nan" });
        return;
    }
    if d.is_infinite() {
        out.extend_from_slice(if d < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    // Rust's `{:e}` with a precision is correctly rounded, as glibc's printf is; both give the
    // same 17 significant digits, which %g then lays out.
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if neg {
        out.push(b'-');
    }
    if (-4..17).contains(&exp) {
        // Fixed notation with 17 significant digits, trailing zeros removed.
        let mut s: Vec<u8> = Vec::with_capacity(24);
        if exp >= 0 {
            let int_len = exp as usize + 1;
            s.extend_from_slice(&digits[..int_len]);
            s.push(b'.');
            s.extend_from_slice(&digits[int_len..]);
        } else {
            s.extend_from_slice(b"0.");
            s.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            s.extend_from_slice(&digits);
        }
        while s.last() == Some(&b'0') {
            s.pop();
        }
        if s.last() == Some(&b'.') {
            s.pop();
        }
        out.extend_from_slice(&s);
    } else {
        let mut m: Vec<u8> = Vec::with_capacity(20);
        m.push(digits[0]);
        m.push(b'.');
        m.extend_from_slice(&digits[1..]);
        while m.last() == Some(&b'0') {
            m.pop();
        }
        if m.last() == Some(&b'.') {
            m.pop();
        }
        out.extend_from_slice(&m);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(a).as_bytes());
    }
}

/// Formats a double as [`push_double_g17`] does, into a new vector.
pub fn double_g17(d: f64) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    push_double_g17(&mut v, d);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-123"), Some(-123));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"00",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn unsigned() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }

    fn g(d: f64) -> String {
        String::from_utf8(double_g17(d)).unwrap()
    }

    #[test]
    fn g17_matches_printf() {
        // Expected values are what glibc's printf("%.17g") prints (checked with Python's %).
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(0.1), "0.10000000000000001");
        #[allow(clippy::approx_constant)]
        let redis_test_value = 3.14159265359;
        assert_eq!(g(redis_test_value), "3.1415926535900001");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1.0000000000000001e-05");
        assert_eq!(g(-2.5e-300), "-2.5e-300");
        assert_eq!(g(1e100), "1e+100");
        assert_eq!(g(5e-324), "4.9406564584124654e-324");
        assert_eq!(g(1234.5678), "1234.5678");
        assert_eq!(g(100.0), "100");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(f64::MAX), "1.7976931348623157e+308");
    }
}
