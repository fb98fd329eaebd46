//! The dispatcher: from parsed arguments to a reply, with Redis' checks in Redis' order:
//! exists → arity → authenticated → (ACL, out-of-memory, restart fence: later) → allowed in
//! RESP2 subscribed mode → not busy → run.

use crate::client::ReplyMode;
use crate::registry::CommandId;
use crate::spec::F;
use crate::{CmdError, Ctx};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_proto::{errors, Args};

/// Runs one command. Returns the id of the command that ran (or was rejected), if the name
/// resolved to one, so the caller can attribute time to it.
pub fn dispatch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<CommandId> {
    let name = args.get(0);
    // Redis' defence against cross-protocol scripting: a browser POSTing to the port.
    if name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:") {
        tracing::warn!(
            "possible security attack detected: a client sent '{}'; connection closed",
            String::from_utf8_lossy(name)
        );
        ctx.conn.close_now = true;
        return None;
    }
    let reg = &ctx.srv.registry;
    let Some(mut id) = reg.lookup(name) else {
        let mut msg = Vec::with_capacity(96);
        errors::unknown_command(&mut msg, name, args.iter().skip(1));
        reject(ctx, None, &msg);
        return None;
    };
    let mut spec = reg.get(id).spec;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match reg.lookup_sub(id, args.get(1)) {
            Some(sub) => {
                id = sub;
                spec = reg.get(id).spec;
            }
            None => {
                let mut msg = Vec::with_capacity(96);
                errors::unknown_subcommand(&mut msg, name, args.get(1));
                reject(ctx, None, &msg);
                return None;
            }
        }
    }
    if !spec.arity_ok(args.len()) {
        let mut msg = Vec::with_capacity(64);
        errors::wrong_arity(&mut msg, &reg.get(id).fullname);
        reject(ctx, Some(id), &msg);
        return Some(id);
    }
    if !ctx.conn.authenticated && !spec.has(F::NO_AUTH) {
        reject(ctx, Some(id), errors::NOAUTH.as_bytes());
        return Some(id);
    }
    if ctx.conn.in_subscribed_mode()
        && !matches!(
            spec.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        )
    {
        let mut msg = Vec::with_capacity(128);
        msg.extend_from_slice(b"ERR Can't execute '");
        msg.extend_from_slice(reg.get(id).fullname.as_bytes());
        msg.extend_from_slice(
            b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        );
        reject(ctx, Some(id), &msg);
        return Some(id);
    }
    if ctx.gate.is_none() && !spec.has(F::ALLOW_BUSY) {
        reject(ctx, Some(id), crate::scripts::BUSY.as_bytes());
        return Some(id);
    }

    let info = &ctx.conn.info;
    info.last_cmd.store(u32::from(id), Relaxed);
    info.last_interaction.store(ctx.now, Relaxed);

    let mark = ctx.reply.len();
    let errors_before = ctx.reply.error_count();
    let result =
        if spec.has(F::EXCLUSIVE) { ctx.exclusive(|ctx| (spec.handler)(ctx, args)) } else { (spec.handler)(ctx, args) };
    if let Err(e) = result {
        match e {
            CmdError::Static(s) => ctx.reply.error(s),
            CmdError::Owned(v) => ctx.reply.error_bytes(&v),
        }
    }
    let failed = ctx.reply.error_count() != errors_before;
    if failed {
        if let Some(text) = ctx.reply.last_error() {
            ctx.srv.stats.error(text);
        }
    }
    ctx.srv.stats.worker(ctx.worker).call(id, failed);
    apply_reply_mode(ctx, mark);
    if !ctx.conn.ready.is_empty() && !ctx.conn.no_block {
        crate::cmd::lists::serve_ready(ctx);
    }
    Some(id)
}

/// Replies with an error for a command refused before running, and counts it.
fn reject(ctx: &mut Ctx<'_>, id: Option<CommandId>, msg: &[u8]) {
    let mark = ctx.reply.len();
    ctx.reply.error_bytes(msg);
    ctx.srv.stats.error(msg);
    if let Some(id) = id {
        ctx.srv.stats.worker(ctx.worker).reject(id);
    }
    apply_reply_mode(ctx, mark);
}

/// CLIENT REPLY OFF / SKIP: drop what the command just wrote, and advance SKIP.
fn apply_reply_mode(ctx: &mut Ctx<'_>, mark: usize) {
    match ctx.conn.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => ctx.reply.truncate(mark),
        ReplyMode::Skip => {
            ctx.reply.truncate(mark);
            ctx.conn.reply_mode = ReplyMode::On;
        }
        ReplyMode::SkipNext => ctx.conn.reply_mode = ReplyMode::Skip,
    }
}
