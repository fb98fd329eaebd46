//! The floor: what a request costs a server on this machine when the server does nothing
//! but answer it.
//!
//! `compare --floor` runs this beside redis-server and tumbler-server. It keeps no data: it
//! reads each request with tumbler's own RESP parser (`tumbler_proto`, tens of nanoseconds a
//! request), and answers it with a reply the
//! size of a real server's (a 20-byte bulk string for GET, one per key for MGET, an integer
//! for DEL, PEXPIRE and the release commands, +PONG for PING, +OK for anything else). Its CPU
//! time per request is what the kernel, the network stack and the scheduler cost, plus a few
//! hundred instructions: no server that reads and writes sockets can go below it.
//!
//! Two ways of doing the I/O, both single-threaded:
//! - `--io epoll` (the default) is Redis' event loop: level-triggered `epoll_wait`, one
//!   `read` of up to 16 KB per readable connection, and every reply of the round written
//!   once all ready connections have been read, one `write` each.
//! - `--io uring` never makes a system call per request: a multishot receive per connection
//!   fills buffers from a ring the kernel picks from, and each round's sends are submitted
//!   together with the wait for the next completions, in one `io_uring_enter`.
//!
//! `--replies each` makes the epoll loop write each reply as soon as its request is read,
//! as a server with a task per connection does (tumbler's), instead of at the round's end:
//! what the order of the writes costs, measured apart from everything else.
//!
//! Usage: floor --port N [--bind 127.0.0.1] [--io epoll|uring] [--replies round|each]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use tumbler_proto::{Limits, Parser, Step};

const USAGE: &str = "\
Usage: floor --port N [--bind ADDR] [--io epoll|uring] [--replies round|each]

A server that answers every request and does nothing else (see benches/src/bin/floor.rs):
the floor of CPU time per request that `compare --floor` sets beside redis-server's and
tumbler-server's.

  --port N        TCP port
  --bind ADDR     address to listen on (127.0.0.1)
  --io epoll      epoll, one read and one write a batch, as Redis' event loop (default)
  --io uring      io_uring: multishot receives and batched sends, no system call a request
  --replies round with epoll: write the round's replies once every ready connection is
                  read (default)
  --replies each  with epoll: write each reply as soon as its request is read
";

fn main() {
    let opts = tumbler_benches::Opts::parse(USAGE, &["--port", "--bind", "--io", "--replies"]);
    let Some(port) = opts.text("--port").and_then(|p| p.parse::<u16>().ok()) else { opts.refuse("--port N is needed") };
    let bind = opts.text("--bind").unwrap_or("127.0.0.1");
    let io = opts.text("--io").unwrap_or("epoll");
    if !matches!(io, "epoll" | "uring") {
        opts.refuse(&format!("--io: epoll or uring, not {io:?}"));
    }
    let each = match opts.text("--replies") {
        None | Some("round") => false,
        Some("each") if io == "epoll" => true,
        Some("each") => opts.refuse("--replies each is for --io epoll"),
        Some(other) => opts.refuse(&format!("--replies: round or each, not {other:?}")),
    };
    // A kernel without io_uring (or with it disabled) is told before the port opens, so that
    // `compare` sees the floor fail to start rather than fail to answer.
    if io == "uring" {
        if let Err(e) = io_uring::IoUring::new(8) {
            eprintln!("floor: io_uring is not available here: {e}");
            std::process::exit(1);
        }
    }
    let listener = TcpListener::bind((bind, port)).unwrap_or_else(|e| {
        eprintln!("floor: cannot listen on {bind}:{port}: {e}");
        std::process::exit(1);
    });
    let result = if io == "epoll" { epoll::serve(listener, each) } else { uring::serve(listener) };
    if let Err(e) = result {
        eprintln!("floor: {e}");
        std::process::exit(1);
    }
}

/// What a request is answered with: the size of what a real server would send.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    Ok,
    Pong,
    Integer,
    /// A 20-byte value (a lock token).
    Bulk,
    /// One 20-byte value per key.
    Bulks(usize),
    Error,
}

