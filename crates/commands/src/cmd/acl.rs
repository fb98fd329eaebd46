//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG, GENPASS, DRYRUN,
//! SAVE, LOAD and HELP, with Redis 7.0.15's replies. The rules themselves live in
//! `tumbler-acl`; this module parses arguments, renders replies and disconnects the clients a
//! change leaves without a user (DELUSER, LOAD) or without a channel they listen to (SETUSER).

use crate::cmd::connection::help as help_lines;
use crate::util::is;
use crate::{CmdError, CmdResult, Ctx};
use tumbler_acl::error as acl_errors;
use tumbler_acl::SelectorInfo;
use tumbler_proto::{errors, num, Args};

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try ACL HELP.`
fn syntax_error(args: &Args<'_>) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    let sub = args.get(1);
    m.extend_from_slice(&sub[..sub.len().min(128)]);
    m.extend_from_slice(b"'. Try ACL HELP.");
    CmdError::Owned(m)
}

/// ACL WHOAMI
pub fn whoami(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let name = match crate::acl::session_user(ctx.srv, &mut ctx.conn.user) {
        Some(u) => u.name().to_vec(),
        None => ctx.conn.info.user.lock().as_bytes().to_vec(),
    };
    ctx.reply.bulk(&name);
    Ok(())
}

/// ACL SETUSER username [rule [rule ...]]
pub fn setuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.get(2);
    let rules: Vec<&[u8]> = args.iter().skip(3).collect();
    let srv = ctx.srv;
    let outcome = srv.acl_update(|acl| acl.setuser(name, &rules)).map_err(|e| CmdError::Owned(e.reply()))?;
    if outcome.channels_revoked() {
        // Redis 7.0 disconnects the subscribers of this user that listen to a channel or
        // pattern it may no longer use.
        let user = &outcome.new;
        let me = ctx.conn.id();
        let mut doomed = Vec::new();
        srv.pubsub.for_each_subscription(|kind, channel, client| {
            let pattern = kind == crate::pubsub::Kind::Pattern;
            if client.user.lock().as_bytes() == name && !user.channel_allowed(channel, pattern) {
                doomed.push(client.clone());
            }
        });
        for c in doomed {
            if c.id == me {
                ctx.conn.close_after_reply = true;
            } else {
                c.kill();
            }
        }
    }
    ctx.reply.ok();
    Ok(())
}

/// Writes one selector's `commands`, `keys` and `channels` fields.
fn selector_fields(ctx: &mut Ctx<'_>, s: &SelectorInfo) {
    let r = &mut *ctx.reply;
    r.bulk(b"commands");
    r.bulk(&s.commands);
    r.bulk(b"keys");
    r.bulk(&s.keys);
    r.bulk(b"channels");
    r.bulk(&s.channels);
}

/// ACL GETUSER username
pub fn getuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let Some(info) = ctx.srv.acl.read().getuser(args.get(2)) else {
        ctx.reply.null();
        return Ok(());
    };
    let r = &mut *ctx.reply;
    r.map(6);
    r.bulk(b"flags");
    r.set(info.flags.len());
    for f in &info.flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"passwords");
    r.array(info.passwords.len());
    for p in &info.passwords {
        r.bulk(p.as_bytes());
    }
    selector_fields(ctx, &info.root);
    ctx.reply.bulk(b"selectors");
    ctx.reply.array(info.selectors.len());
    for s in &info.selectors {
        ctx.reply.map(3);
        selector_fields(ctx, s);
    }
    Ok(())
}

/// ACL DELUSER username [username ...]: disconnects the deleted users' clients (this one
/// after its reply).
pub fn deluser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let names: Vec<&[u8]> = args.iter().skip(2).collect();
    let removed = ctx.srv.acl_update(|acl| acl.deluser(&names)).map_err(CmdError::Static)?;
    let gone: Vec<Vec<u8>> = removed.iter().map(|u| u.name().to_vec()).collect();
    if crate::acl::kill_clients_of(ctx.srv, &gone, ctx.conn.id()) {
        ctx.conn.close_after_reply = true;
    }
    ctx.reply.int(removed.len() as i64);
    Ok(())
}

/// ACL LIST
pub fn list(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let lines = ctx.srv.acl.read().list();
    ctx.reply.array(lines.len());
    for l in &lines {
        ctx.reply.bulk(l);
    }
    Ok(())
}

/// ACL USERS
pub fn users(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx.srv.acl.read().usernames().map(<[u8]>::to_vec).collect();
    ctx.reply.array(names.len());
    for n in &names {
        ctx.reply.bulk(n);
    }
    Ok(())
}

/// ACL CAT [category]
pub fn cat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_error(&args));
    }
    let names: Vec<String> = {
        let acl = ctx.srv.acl.read();
        acl.cat(args.opt(2)).map_err(CmdError::Owned)?.into_iter().map(str::to_string).collect()
    };
    ctx.reply.array(names.len());
    for n in &names {
        ctx.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// ACL LOG [count | RESET]
pub fn log(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_error(&args));
    }
    let count = match args.opt(2) {
        None => 10,
        Some(a) if is(a, "reset") => {
            ctx.srv.acl.log().reset();
            ctx.reply.ok();
            return Ok(());
        }
        Some(a) => num::parse_i64(a).ok_or(CmdError::Static(errors::NOT_INTEGER))?.max(0),
    };
    let now_ms = ctx.srv.clock.wall_us() / 1000;
    let log = ctx.srv.acl.log();
    let entries: Vec<_> = log.entries(usize::try_from(count).unwrap_or(usize::MAX)).cloned().collect();
    drop(log);
    let r = &mut *ctx.reply;
    r.array(entries.len());
    for e in &entries {
        r.map(7);
        r.bulk(b"count");
        r.int(e.count as i64);
        r.bulk(b"reason");
        r.bulk(e.reason.as_str().as_bytes());
        r.bulk(b"context");
        r.bulk(e.context.as_str().as_bytes());
        r.bulk(b"object");
        r.bulk(&e.object);
        r.bulk(b"username");
        r.bulk(&e.username);
        r.bulk(b"age-seconds");
        r.double(e.age_seconds(now_ms));
        r.bulk(b"client-info");
        r.bulk(&e.client_info);
    }
    Ok(())
}

/// ACL GENPASS [bits]
pub fn genpass(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_error(&args));
    }
    let bits = match args.opt(2) {
        None => 256,
        Some(a) => num::parse_i64(a).ok_or(CmdError::Static(errors::NOT_INTEGER))?,
    };
    let pass = tumbler_acl::genpass(bits).ok_or(CmdError::Static(acl_errors::GENPASS_RANGE))?;
    ctx.reply.bulk(pass.as_bytes());
    Ok(())
}

/// ACL DRYRUN username command [arg ...]: `+OK`, or a bulk string saying what is denied.
pub fn dryrun(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let user = srv.acl.read().user(args.get(2)).cloned();
    let user = user.ok_or_else(|| CmdError::Owned(acl_errors::dryrun_no_user(args.get(2))))?;
    let inner = args.slice_from(3);
    let reg = &srv.registry;
    let not_found = || CmdError::Owned(acl_errors::dryrun_no_command(inner.get(0)));
    let mut id = reg.lookup(inner.get(0)).ok_or_else(not_found)?;
    if !reg.get(id).spec.subcommands.is_empty() && inner.len() >= 2 {
        id = reg.lookup_sub(id, inner.get(1)).ok_or_else(not_found)?;
    }
    let r = reg.get(id);
    if !r.spec.arity_ok(inner.len()) {
        let mut m = Vec::with_capacity(64);
        errors::wrong_arity(&mut m, &r.fullname);
        return Err(CmdError::Owned(m));
    }
    match crate::acl::check(srv, &user, id, inner) {
        Ok(()) => ctx.reply.ok(),
        Err(d) => {
            let object = d.pos().and_then(|p| inner.opt(p)).unwrap_or_default();
            ctx.reply.bulk(&d.dryrun_message(&r.fullname, object));
        }
    }
    Ok(())
}

/// The `aclfile` setting, or the error ACL SAVE / LOAD give without one.
fn aclfile(ctx: &Ctx<'_>) -> Result<String, CmdError> {
    let f = ctx.srv.config.settings.read().aclfile.clone();
    if f.is_empty() {
        Err(CmdError::Static(acl_errors::NO_ACL_FILE))
    } else {
        Ok(f)
    }
}

/// ACL SAVE
pub fn save(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let path = aclfile(ctx)?;
    if let Err(e) = ctx.srv.acl.read().save_file(std::path::Path::new(&path)) {
        tracing::warn!("Opening temp ACL file for ACL SAVE: {e}");
        return Err(acl_errors::SAVE_FAILED.into());
    }
    ctx.reply.ok();
    Ok(())
}

/// ACL LOAD: replaces every user from the `aclfile` (nothing changes on any error), and
/// disconnects the clients of the users that existed before, except `default`'s, as Redis 7.0
/// does.
pub fn load(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let path = aclfile(ctx)?;
    let outcome = ctx
        .srv
        .acl_update(|acl| acl.load_file(std::path::Path::new(&path), &path))
        .map_err(|e| CmdError::Owned(e.reply().into_bytes()))?;
    let gone: Vec<Vec<u8>> = outcome.dropped.iter().map(|u| u.name().to_vec()).collect();
    if crate::acl::kill_clients_of(ctx.srv, &gone, ctx.conn.id()) {
        ctx.conn.close_after_reply = true;
    }
    ctx.reply.ok();
    Ok(())
}

/// ACL HELP
pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help_lines(
        ctx,
        &[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
