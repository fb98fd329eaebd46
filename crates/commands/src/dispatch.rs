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

/// Runs one command. Returns the id of the command if it ran without being timed
/// ([`commands_timed`]), for the caller to give it a share of the batch's time in INFO
/// commandstats; a timed command counted its own, and one rejected or queued in MULTI gets
/// none, as in Redis.
pub fn dispatch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<CommandId> {
    match run(ctx, args) {
        Some((id, false)) => Some(id),
        Some((_, true)) => None,
        None => {
            // Its time is not the next command's either.
            if ctx.conn.timed {
                ctx.conn.cmd_start_us = ctx.srv.clock.mono_us();
            }
            None
        }
    }
}

/// [`dispatch`]: the command's id and whether it was timed, if it ran.
fn run(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<(CommandId, bool)> {
    let name = args.get(0);
    let reg = &ctx.srv.registry;
    let Some(mut id) = reg.lookup(name) else {
        // Redis' defence against cross-protocol scripting: a browser POSTing to the port.
        // Neither name is a command, so looking it up first changes nothing.
        if name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:") {
            tracing::warn!(
                "possible security attack detected: a client sent '{}'; connection closed",
                String::from_utf8_lossy(name)
            );
            ctx.conn.close_now = true;
            return None;
        }
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
        return None;
    }
    // As Redis' authRequired(): a connection that never authenticated may run commands once
    // the default user needs no password any more.
    if !ctx.conn.authenticated && !spec.has(F::NO_AUTH) && ctx.srv.config.has_password.load(Relaxed) {
        reject(ctx, Some(id), errors::NOAUTH.as_bytes());
        return None;
    }
    if ctx.conn.multi.is_some() && spec.has(F::NO_MULTI) {
        reject(ctx, Some(id), b"ERR Command not allowed inside a transaction");
        return None;
    }
    if !acl_allows(ctx, id, args) {
        return None;
    }
    // noeviction: over maxmemory, commands that may grow memory are refused (EXEC when it
    // queued one, and anything queued, as the queue itself grows); reads, deletes and lock
    // releases go on.
    let queuing = ctx.conn.multi.is_some() && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
    let may_grow =
        spec.has(F::DENYOOM) || queuing || (spec.name == "exec" && ctx.conn.multi.as_ref().is_some_and(|m| m.denyoom));
    if may_grow && out_of_memory(ctx.srv) {
        reject(ctx, Some(id), errors::OOM.as_bytes());
        return None;
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
        return None;
    }
    if ctx.gate.is_none() && !spec.has(F::ALLOW_BUSY) {
        reject(ctx, Some(id), crate::scripts::BUSY.as_bytes());
        return None;
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
            return None;
        }
    }
    let timed = call(ctx, id, args);
    apply_reply_mode(ctx, mark);
    if !ctx.conn.ready.is_empty() && !ctx.conn.no_block {
        crate::cmd::lists::serve_ready(ctx);
        // Serving the clients blocked on its keys is not the next command's time.
        if timed {
            ctx.conn.cmd_start_us = ctx.srv.clock.mono_us();
        }
    }
    Some((id, timed))
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
/// EXEC), counting its call and any error it replied. Returns whether it was timed (and its
/// time counted).
pub(crate) fn call(ctx: &mut Ctx<'_>, id: CommandId, args: Args<'_>) -> bool {
    let spec = ctx.srv.registry.get(id).spec;
    let errors_before = ctx.reply.error_count();
    let mark = ctx.reply.len();
    // Commands run by EXEC or a script are timed on their own (they never share a batch's
    // time); a top-level one starts where the previous one (or the batch) ended.
    let nested = ctx.conn.exclusive || ctx.conn.in_script;
    let timed = if nested { commands_timed(ctx.srv) } else { ctx.conn.timed };
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
        let reply = &mut *ctx.reply;
        ctx.conn.info.take_messages(|m| reply.insert_raw(mark, m));
    }
    let stats = ctx.srv.stats.worker(ctx.worker);
    if let Some(t0) = started {
        let end = ctx.srv.clock.mono_us();
        if !nested {
            ctx.conn.cmd_start_us = end;
        }
        let took = end.saturating_sub(t0);
        // INFO commandstats' time, as Redis counts it: the command's own, nested ones (run by
        // EXEC or a script) included. (Untimed, a top-level command gets a share of its
        // batch's time from the caller of `dispatch`, and a nested one none.)
        stats.add_usec(id, took);
        if ctx.srv.config.latency_tracking.load(Relaxed) {
            match ctx.conn.blocked.as_mut() {
                // Left for when it is served (see [`crate::blocking::BlockRequest::latency`]).
                Some(b) => b.latency = Some((id, took)),
                None => stats.latency(id, took),
            }
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
            let reply = &mut *ctx.reply;
            ctx.conn.info.take_messages(|m| reply.raw_bytes(m));
        }
    }
    if failed {
        if let Some(text) = ctx.reply.last_error() {
            ctx.srv.stats.error(text);
        }
    }
    stats.call(id, failed);
    timed
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

