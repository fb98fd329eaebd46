//! The ACL check on the command path: which user a connection runs as, what a command asks
//! for (its keys from the table's key specs, its channels), and what happens on a denial
//! (ACL LOG entry, NOPERM reply).
//!
//! Cost: a connection of a user that may do everything (the `default` user out of the box)
//! pays one atomic load and a flag test per command ([`tumbler_acl::User::unrestricted`]); only
//! restricted users get their keys extracted and checked, which allocates.

use crate::client::ClientInfo;
use crate::registry::CommandId;
use crate::spec::KS;
use crate::Server;
use std::sync::Arc;
use tumbler_acl::{ChannelRef, Denial, KeyRef, LogContext, LogReason, Request, SessionUser, User};
use tumbler_proto::Args;

/// The connection's user, current with the latest ACL change; the `default` user for a
/// connection that never authenticated. `None` when the user was deleted or replaced (ACL
/// DELUSER, ACL LOAD): such a connection must close.
#[inline]
pub fn session_user<'c>(srv: &Server, slot: &'c mut Option<SessionUser>) -> Option<&'c Arc<User>> {
    slot.get_or_insert_with(|| SessionUser::default_user(&srv.acl)).current(&srv.acl)
}

/// The restricted user of a connection, or `None` when it may run everything (or is gone, which
/// the dispatcher has dealt with before a script or EXEC runs).
pub fn restricted_user(srv: &Server, slot: &mut Option<SessionUser>) -> Option<Arc<User>> {
    session_user(srv, slot).filter(|u| !u.unrestricted()).cloned()
}

/// Decides whether `user` may run command `id` (a subcommand id for a container) with `args`
/// (Redis' `ACLCheckAllUserCommandPerm`): the command or subcommand, then the keys found by the
/// command's key specs with the access their flags declare, then the channels of the pub/sub
/// commands that take them.
pub fn check(srv: &Server, user: &User, id: CommandId, args: Args<'_>) -> Result<(), Denial> {
    let reg = srv.registry.get(id);
    let spec = reg.spec;
    let positions = if spec.keys.is_empty() {
        Vec::new()
    } else {
        // Invalid arguments (a key count beyond the arguments) name no key: the command
        // itself will refuse them.
        spec.keys_with_flags(args.len(), |i| args.opt(i).unwrap_or_default().to_vec()).unwrap_or_default()
    };
    let keys: Vec<KeyRef<'_>> = positions
        .iter()
        .filter_map(|&(pos, flags)| {
            let flags = if flags & KS::VARIABLE_FLAGS != 0 { variable_flags(spec.name, args, flags) } else { flags };
            Some(KeyRef {
                pos,
                name: args.opt(pos)?,
                read: flags & KS::ACCESS != 0,
                write: flags & (KS::INSERT | KS::DELETE | KS::UPDATE) != 0,
            })
        })
        .collect();
    let channels = if reg.parent.is_none() { channel_args(spec.name, args) } else { Vec::new() };
    let req = Request { cmd: id, first_arg: args.opt(1), keys: &keys, channels: &channels };
    user.check(&srv.acl_catalog, &req)
}

/// The access of a key whose spec says `VARIABLE_FLAGS`, from the arguments (Redis' getkeys
/// procedures): SET reads the old value only with its GET option.
fn variable_flags(name: &str, args: Args<'_>, declared: u32) -> u32 {
    match name {
        "set" if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => KS::RW | KS::ACCESS | KS::UPDATE,
        "set" => KS::OW | KS::UPDATE,
        _ => declared,
    }
}

/// The channel arguments the ACL checks (Redis 7.0 checks publishing and subscribing, not
/// unsubscribing). A PSUBSCRIBE pattern must equal an allowed pattern literally.
fn channel_args<'a>(name: &str, args: Args<'a>) -> Vec<ChannelRef<'a>> {
    let (from, to, pattern) = match name {
        "subscribe" | "ssubscribe" => (1, args.len(), false),
        "psubscribe" => (1, args.len(), true),
        "publish" | "spublish" => (1, 2.min(args.len()), false),
        _ => return Vec::new(),
    };
    (from..to).map(|pos| ChannelRef { pos, name: args.get(pos), pattern }).collect()
}

