//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT and the FUNCTION subcommands that concern
//! running scripts (KILL, STATS).
//!
//! Each worker thread has its own Lua engine (and a script client: the connection state that
//! `redis.call` runs commands on). A script runs with the keyspace to itself, so it is atomic
//! whatever keys it touches, declared or not.

use crate::client::{ClientInfo, Conn};
use crate::cmd::connection::help;
use crate::scripts::{BUSY, NOTBUSY, UNKILLABLE};
use crate::spec::F;
use crate::util::is;
use crate::{CmdError, CmdResult, Ctx, Server};
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tumbler_proto::{errors, num, Args, Protocol, Reply};
use tumbler_scripting::{sha1_hex, sha_arg, Engine, EngineConfig, Host, RunOptions, Script};

/// What a worker thread keeps for scripts.
struct Local {
    engine: Engine,
    /// The script client: its database (SELECT inside a script), protocol and flags.
    conn: Conn,
    /// The script client's reply buffer.
    reply: Reply,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine, started over if SCRIPT FLUSH happened since.
fn with_local<R>(srv: &Server, f: impl FnOnce(&mut Local) -> R) -> R {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        let limit = srv.config.lua_memory_limit.load(Relaxed) as usize;
        let local = slot.get_or_insert_with(|| Local {
            engine: Engine::new(EngineConfig {
                memory_limit: limit,
                redis_version: crate::server::REDIS_VERSION.to_string(),
                redis_version_num: 0x07_00_0f,
            }),
            conn: Conn::new(Arc::new(ClientInfo::new(0, String::new(), String::new(), -1, 0)), true, true),
            reply: Reply::new(),
        });
        local.engine.sync_generation(srv.scripts.cache.generation());
        local.engine.set_memory_limit(limit);
        let r = f(local);
        srv.scripts.set_lua_memory(local.engine.used_memory());
        r
    })
}

/// Bytes the Lua state of this thread holds (INFO `used_memory_lua`; 0 before any script).
pub fn lua_memory() -> usize {
    LOCAL.with(|cell| cell.try_borrow().ok().and_then(|l| l.as_ref().map(|l| l.engine.used_memory())).unwrap_or(0))
}

