//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT and the FUNCTION subcommands that concern
//! running scripts (KILL, STATS).
//!
//! Each worker thread has its own Lua engine (and a script client: the connection state that
//! `redis.call` runs commands on). A script is atomic whatever keys it touches, in one of two
//! ways:
//!
//! * *alone*: it takes the whole keyspace (the gate's exclusive side), as Redis runs every
//!   script. Any script may run this way.
//! * *beside others*: a script that provably touches only its declared keys and always finishes
//!   (`tumbler_scripting::declared`: the lock scripts clients send are of this kind) claims the
//!   shards of its KEYS instead ([`tumbler_keyspace::Keyspace::claim`]). Other workers keep
//!   serving every other shard, and their own such scripts, meanwhile. Each command it calls
//!   is checked again at run time: a key outside the claim is an error, never a look at
//!   another client's half-done work.

use crate::client::{ClientInfo, Conn};
use crate::cmd::connection::help;
use crate::scripts::{BUSY, NOTBUSY, UNKILLABLE};
use crate::spec::F;
use crate::util::is;
use crate::{CmdError, CmdResult, CommandId, Ctx, Server};
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tumbler_keyspace::Claim;
use tumbler_proto::{errors, num, Args, Protocol, Reply};
use tumbler_scripting::declared::Db;
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
        let run = Run { script: &script, keys, argv, read_only, user, caller };
        // Beside others only from a batch that shares the gate: a batch that already took it
        // (an earlier script, EXEC) has the keyspace anyway, and busy mode runs no script.
        let beside = if !ctx.conn.exclusive && matches!(*ctx.gate, Some(crate::Passage::Shared(_))) {
            script
                .declared_keys_only(&|name| srv.registry.script_key_rule(name))
                .and_then(|db| beside_db(db, ctx.conn.db, argv, srv.keyspace.databases(), run.user.is_some()))
        } else {
            None
        };
        let w = srv.stats.worker(ctx.worker);
        if beside.is_some() { &w.scripts_beside } else { &w.scripts_alone }.fetch_add(1, Relaxed);
        if let Some(db) = beside {
            let claim = srv.keyspace.claim(db, keys.iter(), ctx.worker + 1);
            if claim.waited() {
                ctx.now = srv.clock.mono_ms().max(ctx.now);
            }
            run.go(ctx, local, Some(&claim));
            drop(claim);
            ctx.now = srv.clock.mono_ms().max(ctx.now);
        } else {
            ctx.exclusive(|ctx| {
                // The batch's time, read again if entering the gate meant waiting.
                srv.scripts.begin(ctx.worker, ctx.now);
                run.go(ctx, local, None);
                let was_busy = srv.scripts.busy();
                srv.scripts.end();
                if let Some(service) = srv.busy_service.get().filter(|_| was_busy) {
                    (service.ended)();
                }
            });
        }
        if srv.shutting_down.load(Relaxed) {
            // SHUTDOWN NOSAVE stopped the script: like Redis, the caller gets no reply.
            ctx.conn.close_now = true;
        }
        Ok(())
    })
}

/// The database a script beside others works in, known before it runs: the caller's, or the
/// one its leading SELECT names ([`Db::Argv`]), read from `argv` exactly as SELECT will read
/// it (a SELECT that will fail leaves the caller's). `None` when that cannot be told for sure,
/// and the script runs alone: an ARGV it does not have, a `tonumber` of anything but plain
/// digits (whose number could print differently), or a restricted caller (ACL could refuse
/// the SELECT).
fn beside_db(db: Db, caller: usize, argv: Args<'_>, databases: usize, restricted: bool) -> Option<usize> {
    let Db::Argv { index, tonumber } = db else { return Some(caller) };
    if restricted || index > argv.len() {
        return None;
    }
    let a = argv.get(index - 1);
    let plain = a == b"0" || (a.first().is_some_and(|c| (b'1'..=b'9').contains(c)) && a.iter().all(u8::is_ascii_digit));
    if tonumber && !plain {
        return None;
    }
    Some(crate::util::db_index(a, databases).unwrap_or(caller))
}

/// One script run, whichever way it holds the keyspace.
struct Run<'s, 'a> {
    script: &'s Script,
    keys: Args<'a>,
    argv: Args<'a>,
    read_only: bool,
    user: Option<Arc<tumbler_acl::User>>,
    caller: Arc<ClientInfo>,
}

