//! Redis' `sdssplitargs`, used to split the inside of a selector `(…)` into rules: whitespace
//! separates, `"…"` takes `\n \r \t \b \a \\ \" \xHH` escapes, `'…'` takes `\'`, and a closing
//! quote must be followed by whitespace. `None` on unbalanced quotes.

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits `line` into arguments.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if inq {
                let c = c?;
                if c == b'\\'
                    && line.get(i + 1) == Some(&b'x')
                    && line.get(i + 2).and_then(|&h| hex(h)).is_some()
                    && line.get(i + 3).and_then(|&h| hex(h)).is_some()
                {
                    let hi = hex(line[i + 2]).unwrap_or(0);
                    let lo = hex(line[i + 3]).unwrap_or(0);
                    cur.push(hi * 16 + lo);
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                let c = c?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => {
                        i += 1;
                        break;
                    }
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(c) => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split_args(b"  ~a  +get ").unwrap(), [b"~a".to_vec(), b"+get".to_vec()]);
        assert_eq!(
            split_args(b"\"a b\" 'c\\'d' \"\\x41\\n\"").unwrap(),
            [b"a b".to_vec(), b"c'd".to_vec(), b"A\n".to_vec()]
        );
        assert_eq!(split_args(b"").unwrap(), Vec::<Vec<u8>>::new());
        assert!(split_args(b"~a \"b").is_none());
        assert!(split_args(b"\"a\"b").is_none());
        assert!(split_args(b"'a").is_none());
        assert_eq!(split_args(b"a\0b").unwrap(), [b"a".to_vec(), b"b".to_vec()]);
    }
}
