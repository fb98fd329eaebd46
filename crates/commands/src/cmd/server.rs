//! Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, SHUTDOWN, FUNCTION, OBJECT, DEBUG.

use crate::client::ShutdownRequest;
use crate::cmd::connection::help;
use crate::config::{Config, DebugMode, SetError, PARAMS};
use crate::registry::CommandId;
use crate::spec::{Begin, CommandSpec, Find, C, F, KS};
use crate::util::is;
use crate::{CmdError, CmdResult, Ctx};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_keyspace::{Entry, Kind, Value};
use tumbler_proto::errors::{self, cstr};
use tumbler_proto::{Args, Reply};

/// INFO [section [section ...]]
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sections: Vec<&[u8]> = args.iter().skip(1).collect();
    let text = crate::info::render(ctx, &sections);
    ctx.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CONFIG

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cfg = &ctx.srv.config;
    let mut out: Vec<(String, String)> = Vec::new();
    let seen = |out: &Vec<(String, String)>, name: &str| out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    for pat in args.iter().skip(2) {
        let is_glob = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        if !is_glob {
            if let Some(p) = Config::param(pat) {
                let shown = String::from_utf8_lossy(pat).into_owned();
                if !seen(&out, &shown) {
                    out.push((shown, p.get(cfg)));
                }
            }
            continue;
        }
        for p in PARAMS {
            if tumbler_glob::matches_nocase(pat, p.name.as_bytes()) && !seen(&out, p.name) {
                out.push((p.name.to_string(), p.get(cfg)));
            }
        }
    }
    ctx.reply.map(out.len());
    for (n, v) in &out {
        ctx.reply.bulk(n.as_bytes());
        ctx.reply.bulk(v.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]: all names are checked first, then values
/// are applied in order; if one fails, the ones already applied are rolled back.
pub fn config_set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(errors::SYNTAX.into());
    }
    let failed = |name: &[u8], why: &str| {
        let mut m = b"ERR CONFIG SET failed (possibly related to argument '".to_vec();
        m.extend_from_slice(cstr(name));
        m.extend_from_slice(b"') - ");
        m.extend_from_slice(why.as_bytes());
        CmdError::Owned(m)
    };
    let mut params = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let name = args.get(i);
        let Some(p) = Config::param(name) else {
            let mut m = b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
            m.extend_from_slice(cstr(name));
            m.push(b'\'');
            return Err(CmdError::Owned(m));
        };
        if p.immutable {
            return Err(failed(name, "can't set immutable config"));
        }
        if p.protected {
            return Err(failed(name, "can't set protected config"));
        }
        if params.iter().any(|(q, _, _): &(&crate::config::Param, _, _)| std::ptr::eq(*q, p)) {
            return Err(failed(name, "duplicate parameter"));
        }
        params.push((p, name, args.get(i + 1)));
    }
    let cfg = &ctx.srv.config;
    let mut applied: Vec<(&crate::config::Param, String)> = Vec::new();
    let undo = |applied: &[(&crate::config::Param, String)]| {
        for (q, old) in applied.iter().rev() {
            let _ = q.set(cfg, old.as_bytes());
        }
    };
    for (p, name, value) in &params {
        let old = p.get(cfg);
        match p.set(cfg, value) {
            Ok(()) => applied.push((p, old)),
            Err(e) => {
                undo(&applied);
                let why = match e {
                    SetError::Invalid(s) => s,
                    SetError::Immutable => "can't set immutable config".into(),
                    SetError::Unknown => "unknown parameter".into(),
                };
                return Err(failed(name, &why));
            }
        }
    }
    // As Redis, setting a TLS file reloads it even when the path is the same (certificate
    // rotation); a configuration that does not load restores every value set here.
    if let Some((p, name, _)) = params.iter().find(|(p, _, _)| p.name.starts_with("tls-")) {
        let tls = cfg.settings.read().tls.clone();
        if let Some(Err(e)) = ctx.srv.tls_reload.get().map(|reload| reload(&tls)) {
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings. ({e})",
                p.name
            );
            undo(&applied);
            return Err(failed(name, "Unable to update TLS configuration. Check server logs."));
        }
    }
    ctx.srv.apply_config();
    ctx.reply.ok();
    Ok(())
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.keyspace.stats.reset();
    ctx.reply.ok();
    Ok(())
}

