//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB. The registry and delivery are in [`crate::pubsub`].

use crate::cmd::connection::help;
use crate::pubsub::Kind;
use crate::{CmdResult, Ctx, Server};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_proto::Args;

/// The subscription count a confirmation reports: channels and patterns together, shard
/// channels apart (Redis 7.0).
fn count(ctx: &Ctx<'_>, kind: Kind) -> usize {
    let s = &ctx.conn.subscribed;
    match kind {
        Kind::Shard => s[Kind::Shard as usize].len(),
        _ => s[Kind::Channel as usize].len() + s[Kind::Pattern as usize].len(),
    }
}

/// `[subscribe|unsubscribe…, name, count]`, a push in RESP3.
fn confirm(ctx: &mut Ctx<'_>, word: &[u8], name: Option<&[u8]>, n: usize) {
    let r = &mut *ctx.reply;
    r.push(3);
    r.bulk(word);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(n as i64);
}

fn subscribe_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    for name in args.iter().skip(1) {
        if ctx.conn.subscribed[kind as usize].insert(name.to_vec()) {
            ctx.srv.pubsub.subscribe(kind, name, &ctx.conn.info);
            ctx.conn.info.subs[kind as usize].fetch_add(1, Relaxed);
        }
        let n = count(ctx, kind);
        confirm(ctx, kind.subscribe_word(), Some(name), n);
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(<[u8]>::to_vec).collect()
    } else {
        ctx.conn.subscribed[kind as usize].iter().cloned().collect()
    };
    if names.is_empty() {
        let n = count(ctx, kind);
        confirm(ctx, kind.unsubscribe_word(), None, n);
        return Ok(());
    }
    for name in &names {
        remove(ctx.srv, ctx.conn, kind, name);
        let n = count(ctx, kind);
        confirm(ctx, kind.unsubscribe_word(), Some(name), n);
    }
    Ok(())
}

fn remove(srv: &Server, conn: &mut crate::Conn, kind: Kind, name: &[u8]) {
    if conn.subscribed[kind as usize].remove(name) {
        srv.pubsub.unsubscribe(kind, name, conn.id());
        conn.info.subs[kind as usize].fetch_sub(1, Relaxed);
    }
}

/// Drops every subscription of `conn` without replying (RESET, and a closing connection).
pub fn unsubscribe_all(srv: &Server, conn: &mut crate::Conn) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let names: Vec<Vec<u8>> = conn.subscribed[kind as usize].iter().cloned().collect();
        for name in names {
            remove(srv, conn, kind, &name);
        }
    }
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard)
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

fn publish_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    // A connection's own messages go into its reply stream, before this reply. From a script,
    // they are kept aside and go into the caller's stream before the script's reply.
    let own = if ctx.conn.in_script {
        (ctx.conn.caller, &mut ctx.conn.own_messages)
    } else {
        (ctx.conn.id(), ctx.reply.raw())
    };
    let n = ctx.srv.pubsub.publish(kind, args.get(1), args.get(2), Some(own));
    ctx.reply.int(n as i64);
    Ok(())
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_generic(ctx, args, Kind::Channel)
}

/// SPUBLISH shardchannel message
pub fn spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_generic(ctx, args, Kind::Shard)
}

fn channels_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    if args.len() > 3 {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(tumbler_proto::errors::cstr(args.get(1)));
        m.extend_from_slice(b"'. Try PUBSUB HELP.");
        return Err(crate::CmdError::Owned(m));
    }
    let names = ctx.srv.pubsub.channels(kind, args.opt(2));
    ctx.reply.array(names.len());
    for n in &names {
        ctx.reply.bulk(n);
    }
    Ok(())
}

fn numsub_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    ctx.reply.array((args.len() - 2) * 2);
    for ch in args.iter().skip(2) {
        let n = ctx.srv.pubsub.numsub(kind, ch);
        ctx.reply.bulk(ch);
        ctx.reply.int(n as i64);
    }
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channels_generic(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channels_generic(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB [channel ...]
pub fn pubsub_numsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    numsub_generic(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
pub fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    numsub_generic(ctx, args, Kind::Shard)
}

/// PUBSUB NUMPAT
pub fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.int(ctx.srv.pubsub.numpat() as i64);
    Ok(())
}

/// PUBSUB HELP
pub fn pubsub_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
