//! A user: on/off, passwords, payload-sanitizing flag, and its selectors (root first).
//!
//! A `User` is an immutable snapshot once published by [`Acl`](crate::Acl): connections hold
//! an `Arc<User>` and re-fetch it when the ACL generation changes.

use crate::catalog::Catalog;
use crate::check::{Denial, Request};
use crate::error::RuleError;
use crate::password::PasswordHash;
use crate::selector::Selector;
use crate::split::split_args;
use std::sync::atomic::{AtomicU64, Ordering};

/// Source of [`User::incarnation`] numbers.
static INCARNATIONS: AtomicU64 = AtomicU64::new(1);

/// The `sanitize-payload` / `skip-sanitize-payload` flag (RESTORE payload checking). A new user
/// has neither; `reset` sets `sanitize-payload`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SanitizePayload {
    /// Neither flag: follow the server's `sanitize-dump-payload`.
    Unset,
    /// `skip-sanitize-payload`.
    Skip,
    /// `sanitize-payload`.
    Sanitize,
}

/// One user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    name: Vec<u8>,
    /// Changes when a user of this name is created anew (after DELUSER or ACL LOAD), not when
    /// SETUSER modifies it: a connection authenticated as an earlier incarnation must go.
    incarnation: u64,
    enabled: bool,
    nopass: bool,
    sanitize: SanitizePayload,
    passwords: Vec<PasswordHash>,
    /// `selectors[0]` is the root selector; it always exists.
    selectors: Vec<Selector>,
}

/// One selector as ACL GETUSER shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorInfo {
    /// `commands`: `+@all -flushdb`, `-@all +get`.
    pub commands: Vec<u8>,
    /// `keys`: `~*`, or `~a %R~b %W~c`; empty when none.
    pub keys: Vec<u8>,
    /// `channels`: `&*`, or `&a &b`; empty when none.
    pub channels: Vec<u8>,
}

