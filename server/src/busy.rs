//! Answering a worker's other clients while a script on it is busy, as Redis does from its
//! event loop (processEventsWhileBlocked): they get -BUSY, and SCRIPT KILL, SHUTDOWN NOSAVE,
//! AUTH, HELLO and the other `allow-busy` commands run.
//!
//! A script runs inside its caller's task, so while it runs no other task of the worker does.
//! Once the script is busy, its hook calls [`serve`] now and then (at most once a millisecond).
//! That looks, through an epoll instance of its own made for the episode, at the sockets of
//! this thread's connections that wait for input with nothing unanswered ([`ConnState::idle`]),
//! reads what they sent, runs it as their task would (without the gate, so anything but an
//! `allow-busy` command gets -BUSY), and writes the replies without blocking. What it cannot
//! write, and a partial request, stay in the connection's state for its task, which it wakes
//! to pick them up once the script is over.
//!
//! Connections accepted for the worker while the script ran wait in its queue: the hook takes
//! them from there and serves them too, as Redis' event loop accepts while a script runs (TLS
//! ones come with their handshake done by the acceptor thread).
//!
//! TLS connections are served through their rustls session, driven directly over the socket
//! ([`HookIo`]). Not served: a connection in the middle of a batch or a write, one blocked in
//! BLPOP and the like. They wait for the script, as they would for a long command.

use crate::conn::{self, ConnState, FLUSH_AT, READ_CHUNK};
use crate::signal::Signal;
use crate::{Accepted, Control};
use bytes::{Buf, BytesMut};
use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;
use tumbler_commands::dispatch::dispatch;
use tumbler_commands::{Ctx, Server};
use tumbler_proto::Step;

/// Bytes read from one connection in one call: a client that floods the worker while the
/// script runs cannot keep the hook from returning to it.
const READ_BUDGET: usize = 64 * 1024;
/// Ready connections handled in one call.
const EVENTS: usize = 64;

struct Entry {
    fd: RawFd,
    st: Weak<RefCell<ConnState>>,
    io: Weak<dyn HookIo>,
    signal: Arc<Signal>,
    /// In the episode's epoll set.
    watched: bool,
}

/// This thread's connections.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    ctl: Option<std::sync::Weak<Control>>,
    worker: usize,
    /// The worker's queue of accepted connections.
    inbox: Option<Inbox>,
    /// The busy episode's epoll instance: made at its first call, closed when the script ends.
    epoll: Option<OwnedFd>,
    /// Time of the last call that looked at the sockets (ms).
    last_ms: Option<u64>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::default();
    /// Slots whose registration was dropped while the registry was borrowed (nothing does
    /// that today), freed at the registry's next use before anything else.
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// How the hook reads and writes a connection's socket without blocking, behind the back of
/// the tokio stream the connection's task waits on (whose readiness it leaves alone: the task
/// looks again when it wakes).
pub(crate) trait HookIo {
    /// Reads what has arrived, up to about `budget` bytes, into `buf`: the bytes read, and
    /// whether the peer closed (or the socket or session failed).
    fn read_now(&self, fd: RawFd, buf: &mut BytesMut, budget: usize) -> (usize, bool);
    /// Writes what the connection takes of `out` now (an empty `out`: only what is already
    /// pending in the stream); the bytes of `out` taken.
    fn write_now(&self, fd: RawFd, out: &[u8]) -> usize;
    /// Ends the stream's output before the hook shuts the socket (TLS: close_notify). False
    /// when output is still waiting for room: the task finishes it and closes.
    fn finish(&self, fd: RawFd) -> bool;
    /// Output waits in the stream for room in the socket (TLS records).
    fn pending(&self) -> bool;
}

impl HookIo for RefCell<tokio::net::TcpStream> {
    fn read_now(&self, fd: RawFd, buf: &mut BytesMut, budget: usize) -> (usize, bool) {
        let mut total = 0;
        while total < budget {
            match read_fd(fd, buf) {
                Ok(0) => return (total, true),
                Ok(n) => total += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return (total, true),
            }
        }
        (total, false)
    }

    fn write_now(&self, fd: RawFd, out: &[u8]) -> usize {
        let mut written = 0;
        while written < out.len() {
            match std::io::Write::write(&mut FdIo(fd), &out[written..]) {
                Ok(n) if n > 0 => written += n,
                // Full, or failed: the task writes the rest, or finds the socket dead.
                _ => break,
            }
        }
        written
    }

