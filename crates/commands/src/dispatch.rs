//! The dispatcher: from parsed arguments to a reply, with Redis' checks in Redis' order:
//! exists → arity → authenticated → allowed in a transaction → ACL → (out-of-memory: later) →
//! allowed in RESP2 subscribed mode → not busy → queued (inside MULTI) or run. A command
//! rejected inside MULTI aborts the transaction.

use crate::client::ReplyMode;
use crate::monitor::Source;
use crate::registry::CommandId;
use crate::spec::{CommandSpec, F};
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
    // As Redis' authRequired(): a connection that never authenticated may run commands once
    // the default user needs no password any more.
    if !ctx.conn.authenticated && !spec.has(F::NO_AUTH) && ctx.srv.config.has_password.load(Relaxed) {
        reject(ctx, Some(id), errors::NOAUTH.as_bytes());
        return Some(id);
    }
    if ctx.conn.multi.is_some() && spec.has(F::NO_MULTI) {
        reject(ctx, Some(id), b"ERR Command not allowed inside a transaction");
        return Some(id);
    }
    if !acl_allows(ctx, id, args) {
        return Some(id);
    }
    // noeviction: over maxmemory, commands that may grow memory are refused (EXEC when it
    // queued one, and anything queued, as the queue itself grows); reads, deletes and lock
    // releases go on.
    let queuing = ctx.conn.multi.is_some() && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
    let may_grow =
        spec.has(F::DENYOOM) || queuing || (spec.name == "exec" && ctx.conn.multi.as_ref().is_some_and(|m| m.denyoom));
    if may_grow && out_of_memory(ctx.srv) {
        reject(ctx, Some(id), errors::OOM.as_bytes());
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
    if let Some(multi) = ctx.conn.multi.as_mut() {
        if !matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
            multi.queue(id, args);
            if spec.has(F::DENYOOM) {
                multi.note_denyoom();
            }
            info.multi.store(multi.len() as i32, Relaxed);
            ctx.reply.simple(b"QUEUED");
            apply_reply_mode(ctx, mark);
            return Some(id);
        }
    }
    call(ctx, id, args);
    apply_reply_mode(ctx, mark);
    if !ctx.conn.ready.is_empty() && !ctx.conn.no_block {
        crate::cmd::lists::serve_ready(ctx);
    }
    Some(id)
}

/// The ACL check: true when the connection's user may run the command. A user with every
/// permission (the default user unless restricted) costs one atomic load and a flag test; a
/// denial is logged in ACL LOG and rejected with Redis' NOPERM text.
#[inline]
fn acl_allows(ctx: &mut Ctx<'_>, id: CommandId, args: Args<'_>) -> bool {
    let srv = ctx.srv;
    let Some(user) = crate::acl::session_user(srv, &mut ctx.conn.user) else {
        // The user was deleted or replaced (ACL DELUSER, ACL LOAD): Redis has closed the
        // connection by now.
        ctx.conn.close_now = true;
        return false;
    };
    if user.unrestricted() {
        return true;
    }
    let user = std::sync::Arc::clone(user);
    check_restricted(ctx, &user, id, args)
}

/// The check for a restricted user (out of line: the fast path stays small).
#[inline(never)]
fn check_restricted(ctx: &mut Ctx<'_>, user: &tumbler_acl::User, id: CommandId, args: Args<'_>) -> bool {
    let srv = ctx.srv;
    let Err(denial) = crate::acl::check(srv, user, id, args) else {
        return true;
    };
    let context =
        if ctx.conn.multi.is_some() { tumbler_acl::LogContext::Multi } else { tumbler_acl::LogContext::Toplevel };
    // Redis records the command before checking it (CLIENT LIST and the log's `cmd=`).
    ctx.conn.info.last_cmd.store(u32::from(id), Relaxed);
    crate::acl::log_denial(srv, &ctx.conn.info, user.name(), denial, id, args, context, ctx.now);
    reject(ctx, Some(id), crate::acl::noperm(srv, denial, id).as_bytes());
    false
}

