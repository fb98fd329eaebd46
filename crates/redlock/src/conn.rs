//! One node: a kept-open connection, reopened on the next request after any failure, and the
//! lock operations as requests on it.
//!
//! Invariant: a [`Conn`] sits in its node's slot only while it is in step with the server (every
//! request sent has had its reply read). A request takes the connection out of the slot and puts
//! it back only after a complete reply, so a request cancelled by its timeout, or failed by an
//! I/O or decoding error, drops the connection instead of leaving a stray reply to be read as
//! the answer to the next request.

use std::sync::Arc;
use std::time::Duration;

use redis_protocol::bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use crate::options::{NodeAddr, Options, Protocol, Transport};
use crate::resp::{self, Reply};
use crate::tls::Stream;
use crate::NodeError;

/// The compare-and-delete script for servers without a native command (plain Redis).
const RELEASE_LUA: &str = include_str!("lua/release.lua");
/// SHA1 of [`RELEASE_LUA`] (checked by a unit test), for EVALSHA.
const RELEASE_SHA: &str = "83fe5dad918f39bae9fcbfac3457f500b6a75f73";
/// The compare-and-pexpire script for servers without a native command.
const EXTEND_LUA: &str = include_str!("lua/extend.lua");
/// SHA1 of [`EXTEND_LUA`] (checked by a unit test), for EVALSHA.
const EXTEND_SHA: &str = "cfce5c9078d3e415bba2edf319a5681172613247";

/// A request for one node. Owned (cheaply cloned `Bytes`), so it can travel to a task per node.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// `SET key token NX PX ms` → `Out::Bool` (stored or not).
    SetNx { key: Bytes, token: Bytes, ttl_ms: u64 },
    /// `LOCK.ACQUIRE key owner PX ms` → `Out::Acquire`.
    Acquire { key: Bytes, owner: Bytes, ttl_ms: u64 },
    /// `LOCK.FENCE key owner t` → `Out::Int` (t, or 0 when not held).
    Fence { key: Bytes, owner: Bytes, t: u64 },
    /// Compare-and-delete → `Out::Bool`. `fenced` locks use `LOCK.RELEASE`, others `DELIFEQ`
    /// or the Lua script.
    Release { key: Bytes, token: Bytes, fenced: bool },
    /// Compare-and-pexpire (`LOCK.EXTEND` or the Lua script) → `Out::Bool`.
    Extend { key: Bytes, token: Bytes, ttl_ms: u64 },
    /// `PTTL key` → `Out::Int`.
    Pttl { key: Bytes },
    /// `GET`, `PTTL` and, where the node has it, `LOCK.INFO` → `Out::Status`.
    Status { key: Bytes },
    /// `PING` → `Out::Unit`.
    Ping,
}

/// `LOCK.ACQUIRE`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// `[1, token]`.
    Granted(u64),
    /// `[0, ms]`: the holder's remaining time, `None` for a key without a TTL.
    Refused(Option<Duration>),
}

/// A node's answer to an [`Op`].
#[derive(Clone, Debug)]
pub(crate) enum Out {
    Bool(bool),
    Int(i64),
    Acquire(Acquired),
    Status(crate::NodeStatus),
    Unit,
}

/// One node of the quorum and its connection.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) addr: NodeAddr,
    /// `host:port`, for error messages.
    pub(crate) name: String,
    /// For `rediss://` nodes: the TLS configuration and the name the certificate must carry.
    tls: Option<TlsTarget>,
    slot: Mutex<Option<Conn>>,
}