impl Reply {
    fn to(name: &[u8], argc: usize) -> Reply {
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        if is("get") {
            Reply::Bulk
        } else if is("mget") {
            Reply::Bulks(argc.saturating_sub(1))
        } else if is("ping") {
            Reply::Pong
        } else if ["del", "unlink", "pexpire", "expire", "evalsha", "eval", "delifeq", "exists"].iter().any(|c| is(c)) {
            Reply::Integer
        } else {
            Reply::Ok
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        const TOKEN: &[u8] = b"$20\r\n01234567890123456789\r\n";
        match self {
            Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
            Reply::Pong => out.extend_from_slice(b"+PONG\r\n"),
            Reply::Integer => out.extend_from_slice(b":1\r\n"),
            Reply::Bulk => out.extend_from_slice(TOKEN),
            Reply::Bulks(n) => {
                out.extend_from_slice(format!("*{n}\r\n").as_bytes());
                for _ in 0..n {
                    out.extend_from_slice(TOKEN);
                }
            }
            Reply::Error => out.extend_from_slice(b"-ERR Protocol error\r\n"),
        }
    }
}

/// A connection's unanswered bytes and unsent replies.
#[derive(Default)]
struct Pending {
    parser: Parser,
    /// The start of a request whose end has not arrived yet.
    partial: Vec<u8>,
    /// Replies not yet handed to the kernel.
    out: Vec<u8>,
}

impl Pending {
    /// Answers every whole request of `partial` followed by `data`; keeps the rest. Input the
    /// parser refuses is answered with an error and dropped, so that no input stops the
    /// server.
    fn answer(&mut self, data: &[u8]) {
        let mut stash = std::mem::take(&mut self.partial);
        let input: &[u8] = if stash.is_empty() {
            data
        } else {
            stash.extend_from_slice(data);
            &stash
        };
        let mut at = 0;
        loop {
            match self.parser.next(&input[at..], Limits::default()) {
                Ok(Step::Request { args, consumed }) => {
                    Reply::to(args.get(0), args.len()).write(&mut self.out);
                    at += consumed;
                }
                Ok(Step::Skip { consumed }) => at += consumed,
                Ok(Step::Incomplete { .. }) => break,
                Err(_) => {
                    Reply::Error.write(&mut self.out);
                    self.parser.reset();
                    at = input.len();
                    break;
                }
            }
        }
        let rest = input[at..].to_vec();
        stash.clear();
        self.partial = if rest.is_empty() { stash } else { rest };
    }
}

fn accept_all(listener: &TcpListener, mut each: impl FnMut(TcpStream)) {
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                if s.set_nodelay(true).is_ok() && s.set_nonblocking(true).is_ok() {
                    each(s);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

mod epoll {
    use super::*;

    /// A connection and what it owes.
    struct Conn {
        stream: TcpStream,
        pending: Pending,
        /// Waiting to be able to write the rest of its replies.
        writing: bool,
    }

    fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32) -> std::io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: fd as u64 };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Serves until an error. `each`: write each reply as soon as its request is read,
    /// rather than at the round's end.
    pub fn serve(listener: TcpListener, each: bool) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        // SAFETY: a plain system call; the descriptor is checked below.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let lfd = listener.as_raw_fd();
        ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32)?;
        let mut conns: HashMap<RawFd, Conn> = HashMap::new();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        let mut buf = vec![0u8; 16 * 1024];
        let mut ready = Vec::new();
        loop {
            // SAFETY: `events` has room for the 1024 events asked for.
            let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 1024, -1) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in &events[..n as usize] {
                let (fd, flags) = (ev.u64 as RawFd, ev.events);
                if fd == lfd {
                    accept_all(&listener, |s| {
                        if ctl(ep, libc::EPOLL_CTL_ADD, s.as_raw_fd(), libc::EPOLLIN as u32).is_ok() {
                            conns
                                .insert(s.as_raw_fd(), Conn { stream: s, pending: Pending::default(), writing: false });
                        }
                    });
                    continue;
                }
                let Some(c) = conns.get_mut(&fd) else { continue };
                if flags & libc::EPOLLOUT as u32 != 0 {
                    ready.push(fd);
                }
                if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0 {
                    continue;
                }
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        conns.remove(&fd);
                    }
                    Ok(k) => {
                        c.pending.answer(&buf[..k]);
                        ready.push(fd);
                        if each && !c.pending.out.is_empty() {
                            // Whatever is not written now (or fails) is left to the round's
                            // writes.
                            if let Ok(k) = c.stream.write(&c.pending.out) {
                                c.pending.out.drain(..k);
                            }
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                    Err(_) => {
                        conns.remove(&fd);
                    }
                }
            }
            // As Redis' beforeSleep: the round's replies, one write per connection.
            for fd in ready.drain(..) {
                let Some(c) = conns.get_mut(&fd) else { continue };
                if c.pending.out.is_empty() {
                    continue;
                }
                match c.stream.write(&c.pending.out) {
                    Ok(k) => {
                        c.pending.out.drain(..k);
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                    Err(_) => {
                        conns.remove(&fd);
                        continue;
                    }
                }
                let writing = !c.pending.out.is_empty();
                if writing != c.writing {
                    let events = if writing { libc::EPOLLIN | libc::EPOLLOUT } else { libc::EPOLLIN };
                    ctl(ep, libc::EPOLL_CTL_MOD, fd, events as u32)?;
                    c.writing = writing;
                }
            }
        }
    }
}

mod uring {
    use super::*;
    use io_uring::{cqueue, opcode, types, IoUring};

