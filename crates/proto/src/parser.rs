//! The resumable request parser.
//!
//! Requests arrive either as RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), which every client
//! library sends, or inline (`PING\r\n`, `SET k "a b"\r\n`), which telnet, health checks and
//! redis-benchmark's `PING_INLINE` send. The parser reproduces Redis 7.0's `processMultibulkBuffer`
//! and `processInlineBuffer` including their quirks, because a client that works against Redis must
//! see the same outcome here:
//!
//! * the two bytes after a bulk's payload are skipped without being checked;
//! * length lines are found with `strchr`, so a NUL byte before the `\r` means "not yet";
//! * `*0` and `*-1` are ignored, an empty inline line is ignored;
//! * limits and error texts are Redis' (`invalid multibulk length`, `invalid bulk length`,
//!   `expected '$', got 'x'`, `too big inline request`, …), and every error closes the connection.
//!
//! State survives between calls: when a request is incomplete, the next call (with more bytes
//! appended to the same buffer) resumes where the last one stopped instead of rescanning, so a
//! 100 MB value is walked once. Arguments are never copied for multibulk requests: [`Args`]
//! borrows them from the caller's buffer.

use crate::errors;

/// The largest inline request or length line Redis accepts without a newline (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Maximum number of arguments before authentication (Redis' unauthenticated limit).
pub const UNAUTH_MAX_ARGS: i64 = 10;
/// Maximum bulk length before authentication.
pub const UNAUTH_MAX_BULK: i64 = 16384;

/// Limits that depend on configuration and on the connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: i64,
    /// Whether the connection still has to authenticate (smaller limits apply, as in Redis).
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, unauthenticated: false }
    }
}

/// A framing error. The connection replies with [`ParseError::message`] and is then closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `*<n>` where n is not a number or is above `INT_MAX`.
    InvalidMultibulkLength,
    /// `$<n>` where n is not a number, negative, or above `proto-max-bulk-len`.
    InvalidBulkLength,
    /// A bulk header that does not start with `$`; carries the byte found.
    ExpectedDollar(u8),
    /// More than 64 KB without a newline in an inline request.
    TooBigInline,
    /// More than 64 KB without `\r` after `*`.
    TooBigMbulkCount,
    /// More than 64 KB without `\r` after `$`.
    TooBigBulkCount,
    /// An inline request with an unterminated quote.
    UnbalancedQuotes,
    /// More than 10 arguments before authentication.
    UnauthenticatedMultibulk,
    /// A bulk above 16 KB before authentication.
    UnauthenticatedBulk,
}

impl ParseError {
    /// The error reply Redis sends for this condition, without the leading `-` or trailing CRLF.
    pub fn message(&self) -> String {
        match self {
            ParseError::InvalidMultibulkLength => errors::PROTO_INVALID_MULTIBULK.into(),
            ParseError::InvalidBulkLength => errors::PROTO_INVALID_BULK.into(),
            ParseError::ExpectedDollar(b) => {
                // Redis formats the byte with %c and then turns CR/LF into spaces.
                let c = if *b == b'\r' || *b == b'\n' { b' ' } else { *b };
                let mut s = String::from("ERR Protocol error: expected '$', got '");
                // A non-UTF-8 byte cannot be put into a String; the reply writer receives bytes
                // through `message_bytes`, which keeps it raw.
                s.push(if c.is_ascii() { c as char } else { '?' });
                s.push('\'');
                s
            }
            ParseError::TooBigInline => errors::PROTO_BIG_INLINE.into(),
            ParseError::TooBigMbulkCount => errors::PROTO_BIG_MBULK.into(),
            ParseError::TooBigBulkCount => errors::PROTO_BIG_BULK_COUNT.into(),
            ParseError::UnbalancedQuotes => errors::PROTO_UNBALANCED.into(),
            ParseError::UnauthenticatedMultibulk => errors::PROTO_UNAUTH_MULTIBULK.into(),
            ParseError::UnauthenticatedBulk => errors::PROTO_UNAUTH_BULK.into(),
        }
    }