impl Node {
    /// A node; `tls` is the client configuration of every `rediss://` node (required for them).
    pub(crate) fn new(
        addr: NodeAddr,
        opts: &Options,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Node, crate::Error> {
        let tls = match addr.transport {
            Transport::Tcp => None,
            Transport::Tls => {
                let config = tls.ok_or_else(|| {
                    crate::Error::Config(format!("{}: rediss:// needs TLS options (a CA file)", addr.host_port()))
                })?;
                let configured = opts.tls.as_ref().and_then(|t| t.server_name.as_deref());
                Some(TlsTarget { config: Arc::clone(config), name: crate::tls::server_name(configured, &addr.host)? })
            }
        };
        Ok(Node { name: addr.host_port(), addr, tls, slot: Mutex::new(None) })
    }

    /// Runs `op`, connecting first if no connection is open. Waiting for the connection (another
    /// request of this client may be using it) and the request itself are each bounded by
    /// `timeout`, connecting and the handshake by the connect timeout.
    pub(crate) async fn run(&self, opts: &Options, timeout: Duration, op: &Op) -> Result<Out, NodeError> {
        let mut slot = tokio::time::timeout(timeout, self.slot.lock()).await.map_err(|_| NodeError::Timeout)?;
        let mut conn = match slot.take() {
            Some(c) => c,
            None => tokio::time::timeout(opts.connect_timeout, Conn::connect(&self.addr, self.tls.as_ref(), opts))
                .await
                .map_err(|_| NodeError::Timeout)??,
        };
        match tokio::time::timeout(timeout, conn.exec(op)).await {
            Ok(Ok(out)) => {
                *slot = Some(conn);
                Ok(out)
            }
            // An error reply leaves the connection in step: keep it.
            Ok(Err(e @ NodeError::Server(_))) => {
                *slot = Some(conn);
                Err(e)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NodeError::Timeout),
        }
    }
}

/// How a `rediss://` node's TLS session is set up.
#[derive(Debug)]
struct TlsTarget {
    config: Arc<rustls::ClientConfig>,
    name: rustls_pki_types::ServerName<'static>,
}

/// An open, authenticated connection.
#[derive(Debug)]
struct Conn {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Replies come as RESP3 (HELLO 3 succeeded).
    resp3: bool,
    /// Use `DELIFEQ` to release plain locks; cleared by `ERR unknown command`.
    native_release: bool,
    /// Use `LOCK.EXTEND` to extend; cleared by `ERR unknown command`.
    native_extend: bool,
    /// Ask `LOCK.INFO` in status requests; cleared by `ERR unknown command`.
    has_lock_info: bool,
}

/// True for Redis' reply to a command it does not have.
fn is_unknown_command(e: &str) -> bool {
    e.starts_with("ERR unknown command")
}

/// The error of an error reply, as a [`NodeError::Server`].
fn server(e: String) -> NodeError {
    NodeError::Server(e)
}

fn unexpected(what: &str, r: &Reply) -> NodeError {
    NodeError::Protocol(format!("unexpected reply to {what}: {r:?}"))
}

impl Conn {
    async fn connect(addr: &NodeAddr, tls: Option<&TlsTarget>, opts: &Options) -> Result<Conn, NodeError> {
        let tcp = TcpStream::connect((addr.host.as_str(), addr.port))
            .await
            .map_err(|e| NodeError::Io(format!("connect: {e}")))?;
        // Lock requests are small and latency-bound.
        let _ = tcp.set_nodelay(true);
        let stream = match tls {
            None => Stream::Tcp(tcp),
            Some(t) => Stream::Tls(Box::new(
                TlsConnector::from(Arc::clone(&t.config))
                    .connect(t.name.clone(), tcp)
                    .await
                    .map_err(|e| NodeError::Io(format!("TLS handshake: {e}")))?,
            )),
        };
        let mut c = Conn {
            stream,
            rbuf: BytesMut::with_capacity(512),
            wbuf: BytesMut::with_capacity(256),
            resp3: false,
            native_release: opts.native_commands,
            native_extend: opts.native_commands,
            has_lock_info: true,
        };
        c.handshake(addr, opts).await?;
        Ok(c)
    }

    /// HELLO 3 (with AUTH) or AUTH, then SELECT and CLIENT SETNAME as configured. A server that
    /// does not know HELLO gets RESP2 and AUTH.
    async fn handshake(&mut self, addr: &NodeAddr, opts: &Options) -> Result<(), NodeError> {
        let user = addr.username.as_deref().or(opts.username.as_deref());
        let pass = addr.password.as_deref().or(opts.password.as_deref());
        let mut authed = false;
        if opts.protocol == Protocol::Resp3 {
            let mut args: Vec<&[u8]> = vec![b"HELLO", b"3"];
            if let Some(p) = pass {
                args.extend([b"AUTH".as_slice(), user.unwrap_or("default").as_bytes(), p.as_bytes()]);
            }
            // The reply to HELLO 3 is RESP3 already; an error line reads the same in both.
            self.resp3 = true;
            match self.call(&args).await? {
                Reply::Error(e) if e.starts_with("NOPROTO") || is_unknown_command(&e) => self.resp3 = false,
                Reply::Error(e) => return Err(server(e)),
                _ => authed = true,
            }
        }
        if !authed {
            if let Some(p) = pass {
                let mut args: Vec<&[u8]> = vec![b"AUTH"];
                if let Some(u) = user {
                    args.push(u.as_bytes());
                }
                args.push(p.as_bytes());
                self.expect_ok(&args).await?;
            }
        }
        let db = addr.database.unwrap_or(opts.database);
        if db != 0 {
            let mut b = [0u8; 20];
            let db = resp::itoa(u64::from(db), &mut b);
            self.expect_ok(&[b"SELECT", db]).await?;
        }
        if let Some(name) = &opts.client_name {
            self.expect_ok(&[b"CLIENT", b"SETNAME", name.as_bytes()]).await?;
        }
        Ok(())
    }

