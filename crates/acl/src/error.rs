//! Error texts, worded as Redis 7.0.15 words them (checked against a live redis-server 7.0.15:
//! see the tests of each module).

use std::fmt;

/// Why one ACL rule (one SETUSER modifier) was refused. Each maps to the `errno` Redis sets
/// and to its message ([`RuleError::message`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// `+nosuch`, `-@nosuch`, `-select|0` (Redis' ENOENT).
    UnknownCommand,
    /// Anything not understood (EINVAL).
    Syntax,
    /// A key pattern after `allkeys`/`~*` (EEXIST).
    KeyPatternAfterAll,
    /// A channel pattern after `allchannels`/`&*` (EISDIR).
    ChannelPatternAfterAll,
    /// `<pass` or `!hash` for a password the user does not have (ENODEV).
    NoSuchPassword,
    /// `#hash` or `!hash` that is not 64 lower-case hex digits (EBADMSG).
    BadHash,
    /// The same user twice among the config-file `user` directives (EALREADY).
    DuplicateUser,
    /// `+config|get|x`: first-arg rules on a subcommand (ECHILD).
    FirstArgOfSubcommand,
}

impl RuleError {
    /// Redis' text for this error (`ACLSetUserStringError`).
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyPatternAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any \
                 effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelPatternAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have \
                 any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::DuplicateUser => "Duplicate user found. A user can only be defined once in config files",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RuleError {}

/// `AUTH <password>` while the default user has `nopass`.
pub const AUTH_WITHOUT_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the \
                                          default user. Are you sure your configuration is correct?";

/// ACL SETUSER with a user name containing whitespace or NUL.
pub const USERNAME_SPACES: &str = "ERR Usernames can't contain spaces or null characters";

/// ACL DELUSER default.
pub const DELETE_DEFAULT: &str = "ERR The 'default' user cannot be removed";

/// ACL LOAD / ACL SAVE without an `aclfile`.
pub const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to \
                               specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
                               (assuming you have a Redis configuration file set) in order to store users in the \
                               Redis configuration.";

/// ACL SAVE failed (the cause goes to the log).
pub const SAVE_FAILED: &str =
    "ERR There was an error trying to save the ACLs. Please check the server logs for more information";

/// ACL GENPASS with bits out of range.
pub const GENPASS_RANGE: &str = "ERR ACL GENPASS argument must be the number of bits for the output password, a \
                                 positive number up to 4096";

/// Both `user` directives in the config file and an `aclfile` (Redis refuses to start).
pub const CONFIG_AND_ACLFILE: &str = "Configuring Redis with users defined in redis.conf and at the same setting \
                                      an ACL file path is invalid. This setup is very likely to lead to \
                                      configuration errors and security holes, please define either an ACL file \
                                      or declare users directly in your redis.conf, but not both.";

/// `ERR Unknown category '<name>'` (ACL CAT; the name is cut to 128 bytes as Redis' `%.128s`).
pub fn unknown_category(name: &[u8]) -> Vec<u8> {
    let mut v = b"ERR Unknown category '".to_vec();
    v.extend_from_slice(&name[..name.len().min(128)]);
    v.push(b'\'');
    v
}

/// `ERR User '<name>' not found` (ACL DRYRUN).
pub fn dryrun_no_user(name: &[u8]) -> Vec<u8> {
    let mut v = b"ERR User '".to_vec();
    v.extend_from_slice(name);
    v.extend_from_slice(b"' not found");
    v
}

/// `ERR Command '<name>' not found` (ACL DRYRUN; `name` is the first command argument as sent,
/// also for an unknown subcommand of a container).
pub fn dryrun_no_command(name: &[u8]) -> Vec<u8> {
    let mut v = b"ERR Command '".to_vec();
    v.extend_from_slice(name);
    v.extend_from_slice(b"' not found");
    v
}

/// `ERR Unmatched parenthesis in acl selector starting at '<arg>'.` (ACL SETUSER).
pub fn unmatched_parenthesis(arg: &[u8]) -> Vec<u8> {
    let mut v = b"ERR Unmatched parenthesis in acl selector starting at '".to_vec();
    v.extend_from_slice(arg);
    v.extend_from_slice(b"'.");
    v
}

/// `ERR Error in ACL SETUSER modifier '<op>': <message>`.
pub fn setuser_modifier(op: &[u8], err: RuleError) -> Vec<u8> {
    let mut v = b"ERR Error in ACL SETUSER modifier '".to_vec();
    v.extend_from_slice(op);
    v.extend_from_slice(b"': ");
    v.extend_from_slice(err.message().as_bytes());
    v
}

/// True for the bytes Redis refuses in user names and patterns (`isspace` in the C locale, NUL).
pub(crate) fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0))
}
