//! The engine: one Lua state with the Redis environment, the scripts compiled into it, and the
//! machinery of a run (KEYS/ARGV, the error handler, the busy-script hook, the final reply).

use crate::convert;
use crate::lua::*;
use crate::script::{Script, Sha};
use crate::vm::Vm;
use std::collections::HashMap;
use std::ffi::{c_int, CStr};
use std::sync::Arc;
use tumbler_proto::{Args, Reply};

/// Lua instructions between two calls of the busy-script hook (Redis uses the same count).
const HOOK_EVERY: c_int = 100_000;
/// Lua's `setpause`: a new collection cycle starts when the heap reaches this percentage of
/// its size after the previous one. Lua's default, 200: at 1000 each script call ran 4 % fewer
/// instructions (less marking), but the heap of dead KEYS/ARGV strings grew tenfold and
/// interning new strings (`luaS_newlstr`, 10 % of EVALSHA's CPU time) missed the cache; the
/// socket benchmark's EVALSHA cost 0.88 of redis-server's CPU per request at 1000, 0.77 at 200.
const GC_PAUSE: c_int = 200;
/// `redis.call`s between two looks at the clock for the busy-script check.
const CHECK_EVERY_CALLS: u32 = 16;
/// The error a killed script raises.
const KILLED: &[u8] = b"Script killed by user with SCRIPT KILL...";

/// What a script can reach of the server; implemented by the command layer.
pub trait Host {
    /// Runs `argv` for `redis.call`/`redis.pcall` and appends its reply, encoded in RESP `resp`
    /// (2 or 3, as chosen by `redis.setresp`), to `out`. A refusal the script layer reports
    /// (unknown command, arity, not allowed from scripts, write in a read-only script) is
    /// `Err(text)`, the text without `ERR ` (`Unknown Redis command called from script`) or a
    /// full error line (`-ERR …`). Command errors are ordinary `-` replies in `out`.
    fn call(&mut self, argv: Args<'_>, resp: u8, out: &mut Vec<u8>) -> Result<(), Vec<u8>>;
    /// `redis.acl_check_cmd`: whether the caller may run `argv`; `Err` for an unknown command.
    fn acl_check(&mut self, argv: Args<'_>) -> Result<bool, Vec<u8>>;
    /// `redis.log` at `level` (0 debug … 3 warning), already filtered by [`Host::verbosity`].
    fn log(&mut self, level: i32, msg: &[u8]);
    /// The lowest level `redis.log` writes.
    fn verbosity(&self) -> i32;
    /// Called every [`HOOK_EVERY`] instructions: true when the script must stop (SCRIPT KILL).
    fn interrupted(&mut self) -> bool;
}

/// How a script is run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// EVAL_RO/EVALSHA_RO or a `no-writes` script: refuse write commands.
    pub read_only: bool,
    /// Install the busy-script hook (busy-reply-threshold > 0).
    pub hook: bool,
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most bytes a state may hold while a script runs.
    pub memory_limit: usize,
    /// `redis.REDIS_VERSION`.
    pub redis_version: String,
    /// `redis.REDIS_VERSION_NUM` (0x00MMmmpp).
    pub redis_version_num: u32,
}

/// Scratch state of the run in progress, reachable from the C functions through [`State::run`].
pub(crate) struct RunCtx {
    host: Option<*mut (dyn Host + 'static)>,
    /// The protocol `redis.call` replies are parsed in (`redis.setresp`).
    resp: u8,
    /// The reply buffer of `redis.call`.
    out: Vec<u8>,
    /// The arguments of `redis.call`, copied out of Lua, and their spans.
    args: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Set once the hook has raised the SCRIPT KILL error.
    killed: bool,
    /// `redis.call`s so far (the busy check runs every [`CHECK_EVERY_CALLS`]).
    calls: u32,
}

/// One Lua state with the Redis environment. Not `Send`: each worker thread owns one.
pub struct Engine {
    vm: Vm,
    config: EngineConfig,
    /// Compiled scripts: registry reference of each chunk, with the script it came from.
    functions: HashMap<Sha, (c_int, Arc<Script>), foldhash::fast::RandomState>,
    /// The function found last, with its script: most runs repeat the previous script, and
    /// comparing a SHA costs less than hashing one.
    last: Option<(c_int, Arc<Script>)>,
    /// The cache generation the compiled functions belong to.
    generation: u64,
    /// Registry reference of the error handler.
    handler: c_int,
    /// The KEYS and ARGV tables, reused from run to run while scripts leave them clean.
    arrays: [ArgArray; 2],
    run: Box<RunCtx>,
}

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Engine {
        let vm = Vm::new(config.memory_limit);
        let L = vm.ptr();
        // SAFETY: a fresh state, set up outside any script; nothing raises with the cap off.
        let handler = unsafe { crate::env::install(L, &config) };
        // The live heap is small and mostly the libraries; what a run leaves behind is a few
        // strings. Start a collection cycle only once the heap has grown tenfold (Lua's
        // default is twofold), so each run pays a small share of fewer cycles.
        // SAFETY: outside any script.
        unsafe { lua_gc(L, LUA_GCSETPAUSE, GC_PAUSE) };
        Engine {
            vm,
            config,
            functions: HashMap::default(),
            last: None,
            generation: 0,
            handler,
            arrays: [ArgArray::new(b"KEYS"), ArgArray::new(b"ARGV")],
            run: Box::new(RunCtx {
                host: None,
                resp: 2,
                out: Vec::new(),
                args: Vec::new(),
                spans: Vec::new(),
                killed: false,
                calls: 0,
            }),
        }
    }