/// Adds the ACL LOG entry for a denial: the object is the command's full name, or the
/// offending key or channel; `info` is the client that sent the command (for a script, the
/// client that ran the script).
#[allow(clippy::too_many_arguments)]
pub fn log_denial(
    srv: &Server,
    info: &ClientInfo,
    username: &[u8],
    denial: Denial,
    id: CommandId,
    args: Args<'_>,
    context: LogContext,
    now: u64,
) {
    let fullname = srv.registry.get(id).fullname.as_bytes();
    let object = denial.pos().and_then(|p| args.opt(p)).unwrap_or(fullname);
    log_event(srv, info, denial.log_reason(), context, object, username, now);
}

/// Adds an ACL LOG entry (denials and failed authentications).
pub fn log_event(
    srv: &Server,
    info: &ClientInfo,
    reason: LogReason,
    context: LogContext,
    object: &[u8],
    username: &[u8],
    now: u64,
) {
    let mut line = String::with_capacity(300);
    crate::cmd::connection::client_line_at(srv, now, info, &mut line);
    let now_ms = srv.clock.wall_us() / 1000;
    srv.acl.log().add(reason, context, object, username, line.into_bytes(), now_ms);
}

/// The NOPERM reply of a command denied at top level or while queued in MULTI.
pub fn noperm(srv: &Server, denial: Denial, id: CommandId) -> String {
    denial.noperm(&srv.registry.get(id).fullname)
}

/// The error a script gets when `redis.call` is denied (Redis 7.0.15's texts; the scripting
/// layer adds `ERR` and the script location).
pub fn script_denial(denial: Denial) -> &'static str {
    match denial {
        Denial::Command => "The user executing the script can't run this command or subcommand",
        Denial::Key { .. } => {
            "The user executing the script can't access at least one of the keys mentioned in the command arguments"
        }
        Denial::Channel { .. } => "The user executing the script can't publish to the channel mentioned in the command",
    }
}

/// The reply EXEC gives, in place of a queued command's reply, when the ACL changed since the
/// command was queued and no longer allows it.
pub fn exec_denial(denial: Denial) -> &'static str {
    match denial {
        Denial::Command => {
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This \
             command is no longer allowed for the following reason: no permission to execute the command or \
             subcommand"
        }
        Denial::Key { .. } => {
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This \
             command is no longer allowed for the following reason: no permission to touch the specified keys"
        }
        Denial::Channel { .. } => {
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This \
             command is no longer allowed for the following reason: no permission to access one of the channels \
             used as arguments"
        }
    }
}

/// Disconnects the clients authenticated as one of `names` (ACL DELUSER, ACL LOAD). The
/// calling connection (`me`) is closed after its reply instead. Returns true when `me` was
/// one of them.
pub fn kill_clients_of(srv: &Server, names: &[Vec<u8>], me: u64) -> bool {
    if names.is_empty() {
        return false;
    }
    let mut mine = false;
    for c in srv.clients.snapshot() {
        let hit = {
            let u = c.user.lock();
            names.iter().any(|n| n.as_slice() == u.as_bytes())
        };
        if hit {
            if c.id == me {
                mine = true;
            } else {
                c.kill();
            }
        }
    }
    mine
}

#[cfg(test)]
mod tests {
    use crate::registry::Registry;
    use crate::table::TABLE;

    /// The catalog mirrors the registry id for id, and every category bit the table uses is
    /// one the ACL library knows.
    #[test]
    fn catalog_matches_registry() {
        let reg = Registry::new();
        let cat = reg.catalog();
        assert_eq!(cat.len(), reg.len());
        for (id, r) in reg.all() {
            assert_eq!(cat.name(id), r.fullname);
            assert_eq!(cat.lookup(r.fullname.as_bytes()), Some(id));
        }
        let known: u64 = tumbler_acl::Cat::ORDER.iter().map(|(b, _)| b).fold(0, |a, b| a | b);
        for spec in TABLE {
            assert_eq!(spec.acl & !known, 0, "{}", spec.name);
        }
        assert!(cat.is_no_auth(reg.lookup(b"auth").expect("auth")));
    }
}