/// ACL GETUSER's answer, field by field in Redis' order: a map of `flags` (a set in RESP3),
/// `passwords` (array), `commands`, `keys`, `channels` (bulk strings, the root selector's), and
/// `selectors` (an array of maps with `commands`, `keys`, `channels`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// `on`/`off`, then `nopass`, `skip-sanitize-payload`, `sanitize-payload` when set.
    pub flags: Vec<&'static str>,
    /// SHA-256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    /// The root selector.
    pub root: SelectorInfo,
    /// The other selectors, in the order added.
    pub selectors: Vec<SelectorInfo>,
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no passwords, no permissions (all channels
    /// when `pubsub_all`, i.e. `acl-pubsub-default allchannels`).
    pub(crate) fn new(name: &[u8], cat: &Catalog, pubsub_all: bool) -> User {
        User {
            name: name.to_vec(),
            incarnation: INCARNATIONS.fetch_add(1, Ordering::Relaxed),
            enabled: false,
            nopass: false,
            sanitize: SanitizePayload::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new(cat, pubsub_all)],
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`.
    pub(crate) fn new_default(cat: &Catalog) -> User {
        let mut u = User::new(b"default", cat, false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules cannot fail.
            let _ = u.apply(op.as_bytes(), cat, false);
        }
        u
    }

    /// The user name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Identity of this user across SETUSER changes (see [`SessionUser`](crate::SessionUser)).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Takes over another user's identity (ACL LOAD copies the new default user's rules into
    /// the existing one).
    pub(crate) fn set_incarnation(&mut self, incarnation: u64) {
        self.incarnation = incarnation;
    }

    /// `on`: the user may authenticate.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `nopass`: any password authenticates.
    pub fn is_nopass(&self) -> bool {
        self.nopass
    }

    /// The payload-sanitizing flag.
    pub fn sanitize_payload(&self) -> SanitizePayload {
        self.sanitize
    }

    /// The password hashes, in the order added.
    pub fn passwords(&self) -> &[PasswordHash] {
        &self.passwords
    }

    /// Applies one SETUSER modifier (Redis' `ACLSetUser`). On error the user may be half
    /// changed: callers work on a copy (see [`Acl::setuser`](crate::Acl::setuser)).
    /// `pubsub_all` is `acl-pubsub-default allchannels` (new selectors and `reset`).
    pub(crate) fn apply(&mut self, op: &[u8], cat: &Catalog, pubsub_all: bool) -> Result<(), RuleError> {
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if op.is_empty() {
            // An empty rule is a no-op.
        } else if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = SanitizePayload::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = SanitizePayload::Sanitize;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                PasswordHash::of(&op[1..])
            } else {
                PasswordHash::from_hex(&op[1..]).ok_or(RuleError::BadHash)?
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                PasswordHash::of(&op[1..])
            } else {
                PasswordHash::from_hex(&op[1..]).ok_or(RuleError::BadHash)?
            };
            let at = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut sel = Selector::new(cat, pubsub_all);
            // Unbalanced quotes inside the parentheses give an empty selector, as in Redis.
            for rule in split_args(&op[1..op.len() - 1]).unwrap_or_default() {
                sel.apply(&rule, cat)?;
            }
            self.selectors.push(sel);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            let channels = if pubsub_all { "allchannels" } else { "resetchannels" };
            for rule in [
                "resetpass",
                "resetkeys",
                "resetchannels",
                channels,
                "off",
                "sanitize-payload",
                "clearselectors",
                "-@all",
            ] {
                self.apply(rule.as_bytes(), cat, pubsub_all)?;
            }
        } else {
            self.selectors[0].apply(op, cat)?;
        }
        Ok(())
    }

    /// Checks a password: true when the user is on and is `nopass` or has this password. Every
    /// stored hash is compared, in constant time.
    pub fn check_password(&self, password: &[u8]) -> bool {
        let hash = PasswordHash::of(password);
        let mut found = false;
        for p in &self.passwords {
            found |= p.ct_eq(&hash);
        }
        self.enabled && (self.nopass || found)
    }

    /// Checks a command (Redis' `ACLCheckAllUserCommandPerm`): allowed when any selector allows
    /// it; otherwise the most specific denial.
    pub fn check(&self, cat: &Catalog, req: &Request<'_>) -> Result<(), Denial> {
        let mut worst = Denial::Command;
        for s in &self.selectors {
            match s.check(cat, req) {
                Ok(()) => return Ok(()),
                Err(d) if d.rank() > worst.rank() => worst = d,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// True when some selector allows every command on every key and channel (the default
    /// user out of the box): the server can skip key extraction and [`User::check`].
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.selectors.iter().any(Selector::unrestricted)
    }

    /// True when some selector may access `key` with this access, whatever the command
    /// (Redis' `ACLUserCheckKeyPerm`, for keys found while a command runs).
    pub fn key_allowed(&self, key: &[u8], read: bool, write: bool) -> bool {
        self.selectors.iter().any(|s| s.key_allowed(key, read, write))
    }

    /// True when some selector allows the channel (`pattern`: a PSUBSCRIBE pattern, compared
    /// literally). Redis' `ACLUserCheckChannelPerm`, used to re-check existing subscriptions.
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.selectors.iter().any(|s| s.channel_allowed(channel, pattern))
    }

    /// Whether, after `old` became `new`, existing subscribers of the user must be re-checked
    /// with [`User::channel_allowed`] and disconnected if no longer allowed. Redis skips the
    /// walk when some selector of `new` allows all channels, or when every channel pattern of
    /// `old` is still present in `new`. Losing `allchannels` counts as a revocation
    /// (redis-server 7.0.15 disconnects a subscriber after `resetchannels &a`).
    pub fn channels_revoked(old: &User, new: &User) -> bool {
        if new.selectors.iter().any(|s| s.allchannels) {
            return false;
        }
        if old.selectors.iter().any(|s| s.allchannels) {
            return true;
        }
        let kept = |c: &Vec<u8>| new.selectors.iter().any(|s| s.channels.contains(c));
        !old.selectors.iter().all(|s| s.channels.iter().all(kept))
    }

    /// The flags, in ACL GETUSER / ACL LIST order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            SanitizePayload::Skip => f.push("skip-sanitize-payload"),
            SanitizePayload::Sanitize => f.push("sanitize-payload"),
            SanitizePayload::Unset => {}
        }
        f
    }

    /// The rules that rebuild this user (`on nopass ~* &* +@all`), as ACL LIST, ACL SAVE and
    /// CONFIG REWRITE write them after `user <name> `.
    pub fn describe(&self, cat: &Catalog) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        for f in self.flags() {
            out.extend_from_slice(f.as_bytes());
            out.push(b' ');
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_str().as_bytes());
            out.push(b' ');
        }
        self.selectors[0].describe(cat, &mut out);
        for s in &self.selectors[1..] {
            out.extend_from_slice(b" (");
            s.describe(cat, &mut out);
            out.push(b')');
        }
        out
    }

    /// One ACL LIST line / ACL file line: `user <name> <rules>`.
    pub fn list_line(&self, cat: &Catalog) -> Vec<u8> {
        let mut out = b"user ".to_vec();
        out.extend_from_slice(&self.name);
        out.push(b' ');
        out.extend_from_slice(&self.describe(cat));
        out
    }

    /// ACL GETUSER's fields.
    pub fn info(&self, cat: &Catalog) -> UserInfo {
        let sel = |s: &Selector| SelectorInfo {
            commands: s.describe_commands(cat),
            keys: s.keys_field(),
            channels: s.channels_field(),
        };
        UserInfo {
            flags: self.flags(),
            passwords: self.passwords.iter().map(|p| p.as_str().to_string()).collect(),
            root: sel(&self.selectors[0]),
            selectors: self.selectors[1..].iter().map(sel).collect(),
        }
    }
}