    fn finish(&self, _fd: RawFd) -> bool {
        true
    }

    fn pending(&self) -> bool {
        false
    }
}

impl HookIo for RefCell<crate::tls::TlsConn> {
    fn read_now(&self, fd: RawFd, buf: &mut BytesMut, budget: usize) -> (usize, bool) {
        let Ok(mut stream) = self.try_borrow_mut() else { return (0, false) };
        let (_, session) = stream.get_mut();
        let mut total = 0;
        while total < budget {
            match session.read_tls(&mut FdIo(fd)) {
                Ok(0) => return (total, true),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return (total, true),
            }
            if session.process_new_packets().is_err() {
                // Its alert goes out with the hook's writes; the connection ends.
                return (total, true);
            }
            // Every byte decrypted is taken now: none waits in the session for a readiness
            // event that will not come.
            loop {
                let n = match session.reader().into_first_chunk() {
                    // Empty: the peer's close_notify.
                    Ok([]) => return (total, true),
                    Ok(chunk) => {
                        buf.extend_from_slice(chunk);
                        chunk.len()
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => return (total, true),
                };
                std::io::BufRead::consume(&mut session.reader(), n);
                total += n;
            }
        }
        (total, false)
    }

    fn write_now(&self, fd: RawFd, out: &[u8]) -> usize {
        let Ok(mut stream) = self.try_borrow_mut() else { return 0 };
        let (_, session) = stream.get_mut();
        // rustls takes plaintext up to its buffer limit, whether or not the socket has room.
        let taken = std::io::Write::write(&mut session.writer(), out).unwrap_or(0);
        while session.wants_write() {
            match session.write_tls(&mut FdIo(fd)) {
                Ok(n) if n > 0 => {}
                // Full: what is left waits in the session for the task's flush.
                _ => break,
            }
        }
        taken
    }

    fn finish(&self, fd: RawFd) -> bool {
        let Ok(mut stream) = self.try_borrow_mut() else { return false };
        let (_, session) = stream.get_mut();
        session.send_close_notify();
        while session.wants_write() {
            match session.write_tls(&mut FdIo(fd)) {
                Ok(n) if n > 0 => {}
                _ => return false,
            }
        }
        true
    }

    fn pending(&self) -> bool {
        self.try_borrow_mut().is_ok_and(|mut s| s.get_mut().1.wants_write())
    }
}

/// A socket read and written without blocking.
struct FdIo(RawFd);

impl std::io::Read for FdIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // SAFETY: reads at most `buf.len()` bytes into `buf`.
            let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl std::io::Write for FdIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            // SAFETY: writes from a live slice of `buf.len()` bytes.
            let n =
                unsafe { libc::send(self.0, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads from the socket into the spare room of `buf` (made if there is little).
fn read_fd(fd: RawFd, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    let room = buf.spare_capacity_mut();
    loop {
        // SAFETY: reads at most `room.len()` bytes into the buffer's spare room.
        let n = unsafe { libc::recv(fd, room.as_mut_ptr().cast(), room.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            // SAFETY: recv initialized the first `n` bytes of the spare room.
            unsafe { buf.set_len(buf.len() + n as usize) };
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A worker's queue of accepted connections, shared by its loop and the hook.
pub(crate) type Inbox = Rc<RefCell<UnboundedReceiver<Accepted>>>;

/// Makes `inbox` the queue of this thread, worker `worker`.
pub(crate) fn set_inbox(ctl: &Arc<Control>, worker: usize, inbox: &Inbox) {
    REGISTRY.with(|r| {
        let mut reg = r.borrow_mut();
        reg.ctl = Some(Arc::downgrade(ctl));
        reg.worker = worker;
        reg.inbox = Some(inbox.clone());
    });
}

/// Keeps a connection known to the hook; dropping it forgets the connection.
pub(crate) struct Registration {
    slot: usize,
    /// Tied to the thread that registered.
    _local: std::marker::PhantomData<*const ()>,
}

/// Makes a connection of this thread known to the hook. (Never called while the registry is
/// borrowed: `serve` takes queued connections between its two looks at it.)
pub(crate) fn register(
    ctl: &Arc<Control>,
    worker: usize,
    fd: RawFd,
    st: &Rc<RefCell<ConnState>>,
    io: &Rc<dyn HookIo>,
    signal: &Arc<Signal>,
) -> Registration {
    REGISTRY.with(|r| {
        let mut reg = r.borrow_mut();
        reg.free_dropped();
        if reg.ctl.is_none() {
            reg.ctl = Some(Arc::downgrade(ctl));
            reg.worker = worker;
        }
        let entry = Entry { fd, st: Rc::downgrade(st), io: Rc::downgrade(io), signal: signal.clone(), watched: false };
        let slot = match reg.free.pop() {
            Some(i) => {
                reg.slots[i] = Some(entry);
                i
            }
            None => {
                reg.slots.push(Some(entry));
                reg.slots.len() - 1
            }
        };
        // A connection made during an episode (one the hook took from the queue) joins it.
        reg.watch(slot);
        Registration { slot, _local: std::marker::PhantomData }
    })
}

impl Drop for Registration {
    fn drop(&mut self) {
        REGISTRY.with(|r| match r.try_borrow_mut() {
            Ok(mut reg) => reg.forget(self.slot),
            // Its descriptor may be closed and reused before the slot is freed: the slot is
            // freed before the next registration or epoll operation, and the kernel drops a
            // closed descriptor from an epoll set by itself.
            Err(_) => DROPPED.with(|d| d.borrow_mut().push(self.slot)),
        });
    }
}

impl Registry {
    fn forget(&mut self, slot: usize) {
        self.unwatch(slot);
        self.slots[slot] = None;
        self.free.push(slot);
    }

    fn free_dropped(&mut self) {
        for slot in DROPPED.with(|d| std::mem::take(&mut *d.borrow_mut())) {
            if let Some(e) = self.slots[slot].as_mut() {
                // Not unwatched: the descriptor may belong to another connection by now.
                e.watched = false;
            }
            self.slots[slot] = None;
            self.free.push(slot);
        }
    }

    fn watch(&mut self, slot: usize) {
        let Some(ep) = self.epoll.as_ref().map(AsRawFd::as_raw_fd) else { return };
        let Some(e) = self.slots[slot].as_mut() else { return };
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: slot as u64 };
        // SAFETY: both descriptors are open (the connection's until its registration drops);
        // `ev` is a valid event.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, e.fd, &mut ev) } == 0 {
            e.watched = true;
        }
    }

    fn unwatch(&mut self, slot: usize) {
        let Some(ep) = self.epoll.as_ref().map(AsRawFd::as_raw_fd) else { return };
        let Some(e) = self.slots[slot].as_mut().filter(|e| e.watched) else { return };
        e.watched = false;
        // SAFETY: as in `watch`; the event argument is ignored for a deletion.
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, e.fd, std::ptr::null_mut()) };
    }
}

/// Called from a busy script's hook on the thread running it ([`tumbler_commands::scripts::BusyService`]).
pub(crate) fn serve(srv: &Server, now_ms: u64) {
    let queued = REGISTRY.with(|r| {
        let Ok(mut reg) = r.try_borrow_mut() else { return None };
        if reg.last_ms.is_some_and(|last| now_ms <= last) {
            return None;
        }
        reg.last_ms = Some(now_ms);
        Some((reg.inbox.clone(), reg.ctl.as_ref().and_then(std::sync::Weak::upgrade), reg.worker))
    });
    let Some((inbox, ctl, worker)) = queued else { return };
    // Connections accepted for this worker since the script started get their task, and are
    // registered to be served below.
    if let (Some(inbox), Some(ctl)) = (inbox, ctl.as_ref()) {
        while let Some((s, peer, arrival)) = inbox.try_borrow_mut().ok().and_then(|mut rx| rx.try_recv().ok()) {
            crate::start_connection(s, peer, ctl, worker, arrival);
        }
    }
    REGISTRY.with(|r| {
        let Ok(mut reg) = r.try_borrow_mut() else { return };
        reg.free_dropped();
        if reg.epoll.is_none() {
            // SAFETY: plain system call; the result is checked.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                tracing::warn!("busy script: cannot serve other clients: {}", std::io::Error::last_os_error());
                return;
            }
            // SAFETY: a new descriptor that nothing else owns.
            reg.epoll = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            for slot in 0..reg.slots.len() {
                reg.watch(slot);
            }
        }
        let ep = reg.epoll.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        // SAFETY: `events` has room for EVENTS entries; timeout 0 never blocks.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), EVENTS as i32, 0) };
        for ev in events.iter().take(n.max(0) as usize) {
            let slot = ev.u64 as usize;
            let keep = match reg.slots.get(slot).and_then(Option::as_ref) {
                Some(e) => serve_guarded(srv, ctl.as_deref(), reg.worker, e, true),
                None => false,
            };
            if !keep {
                reg.unwatch(slot);
            }
        }
        // Messages for clients that sent nothing (pub/sub, MONITOR, the script's own PUBLISH)
        // go out now too, as Redis writes pending replies while a script runs. Whoever queues
        // one raises the client's signal.
        let done: Vec<usize> = (reg.slots.iter().enumerate())
            .filter_map(|(slot, e)| {
                let e = e.as_ref().filter(|e| e.watched && e.signal.is_raised())?;
                (!serve_guarded(srv, ctl.as_deref(), reg.worker, e, false)).then_some(slot)
            })
            .collect();
        for slot in done {
            reg.unwatch(slot);
        }
    });
}

/// Called once a script that turned busy has ended: the episode's epoll set goes.
pub(crate) fn ended() {
    REGISTRY.with(|r| {
        if let Ok(mut reg) = r.try_borrow_mut() {
            reg.epoll = None;
            reg.last_ms = None;
            for e in reg.slots.iter_mut().flatten() {
                e.watched = false;
            }
        }
    });
}

/// [`serve_one`], ending the client if serving it panicked (a bug), as a panic in its own
/// task would: the panic must not unwind through the script's Lua frames.
fn serve_guarded(srv: &Server, ctl: Option<&Control>, worker: usize, e: &Entry, readable: bool) -> bool {
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve_one(srv, ctl, worker, e, readable)));
    served.unwrap_or_else(|_| {
        tracing::error!("busy script: serving another client panicked; closing that client");
        if let Some(rc) = e.st.upgrade() {
            if let Ok(mut st) = rc.try_borrow_mut() {
                st.close = true;
                st.reply.truncate(0);
                st.touched = true;
            }
        }
        end_now(e);
        false
    })
}

