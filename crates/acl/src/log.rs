//! ACL LOG: the recent denials and failed authentications, newest first, with Redis' grouping
//! of repeated events.
//!
//! Redis 7.0.15's entries have exactly seven fields (`count`, `reason`, `context`, `object`,
//! `username`, `age-seconds`, `client-info`); `entry-id` and the timestamps arrived in 7.2.
//! Verified with `ACL LOG` on redis-server 7.0.15.

use std::collections::VecDeque;

/// Redis' default `acllog-max-len`.
pub const DEFAULT_MAX_LEN: usize = 128;

/// Events closer than this (ms) with the same reason, context, object and user are one entry.
const GROUPING_MAX_DELTA_MS: i64 = 60_000;

/// How many of the newest entries are searched for a match before adding a new one.
const GROUPING_SCAN: usize = 10;

/// Why the event was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogReason {
    /// The command was denied.
    Command,
    /// A key was denied.
    Key,
    /// A channel was denied.
    Channel,
    /// AUTH / HELLO AUTH failed.
    Auth,
}

impl LogReason {
    /// The `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

/// Where the denied command ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogContext {
    /// Sent by the client.
    Toplevel,
    /// Queued in MULTI (logged when EXEC runs the checks).
    Multi,
    /// Called from a script.
    Lua,
    /// Called by a module (never, in tumbler).
    Module,
}

impl LogContext {
    /// The `context` field.
    pub fn as_str(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
            LogContext::Module => "module",
        }
    }
}

/// One ACL LOG entry.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// How many times this happened (grouped).
    pub count: u64,
    /// The reason.
    pub reason: LogReason,
    /// The context.
    pub context: LogContext,
    /// The command's full name (command denial), the key or channel (key/channel denial), or
    /// `argv[0]` as sent (`AUTH`, `hello`…) for a failed authentication.
    pub object: Vec<u8>,
    /// The user the client was authenticated as; for a failed authentication, the user name
    /// that was tried.
    pub username: Vec<u8>,
    /// Wall-clock ms of the latest occurrence.
    pub ctime_ms: i64,
    /// CLIENT LIST line of the latest client (for a script, the client that ran it).
    pub client_info: Vec<u8>,
}

impl LogEntry {
    /// `age-seconds` at `now_ms` (a double reply: Redis replies e.g. `0.198` in RESP3 and
    /// `0.19800000000000001` in RESP2, its `%.17g`).
    pub fn age_seconds(&self, now_ms: i64) -> f64 {
        (now_ms - self.ctime_ms) as f64 / 1000.0
    }
}

/// The log. Not internally locked: the server keeps it behind its own mutex.
#[derive(Debug)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
    max_len: usize,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog::new(DEFAULT_MAX_LEN)
    }
}

impl AclLog {
    /// An empty log holding up to `max_len` entries (`acllog-max-len`).
    pub fn new(max_len: usize) -> AclLog {
        AclLog { entries: VecDeque::new(), max_len }
    }

    /// Changes `acllog-max-len`. As in Redis, a shorter limit trims on the next addition.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// The limit.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// ACL LOG RESET.
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Records an event at `now_ms`. If one of the 10 newest entries has the same reason,
    /// context, object and user and is within 60 s, it is bumped (count + 1, new time and client
    /// info) and moved to the front; otherwise a new entry goes to the front and the oldest
    /// beyond `acllog-max-len` are dropped.
    pub fn add(
        &mut self,
        reason: LogReason,
        context: LogContext,
        object: &[u8],
        username: &[u8],
        client_info: Vec<u8>,
        now_ms: i64,
    ) {
        let found = self.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == reason
                && e.context == context
                && (e.ctime_ms - now_ms).abs() <= GROUPING_MAX_DELTA_MS
                && e.object == object
                && e.username == username
        });
        if let Some(i) = found {
            if let Some(mut e) = self.entries.remove(i) {
                e.count += 1;
                e.ctime_ms = now_ms;
                e.client_info = client_info;
                self.entries.push_front(e);
            }
            return;
        }
        self.entries.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            ctime_ms: now_ms,
            client_info,
        });
        self.entries.truncate(self.max_len);
    }

    /// The newest `count` entries (`ACL LOG [count]`; Redis' default is 10, a negative count
    /// is 0).
    pub fn entries(&self, count: usize) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter().take(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(log: &mut AclLog, reason: LogReason, obj: &str, now: i64) {
        log.add(reason, LogContext::Toplevel, obj.as_bytes(), b"e", b"id=9".to_vec(), now);
    }

    /// Mirrors the session run against redis-server 7.0.15 as user `e`: GET z, DEL q, GET z,
    /// PUBLISH zz, SUBSCRIBE zz, PSUBSCRIBE ch*, PSUBSCRIBE ch, MULTI, GET z, EXEC, AUTH e2 x.
    /// ACL LOG then listed: auth(e2), exec, key z ×3, multi, psubscribe ×2, subscribe,
    /// publish, del.
    #[test]
    fn groups_like_redis() {
        let mut log = AclLog::default();
        let mut t = 1000;
        for (r, o) in [
            (LogReason::Key, "z"),
            (LogReason::Command, "del"),
            (LogReason::Key, "z"),
            (LogReason::Command, "publish"),
            (LogReason::Command, "subscribe"),
            (LogReason::Command, "psubscribe"),
            (LogReason::Command, "psubscribe"),
            (LogReason::Command, "multi"),
            (LogReason::Key, "z"),
            (LogReason::Command, "exec"),
        ] {
            add(&mut log, r, o, t);
            t += 1;
        }
        log.add(LogReason::Auth, LogContext::Toplevel, b"auth", b"e2", Vec::new(), t);
        let got: Vec<(u64, &str, &[u8])> =
            log.entries(10).map(|e| (e.count, e.reason.as_str(), e.object.as_slice())).collect();
        assert_eq!(
            got,
            [
                (1, "auth", b"auth".as_slice()),
                (1, "command", b"exec"),
                (3, "key", b"z"),
                (1, "command", b"multi"),
                (2, "command", b"psubscribe"),
                (1, "command", b"subscribe"),
                (1, "command", b"publish"),
                (1, "command", b"del"),
            ]
        );
        assert_eq!(log.entries(1).next().map(|e| e.age_seconds(t + 198)), Some(0.198));
    }

    #[test]
    fn window_scan_and_trim() {
        let mut log = AclLog::new(3);
        add(&mut log, LogReason::Key, "a", 0);
        add(&mut log, LogReason::Key, "a", 60_000);
        assert_eq!(log.len(), 1);
        add(&mut log, LogReason::Key, "a", 120_001);
        assert_eq!(log.len(), 2, "older than 60 s: a new entry");
        for i in 0..5 {
            add(&mut log, LogReason::Key, &format!("k{i}"), 120_002);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.entries(10).next().map(|e| e.object.clone()), Some(b"k4".to_vec()));

        // Only the 10 newest entries are searched for a match.
        let mut log = AclLog::default();
        add(&mut log, LogReason::Key, "old", 0);
        for i in 0..10 {
            add(&mut log, LogReason::Key, &format!("k{i}"), 0);
        }
        add(&mut log, LogReason::Key, "old", 0);
        assert_eq!(log.len(), 12);
        log.reset();
        assert!(log.is_empty());
    }
}
