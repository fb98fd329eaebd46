//! Connection commands: PING, ECHO, HELLO, AUTH, QUIT, RESET, SELECT and CLIENT.

use crate::client::{ClientInfo, ReplyMode};
use crate::server::REDIS_VERSION;
use crate::util::{db_index, is};
use crate::{CmdError, CmdResult, Ctx};
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::{Args, Protocol};

/// PING [message]
pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 2 {
        let mut m = Vec::new();
        errors::wrong_arity(&mut m, "ping");
        return Err(CmdError::Owned(m));
    }
    if ctx.conn.in_subscribed_mode() {
        // Subscribed RESP2 connections get a message-shaped pong.
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(args.opt(1).unwrap_or_default());
        return Ok(());
    }
    match args.opt(1) {
        Some(m) => ctx.reply.bulk(m),
        None => ctx.reply.simple(b"PONG"),
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.reply.bulk(args.get(1));
    Ok(())
}

/// QUIT: +OK, then the connection closes.
pub fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.ok();
    ctx.conn.close_after_reply = true;
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let db = db_index(args.get(1), ctx.srv.keyspace.databases())?;
    ctx.conn.db = db;
    ctx.conn.info.db.store(db as u32, Relaxed);
    ctx.reply.ok();
    Ok(())
}

/// Authenticates the connection as `user` (AUTH, HELLO AUTH). A failure is logged in the ACL
/// LOG (object: the command name as sent) and replies `WRONGPASS`, whatever the reason.
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], pass: &[u8], command: &[u8]) -> CmdResult {
    let srv = ctx.srv;
    let outcome = srv.acl.read().authenticate(user, pass);
    match outcome {
        Ok(u) => {
            *ctx.conn.info.user.lock() = String::from_utf8_lossy(u.name()).into_owned();
            ctx.conn.user = Some(tumbler_acl::SessionUser::authenticated(&srv.acl, u));
            ctx.conn.authenticated = true;
            Ok(())
        }
        Err(_) => {
            let context = if ctx.conn.multi.is_some() || ctx.conn.exclusive {
                tumbler_acl::LogContext::Multi
            } else {
                tumbler_acl::LogContext::Toplevel
            };
            let info = ctx.conn.info.clone();
            crate::acl::log_event(srv, &info, tumbler_acl::LogReason::Auth, context, command, user, ctx.now);
            Err(errors::WRONGPASS.into())
        }
    }
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        // Redis keeps the old error for the one-argument form when the default user needs no
        // password.
        if ctx.srv.acl.read().default_user().is_nopass() {
            return Err(tumbler_acl::error::AUTH_WITHOUT_PASSWORD.into());
        }
        (b"default", args.get(1))
    } else {
        (args.get(1), args.get(2))
    };
    authenticate(ctx, user, pass, args.get(0))?;
    ctx.reply.ok();
    Ok(())
}

