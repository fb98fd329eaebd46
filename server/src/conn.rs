//! One client connection: read a batch, run every complete command in it, write all replies at
//! once.
//!
//! The read buffer is a `BytesMut`: requests are parsed in place and their arguments borrowed
//! from it, consumed requests are dropped from the front in O(1), and a large incoming value is
//! read straight into space reserved for it. One clock read and one pass through the gate per
//! batch, one `write` per batch. A blocking command (BLPOP…) suspends the batch: replies so far
//! are written, the task waits outside every lock, and the rest of the buffer runs afterwards.
//! A client that pipelines gets its next requests parsed once, ahead, and their keys
//! prefetched as its batch runs ([`dispatch::Lookahead`]), so that their cache misses overlap.

use crate::signal::Signal;
use crate::Control;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tumbler_commands::blocking::{BlockRequest, Outcome};
use tumbler_commands::dispatch::{self, dispatch};
use tumbler_commands::{ClientInfo, Conn, Ctx, Passage, ReplyMode, Server};
use tumbler_proto::{Limits, Parser, Reply, Step};

/// Initial (and minimum) read buffer capacity, as Redis' PROTO_IOBUF_LEN.
const READ_CHUNK: usize = 16 * 1024;
/// Output beyond this is flushed in the middle of a batch, so a huge pipeline of large replies
/// does not accumulate without bound.
const FLUSH_AT: usize = 64 * 1024;

/// What processing the buffered requests ended with.
enum BatchEnd {
    /// Everything complete was run; read more.
    NeedInput,
    /// Close after writing the replies.
    Close,
    /// Close at once without writing (the POST / Host: check).
    CloseNow,
    /// A command blocked: write the replies, wait, then continue with the buffer.
    Blocked(BlockRequest),
    /// SHUTDOWN.
    Shutdown(bool),
}

struct Connection<'a, S> {
    ctl: &'a Control,
    srv: &'a Server,
    worker: usize,
    stream: S,
    rbuf: BytesMut,
    parser: Parser,
    reply: Reply,
    conn: Conn,
    info: Arc<ClientInfo>,
    signal: Arc<Signal>,
    /// Total bytes a large incoming request needs (a hint for sizing the read buffer).
    need: usize,
    /// Reading the requests ahead: parsed once, their keys prefetched.
    ahead: dispatch::Lookahead,
    /// Whether the last batch ran more than one request.
    pipelined: bool,
}

