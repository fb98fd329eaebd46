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
//!
//! The buffers and the client's state live in a [`ConnState`], and the stream in a cell of its
//! own, that no await holds borrowed, so that while a script on this worker is busy the
//! script's hook can serve the connection ([`crate::busy`]).

use crate::signal::Signal;
use crate::tls::{Socket, TlsConn};
use crate::Control;
use bytes::{Buf, BytesMut};
use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tumbler_commands::blocking::{BlockRequest, Outcome};
use tumbler_commands::dispatch::{self, dispatch};
use tumbler_commands::{ClientInfo, Conn, Ctx, Passage, ReplyMode, Server};
use tumbler_proto::{Limits, Parser, Reply, Step};

/// Initial (and minimum) read buffer capacity, as Redis' PROTO_IOBUF_LEN.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
/// Output beyond this is flushed in the middle of a batch, so a huge pipeline of large replies
/// does not accumulate without bound.
pub(crate) const FLUSH_AT: usize = 64 * 1024;

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

/// A connection's buffers and client state: borrowed by its task only between awaits, and by
/// the busy-script hook while the task waits for input ([`crate::busy`]).
pub(crate) struct ConnState {
    pub(crate) rbuf: BytesMut,
    pub(crate) parser: Parser,
    pub(crate) reply: Reply,
    pub(crate) conn: Conn,
    /// Total bytes a large incoming request needs (a hint for sizing the read buffer).
    pub(crate) need: usize,
    /// The task waits for input (or has not run yet), and what is left in the buffers was left
    /// by the busy-script hook, for the task: the hook may serve the connection.
    pub(crate) idle: bool,
    /// The hook served the connection: its task looks at the buffers again when it wakes.
    pub(crate) touched: bool,
    /// The hook ended the connection: close once the replies are written.
    pub(crate) close: bool,
}

struct Connection<'a, S> {
    ctl: &'a Control,
    srv: &'a Server,
    worker: usize,
    /// Lets the busy-script hook find the connection; dropped before the stream is closed.
    _registration: Option<crate::busy::Registration>,
    /// Shared with the busy-script hook, which writes and reads through it while the task
    /// waits; borrowed only for a poll.
    stream: Rc<RefCell<S>>,
    st: Rc<RefCell<ConnState>>,
    info: Arc<ClientInfo>,
    signal: Arc<Signal>,
    /// Reading the requests ahead: parsed once, their keys prefetched.
    ahead: dispatch::Lookahead,
    /// Whether the last batch ran more than one request.
    pipelined: bool,
}

/// How an accepted connection comes to its worker.
pub(crate) enum Arrival {
    Plain,
    /// On the TLS port, its handshake done by the acceptor thread ([`handshake`]); its socket
    /// is to be attached to this thread's runtime.
    Tls(Box<TlsConn>),
}

/// Starts serving an accepted connection on this thread, in a task of its own. The connection
/// is known to the busy-script hook from now on, before its task first runs.
pub(crate) fn spawn(stream: TcpStream, peer: SocketAddr, ctl: Arc<Control>, worker: usize, arrival: Arrival) {
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
    // No tracing span per connection: entering one on every poll costs a few percent of a
    // request; log lines name the client instead.
    match arrival {
        Arrival::Plain => {
            let stream = Rc::new(RefCell::new(stream));
            let client = Client::new(&ctl, peer, local, fd, worker, &stream);
            tokio::task::spawn_local(serve_stream(stream, client, ctl, worker));
        }
        Arrival::Tls(mut tls) => {
            tls.get_mut().0.attach(stream);
            let (stream, client) = tls_client(&ctl, peer, local, fd, worker, *tls);
            tokio::task::spawn_local(serve_stream(stream, client, ctl, worker));
        }
    }
}

/// Runs the server's side of a TLS handshake, within [`TLS_HANDSHAKE_TIMEOUT`].
pub(crate) async fn handshake(ctl: &Control, socket: Socket, peer: SocketAddr) -> Option<TlsConn> {
    let config = ctl.tls.read().clone()?;
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(socket);
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::info!(client = %peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::info!(client = %peer, "TLS handshake timed out");
            None
        }
    }
}

