//! MONITOR: clients that receive a line for every command the server runs, in Redis' format
//! (`+<unix seconds>.<micros> [<db> <client address>] "arg" "arg"…`).
//!
//! Commands pay one relaxed load when nobody monitors.

use crate::client::ClientInfo;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tumbler_proto::Args;

/// The monitoring clients.
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    clients: Mutex<Vec<Arc<ClientInfo>>>,
}

/// Where a monitored command came from.
pub enum Source<'a> {
    /// A client connection.
    Client(&'a ClientInfo),
    /// A script (`lua` in the line).
    Script,
}

impl Monitors {
    /// True while some client monitors.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) != 0
    }

    /// Starts sending lines to `c`; false if it already monitors.
    pub fn add(&self, c: &Arc<ClientInfo>) -> bool {
        let mut v = self.clients.lock();
        if v.iter().any(|m| m.id == c.id) {
            return false;
        }
        v.push(c.clone());
        self.count.store(v.len(), Relaxed);
        true
    }

    /// Stops sending lines to the client `id` (RESET, disconnection).
    pub fn remove(&self, id: u64) {
        let mut v = self.clients.lock();
        v.retain(|m| m.id != id);
        self.count.store(v.len(), Relaxed);
    }

    /// Sends the line for a command that ran in database `db` at `wall_us` to every monitor.
    pub fn feed(&self, wall_us: i64, db: usize, from: Source<'_>, args: Args<'_>) {
        let mut line = Vec::with_capacity(64 + args.iter().map(|a| a.len() + 3).sum::<usize>());
        line.push(b'+');
        let (secs, micros) = (wall_us.div_euclid(1_000_000), wall_us.rem_euclid(1_000_000));
        line.extend_from_slice(format!("{secs}.{micros:06} [{db} ").as_bytes());
        match from {
            Source::Client(c) => line.extend_from_slice(c.addr.as_bytes()),
            Source::Script => line.extend_from_slice(b"lua"),
        }
        line.extend_from_slice(b"] ");
        let redact = redacted_args(args);
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            if redact(i) {
                line.extend_from_slice(b"\"(redacted)\"");
            } else {
                repr(&mut line, a);
            }
        }
        line.extend_from_slice(b"\r\n");
        for m in self.clients.lock().iter() {
            m.deliver(&line);
        }
    }
}

/// Which arguments MONITOR and SLOWLOG hide: the secrets of AUTH and HELLO … AUTH, once the
/// command has accepted its arguments (a malformed AUTH is shown as sent, as in Redis).
pub fn redacted_args(args: Args<'_>) -> impl Fn(usize) -> bool {
    let name = args.get(0);
    let n = args.len();
    let (from, to) = if name.eq_ignore_ascii_case(b"auth") && (n == 2 || n == 3) {
        (1, n)
    } else if name.eq_ignore_ascii_case(b"hello") {
        match (2..n).find(|&i| args.get(i).eq_ignore_ascii_case(b"auth")) {
            Some(i) if i + 2 < n => (i + 1, i + 3),
            _ => (0, 0),
        }
    } else {
        (0, 0)
    };
    move |i| i >= from && i < to
}

/// Appends `s` quoted as Redis' `sdscatrepr` does: printable ASCII as is, `\\` `\"` `\n` `\r`
/// `\t` `\a` `\b` escaped, other bytes as `\xhh`.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"a\"b\\c\r\n\t\x07\x08\x00\xc3\xa9 'q'");
        assert_eq!(out, br#""a\"b\\c\r\n\t\a\b\x00\xc3\xa9 'q'""#.to_vec());
    }

    fn args_of(v: &[&[u8]]) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for a in v {
            let s = data.len();
            data.extend_from_slice(a);
            spans.push((s, data.len()));
        }
        (data, spans)
    }

    #[test]
    fn auth_and_hello_secrets_are_redacted() {
        let hidden = |v: &[&[u8]]| {
            let (d, s) = args_of(v);
            let f = redacted_args(Args::new(&d, &s));
            (0..v.len()).filter(|&i| f(i)).collect::<Vec<_>>()
        };
        assert_eq!(hidden(&[b"AUTH", b"pw"]), vec![1]);
        assert_eq!(hidden(&[b"auth", b"user", b"pw"]), vec![1, 2]);
        assert_eq!(hidden(&[b"AUTH", b"a", b"b", b"c"]), Vec::<usize>::new());
        assert_eq!(hidden(&[b"HELLO", b"2", b"AUTH", b"u", b"p", b"SETNAME", b"n"]), vec![3, 4]);
        assert_eq!(hidden(&[b"HELLO", b"3"]), Vec::<usize>::new());
    }
}
