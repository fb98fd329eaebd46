//! Splitting a line into arguments the way Redis' `sdssplitargs` does.
//!
//! Used for inline commands (`SET k "a b"` typed into telnet) and for configuration files, whose
//! syntax is the same as redis.conf's. The rules, which clients and config files rely on:
//! blanks (C `isspace`) separate arguments; `"..."` understands `\n \r \t \b \a \\ \"` and `\xHH`;
//! `'...'` understands only `\'`; a closing quote must be followed by a blank or the end of the
//! line; an unterminated quote makes the whole line invalid. A quote may open in the middle of an
//! argument (`a"b c"` is the single argument `ab c`).

/// Whitespace as C's `isspace` sees it in the "C" locale.
#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into arguments, appending their bytes to `out` and their `(start, end)` ranges
/// (into `out`) to `spans`. Returns `false` on unbalanced quotes, in which case nothing useful is
/// left in `out`/`spans` (the caller discards the line).
///
/// A NUL byte ends the line, as it does for the C string Redis parses.
pub fn split_args_into(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) -> bool {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return true;
        }
        let start = out.len();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        out.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    out.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return false;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return false;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return false;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return false;
                } else {
                    out.push(c);
                }
            } else {
                match c {
                    // Only these end an unquoted argument (not \v or \f, unlike the blank
                    // skipping above): a faithful copy of Redis' behaviour.
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => out.push(c),
                }
            }
            p += 1;
        }
        spans.push((start, out.len()));
    }
}

/// Convenience form of [`split_args_into`] returning owned arguments, or `None` on unbalanced
/// quotes. Used by the configuration parser, where allocation does not matter.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    if !split_args_into(line, &mut out, &mut spans) {
        return None;
    }
    Some(spans.iter().map(|&(s, e)| out[s..e].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| v.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect())
    }

    #[test]
    fn plain_words() {
        assert_eq!(s("SET k v").unwrap(), ["SET", "k", "v"]);
        assert_eq!(s("  a\t b  ").unwrap(), ["a", "b"]);
        assert!(s("").unwrap().is_empty());
        assert!(s("   ").unwrap().is_empty());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(s(r#"set "a b" "c\"d""#).unwrap(), ["set", "a b", "c\"d"]);
        assert_eq!(s(r#""\x41\x4a\n""#).unwrap(), ["AJ\n"]);
        assert_eq!(s(r#""\x4""#).unwrap(), ["x4"]);
        assert_eq!(s(r#""""#).unwrap(), [""]);
        assert_eq!(split_args(br#""\xff\x00""#).unwrap(), vec![vec![0xff, 0]]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(s(r"'a b' 'it\'s' '\n'").unwrap(), ["a b", "it's", "\\n"]);
    }

    #[test]
    fn quote_in_the_middle_of_a_word() {
        assert_eq!(s(r#"a"b c"d"#), None);
        assert_eq!(s(r#"a"b c" d"#).unwrap(), ["ab c", "d"]);
    }

    #[test]
    fn unbalanced() {
        assert_eq!(s(r#""abc"#), None);
        assert_eq!(s("'abc"), None);
        assert_eq!(s(r#""a"b"#), None);
        assert_eq!(s(r#"'a'b"#), None);
    }

    #[test]
    fn vertical_tab_skipped_between_but_kept_inside_words() {
        assert_eq!(s("\x0ba\x0bb").unwrap(), ["a\x0bb"]);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split_args(b"a b\0c").unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
    }
}
