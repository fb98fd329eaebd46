//! Redis' glob-style matching (`stringmatchlen`), used by KEYS, SCAN MATCH, CONFIG GET, ACL key
//! patterns and PSUBSCRIBE.
//!
//! `*` any run, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` (ends swapped if reversed), `\x` a literal
//! `x`. Bytes compare as C's signed `char`, so ranges that cross 0x80 behave as in Redis. Like
//! Redis since 7.0.10, a failed `*` tells enclosing `*`s to stop trying longer matches, which
//! keeps the cost polynomial, and nesting is capped so a hostile pattern cannot exhaust the stack.

/// Deepest `*` nesting explored before giving up with "no match" (Redis' protection).
const MAX_NESTING: u32 = 1000;

/// True when `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip = false;
    match_impl(pattern, string, false, &mut skip, 0)
}

/// Case-insensitive form of [`matches`] (ASCII folding, as C's `tolower` in the C locale).
pub fn matches_nocase(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip = false;
    match_impl(pattern, string, true, &mut skip, 0)
}

/// True when a pattern can only ever match itself (no special characters): KEYS and SCAN then
/// look the key up directly instead of walking the keyspace.
pub fn is_literal(pattern: &[u8]) -> bool {
    !pattern.iter().any(|&c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
}

#[inline]
fn signed(c: u8) -> i32 {
    i32::from(c as i8)
}

#[inline]
fn fold(c: i32, nocase: bool) -> i32 {
    if nocase && (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

fn match_impl(mut p: &[u8], mut s: &[u8], nocase: bool, skip: &mut bool, nesting: u32) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() >= 2 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches nowhere in the rest of the string, so no
                // enclosing '*' can succeed by consuming more: tell them to stop.
                *skip = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = signed(s[0]);
                let mut hit = false;
                loop {
                    match p {
                        [b'\\', lit, ..] => {
                            p = &p[1..];
                            if *lit == s[0] {
                                hit = true;
                            }
                        }
                        [b']', ..] => break,
                        [] => break,
                        [a, b'-', z, ..] => {
                            let (mut lo, mut hi) = (signed(*a), signed(*z));
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let (lo, hi, c) = (fold(lo, nocase), fold(hi, nocase), fold(c, nocase));
                            p = &p[2..];
                            if c >= lo && c <= hi {
                                hit = true;
                            }
                        }
                        [x, ..] => {
                            if fold(signed(*x), nocase) == fold(c, nocase) {
                                hit = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                // The loop above stopped on ']' (consumed below) or at the end of the pattern.
                if p.is_empty() {
                    // An unterminated class: the pattern is used up, so only an equally used-up
                    // string matches (Redis steps back one byte to land on the same outcome).
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if fold(signed(p[0]), nocase) != fold(signed(s[0]), nocase) {
                    return false;
                }
                s = &s[1..];
            }
            x => {
                if fold(signed(x), nocase) != fold(signed(s[0]), nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        // Like Redis' stringmatchlen: a pattern never matches the empty string (KEYS * special-
        // cases "*" to list everything, the empty key included).
        assert!(!matches(b"*", b""));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(!matches(b"h?llo", b"hllo"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[ae]llo", b"hillo"));
        assert!(matches(b"h[^e]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h[b-a]llo", b"hallo"));
        assert!(matches(b"lock:*", b"lock:1"));
        assert!(!matches(b"lock:*", b"lock"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"[\\]]", b"]"));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"", b""));
        assert!(matches(b"a**", b"a"));
        assert!(matches(b"a*", b"a"));
    }

    #[test]
    fn unterminated_class() {
        assert!(matches(b"[ab", b"a"));
        assert!(!matches(b"[ab", b"ab"));
        assert!(!matches(b"a[", b"a"));
        assert!(!matches(b"a[", b"ab"));
        // "[a-]" makes a range a..']' and never closes.
        assert!(matches(b"h[a-]llo", b"hl"));
        assert!(!matches(b"h[a-]llo", b"hallo"));
    }

    #[test]
    fn nocase() {
        assert!(matches_nocase(b"HeLLo", b"hello"));
        assert!(matches_nocase(b"[A-Z]x", b"qX"));
        assert!(!matches(b"HeLLo", b"hello"));
    }

    #[test]
    fn signed_char_ranges() {
        // [a-\xff] is [-1, 97] in signed chars: it covers 0xff and '0' but not 'b'.
        assert!(matches(b"[a-\xff]", b"\xff"));
        assert!(matches(b"[a-\xff]", b"0"));
        assert!(!matches(b"[a-\xff]", b"b"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let s = vec![b'a'; 5000];
        let mut p = b"*a".repeat(40);
        p.extend_from_slice(b"b");
        assert!(!matches(&p, &s));
        let deep = b"*a".repeat(5000);
        assert!(!matches(&deep, &s[..100]));
    }
}