/// Reading ahead in a pipelined batch: each group of up to [`AHEAD`] whole requests is parsed
/// once, and their keys are prefetched so that their lookups' cache misses overlap instead of
/// coming one after another. When a connection starts on a group, the tags and slots of all
/// its keys are prefetched ([`tumbler_keyspace::Keyspace::prefetch_slots`]); before each
/// request runs, the entry of the key [`ENTRY_DISTANCE`] requests on is
/// ([`tumbler_keyspace::Keyspace::prefetch_entry`]), its slot having arrived meanwhile, and the
/// request is handed out as parsed ([`Lookahead::next_request`]), so the connection's parser
/// does not read it again. A request's key is taken to be its first argument (EVAL and EVALSHA:
/// their first key, when they have one); for commands whose first argument is not a key the
/// guess costs a wasted read, never a different result. A lone request has nothing to overlap
/// with and is left to the parser.
#[derive(Default)]
pub struct Lookahead {
    /// The key hash of each request of the group (`None`: no key).
    hashes: [Option<u64>; AHEAD],
    /// For each request read ahead: where its arguments' spans end in `spans`, and the bytes
    /// it occupies.
    parsed: [(usize, usize); AHEAD],
    /// Whether the group's requests were read ahead, all of them; if not, it is a group of
    /// one that the parser reads.
    read_ahead: bool,
    /// Requests in the group.
    requests: usize,
    /// Requests of the group started so far.
    started: usize,
    /// Requests whose entries were prefetched (or that have no key).
    entries: usize,
    /// Whether the group has keys to prefetch (two or more).
    active: bool,
    db: usize,
    /// The limits the group was parsed under: after a request that changes them (AUTH, CONFIG
    /// SET proto-max-bulk-len) the rest of the group is read again under the new ones.
    limits: Option<tumbler_proto::Limits>,
    /// The arguments of the requests read ahead, each request's relative to its own start.
    spans: Vec<(usize, usize)>,
    /// Whether the connection's last batch had more than one request: a client that sends one
    /// request at a time pays nothing for reading ahead.
    pipelined: bool,
}

/// Below this many buffered bytes there is at most one request of a lock workload.
const AHEAD_MIN_BYTES: usize = 64;

