//! The reply writer: RESP3 types and their RESP2 renderings exactly as Redis 7.0 renders them.
//!
//! | type      | RESP3                 | RESP2                          |
//! |-----------|-----------------------|--------------------------------|
//! | null      | `_`                   | `$-1` (or `*-1` for arrays)    |
//! | map       | `%n` + n pairs        | `*2n`                          |
//! | set       | `~n`                  | `*n`                           |
//! | push      | `>n`                  | `*n`                           |
//! | double    | `,<%.17g>`            | bulk string of the same text   |
//! | boolean   | `#t` / `#f`           | `:1` / `:0`                    |
//! | verbatim  | `=len\r\ntxt:...`     | bulk string without the prefix |
//! | big number| `(digits`             | bulk string                    |
//!
//! Replies accumulate in one buffer per connection and are written with one system call per
//! batch of pipelined requests.

use crate::num;
use std::io::Write as _;

/// The protocol a connection speaks, switched by `HELLO 2|3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default for every new connection.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// An output buffer that encodes replies for one connection's protocol.
#[derive(Default)]
pub struct Reply {
    buf: Vec<u8>,
    resp3: bool,
    errors: u64,
    last_error_at: usize,
}

impl Reply {
    /// An empty RESP2 writer.
    pub fn new() -> Self {
        Reply { buf: Vec::with_capacity(16 * 1024), ..Default::default() }
    }

    /// The protocol replies are being encoded for.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        if self.resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    /// True when encoding RESP3.
    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// Switches the protocol for the replies that follow.
    pub fn set_protocol(&mut self, p: Protocol) {
        self.resp3 = p == Protocol::Resp3;
    }