    /// Starts over with a fresh state when the shared cache was flushed since the functions
    /// here were compiled (SCRIPT FLUSH recreates the Lua VM in Redis too).
    pub fn sync_generation(&mut self, generation: u64) {
        if generation != self.generation {
            // A state that never ran a script has nothing to forget.
            if !self.functions.is_empty() {
                *self = Engine::new(self.config.clone());
            }
            self.generation = generation;
        }
    }

    /// Sets the most bytes the state may hold while a script runs.
    pub fn set_memory_limit(&mut self, bytes: usize) {
        // SAFETY: the state is ours and nothing runs in it.
        unsafe { State::of(self.vm.ptr()).limit = bytes };
        self.config.memory_limit = bytes;
    }

    /// Bytes held by the Lua state (INFO `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.vm.used_memory()
    }

    /// The compiled script named `sha`, if this state has it.
    pub fn compiled(&mut self, sha: &Sha) -> Option<&Arc<Script>> {
        if self.last.as_ref().is_none_or(|(_, s)| s.sha != *sha) {
            let (f, s) = self.functions.get(sha)?;
            self.last = Some((*f, s.clone()));
        }
        self.last.as_ref().map(|(_, s)| s)
    }

    /// The registry reference of the function compiled from `script`.
    fn function(&self, script: &Script) -> Option<c_int> {
        match &self.last {
            Some((f, s)) if s.sha == script.sha => Some(*f),
            _ => self.functions.get(&script.sha).map(|&(f, _)| f),
        }
    }

    /// Compiles `script` into this state unless it is there already. The error is the reply
    /// text (`ERR Error compiling script (new function): user_script:1: …`).
    pub fn prepare(&mut self, script: &Arc<Script>) -> Result<(), Vec<u8>> {
        if self.functions.contains_key(&script.sha) {
            return Ok(());
        }
        let L = self.vm.ptr();
        let code = script.code();
        // SAFETY: loading runs in protected mode; the cap applies to what the parser allocates.
        unsafe {
            let state = State::of(L);
            state.enforce = true;
            let rc = luaL_loadbuffer(L, code.as_ptr().cast(), code.len(), c"@user_script".as_ptr());
            state.enforce = false;
            if rc != 0 {
                let mut e = b"ERR Error compiling script (new function): ".to_vec();
                e.extend_from_slice(to_bytes(L, -1).unwrap_or(b"unknown error"));
                lua_settop(L, -2);
                return Err(e);
            }
            let r = luaL_ref(L, LUA_REGISTRYINDEX);
            self.functions.insert(script.sha, (r, script.clone()));
        }
        Ok(())
    }

