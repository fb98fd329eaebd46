//! What the server asks ([`Request`]) and what it gets back when the answer is no
//! ([`Denial`]), with the texts Redis 7.0.15 builds from a denial.
//!
//! Texts verified against redis-server 7.0.15 (`AUTH` as a restricted user, then `GET`, `DEL`,
//! `PUBLISH`, `CONFIG GET`; `ACL DRYRUN` for the same), see the tests below.

use crate::catalog::CmdId;
use crate::log::LogReason;

/// One key argument of the command, with the access its key spec declares.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    /// Index of the key in argv (the command name is 0). Decides which denial is reported
    /// when several selectors fail, and lets the caller name the key in ACL LOG / DRYRUN.
    pub pos: usize,
    /// The key.
    pub name: &'a [u8],
    /// The key spec has `ACCESS` (the command reads the value): needs `%R`.
    pub read: bool,
    /// The key spec has `INSERT`, `DELETE` or `UPDATE`: needs `%W`. With neither flag any
    /// matching pattern allows the key, as in Redis.
    pub write: bool,
}

/// One channel argument (PUBLISH, SPUBLISH, [S|P]SUBSCRIBE; not the UNSUBSCRIBEs).
#[derive(Clone, Copy, Debug)]
pub struct ChannelRef<'a> {
    /// Index of the channel in argv.
    pub pos: usize,
    /// The channel name, or the pattern for PSUBSCRIBE.
    pub name: &'a [u8],
    /// True for a PSUBSCRIBE pattern: it must equal one of the user's channel patterns
    /// literally, rather than match it.
    pub pattern: bool,
}

/// A command about to run, as the ACL check sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The command or subcommand id.
    pub cmd: CmdId,
    /// `argv[1]`, when present: consulted only for first-arg rules (`+select|0`) on a command
    /// without subcommands.
    pub first_arg: Option<&'a [u8]>,
    /// Key arguments, in argv order (may be empty).
    pub keys: &'a [KeyRef<'a>],
    /// Channel arguments, in argv order (may be empty).
    pub channels: &'a [ChannelRef<'a>],
}

impl<'a> Request<'a> {
    /// A request naming no keys and no channels.
    pub fn command(cmd: CmdId) -> Self {
        Request { cmd, first_arg: None, keys: &[], channels: &[] }
    }
}

/// Why a command was refused. When several selectors refuse, Redis reports the most specific
/// reason (channel over key over command) and, between equals, the later argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// No selector allows the command itself.
    Command,
    /// The key at argv index `pos` is outside every allowing selector's patterns.
    Key {
        /// argv index of the key.
        pos: usize,
    },
    /// The channel at argv index `pos` is not allowed.
    Channel {
        /// argv index of the channel.
        pos: usize,
    },
}

impl Denial {
    /// Redis' ordering of denials (`ACL_DENIED_CMD` 1 < `KEY` 2 < `CHANNEL` 4), then position.
    pub(crate) fn rank(self) -> (u8, usize) {
        match self {
            Denial::Command => (1, 0),
            Denial::Key { pos } => (2, pos),
            Denial::Channel { pos } => (4, pos),
        }
    }

    /// argv index of the offending key or channel (`None` for a command denial).
    pub fn pos(self) -> Option<usize> {
        match self {
            Denial::Command => None,
            Denial::Key { pos } | Denial::Channel { pos } => Some(pos),
        }
    }

    /// The ACL LOG reason for this denial.
    pub fn log_reason(self) -> LogReason {
        match self {
            Denial::Command => LogReason::Command,
            Denial::Key { .. } => LogReason::Key,
            Denial::Channel { .. } => LogReason::Channel,
        }
    }

    /// The error reply (without the leading `-`): `NOPERM this user has no permissions to run
    /// the 'get' command`, `… to access one of the keys used as arguments`, `… one of the
    /// channels used as arguments`. `fullname` is the command's catalog name (`config|get`).
    pub fn noperm(self, fullname: &str) -> String {
        match self {
            Denial::Command => format!("NOPERM this user has no permissions to run the '{fullname}' command"),
            Denial::Key { .. } => {
                "NOPERM this user has no permissions to access one of the keys used as arguments".into()
            }
            Denial::Channel { .. } => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }

    /// ACL DRYRUN's bulk-string answer: `This user has no permissions to run the 'del' command`,
    /// `… to access the 'z' key`, `… to access the 'zz' channel`. `object` is the argument at
    /// [`Denial::pos`] (ignored for a command denial).
    pub fn dryrun_message(self, fullname: &str, object: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(64 + object.len());
        match self {
            Denial::Command => {
                v.extend_from_slice(format!("This user has no permissions to run the '{fullname}' command").as_bytes())
            }
            Denial::Key { .. } | Denial::Channel { .. } => {
                v.extend_from_slice(b"This user has no permissions to access the '");
                v.extend_from_slice(object);
                v.extend_from_slice(if matches!(self, Denial::Key { .. }) { b"' key" } else { b"' channel" });
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies captured from redis-server 7.0.15 (user `on nopass +get ~k* &ch*`, and
    /// `+@all -config|get`; then GET z, DEL q, CONFIG GET x, PUBLISH zz m, ACL DRYRUN …).
    #[test]
    fn texts_match_redis() {
        assert_eq!(Denial::Command.noperm("del"), "NOPERM this user has no permissions to run the 'del' command");
        assert_eq!(
            Denial::Command.noperm("config|get"),
            "NOPERM this user has no permissions to run the 'config|get' command"
        );
        assert_eq!(
            Denial::Key { pos: 1 }.noperm("get"),
            "NOPERM this user has no permissions to access one of the keys used as arguments"
        );
        assert_eq!(
            Denial::Channel { pos: 1 }.noperm("publish"),
            "NOPERM this user has no permissions to access one of the channels used as arguments"
        );
        assert_eq!(
            Denial::Key { pos: 1 }.dryrun_message("get", b"z"),
            b"This user has no permissions to access the 'z' key"
        );
        assert_eq!(
            Denial::Channel { pos: 1 }.dryrun_message("publish", b"zz"),
            b"This user has no permissions to access the 'zz' channel"
        );
        assert_eq!(
            Denial::Command.dryrun_message("del", b""),
            b"This user has no permissions to run the 'del' command"
        );
    }
}