/// A client for a TLS connection whose handshake is done. What the client sent along with the
/// handshake, already decrypted in the session, is moved to the read buffer, and the
/// connection is marked as served: a busy script's hook, which runs what a socket's readiness
/// shows it, would not see it otherwise.
fn tls_client(
    ctl: &Arc<Control>,
    peer: SocketAddr,
    local: String,
    fd: i32,
    worker: usize,
    mut tls: TlsConn,
) -> (Rc<RefCell<TlsConn>>, Client) {
    let mut early = Vec::new();
    let mut reader = tls.get_mut().1.reader();
    while let Ok(chunk) = std::io::BufRead::fill_buf(&mut reader) {
        if chunk.is_empty() {
            break;
        }
        early.extend_from_slice(chunk);
        let n = chunk.len();
        std::io::BufRead::consume(&mut reader, n);
    }
    let stream = Rc::new(RefCell::new(tls));
    let client = Client::new(ctl, peer, local, fd, worker, &stream);
    if !early.is_empty() {
        ctl.srv.stats.worker(worker).net(early.len() as u64, 0);
        let mut st = client.st.borrow_mut();
        st.rbuf.extend_from_slice(&early);
        st.touched = true;
        drop(st);
        client.signal.raise();
    }
    (stream, client)
}

/// How long a client may take to complete the TLS handshake.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client set up, before its task runs.
struct Client {
    st: Rc<RefCell<ConnState>>,
    info: Arc<ClientInfo>,
    signal: Arc<Signal>,
    registration: crate::busy::Registration,
}

