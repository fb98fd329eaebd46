//! tumbler-server as a library: configuration loading, the network layer and startup, so the
//! binary and the integration tests start servers the same way.
//!
//! Threads: one acceptor, `io-threads` workers (each a single-threaded tokio runtime that owns
//! its connections: no work stealing, no cross-thread wake-ups on the request path), and one
//! expiry thread that runs the timing wheels.

mod busy;
pub mod conf;
mod conn;
pub mod logging;
mod signal;
mod tls;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tumbler_commands::config::Config;
use tumbler_commands::Server;
use tumbler_expiry::{Clock, SystemClock};

/// Keys the expiry thread reclaims per shard before moving on, so no shard lock is held long.
const RECLAIM_BUDGET: usize = 256;

/// The expiry thread's nice value. Lookups check deadlines exactly, so reclaiming a key a
/// little later costs memory for a moment, never correctness; a worker waiting for the core
/// costs every client on it latency. When the two compete for a core, the worker goes first.
const EXPIRY_NICE: i32 = 5;

/// Lowers the calling thread's scheduling priority to `nice` (Linux: per thread). Failure
/// (a sandbox refusing it) leaves the thread as it was.
fn lower_priority(nice: i32) {
    // SAFETY: gettid has no preconditions; setpriority on our own thread id changes only it.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
    if r != 0 {
        tracing::debug!("could not lower the expiry thread's priority: {}", std::io::Error::last_os_error());
    }
}

/// Shared by every thread of a running server.
pub(crate) struct Control {
    pub(crate) srv: Arc<Server>,
    /// The TLS configuration when `tls-port` is set; CONFIG SET of a `tls-*` file replaces it
    /// for the connections that come after.
    pub(crate) tls: parking_lot::RwLock<Option<Arc<rustls::ServerConfig>>>,
    stop_tx: watch::Sender<bool>,
    pub(crate) stop_rx: watch::Receiver<bool>,
}

impl Control {
    /// Starts stopping the server: listeners close, connections end, threads exit.
    pub(crate) fn shutdown(&self, save: bool) {
        if !self.srv.shutting_down.swap(true, Relaxed) {
            if save {
                tracing::warn!("SHUTDOWN SAVE: nothing to save, tumbler keeps no data on disk yet");
            }
            tracing::info!("tumbler is now ready to exit, bye bye...");
        }
        let _ = self.stop_tx.send(true);
        // Connections wait for their own signal only; each sees the stop once woken.
        for client in self.srv.clients.snapshot() {
            client.wake();
        }
        self.srv.keyspace.wake_reclaimer();
    }
}

/// A running server.
pub struct ServerHandle {
    ctl: Arc<Control>,
    addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The first address the server listens on (with the port actually bound).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The addresses of the TLS listeners (`tls-port`), if any.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Every listening address.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The shared server state (for in-process tests).
    pub fn server(&self) -> &Arc<Server> {
        &self.ctl.srv
    }

    /// Asks the server to stop (as SHUTDOWN NOSAVE would).
    pub fn stop(&self) {
        self.ctl.shutdown(false);
    }

    /// Waits until the server has stopped (after SHUTDOWN, a signal or [`ServerHandle::stop`]).
    pub fn wait(mut self) {
        self.join();
    }

    /// Joins every thread, then records the clean shutdown (no restart fence next time).
    fn join(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let srv = &self.ctl.srv;
        srv.locks.close_clean(&srv.keyspace.held_locks(srv.clock.mono_ms()));
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.ctl.shutdown(false);
        self.join();
    }
}

/// Options that are not configuration directives.
#[derive(Default)]
pub struct StartOptions {
    /// Path of the config file (for INFO and CONFIG REWRITE).
    pub config_file: String,
    /// Stop on SIGTERM / SIGINT (the binary sets this; tests do not).
    pub handle_signals: bool,
    /// A clock to use instead of the system's (tests).
    pub clock: Option<Arc<dyn Clock>>,
}