    /// Receive buffers in the ring the kernel picks from, and their size.
    const BUFFERS: u16 = 1024;
    const BUFFER_LEN: usize = 16 * 1024;
    const GROUP: u16 = 0;
    /// What a completion is for (`user_data`: the tag in the high half, the descriptor in the
    /// low one).
    const RECV: u64 = 0;
    const SEND: u64 = 1 << 32;
    const ACCEPT: u64 = 2 << 32;

    /// A connection and what it owes.
    struct Conn {
        stream: TcpStream,
        pending: Pending,
        /// The replies a send in flight is reading: untouched until it completes.
        sending: Vec<u8>,
        in_flight: bool,
        /// Its multishot receive is still armed.
        receiving: bool,
        closed: bool,
    }

    impl Conn {
        /// Done with once closed and nothing of the kernel's refers to it any more (its
        /// descriptor number may then be reused).
        fn finished(&self) -> bool {
            self.closed && !self.in_flight && !self.receiving
        }
    }

    /// The provided-buffer ring: entries the kernel takes receive buffers from.
    struct BufRing {
        entries: *mut types::BufRingEntry,
        layout: std::alloc::Layout,
        memory: Vec<u8>,
        tail: u16,
    }

    impl BufRing {
        fn new() -> BufRing {
            let layout = std::alloc::Layout::from_size_align(usize::from(BUFFERS) * 16, 4096).expect("layout");
            // SAFETY: the layout has a non-zero size.
            let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
            assert!(!entries.is_null(), "out of memory");
            let mut ring = BufRing { entries, layout, memory: vec![0; usize::from(BUFFERS) * BUFFER_LEN], tail: 0 };
            for id in 0..BUFFERS {
                ring.give(id);
            }
            ring.publish();
            ring
        }

        /// Hands buffer `id` back to the kernel (seen once published).
        fn give(&mut self, id: u16) {
            // SAFETY: the index is masked into the ring's BUFFERS entries.
            let e = unsafe { &mut *self.entries.add(usize::from(self.tail & (BUFFERS - 1))) };
            e.set_addr(self.memory[usize::from(id) * BUFFER_LEN..].as_ptr() as u64);
            e.set_len(BUFFER_LEN as u32);
            e.set_bid(id);
            self.tail = self.tail.wrapping_add(1);
        }

        fn publish(&self) {
            // SAFETY: the tail field overlays the first entry's reserved field; the release
            // store orders the entries written before it.
            let tail = unsafe { types::BufRingEntry::tail(self.entries) } as *const std::sync::atomic::AtomicU16;
            unsafe { &*tail }.store(self.tail, std::sync::atomic::Ordering::Release);
        }

        fn buffer(&self, id: u16, len: usize) -> &[u8] {
            &self.memory[usize::from(id) * BUFFER_LEN..][..len]
        }
    }