impl Client {
    /// Adds the client to the server's list, and makes it known to the busy-script hook,
    /// which reaches its socket through `io`.
    fn new<S: 'static>(
        ctl: &Arc<Control>,
        peer: SocketAddr,
        local: String,
        fd: i32,
        worker: usize,
        io: &Rc<RefCell<S>>,
    ) -> Client
    where
        RefCell<S>: crate::busy::HookIo,
    {
        let srv: &Server = &ctl.srv;
        let info = Arc::new(ClientInfo::new(srv.clients.next_id(), peer.to_string(), local, fd, srv.clock.mono_ms()));
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
        let st = Rc::new(RefCell::new(ConnState {
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            parser: Parser::new(),
            reply: Reply::new(),
            conn,
            need: 0,
            // Nothing to run or write yet.
            idle: true,
            touched: false,
            close: false,
        }));
        let io: Rc<dyn crate::busy::HookIo> = io.clone();
        let registration = crate::busy::register(ctl, worker, fd, &st, &io, &signal);
        Client { st, info, signal, registration }
    }
}

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: Rc<RefCell<S>>,
    client: Client,
    ctl: Arc<Control>,
    worker: usize,
) {
    let srv: &Server = &ctl.srv;
    let id = client.info.id;
    let mut c = Connection {
        ctl: &ctl,
        srv,
        worker,
        _registration: Some(client.registration),
        stream,
        st: client.st,
        info: client.info,
        signal: client.signal,
        ahead: dispatch::Lookahead::default(),
        pipelined: false,
    };
    c.run().await;
    // Forget the client before closing the socket: once the peer sees the connection end, the
    // client is gone from CLIENT LIST, PUBSUB NUMSUB and the rest.
    {
        let mut st = c.st.borrow_mut();
        tumbler_commands::cmd::pubsub::unsubscribe_all(srv, &mut st.conn);
        tumbler_commands::cmd::transactions::unwatch_all(srv, &mut st.conn);
        tumbler_commands::cmd::connection::stop_monitoring(srv, &st.conn.info);
    }
    srv.clients.remove(id);
    c._registration = None;
    let _ = poll_fn(|cx| Pin::new(&mut *c.stream.borrow_mut()).poll_shutdown(cx)).await;
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
            let last_ms = self.st.borrow().conn.cmd_start_us / 1000;
            self.srv.help_reclaim(self.worker, last_ms);
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
        {
            // Make room: a chunk, or, while a large bulk is arriving, room that doubles with
            // what has arrived (a client announcing 512 MB and sending nothing does not get
            // 512 MB allocated up front).
            let mut st = self.st.borrow_mut();
            let len = st.rbuf.len();
            let want = if st.need > len { (st.need - len).min(len.max(READ_CHUNK)) } else { READ_CHUNK };
            if st.rbuf.capacity() - len < want {
                st.rbuf.reserve(want);
            }
        }
        loop {
            {
                let mut st = self.st.borrow_mut();
                if st.touched {
                    // A busy script's hook served the connection while this task waited: run
                    // what it left in the buffer, or close as it decided (`process`).
                    return true;
                }
                st.idle = true;
            }
            let timeout = self.srv.config.timeout.load(Relaxed);
            let (stream, st) = (&self.stream, &self.st);
            let r = tokio::select! {
                biased;
                r = poll_fn(|cx| poll_read_into(stream, st, cx)) => r,
                () = self.signal.wait() => {
                    self.st.borrow_mut().idle = false;
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
            let mut st = self.st.borrow_mut();
            st.idle = false;
            return match r {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    self.srv.stats.worker(self.worker).net(n as u64, 0);
                    let limit = self.srv.config.client_query_buffer_limit.load(Relaxed) as usize;
                    if st.rbuf.len() > limit {
                        tracing::warn!("closing client that reached max query buffer length ({} bytes)", st.rbuf.len());
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
        {
            let mut st = self.st.borrow_mut();
            (st.idle, st.touched) = (false, false);
            if st.close {
                // A busy script's hook ended the connection (QUIT, a protocol error): what
                // followed in the buffer is not run.
                return Some(BatchEnd::Close);
            }
            // Messages delivered before these commands run (pub/sub, MONITOR lines) go before
            // their replies, as they would in Redis' output buffer.
            take_outbox(&self.info, &mut st.reply);
        }
        let mut batch = Batch::default();
        self.ahead.new_batch(self.pipelined);
        let end = loop {
            match self.run_commands(&mut batch) {
                Some(end) => break end,
                // Write what is ready without holding the gate across the await.
                None => {
                    if !self.flush().await {
                        return None;
                    }
                }
            }
        };
        let srv = self.srv;
        let mut st = self.st.borrow_mut();
        self.pipelined = batch.requests > 1;
        // Commands that ran untimed share the batch's time (timed ones counted their own).
        if batch.ids.n > 0 {
            let end = srv.clock.mono_us();
            let t0 = batch.t0.unwrap_or(end);
            batch.ids.attribute(srv, self.worker, end.saturating_sub(t0));
        }
        if st.rbuf.is_empty() && st.rbuf.capacity() > 4 * READ_CHUNK && st.parser.is_idle() {
            st.rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        self.info.qbuf.store(st.rbuf.len(), Relaxed);
        self.info.qbuf_free.store(st.rbuf.capacity() - st.rbuf.len(), Relaxed);
        Some(end)
    }

    /// Passes the gate and runs the buffered requests until the input runs out or the batch
    /// ends (`Some`), or until enough output is pending to write it mid-batch (`None`: the
    /// caller writes it and calls again).
    fn run_commands(&mut self, batch: &mut Batch) -> Option<BatchEnd> {
        let srv = self.srv;
        let mut guard = self.st.borrow_mut();
        let st = &mut *guard;
        // The clock is read once the gate is passed: waiting for a script must not age the
        // TTLs this batch sets.
        let mut gate: Option<Passage> = srv.enter(self.worker).map(Passage::from);
        let mut now = start_commands(srv, &mut st.conn);
        if batch.t0.is_none() {
            batch.t0 = Some(st.conn.cmd_start_us);
            st.conn.timed = dispatch::commands_timed(srv);
        }
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
                    now = start_commands(srv, &mut st.conn);
                }
            }
            // As Redis parses each request after running the one before: one that authenticates
            // or changes proto-max-bulk-len sets the limits the next is read under.
            let limits = limits(srv, &st.conn);
            // A request of a pipelined batch was usually parsed already, as its group was read ahead.
            let ahead =
                if st.parser.is_idle() { self.ahead.next_request(srv, st.conn.db, &st.rbuf, limits) } else { None };
            let mut ctx =
                Ctx { srv, conn: &mut st.conn, reply: &mut st.reply, now, worker: self.worker, gate: &mut gate };
            let step = match ahead {
                Some((args, consumed)) => Ok(Step::Request { args, consumed }),
                None => st.parser.next(&st.rbuf, limits),
            };
            let consumed = match step {
                Ok(Step::Request { args, consumed }) => {
                    batch.requests += 1;
                    if let Some(id) = dispatch(&mut ctx, args) {
                        batch.ids.push(id);
                    }
                    consumed
                }
                Ok(Step::Skip { consumed }) => consumed,
                Ok(Step::Incomplete { need }) => {
                    st.need = need;
                    return Some(BatchEnd::NeedInput);
                }
                Err(e) => {
                    protocol_error(srv, ctx.conn, ctx.reply, &e, &self.info.addr);
                    return Some(BatchEnd::Close);
                }
            };
            // A command that waited or ran long (a script, an exclusive one) read the clock again.
            now = ctx.now;
            st.rbuf.advance(consumed);
            st.need = 0;
            if st.conn.close_now {
                return Some(match st.conn.shutdown.take() {
                    Some(req) => BatchEnd::Shutdown(req.save),
                    None => BatchEnd::CloseNow,
                });
            }
            if st.conn.close_after_reply {
                return Some(BatchEnd::Close);
            }
            if let Some(req) = st.conn.blocked.take() {
                return Some(BatchEnd::Blocked(req));
            }
            if st.reply.len() >= FLUSH_AT {
                return None;
            }
        }
    }

    /// Writes pending replies, then the messages other connections queued for this one.
    /// Returns false when the peer is gone.
    async fn flush(&mut self) -> bool {
        let n = {
            let mut st = self.st.borrow_mut();
            take_outbox(&self.info, &mut st.reply);
            st.reply.len()
        };
        // `client-output-buffer-limit normal`: replies are written as they are produced, so
        // what is pending here is one batch's (a huge KEYS, a client that pipelines and never
        // reads). Pub/sub and MONITOR output is limited where it is queued.
        let normal = self.info.subscriptions() == 0 && !self.info.monitor.load(Relaxed);
        if n > 0
            && normal
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
        // passed while we wait, must still close it. With no replies the stream is still
        // flushed: a busy script's hook may have left TLS records in the session.
        let mut woken = false;
        let mut done = 0;
        let (stream, st) = (&self.stream, &self.st);
        // Biased: the write usually completes at once, and then the signal is never waited on.
        let written = tokio::select! {
            biased;
            r = poll_fn(|cx| poll_write_reply(stream, st, &mut done, n, cx)) => r.is_ok(),
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
        if n > 0 {
            let mut st = self.st.borrow_mut();
            st.reply.consume(n);
            st.reply.shrink_if_idle(64 * 1024);
            self.srv.stats.worker(self.worker).net(0, n as u64);
        }
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
            let (stream, st) = (&self.stream, &self.st);
            let alive = tokio::select! {
                () = self.signal.wait() => !self.info.killed.load(Relaxed) && self.flush().await,
                _ = stop.changed() => false,
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => true,
                // Keep reading while blocked: more commands are buffered for later, and a
                // client that disconnects is noticed.
                r = poll_fn(|cx| poll_read_into(stream, st, cx)) => matches!(r, Ok(n) if n > 0),
            };
            if !alive {
                w.finish(Outcome::TimedOut);
                blocking.remove(&w);
                return false;
            }
        };
        blocking.remove(&w);
        {
            let reply = &mut self.st.borrow_mut().reply;
            match outcome {
                Outcome::Served(bytes) => {
                    reply.raw_bytes(&bytes);
                    // Unless latency tracking was turned off meanwhile, as Redis asks then.
                    if let Some((id, us)) = req.latency.filter(|_| self.srv.config.latency_tracking.load(Relaxed)) {
                        self.srv.stats.worker(self.worker).latency(id, us);
                    }
                }
                Outcome::Error => reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
                Outcome::TimedOut | Outcome::Waiting => tumbler_commands::cmd::lists::timeout_reply(&w.op, reply),
            }
        }
        self.flush().await
    }
}

/// Reads from `stream` into the free room of the connection's buffer, borrowing it only for
/// the poll.
fn poll_read_into<S: AsyncRead + Unpin>(
    stream: &RefCell<S>,
    st: &RefCell<ConnState>,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    let mut st = st.borrow_mut();
    let rbuf = &mut st.rbuf;
    if rbuf.capacity() == rbuf.len() {
        rbuf.reserve(READ_CHUNK);
    }
    let mut buf = ReadBuf::uninit(rbuf.spare_capacity_mut());
    match Pin::new(&mut *stream.borrow_mut()).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) => {
            let n = buf.filled().len();
            // SAFETY: `poll_read` initialized the first `n` bytes of the spare room.
            unsafe { rbuf.set_len(rbuf.len() + n) };
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Writes the connection's first `n` reply bytes from `*done` on, and flushes the stream,
/// borrowing the replies only for the poll.
fn poll_write_reply<S: AsyncWrite + Unpin>(
    stream: &RefCell<S>,
    st: &RefCell<ConnState>,
    done: &mut usize,
    n: usize,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<()>> {
    let st = st.borrow();
    let mut stream = stream.borrow_mut();
    while *done < n {
        match Pin::new(&mut *stream).poll_write(cx, &st.reply.as_bytes()[*done..n]) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(k)) => *done += k,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    // A TLS stream can accept the last bytes while records of them still wait for room in the
    // socket: they would go out only with the next write, and the client would wait for them.
    // (A plain socket has nothing to flush.)
    Pin::new(&mut *stream).poll_flush(cx)
}

/// The limits the next request is parsed under.
pub(crate) fn limits(srv: &Server, conn: &Conn) -> Limits {
    Limits {
        max_bulk_len: srv.config.proto_max_bulk_len.load(Relaxed).min(i64::MAX as u64) as i64,
        unauthenticated: !conn.authenticated,
    }
}

/// Reads the clock as commands (re)start after passing the gate: the batch's time in ms, and
/// where the first command's duration counts from.
pub(crate) fn start_commands(srv: &Server, conn: &mut Conn) -> u64 {
    let us = srv.clock.mono_us();
    conn.cmd_start_us = us;
    us / 1000
}

/// Replies to a request that cannot be parsed; the connection is closed after its replies.
pub(crate) fn protocol_error(
    srv: &Server,
    conn: &Conn,
    reply: &mut Reply,
    e: &tumbler_proto::ParseError,
    client: &str,
) {
    let mark = reply.len();
    let msg = e.message_bytes();
    reply.error_bytes(&msg);
    srv.stats.error(&msg);
    if conn.reply_mode != ReplyMode::On {
        reply.truncate(mark);
    }
    tracing::debug!(client = %client, "protocol error: {}", e.message());
}

/// Moves the messages other connections queued for this one into its reply stream.
pub(crate) fn take_outbox(info: &ClientInfo, reply: &mut Reply) {
    info.take_messages(|m| reply.raw_bytes(m));
}

/// Resolves after `secs` seconds of idleness, or never when `secs` is 0 (no timeout).
async fn idle(secs: u64) {
    if secs == 0 {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
}

/// A batch's progress across its mid-batch writes.
#[derive(Default)]
struct Batch {
    ids: BatchIds,
    /// Requests read, whether they ran or not.
    requests: usize,
    /// Where the batch's time counts from: its first pass through the gate.
    t0: Option<u64>,
}

/// Ids of the commands of one batch that ran untimed, to share the batch's duration among them
/// for INFO commandstats without reading the clock per command.
#[derive(Default)]
pub(crate) struct BatchIds {
    inline: [tumbler_commands::CommandId; 16],
    n: usize,
    more: Vec<tumbler_commands::CommandId>,
}

impl BatchIds {
    pub(crate) fn push(&mut self, id: tumbler_commands::CommandId) {
        if self.n < self.inline.len() {
            self.inline[self.n] = id;
        } else {
            self.more.push(id);
        }
        self.n += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub(crate) fn attribute(&self, srv: &Server, worker: usize, elapsed_us: u64) {
        let share = elapsed_us / self.n as u64;
        let w = srv.stats.worker(worker);
        for id in self.inline.iter().take(self.n).chain(self.more.iter()) {
            w.add_usec(*id, share);
        }
    }
}