    /// Runs a script compiled with [`Engine::prepare`], writing its reply (or error) to `reply`.
    /// `host` carries out its `redis.call`s.
    pub fn run(
        &mut self,
        script: &Script,
        keys: Args<'_>,
        args: Args<'_>,
        options: RunOptions,
        host: &mut dyn Host,
        reply: &mut Reply,
    ) {
        let Some(func) = self.function(script) else {
            reply.error("NOSCRIPT No matching script. Please use EVAL.");
            return;
        };
        let L = self.vm.ptr();
        // SAFETY: the host outlives the run (it is cleared below before returning); the lifetime
        // is erased only to store the pointer in the per-state context.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute::<*mut dyn Host, _>(host) };
        self.run.host = Some(host);
        self.run.resp = 2;
        self.run.killed = false;
        let _ = options.read_only; // enforced by the host, which knows the command flags
                                   // SAFETY: we drive the state from outside any script; every call that can raise is a
                                   // protected call or runs with the cap lifted on values we made.
        unsafe {
            let base = lua_gettop(L);
            lua_rawgeti_(L, LUA_REGISTRYINDEX, self.handler);
            lua_rawgeti_(L, LUA_REGISTRYINDEX, func);
            self.arrays[0].fill(L, keys);
            self.arrays[1].fill(L, args);
            let state = State::of(L);
            state.run = (&mut *self.run as *mut RunCtx).cast();
            if options.hook {
                lua_sethook(L, Some(hook), LUA_MASKCOUNT, HOOK_EVERY);
            }
            state.enforce = true;
            let rc = lua_pcall(L, 0, 1, base + 1);
            state.enforce = false;
            if options.hook {
                lua_sethook(L, None, 0, 0);
            }
            if rc == 0 {
                convert::write_value(L, reply, self.run.resp);
            } else {
                error_reply(L, &script.sha, reply);
            }
            state.run = std::ptr::null_mut();
            lua_settop(L, base);
            if rc == LUA_ERRMEM {
                // The script hit the memory limit: give the memory back now rather than
                // leaving the state at its limit until the collector gets round to it.
                lua_gc(L, LUA_GCCOLLECT, 0);
            }
        }
        self.run.host = None;
        // Do not keep the buffers of one huge call around.
        for buf in [&mut self.run.out, &mut self.run.args] {
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
        }
    }
}

/// One of the KEYS/ARGV globals. Redis builds both afresh for every run; building them is a
/// good part of a short script's cost, so the tables are kept and refilled instead, but only
/// while they provably hold nothing a script left behind (scripts may write to them): no
/// metatable, and no key outside `1..len`. Otherwise a fresh table replaces the global.
struct ArgArray {
    name: &'static [u8],
    /// Registry reference of the table (`LUA_NOREF` before the first run).
    table: c_int,
    /// Elements set by the previous fill.
    len: usize,
}

impl ArgArray {
    fn new(name: &'static [u8]) -> Self {
        ArgArray { name, table: LUA_NOREF, len: 0 }
    }

    /// Makes the global hold exactly `items`.
    ///
    /// # Safety
    /// `L` is valid, between runs (the cap is off, so nothing raises).
    unsafe fn fill(&mut self, L: *mut lua_State, items: Args<'_>) {
        // SAFETY: as documented.
        unsafe {
            if self.table != LUA_NOREF {
                lua_rawgeti_(L, LUA_REGISTRYINDEX, self.table);
                if self.is_clean(L) {
                    for (i, item) in items.iter().enumerate() {
                        push_bytes(L, item);
                        lua_rawseti_(L, -2, (i + 1) as c_int);
                    }
                    for i in items.len() + 1..=self.len {
                        lua_pushnil(L);
                        lua_rawseti_(L, -2, i as c_int);
                    }
                    self.len = items.len();
                    lua_settop(L, -2);
                    return;
                }
                lua_settop(L, -2);
                luaL_unref(L, LUA_REGISTRYINDEX, self.table);
            }
            lua_createtable(L, items.len().min(i32::MAX as usize) as c_int, 0);
            for (i, item) in items.iter().enumerate() {
                push_bytes(L, item);
                lua_rawseti_(L, -2, (i + 1) as c_int);
            }
            push_bytes(L, self.name);
            lua_pushvalue(L, -2);
            lua_enablereadonlytable(L, LUA_GLOBALSINDEX, 0);
            lua_rawset(L, LUA_GLOBALSINDEX);
            lua_enablereadonlytable(L, LUA_GLOBALSINDEX, 1);
            self.table = luaL_ref(L, LUA_REGISTRYINDEX);
            self.len = items.len();
        }
    }