/// Runs a command that passed the checks (from the dispatcher, or queued and now run by
/// EXEC), counting its call and any error it replied.
pub(crate) fn call(ctx: &mut Ctx<'_>, id: CommandId, args: Args<'_>) {
    let spec = ctx.srv.registry.get(id).spec;
    let errors_before = ctx.reply.error_count();
    let mark = ctx.reply.len();
    let timed = commands_timed(ctx.srv);
    // Commands run by EXEC or a script are timed on their own; a top-level one starts where
    // the previous one (or the batch) ended.
    let nested = ctx.conn.exclusive || ctx.conn.in_script;
    let started = timed.then(|| if nested { ctx.srv.clock.mono_us() } else { ctx.conn.cmd_start_us });
    let result =
        if spec.has(F::EXCLUSIVE) { ctx.exclusive(|ctx| (spec.handler)(ctx, args)) } else { (spec.handler)(ctx, args) };
    // EXEC's own call succeeds whatever its commands replied; they are counted one by one.
    let failed = match &result {
        Err(_) => true,
        Ok(()) if spec.name == "exec" => false,
        Ok(()) => ctx.reply.error_count() != errors_before,
    };
    if let Err(e) = result {
        match e {
            CmdError::Static(s) => ctx.reply.error(s),
            CmdError::Owned(v) => ctx.reply.error_bytes(&v),
        }
    }
    if ctx.conn.subscriptions() > 0 && !ctx.conn.in_script {
        // Messages this command published to its own connection (keyspace notifications of
        // its writes, PUBLISH to itself from a script) precede its reply, as in Redis.
        let mut out = ctx.conn.info.outbox.lock();
        if !out.is_empty() {
            ctx.reply.insert_raw(mark, &out);
            out.clear();
        }
    }
    if let Some(t0) = started {
        let end = ctx.srv.clock.mono_us();
        if !nested {
            ctx.conn.cmd_start_us = end;
        }
        let took = end.saturating_sub(t0);
        if ctx.srv.config.latency_tracking.load(Relaxed) {
            ctx.srv.stats.worker(ctx.worker).latency(id, took);
        }
        record_slow(ctx, spec, args, took);
    }
    // QUIT is not shown: Redis answers it before looking the command up.
    if ctx.srv.monitors.active() && !spec.has(F::ADMIN | F::SKIP_MONITOR) && spec.name != "quit" {
        let from = if ctx.conn.in_script { Source::Script } else { Source::Client(&ctx.conn.info) };
        ctx.srv.monitors.feed(ctx.srv.clock.wall_us(), ctx.conn.db, from, args);
        if ctx.conn.info.monitor.load(Relaxed) {
            // A monitor's line for its own command follows that command's reply, before the
            // next command's (several may run in one batch).
            let mut out = ctx.conn.info.outbox.lock();
            ctx.reply.raw_bytes(&out);
            out.clear();
        }
    }
    if failed {
        if let Some(text) = ctx.reply.last_error() {
            ctx.srv.stats.error(text);
        }
    }
    ctx.srv.stats.worker(ctx.worker).call(id, failed);
}

/// True when commands are timed one by one (latency tracking, SLOWLOG or the latency monitor
/// is on). Each top-level command then reads the clock as it ends, and leaves that reading in
/// [`crate::Conn::cmd_start_us`] as the next one's start.
#[inline]
pub fn commands_timed(srv: &crate::Server) -> bool {
    let cfg = &srv.config;
    cfg.latency_tracking.load(Relaxed)
        || cfg.slowlog_slower_than.load(Relaxed) >= 0
        || cfg.latency_monitor_threshold.load(Relaxed) > 0
}

/// True when `maxmemory` is set and the process uses more.
pub(crate) fn out_of_memory(srv: &crate::Server) -> bool {
    let max = srv.config.maxmemory.load(Relaxed);
    max > 0 && crate::info::used_memory_of(srv) as u64 > max
}