impl Lookahead {
    /// Called before each request of the batch when the parser is between requests, with the
    /// connection's buffer (`input` starts with the request) and database. Prefetches, and
    /// returns the request and the bytes it occupies when it was read ahead; `None` leaves it
    /// to the parser. The caller must consume exactly those bytes before calling again.
    #[inline]
    pub fn next_request<'a>(
        &'a mut self,
        srv: &crate::Server,
        db: usize,
        input: &'a [u8],
        limits: tumbler_proto::Limits,
    ) -> Option<(Args<'a>, usize)> {
        // Prefetch instructions are issued on x86_64 only: elsewhere reading ahead would hash
        // keys with nothing to prefetch, for a parse it saves only in a pipeline.
        if !self.pipelined || !cfg!(target_arch = "x86_64") {
            return None;
        }
        if self.started == self.requests || db != self.db || self.limits != Some(limits) {
            self.start(srv, db, input, limits);
        }
        let at = self.started;
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
        if !self.read_ahead {
            return None;
        }
        let from = if at == 0 { 0 } else { self.parsed[at - 1].0 };
        let (to, consumed) = self.parsed[at];
        debug_assert!(input.len() >= consumed && input.first() == Some(&b'*'));
        Some((Args::new(input, &self.spans[from..to]), consumed))
    }

    /// Reads the next group of requests and prefetches their keys' slots.
    fn start(&mut self, srv: &crate::Server, db: usize, input: &[u8], limits: tumbler_proto::Limits) {
        // A group of one, for the parser: looked at again before the next request.
        (self.requests, self.read_ahead, self.started, self.entries, self.active) = (1, false, 0, 0, false);
        (self.db, self.limits) = (db, Some(limits));
        if input.len() < AHEAD_MIN_BYTES || db >= srv.keyspace.databases() {
            return;
        }
        let mut hashes = [None; AHEAD];
        let mut parsed = [(0, 0); AHEAD];
        let (mut requests, mut keyed, mut keys, mut spans) = (0, [0u64; AHEAD], 0, 0);
        tumbler_proto::peek_requests(input, limits, AHEAD, &mut self.spans, |args, consumed| {
            if let Some(key) = first_key(args) {
                let h = tumbler_keyspace::hash_key(key);
                hashes[requests] = Some(h);
                keyed[keys] = h;
                keys += 1;
            }
            spans += args.len();
            parsed[requests] = (spans, consumed);
            requests += 1;
        });
        (self.hashes, self.parsed, self.read_ahead) = (hashes, parsed, requests > 0);
        self.requests = requests.max(1);
        self.active = keys > 1;
        if self.active {
            srv.keyspace.prefetch_slots(db, &keyed[..keys]);
        }
    }

    /// Starts a batch; `pipelined`: the previous batch ran more than one request.
    pub fn new_batch(&mut self, pipelined: bool) {
        (self.requests, self.read_ahead, self.started) = (0, false, 0);
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
    use super::{first_key, Lookahead};
    use tumbler_proto::{Args, Limits, Parser, Step};

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

    /// A request's arguments and length, or the protocol error that ended the connection.
    type Taken = Result<(Vec<Vec<u8>>, usize), String>;

    /// A connection's run over input that arrives in `pieces`: before each batch the piece's
    /// bytes become readable, and the batch ends after as many requests as the piece says (as
    /// a blocked command or a full output buffer ends one) or when input runs out. Request `i`
    /// runs with the limits and database `turn(i)` gives. With `ahead`, requests come from the
    /// read-ahead whenever it has them, as in the server. Returns what was taken, how many
    /// requests were handed out, and how many times the limits changed within a batch after a
    /// request had been handed out in it.
    fn run(
        pieces: &[(Vec<u8>, usize)],
        turn: &dyn Fn(usize) -> (Limits, usize),
        ahead: Option<(&crate::Server, &mut Lookahead)>,
    ) -> (Vec<Taken>, usize, usize) {
        let (srv, mut la) = match ahead {
            Some((srv, la)) => (Some(srv), Some(la)),
            None => (None, None),
        };
        let mut parser = Parser::new();
        let (mut input, mut at) = (Vec::new(), 0);
        let (mut out, mut handed, mut changes) = (Vec::new(), 0, 0);
        for (piece, stop) in pieces {
            input.extend_from_slice(piece);
            if let Some(la) = la.as_deref_mut() {
                la.new_batch(true);
            }
            let (mut ran, mut handed_here, mut last) = (0, 0, None);
            while ran < *stop {
                let (limits, db) = turn(out.len());
                changes += usize::from(handed_here > 0 && last.is_some_and(|l| l != limits));
                last = Some(limits);
                let rest = &input[at..];
                let pre = match (srv, la.as_deref_mut()) {
                    (Some(srv), Some(la)) if parser.is_idle() => la.next_request(srv, db, rest, limits),
                    _ => None,
                };
                let step = match pre {
                    Some((args, consumed)) => {
                        (handed, handed_here) = (handed + 1, handed_here + 1);
                        Ok(Step::Request { args, consumed })
                    }
                    None => parser.next(rest, limits),
                };
                match step {
                    Ok(Step::Request { args, consumed }) => {
                        out.push(Ok((args.iter().map(<[u8]>::to_vec).collect(), consumed)));
                        (at, ran) = (at + consumed, ran + 1);
                    }
                    Ok(Step::Skip { consumed }) => at += consumed,
                    Ok(Step::Incomplete { .. }) => break,
                    Err(e) => {
                        out.push(Err(e.message()));
                        return (out, handed, changes);
                    }
                }
            }
        }
        (out, handed, changes)
    }

    #[test]
    fn requests_read_ahead_are_handed_out_as_the_parser_returns_them() {
        let srv = crate::Server::new(
            crate::config::Config::default(),
            std::sync::Arc::new(tumbler_expiry::clock::SystemClock::new()),
            1,
            String::new(),
        );
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut handed, mut total, mut limit_changes) = (0, 0, 0);
        for _ in 0..3_000 {
            let mut stream = Vec::new();
            for _ in 0..(next() % 60) {
                match next() % 10 {
                    0 => stream.extend_from_slice(b"PING\r\n"),
                    1 => stream.extend_from_slice(b"*0\r\n"),
                    _ => {
                        // Sometimes more arguments or a longer one than an unauthenticated
                        // connection may send.
                        let argc = 1 + next() % if next() % 8 == 0 { 14 } else { 4 };
                        stream.extend_from_slice(format!("*{argc}\r\n").as_bytes());
                        for _ in 0..argc {
                            let len = if next() % 50 == 0 { 16_385 } else { (next() % 20) as usize };
                            stream.extend_from_slice(format!("${len}\r\n").as_bytes());
                            stream.extend((0..len).map(|_| b"abk:\r\n"[(next() % 6) as usize]));
                            stream.extend_from_slice(b"\r\n");
                        }
                    }
                }
            }
            // The stream arrives in up to four pieces cut anywhere, each batch stopping early
            // now and then.
            let mut pieces = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let cut = if next() % 4 == 0 { rest.len() } else { (next() as usize % rest.len()).max(1) };
                let stop = if next() % 3 == 0 { (next() % 20) as usize } else { usize::MAX };
                pieces.push((rest[..cut].to_vec(), stop));
                rest = &rest[cut..];
            }
            pieces.push((Vec::new(), usize::MAX));
            // Per request: whether the connection is still unauthenticated, a smaller
            // proto-max-bulk-len, and SELECT (the database only steers prefetching, so it must
            // change nothing), changing at random points.
            let schedule: Vec<(bool, bool, usize)> =
                (0..64).map(|_| (next() % 5 == 0, next() % 7 == 0, (next() % 3) as usize)).collect();
            let flips = next() % 3 == 0;
            let turn = |i: usize| {
                let (unauth, small, db) = if flips { schedule[i % 64] } else { (false, false, 0) };
                let limits = Limits {
                    max_bulk_len: if small { 10 } else { Limits::default().max_bulk_len },
                    unauthenticated: unauth,
                };
                (limits, db)
            };
            let (plain, _, _) = run(&pieces, &turn, None);
            let mut la = Lookahead::default();
            let (read_ahead, n, changes) = run(&pieces, &turn, Some((&srv, &mut la)));
            assert_eq!(read_ahead, plain, "{:?}", String::from_utf8_lossy(&stream));
            handed += n;
            total += plain.len();
            limit_changes += changes;
        }
        if cfg!(target_arch = "x86_64") {
            // The comparison means something only if most requests were handed out, and the
            // limits changed under groups read ahead.
            assert!(handed * 2 > total, "{handed} of {total} requests handed out");
            assert!(limit_changes > 1_000, "limits changed {limit_changes} times in groups read ahead");
        } else {
            assert_eq!(handed, 0, "no read-ahead where there is nothing to prefetch");
        }
    }
}