impl Run<'_, '_> {
    /// Runs the script on this worker's engine, its reply into `ctx`'s. `claim` is the shards
    /// it has to itself when it runs beside others (`None`: it has the whole keyspace).
    fn go(self, ctx: &mut Ctx<'_>, local: &mut Local, claim: Option<&Claim<'_>>) {
        let srv = ctx.srv;
        let Local { engine, conn, reply } = local;
        conn.db = ctx.conn.db;
        conn.no_block = true;
        conn.in_script = true;
        // Alone, the script already has the keyspace to itself (FLUSHALL from a script must
        // not wait for it). Beside others it calls no such command.
        conn.exclusive = claim.is_none();
        conn.caller = ctx.conn.id();
        conn.authenticated = true;
        let mut host = ScriptHost {
            srv,
            conn,
            reply,
            now: ctx.now,
            worker: ctx.worker,
            read_only: self.read_only,
            threshold: srv.config.busy_reply_threshold.load(Relaxed),
            wrote: false,
            user: self.user,
            caller: self.caller,
            claim,
        };
        let mark = ctx.reply.mark();
        // The busy-script hook serves SCRIPT KILL and -BUSY, which concern a script that runs
        // alone; a script beside others cannot loop.
        let options = RunOptions { read_only: self.read_only, hook: claim.is_none() };
        engine.run(self.script, self.keys, self.argv, options, &mut host, ctx.reply);
        if !host.conn.own_messages.is_empty() {
            ctx.reply.insert_raw(mark, &host.conn.own_messages);
            host.conn.own_messages.clear();
        }
        ctx.conn.ready.append(&mut host.conn.ready);
    }
}

/// What a script beside others gets for calling a command on a key outside its claim (the
/// source check should make this impossible; the run-time check makes sure).
const OUTSIDE_CLAIM: &[u8] =
    b"ERR tumbler: a script running beside others may only call commands on its declared keys (KEYS)";

impl ScriptHost<'_> {
    /// A script beside others may call only commands whose keys the server can see, on keys
    /// in the shards it claimed, in its own database.
    /// `id` is the command's (not a subcommand's).
    fn check_claim(&self, claim: &Claim<'_>, id: CommandId, argv: Args<'_>) -> Result<(), Vec<u8>> {
        use tumbler_scripting::declared::KeyRule;
        let keys = match self.srv.registry.get(id).script_key_rule {
            // The leading SELECT the claim was taken for ([`beside_db`]): a key in any other
            // database fails `covers` in a later call.
            KeyRule::NoKeys | KeyRule::Select => return Ok(()),
            KeyRule::First => 1..2,
            KeyRule::All => 1..argv.len(),
            KeyRule::Unknown => return Err(OUTSIDE_CLAIM.to_vec()),
        };
        for i in keys {
            if !claim.covers(&self.srv.keyspace.key(self.conn.db, argv.get(i))) {
                return Err(OUTSIDE_CLAIM.to_vec());
            }
        }
        Ok(())
    }
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
    /// The shards the script has to itself when it runs beside others.
    claim: Option<&'a Claim<'a>>,
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, argv: Args<'_>, resp: u8, out: &mut Vec<u8>) -> Result<(), Vec<u8>> {
        let reg = &self.srv.registry;
        let Some(command) = reg.lookup(argv.get(0)) else {
            return Err(b"Unknown Redis command called from script".to_vec());
        };
        let mut id = command;
        let mut spec = reg.get(id).spec;
        if !spec.subcommands.is_empty() && argv.len() >= 2 {
            id = reg.lookup_sub(id, argv.get(1)).ok_or_else(|| b"Unknown Redis command called from script".to_vec())?;
            spec = reg.get(id).spec;
        }
        if !spec.arity_ok(argv.len()) {
            return Err(b"Wrong number of args calling Redis command from script".to_vec());
        }
        if let Some(claim) = self.claim {
            self.check_claim(claim, command, argv)?;
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
            if self.claim.is_none() {
                self.srv.scripts.mark_wrote();
            }
        }
        self.reply.set_protocol(if resp == 3 { Protocol::Resp3 } else { Protocol::Resp2 });
        self.conn.protocol = self.reply.protocol();
        let mut ctx = Ctx {
            srv: self.srv,
            conn: &mut *self.conn,
            reply: &mut *self.reply,
            now: self.now,
            worker: self.worker,
            gate: &mut None,
        };
        crate::dispatch::call(&mut ctx, id, argv);
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
        if self.claim.is_some() {
            // SCRIPT KILL and -BUSY concern the script that runs alone.
            return self.srv.shutting_down.load(Relaxed);
        }
        let srv = self.srv;
        let now = srv.clock.mono_ms();
        let mut killed = srv.scripts.check(now, self.threshold);
        if !killed && srv.scripts.busy() {
            // Answer this worker's other clients: -BUSY, or SCRIPT KILL and the like.
            if let Some(service) = srv.busy_service.get() {
                (service.serve)(srv, now);
                killed = srv.scripts.kill_requested();
            }
        }
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