/// SLOWLOG and LATENCY bookkeeping for a command that took `took` µs.
/// The thresholds are read after the command, as Redis does (CONFIG SET slowlog-log-slower-than
/// 0 logs itself).
fn record_slow(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, took: u64) {
    let slowlog = ctx.srv.config.slowlog_slower_than.load(Relaxed);
    let latency = ctx.srv.config.latency_monitor_threshold.load(Relaxed);
    if latency > 0 && took / 1000 >= latency {
        let event = if spec.has(F::FAST) { "fast-command" } else { "command" };
        ctx.srv.latency.add(event, ctx.srv.clock.wall_us() / 1_000_000, took / 1000);
    }
    if slowlog >= 0 && took >= slowlog as u64 && !spec.has(F::SKIP_SLOWLOG) {
        let (peer, name) = if ctx.conn.in_script {
            ("?:0".to_string(), Vec::new())
        } else {
            (ctx.conn.info.addr.clone(), ctx.conn.info.names.lock().name.clone())
        };
        let max_len = usize::try_from(ctx.srv.config.slowlog_max_len.load(Relaxed)).unwrap_or(usize::MAX);
        ctx.srv.slowlog.push(args, took, ctx.srv.clock.wall_us() / 1_000_000, peer, name, max_len);
    }
}