    /// Whether the table at the top of the stack has no metatable and no key outside
    /// `1..=self.len`.
    unsafe fn is_clean(&self, L: *mut lua_State) -> bool {
        // SAFETY: the table is at the top; the check only reads it. `len` fits: it was the
        // length of a table we created.
        unsafe { lua_tumbler_onlyarray(L, self.len as c_int) != 0 }
    }
}

/// The reply for a script that raised: `-<err> script: <sha>, on <source>:<line>.` from the
/// error table the handler built, or Redis' generic text for errors that never reached the
/// handler (out of memory, an error inside the handler).
unsafe fn error_reply(L: *mut lua_State, sha: &Sha, reply: &mut Reply) {
    // SAFETY: the error value is at the top; only raw reads follow.
    unsafe {
        if lua_type(L, -1) != LUA_TTABLE {
            let msg = to_bytes(L, -1).unwrap_or(b"execution failure");
            let mut e = b"ERR Error running script ".to_vec();
            e.extend_from_slice(sha);
            e.extend_from_slice(b", ");
            e.extend_from_slice(&msg[..msg.len().min(100)]);
            while e.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                e.pop();
            }
            reply.error_bytes(&e);
            return;
        }
        let mut e = Vec::with_capacity(128);
        match raw_field(L, -1, b"err") {
            LUA_TSTRING | LUA_TNUMBER => e.extend_from_slice(to_bytes(L, -1).unwrap_or_default()),
            // Redis 7.0 crashes on an error table without `err` (`error({})`); say what happened.
            _ => e.extend_from_slice(b"ERR execution failure"),
        }
        lua_settop(L, -2);
        let source = raw_field(L, -1, b"source");
        let line = raw_field(L, -2, b"line");
        if matches!(source, LUA_TSTRING | LUA_TNUMBER) && matches!(line, LUA_TSTRING | LUA_TNUMBER) {
            e.extend_from_slice(b" script: ");
            e.extend_from_slice(sha);
            e.extend_from_slice(b", on ");
            e.extend_from_slice(to_bytes(L, -2).unwrap_or_default());
            e.push(b':');
            e.extend_from_slice(to_bytes(L, -1).unwrap_or_default());
            e.push(b'.');
        }
        lua_settop(L, -3);
        reply.error_bytes(&e);
    }
}

/// The run in progress on `L`.
///
/// # Safety
/// Only from C functions while [`Engine::run`] is running (the pointer is set).
pub(crate) unsafe fn run_ctx<'a>(L: *mut lua_State) -> Option<&'a mut RunCtx> {
    // SAFETY: as documented; the RunCtx is boxed and outlives the run.
    unsafe { State::of(L).run.cast::<RunCtx>().as_mut() }
}

/// The count hook: stops a script that SCRIPT KILL asked to stop.
unsafe extern "C-unwind" fn hook(L: *mut lua_State, _ar: *mut lua_Debug) {
    // SAFETY: set only while a run is in progress.
    let Some(run) = (unsafe { run_ctx(L) }) else { return };
    let Some(host) = run.host else { return };
    // SAFETY: the host pointer is valid for the run.
    let kill = run.killed || unsafe { (*host).interrupted() };
    if kill {
        run.killed = true;
        // SAFETY: nothing is owned here. From now on the hook runs at every line, so a script
        // that catches the error with pcall cannot keep running for long.
        unsafe {
            lua_sethook(L, Some(hook), LUA_MASKLINE, 0);
            Raise::Table(KILLED.to_vec()).raise(L);
        }
    }
}

lua_fn! {
    /// `redis.call(cmd, ...)`.
    pub(crate) fn redis_call(L) {
        // SAFETY: called by Lua with a run in progress.
        unsafe { generic_call(L, true) }
    }
}

lua_fn! {
    /// `redis.pcall(cmd, ...)`.
    pub(crate) fn redis_pcall(L) {
        // SAFETY: called by Lua with a run in progress.
        unsafe { generic_call(L, false) }
    }
}