    impl Drop for BufRing {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.entries.cast(), self.layout) };
        }
    }

    fn push(ring: &mut IoUring, entry: &io_uring::squeue::Entry) -> std::io::Result<()> {
        // SAFETY: every buffer an entry points to (a connection's `sending`, the receive
        // ring) stays put until its completion has been reaped.
        while unsafe { ring.submission().push(entry) }.is_err() {
            ring.submit()?;
        }
        Ok(())
    }

    pub fn serve(listener: TcpListener) -> std::io::Result<()> {
        // Declared before the ring, so dropped after it.
        let mut bufs = BufRing::new();
        let mut ring: IoUring = IoUring::builder().setup_single_issuer().setup_defer_taskrun().build(4096)?;
        // SAFETY: the ring's memory lives in `bufs`, which outlives `ring`.
        unsafe { ring.submitter().register_buf_ring_with_flags(bufs.entries as u64, BUFFERS, GROUP, 0)? };
        let lfd = listener.as_raw_fd();
        push(&mut ring, &opcode::AcceptMulti::new(types::Fd(lfd)).build().user_data(ACCEPT))?;
        let recv = |fd: RawFd| opcode::RecvMulti::new(types::Fd(fd), GROUP).build().user_data(RECV | fd as u64);
        let mut conns: HashMap<RawFd, Conn> = HashMap::new();
        let mut ready = Vec::new();
        let mut done = Vec::new();
        loop {
            match ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            done.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
            for (data, res, flags) in done.drain(..) {
                let fd = (data & 0xffff_ffff) as RawFd;
                match data & !0xffff_ffff {
                    ACCEPT => {
                        if res >= 0 {
                            // SAFETY: a descriptor the kernel just made for this process.
                            let s = unsafe { TcpStream::from_raw_fd(res) };
                            if s.set_nodelay(true).is_ok() {
                                push(&mut ring, &recv(res))?;
                                let c = Conn {
                                    stream: s,
                                    pending: Pending::default(),
                                    sending: Vec::new(),
                                    in_flight: false,
                                    receiving: true,
                                    closed: false,
                                };
                                conns.insert(res, c);
                            }
                        }
                        if !cqueue::more(flags) {
                            push(&mut ring, &opcode::AcceptMulti::new(types::Fd(lfd)).build().user_data(ACCEPT))?;
                        }
                    }
                    SEND => {
                        let Some(c) = conns.get_mut(&fd) else { continue };
                        c.in_flight = false;
                        match usize::try_from(res) {
                            Ok(k) if !c.closed => {
                                c.sending.drain(..k.min(c.sending.len()));
                                ready.push(fd);
                            }
                            _ => {
                                // Ends the receive too, and with it the connection.
                                c.closed = true;
                                let _ = c.stream.shutdown(std::net::Shutdown::Both);
                                ready.push(fd);
                            }
                        }
                    }
                    _ => {
                        let id = cqueue::buffer_select(flags);
                        if let (Some(id), Some(c), Ok(len)) = (id, conns.get_mut(&fd), usize::try_from(res)) {
                            c.pending.answer(bufs.buffer(id, len));
                            ready.push(fd);
                        }
                        if let Some(id) = id {
                            bufs.give(id);
                            bufs.publish();
                        }
                        if res == -libc::ENOBUFS {
                            push(&mut ring, &recv(fd))?;
                        } else if res <= 0 {
                            if let Some(c) = conns.get_mut(&fd) {
                                (c.closed, c.receiving) = (true, false);
                                ready.push(fd);
                            }
                        } else if !cqueue::more(flags) {
                            push(&mut ring, &recv(fd))?;
                        }
                    }
                }
            }
            // The round's sends go in with the next wait: one system call for all of them.
            for fd in ready.drain(..) {
                let Some(c) = conns.get_mut(&fd) else { continue };
                if c.closed {
                    if c.finished() {
                        conns.remove(&fd);
                    }
                    continue;
                }
                if c.in_flight {
                    continue;
                }
                if c.sending.is_empty() {
                    std::mem::swap(&mut c.sending, &mut c.pending.out);
                }
                if c.sending.is_empty() {
                    continue;
                }
                let len = u32::try_from(c.sending.len()).unwrap_or(u32::MAX);
                let send = opcode::Send::new(types::Fd(c.stream.as_raw_fd()), c.sending.as_ptr(), len);
                c.in_flight = true;
                push(&mut ring, &send.build().user_data(SEND | fd as u64))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pending;

    /// The replies to `input`, arriving whole.
    fn replies(input: &[u8]) -> Vec<u8> {
        let mut p = Pending::default();
        p.answer(input);
        p.out
    }

    #[test]
    fn requests_get_a_reply_of_their_kind_once_whole() {
        let get = b"*2\r\n$3\r\nGET\r\n$4\r\nk:01\r\n";
        assert_eq!(replies(get), b"$20\r\n01234567890123456789\r\n");
        for cut in 0..get.len() {
            assert_eq!(replies(&get[..cut]), b"", "cut at {cut}");
        }
        let mget = b"*3\r\n$4\r\nmget\r\n$1\r\na\r\n$1\r\nb\r\n";
        assert_eq!(replies(mget), b"*2\r\n$20\r\n01234567890123456789\r\n$20\r\n01234567890123456789\r\n");
        assert_eq!(replies(b"PING\r\n"), b"+PONG\r\n");
        assert_eq!(replies(b"\r\n"), b"");
        assert_eq!(replies(b"*1\r\n$3\r\nDEL\r\n"), b":1\r\n");
        assert_eq!(replies(b"*1\r\n$3\r\nSET\r\n"), b"+OK\r\n");
        assert_eq!(replies(b"*0\r\n*-1\r\n"), b"");
        // Input the parser refuses: an error, and the server goes on with the next read.
        let mut p = Pending::default();
        p.answer(b"*1\r\n$x\r\n");
        assert_eq!(p.out, b"-ERR Protocol error\r\n");
        p.answer(b"PING\r\n");
        assert_eq!(p.out, b"-ERR Protocol error\r\n+PONG\r\n");
    }

    #[test]
    fn replies_follow_requests_however_the_bytes_are_cut() {
        let stream: Vec<u8> =
            [&b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"[..], b"PING\r\n", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"].concat();
        let whole = replies(&stream);
        assert_eq!(whole, b":1\r\n+PONG\r\n$20\r\n01234567890123456789\r\n");
        for cut in 0..=stream.len() {
            let mut p = Pending::default();
            p.answer(&stream[..cut]);
            p.answer(&stream[cut..]);
            assert_eq!(p.out, whole, "cut at {cut}");
            assert!(p.partial.is_empty());
        }
    }
}
