//! The user table and the ACL subcommands that act on it: SETUSER (atomic), DELUSER,
//! GETUSER, LIST, USERS, CAT, authentication, `requirepass`, the ACL file (LOAD/SAVE) and the
//! config-file `user` directives.

use crate::catalog::Catalog;
use crate::error::{self, has_spaces, RuleError};
use crate::user::{User, UserInfo};
use crate::Cat;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The users. Users are published as `Arc<User>` snapshots: a change replaces the `Arc`, so a
/// reader never sees a half-applied SETUSER.
#[derive(Clone, Debug)]
pub struct Acl {
    catalog: Arc<Catalog>,
    /// Ordered by name bytes, as Redis' radix tree lists them (ACL LIST, USERS, SAVE).
    users: BTreeMap<Vec<u8>, Arc<User>>,
    /// `acl-pubsub-default allchannels`: new selectors and `reset` allow all channels.
    pubsub_all: bool,
}

/// Why ACL SETUSER failed; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetUserError {
    /// The user name has whitespace or NUL.
    UsernameSpaces,
    /// A selector `(` was never closed; holds the argument that opened it.
    UnmatchedParenthesis(Vec<u8>),
    /// A modifier was refused; holds the modifier (merged, for a selector) and why.
    Modifier(Vec<u8>, RuleError),
}

impl SetUserError {
    /// The error reply (without the leading `-`), e.g. `ERR Error in ACL SETUSER modifier
    /// 'foo': Syntax error`.
    pub fn reply(&self) -> Vec<u8> {
        match self {
            SetUserError::UsernameSpaces => error::USERNAME_SPACES.as_bytes().to_vec(),
            SetUserError::UnmatchedParenthesis(arg) => error::unmatched_parenthesis(arg),
            SetUserError::Modifier(op, e) => error::setuser_modifier(op, *e),
        }
    }
}

/// What a successful ACL SETUSER did.
#[derive(Clone, Debug)]
pub struct SetUserOutcome {
    /// The user before (`None`: created).
    pub old: Option<Arc<User>>,
    /// The user now.
    pub new: Arc<User>,
}

impl SetUserOutcome {
    /// Whether pub/sub clients of this user must be re-checked (see
    /// [`User::channels_revoked`]).
    pub fn channels_revoked(&self) -> bool {
        self.old.as_ref().is_some_and(|old| User::channels_revoked(old, &self.new))
    }
}

/// Why authentication failed. All of them reply the same `WRONGPASS` text
/// ([`AuthFailure::REPLY`]) and log an `auth` entry, so a client cannot tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No such user.
    NoSuchUser,
    /// The user is `off`.
    Disabled,
    /// The password does not match.
    WrongPassword,
}

impl AuthFailure {
    /// The error reply, the same for every failure.
    pub const REPLY: &'static str = "WRONGPASS invalid username-password pair or user is disabled.";
}

/// A failed ACL LOAD (or startup load of the `aclfile`): nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(pub String);

impl LoadError {
    /// The ACL LOAD error reply: `ERR ` and the text.
    pub fn reply(&self) -> String {
        format!("ERR {}", self.0)
    }
}

/// A successful ACL LOAD.
#[derive(Clone, Debug)]
pub struct LoadOutcome {
    /// Every user that existed before except `default` (whose new rules apply in place): Redis
    /// 7.0 disconnects the clients authenticated as them, even when the file defines the same
    /// name again.
    pub dropped: Vec<Arc<User>>,
}