/// Copies the arguments of a `redis.*` call into `buf` (strings as they are, numbers as
/// `%.17g`) with their `spans`. The error is the message of the error table to raise.
unsafe fn collect_args(L: *mut lua_State, buf: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) -> Result<(), Vec<u8>> {
    buf.clear();
    spans.clear();
    // SAFETY: plain stack reads.
    unsafe {
        let argc = lua_gettop(L);
        if argc == 0 {
            return Err(b"Please specify at least one argument for this redis lib call".to_vec());
        }
        for j in 1..=argc {
            let start = buf.len();
            match lua_type(L, j) {
                LUA_TNUMBER => format_g17(buf, lua_tonumber(L, j)),
                LUA_TSTRING => buf.extend_from_slice(to_bytes(L, j).unwrap_or_default()),
                _ => return Err(b"Lua redis lib command arguments must be strings or integers".to_vec()),
            }
            spans.push((start, buf.len()));
        }
    }
    Ok(())
}

/// `%.17g`, with a fast path for the integers scripts usually pass.
fn format_g17(out: &mut Vec<u8>, d: f64) {
    if d.fract() == 0.0 && d.abs() < 1e15 && !(d == 0.0 && d.is_sign_negative()) {
        tumbler_proto::num::push_i64(out, d as i64);
    } else {
        tumbler_proto::num::push_double_g17(out, d);
    }
}

unsafe fn generic_call(L: *mut lua_State, raise: bool) -> Result<c_int, Raise> {
    // SAFETY: called by Lua with a run in progress; the cap is lifted for every push below.
    unsafe {
        let Some(run) = run_ctx(L) else {
            return Err(Raise::Table(b"redis.call/pcall can only be called inside a script invocation".to_vec()));
        };
        let host = run.host.ok_or_else(|| Raise::Plain(b"no host".to_vec()))?;
        // A script that spends its time in commands runs few instructions: look at the clock
        // every few calls too, not only from the count hook. A kill takes effect at the next
        // line, from the hook, as it would have from the count hook.
        run.calls = run.calls.wrapping_add(1);
        if !run.killed && run.calls % CHECK_EVERY_CALLS == 0 && (*host).interrupted() {
            run.killed = true;
            lua_sethook(L, Some(hook), LUA_MASKLINE, 0);
        }
        let mut out = std::mem::take(&mut run.out);
        out.clear();
        let result = match collect_args(L, &mut run.args, &mut run.spans) {
            Ok(()) => (*host).call(Args::new(&run.args, &run.spans), run.resp, &mut out),
            Err(e) => Err(e),
        };
        lua_settop(L, 0);
        let state = State::of(L);
        let raised = state.unlimited(|| match result {
            Err(msg) => {
                convert::push_error_table(L, &msg);
                true
            }
            Ok(()) => match convert::push_reply(L, &out) {
                Ok(_) => out.first() == Some(&b'-'),
                Err(_) => {
                    lua_settop(L, 0);
                    convert::push_error_table(L, b"internal error: malformed reply");
                    true
                }
            },
        });
        run.out = out;
        if raise && raised {
            Err(Raise::OnStack)
        } else {
            Ok(1)
        }
    }
}

lua_fn! {
    /// `redis.acl_check_cmd(cmd, ...)`.
    pub(crate) fn redis_acl_check_cmd(L) {
        // SAFETY: called by Lua with a run in progress.
        unsafe {
            let Some(run) = run_ctx(L) else {
                return Err(Raise::Table(b"redis.acl_check_cmd can only be called inside a script invocation".to_vec()));
            };
            let host = run.host.ok_or_else(|| Raise::Plain(b"no host".to_vec()))?;
            let result = match collect_args(L, &mut run.args, &mut run.spans) {
                Ok(()) => (*host).acl_check(Args::new(&run.args, &run.spans)),
                Err(e) => Err(e),
            };
            match result {
                Ok(allowed) => {
                    lua_settop(L, 0);
                    lua_pushboolean(L, c_int::from(allowed));
                    Ok(1)
                }
                Err(e) => Err(Raise::Table(e)),
            }
        }
    }
}

lua_fn! {
    /// `redis.sha1hex(s)`.
    pub(crate) fn redis_sha1hex(L) {
        // SAFETY: plain stack access.
        unsafe {
            if lua_gettop(L) != 1 {
                return Err(Raise::Table(b"wrong number of arguments".to_vec()));
            }
            let digest = crate::script::sha1_hex(to_bytes(L, 1).unwrap_or_default());
            State::of(L).unlimited(|| push_bytes(L, &digest));
        }
        Ok(1)
    }
}