/// CONFIG REWRITE: writes the current values of every parameter, and the ACL users unless an
/// `aclfile` keeps them, into the configuration file, replacing the lines that set them and
/// keeping everything else (comments included).
pub fn config_rewrite(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let path = &ctx.srv.config_file;
    if path.is_empty() {
        return Err("ERR The server is running without a config file".into());
    }
    let users = if ctx.srv.config.settings.read().aclfile.is_empty() { ctx.srv.acl.read().list() } else { Vec::new() };
    crate::config::rewrite(&ctx.srv.config, &users, path)
        .map_err(|e| CmdError::msg(format!("ERR Rewriting config file: {e}")))?;
    ctx.reply.ok();
    Ok(())
}

/// CONFIG HELP
pub fn config_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// COMMAND

fn write_flags(r: &mut Reply, flags: u32) {
    let names: Vec<&str> = F::ORDER.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
    r.set(names.len());
    for n in names {
        r.simple(n.as_bytes());
    }
}

fn write_categories(r: &mut Reply, acl: u64) {
    let names: Vec<&str> = C::ORDER.iter().filter(|(c, _)| acl & c != 0).map(|(_, n)| *n).collect();
    r.set(names.len());
    for n in names {
        r.simple(format!("@{n}").as_bytes());
    }
}

fn write_keyspecs(r: &mut Reply, spec: &CommandSpec) {
    r.set(spec.keys.len());
    for ks in spec.keys {
        let has_notes = !ks.notes.is_empty();
        r.map(3 + usize::from(has_notes));
        if has_notes {
            r.bulk(b"notes");
            r.bulk(ks.notes.as_bytes());
        }
        r.bulk(b"flags");
        let names: Vec<&str> = KS::ORDER.iter().filter(|(f, _)| ks.flags & f != 0).map(|(_, n)| *n).collect();
        r.set(names.len());
        for n in names {
            r.simple(n.as_bytes());
        }
        r.bulk(b"begin_search");
        r.map(2);
        r.bulk(b"type");
        match ks.begin {
            Begin::Index(i) => {
                r.bulk(b"index");
                r.bulk(b"spec");
                r.map(1);
                r.bulk(b"index");
                r.int(i64::from(i));
            }
            Begin::Keyword(kw, from) => {
                r.bulk(b"keyword");
                r.bulk(b"spec");
                r.map(2);
                r.bulk(b"keyword");
                r.bulk(kw.as_bytes());
                r.bulk(b"startfrom");
                r.int(i64::from(from));
            }
            Begin::Unknown => {
                r.bulk(b"unknown");
                r.bulk(b"spec");
                r.map(0);
            }
        }
        r.bulk(b"find_keys");
        r.map(2);
        r.bulk(b"type");
        match ks.find {
            Find::Range { lastkey, step, limit } => {
                r.bulk(b"range");
                r.bulk(b"spec");
                r.map(3);
                r.bulk(b"lastkey");
                r.int(i64::from(lastkey));
                r.bulk(b"keystep");
                r.int(i64::from(step));
                r.bulk(b"limit");
                r.int(i64::from(limit));
            }
            Find::Keynum { index, first, step } => {
                r.bulk(b"keynum");
                r.bulk(b"spec");
                r.map(3);
                r.bulk(b"keynumidx");
                r.int(i64::from(index));
                r.bulk(b"firstkey");
                r.int(i64::from(first));
                r.bulk(b"keystep");
                r.int(i64::from(step));
            }
            Find::Unknown => {
                r.bulk(b"unknown");
                r.bulk(b"spec");
                r.map(0);
            }
        }
    }
}

/// Writes one COMMAND INFO entry.
fn write_command_info(ctx: &mut Ctx<'_>, id: CommandId) {
    let reg = &ctx.srv.registry;
    let r = reg.get(id);
    let spec = r.spec;
    let reply = &mut *ctx.reply;
    reply.array(10);
    reply.bulk(r.fullname.as_bytes());
    reply.int(i64::from(spec.arity));
    write_flags(reply, spec.flags);
    reply.int(i64::from(spec.legacy_keys.0));
    reply.int(i64::from(spec.legacy_keys.1));
    reply.int(i64::from(spec.legacy_keys.2));
    write_categories(reply, spec.acl);
    reply.set(spec.tips.len());
    for t in spec.tips {
        reply.bulk(t.as_bytes());
    }
    write_keyspecs(reply, spec);
    let children: Vec<CommandId> = reg.children(id).map(|(i, _)| i).collect();
    // Redis 7.0 sends an empty set when there are no subcommands, and an array otherwise.
    if children.is_empty() {
        ctx.reply.set(0);
    } else {
        ctx.reply.array(children.len());
    }
    for c in children {
        write_command_info(ctx, c);
    }
}

