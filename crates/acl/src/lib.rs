//! Redis 7.0's access control lists, as a library the server drives.
//!
//! - [`Catalog`]: the commands as the server registers them (dense ids, full names such as
//!   `config|get`, [`Cat`] categories). Permissions are bitmaps over these ids.
//! - [`Acl`]: the user table. ACL SETUSER / DELUSER / GETUSER / LIST / USERS / CAT, AUTH,
//!   `requirepass`, the ACL file (LOAD/SAVE) and config-file `user` directives, with Redis
//!   7.0.15's rule semantics and error texts.
//! - [`User`]: one user's flags, passwords and selectors; [`User::check`] decides whether a
//!   [`Request`] (command, keys with their access, channels) may run and otherwise returns the
//!   [`Denial`] Redis' NOPERM / DRYRUN texts and ACL LOG entries are built from.
//! - [`AclLog`]: ACL LOG with Redis' grouping of repeated events.
//! - [`SharedAcl`] and [`SessionUser`]: the thread-safe wrapper for the server, and a
//!   connection's view of its user that follows ACL changes with one atomic load per command.
//!
//! Everything is synchronous and allocation-free on the check path. Texts were verified
//! against redis-server 7.0.15 (each test says how).

mod acl;
mod catalog;
mod category;
mod check;
pub mod error;
mod log;
mod password;
mod selector;
mod shared;
mod split;
mod user;

pub use acl::{
    merge_selector_args, Acl, AuthFailure, ConfigUsers, LoadError, LoadOutcome, SetUserError, SetUserOutcome,
};
pub use catalog::{Catalog, CatalogEntry, CmdId};
pub use category::Cat;
pub use check::{ChannelRef, Denial, KeyRef, Request};
pub use error::RuleError;
pub use log::{AclLog, LogContext, LogEntry, LogReason, DEFAULT_MAX_LEN};
pub use password::{genpass, PasswordHash, GENPASS_MAX_BITS};
pub use shared::{SessionUser, SharedAcl};
pub use user::{SanitizePayload, SelectorInfo, User, UserInfo};

#[cfg(test)]
mod tests;