/// `redis.error_reply`/`redis.status_reply` argument check: exactly one string.
unsafe fn single_string_arg<'a>(L: *mut lua_State) -> Option<&'a [u8]> {
    // SAFETY: plain stack access.
    unsafe {
        if lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING {
            None
        } else {
            to_bytes(L, -1)
        }
    }
}

lua_fn! {
    /// `redis.error_reply(msg)`: `{err = msg}` with Redis' code handling.
    pub(crate) fn redis_error_reply(L) {
        // SAFETY: plain stack access; pushes with the cap lifted.
        unsafe {
            let msg = match single_string_arg(L) {
                Some(s) if s.first() == Some(&b'-') => s.to_vec(),
                Some(s) => {
                    let mut m = Vec::with_capacity(s.len() + 1);
                    m.push(b'-');
                    m.extend_from_slice(s);
                    m
                }
                None => b"wrong number or type of arguments".to_vec(),
            };
            State::of(L).unlimited(|| convert::push_error_table(L, &msg));
        }
        Ok(1)
    }
}

lua_fn! {
    /// `redis.status_reply(msg)`: `{ok = msg}`.
    pub(crate) fn redis_status_reply(L) {
        // SAFETY: plain stack access; pushes with the cap lifted.
        unsafe {
            let state = State::of(L);
            match single_string_arg(L) {
                Some(_) => state.unlimited(|| {
                    lua_createtable(L, 0, 1);
                    push_bytes(L, b"ok");
                    lua_pushvalue(L, -3);
                    lua_rawset(L, -3);
                }),
                None => state.unlimited(|| convert::push_error_table(L, b"wrong number or type of arguments")),
            }
        }
        Ok(1)
    }
}

lua_fn! {
    /// `redis.log(level, ...)`.
    pub(crate) fn redis_log(L) {
        // SAFETY: called by Lua; reads only.
        unsafe {
            let argc = lua_gettop(L);
            if argc < 2 {
                return Err(Raise::Table(b"redis.log() requires two arguments or more.".to_vec()));
            }
            if lua_isnumber(L, 1) == 0 {
                return Err(Raise::Table(b"First argument must be a number (log level).".to_vec()));
            }
            let level = convert::c_long_long(lua_tonumber(L, 1)) as i32;
            if !(0..=3).contains(&level) {
                return Err(Raise::Table(b"Invalid debug level.".to_vec()));
            }
            let Some(host) = run_ctx(L).and_then(|r| r.host) else { return Ok(0) };
            if level < (*host).verbosity() {
                return Ok(0);
            }
            let mut msg = Vec::new();
            State::of(L).unlimited(|| {
                for j in 2..=argc {
                    if let Some(s) = to_bytes(L, j) {
                        if j != 2 {
                            msg.push(b' ');
                        }
                        msg.extend_from_slice(s);
                    }
                }
            });
            (*host).log(level, &msg);
        }
        Ok(0)
    }
}

lua_fn! {
    /// `redis.setresp(2|3)`.
    pub(crate) fn redis_setresp(L) {
        // SAFETY: called by Lua; reads only.
        unsafe {
            let Some(run) = run_ctx(L) else {
                return Err(Raise::Table(b"redis.setresp can only be called inside a script invocation".to_vec()));
            };
            if lua_gettop(L) != 1 {
                return Err(Raise::Table(b"redis.setresp() requires one argument.".to_vec()));
            }
            let resp = convert::c_long_long(lua_tonumber(L, 1)) as i32;
            if resp != 2 && resp != 3 {
                return Err(Raise::Table(b"RESP version must be 2 or 3.".to_vec()));
            }
            run.resp = resp as u8;
        }
        Ok(0)
    }
}

lua_fn! {
    /// `redis.set_repl(flags)`: validated; replication is not something tumbler does.
    pub(crate) fn redis_set_repl(L) {
        // SAFETY: called by Lua; reads only.
        unsafe {
            if run_ctx(L).is_none() {
                return Err(Raise::Table(b"redis.set_repl can only be called inside a script invocation".to_vec()));
            }
            if lua_gettop(L) != 1 {
                return Err(Raise::Table(b"redis.set_repl() requires two arguments.".to_vec()));
            }
            let flags = convert::c_long_long(lua_tonumber(L, 1)) as i32;
            if flags & !3 != 0 {
                return Err(Raise::Table(
                    b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.".to_vec(),
                ));
            }
        }
        Ok(0)
    }
}

