//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis 7.0's semantics.
//!
//! Between MULTI and EXEC the dispatcher queues commands (after the checks that can reject
//! them, which abort the transaction: `EXECABORT`). EXEC runs the queue with the keyspace to
//! itself, so no other client observes a half-applied transaction, unless a WATCHed key changed
//! (written, expired, flushed or swapped away), in which case it runs nothing and replies with a
//! null array.

use crate::registry::CommandId;
use crate::{CmdResult, Ctx, Server};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_proto::Args;

/// `EXECABORT`: a command was rejected while the transaction was queued.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// A transaction being queued: the arguments of every queued command, stored contiguously.
#[derive(Default)]
pub struct Multi {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Each command: its id and its range in `spans`.
    cmds: Vec<(CommandId, usize, usize)>,
    /// A command was rejected while queuing: EXEC will fail with [`EXECABORT`].
    pub aborted: bool,
    /// A queued command may grow memory: EXEC is refused over `maxmemory`.
    pub denyoom: bool,
}

impl Multi {
    /// Queues a command that passed the dispatcher's checks.
    pub fn queue(&mut self, id: CommandId, args: Args<'_>) {
        let first = self.spans.len();
        for a in args.iter() {
            let start = self.data.len();
            self.data.extend_from_slice(a);
            self.spans.push((start, self.data.len()));
        }
        self.cmds.push((id, first, self.spans.len()));
    }

    /// Notes that a queued command may grow memory.
    pub fn note_denyoom(&mut self) {
        self.denyoom = true;
    }

    /// Number of queued commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

/// MULTI
pub fn multi(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.conn.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.conn.multi = Some(Multi::default());
    ctx.conn.info.multi.store(0, Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// DISCARD
pub fn discard(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.conn.multi.is_none() {
        return Err("ERR DISCARD without MULTI".into());
    }
    end_multi(ctx.srv, ctx.conn);
    ctx.reply.ok();
    Ok(())
}

/// Leaves MULTI state and forgets every WATCH (after EXEC, DISCARD, RESET).
pub fn end_multi(srv: &Server, conn: &mut crate::Conn) {
    conn.multi = None;
    conn.info.multi.store(-1, Relaxed);
    unwatch_all(srv, conn);
}

/// Forgets every key the connection watches (UNWATCH, EXEC, DISCARD, RESET, disconnection).
pub fn unwatch_all(srv: &Server, conn: &mut crate::Conn) {
    if !conn.watched.is_empty() {
        srv.keyspace.watches.remove(&conn.watched, &conn.info.watch);
        conn.watched.clear();
    }
    conn.info.watch.clear();
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if ctx.conn.multi.is_some() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    for key in args.iter().skip(1) {
        let k = ctx.key(key);
        if ctx.srv.keyspace.watch(k, ctx.now, &ctx.conn.info.watch) {
            ctx.conn.watched.push((ctx.conn.db, key.to_vec()));
        }
    }
    ctx.reply.ok();
    Ok(())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    unwatch_all(ctx.srv, ctx.conn);
    ctx.reply.ok();
    Ok(())
}

/// EXEC
pub fn exec(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let Some(multi) = ctx.conn.multi.take() else {
        return Err("ERR EXEC without MULTI".into());
    };
    if multi.aborted {
        end_multi(ctx.srv, ctx.conn);
        return Err(EXECABORT.into());
    }
    ctx.exclusive(|ctx| {
        // A watched key that expired since WATCH is a change, even if the expiry thread has
        // not removed it yet: looking it up removes it and marks the transaction.
        for i in 0..ctx.conn.watched.len() {
            let (db, ref key) = ctx.conn.watched[i];
            let k = ctx.srv.keyspace.key(db, key);
            ctx.srv.keyspace.expire_if_due(k, ctx.now);
        }
        if ctx.conn.info.watch.is_dirty() {
            ctx.reply.null_array();
            return;
        }
        ctx.reply.array(multi.len());
        let no_block = std::mem::replace(&mut ctx.conn.no_block, true);
        // As Redis 7.0, permissions are checked again: the ACL may have changed since queuing.
        let user = crate::acl::restricted_user(ctx.srv, &mut ctx.conn.user);
        for &(id, first, end) in &multi.cmds {
            let args = Args::new(&multi.data, &multi.spans[first..end]);
            if let Some(user) = &user {
                if let Err(denial) = crate::acl::check(ctx.srv, user, id, args) {
                    let (srv, now) = (ctx.srv, ctx.now);
                    let context = tumbler_acl::LogContext::Multi;
                    crate::acl::log_denial(srv, &ctx.conn.info, user.name(), denial, id, args, context, now);
                    let text = crate::acl::exec_denial(denial);
                    ctx.reply.error(text);
                    srv.stats.error(text.as_bytes());
                    continue;
                }
            }
            crate::dispatch::call(ctx, id, args);
        }
        ctx.conn.no_block = no_block;
    });
    end_multi(ctx.srv, ctx.conn);
    Ok(())
}