/// `user` directives read from the config file, validated and waiting to be applied once the
/// catalog is complete (Redis' `UsersToLoad`).
#[derive(Clone, Debug, Default)]
pub struct ConfigUsers {
    pending: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl ConfigUsers {
    /// True when the config file declared no user.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Validates one directive (`argv` = `user`, name, rules…, as the config parser split it)
    /// and queues it. Unknown commands are only reported by [`Acl::apply_config_users`]. The
    /// error is Redis' config-error line, `Error in user declaration '<arg>': <why>`, where
    /// `<arg>` is picked as Redis 7.0.15 picks it (the directive argument at the index of the
    /// failing rule, which is usually the user name).
    pub fn add<A: AsRef<[u8]>>(&mut self, argv: &[A], acl: &Acl) -> Result<(), String> {
        let cat = &acl.catalog;
        let fail = |idx: usize, e: RuleError| {
            let arg = argv.get(idx).map(|a| String::from_utf8_lossy(a.as_ref()).into_owned()).unwrap_or_default();
            format!("Error in user declaration '{arg}': {e}")
        };
        if argv.len() < 2 || !argv[0].as_ref().eq_ignore_ascii_case(b"user") {
            return Err(fail(0, RuleError::Syntax));
        }
        let name = argv[1].as_ref();
        if self.pending.iter().any(|(n, _)| n == name) {
            return Err(fail(1, RuleError::DuplicateUser));
        }
        let rules = merge_selector_args(&argv[2..]).map_err(|i| fail(i, RuleError::Syntax))?;
        let mut probe = User::new(name, cat, acl.pubsub_all);
        for (j, rule) in rules.iter().enumerate() {
            match probe.apply(rule, cat, acl.pubsub_all) {
                Ok(()) | Err(RuleError::UnknownCommand) => {}
                Err(e) => return Err(fail(j, e)),
            }
        }
        self.pending.push((name.to_vec(), rules));
        Ok(())
    }
}

/// Redis' `ACLMergeSelectorArguments`: joins a selector spread over several arguments
/// (`(~a` `+get)` → `(~a +get)`). `Err(i)`: argument `i` opened a selector never closed.
pub fn merge_selector_args<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, arg) in args.iter().enumerate() {
        let arg = arg.as_ref();
        if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
            open = Some((j, arg.to_vec()));
            continue;
        }
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(arg);
            if arg.last() == Some(&b')') {
                if let Some((_, sel)) = open.take() {
                    out.push(sel);
                }
            }
            continue;
        }
        out.push(arg.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}