lua_fn! {
    /// `redis.replicate_commands()`: always true since Redis 7.0.
    pub(crate) fn redis_replicate_commands(L) {
        // SAFETY: one push; the stack always has room for one result.
        unsafe { State::of(L).unlimited(|| lua_pushboolean(L, 1)) };
        Ok(1)
    }
}

lua_fn! {
    /// `redis.breakpoint()` / `redis.debug()`: only meaningful under the script debugger.
    pub(crate) fn redis_noop(_L) {
        Ok(0)
    }
}

lua_fn! {
    /// The global `pcall`: the stock one, except that a caught Redis error table comes back as
    /// its `err` string (scripts written for older Redis compare error strings).
    pub(crate) fn redis_global_pcall(L) {
        // SAFETY: called by Lua; lua_pcall catches whatever the callee raises.
        unsafe {
            luaL_checkany(L, 1);
            let argc = lua_gettop(L);
            let state = State::of(L);
            state.unlimited(|| {
                lua_pushboolean(L, 1);
                lua_insert(L, 1);
            });
            if lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0 {
                state.unlimited(|| {
                    lua_remove(L, 1);
                    if lua_type(L, -1) == LUA_TTABLE
                        && (raw_field(L, -1, b"err") == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
                    {
                        lua_replace(L, -2);
                    }
                    lua_pushboolean(L, 0);
                    lua_insert(L, 1);
                });
            }
            Ok(lua_gettop(L))
        }
    }
}

lua_fn! {
    /// The `__index` of the globals table: reading a global that does not exist is an error.
    pub(crate) fn nonexistent_global(L) {
        // SAFETY: called by Lua as a metamethod.
        unsafe {
            if lua_gettop(L) != 2 {
                return Err(Raise::at("Wrong number of arguments to luaProtectedTableError"));
            }
            let Some(name) = (match lua_type(L, 2) {
                LUA_TSTRING | LUA_TNUMBER => State::of(L).unlimited(|| to_bytes(L, 2)),
                _ => None,
            }) else {
                return Err(Raise::at("Second argument to luaProtectedTableError must be a string or number"));
            };
            let mut msg = b"Script attempted to access nonexistent global variable '".to_vec();
            msg.extend_from_slice(name);
            msg.push(b'\'');
            Err(Raise::Where(msg))
        }
    }
}

lua_fn! {
    /// The message handler of every run (also the global `__redis__err__handler`): turns the
    /// error value into `{err = …, source = …, line = …}`, the position being that of the Lua
    /// function that raised (skipping a C function such as `error` or `redis.call`).
    pub(crate) fn error_handler(L) {
        // SAFETY: called by Lua with the error value at 1 and `tostring` as upvalue 1. Calls
        // that may raise (tostring, concatenation, field writes) run with nothing owned; an
        // error here becomes Lua's "error in error handling".
        unsafe {
            lua_settop(L, 1);
            let mut ar: lua_Debug = std::mem::zeroed();
            let mut found = lua_getstack(L, 1, &mut ar) != 0 && lua_getinfo(L, c"nSl".as_ptr(), &mut ar) != 0;
            if found && !ar.what.is_null() && CStr::from_ptr(ar.what).to_bytes() == b"C" {
                found = lua_getstack(L, 2, &mut ar) != 0 && lua_getinfo(L, c"nSl".as_ptr(), &mut ar) != 0;
            }
            if lua_type(L, 1) != LUA_TTABLE {
                lua_pushvalue(L, lua_upvalueindex(1));
                lua_pushvalue(L, 1);
                lua_call(L, 1, 1);
                lua_pushstring_(L, c"ERR ".as_ptr());
                lua_insert(L, -2);
                lua_concat(L, 2);
                lua_createtable(L, 0, 3);
                lua_insert(L, -2);
                lua_setfield(L, -2, c"err".as_ptr());
                lua_replace(L, 1);
            }
            if found {
                lua_pushstring_(L, ar.source);
                lua_setfield(L, 1, c"source".as_ptr());
                lua_pushnumber(L, f64::from(ar.currentline));
                lua_setfield(L, 1, c"line".as_ptr());
            }
            Ok(1)
        }
    }
}