    /// The encoded bytes not yet written to the socket.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Number of bytes pending.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets the first `n` bytes (they were written to the socket).
    pub fn consume(&mut self, n: usize) {
        if n >= self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.drain(..n);
        }
    }

    /// Drops everything after `len` bytes: used to discard replies (CLIENT REPLY OFF/SKIP).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Releases memory held by a large, now empty buffer.
    pub fn shrink_if_idle(&mut self, keep: usize) {
        if self.buf.is_empty() && self.buf.capacity() > keep {
            self.buf = Vec::with_capacity(keep);
        }
    }

    /// Number of error replies written so far (for per-command failure statistics).
    #[inline]
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// The text of the most recent error reply (without `-` and CRLF), if it is still buffered.
    pub fn last_error(&self) -> Option<&[u8]> {
        let rest = self.buf.get(self.last_error_at..)?;
        let body = rest.strip_prefix(b"-")?;
        let end = memchr::memchr(b'\r', body)?;
        Some(&body[..end])
    }

    /// Raw access for writers that build their own framing (DEBUG PROTOCOL, scripts).
    pub fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    #[inline]
    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        num::push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string. `s` must not contain CR or LF.
    #[inline]
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` includes its code (`ERR ...`, `WRONGTYPE ...`). CR and LF inside the
    /// message are turned into spaces, as Redis does, so the reply stays one line.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (arguments echoed in error texts may be binary).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.errors += 1;
        self.last_error_at = self.buf.len();
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(msg);
        sanitize(&mut self.buf[start..]);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply built with `format_args!`, without an intermediate allocation.
    pub fn error_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        self.errors += 1;
        self.last_error_at = self.buf.len();
        self.buf.push(b'-');
        let start = self.buf.len();
        // Writing into a Vec cannot fail.
        let _ = self.buf.write_fmt(args);
        sanitize(&mut self.buf[start..]);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer.
    #[inline]
    pub fn int(&mut self, i: i64) {
        self.header(b':', i);
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal text of `i`.
    #[inline]
    pub fn bulk_i64(&mut self, i: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(i);
        self.bulk(s.as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`).
    #[inline]
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An array header for `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header for `n` key/value pairs (`*2n` in RESP2).
    #[inline]
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set header for `n` members (`*n` in RESP2).
    #[inline]
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push header for `n` elements (`*n` in RESP2).
    #[inline]
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// An attribute header for `n` pairs. RESP2 has no attributes; Redis sends nothing there.
    pub fn attribute(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'|', n as i64);
        }
    }

    /// A double, formatted as `%.17g` (inf as `inf`/`-inf`).
    pub fn double(&mut self, d: f64) {
        if self.resp3 {
            self.buf.push(b',');
            num::push_double_g17(&mut self.buf, d);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            let mut tmp = Vec::with_capacity(24);
            num::push_double_g17(&mut tmp, d);
            self.bulk(&tmp);
        }
    }

    /// A boolean (`:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// A verbatim string with a three-letter format (`txt`, `mkd`); a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &[u8; 3], s: &[u8]) {
        if self.resp3 {
            self.header(b'=', (s.len() + 4) as i64);
            self.buf.extend_from_slice(format);
            self.buf.push(b':');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// A big number given as its decimal digits; a bulk string in RESP2.
    pub fn bignum(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// Appends already-encoded RESP bytes (used to forward a reply produced elsewhere).
    pub fn raw_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Remembers the current position so an aggregate header can be inserted there later, once
    /// the number of elements is known (Redis' deferred length).
    #[inline]
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// Inserts already-encoded bytes at `mark` (a message that must precede what was written
    /// since).
    pub fn insert_raw(&mut self, mark: usize, bytes: &[u8]) {
        let at = mark.min(self.buf.len());
        self.buf.splice(at..at, bytes.iter().copied());
        if self.last_error_at >= at && self.errors > 0 {
            self.last_error_at += bytes.len();
        }
    }

    /// Inserts an array header for `n` elements at `mark`.
    pub fn insert_array(&mut self, mark: usize, n: usize) {
        self.insert_header(mark, b'*', n);
    }

    /// Inserts a map header for `n` pairs at `mark`.
    pub fn insert_map(&mut self, mark: usize, n: usize) {
        if self.resp3 {
            self.insert_header(mark, b'%', n);
        } else {
            self.insert_header(mark, b'*', 2 * n);
        }
    }

    /// Inserts a set header for `n` members at `mark`.
    pub fn insert_set(&mut self, mark: usize, n: usize) {
        let tag = if self.resp3 { b'~' } else { b'*' };
        self.insert_header(mark, tag, n);
    }

    fn insert_header(&mut self, mark: usize, tag: u8, n: usize) {
        let mut h = Vec::with_capacity(16);
        h.push(tag);
        num::push_i64(&mut h, n as i64);
        h.extend_from_slice(b"\r\n");
        self.buf.splice(mark..mark, h);
    }
}

/// Replaces CR and LF by spaces so an error reply stays on one line.
fn sanitize(b: &mut [u8]) {
    for c in b.iter_mut() {
        if *c == b'\r' || *c == b'\n' {
            *c = b' ';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Reply)) -> (String, String) {
        let mut r2 = Reply::new();
        f(&mut r2);
        let mut r3 = Reply::new();
        r3.set_protocol(Protocol::Resp3);
        f(&mut r3);
        (String::from_utf8_lossy(r2.as_bytes()).into_owned(), String::from_utf8_lossy(r3.as_bytes()).into_owned())
    }

    #[test]
    fn renderings() {
        assert_eq!(both(|r| r.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|r| r.set(3)), ("*3\r\n".into(), "~3\r\n".into()));
        assert_eq!(both(|r| r.push(3)), ("*3\r\n".into(), ">3\r\n".into()));
        assert_eq!(both(|r| r.boolean(true)), (":1\r\n".into(), "#t\r\n".into()));
        assert_eq!(both(|r| r.double(3.5)), ("$3\r\n3.5\r\n".into(), ",3.5\r\n".into()));
        assert_eq!(both(|r| r.double(f64::INFINITY)), ("$3\r\ninf\r\n".into(), ",inf\r\n".into()));
        assert_eq!(both(|r| r.verbatim(b"txt", b"hi")), ("$2\r\nhi\r\n".into(), "=6\r\ntxt:hi\r\n".into()));
        assert_eq!(both(|r| r.bignum(b"123")), ("$3\r\n123\r\n".into(), "(123\r\n".into()));
        assert_eq!(both(|r| r.attribute(1)), ("".into(), "|1\r\n".into()));
    }

    #[test]
    fn errors_are_one_line_and_counted() {
        let mut r = Reply::new();
        r.error_fmt(format_args!("ERR bad {}", "a\r\nb"));
        assert_eq!(r.as_bytes(), b"-ERR bad a  b\r\n");
        assert_eq!(r.error_count(), 1);
        assert_eq!(r.last_error(), Some(&b"ERR bad a  b"[..]));
    }

    #[test]
    fn deferred_headers() {
        let mut r = Reply::new();
        r.ok();
        let m = r.mark();
        r.bulk(b"a");
        r.bulk(b"b");
        r.insert_array(m, 2);
        assert_eq!(r.as_bytes(), b"+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    }
}