/// Ends the client's connection now (its task closes the descriptor once the script is over).
fn end_now(e: &Entry) {
    // SAFETY: the descriptor is open (its registration has not been dropped).
    unsafe { libc::shutdown(e.fd, libc::SHUT_RDWR) };
    e.signal.raise();
}

/// Serves one connection: writes what is pending, reads its socket when `readable`, runs its
/// requests and writes their replies and queued messages. Returns false when it is not to be
/// looked at again in this episode.
fn serve_one(srv: &Server, ctl: Option<&Control>, worker: usize, e: &Entry, readable: bool) -> bool {
    let (Some(rc), Some(io)) = (e.st.upgrade(), e.io.upgrade()) else { return false };
    // Borrowed: it is the script's own connection, in the middle of a batch.
    let Ok(mut guard) = rc.try_borrow_mut() else { return false };
    let st = &mut *guard;
    // Busy with something else (a write, a blocked command): its task carries on once the
    // script is over. Its state cannot change before then.
    if !st.idle {
        return false;
    }
    if st.conn.info.killed.load(Relaxed) {
        // CLIENT KILL, or an output limit passed by a message for it: nothing more is run or
        // written, as Redis frees such clients while a script runs.
        end_now(e);
        return false;
    }
    // Output first: a client that does not read gets nothing more run until it does.
    write_some(srv, worker, e, &*io, st);
    let mut eof = false;
    if !st.close && st.reply.len() < FLUSH_AT {
        if readable {
            let (read, closed) = read_some(srv, worker, e, &*io, st);
            st.touched |= read > 0;
            eof = closed;
            let limit = srv.config.client_query_buffer_limit.load(Relaxed) as usize;
            if st.rbuf.len() > limit {
                tracing::warn!("closing client that reached max query buffer length ({} bytes)", st.rbuf.len());
                srv.stats.limit_disconnects.fetch_add(1, Relaxed);
                st.reply.truncate(0);
                st.close = true;
            }
        }
        if st.close {
            // Over the query buffer limit: nothing of it runs.
        } else if st.touched {
            // What it sent, with what an earlier call left for lack of room for the replies.
            run_requests(srv, ctl, worker, st);
        } else if st.conn.info.has_messages() {
            st.touched = true;
            conn::take_outbox(&st.conn.info.clone(), &mut st.reply);
        }
        write_some(srv, worker, e, &*io, st);
    }
    // QUIT and the like: the client sees the connection end now, as with Redis, not when the
    // script does, once every reply is out.
    let ended = st.close && st.reply.is_empty() && io.finish(e.fd);
    if ended {
        end_now(e);
    }
    // A session ended or failed, or TLS records left waiting for room, are the task's to deal
    // with: nothing on the socket would wake it.
    st.touched |= ended || eof || st.close || io.pending();
    if st.touched {
        // Its task, once it runs again, picks up what is left (replies not yet written, a
        // partial request, the decision to close).
        e.signal.raise();
    }
    !eof && !ended
}