    async fn expect_ok(&mut self, args: &[&[u8]]) -> Result<(), NodeError> {
        match self.call(args).await? {
            r if r.is_ok() => Ok(()),
            Reply::Error(e) => Err(server(e)),
            r => Err(unexpected(&String::from_utf8_lossy(args[0]), &r)),
        }
    }

    /// Sends one command and reads its reply (error replies included, as `Reply::Error`).
    async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, NodeError> {
        self.wbuf.clear();
        resp::encode(&mut self.wbuf, args)?;
        self.stream.write_all(&self.wbuf).await.map_err(|e| NodeError::Io(format!("write: {e}")))?;
        loop {
            if let Some(r) = resp::decode(&mut self.rbuf, self.resp3)? {
                match r {
                    Some(reply) => return Ok(reply),
                    // A RESP3 push (none is subscribed to, but a server may send them): skip.
                    None => continue,
                }
            }
            let n = self.stream.read_buf(&mut self.rbuf).await.map_err(|e| NodeError::Io(format!("read: {e}")))?;
            if n == 0 {
                return Err(NodeError::Io("connection closed by the server".into()));
            }
        }
    }

    /// Runs an `EVALSHA` of a known script, falling back to `EVAL` on `NOSCRIPT` (a server that
    /// has not seen it yet, or flushed its scripts).
    async fn eval(&mut self, sha: &str, body: &str, key: &[u8], argv: &[&[u8]]) -> Result<Reply, NodeError> {
        let mut args: Vec<&[u8]> = Vec::with_capacity(4 + argv.len());
        args.extend([b"EVALSHA".as_slice(), sha.as_bytes(), b"1", key]);
        args.extend_from_slice(argv);
        match self.call(&args).await? {
            Reply::Error(e) if e.starts_with("NOSCRIPT") => {
                args[0] = b"EVAL";
                args[1] = body.as_bytes();
                self.call(&args).await
            }
            r => Ok(r),
        }
    }

    async fn exec(&mut self, op: &Op) -> Result<Out, NodeError> {
        let mut num = [0u8; 20];
        match op {
            Op::SetNx { key, token, ttl_ms } => {
                let ms = resp::itoa(*ttl_ms, &mut num);
                match self.call(&[b"SET", key, token, b"NX", b"PX", ms]).await? {
                    r if r.is_ok() => Ok(Out::Bool(true)),
                    Reply::Nil => Ok(Out::Bool(false)),
                    Reply::Error(e) => Err(server(e)),
                    r => Err(unexpected("SET NX", &r)),
                }
            }
            Op::Acquire { key, owner, ttl_ms } => {
                let ms = resp::itoa(*ttl_ms, &mut num);
                match self.call(&[b"LOCK.ACQUIRE", key, owner, b"PX", ms]).await? {
                    Reply::Array(a) => match a.as_slice() {
                        [Reply::Int(1), Reply::Int(t)] if *t > 0 => {
                            Ok(Out::Acquire(Acquired::Granted(t.unsigned_abs())))
                        }
                        [Reply::Int(0), Reply::Int(ms)] => Ok(Out::Acquire(Acquired::Refused(
                            (*ms >= 0).then(|| Duration::from_millis(ms.unsigned_abs())),
                        ))),
                        _ => Err(unexpected("LOCK.ACQUIRE", &Reply::Array(a))),
                    },
                    Reply::Error(e) => Err(server(e)),
                    r => Err(unexpected("LOCK.ACQUIRE", &r)),
                }
            }
            Op::Fence { key, owner, t } => {
                let t = resp::itoa(*t, &mut num);
                match self.call(&[b"LOCK.FENCE", key, owner, t]).await? {
                    Reply::Int(n) => Ok(Out::Int(n)),
                    Reply::Error(e) => Err(server(e)),
                    r => Err(unexpected("LOCK.FENCE", &r)),
                }
            }
            Op::Release { key, token, fenced } => {
                let reply = if *fenced {
                    self.call(&[b"LOCK.RELEASE", key, token]).await?
                } else {
                    let mut reply = None;
                    if self.native_release {
                        match self.call(&[b"DELIFEQ", key, token]).await? {
                            Reply::Error(e) if is_unknown_command(&e) => self.native_release = false,
                            r => reply = Some(r),
                        }
                    }
                    match reply {
                        Some(r) => r,
                        None => self.eval(RELEASE_SHA, RELEASE_LUA, key, &[token]).await?,
                    }
                };
                int_bool("release", reply)
            }
            Op::Extend { key, token, ttl_ms } => {
                let ms = resp::itoa(*ttl_ms, &mut num);
                let mut reply = None;
                if self.native_extend {
                    match self.call(&[b"LOCK.EXTEND", key, token, b"PX", ms]).await? {
                        Reply::Error(e) if is_unknown_command(&e) => self.native_extend = false,
                        r => reply = Some(r),
                    }
                }
                let reply = match reply {
                    Some(r) => r,
                    None => self.eval(EXTEND_SHA, EXTEND_LUA, key, &[token, ms]).await?,
                };
                int_bool("extend", reply)
            }
            Op::Pttl { key } => match self.call(&[b"PTTL", key]).await? {
                Reply::Int(n) => Ok(Out::Int(n)),
                Reply::Error(e) => Err(server(e)),
                r => Err(unexpected("PTTL", &r)),
            },
            Op::Status { key } => self.status(key).await.map(Out::Status),
            Op::Ping => match self.call(&[b"PING"]).await? {
                Reply::Status(_) | Reply::Bulk(_) => Ok(Out::Unit),
                Reply::Error(e) => Err(server(e)),
                r => Err(unexpected("PING", &r)),
            },
        }
    }