/// Serves one accepted connection until it closes; `tls`: it arrived on the TLS port, so the
/// handshake comes first.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, ctl: Arc<Control>, worker: usize, tls: bool) {
    let _ = stream.set_nodelay(true);
    // tcp-keepalive: probe idle peers so dead ones (a crashed lock holder's host) are noticed.
    let keepalive = ctl.srv.config.tcp_keepalive.load(Relaxed);
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(keepalive))
            .with_interval(Duration::from_secs((keepalive / 3).max(1)));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    let local = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd()
    };
    if !tls {
        return serve_stream(stream, peer, local, fd, ctl, worker).await;
    }
    let Some(config) = ctl.tls.read().clone() else { return };
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(s)) => serve_stream(s, peer, local, fd, ctl, worker).await,
        Ok(Err(e)) => tracing::info!(client = %peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::info!(client = %peer, "TLS handshake timed out"),
    }
}

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    local: String,
    fd: i32,
    ctl: Arc<Control>,
    worker: usize,
) {
    let srv: &Server = &ctl.srv;
    let id = srv.clients.next_id();
    let info = Arc::new(ClientInfo::new(id, peer.to_string(), local, fd, srv.clock.mono_ms()));
    let _ = info.limits.set(srv.config.output_limits.clone());
    // One signal serves CLIENT KILL, messages, the wake-up of a blocked command and shutdown.
    let signal = Arc::new(Signal::default());
    {
        let s = signal.clone();
        *info.waker.lock() = Some(Box::new(move || s.raise()));
    }
    srv.clients.add(info.clone());
    srv.stats.connections.fetch_add(1, Relaxed);
    let authenticated = !srv.config.has_password.load(Relaxed);
    let mut conn = Conn::new(info.clone(), authenticated, peer.ip().is_loopback());
    {
        let s = signal.clone();
        conn.wake = Arc::new(move || s.raise());
    }
    let mut c = Connection {
        ctl: &ctl,
        srv,
        worker,
        stream,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        parser: Parser::new(),
        reply: Reply::new(),
        conn,
        info: info.clone(),
        signal,
        need: 0,
        ahead: dispatch::Lookahead::default(),
        pipelined: false,
    };
    c.run().await;
    // Forget the client before closing the socket: once the peer sees the connection end, the
    // client is gone from CLIENT LIST, PUBSUB NUMSUB and the rest.
    tumbler_commands::cmd::pubsub::unsubscribe_all(srv, &mut c.conn);
    tumbler_commands::cmd::transactions::unwatch_all(srv, &mut c.conn);
    tumbler_commands::cmd::connection::stop_monitoring(srv, &c.conn.info);
    srv.clients.remove(id);
    let _ = c.stream.shutdown().await;
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<'_, S> {
    async fn run(&mut self) {
        let mut stop = self.ctl.stop_rx.clone();
        loop {
            if *stop.borrow() || self.info.killed.load(Relaxed) {
                return;
            }
            let end = self.process().await;
            let Some(end) = end else { return };
            match end {
                BatchEnd::CloseNow => return,
                BatchEnd::Shutdown(save) => {
                    self.ctl.shutdown(save);
                    return;
                }
                _ => {}
            }
            if !self.flush().await {
                return;
            }
            // The replies are out: reclaim expired keys if the expiry thread's time has come.
            // The time is the batch's last (its start, or a timed command's end): no clock read.
            self.srv.help_reclaim(self.worker, self.conn.cmd_start_us / 1000);
            match end {
                BatchEnd::Close => return,
                BatchEnd::Blocked(req) => {
                    if !self.wait_unblocked(req, &mut stop).await {
                        return;
                    }
                    // Run what was pipelined after the blocking command before reading more.
                    continue;
                }
                _ => {}
            }
            if !self.read(&mut stop).await {
                return;
            }
        }
    }

    /// Reads more input. Returns false when the connection must end.
    async fn read(&mut self, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
        // Make room: a chunk, or, while a large bulk is arriving, room that doubles with what
        // has arrived (a client announcing 512 MB and sending nothing does not get 512 MB
        // allocated up front).
        let len = self.rbuf.len();
        let want = if self.need > len { (self.need - len).min(len.max(READ_CHUNK)) } else { READ_CHUNK };
        if self.rbuf.capacity() - len < want {
            self.rbuf.reserve(want);
        }
        loop {
            let timeout = self.srv.config.timeout.load(Relaxed);
            let r = tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.rbuf) => r,
                () = self.signal.wait() => {
                    // Shutdown raises every connection's signal.
                    if self.info.killed.load(Relaxed) || *stop.borrow() {
                        return false;
                    }
                    // Messages from other connections (pub/sub).
                    if !self.flush().await {
                        return false;
                    }
                    continue;
                }
                _ = idle(timeout) => {
                    tracing::debug!(client = %self.info.addr, "closing idle client");
                    return false;
                }
            };
            return match r {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    self.srv.stats.worker(self.worker).net(n as u64, 0);
                    let limit = self.srv.config.client_query_buffer_limit.load(Relaxed) as usize;
                    if self.rbuf.len() > limit {
                        tracing::warn!(
                            "closing client that reached max query buffer length ({} bytes)",
                            self.rbuf.len()
                        );
                        self.srv.stats.limit_disconnects.fetch_add(1, Relaxed);
                        return false;
                    }
                    true
                }
            };
        }
    }

    /// Runs every complete request in the buffer. `None` when a mid-batch write failed.
    async fn process(&mut self) -> Option<BatchEnd> {
        let srv = self.srv;
        // Messages delivered before these commands run (pub/sub, MONITOR lines) go before
        // their replies, as they would in Redis' output buffer.
        self.take_outbox();
        let mut ids = BatchIds::default();
        let mut end = BatchEnd::NeedInput;
        // The clock is read once the gate is passed: waiting for a script must not age the
        // TTLs this batch sets.
        let mut gate: Option<Passage> = srv.enter(self.worker).map(Passage::from);
        let mut now = self.start_commands();
        let t0 = self.conn.cmd_start_us;
        self.ahead.new_batch(self.pipelined);
        loop {
            if gate.is_none() {
                // Busy mode: check again before each command whether the script has ended.
                gate = if srv.scripts.busy() {
                    srv.gate.try_shared_for(self.worker, Duration::ZERO)
                } else {
                    srv.enter(self.worker)
                }
                .map(Passage::from);
                if gate.is_some() {
                    now = self.start_commands();
                }
            }
            // As Redis parses each request after running the one before: one that authenticates
            // or changes proto-max-bulk-len sets the limits the next is read under.
            let limits = Limits {
                max_bulk_len: srv.config.proto_max_bulk_len.load(Relaxed).min(i64::MAX as u64) as i64,
                unauthenticated: !self.conn.authenticated,
            };
            // A request of a pipelined batch was usually parsed already, as its group was read ahead.
            let ahead = if self.parser.is_idle() {
                self.ahead.next_request(srv, self.conn.db, &self.rbuf, limits)
            } else {
                None
            };
            let mut ctx =
                Ctx { srv, conn: &mut self.conn, reply: &mut self.reply, now, worker: self.worker, gate: &mut gate };
            let step = match ahead {
                Some((args, consumed)) => Ok(Step::Request { args, consumed }),
                None => self.parser.next(&self.rbuf, limits),
            };
            let consumed = match step {
                Ok(Step::Request { args, consumed }) => {
                    if let Some(id) = dispatch(&mut ctx, args) {
                        ids.push(id);
                    }
                    consumed
                }
                Ok(Step::Skip { consumed }) => consumed,
                Ok(Step::Incomplete { need }) => {
                    self.need = need;
                    break;
                }
                Err(e) => {
                    let mark = ctx.reply.len();
                    let msg = e.message_bytes();
                    ctx.reply.error_bytes(&msg);
                    srv.stats.error(&msg);
                    if ctx.conn.reply_mode != ReplyMode::On {
                        ctx.reply.truncate(mark);
                    }
                    tracing::debug!(client = %self.info.addr, "protocol error: {}", e.message());
                    end = BatchEnd::Close;
                    break;
                }
            };
            // A command that waited or ran long (a script, an exclusive one) read the clock again.
            now = ctx.now;
            self.rbuf.advance(consumed);
            self.need = 0;
            if self.conn.close_now {
                end = match self.conn.shutdown.take() {
                    Some(req) => BatchEnd::Shutdown(req.save),
                    None => BatchEnd::CloseNow,
                };
                break;
            }
            if self.conn.close_after_reply {
                end = BatchEnd::Close;
                break;
            }
            if let Some(req) = self.conn.blocked.take() {
                end = BatchEnd::Blocked(req);
                break;
            }
            if self.reply.len() >= FLUSH_AT {
                // Write what is ready without holding the gate across the await.
                drop(gate.take());
                if !self.flush().await {
                    return None;
                }
                gate = srv.enter(self.worker).map(Passage::from);
                now = self.start_commands();
            }
        }
        drop(gate);
        self.pipelined = ids.n > 1;
        if ids.n > 0 {
            // Timed commands have just read the clock (the last one's end); otherwise read it.
            let end = if dispatch::commands_timed(srv) { self.conn.cmd_start_us } else { srv.clock.mono_us() };
            ids.attribute(srv, self.worker, end.saturating_sub(t0));
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * READ_CHUNK && self.parser.is_idle() {
            self.rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        self.info.qbuf.store(self.rbuf.len(), Relaxed);
        self.info.qbuf_free.store(self.rbuf.capacity() - self.rbuf.len(), Relaxed);
        Some(end)
    }

    /// Reads the clock as commands (re)start after passing the gate: the batch's time in ms,
    /// and where the first command's duration counts from.
    fn start_commands(&mut self) -> u64 {
        let us = self.srv.clock.mono_us();
        self.conn.cmd_start_us = us;
        us / 1000
    }

    /// Moves the messages other connections queued for this one into the reply stream.
    fn take_outbox(&mut self) {
        let mut out = self.info.outbox.lock();
        if !out.is_empty() {
            self.reply.raw_bytes(&out);
            out.clear();
            if out.capacity() > 64 * 1024 {
                out.shrink_to(64 * 1024);
            }
        }
    }

    /// Writes pending replies, then the messages other connections queued for this one.
    /// Returns false when the peer is gone.
    async fn flush(&mut self) -> bool {
        self.take_outbox();
        let n = self.reply.len();
        if n == 0 {
            return true;
        }
        // `client-output-buffer-limit normal`: replies are written as they are produced, so
        // what is pending here is one batch's (a huge KEYS, a client that pipelines and never
        // reads). Pub/sub and MONITOR output is limited where it is queued.
        let normal = self.info.subscriptions() == 0 && !self.info.monitor.load(Relaxed);
        if normal
            && tumbler_commands::outlimit::exceeded(
                self.srv.config.output_limits.get(tumbler_commands::outlimit::Class::Normal),
                n as u64,
                &self.info.over_soft_since,
            )
        {
            tracing::warn!(
                client = %self.info.addr,
                "client scheduled to be closed ASAP for overcoming of output buffer limits"
            );
            self.srv.stats.limit_disconnects.fetch_add(1, Relaxed);
            return false;
        }
        // A client that does not read blocks this write; CLIENT KILL, or an output buffer limit
        // passed while we wait, must still close it.
        let mut woken = false;
        // Biased: the write usually completes at once, and then the signal is never waited on.
        let written = tokio::select! {
            biased;
            r = self.stream.write_all(self.reply.as_bytes()) => r.is_ok(),
            () = async {
                loop {
                    self.signal.wait().await;
                    if self.info.killed.load(Relaxed) {
                        break;
                    }
                    woken = true;
                }
            } => false,
        };
        if woken {
            // Keep the wake-up (queued messages, a served blocked command) for the caller.
            self.signal.raise();
        }
        if !written {
            return false;
        }
        self.reply.consume(n);
        self.reply.shrink_if_idle(64 * 1024);
        self.srv.stats.worker(self.worker).net(0, n as u64);
        true
    }

    /// Waits until a blocked command is served, times out, is unblocked, or the connection ends.
    /// Appends the command's reply. Returns false when the connection must end.
    async fn wait_unblocked(&mut self, req: BlockRequest, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
        let w = req.waiter;
        let blocking = &self.srv.blocking;
        let outcome = loop {
            let o = w.outcome();
            if o != Outcome::Waiting {
                break o;
            }
            let now = self.srv.clock.mono_ms();
            if req.deadline.is_some_and(|d| now >= d) {
                if w.finish(Outcome::TimedOut) {
                    break Outcome::TimedOut;
                }
                continue;
            }
            // Re-check at least every 100 ms, so the deadline follows the server's clock.
            let sleep_ms = req.deadline.map_or(100, |d| (d - now).min(100));
            let alive = tokio::select! {
                () = self.signal.wait() => !self.info.killed.load(Relaxed) && self.flush().await,
                _ = stop.changed() => false,
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => true,
                // Keep reading while blocked: more commands are buffered for later, and a
                // client that disconnects is noticed.
                r = self.stream.read_buf(&mut self.rbuf) => matches!(r, Ok(n) if n > 0),
            };
            if !alive {
                w.finish(Outcome::TimedOut);
                blocking.remove(&w);
                return false;
            }
        };
        blocking.remove(&w);
        match outcome {
            Outcome::Served(bytes) => self.reply.raw_bytes(&bytes),
            Outcome::Error => self.reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
            Outcome::TimedOut | Outcome::Waiting => tumbler_commands::cmd::lists::timeout_reply(&w.op, &mut self.reply),
        }
        self.flush().await
    }
}

/// Resolves after `secs` seconds of idleness, or never when `secs` is 0 (no timeout).
async fn idle(secs: u64) {
    if secs == 0 {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
}

/// Command ids run in one batch, to share the batch's duration among them for INFO
/// commandstats without reading the clock per command.
#[derive(Default)]
struct BatchIds {
    inline: [tumbler_commands::CommandId; 16],
    n: usize,
    more: Vec<tumbler_commands::CommandId>,
}

impl BatchIds {
    fn push(&mut self, id: tumbler_commands::CommandId) {
        if self.n < self.inline.len() {
            self.inline[self.n] = id;
        } else {
            self.more.push(id);
        }
        self.n += 1;
    }

    fn attribute(&self, srv: &Server, worker: usize, elapsed_us: u64) {
        let share = elapsed_us / self.n as u64;
        let w = srv.stats.worker(worker);
        for id in self.inline.iter().take(self.n).chain(self.more.iter()) {
            w.add_usec(*id, share);
        }
    }
}