/// COMMAND: details of every command.
pub fn command(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let ids: Vec<CommandId> = ctx.srv.registry.top_level().map(|(i, _)| i).collect();
    ctx.reply.array(ids.len());
    for id in ids {
        write_command_info(ctx, id);
    }
    Ok(())
}

/// COMMAND COUNT
pub fn command_count(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let n = ctx.srv.registry.top_level().count();
    ctx.reply.int(n as i64);
    Ok(())
}

/// COMMAND INFO [command-name ...]
pub fn command_info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.reply.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match ctx.srv.registry.resolve(name) {
            Some(id) => write_command_info(ctx, id),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
pub fn command_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        Cat(u64),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if is(cstr(args.get(2)), "filterby") => {
            let (kind, v) = (cstr(args.get(3)), args.get(4));
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                match C::ORDER.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(v)) {
                    Some((c, _)) => Filter::Cat(*c),
                    None => Filter::Module,
                }
            } else if is(kind, "pattern") {
                Filter::Pattern(v)
            } else {
                return Err(errors::SYNTAX.into());
            }
        }
        _ => return Err(errors::SYNTAX.into()),
    };
    let names: Vec<&str> = ctx
        .srv
        .registry
        .all()
        .filter(|(_, r)| match filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::Cat(c) => r.spec.acl & c != 0,
            Filter::Pattern(p) => tumbler_glob::matches_nocase(p, r.fullname.as_bytes()),
        })
        .map(|(_, r)| r.fullname.as_str())
        .collect();
    ctx.reply.array(names.len());
    for n in names {
        ctx.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// Re-encodes a stored RESP3 reply (the generated docs) for the connection's protocol.
fn transcode(r: &mut Reply, blob: &[u8], mut pos: usize) -> usize {
    let line_end = blob[pos..].windows(2).position(|w| w == b"\r\n").map_or(blob.len(), |i| pos + i);
    let tag = blob[pos];
    let head = &blob[pos + 1..line_end];
    let n = tumbler_proto::num::parse_i64(head).unwrap_or(0);
    pos = line_end + 2;
    match tag {
        b'$' => {
            let end = pos + n as usize;
            r.bulk(&blob[pos..end]);
            end + 2
        }
        b'+' => {
            r.simple(head);
            pos
        }
        b':' => {
            r.int(n);
            pos
        }
        b'%' | b'*' | b'~' => {
            let items = match tag {
                b'%' => {
                    r.map(n as usize);
                    2 * n
                }
                b'~' => {
                    r.set(n as usize);
                    n
                }
                _ => {
                    r.array(n as usize);
                    n
                }
            };
            for _ in 0..items {
                pos = transcode(r, blob, pos);
            }
            pos
        }
        _ => {
            r.null();
            pos
        }
    }
}

/// COMMAND DOCS [command-name ...]
pub fn command_docs(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let docs = crate::docs::DOCS;
    let wanted: Vec<(&[u8], &[u8])> = if args.len() == 2 {
        docs.iter().map(|(n, b)| (n.as_bytes(), *b)).collect()
    } else {
        args.iter()
            .skip(2)
            .filter_map(|name| {
                let lower = name.to_ascii_lowercase();
                docs.iter().find(|(n, _)| n.as_bytes() == lower.as_slice()).map(|(n, b)| (n.as_bytes(), *b))
            })
            .collect()
    };
    ctx.reply.map(wanted.len());
    for (name, blob) in wanted {
        ctx.reply.bulk(name);
        transcode(ctx.reply, blob, 0);
    }
    Ok(())
}

/// Resolves the command a COMMAND GETKEYS call is about, with Redis' errors.
fn getkeys_positions(ctx: &Ctx<'_>, args: &Args<'_>) -> Result<(Vec<usize>, &'static CommandSpec), CmdError> {
    let inner = args.slice_from(2);
    let reg = &ctx.srv.registry;
    let invalid = CmdError::Static("ERR Invalid command specified");
    let mut id = reg.lookup(inner.get(0)).ok_or(invalid.clone())?;
    let mut spec = reg.get(id).spec;
    if !spec.subcommands.is_empty() && inner.len() >= 2 {
        id = reg.lookup_sub(id, inner.get(1)).ok_or(invalid)?;
        spec = reg.get(id).spec;
    }
    if spec.keys.is_empty() {
        return Err("ERR The command has no key arguments".into());
    }
    if !spec.arity_ok(inner.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let positions = spec.key_positions(inner.len(), |i| inner.get(i).to_vec()).unwrap_or_default();
    if positions.is_empty() && !spec.has(F::NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command".into());
    }
    Ok((positions, spec))
}

/// COMMAND GETKEYS command [arg ...]
pub fn command_getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (positions, _) = getkeys_positions(ctx, &args)?;
    ctx.reply.array(positions.len());
    for p in positions {
        ctx.reply.bulk(args.get(p + 2));
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn command_getkeysandflags(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (positions, spec) = getkeys_positions(ctx, &args)?;
    // Every key spec of the commands in the table applies to all of its keys, so the flags of
    // the first spec describe each key (Redis would track the spec per key).
    let flags = spec.keys.first().map_or(0, |k| k.flags);
    ctx.reply.array(positions.len());
    for p in positions {
        ctx.reply.array(2);
        ctx.reply.bulk(args.get(p + 2));
        let names: Vec<&str> = KS::ORDER.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
        ctx.reply.set(names.len());
        for n in names {
            ctx.reply.simple(n.as_bytes());
        }
    }
    Ok(())
}

/// COMMAND HELP
pub fn command_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TIME, LASTSAVE, SHUTDOWN, FUNCTION

/// TIME: Unix seconds and microseconds, as two bulk strings.
pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let us = ctx.srv.clock.wall_us();
    ctx.reply.array(2);
    ctx.reply.bulk_i64(us.div_euclid(1_000_000));
    ctx.reply.bulk_i64(us.rem_euclid(1_000_000));
    Ok(())
}

/// LASTSAVE
pub fn lastsave(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.int(ctx.srv.lastsave.load(Relaxed));
    Ok(())
}

/// ROLE: tumbler has no replication, so it is a master with no replicas at offset 0.
pub fn role(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.array(3);
    ctx.reply.bulk(b"master");
    ctx.reply.int(0);
    ctx.reply.array(0);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for a in args.iter().skip(1) {
        let a = cstr(a);
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") || is(a, "force") {
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return Err(errors::SYNTAX.into());
    }
    if abort {
        return Err("ERR No shutdown in progress.".into());
    }
    // While a script is busy only SHUTDOWN NOSAVE goes through (it stops the script).
    if ctx.srv.scripts.running() && !nosave {
        return Err(crate::scripts::BUSY.into());
    }
    ctx.conn.shutdown = Some(ShutdownRequest { save });
    ctx.conn.close_now = true;
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]: there are no functions, so there is nothing to flush.
pub fn function_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    match args.len() {
        2 => {}
        3 if is(cstr(args.get(2)), "async") || is(cstr(args.get(2)), "sync") => {}
        3 => return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
        _ => return Err("ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.".into()),
    }
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION LIST: functions are not supported, so the list is empty.
pub fn function_list(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.array(0);
    Ok(())
}

/// FUNCTION HELP
pub fn function_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST",
            "    Return general information on all the libraries (tumbler has none).",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries (a no-op in tumbler).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OBJECT

/// Looks a key up for OBJECT without touching its access time; replies null when missing.
fn object_lookup<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&Entry, u64) -> R) -> Option<R> {
    let now = ctx.now;
    let k = ctx.key(key);
    let r = ctx.srv.keyspace.read(k, now, |e| e.map(|e| f(e, now)));
    if r.is_none() {
        ctx.reply.null();
    }
    r
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if let Some(enc) = object_lookup(ctx, args.get(2), |e, _| e.encoding()) {
        ctx.reply.bulk(enc.as_bytes());
    }
    Ok(())
}