/// Reads what the socket holds, up to about [`READ_BUDGET`]. Returns the bytes read and
/// whether the peer closed (or the socket failed).
fn read_some(srv: &Server, worker: usize, e: &Entry, io: &dyn HookIo, st: &mut ConnState) -> (usize, bool) {
    let (n, eof) = io.read_now(e.fd, &mut st.rbuf, READ_BUDGET);
    if n > 0 {
        srv.stats.worker(worker).net(n as u64, 0);
    }
    (n, eof)
}

/// Runs the complete requests in the buffer as the connection's task would, without the gate.
fn run_requests(srv: &Server, ctl: Option<&Control>, worker: usize, st: &mut ConnState) {
    // Messages queued for the client before these commands go before their replies.
    conn::take_outbox(&st.conn.info.clone(), &mut st.reply);
    let now = conn::start_commands(srv, &mut st.conn);
    let t0 = st.conn.cmd_start_us;
    st.conn.timed = tumbler_commands::dispatch::commands_timed(srv);
    let mut ids = conn::BatchIds::default();
    let mut gate = None;
    while st.reply.len() < FLUSH_AT {
        let limits = conn::limits(srv, &st.conn);
        let mut ctx = Ctx { srv, conn: &mut st.conn, reply: &mut st.reply, now, worker, gate: &mut gate };
        let consumed = match st.parser.next(&st.rbuf, limits) {
            Ok(Step::Request { args, consumed }) => {
                if let Some(id) = dispatch(&mut ctx, args) {
                    ids.push(id);
                }
                consumed
            }
            Ok(Step::Skip { consumed }) => consumed,
            Ok(Step::Incomplete { need }) => {
                st.need = need;
                break;
            }
            Err(e) => {
                let addr = ctx.conn.info.addr.clone();
                conn::protocol_error(srv, ctx.conn, ctx.reply, &e, &addr);
                st.close = true;
                break;
            }
        };
        st.rbuf.advance(consumed);
        st.need = 0;
        if st.conn.close_now {
            // SHUTDOWN NOSAVE, or a request that is an HTTP POST: nothing more is written, as
            // when the task ends the connection itself.
            st.reply.truncate(0);
            st.close = true;
            if let Some(req) = st.conn.shutdown.take() {
                if let Some(ctl) = ctl {
                    ctl.shutdown(req.save);
                }
            }
            break;
        }
        if st.conn.close_after_reply {
            st.close = true;
            break;
        }
        // Only `allow-busy` commands run here, and none of them blocks.
        debug_assert!(st.conn.blocked.is_none());
    }
    // INFO commandstats' time of commands that ran untimed, shared as the task shares a batch's.
    if !ids.is_empty() {
        ids.attribute(srv, worker, srv.clock.mono_us().saturating_sub(t0));
    }
    let info = &st.conn.info;
    info.qbuf.store(st.rbuf.len(), Relaxed);
    info.qbuf_free.store(st.rbuf.capacity() - st.rbuf.len(), Relaxed);
}

/// Writes what the socket takes of the pending replies, without blocking (and, for TLS, what
/// the session holds of earlier ones).
fn write_some(srv: &Server, worker: usize, e: &Entry, io: &dyn HookIo, st: &mut ConnState) {
    let mut written = 0;
    loop {
        let n = io.write_now(e.fd, &st.reply.as_bytes()[written..]);
        written += n;
        if n == 0 || written == st.reply.len() {
            break;
        }
    }
    if written > 0 {
        st.reply.consume(written);
        srv.stats.worker(worker).net(0, written as u64);
    }
}
