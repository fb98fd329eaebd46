//! INCRBYFLOAT's long-double arithmetic, done in C (csrc/ldouble.c) so the digits are the ones
//! Redis prints.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn tumbler_timeout_ms(s: *const c_char, len: usize, out_ms: *mut i64) -> c_int;
    fn tumbler_incrbyfloat(
        cur: *const c_char,
        cur_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_cap: usize,
        out_len: *mut usize,
    ) -> c_int;
}

/// Why an increment failed.
#[derive(Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value is not a float.
    BadValue,
    /// The increment is not a float.
    BadIncrement,
    /// The result would be NaN or infinite.
    NanOrInf,
}

/// Adds `incr` to `current` (`None`: the key is missing, i.e. 0) in long double and returns the
/// result as Redis prints it.
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    let mut len = 0usize;
    let (cp, cl) = match current {
        Some(c) => (c.as_ptr(), c.len()),
        None => (std::ptr::null(), usize::MAX),
    };
    // SAFETY: every pointer/length pair describes a live buffer; the C side reads at most
    // `len` bytes from the inputs and writes at most `out_cap` bytes into `out`.
    let rc = unsafe {
        tumbler_incrbyfloat(
            cp.cast(),
            cl,
            incr.as_ptr().cast(),
            incr.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut len,
        )
    };
    match rc {
        0 => {
            out.truncate(len);
            Ok(out)
        }
        1 => Err(IncrFloatError::BadValue),
        2 => Err(IncrFloatError::BadIncrement),
        _ => Err(IncrFloatError::NanOrInf),
    }
}

/// A blocking command's timeout (seconds, a float) in milliseconds, computed in long double as
/// Redis does; `None` when the argument is not a float.
pub fn timeout_ms(arg: &[u8]) -> Option<i64> {
    let mut ms = 0i64;
    // SAFETY: the pointer/length pair describes `arg`; the C side writes one i64.
    let ok = unsafe { tumbler_timeout_ms(arg.as_ptr().cast(), arg.len(), &mut ms) };
    (ok == 1).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(cur: Option<&str>, incr: &str) -> Result<String, IncrFloatError> {
        incr_by_float(cur.map(str::as_bytes), incr.as_bytes()).map(|v| String::from_utf8(v).expect("ascii"))
    }

    #[test]
    fn long_double_digits() {
        assert_eq!(s(Some("10.5"), "0.1").as_deref(), Ok("10.6"));
        assert_eq!(s(Some("0.1"), "0.2").as_deref(), Ok("0.3"));
        assert_eq!(s(None, "5.0e3").as_deref(), Ok("5000"));
        assert_eq!(s(Some("9007199254740993"), "0").as_deref(), Ok("9007199254740993"));
        assert_eq!(s(None, "-1e-20").as_deref(), Ok("0"));
        assert_eq!(s(None, "1e-17").as_deref(), Ok("0.00000000000000001"));
        assert_eq!(s(None, "0x10").as_deref(), Ok("16"));
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout_ms(b"0.05"), Some(50));
        assert_eq!(timeout_ms(b"1"), Some(1000));
        assert_eq!(timeout_ms(b"-1"), Some(-1000));
        assert_eq!(timeout_ms(b"abc"), None);
    }

    #[test]
    fn errors() {
        assert_eq!(s(Some("abc"), "1"), Err(IncrFloatError::BadValue));
        assert_eq!(s(Some("1"), "nan"), Err(IncrFloatError::BadIncrement));
        assert_eq!(s(Some("1"), " 1"), Err(IncrFloatError::BadIncrement));
        assert_eq!(s(Some("1"), "1\u{0}"), Err(IncrFloatError::BadIncrement));
        assert_eq!(s(Some("1"), "inf"), Err(IncrFloatError::NanOrInf));
        assert_eq!(s(Some("1"), "1e5000"), Err(IncrFloatError::BadIncrement));
    }
}
