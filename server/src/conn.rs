//! One client connection: read a batch, run every complete command in it, write all replies at
//! once.
//!
//! The read buffer is a `BytesMut`: requests are parsed in place and their arguments borrowed
//! from it, consumed requests are dropped from the front in O(1), and a large incoming value is
//! read straight into space reserved for it. One clock read and one pass through the gate per
//! batch, one `write` per batch.

use crate::Control;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tumbler_commands::{dispatch, ClientInfo, Conn, Ctx, Server};
use tumbler_proto::{Limits, Parser, Reply, Step};

/// Initial (and minimum) read buffer capacity, as Redis' PROTO_IOBUF_LEN.
const READ_CHUNK: usize = 16 * 1024;
/// Output beyond this is flushed in the middle of a batch, so a huge pipeline of large replies
/// does not accumulate without bound.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(mut stream: TcpStream, peer: SocketAddr, ctl: Arc<Control>, worker: usize) {
    let srv: &Server = &ctl.srv;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd()
    };
    let id = srv.clients.next_id();
    let now = srv.clock.mono_ms();
    let info = Arc::new(ClientInfo::new(id, peer.to_string(), local, fd, now));
    let kill = Arc::new(Notify::new());
    {
        let k = kill.clone();
        *info.waker.lock() = Some(Box::new(move || k.notify_one()));
    }
    srv.clients.add(info.clone());
    srv.stats.connections.fetch_add(1, Relaxed);
    let authenticated = !srv.config.has_password.load(Relaxed);
    let mut conn = Conn::new(info.clone(), authenticated, peer.ip().is_loopback());
    let mut stop = ctl.stop_rx.clone();

    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = Parser::new();
    let mut reply = Reply::new();
    let mut need = 0usize;

    'conn: loop {
        if *stop.borrow() || info.killed.load(Relaxed) {
            break;
        }
        // Make room for the next read: a chunk, or, while a large bulk is arriving, room that
        // doubles with what has arrived (a client announcing 512 MB and sending nothing does
        // not get 512 MB allocated up front).
        let want = if need > rbuf.len() { (need - rbuf.len()).min(rbuf.len().max(READ_CHUNK)) } else { READ_CHUNK };
        if rbuf.capacity() - rbuf.len() < want {
            rbuf.reserve(want);
        }
        let timeout = srv.config.timeout.load(Relaxed);
        let read = tokio::select! {
            biased;
            r = stream.read_buf(&mut rbuf) => r,
            _ = kill.notified() => continue 'conn,
            _ = stop.changed() => break 'conn,
            _ = idle(timeout) => {
                tracing::debug!("closing idle client");
                break 'conn;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let wstats = srv.stats.worker(worker);
        let limit = srv.config.client_query_buffer_limit.load(Relaxed) as usize;
        if rbuf.len() > limit {
            tracing::warn!("closing client that reached max query buffer length ({} bytes)", rbuf.len());
            srv.stats.limit_disconnects.fetch_add(1, Relaxed);
            break;
        }

        // Run every complete request in the buffer.
        let now = srv.clock.mono_ms();
        let t0 = srv.clock.mono_us();
        let limits = Limits {
            max_bulk_len: srv.config.proto_max_bulk_len.load(Relaxed).min(i64::MAX as u64) as i64,
            unauthenticated: !conn.authenticated,
        };
        let mut ctx = Ctx { srv, conn: &mut conn, reply: &mut reply, now, worker, gate: Some(srv.gate.shared(worker)) };
        let mut ids: smallvec_ids::Ids = smallvec_ids::Ids::default();
        let mut close = false;
        loop {
            let consumed = match parser.next(&rbuf, limits) {
                Ok(Step::Request { args, consumed }) => {
                    if let Some(id) = dispatch(&mut ctx, args) {
                        ids.push(id);
                    }
                    consumed
                }
                Ok(Step::Skip { consumed }) => consumed,
                Ok(Step::Incomplete { need: n }) => {
                    need = n;
                    break;
                }
                Err(e) => {
                    let mark = ctx.reply.len();
                    ctx.reply.error_bytes(&e.message_bytes());
                    srv.stats.error(&e.message_bytes());
                    if ctx.conn.reply_mode != tumbler_commands::ReplyMode::On {
                        ctx.reply.truncate(mark);
                    }
                    tracing::debug!("protocol error: {}", e.message());
                    close = true;
                    break;
                }
            };
            rbuf.advance(consumed);
            need = 0;
            if ctx.conn.close_now || ctx.conn.close_after_reply {
                close = true;
                break;
            }
            if ctx.reply.len() >= FLUSH_AT {
                // Write what is ready without holding the gate across the await.
                ctx.gate = None;
                let pending = ctx.reply.len();
                if write_out(&mut stream, ctx.reply).await.is_err() {
                    break 'conn;
                }
                wstats.net(0, pending as u64);
                ctx.gate = Some(srv.gate.shared(worker));
            }
        }
        let shutdown = ctx.conn.shutdown.take();
        let close_now = ctx.conn.close_now;
        drop(ctx);
        let elapsed = srv.clock.mono_us().saturating_sub(t0);
        ids.attribute(srv, worker, elapsed);
        if rbuf.is_empty() && rbuf.capacity() > 4 * READ_CHUNK && parser.is_idle() {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        info.qbuf.store(rbuf.len(), Relaxed);
        info.qbuf_free.store(rbuf.capacity() - rbuf.len(), Relaxed);

        if let Some(req) = shutdown {
            ctl.shutdown(req.save);
            break;
        }
        if close_now {
            // The cross-protocol attack check: close without sending anything.
            break;
        }
        let out = reply.len();
        if out > 0 && write_out(&mut stream, &mut reply).await.is_err() {
            break;
        }
        wstats.net(n as u64, out as u64);
        reply.shrink_if_idle(64 * 1024);
        if close {
            break;
        }
    }
    let _ = stream.shutdown().await;
    srv.clients.remove(id);
}

/// Writes all pending replies.
async fn write_out(stream: &mut TcpStream, reply: &mut Reply) -> std::io::Result<()> {
    stream.write_all(reply.as_bytes()).await?;
    reply.consume(reply.len());
    Ok(())
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
mod smallvec_ids {
    use tumbler_commands::{CommandId, Server};

    #[derive(Default)]
    pub(crate) struct Ids {
        inline: [CommandId; 16],
        n: usize,
        more: Vec<CommandId>,
    }

    impl Ids {
        pub(crate) fn push(&mut self, id: CommandId) {
            if self.n < self.inline.len() {
                self.inline[self.n] = id;
            } else {
                self.more.push(id);
            }
            self.n += 1;
        }

        pub(crate) fn attribute(&self, srv: &Server, worker: usize, elapsed_us: u64) {
            if self.n == 0 {
                return;
            }
            let share = elapsed_us / self.n as u64;
            let w = srv.stats.worker(worker);
            for id in self.inline.iter().take(self.n).chain(self.more.iter()) {
                w.add_usec(*id, share);
            }
        }
    }
}