/// Redis' rule for client names: printable ASCII without spaces (or empty, which clears).
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(info: &ClientInfo, name: &[u8]) {
    info.names.lock().name = name.to_vec();
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut ver = None;
    let mut next = 1;
    if args.len() >= 2 {
        let v = tumbler_proto::num::parse_i64(args.get(1))
            .ok_or(CmdError::Static("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(errors::NOPROTO.into());
        }
        ver = Some(v);
        next = 2;
    }
    // Like Redis 7.0, AUTH and SETNAME take effect as they are parsed: an error further along
    // the line does not undo them.
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = cstr(args.get(j));
        if is(opt, "auth") && more >= 2 {
            authenticate(ctx, args.get(j + 1), args.get(j + 2), args.get(0))?;
            j += 2;
        } else if is(opt, "setname") && more >= 1 {
            let n = args.get(j + 1);
            if !valid_name(n) {
                return Err(errors::CLIENT_NAME_SPACES.into());
            }
            set_name(&ctx.conn.info, n);
            j += 1;
        } else {
            let mut m = b"ERR Syntax error in HELLO option '".to_vec();
            m.extend_from_slice(opt);
            m.push(b'\'');
            return Err(CmdError::Owned(m));
        }
        j += 1;
    }
    if !ctx.conn.authenticated {
        // Redis 7.0.15's text (without the `<proto>` later versions added).
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(v) = ver {
        let p = if v == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
        ctx.conn.protocol = p;
        ctx.reply.set_protocol(p);
        ctx.conn.info.resp.store(v as u32, Relaxed);
    }
    let r = &mut *ctx.reply;
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if r.is_resp3() { 3 } else { 2 });
    r.bulk(b"id");
    r.int(ctx.conn.id() as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

/// RESET: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    crate::cmd::pubsub::unsubscribe_all(ctx.srv, ctx.conn);
    crate::cmd::transactions::end_multi(ctx.srv, ctx.conn);
    stop_monitoring(ctx.srv, &ctx.conn.info);
    ctx.conn.db = 0;
    ctx.conn.info.db.store(0, Relaxed);
    ctx.conn.protocol = Protocol::Resp2;
    ctx.reply.set_protocol(Protocol::Resp2);
    ctx.conn.info.resp.store(2, Relaxed);
    ctx.conn.reply_mode = ReplyMode::On;
    ctx.conn.authenticated = !ctx.srv.config.has_password.load(Relaxed);
    ctx.conn.user = None;
    *ctx.conn.info.user.lock() = "default".into();
    set_name(&ctx.conn.info, b"");
    ctx.reply.simple(b"RESET");
    Ok(())
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.conn.no_block {
        // Inside EXEC: the client expects one reply per command.
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    // A client already monitoring gets no reply at all, as in Redis.
    if ctx.srv.monitors.add(&ctx.conn.info) {
        ctx.conn.info.monitor.store(true, Relaxed);
        ctx.reply.ok();
    }
    Ok(())
}

/// Ends MONITOR mode for `c` (RESET, disconnection).
pub fn stop_monitoring(srv: &crate::Server, c: &ClientInfo) {
    if c.monitor.swap(false, Relaxed) {
        srv.monitors.remove(c.id);
    }
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.int(ctx.conn.id() as i64);
    Ok(())
}

/// CLIENT SETNAME name
pub fn client_setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = args.get(2);
    if !valid_name(n) {
        return Err(errors::CLIENT_NAME_SPACES.into());
    }
    set_name(&ctx.conn.info, n);
    ctx.reply.ok();
    Ok(())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let n = ctx.conn.info.name();
    if n.is_empty() {
        ctx.reply.null();
    } else {
        ctx.reply.bulk(&n);
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2's form; 7.0.15 does not have it).
pub fn client_setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (attr, v) = (args.get(2), args.get(3));
    // Redis 7.2 rejects spaces and newlines the same way as in client names.
    if !valid_name(v) {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(&attr.to_ascii_uppercase());
        m.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        return Err(CmdError::Owned(m));
    }
    let mut names = ctx.conn.info.names.lock();
    if is(attr, "lib-name") {
        names.lib_name = v.to_vec();
    } else if is(attr, "lib-ver") {
        names.lib_ver = v.to_vec();
    } else {
        let mut m = b"ERR Unrecognized option '".to_vec();
        m.extend_from_slice(cstr(attr));
        m.push(b'\'');
        return Err(CmdError::Owned(m));
    }
    drop(names);
    ctx.reply.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn client_reply(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = args.get(2);
    if is(a, "on") {
        ctx.conn.reply_mode = ReplyMode::On;
        ctx.reply.ok();
    } else if is(a, "off") {
        ctx.conn.reply_mode = ReplyMode::Off;
    } else if is(a, "skip") {
        if ctx.conn.reply_mode != ReplyMode::Off {
            ctx.conn.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(errors::SYNTAX.into());
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF (accepted; tumbler never evicts clients or keys)
pub fn client_no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = args.get(2);
    if is(a, "on") {
        ctx.conn.info.no_evict.store(true, Relaxed);
    } else if is(a, "off") {
        ctx.conn.info.no_evict.store(false, Relaxed);
    } else {
        return Err(errors::SYNTAX.into());
    }
    ctx.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
pub fn client_unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = tumbler_proto::num::parse_i64(args.get(2)).ok_or(CmdError::Static(errors::NOT_INTEGER))?;
    let error = match args.opt(3).map(cstr) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    if args.len() > 4 {
        return Err(errors::SYNTAX.into());
    }
    let outcome = if error { crate::blocking::Outcome::Error } else { crate::blocking::Outcome::TimedOut };
    let done = match ctx.srv.blocking.of_client(id as u64) {
        Some(w) => {
            let ended = w.finish(outcome);
            if ended {
                ctx.srv.blocking.remove(&w);
            }
            ended
        }
        None => false,
    };
    ctx.reply.int(i64::from(done));
    Ok(())
}

/// CLIENT GETREDIR: tracking is not supported, so never redirecting.
pub fn client_getredir(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.int(-1);
    Ok(())
}

/// Client types CLIENT LIST / KILL filter on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Master,
    Replica,
    Pubsub,
}

fn client_type(name: &[u8]) -> Option<ClientType> {
    let n = cstr(name);
    if is(n, "normal") {
        Some(ClientType::Normal)
    } else if is(n, "master") {
        Some(ClientType::Master)
    } else if is(n, "replica") || is(n, "slave") {
        Some(ClientType::Replica)
    } else if is(n, "pubsub") {
        Some(ClientType::Pubsub)
    } else {
        None
    }
}

fn unknown_type(name: &[u8]) -> CmdError {
    let mut m = b"ERR Unknown client type '".to_vec();
    m.extend_from_slice(cstr(name));
    m.push(b'\'');
    CmdError::Owned(m)
}

/// The type of a client: `pubsub` while it has subscriptions (in either protocol).
fn type_of(c: &ClientInfo) -> ClientType {
    if c.subscriptions() > 0 {
        ClientType::Pubsub
    } else {
        ClientType::Normal
    }
}

/// Appends one CLIENT LIST line (without the trailing newline) for `c`.
pub fn client_line(ctx: &Ctx<'_>, c: &ClientInfo, out: &mut String) {
    client_line_at(ctx.srv, ctx.now, c, out);
}

/// [`client_line`] at monotonic time `now` (also the `client-info` of ACL LOG entries).
pub fn client_line_at(srv: &crate::Server, now: u64, c: &ClientInfo, out: &mut String) {
    let age = now.saturating_sub(c.created) / 1000;
    let idle = now.saturating_sub(c.last_interaction.load(Relaxed)) / 1000;
    let names = c.names.lock().clone();
    // In Redis' order: P, x, b, …, e.
    let mut flags = String::new();
    if c.monitor.load(Relaxed) {
        flags.push('O');
    }
    if c.subscriptions() > 0 {
        flags.push('P');
    }
    let multi = c.multi.load(Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if srv.blocking.of_client(c.id).is_some() {
        flags.push('b');
    }
    if c.watch.is_dirty() {
        flags.push('d');
    }
    if c.no_evict.load(Relaxed) {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let cmd = match c.last_cmd.load(Relaxed) {
        u32::MAX => "NULL".to_string(),
        id => srv.registry.get(id as u16).fullname.clone(),
    };
    let qbuf = c.qbuf.load(Relaxed);
    let qfree = c.qbuf_free.load(Relaxed);
    let omem = c.omem.load(Relaxed);
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        String::from_utf8_lossy(&names.name),
        age,
        idle,
        flags,
        c.db.load(Relaxed),
        c.subs[0].load(Relaxed),
        c.subs[1].load(Relaxed),
        c.subs[2].load(Relaxed),
        multi,
        qbuf,
        qfree,
        qbuf + qfree,
        omem,
        qbuf + qfree + omem + 1024,
        cmd,
        c.user.lock(),
        c.resp.load(Relaxed),
    );
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let mut s = String::with_capacity(300);
    let info = ctx.conn.info.clone();
    client_line(ctx, &info, &mut s);
    s.push('\n');
    ctx.reply.verbatim(b"txt", s.as_bytes());
    Ok(())
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
pub fn client_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut only_type = None;
    let mut ids: Option<Vec<u64>> = None;
    if args.len() == 4 && is(cstr(args.get(2)), "type") {
        only_type = Some(client_type(args.get(3)).ok_or_else(|| unknown_type(args.get(3)))?);
    } else if args.len() > 3 && is(cstr(args.get(2)), "id") {
        let mut v = Vec::new();
        for a in args.iter().skip(3) {
            let id = tumbler_proto::num::parse_i64(a).ok_or(CmdError::Static("ERR Invalid client ID"))?;
            v.push(id as u64);
        }
        ids = Some(v);
    } else if args.len() != 2 {
        return Err(errors::SYNTAX.into());
    }
    let mut s = String::new();
    match ids {
        Some(ids) => {
            for id in ids {
                if let Some(c) = ctx.srv.clients.get(id) {
                    client_line(ctx, &c, &mut s);
                    s.push('\n');
                }
            }
        }
        None => {
            for c in ctx.srv.clients.snapshot() {
                if only_type.is_some_and(|t| t != type_of(&c)) {
                    continue;
                }
                client_line(ctx, &c, &mut s);
                s.push('\n');
            }
        }
    }
    ctx.reply.verbatim(b"txt", s.as_bytes());
    Ok(())
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [TYPE type] [USER user] [ADDR addr] [LADDR addr] [SKIPME yes|no]
pub fn client_kill(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut addr = None;
    let mut laddr = None;
    let mut id = None;
    let mut ctype = None;
    let mut user = None;
    let mut skipme = true;
    let old_form = args.len() == 3;
    if old_form {
        addr = Some(args.get(2));
        skipme = false;
    } else if args.len() > 3 && args.len().is_multiple_of(2) {
        let mut i = 2;
        while i < args.len() {
            let (opt, v) = (cstr(args.get(i)), args.get(i + 1));
            if is(opt, "id") {
                let n = tumbler_proto::num::parse_i64(v).filter(|n| *n >= 1);
                id = Some(n.ok_or(CmdError::Static("ERR client-id should be greater than 0"))? as u64);
            } else if is(opt, "type") {
                ctype = Some(client_type(v).ok_or_else(|| unknown_type(v))?);
            } else if is(opt, "addr") {
                addr = Some(v);
            } else if is(opt, "laddr") {
                laddr = Some(v);
            } else if is(opt, "user") {
                if ctx.srv.acl.read().user(v).is_none() {
                    let mut m = b"ERR No such user '".to_vec();
                    m.extend_from_slice(cstr(v));
                    m.push(b'\'');
                    return Err(CmdError::Owned(m));
                }
                user = Some(v);
            } else if is(opt, "skipme") {
                if is(cstr(v), "yes") {
                    skipme = true;
                } else if is(cstr(v), "no") {
                    skipme = false;
                } else {
                    return Err(errors::SYNTAX.into());
                }
            } else {
                return Err(errors::SYNTAX.into());
            }
            i += 2;
        }
    } else {
        return Err(errors::SYNTAX.into());
    }
    let me = ctx.conn.id();
    let mut killed = 0i64;
    for c in ctx.srv.clients.snapshot() {
        if addr.is_some_and(|a| cstr(a) != c.addr.as_bytes())
            || laddr.is_some_and(|a| cstr(a) != c.laddr.as_bytes())
            || ctype.is_some_and(|t| t != type_of(&c))
            || id.is_some_and(|i| i != c.id)
            || user.is_some_and(|u| u != c.user.lock().as_bytes())
            || (skipme && c.id == me)
            // Already being closed (Redis skips clients flagged to close).
            || c.killed.load(Relaxed)
        {
            continue;
        }
        if c.id == me {
            ctx.conn.close_after_reply = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(errors::NO_SUCH_CLIENT.into());
        }
        ctx.reply.ok();
    } else {
        ctx.reply.int(killed);
    }
    Ok(())
}

/// Writes a HELP reply: status lines.
pub fn help(ctx: &mut Ctx<'_>, lines: &[&str]) {
    ctx.reply.array(lines.len());
    for l in lines {
        ctx.reply.simple(l.as_bytes());
    }
}

/// CLIENT HELP (tumbler's own list: the subcommands it has)
pub fn client_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled (always -1).",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Set client library name or version (as in Redis 7.2).",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction (tumbler never evicts).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