    /// The error reply as raw bytes (a non-ASCII byte in `expected '$', got 'x'` is kept as is).
    pub fn message_bytes(&self) -> Vec<u8> {
        match self {
            ParseError::ExpectedDollar(b) => {
                let c = if *b == b'\r' || *b == b'\n' { b' ' } else { *b };
                let mut v = b"ERR Protocol error: expected '$', got '".to_vec();
                v.push(c);
                v.push(b'\'');
                v
            }
            other => other.message().into_bytes(),
        }
    }
}

/// The arguments of one parsed request, borrowed from the read buffer (multibulk) or from the
/// parser's scratch space (inline).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    data: &'a [u8],
    spans: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    /// Builds arguments over `data` from `(start, end)` ranges.
    pub fn new(data: &'a [u8], spans: &'a [(usize, usize)]) -> Self {
        Args { data, spans }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no arguments (never the case for a dispatched request).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`-th argument (0 is the command name). Panics if out of range: handlers index only
    /// within the arity the dispatcher has already checked.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &self.data[s..e]
    }

    /// The `i`-th argument, or `None` past the end.
    #[inline]
    pub fn opt(&self, i: usize) -> Option<&'a [u8]> {
        self.spans.get(i).map(|&(s, e)| &self.data[s..e])
    }

    /// Iterates over all arguments.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        self.spans.iter().map(move |&(s, e)| &data[s..e])
    }

    /// Arguments from `from` on, as a new `Args`.
    pub fn slice_from(&self, from: usize) -> Args<'a> {
        Args { data: self.data, spans: &self.spans[from.min(self.spans.len())..] }
    }

    /// Arguments `from..to` (clamped to the arguments there are), as a new `Args`.
    pub fn slice(&self, from: usize, to: usize) -> Args<'a> {
        let to = to.min(self.spans.len());
        Args { data: self.data, spans: &self.spans[from.min(to)..to] }
    }

    /// Total bytes of all arguments (for CLIENT LIST's argv-mem and similar statistics).
    pub fn total_bytes(&self) -> usize {
        self.spans.iter().map(|&(s, e)| e - s).sum()
    }
}

/// The outcome of one call to [`Parser::next`].
pub enum Step<'a> {
    /// A complete request; the caller consumes `consumed` bytes after handling it.
    Request {
        /// The arguments.
        args: Args<'a>,
        /// Bytes of input this request occupied.
        consumed: usize,
    },
    /// A frame that carries no command (`*0`, `*-1`, an empty line): consume and go on.
    Skip {
        /// Bytes of input to consume.
        consumed: usize,
    },
    /// More input is needed. `need` is the smallest total input length that can make progress
    /// (a hint for sizing the read buffer when a large bulk is on its way).
    Incomplete {
        /// Smallest useful total input length.
        need: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing parsed of the current request.
    Start,
    /// Inline request; `scanned` bytes are known to hold no line end.
    Inline { scanned: usize },
    /// Multibulk request: `remaining` arguments to go, `pos` is the next byte to parse,
    /// `bulk` is the length of the argument whose header was already read.
    Multibulk { remaining: usize, pos: usize, bulk: Option<usize> },
}

/// A resumable RESP request parser; one per connection.
pub struct Parser {
    state: State,
    spans: Vec<(usize, usize)>,
    inline: Vec<u8>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

/// Finds `needle` as C's `strchr` would in a NUL-terminated copy of `hay`: a NUL byte first means
/// "not found".
#[inline]
fn strchr(hay: &[u8], needle: u8) -> Option<usize> {
    match memchr::memchr2(needle, 0, hay) {
        Some(i) if hay[i] == needle => Some(i),
        _ => None,
    }
}

/// The common shape of a `*<n>`/`$<n>` length line at `at`: a number in canonical form (`0`,
/// or up to 18 digits without a leading zero) right up to a `\r` that has a byte after it.
/// Returns the number and the position after the line, or `None` for anything else (signs,
/// other bytes, NULs, a line not complete yet), which the general path then handles: for every
/// line this accepts, [`Parser::length_line`] returns the same.
#[inline(always)]
fn quick_length(input: &[u8], at: usize) -> Option<(i64, usize)> {
    let first = *input.get(at + 1)?;
    if !first.is_ascii_digit() {
        return None;
    }
    let mut v = i64::from(first - b'0');
    let mut i = at + 2;
    loop {
        let c = *input.get(i)?;
        if c == b'\r' {
            break;
        }
        // 18 digits at most: no overflow.
        if !c.is_ascii_digit() || i - at > 18 || first == b'0' {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
        i += 1;
    }
    // Redis only requires a byte after the `\r` to be present; it does not check it.
    (i + 1 < input.len()).then_some((v, i + 2))
}

/// A whole multibulk request that is all in `input` and in the usual shape (every length line
/// as [`quick_length`] reads it, within the limits), read in one pass with no state kept;
/// `None` leaves anything else to the resumable path, which would parse this request the same
/// way. Fills `spans`; `input` starts with the `*`.
#[inline]
fn whole_request(input: &[u8], limits: Limits, spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    let (n, mut pos) = quick_length(input, 0)?;
    if n == 0 || n > 64 || limits.unauthenticated && n > UNAUTH_MAX_ARGS {
        return None;
    }
    for _ in 0..n {
        if input.get(pos) != Some(&b'$') {
            return None;
        }
        let (len, at) = quick_length(input, pos)?;
        if len > limits.max_bulk_len || limits.unauthenticated && len > UNAUTH_MAX_BULK {
            return None;
        }
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        if input.len().saturating_sub(end) < 2 {
            return None;
        }
        spans.push((at, end));
        pos = end + 2;
    }
    Some(pos)
}

/// Reads ahead without consuming anything: parses each of the next requests in `input` (at
/// most `max`) as long as they are whole and in the usual shape (see [`whole_request`]), and
/// calls `f` with its arguments and the bytes it occupies: what [`Parser::next`], between
/// requests, would return for it, given the same `limits`. The spans of all of them accumulate
/// in `spans` (cleared first), each request's relative to its own start, so that a caller can
/// hand them on as those requests come up instead of parsing them again.
pub fn peek_requests(
    input: &[u8],
    limits: Limits,
    max: usize,
    spans: &mut Vec<(usize, usize)>,
    mut f: impl FnMut(Args<'_>, usize),
) {
    spans.clear();
    let mut at = 0;
    for _ in 0..max {
        let rest = &input[at..];
        if rest.first() != Some(&b'*') {
            return;
        }
        let first = spans.len();
        let Some(n) = whole_request(rest, limits, spans) else {
            spans.truncate(first);
            return;
        };
        f(Args { data: rest, spans: &spans[first..] }, n);
        at += n;
    }
}

impl Parser {
    /// A parser waiting for the first byte of a request.
    pub fn new() -> Self {
        Parser { state: State::Start, spans: Vec::with_capacity(8), inline: Vec::new() }
    }

    /// True when no request is partially parsed (the connection is between requests).
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Forgets any partial request (used when the connection resets its buffer).
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.spans.clear();
    }

    /// Parses the next request from `input`, which must start where the previous request ended.
    /// Between calls that return [`Step::Incomplete`], the caller may only append to `input`.
    pub fn next<'a>(&'a mut self, input: &'a [u8], limits: Limits) -> Result<Step<'a>, ParseError> {
        if self.state == State::Start {
            let Some(&first) = input.first() else {
                return Ok(Step::Incomplete { need: 1 });
            };
            self.spans.clear();
            if first == b'*' {
                if let Some(consumed) = self.whole_request(input, limits) {
                    return Ok(Step::Request { args: Args { data: input, spans: &self.spans }, consumed });
                }
                self.spans.clear();
            }
            self.state = if first == b'*' {
                State::Multibulk { remaining: 0, pos: 0, bulk: None }
            } else {
                State::Inline { scanned: 0 }
            };
            if first == b'*' {
                return self.multibulk_count(input, limits);
            }
        }
        match self.state {
            State::Inline { .. } => self.inline(input),
            State::Multibulk { pos: 0, .. } => self.multibulk_count(input, limits),
            State::Multibulk { .. } => self.multibulk_args(input, limits),
            State::Start => unreachable_start(),
        }
    }

    #[inline]
    fn whole_request(&mut self, input: &[u8], limits: Limits) -> Option<usize> {
        whole_request(input, limits, &mut self.spans)
    }

    fn inline<'a>(&'a mut self, input: &'a [u8]) -> Result<Step<'a>, ParseError> {
        let State::Inline { scanned } = self.state else { return unreachable_start() };
        let Some(nl) = strchr(&input[scanned..], b'\n').map(|i| i + scanned) else {
            if input.len() > INLINE_MAX {
                self.state = State::Start;
                return Err(ParseError::TooBigInline);
            }
            // Resume after what is known to hold no newline, unless a NUL stopped the search:
            // then everything after it stays invisible, exactly as for Redis' strchr, until the
            // size limit closes the connection.
            let stop = memchr::memchr(0, &input[scanned..]).map_or(input.len(), |i| i + scanned);
            self.state = State::Inline { scanned: stop };
            return Ok(Step::Incomplete { need: input.len() + 1 });
        };
        let mut end = nl;
        if end > 0 && input[end - 1] == b'\r' {
            end -= 1;
        }
        self.state = State::Start;
        self.inline.clear();
        self.spans.clear();
        if !crate::splitargs::split_args_into(&input[..end], &mut self.inline, &mut self.spans) {
            return Err(ParseError::UnbalancedQuotes);
        }
        let consumed = nl + 1;
        if self.spans.is_empty() {
            return Ok(Step::Skip { consumed });
        }
        Ok(Step::Request { args: Args { data: &self.inline, spans: &self.spans }, consumed })
    }

    /// Reads a `*<n>`/`$<n>` length line starting at `at`. Returns the number and the position
    /// after the line, or `None` if the line is not complete yet.
    fn length_line(input: &[u8], at: usize) -> Option<(Option<i64>, usize)> {
        let cr = strchr(&input[at..], b'\r')? + at;
        // Redis only requires one more byte after the '\r' to be present; it does not check it.
        if cr + 1 >= input.len() {
            return None;
        }
        Some((crate::num::parse_i64(&input[at + 1..cr]), cr + 2))
    }

    fn multibulk_count<'a>(&'a mut self, input: &'a [u8], limits: Limits) -> Result<Step<'a>, ParseError> {
        let line = match quick_length(input, 0) {
            Some((n, after)) => Some((Some(n), after)),
            None => Self::length_line(input, 0),
        };
        let Some((n, after)) = line else {
            if input.len() > INLINE_MAX {
                self.state = State::Start;
                return Err(ParseError::TooBigMbulkCount);
            }
            return Ok(Step::Incomplete { need: input.len() + 1 });
        };
        let n = match n {
            Some(n) if n <= i64::from(i32::MAX) => n,
            _ => {
                self.state = State::Start;
                return Err(ParseError::InvalidMultibulkLength);
            }
        };
        if limits.unauthenticated && n > UNAUTH_MAX_ARGS {
            self.state = State::Start;
            return Err(ParseError::UnauthenticatedMultibulk);
        }
        if n <= 0 {
            self.state = State::Start;
            return Ok(Step::Skip { consumed: after });
        }
        // Do not trust the count for preallocation beyond a sane amount, as Redis does.
        self.spans.reserve((n as usize).min(1024));
        self.state = State::Multibulk { remaining: n as usize, pos: after, bulk: None };
        self.multibulk_args(input, limits)
    }

    fn multibulk_args<'a>(&'a mut self, input: &'a [u8], limits: Limits) -> Result<Step<'a>, ParseError> {
        let State::Multibulk { mut remaining, mut pos, mut bulk } = self.state else {
            return unreachable_start();
        };
        while remaining > 0 {
            // The usual header, `$<digits>\r` with a byte after it, read in one pass; the
            // general path below gives the same outcome for it, slower.
            let quick = match bulk {
                None if input.get(pos) == Some(&b'$') => quick_length(input, pos),
                _ => None,
            };
            let len = match (bulk, quick) {
                (Some(len), _) => len,
                (None, Some((n, after))) => {
                    if n > limits.max_bulk_len {
                        self.state = State::Start;
                        return Err(ParseError::InvalidBulkLength);
                    }
                    if limits.unauthenticated && n > UNAUTH_MAX_BULK {
                        self.state = State::Start;
                        return Err(ParseError::UnauthenticatedBulk);
                    }
                    pos = after;
                    n as usize
                }
                (None, None) => {
                    let Some(cr) = strchr(&input[pos..], b'\r') else {
                        self.state = State::Multibulk { remaining, pos, bulk };
                        if input.len() - pos > INLINE_MAX {
                            self.state = State::Start;
                            return Err(ParseError::TooBigBulkCount);
                        }
                        return Ok(Step::Incomplete { need: input.len() + 1 });
                    };
                    let cr = cr + pos;
                    if cr + 1 >= input.len() {
                        self.state = State::Multibulk { remaining, pos, bulk };
                        return Ok(Step::Incomplete { need: cr + 2 });
                    }
                    if input[pos] != b'$' {
                        self.state = State::Start;
                        return Err(ParseError::ExpectedDollar(input[pos]));
                    }
                    let n = match crate::num::parse_i64(&input[pos + 1..cr]) {
                        Some(n) if n >= 0 && n <= limits.max_bulk_len => n,
                        _ => {
                            self.state = State::Start;
                            return Err(ParseError::InvalidBulkLength);
                        }
                    };
                    if limits.unauthenticated && n > UNAUTH_MAX_BULK {
                        self.state = State::Start;
                        return Err(ParseError::UnauthenticatedBulk);
                    }
                    pos = cr + 2;
                    n as usize
                }
            };
            if input.len() - pos < len + 2 {
                self.state = State::Multibulk { remaining, pos, bulk: Some(len) };
                return Ok(Step::Incomplete { need: pos + len + 2 });
            }
            self.spans.push((pos, pos + len));
            pos += len + 2;
            bulk = None;
            remaining -= 1;
        }
        self.state = State::Start;
        Ok(Step::Request { args: Args { data: input, spans: &self.spans }, consumed: pos })
    }
}

#[cold]
fn unreachable_start<T>() -> Result<T, ParseError> {
    // The state machine never dispatches Start to a sub-parser; treat it as a framing error
    // rather than panicking on client input.
    Err(ParseError::InvalidMultibulkLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses every request in `input` at once; returns the requests, bytes consumed, and the
    /// error if one occurred.
    fn parse_all(input: &[u8], limits: Limits) -> (Vec<Vec<Vec<u8>>>, usize, Option<ParseError>) {
        let mut p = Parser::new();
        let mut out = Vec::new();
        let mut off = 0;
        loop {
            match p.next(&input[off..], limits) {
                Ok(Step::Request { args, consumed }) => {
                    out.push(args.iter().map(<[u8]>::to_vec).collect());
                    off += consumed;
                }
                Ok(Step::Skip { consumed }) => off += consumed,
                Ok(Step::Incomplete { .. }) => return (out, off, None),
                Err(e) => return (out, off, Some(e)),
            }
        }
    }

    fn cmds(input: &[u8]) -> Vec<Vec<String>> {
        let (v, _, e) = parse_all(input, Limits::default());
        assert_eq!(e, None);
        v.into_iter().map(|c| c.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect()).collect()
    }

    fn err(input: &[u8]) -> ParseError {
        parse_all(input, Limits::default()).2.expect("an error")
    }

    #[test]
    fn multibulk_and_pipelining() {
        assert_eq!(cmds(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n"), vec![vec!["GET", "k"], vec!["PING"]]);
    }

    #[test]
    fn inline_requests() {
        assert_eq!(cmds(b"PING\r\n"), vec![vec!["PING"]]);
        assert_eq!(cmds(b"PING\n"), vec![vec!["PING"]]);
        assert_eq!(cmds(b"set k \"a b\"\r\nget k\n"), vec![vec!["set", "k", "a b"], vec!["get", "k"]]);
        assert_eq!(cmds(b"\r\n\n   \r\nPING\r\n"), vec![vec!["PING"]]);
        assert_eq!(cmds(b"SET a \"\"\r\n"), vec![vec!["SET", "a", ""]]);
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(cmds(b"*0\r\n*-1\r\n*-100\r\n*1\r\n$4\r\nPING\r\n"), vec![vec!["PING"]]);
    }

    #[test]
    fn trailing_bytes_after_bulk_are_not_checked() {
        let (v, _, e) = parse_all(b"*1\r\n$4\r\nPINGxx*1\r\n\r\n", Limits::default());
        assert_eq!(v, vec![vec![b"PING".to_vec()]]);
        assert_eq!(e, Some(ParseError::ExpectedDollar(b'\r')));
        assert_eq!(e.unwrap().message(), "ERR Protocol error: expected '$', got ' '");
    }

    #[test]
    fn framing_errors() {
        assert_eq!(err(b"*abc\r\n"), ParseError::InvalidMultibulkLength);
        assert_eq!(err(b"*2147483648\r\n"), ParseError::InvalidMultibulkLength);
        assert_eq!(err(b"*1\r\n$abc\r\n"), ParseError::InvalidBulkLength);
        assert_eq!(err(b"*1\r\n$-1\r\n"), ParseError::InvalidBulkLength);
        assert_eq!(err(b"*1\r\n$536870913\r\n"), ParseError::InvalidBulkLength);
        assert_eq!(err(b"*1\r\n:5\r\n"), ParseError::ExpectedDollar(b':'));
        assert_eq!(err(b"set \"a\r\n"), ParseError::UnbalancedQuotes);
    }

    #[test]
    fn size_limits_without_line_ends() {
        let big = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(err(&big), ParseError::TooBigInline);
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(err(&mb), ParseError::TooBigMbulkCount);
        let mut bc = b"*1\r\n$".to_vec();
        bc.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(err(&bc), ParseError::TooBigBulkCount);
        // Exactly at the limit is still waiting, not an error.
        let (_, _, e) = parse_all(&vec![b'a'; INLINE_MAX], Limits::default());
        assert_eq!(e, None);
    }

    #[test]
    fn nul_before_cr_means_not_yet() {
        let (v, off, e) = parse_all(b"*1\0\r\n$4\r\nPING\r\n", Limits::default());
        assert!(v.is_empty() && off == 0 && e.is_none());
    }

    #[test]
    fn unauthenticated_limits() {
        let l = Limits { unauthenticated: true, ..Limits::default() };
        assert_eq!(parse_all(b"*11\r\n", l).2, Some(ParseError::UnauthenticatedMultibulk));
        assert_eq!(parse_all(b"*1\r\n$16385\r\n", l).2, Some(ParseError::UnauthenticatedBulk));
        assert_eq!(parse_all(b"*10\r\n$16384\r\n", l).2, None);
    }

    #[test]
    fn split_at_every_byte_gives_the_same_requests() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\nvalue\0\xff\r\nxy\r\nPING\r\nECHO \"a b\"\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";
        let (expected, total, e) = parse_all(input, Limits::default());
        assert!(e.is_none());
        assert_eq!(total, input.len());
        for split in 0..=input.len() {
            // Feed the first `split` bytes, then the rest, resuming with the same parser.
            let mut p = Parser::new();
            let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut off = 0;
            for end in [split, input.len()] {
                loop {
                    match p.next(&input[off..end], Limits::default()).unwrap() {
                        Step::Request { args, consumed } => {
                            got.push(args.iter().map(<[u8]>::to_vec).collect());
                            off += consumed;
                        }
                        Step::Skip { consumed } => off += consumed,
                        Step::Incomplete { need } => {
                            assert!(need > end - off, "need {need} must exceed what is buffered");
                            break;
                        }
                    }
                }
            }
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
        let mut p = Parser::new();
        for end in 1..input.len() {
            assert!(matches!(p.next(&input[..end], Limits::default()), Ok(Step::Incomplete { .. })));
        }
        match p.next(input, Limits::default()) {
            Ok(Step::Request { args, consumed }) => {
                assert_eq!(args.get(1), b"hello");
                assert_eq!(consumed, input.len());
            }
            _ => panic!("expected a request"),
        }
    }

    #[test]
    fn incomplete_large_bulk_reports_its_size() {
        let mut p = Parser::new();
        match p.next(b"*2\r\n$3\r\nSET\r\n$1000000\r\nabc", Limits::default()) {
            Ok(Step::Incomplete { need }) => assert_eq!(need, 23 + 1_000_000 + 2),
            _ => panic!("expected incomplete"),
        }
    }

    #[test]
    fn huge_declared_count_does_not_allocate_it() {
        let (v, _, e) = parse_all(b"*2000000000\r\n$1\r\na\r\n", Limits::default());
        assert!(v.is_empty() && e.is_none());
    }

    /// A repeatable pseudo-random sequence (xorshift64) for the randomized tests.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// The one-pass reading of a length line agrees with the general one wherever it answers,
    /// and answers for the lines clients send.
    #[test]
    fn quick_length_lines_agree_with_the_general_path() {
        for line in [&b"*1\r\n"[..], b"$0\r\n", b"$3\r\n", b"$123456789012345678\r\n", b"*2\r\0"] {
            assert!(quick_length(line, 0).is_some(), "{:?}", String::from_utf8_lossy(line));
        }
        for line in [&b"$1\r"[..], b"$-1\r\n", b"$01\r\n", b"$1234567890123456789\r\n", b"$1 \r\n", b"$\r\n"] {
            assert!(quick_length(line, 0).is_none(), "{:?}", String::from_utf8_lossy(line));
        }
        // Random lines of up to 24 bytes over the bytes that matter.
        const ALPHABET: &[u8] = b"0123456789012345678901-+ \r\n\0$*x";
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let mut accepted = 0;
        for _ in 0..200_000 {
            let len = (next() % 24) as usize;
            let mut line = vec![b'$'];
            line.extend((0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize]));
            if let Some((v, after)) = quick_length(&line, 0) {
                accepted += 1;
                assert_eq!(Parser::length_line(&line, 0), Some((Some(v), after)), "{line:?}");
            }
        }
        assert!(accepted > 1000, "only {accepted} random lines took the quick path");
    }

    /// A whole request read in one pass is the request the resumable path reads, byte for byte,
    /// over random requests, damaged and cut short.
    #[test]
    fn whole_requests_agree_with_the_resumable_path() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let limits = [Limits::default(), Limits { max_bulk_len: 5, unauthenticated: true }];
        let (mut whole, mut tried) = (0, 0);
        for _ in 0..100_000 {
            let argc = (next() % 5) as usize;
            let mut req = format!("*{argc}\r\n").into_bytes();
            for _ in 0..argc {
                let len = (next() % 12) as usize;
                req.extend_from_slice(format!("${len}\r\n").as_bytes());
                req.extend((0..len).map(|_| b"ab\r\n$*0"[(next() % 6) as usize]));
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            match next() % 4 {
                0 => {
                    let at = (next() as usize) % req.len();
                    req[at] = b"0123456789$*\r\n-\0x"[(next() % 17) as usize];
                }
                1 => req.truncate((next() as usize) % req.len()),
                _ => {}
            }
            if req.first() != Some(&b'*') {
                continue;
            }
            for limits in limits {
                tried += 1;
                let mut p = Parser::new();
                let quick = p.whole_request(&req, limits).map(|consumed| (p.spans.clone(), consumed));
                let mut q = Parser::new();
                q.state = State::Multibulk { remaining: 0, pos: 0, bulk: None };
                let general = match q.multibulk_count(&req, limits) {
                    Ok(Step::Request { args, consumed }) => Some((args.spans.to_vec(), consumed)),
                    _ => None,
                };
                if let Some(quick) = quick {
                    whole += 1;
                    assert_eq!(Some(quick), general, "{:?}", String::from_utf8_lossy(&req));
                }
            }
        }
        assert!(whole > tried / 3, "only {whole} of {tried} requests were read whole");
    }

    /// Reading ahead sees the requests the parser will then return, in order, and stops at
    /// the first one it cannot read whole (an inline command, a damaged or unfinished one).
    #[test]
    fn reading_ahead_sees_what_the_parser_then_returns() {
        let mut next = xorshift(0x51_7cc1_b727_220a);
        let limits = Limits::default();
        let mut stopped_early = 0;
        for _ in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..(next() % 20) {
                match next() % 8 {
                    0 => input.extend_from_slice(b"PING\r\n"),
                    1 => input.extend_from_slice(b"*1\r\n$04\r\nPING\r\n"),
                    _ => {
                        let argc = 1 + next() % 4;
                        input.extend_from_slice(format!("*{argc}\r\n").as_bytes());
                        for _ in 0..argc {
                            let len = (next() % 6) as usize;
                            input.extend_from_slice(format!("${len}\r\n").as_bytes());
                            input.extend((0..len).map(|_| b"ab\r\n"[(next() % 4) as usize]));
                            input.extend_from_slice(b"\r\n");
                        }
                    }
                }
            }
            if next().is_multiple_of(3) && !input.is_empty() {
                input.truncate((next() as usize) % input.len());
            }
            let max = 1 + (next() % 16) as usize;
            let mut peeked: Vec<(Vec<Vec<u8>>, usize)> = Vec::new();
            let mut spans = vec![(7, 9)];
            peek_requests(&input, limits, max, &mut spans, |args, consumed| {
                peeked.push((args.iter().map(<[u8]>::to_vec).collect(), consumed))
            });
            assert!(peeked.len() <= max);
            // The spans kept are those of the requests read ahead, one after another.
            assert_eq!(spans.len(), peeked.iter().map(|(args, _)| args.len()).sum::<usize>());
            let mut parsed: Vec<(Vec<Vec<u8>>, usize)> = Vec::new();
            let mut p = Parser::new();
            let mut at = 0;
            while let Ok(step) = p.next(&input[at..], limits) {
                match step {
                    Step::Request { args, consumed } => {
                        parsed.push((args.iter().map(<[u8]>::to_vec).collect(), consumed));
                        at += consumed;
                    }
                    Step::Skip { consumed } => at += consumed,
                    Step::Incomplete { .. } => break,
                }
            }
            assert!(parsed.starts_with(&peeked), "{:?}", String::from_utf8_lossy(&input));
            if peeked.len() < max.min(parsed.len()) {
                stopped_early += 1;
            }
        }
        assert!(stopped_early > 100, "inline and odd requests should stop the reading ahead");
    }
}