/// Worker threads: `io-threads`, or [`default_workers`] of the cores the process may run on.
/// (While a worker is stuck in a busy script, it answers its own clients from the script's
/// hook, and new connections go to the others; with no other, TLS ones are served by the
/// acceptor itself: see `busy` and `acceptor`.)
fn worker_count(cfg: &Config) -> usize {
    if cfg.io_threads > 0 {
        cfg.io_threads
    } else {
        default_workers(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// One worker per core but one, and at least one. The spare core is for everything a worker
/// would otherwise wait behind: the kernel's network processing, the acceptor and expiry
/// threads, and whatever else runs on the host (clients, agents). With a worker on every core,
/// a worker that loses its core to any of them leaves its connections waiting for a time
/// slice: on two cores shared with redis-benchmark, two workers had up to four times the p99 of
/// one (README, Performance). Redis' redis.conf gives the same advice for its I/O threads: leave
/// at least one spare core.
fn default_workers(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

/// Resolves `bind` entries (`*`, `::*`, addresses; a leading `-` marks an optional one).
fn bind_addrs(bind: &[String], port: u16) -> Vec<(SocketAddr, bool)> {
    bind.iter()
        .filter_map(|b| {
            let (optional, b) = match b.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, b.as_str()),
            };
            let ip: IpAddr = match b {
                "*" => IpAddr::from([0u8, 0, 0, 0]),
                "::*" => IpAddr::from([0u16; 8]),
                other => other.parse().ok()?,
            };
            Some((SocketAddr::new(ip, port), optional))
        })
        .collect()
}

/// Binds the listeners: the first bind decides the port when `port` is 0, the others reuse it.
fn listen(bind: &[String], port: u16, backlog: u32) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut out: Vec<std::net::TcpListener> = Vec::new();
    let mut port = port;
    let addrs = bind_addrs(bind, port);
    if addrs.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no valid bind address"));
    }
    for (addr, optional) in addrs {
        let addr = SocketAddr::new(addr.ip(), port);
        match bind_one(addr, backlog) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) if optional => tracing::debug!("optional bind {addr} skipped: {e}"),
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("could not bind {addr}: {e}"))),
        }
    }
    if out.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "could not bind any address"));
    }
    Ok(out)
}

fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `::*` should not also claim IPv4 (that is what `*` is for), as in Redis.
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(backlog.clamp(1, i32::MAX as u32) as i32)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Starts a server with `cfg`. Returns once it is listening.
pub fn start(cfg: Config, opts: StartOptions) -> std::io::Result<ServerHandle> {
    let workers = worker_count(&cfg);
    let (bind, port, backlog, tls) = {
        let s = cfg.settings.read();
        (s.bind.clone(), s.port, s.tcp_backlog, s.tls.clone())
    };
    // TLS first: once the plain port accepts connections (what supervisors and tests wait
    // for), the TLS port does too.
    let (tls_config, tls_listeners) = if tls.port > 0 {
        let config = tls::server_config(&tls).map_err(|e| std::io::Error::other(format!("TLS: {e}")))?;
        (Some(config), listen(&bind, tls.port, backlog)?)
    } else {
        (None, Vec::new())
    };
    let listeners = listen(&bind, port, backlog)?;
    let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    let tls_addrs: Vec<SocketAddr> = tls_listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    let listeners: Vec<(std::net::TcpListener, bool)> =
        listeners.into_iter().map(|l| (l, false)).chain(tls_listeners.into_iter().map(|l| (l, true))).collect();
    let clock: Arc<dyn Clock> = opts.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
    let srv = Arc::new(Server::new(cfg, clock, workers, opts.config_file));
    // Users: `requirepass`, `user` directives, the `aclfile` (Redis refuses to start on errors).
    for w in srv.init_acl().map_err(std::io::Error::other)? {
        tracing::warn!("{w}");
    }
    tumbler_commands::notify::install(&srv);
    srv.apply_config();
    // Fencing tokens and the restart fence rest on a state file in `dir` (docs/locks.md).
    {
        let dir = srv.config.settings.read().dir.clone();
        let cfg = &srv.config;
        let held = srv
            .locks
            .open(
                std::path::Path::new(&dir),
                cfg.lock_max_ttl.load(Relaxed),
                cfg.lock_restart_fence.load(Relaxed),
                srv.clock.mono_ms(),
            )
            .map_err(std::io::Error::other)?;
        // A clean shutdown saved the locks still held: they live on for the time they had left.
        let now = srv.clock.mono_ms();
        for l in &held {
            srv.keyspace.restore_lock(l, now);
        }
        if !held.is_empty() {
            tracing::info!("restored {} locks held at the clean shutdown", held.len());
        }
    }
    srv.port.store(u64::from(addrs[0].port()), Relaxed);
    srv.config.running.store(true, Relaxed);
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = parking_lot::RwLock::new(tls_config);
    let ctl = Arc::new(Control { srv: srv.clone(), tls, stop_tx, stop_rx });
    let weak = Arc::downgrade(&ctl);
    let _ = srv.tls_reload.set(Box::new(move |t| {
        let Some(ctl) = weak.upgrade().filter(|_| t.port > 0) else { return Ok(()) };
        *ctl.tls.write() = Some(tls::server_config(t)?);
        tracing::info!("TLS configuration reloaded");
        Ok(())
    }));
    // A worker running a busy script answers its other clients from the script's hook.
    let _ = srv.busy_service.set(tumbler_commands::scripts::BusyService { serve: busy::serve, ended: busy::ended });

    let mut threads = Vec::new();
    let mut senders = Vec::new();
    for w in 0..workers {
        let (tx, rx) = mpsc::unbounded_channel::<Accepted>();
        senders.push(tx);
        let ctl = ctl.clone();
        threads
            .push(std::thread::Builder::new().name(format!("tumbler-worker-{w}")).spawn(move || worker(w, ctl, rx))?);
    }
    {
        let ctl = ctl.clone();
        let signals = opts.handle_signals;
        threads.push(
            std::thread::Builder::new()
                .name("tumbler-accept".into())
                .spawn(move || acceptor(ctl, listeners, senders, signals))?,
        );
    }
    {
        let ctl = ctl.clone();
        threads.push(std::thread::Builder::new().name("tumbler-expiry".into()).spawn(move || expiry(ctl))?);
    }
    Ok(ServerHandle { ctl, addrs, tls_addrs, threads })
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// An accepted connection handed to a worker: the socket, the peer, and how it arrives.
type Accepted = (std::net::TcpStream, SocketAddr, conn::Arrival);

/// Gives an accepted connection a task on this thread.
pub(crate) fn start_connection(
    s: std::net::TcpStream,
    peer: SocketAddr,
    ctl: &Arc<Control>,
    worker: usize,
    arrival: conn::Arrival,
) {
    match tokio::net::TcpStream::from_std(s) {
        Ok(stream) => conn::spawn(stream, peer, ctl.clone(), worker, arrival),
        Err(e) => tracing::warn!("cannot register connection from {peer}: {e}"),
    }
}

fn worker(idx: usize, ctl: Arc<Control>, rx: mpsc::UnboundedReceiver<Accepted>) {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("worker {idx}: cannot start its runtime: {e}");
            ctl.shutdown(false);
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    let mut stop = ctl.stop_rx.clone();
    // Shared with the busy-script hook, which takes connections from it while a script runs.
    let inbox: busy::Inbox = std::rc::Rc::new(std::cell::RefCell::new(rx));
    busy::set_inbox(&ctl, idx, &inbox);
    local.block_on(&rt, async {
        loop {
            let next = std::future::poll_fn(|cx| inbox.borrow_mut().poll_recv(cx));
            tokio::select! {
                m = next => match m {
                    Some((s, peer, arrival)) => start_connection(s, peer, &ctl, idx, arrival),
                    None => break,
                },
                _ = stop.changed() => break,
            }
        }
    });
    // Let connection tasks observe the stop and close their sockets.
    local.block_on(&rt, async {
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
}

fn acceptor(
    ctl: Arc<Control>,
    listeners: Vec<(std::net::TcpListener, bool)>,
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
    signals: bool,
) {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("acceptor: cannot start its runtime: {e}");
            ctl.shutdown(false);
            return;
        }
    };
    // A LocalSet: TLS handshakes are tasks on this thread.
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
        for (l, tls) in listeners {
            let _ = l.set_nonblocking(true);
            let Ok(l) = tokio::net::TcpListener::from_std(l) else { continue };
            let tx = conn_tx.clone();
            let mut stop = ctl.stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = l.accept() => match r {
                            Ok((s, peer)) => {
                                if tx.send((s, peer, tls)).is_err() {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::warn!("accept failed: {e}");
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        },
                        _ = stop.changed() => break,
                    }
                }
            });
        }
        drop(conn_tx);
        if signals {
            let ctl2 = ctl.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
                else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => tracing::warn!("received SIGTERM, scheduling shutdown..."),
                    _ = int.recv() => tracing::warn!("received SIGINT, scheduling shutdown..."),
                }
                ctl2.shutdown(false);
            });
        }
        let dealer = Rc::new(Dealer { ctl: ctl.clone(), senders, next: Cell::new(0), handshaking: Cell::new(0) });
        let mut stop = ctl.stop_rx.clone();
        loop {
            tokio::select! {
                m = conn_rx.recv() => {
                    let Some((s, peer, tls)) = m else { break };
                    let srv = &ctl.srv;
                    // A client in its TLS handshake counts, as in Redis.
                    let clients = srv.clients.len() + dealer.handshaking.get();
                    if clients as u64 >= srv.config.maxclients.load(Relaxed) {
                        srv.stats.rejected_connections.fetch_add(1, Relaxed);
                        // On the TLS port nothing can be written before a handshake: the
                        // connection just drops, as with Redis.
                        if !tls {
                            let mut s = s;
                            use tokio::io::AsyncWriteExt as _;
                            let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
                        }
                        continue;
                    }
                    let denied = denied_by_protected_mode(srv, peer);
                    if tls {
                        handshake_for(&dealer, s, peer, denied);
                        continue;
                    }
                    if denied {
                        let mut s = s;
                        use tokio::io::AsyncWriteExt as _;
                        let _ = s.write_all(PROTECTED_MODE_DENIED).await;
                        continue;
                    }
                    let Ok(std) = s.into_std() else { continue };
                    if !dealer.send(std, peer, conn::Arrival::Plain) {
                        break;
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

/// Hands accepted connections to the workers; shared by the acceptor's loop and its TLS
/// handshake tasks.
struct Dealer {
    ctl: Arc<Control>,
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
    /// Where the turn of the workers stands.
    next: Cell<usize>,
    /// TLS handshakes under way.
    handshaking: Cell<usize>,
}

impl Dealer {
    /// Sends a connection to the next worker in turn, but not to one stuck in a busy script
    /// (which answers its clients only from the script's hook, about once a millisecond) if
    /// there is another. With none, the connection goes to it all the same: the hook takes it
    /// from the queue. False when the workers are gone.
    fn send(&self, s: std::net::TcpStream, peer: SocketAddr, arrival: conn::Arrival) -> bool {
        let workers = self.senders.len();
        let mut target = self.next.get() % workers;
        if workers > 1 && self.ctl.srv.scripts.busy_worker() == Some(target) {
            self.next.set(self.next.get().wrapping_add(1));
            target = self.next.get() % workers;
        }
        self.next.set(self.next.get().wrapping_add(1));
        self.senders[target].send((s, peer, arrival)).is_ok()
    }
}

/// Runs a TLS connection's handshake on the acceptor thread, in a task of its own, then sends
/// the connection to a worker (`denied`: refuses it instead, over the session, as Redis
/// refuses a client that protected mode denies once its handshake is done). Handshakes run
/// here, as Redis runs them in its event loop: a handshake's public-key work does not hold up
/// a worker's other clients, and a worker busy in a script, whose hook answers its clients but
/// could not drive a handshake, gets its new TLS clients ready to serve.
fn handshake_for(dealer: &Rc<Dealer>, s: tokio::net::TcpStream, peer: SocketAddr, denied: bool) {
    /// Counts a handshake as under way while it lives.
    struct Underway(Rc<Dealer>);
    impl Drop for Underway {
        fn drop(&mut self) {
            self.0.handshaking.set(self.0.handshaking.get() - 1);
        }
    }
    dealer.handshaking.set(dealer.handshaking.get() + 1);
    let underway = Underway(dealer.clone());
    tokio::task::spawn_local(async move {
        let _ = s.set_nodelay(true);
        let session = conn::handshake(&underway.0.ctl, tls::Socket::new(s), peer).await;
        let dealer = underway.0.clone();
        drop(underway);
        let Some(mut session) = session else { return };
        if denied {
            use tokio::io::AsyncWriteExt as _;
            let refuse = async {
                session.write_all(PROTECTED_MODE_DENIED).await?;
                session.shutdown().await
            };
            let _ = tokio::time::timeout(conn::TLS_HANDSHAKE_TIMEOUT, refuse).await;
            return;
        }
        match session.get_mut().0.detach() {
            Ok(std) => {
                let _ = dealer.send(std, peer, conn::Arrival::Tls(Box::new(session)));
            }
            Err(e) => tracing::warn!("cannot hand over the connection from {peer}: {e}"),
        }
    });
}

/// Redis' reply to a non-loopback client refused by protected mode.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (on by default, as in Redis): without a password, only loopback clients are
/// served.
fn denied_by_protected_mode(srv: &Server, peer: SocketAddr) -> bool {
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    srv.config.settings.read().protected_mode && !srv.config.has_password.load(Relaxed) && !ip.is_loopback()
}

fn expiry(ctl: Arc<Control>) {
    lower_priority(EXPIRY_NICE);
    let srv = &ctl.srv;
    while !srv.shutting_down.load(Relaxed) {
        srv.reclaim_expired(RECLAIM_BUDGET);
        let now_us = srv.clock.mono_us();
        // Sleep until the earliest timer (a writer with an earlier deadline wakes us sooner);
        // wake at least every 100 ms to notice shutdown. While DEBUG SET-ACTIVE-EXPIRE 0 pauses
        // expiry, due timers are no reason to wake (that was a busy loop); turning it back on
        // wakes this thread.
        let due = if srv.active_expire.load(Relaxed) { srv.keyspace.next_due() } else { u64::MAX };
        srv.keyspace.wait_for_due(now_us, due, Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::default_workers;

    #[test]
    fn a_spare_core_is_left_but_never_the_only_one() {
        assert_eq!(default_workers(0), 1);
        assert_eq!(default_workers(1), 1);
        assert_eq!(default_workers(2), 1);
        assert_eq!(default_workers(4), 3);
        assert_eq!(default_workers(64), 63);
    }
}