/// OBJECT REFCOUNT key: Redis shares the integers 0..9999, which report `INT_MAX`.
pub fn object_refcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let rc = object_lookup(ctx, args.get(2), |e, _| match (e.kind(), e.value()) {
        (Kind::Int, Value::Int(i)) if (0..10_000).contains(&i) => i64::from(i32::MAX),
        _ => 1,
    });
    if let Some(rc) = rc {
        ctx.reply.int(rc);
    }
    Ok(())
}

/// Seconds since the key was last accessed, on the 24-bit LRU clock.
fn idle_seconds(e: &Entry, now: u64) -> i64 {
    let clock = tumbler_keyspace::lru_clock(now);
    let last = e.lru();
    let idle = if clock >= last { clock - last } else { clock + (tumbler_keyspace::entry::LRU_MASK - last) };
    i64::from(idle)
}

/// OBJECT IDLETIME key
pub fn object_idletime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if let Some(s) = object_lookup(ctx, args.get(2), idle_seconds) {
        ctx.reply.int(s);
    }
    Ok(())
}

/// OBJECT FREQ key: only meaningful under an LFU policy, which tumbler never uses.
pub fn object_freq(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if object_lookup(ctx, args.get(2), |_, _| ()).is_some() {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    Ok(())
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DEBUG

fn debug_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.srv.config.debug_mode() {
        DebugMode::Yes => true,
        DebugMode::Local => ctx.conn.local,
        DebugMode::No => false,
    }
}

/// Length of a string in Redis' RDB encoding (for DEBUG OBJECT's serializedlength).
fn rdb_len(v: Value<'_>) -> usize {
    let len_prefix = |n: usize| {
        if n < 64 {
            1
        } else if n < 16384 {
            2
        } else if n <= u32::MAX as usize {
            5
        } else {
            9
        }
    };
    match v {
        Value::Int(i) if (-128..128).contains(&i) => 2,
        Value::Int(i) if (-32768..32768).contains(&i) => 3,
        Value::Int(i) if (i32::MIN as i64..=i32::MAX as i64).contains(&i) => 5,
        Value::Int(i) => {
            let n = itoa::Buffer::new().format(i).len();
            len_prefix(n) + n
        }
        Value::Str(s) => {
            // Strings that look like integers are stored as integers.
            if s.len() <= 11 {
                if let Some(i) =
                    tumbler_proto::num::parse_i64(s).filter(|i| (i32::MIN as i64..=i32::MAX as i64).contains(i))
                {
                    return rdb_len(Value::Int(i));
                }
            }
            len_prefix(s.len()) + s.len()
        }
    }
}

/// DEBUG subcommand [arg ...] (only with `enable-debug-command`)
pub fn debug(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(errors::DEBUG_DISABLED.into());
    }
    let sub = args.get(1);
    let n = args.len();
    let wrong = || {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(cstr(sub));
        m.extend_from_slice(b"'. Try DEBUG HELP.");
        CmdError::Owned(m)
    };
    if is(sub, "sleep") && n == 3 {
        let secs = atof(args.get(2));
        if secs > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        }
        ctx.reply.ok();
    } else if is(sub, "set-active-expire") && n == 3 {
        let on = atoi(args.get(2)) != 0;
        ctx.srv.active_expire.store(on, Relaxed);
        if on {
            ctx.srv.keyspace.wake_reclaimer();
        }
        ctx.reply.ok();
    } else if is(sub, "protocol") && n == 3 {
        debug_protocol(ctx.reply, args.get(2))?;
    } else if is(sub, "object") && n == 3 {
        let k = ctx.key(args.get(2));
        let now = ctx.now;
        let line = ctx.srv.keyspace.read(k, now, |e| {
            e.map(|e| {
                let refcount = match e.value() {
                    Value::Int(i) if (0..10_000).contains(&i) => i64::from(i32::MAX),
                    _ => 1,
                };
                format!(
                    "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                    e as *const Entry,
                    refcount,
                    e.encoding(),
                    rdb_len(e.value()),
                    e.lru(),
                    idle_seconds(e, now)
                )
            })
        });
        match line {
            Some(l) => ctx.reply.simple(l.as_bytes()),
            None => return Err(errors::NO_SUCH_KEY.into()),
        }
    } else if is(sub, "reload") {
        for opt in args.iter().skip(2) {
            if !(is(opt, "merge") || is(opt, "noflush") || is(opt, "nosave")) {
                return Err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into());
            }
        }
        // Nothing is persisted yet, so reloading keeps the data as it is.
        ctx.reply.ok();
    } else if is(sub, "help") && n == 2 {
        help(
            ctx,
            &[
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory (a no-op in tumbler, which",
                "    does not persist yet). Options: MERGE, NOFLUSH, NOSAVE.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "HELP",
                "    Prints this help.",
            ],
        );
    } else {
        return Err(wrong());
    }
    Ok(())
}