/// Redis' `strerror` text from an I/O error (Rust appends " (os error N)").
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl Acl {
    /// A fresh table with only the `default` user (`on nopass ~* &* +@all`).
    pub fn new(catalog: Arc<Catalog>) -> Acl {
        let default = User::new_default(&catalog);
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), Arc::new(default));
        Acl { catalog, users, pubsub_all: false }
    }

    /// `acl-pubsub-default`: `true` for `allchannels`, `false` for `resetchannels` (the
    /// default). Applies to users and selectors created afterwards, and to `reset`.
    pub fn set_pubsub_default(&mut self, allchannels: bool) {
        self.pubsub_all = allchannels;
    }

    /// The `acl-pubsub-default` setting (`true`: `allchannels`).
    pub fn pubsub_default(&self) -> bool {
        self.pubsub_all
    }

    /// The catalog the permissions refer to.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// A user by name (names are case-sensitive).
    pub fn user(&self, name: &[u8]) -> Option<&Arc<User>> {
        self.users.get(name)
    }

    /// The `default` user (always present).
    pub fn default_user(&self) -> &Arc<User> {
        // The default user is never removed: DELUSER refuses and LOAD recreates it.
        self.users.get(b"default".as_slice()).expect("the default user always exists")
    }

    /// All users, ordered by name.
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// ACL USERS: the names, ordered.
    pub fn usernames(&self) -> impl Iterator<Item = &[u8]> {
        self.users.keys().map(Vec::as_slice)
    }

    /// ACL LIST: one `user <name> <rules>` line per user, ordered by name.
    pub fn list(&self) -> Vec<Vec<u8>> {
        self.users.values().map(|u| u.list_line(&self.catalog)).collect()
    }

    /// ACL GETUSER (`None`: the reply is a null).
    pub fn getuser(&self, name: &[u8]) -> Option<UserInfo> {
        self.users.get(name).map(|u| u.info(&self.catalog))
    }

    /// ACL SETUSER: applies `rules` (the arguments after the name) to a copy of the user (or a
    /// new one) and publishes it only if every rule applied.
    pub fn setuser<A: AsRef<[u8]>>(&mut self, name: &[u8], rules: &[A]) -> Result<SetUserOutcome, SetUserError> {
        if has_spaces(name) {
            return Err(SetUserError::UsernameSpaces);
        }
        let rules =
            merge_selector_args(rules).map_err(|i| SetUserError::UnmatchedParenthesis(rules[i].as_ref().to_vec()))?;
        let old = self.users.get(name).cloned();
        let mut user = match &old {
            Some(u) => User::clone(u),
            None => User::new(name, &self.catalog, self.pubsub_all),
        };
        for rule in &rules {
            user.apply(rule, &self.catalog, self.pubsub_all).map_err(|e| SetUserError::Modifier(rule.clone(), e))?;
        }
        let new = Arc::new(user);
        self.users.insert(name.to_vec(), Arc::clone(&new));
        Ok(SetUserOutcome { old, new })
    }

    /// ACL DELUSER: removes the named users and returns those that existed (the reply is their
    /// count; their clients must be disconnected). Refuses `default` before removing anything
    /// ([`error::DELETE_DEFAULT`]).
    pub fn deluser<A: AsRef<[u8]>>(&mut self, names: &[A]) -> Result<Vec<Arc<User>>, &'static str> {
        if names.iter().any(|n| n.as_ref() == b"default") {
            return Err(error::DELETE_DEFAULT);
        }
        Ok(names.iter().filter_map(|n| self.users.remove(n.as_ref())).collect())
    }

    /// AUTH / HELLO AUTH: the user when it is on and the password matches (any password for a
    /// `nopass` user). The password is hashed whatever the outcome.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Result<Arc<User>, AuthFailure> {
        let Some(user) = self.users.get(name) else {
            let _ = crate::PasswordHash::of(password);
            return Err(AuthFailure::NoSuchUser);
        };
        if user.check_password(password) {
            Ok(Arc::clone(user))
        } else if !user.is_enabled() {
            Err(AuthFailure::Disabled)
        } else {
            Err(AuthFailure::WrongPassword)
        }
    }

    /// `requirepass`: `resetpass` then `>password` on the default user, or `nopass` for an
    /// empty password.
    pub fn set_requirepass(&mut self, password: &[u8]) {
        let mut op = b">".to_vec();
        op.extend_from_slice(password);
        let second: &[u8] = if password.is_empty() { b"nopass" } else { &op };
        let mut user = User::clone(self.default_user());
        for rule in [b"resetpass".as_slice(), second] {
            // Neither rule can fail.
            let _ = user.apply(rule, &self.catalog, self.pubsub_all);
        }
        self.users.insert(b"default".to_vec(), Arc::new(user));
    }

    /// ACL CAT: every category name, or the commands and subcommands of one category
    /// (`Err`: the `ERR Unknown category '…'` reply).
    pub fn cat(&self, category: Option<&[u8]>) -> Result<Vec<&str>, Vec<u8>> {
        match category {
            None => Ok(Cat::names().collect()),
            Some(name) => {
                let bit = Cat::by_name(name).ok_or_else(|| error::unknown_category(name))?;
                Ok(self.catalog.commands_in(bit).collect())
            }
        }
    }

    /// The ACL file text (ACL SAVE): one `user …` line per user, ordered by name.
    pub fn save_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for u in self.users.values() {
            out.extend_from_slice(&u.list_line(&self.catalog));
            out.push(b'\n');
        }
        out
    }

    /// ACL SAVE to `path`: writes `<path>.tmp-<pid>-<ms>` and renames it over the file.
    pub fn save_file(&self, path: &Path) -> std::io::Result<()> {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}-{}", std::process::id(), ms));
        let tmp = std::path::PathBuf::from(tmp);
        let result = std::fs::write(&tmp, self.save_text()).and_then(|()| std::fs::rename(&tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// ACL LOAD from `path` (`filename` is how the error texts name it: the `aclfile` setting).
    pub fn load_file(&mut self, path: &Path, filename: &str) -> Result<LoadOutcome, LoadError> {
        match std::fs::read(path) {
            Ok(text) => self.load_text(filename, &text),
            Err(e) => Err(LoadError(format!("Error loading ACLs, opening file '{filename}': {}", strerror(&e)))),
        }
    }

    /// ACL LOAD from the file's contents. Every line must be empty or `user <name> <rules…>`
    /// (split on single spaces; no comments). All lines are checked and all problems reported
    /// in one message, Redis 7.0.15's wording; if there is any, nothing changes. A file without
    /// a `default` user gets a fresh one.
    pub fn load_text(&mut self, filename: &str, text: &[u8]) -> Result<LoadOutcome, LoadError> {
        // Redis reads the file as a C string.
        let text = &text[..text.iter().position(|&c| c == 0).unwrap_or(text.len())];
        let cat = Arc::clone(&self.catalog);
        let mut errors = String::new();
        let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
        for (i, line) in text.split(|&c| c == b'\n').enumerate() {
            let n = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
            if argv[0] != b"user" || argv.len() < 2 {
                errors += &format!("{filename}:{n} should start with user keyword followed by the username. ");
                continue;
            }
            let name = argv[1];
            let lossy = String::from_utf8_lossy(name);
            if has_spaces(name) {
                errors += &format!("'{filename}:{n}: username '{lossy}' contains invalid characters. ");
                continue;
            }
            if users.contains_key(name) {
                errors += &format!("WARNING: Duplicate user '{lossy}' found on line {n}. ");
                continue;
            }
            let mut user = User::new(name, &cat, self.pubsub_all);
            let Ok(rules) = merge_selector_args(&argv[2..]) else {
                // Redis 7.0.15 crashes on this line; report it instead.
                errors += &format!("{filename}:{n}: Unmatched parenthesis in selector definition.");
                users.insert(name.to_vec(), user);
                continue;
            };
            let mut reported = false;
            for rule in &rules {
                let rule = trim(rule, b"\t\r\n");
                match user.apply(rule, &cat, self.pubsub_all) {
                    Ok(()) => {}
                    Err(RuleError::UnknownCommand) => {
                        errors += &format!(
                            "{filename}:{n}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(rule),
                            RuleError::UnknownCommand
                        );
                    }
                    // Only the first other error of a line: it may explain the ones after.
                    Err(e) if !reported => {
                        errors += &format!("{filename}:{n}: {e}. ");
                        reported = true;
                    }
                    Err(_) => {}
                }
            }
            users.insert(name.to_vec(), user);
        }
        if !errors.is_empty() {
            errors += "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
            return Err(LoadError(errors));
        }
        let mut default = users.remove(b"default".as_slice()).unwrap_or_else(|| User::new_default(&cat));
        default.set_incarnation(self.default_user().incarnation());
        users.insert(b"default".to_vec(), default);
        let new: BTreeMap<Vec<u8>, Arc<User>> = users.into_iter().map(|(k, u)| (k, Arc::new(u))).collect();
        let old = std::mem::replace(&mut self.users, new);
        let dropped = old.into_iter().filter(|(k, _)| k != b"default").map(|(_, u)| u).collect();
        Ok(LoadOutcome { dropped })
    }

    /// Applies the config file's `user` directives at startup (Redis'
    /// `ACLLoadConfiguredUsers`): a `user default …` line resets the default user first. On
    /// success returns the warnings Redis logs for users left `off`.
    pub fn apply_config_users(&mut self, pending: &ConfigUsers) -> Result<Vec<String>, String> {
        let cat = Arc::clone(&self.catalog);
        let mut staged = self.clone();
        let mut warnings = Vec::new();
        for (name, rules) in &pending.pending {
            if has_spaces(name) {
                return Err("Spaces not allowed in ACL usernames".into());
            }
            let lossy = String::from_utf8_lossy(name);
            let mut user = match staged.users.get(name.as_slice()) {
                Some(existing) => {
                    let mut u = User::clone(existing);
                    let _ = u.apply(b"reset", &cat, self.pubsub_all);
                    u
                }
                None => User::new(name, &cat, self.pubsub_all),
            };
            for rule in rules {
                user.apply(rule, &cat, self.pubsub_all).map_err(|e| {
                    format!(
                        "Error loading ACL rule '{}' for the user named '{lossy}': {e}",
                        String::from_utf8_lossy(rule)
                    )
                })?;
            }
            if !user.is_enabled() {
                warnings.push(format!(
                    "The user '{lossy}' is disabled (there is no 'on' modifier in the user description). Make sure \
                     this is not a configuration error."
                ));
            }
            staged.users.insert(name.clone(), Arc::new(user));
        }
        *self = staged;
        Ok(warnings)
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = s {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}