/// EVAL script numkeys [key ...] [arg ...]
pub fn eval(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run_script(ctx, args, false, false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run_script(ctx, args, true, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
pub fn eval_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run_script(ctx, args, false, true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
pub fn evalsha_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run_script(ctx, args, true, true)
}

fn run_script(ctx: &mut Ctx<'_>, args: Args<'_>, by_sha: bool, ro_command: bool) -> CmdResult {
    // EVAL is flagged skip-monitor and shown here instead, so that MONITOR lists it before
    // the commands the script runs (as Redis does).
    if ctx.srv.monitors.active() {
        let from = crate::monitor::Source::Client(&ctx.conn.info);
        ctx.srv.monitors.feed(ctx.srv.clock.wall_us(), ctx.conn.db, from, args);
    }
    let first = args.get(1);
    if by_sha && first.len() != 40 {
        return Err(errors::NOSCRIPT.into());
    }
    let numkeys = num::parse_i64(args.get(2)).ok_or(errors::NOT_INTEGER)?;
    if numkeys > (args.len() - 3) as i64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if numkeys < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let split = 3 + numkeys as usize;
    let (keys, argv) = (args.slice(3, split), args.slice_from(split));
    let srv = ctx.srv;
    with_local(srv, |local| {
        let script = if by_sha {
            let sha = sha_arg(first).ok_or(errors::NOSCRIPT)?;
            match local.engine.compiled(&sha) {
                Some(s) => s.clone(),
                None => {
                    let s = srv.scripts.cache.get(&sha).ok_or(errors::NOSCRIPT)?;
                    local.engine.prepare(&s).map_err(CmdError::Owned)?;
                    s
                }
            }
        } else {
            let sha = sha1_hex(first);
            match local.engine.compiled(&sha) {
                Some(s) => s.clone(),
                None => {
                    let s = match srv.scripts.cache.get(&sha) {
                        Some(s) => s,
                        None => Arc::new(Script::new(first).map_err(CmdError::Owned)?),
                    };
                    local.engine.prepare(&s).map_err(CmdError::Owned)?;
                    srv.scripts.cache.insert(&s);
                    s
                }
            }
        };
        if ro_command && script.flags.shebang && !script.flags.no_writes {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
        let read_only = ro_command || script.flags.no_writes;
        // The script runs with the caller's permissions.
        let user = crate::acl::restricted_user(srv, &mut ctx.conn.user);
        let caller = ctx.conn.info.clone();
        ctx.exclusive(|ctx| {
            let threshold = srv.config.busy_reply_threshold.load(Relaxed);
            // The batch's time, read again if entering the gate meant waiting.
            srv.scripts.begin(ctx.worker, ctx.now);
            let Local { engine, conn, reply } = local;
            conn.db = ctx.conn.db;
            conn.no_block = true;
            conn.in_script = true;
            // The script already has the keyspace to itself (FLUSHALL from a script must not
            // wait for it).
            conn.exclusive = true;
            conn.caller = ctx.conn.id();
            conn.authenticated = true;
            let mut host = ScriptHost {
                srv,
                conn,
                reply,
                now: ctx.now,
                worker: ctx.worker,
                read_only,
                threshold,
                wrote: false,
                user,
                caller,
            };
            let mark = ctx.reply.mark();
            engine.run(&script, keys, argv, RunOptions { read_only, hook: true }, &mut host, ctx.reply);
            if !host.conn.own_messages.is_empty() {
                ctx.reply.insert_raw(mark, &host.conn.own_messages);
                host.conn.own_messages.clear();
            }
            ctx.conn.ready.append(&mut host.conn.ready);
            srv.scripts.end();
            if srv.shutting_down.load(Relaxed) {
                // SHUTDOWN NOSAVE stopped the script: like Redis, the caller gets no reply.
                ctx.conn.close_now = true;
            }
        });
        Ok(())
    })
}

/// `redis.call` on the script client.
struct ScriptHost<'a> {
    srv: &'a Server,
    conn: &'a mut Conn,
    reply: &'a mut Reply,
    now: u64,
    worker: usize,
    read_only: bool,
    threshold: u64,
    wrote: bool,
    /// The caller's user when it is restricted (`None`: it may run everything).
    user: Option<Arc<tumbler_acl::User>>,
    /// The client that runs the script (ACL LOG `client-info`).
    caller: Arc<ClientInfo>,
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, argv: Args<'_>, resp: u8, out: &mut Vec<u8>) -> Result<(), Vec<u8>> {
        let reg = &self.srv.registry;
        let Some(mut id) = reg.lookup(argv.get(0)) else {
            return Err(b"Unknown Redis command called from script".to_vec());
        };
        let mut spec = reg.get(id).spec;
        if !spec.subcommands.is_empty() && argv.len() >= 2 {
            id = reg.lookup_sub(id, argv.get(1)).ok_or_else(|| b"Unknown Redis command called from script".to_vec())?;
            spec = reg.get(id).spec;
        }
        if !spec.arity_ok(argv.len()) {
            return Err(b"Wrong number of args calling Redis command from script".to_vec());
        }
        if spec.has(F::NOSCRIPT) {
            return Err(b"This Redis command is not allowed from script".to_vec());
        }
        if let Some(user) = &self.user {
            if let Err(denial) = crate::acl::check(self.srv, user, id, argv) {
                let context = tumbler_acl::LogContext::Lua;
                crate::acl::log_denial(self.srv, &self.caller, user.name(), denial, id, argv, context, self.now);
                return Err(crate::acl::script_denial(denial).as_bytes().to_vec());
            }
        }
        if self.read_only && (spec.has(F::WRITE) || spec.has(F::MAY_REPLICATE)) {
            return Err(b"Write commands are not allowed from read-only scripts.".to_vec());
        }
        if spec.has(F::DENYOOM) && crate::dispatch::out_of_memory(self.srv) {
            // The command's own error reply, as Redis gives it (not a script error).
            out.push(b'-');
            out.extend_from_slice(tumbler_proto::errors::OOM.as_bytes());
            out.extend_from_slice(b"\r\n");
            self.srv.stats.error(tumbler_proto::errors::OOM.as_bytes());
            return Ok(());
        }
        if spec.has(F::WRITE) && !self.wrote {
            self.wrote = true;
            self.srv.scripts.mark_wrote();
        }
        self.reply.set_protocol(if resp == 3 { Protocol::Resp3 } else { Protocol::Resp2 });
        self.conn.protocol = self.reply.protocol();
        let mut ctx = Ctx {
            srv: self.srv,
            conn: &mut *self.conn,
            reply: &mut *self.reply,
            now: self.now,
            worker: self.worker,
            gate: None,
        };
        crate::dispatch::call(&mut ctx, id, argv);
        drop(ctx);
        out.extend_from_slice(self.reply.as_bytes());
        let n = self.reply.len();
        self.reply.consume(n);
        Ok(())
    }

    fn acl_check(&mut self, argv: Args<'_>) -> Result<bool, Vec<u8>> {
        let reg = &self.srv.registry;
        let invalid = || b"Invalid command passed to redis.acl_check_cmd()".to_vec();
        let mut id = reg.lookup(argv.get(0)).ok_or_else(invalid)?;
        let spec = reg.get(id).spec;
        if !spec.subcommands.is_empty() && argv.len() >= 2 {
            id = reg.lookup_sub(id, argv.get(1)).ok_or_else(invalid)?;
        }
        Ok(self.user.as_ref().is_none_or(|user| crate::acl::check(self.srv, user, id, argv).is_ok()))
    }

    fn log(&mut self, level: i32, msg: &[u8]) {
        let msg = String::from_utf8_lossy(msg);
        match level {
            0 => tracing::debug!("{msg}"),
            1 => tracing::debug!("{msg}"),
            2 => tracing::info!("{msg}"),
            _ => tracing::warn!("{msg}"),
        }
    }

    fn verbosity(&self) -> i32 {
        i32::from(self.srv.config.loglevel.load(Relaxed))
    }

    fn interrupted(&mut self) -> bool {
        let killed = self.srv.scripts.check(self.srv.clock.mono_ms(), self.threshold);
        if killed {
            tracing::warn!("Lua script killed by user with SCRIPT KILL.");
        }
        killed || self.srv.shutting_down.load(Relaxed)
    }
}

/// SCRIPT LOAD script
pub fn script_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let body = args.get(2);
    let srv = ctx.srv;
    let sha = sha1_hex(body);
    with_local(srv, |local| {
        if local.engine.compiled(&sha).is_none() {
            let s = match srv.scripts.cache.get(&sha) {
                Some(s) => s,
                None => Arc::new(Script::new(body).map_err(CmdError::Owned)?),
            };
            local.engine.prepare(&s).map_err(CmdError::Owned)?;
            srv.scripts.cache.insert(&s);
        }
        Ok::<(), CmdError>(())
    })?;
    ctx.reply.bulk(&sha);
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.reply.array(args.len() - 2);
    for a in args.iter().skip(2) {
        let found = sha_arg(a).is_some_and(|sha| ctx.srv.scripts.cache.contains(&sha));
        ctx.reply.int(i64::from(found));
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC|SYNC]
pub fn script_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let ok = match args.len() {
        2 => true,
        3 => is(args.get(2), "async") || is(args.get(2), "sync"),
        _ => false,
    };
    if !ok {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    ctx.srv.scripts.cache.flush();
    ctx.reply.ok();
    Ok(())
}

/// SCRIPT KILL
pub fn script_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.scripts.kill()?;
    ctx.reply.ok();
    Ok(())
}

/// SCRIPT DEBUG YES|SYNC|NO: tumbler has no Lua debugger, so only NO is accepted.
pub fn script_debug(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mode = args.get(2);
    if is(mode, "no") {
        ctx.reply.ok();
        Ok(())
    } else if is(mode, "yes") || is(mode, "sync") {
        Err("ERR tumbler has no Lua debugger: SCRIPT DEBUG YES and SYNC are not supported".into())
    } else {
        Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into())
    }
}