/// C's `atof`: the longest numeric prefix, 0 when there is none.
fn atof(s: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(s);
    let t = s.trim_start();
    let mut end = 0;
    let b = t.as_bytes();
    let mut seen_dot = false;
    let mut seen_e = false;
    while end < b.len() {
        let c = b[end];
        let ok = c.is_ascii_digit()
            || (c == b'.' && !seen_dot && !seen_e)
            || ((c == b'-' || c == b'+') && (end == 0 || b[end - 1] == b'e' || b[end - 1] == b'E'))
            || ((c == b'e' || c == b'E') && !seen_e && end > 0);
        if !ok {
            break;
        }
        seen_dot |= c == b'.';
        seen_e |= c == b'e' || c == b'E';
        end += 1;
    }
    while end > 0 {
        if let Ok(v) = t[..end].parse::<f64>() {
            return v;
        }
        end -= 1;
    }
    0.0
}

/// C's `atoi`.
fn atoi(s: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(s);
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v: i64 = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |a, d| a.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if neg {
        -v
    } else {
        v
    }
}

/// DEBUG PROTOCOL: one value of each RESP3 type, so client libraries can test their parsers.
fn debug_protocol(r: &mut Reply, ty: &[u8]) -> CmdResult {
    let t = cstr(ty);
    if is(t, "string") {
        r.bulk(b"Hello World");
    } else if is(t, "integer") {
        r.int(12345);
    } else if is(t, "double") {
        // Redis' own test value (not an approximation of pi).
        #[allow(clippy::approx_constant)]
        r.double(3.141);
    } else if is(t, "bignum") {
        r.bignum(b"1234567999999999999999999999999999999");
    } else if is(t, "null") {
        r.null();
    } else if is(t, "array") {
        r.array(3);
        (0..3).for_each(|j| r.int(j));
    } else if is(t, "set") {
        r.set(3);
        (0..3).for_each(|j| r.int(j));
    } else if is(t, "map") {
        r.map(3);
        for j in 0..3 {
            r.int(j);
            r.boolean(j == 1);
        }
    } else if is(t, "attrib") {
        if r.is_resp3() {
            r.attribute(1);
            r.bulk(b"key-popularity");
            r.array(2);
            r.bulk(b"key:123");
            r.int(90);
        }
        r.bulk(b"Some real reply following the attribute");
    } else if is(t, "push") {
        if !r.is_resp3() {
            return Err("ERR RESP2 is not supported by this command".into());
        }
        r.push(2);
        r.bulk(b"server-cpu-usage");
        r.int(42);
        r.bulk(b"Some real reply following the push reply");
    } else if is(t, "true") {
        r.boolean(true);
    } else if is(t, "false") {
        r.boolean(false);
    } else if is(t, "verbatim") {
        r.verbatim(b"txt", b"This is a verbatim\nstring");
    } else {
        return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// WAIT, SAVE, BGSAVE

/// WAIT numreplicas timeout: tumbler has no replicas, so no write is ever acknowledged by one.
/// Asking for none replies 0 at once; asking for more blocks until the timeout (in ms; 0
/// waits forever), as Redis does when its replicas do not answer, and then replies 0.
pub fn wait(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numreplicas = crate::util::int(args.get(1))?;
    let timeout = tumbler_proto::num::parse_i64(args.get(2))
        .ok_or(CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    if timeout > 0 && timeout > i64::MAX - ctx.wall_ms() {
        return Err("ERR timeout is out of range".into());
    }
    if numreplicas <= 0 || ctx.conn.no_block {
        ctx.reply.int(0);
        return Ok(());
    }
    let deadline = (timeout > 0).then(|| ctx.now.saturating_add(timeout as u64));
    crate::cmd::lists::block(ctx, Vec::new(), crate::blocking::BlockOp::Wait, deadline);
    Ok(())
}

/// The reply to SAVE and BGSAVE: there is nothing to write.
const NO_PERSISTENCE: &str = "ERR tumbler keeps its data in memory only: there is no snapshot to save";

/// SAVE
pub fn save(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    Err(NO_PERSISTENCE.into())
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(_ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !is(cstr(args.get(1)), "schedule")) {
        return Err(errors::SYNTAX.into());
    }
    Err(NO_PERSISTENCE.into())
}

#[cfg(test)]
mod tests {
    use super::{atof, atoi};

    #[test]
    fn c_number_prefixes() {
        assert_eq!(atof(b"0.5"), 0.5);
        assert_eq!(atof(b"1e-3x"), 0.001);
        assert_eq!(atof(b"abc"), 0.0);
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"abc"), 0);
    }
}