    async fn status(&mut self, key: &[u8]) -> Result<crate::NodeStatus, NodeError> {
        let value = match self.call(&[b"GET", key]).await? {
            Reply::Bulk(b) => Some(b.to_vec()),
            Reply::Nil => None,
            // Another type: held by something that is not a lock; report it without a value.
            Reply::Error(e) if e.starts_with("WRONGTYPE") => Some(Vec::new()),
            Reply::Error(e) => return Err(server(e)),
            r => return Err(unexpected("GET", &r)),
        };
        let pttl = match self.call(&[b"PTTL", key]).await? {
            Reply::Int(n) => n,
            Reply::Error(e) => return Err(server(e)),
            r => return Err(unexpected("PTTL", &r)),
        };
        let mut info = None;
        if self.has_lock_info {
            match self.call(&[b"LOCK.INFO", key]).await? {
                Reply::Error(e) if is_unknown_command(&e) => self.has_lock_info = false,
                Reply::Error(e) if e.starts_with("WRONGTYPE") => {}
                Reply::Error(e) => return Err(server(e)),
                Reply::Nil => {}
                Reply::Map(pairs) => info = Some(lock_info(pairs)),
                Reply::Array(flat) => {
                    let mut it = flat.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    info = Some(lock_info(pairs));
                }
                r => return Err(unexpected("LOCK.INFO", &r)),
            }
        }
        Ok(crate::NodeStatus { present: value.is_some(), value, pttl, info, lock_commands: self.has_lock_info })
    }
}

/// Reads LOCK.INFO's fields; unknown fields are ignored, missing ones stay at their defaults.
fn lock_info(pairs: Vec<(Reply, Reply)>) -> crate::LockInfo {
    let mut info = crate::LockInfo::default();
    for (k, v) in pairs {
        let name = match &k {
            Reply::Bulk(b) | Reply::Status(b) => b.clone(),
            _ => continue,
        };
        match (name.as_ref(), v) {
            (b"owner", Reply::Bulk(b)) => info.owner = b.to_vec(),
            (b"token", Reply::Int(n)) => info.token = n,
            (b"pttl", Reply::Int(n)) => info.pttl = n,
            (b"acquired-at", Reply::Int(n)) => info.acquired_at_ms = n,
            (b"extensions", Reply::Int(n)) => info.extensions = n,
            _ => {}
        }
    }
    info
}

/// Reads a `:1` / `:0` reply.
fn int_bool(what: &str, r: Reply) -> Result<Out, NodeError> {
    match r {
        Reply::Int(n) => Ok(Out::Bool(n == 1)),
        Reply::Error(e) => Err(server(e)),
        r => Err(unexpected(what, &r)),
    }
}

/// Runs `op` on the nodes at `which` in parallel, one task each, and returns their outcomes in
/// the order of `which`. Every outcome is bounded by the node's timeouts, so this returns.
pub(crate) async fn broadcast(
    nodes: &[Arc<Node>],
    which: &[usize],
    opts: &Arc<Options>,
    timeout: Duration,
    op: &Op,
) -> Vec<Result<Out, NodeError>> {
    let mut set = tokio::task::JoinSet::new();
    for (slot, &i) in which.iter().enumerate() {
        let (node, opts, op) = (Arc::clone(&nodes[i]), Arc::clone(opts), op.clone());
        set.spawn(async move { (slot, node.run(&opts, timeout, &op).await) });
    }
    let mut out: Vec<Result<Out, NodeError>> =
        which.iter().map(|_| Err(NodeError::Io("request task failed".into()))).collect();
    while let Some(done) = set.join_next().await {
        if let Ok((slot, r)) = done {
            out[slot] = r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn script_digests_match_their_bodies() {
        assert_eq!(hex(&Sha1::digest(RELEASE_LUA.as_bytes())), RELEASE_SHA);
        assert_eq!(hex(&Sha1::digest(EXTEND_LUA.as_bytes())), EXTEND_SHA);
    }
}