/// SCRIPT HELP
pub fn script_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// FUNCTION KILL: tumbler has no functions; a running EVAL can only be stopped by SCRIPT KILL.
pub fn function_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let s = &ctx.srv.scripts;
    Err(match (s.running(), s.wrote()) {
        (false, _) => NOTBUSY,
        (true, true) => UNKILLABLE,
        (true, false) => BUSY,
    }
    .into())
}

/// FUNCTION STATS: no function runs, and there are no libraries.
pub fn function_stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.srv.scripts.running() {
        return Err(BUSY.into());
    }
    let r = &mut *ctx.reply;
    r.map(2);
    r.bulk(b"running_script");
    r.null();
    r.bulk(b"engines");
    r.map(1);
    r.bulk(b"LUA");
    r.map(2);
    r.bulk(b"libraries_count");
    r.int(0);
    r.bulk(b"functions_count");
    r.int(0);
    Ok(())
}

/// FCALL function numkeys [key ...] [arg ...]: tumbler has no functions (FUNCTION LOAD is not
/// supported), so every name is unknown, with Redis' reply for an unknown function.
pub fn fcall(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    Err("ERR Function not found".into())
}

/// FCALL_RO function numkeys [key ...] [arg ...]: as FCALL.
pub fn fcall_ro(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    Err("ERR Function not found".into())
}