/// Replies with an error for a command refused before running, and counts it.
fn reject(ctx: &mut Ctx<'_>, id: Option<CommandId>, msg: &[u8]) {
    let mut abort_msg = Vec::new();
    let mut msg = msg;
    if let Some(multi) = ctx.conn.multi.as_mut() {
        multi.aborted = true;
        if id.is_some_and(|id| ctx.srv.registry.get(id).spec.name == "exec") {
            // A rejected EXEC ends the transaction, saying why (Redis' execCommandAbort).
            crate::cmd::transactions::end_multi(ctx.srv, ctx.conn);
            abort_msg.extend_from_slice(b"EXECABORT Transaction discarded because of: ");
            abort_msg.extend_from_slice(msg.strip_prefix(b"ERR ").unwrap_or(msg));
            msg = &abort_msg;
        }
    }
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

/// Requests whose keys [`Lookahead`] reads ahead at a time.
const AHEAD: usize = 16;
/// How many requests before its own the entry of a key is prefetched.
const ENTRY_DISTANCE: usize = 4;

/// Prefetching the keys of the next requests of a pipelined batch, so that their lookups'
/// cache misses overlap instead of coming one after another. When a connection starts on a
/// group of up to [`AHEAD`] requests, the tags and slots of all their keys are prefetched
/// ([`tumbler_keyspace::Keyspace::prefetch_slots`]); before each request runs, the entry of
/// the key [`ENTRY_DISTANCE`] requests on is ([`tumbler_keyspace::Keyspace::prefetch_entry`]),
/// its slot having arrived meanwhile. A request's key is taken to be its first argument (EVAL
/// and EVALSHA: their first key, when they have one); for commands whose first argument is not
/// a key the guess costs a wasted read, never a different result. A lone request has nothing
/// to overlap with and is left alone.
#[derive(Default)]
pub struct Lookahead {
    /// The key hash of each request of the group (`None`: no key).
    hashes: [Option<u64>; AHEAD],
    /// Requests in the group.
    requests: usize,
    /// Requests of the group started so far.
    started: usize,
    /// Requests whose entries were prefetched (or that have no key).
    entries: usize,
    /// Whether the group has keys to prefetch (two or more).
    active: bool,
    db: usize,
    spans: Vec<(usize, usize)>,
    /// Whether the connection's last batch had more than one request: a client that sends one
    /// request at a time pays nothing for reading ahead.
    pipelined: bool,
}

/// Below this many buffered bytes there is at most one request of a lock workload.
const AHEAD_MIN_BYTES: usize = 64;

impl Lookahead {
    /// Called before each request at the start of `input` runs, with the connection's database.
    #[inline]
    pub fn before_request(&mut self, srv: &crate::Server, db: usize, input: &[u8], limits: tumbler_proto::Limits) {
        // Prefetch instructions are issued on x86_64 only: elsewhere reading ahead would cost
        // and win nothing.
        if !self.pipelined || !cfg!(target_arch = "x86_64") {
            return;
        }
        if self.started == self.requests || db != self.db {
            self.start(srv, db, input, limits);
        }
        self.started += 1;
        if self.active {
            let want = (self.started + ENTRY_DISTANCE).min(self.requests);
            while self.entries < want {
                if let Some(h) = self.hashes[self.entries] {
                    srv.keyspace.prefetch_entry(self.db, h);
                }
                self.entries += 1;
            }
        }
    }

    /// Reads the next group of requests and prefetches their keys' slots.
    fn start(&mut self, srv: &crate::Server, db: usize, input: &[u8], limits: tumbler_proto::Limits) {
        // A group of one: looked at again before the next request.
        (self.requests, self.started, self.entries, self.active, self.db) = (1, 0, 0, false, db);
        if input.len() < AHEAD_MIN_BYTES || db >= srv.keyspace.databases() {
            return;
        }
        let mut hashes = [None; AHEAD];
        let (mut requests, mut keyed, mut keys) = (0, [0u64; AHEAD], 0);
        tumbler_proto::peek_requests(input, limits, AHEAD, &mut self.spans, |args| {
            if let Some(key) = first_key(args) {
                let h = tumbler_keyspace::hash_key(key);
                hashes[requests] = Some(h);
                keyed[keys] = h;
                keys += 1;
            }
            requests += 1;
        });
        self.hashes = hashes;
        self.requests = requests.max(1);
        self.active = keys > 1;
        if self.active {
            srv.keyspace.prefetch_slots(db, &keyed[..keys]);
        }
    }

    /// Starts a batch; `pipelined`: the previous batch ran more than one request.
    pub fn new_batch(&mut self, pipelined: bool) {
        (self.requests, self.started) = (0, 0);
        self.pipelined = pipelined;
    }
}

/// The key a request most likely names first (see [`Lookahead`]).
fn first_key(args: Args<'_>) -> Option<&[u8]> {
    if args.len() < 2 {
        return None;
    }
    let name = args.get(0);
    let script = matches!(name.len(), 4 | 7 | 10)
        && name[0] | 0x20 == b'e'
        && [&b"evalsha"[..], b"eval", b"evalsha_ro", b"eval_ro"].iter().any(|s| name.eq_ignore_ascii_case(s));
    if !script {
        return Some(args.get(1));
    }
    (args.len() >= 4 && args.get(2) != b"0").then(|| args.get(3))
}

#[cfg(test)]
mod tests {
    use super::first_key;
    use tumbler_proto::Args;

    fn key_of(words: &[&str]) -> Option<String> {
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for w in words {
            spans.push((data.len(), data.len() + w.len()));
            data.extend_from_slice(w.as_bytes());
        }
        first_key(Args::new(&data, &spans)).map(|k| String::from_utf8_lossy(k).into_owned())
    }

    #[test]
    fn the_key_read_ahead_is_the_first_argument_or_a_script_s_first_key() {
        assert_eq!(key_of(&["GET", "k"]).as_deref(), Some("k"));
        assert_eq!(key_of(&["set", "k", "v", "NX"]).as_deref(), Some("k"));
        assert_eq!(key_of(&["PING"]), None);
        for script in ["EVALSHA", "evalsha", "Eval", "EVAL_RO", "evalsha_ro"] {
            assert_eq!(key_of(&[script, "body", "1", "k", "t"]).as_deref(), Some("k"), "{script}");
            assert_eq!(key_of(&[script, "body", "0", "a"]), None, "{script}");
            assert_eq!(key_of(&[script, "body", "1"]), None, "{script}");
        }
        // Not scripts, despite the first letter or the length.
        assert_eq!(key_of(&["EXISTS", "k"]).as_deref(), Some("k"));
        assert_eq!(key_of(&["EXPIREAT", "k", "1"]).as_deref(), Some("k"));
        assert_eq!(key_of(&["EVALX", "b", "1", "k"]).as_deref(), Some("b"));
    }
}
