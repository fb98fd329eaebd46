//! Per-connection state ([`Conn`]) and what other connections can see of it ([`ClientInfo`],
//! for CLIENT LIST and CLIENT KILL).

use crate::outlimit::Class;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;
use tumbler_keyspace::WatchFlag;
use tumbler_proto::Protocol;

/// CLIENT REPLY state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// Replies are sent.
    #[default]
    On,
    /// No replies until CLIENT REPLY ON.
    Off,
    /// The next command's reply is dropped (set by CLIENT REPLY SKIP, applied after it).
    SkipNext,
    /// This command's reply is dropped.
    Skip,
}

/// What other connections see of a client, shared with the registry. The owning connection
/// updates it with relaxed stores; readers get a consistent-enough picture for CLIENT LIST.
pub struct ClientInfo {
    /// Connection id (CLIENT ID).
    pub id: u64,
    /// Peer address `ip:port` (or a socket path).
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// File descriptor, -1 if unknown.
    pub fd: i32,
    /// Creation time (monotonic ms).
    pub created: u64,
    /// Last command time (monotonic ms).
    pub last_interaction: AtomicU64,
    /// Selected database.
    pub db: AtomicU32,
    /// Protocol version (2 or 3).
    pub resp: AtomicU32,
    /// Id of the last command (for `cmd=`), `u32::MAX` for none.
    pub last_cmd: AtomicU32,
    /// Bytes in the query buffer.
    pub qbuf: AtomicUsize,
    /// Free bytes in the query buffer.
    pub qbuf_free: AtomicUsize,
    /// Bytes of pending output.
    pub omem: AtomicUsize,
    /// Connection name and library info, set by CLIENT SETNAME / SETINFO.
    pub names: Mutex<Names>,
    /// CLIENT NO-EVICT.
    pub no_evict: AtomicBool,
    /// Set by CLIENT KILL; the connection closes at its next opportunity.
    pub killed: AtomicBool,
    /// Wakes the connection's task so it notices `killed` (installed by the network layer).
    pub waker: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// Authenticated user name.
    pub user: Mutex<String>,
    /// Messages for this client from other connections (pub/sub, MONITOR), written by its
    /// task after its own replies ([`ClientInfo::deliver`], [`ClientInfo::take_messages`]).
    outbox: Mutex<Vec<u8>>,
    /// Set while `outbox` holds messages, so that a task with none (nearly always) looks
    /// without taking the lock: twice a request at -P 1.
    has_messages: AtomicBool,
    /// Subscribed channels, patterns and shard channels (CLIENT LIST `sub`, `psub`, `ssub`).
    pub subs: [AtomicU32; 3],
    /// Commands queued since MULTI, -1 outside a transaction (CLIENT LIST `multi`, flag `x`).
    pub multi: AtomicI32,
    /// Set when a key this client WATCHes changes (CLIENT LIST flag `d`).
    pub watch: Arc<WatchFlag>,
    /// The client is in MONITOR mode (CLIENT LIST flag `O`).
    pub monitor: AtomicBool,
    /// `client-output-buffer-limit`, installed by the network layer (Redis' defaults if not).
    pub limits: std::sync::OnceLock<Arc<crate::outlimit::OutputLimits>>,
    /// When the client's pending output went over its class's soft limit (0: it is not over).
    pub over_soft_since: AtomicU64,
}

/// Most bytes of undelivered messages a client may have queued before it is disconnected:
/// Redis' default hard `client-output-buffer-limit` for pub/sub clients.
pub const OUTBOX_LIMIT: usize = 32 << 20;

/// Names a client set for itself.
#[derive(Default, Clone)]
pub struct Names {
    /// CLIENT SETNAME.
    pub name: Vec<u8>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Vec<u8>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Vec<u8>,
}

impl ClientInfo {
    /// A fresh client record.
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, now: u64) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: now,
            last_interaction: AtomicU64::new(now),
            db: AtomicU32::new(0),
            resp: AtomicU32::new(2),
            last_cmd: AtomicU32::new(u32::MAX),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            names: Mutex::new(Names::default()),
            no_evict: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            waker: Mutex::new(None),
            user: Mutex::new("default".to_string()),
            outbox: Mutex::new(Vec::new()),
            has_messages: AtomicBool::new(false),
            subs: Default::default(),
            multi: AtomicI32::new(-1),
            watch: Arc::default(),
            monitor: AtomicBool::new(false),
            limits: std::sync::OnceLock::new(),
            over_soft_since: AtomicU64::new(0),
        }
    }

    /// Queues `bytes` (a complete reply) for this client and wakes its task. A client that lets
    /// more pile up than `client-output-buffer-limit` allows its class (pubsub, or replica for
    /// MONITOR) is disconnected instead, as Redis does.
    pub fn deliver(&self, bytes: &[u8]) {
        let mut out = self.outbox.lock();
        let class = if self.monitor.load(Relaxed) { Class::Replica } else { Class::Pubsub };
        let used = (out.len() + bytes.len()) as u64;
        let over = match self.limits.get() {
            Some(l) => crate::outlimit::exceeded(l.get(class), used, &self.over_soft_since),
            None => used > OUTBOX_LIMIT as u64,
        };
        if over {
            drop(out);
            if !self.killed.swap(true, Relaxed) {
                tracing::warn!(
                    client = %self.addr,
                    "client scheduled to be closed ASAP for overcoming of output buffer limits"
                );
            }
            self.kill();
            return;
        }
        out.extend_from_slice(bytes);
        self.has_messages.store(true, Release);
        let first = out.len() == bytes.len();
        drop(out);
        if first {
            self.wake();
        }
    }

    /// Hands the queued messages to `f` and forgets them. Costs one load when there are none:
    /// a message queued meanwhile raises the task's signal after `has_messages`, so the task
    /// looks again.
    pub fn take_messages(&self, f: impl FnOnce(&[u8])) {
        if !self.has_messages.load(Acquire) {
            return;
        }
        let mut out = self.outbox.lock();
        if !out.is_empty() {
            f(&out);
            out.clear();
            if out.capacity() > 64 * 1024 {
                out.shrink_to(64 * 1024);
            }
        }
        self.has_messages.store(false, Release);
    }

    /// Messages are queued for this client.
    pub fn has_messages(&self) -> bool {
        self.has_messages.load(Acquire)
    }

    /// Subscriptions of every kind.
    pub fn subscriptions(&self) -> u32 {
        self.subs.iter().map(|s| s.load(Relaxed)).sum()
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.wake();
    }

    /// Wakes the connection's task, which then looks for the reason (killed, messages, the
    /// server stopping).
    pub fn wake(&self) {
        if let Some(w) = self.waker.lock().as_ref() {
            w();
        }
    }

    /// The connection name.
    pub fn name(&self) -> Vec<u8> {
        self.names.lock().name.clone()
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
}

impl Clients {
    /// A new, unique client id (ids start at 1 and never repeat).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    /// Registers a connection.
    pub fn add(&self, info: Arc<ClientInfo>) {
        self.map.lock().insert(info.id, info);
    }

    /// Unregisters a connection.
    pub fn remove(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }

    /// A snapshot of all clients, in id order.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }

    /// The client with this id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }
}

/// State of one connection, owned by its task.
pub struct Conn {
    /// Shared view of this connection.
    pub info: Arc<ClientInfo>,
    /// Selected database.
    pub db: usize,
    /// Protocol in use.
    pub protocol: Protocol,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Close once pending replies are written (QUIT, protocol errors, CLIENT KILL of self).
    pub close_after_reply: bool,
    /// Close at once, without replying (the POST / Host: attack check).
    pub close_now: bool,
    /// Whether the connection has authenticated (or needs no authentication).
    pub authenticated: bool,
    /// The ACL user the connection runs as; `None` until the first command for the `default`
    /// user (resolved lazily, so building a connection needs no ACL lookup).
    pub user: Option<tumbler_acl::SessionUser>,
    /// The server was asked to shut down by this connection.
    pub shutdown: Option<ShutdownRequest>,
    /// The connection comes from a loopback address (for `enable-debug-command local`).
    pub local: bool,
    /// Keys that received elements during the current command (clients blocked on them are
    /// served when the top-level command ends).
    pub ready: Vec<(usize, Vec<u8>)>,
    /// Set by a blocking command that found nothing: the connection waits before running more.
    pub blocked: Option<crate::blocking::BlockRequest>,
    /// True while running a script or a transaction: blocking commands return at once.
    pub no_block: bool,
    /// The script client: commands run from a script (see [`crate::Ctx::ttl_now`]).
    pub in_script: bool,
    /// For the script client: the id of the connection running the script.
    pub caller: u64,
    /// For the script client: messages the script published to its own caller, which go
    /// into the caller's reply stream before the script's reply.
    pub own_messages: Vec<u8>,
    /// Channels, patterns and shard channels this connection is subscribed to (indexed by
    /// [`crate::pubsub::Kind`] as usize).
    pub subscribed: [std::collections::BTreeSet<Vec<u8>>; 3],
    /// Wakes this connection's task (installed by the network layer).
    pub wake: Arc<dyn Fn() + Send + Sync>,
    /// The transaction being queued (MULTI), if any.
    pub multi: Option<crate::cmd::transactions::Multi>,
    /// Keys this connection WATCHes, as (database, key).
    pub watched: Vec<(usize, Vec<u8>)>,
    /// True while this connection has the keyspace to itself (inside EXEC or a script), so
    /// that a command needing exclusive access runs at once instead of waiting for itself.
    pub exclusive: bool,
    /// Monotonic µs at which the next top-level command starts: set by the network layer when
    /// a batch starts and by each command as it ends, so that timing a command (SLOWLOG,
    /// LATENCY) costs one clock read, not two.
    pub cmd_start_us: u64,
    /// The top-level commands of the current batch are timed one by one ([`crate::dispatch::commands_timed`]
    /// as the batch started): decided once per batch, so that a CONFIG SET in its middle takes
    /// effect from the next and no command is both timed and given a share of the batch.
    pub timed: bool,
}

/// A SHUTDOWN request, executed by the network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownRequest {
    /// SAVE was requested (persistence is not implemented yet; logged).
    pub save: bool,
}

impl Conn {
    /// State for a new connection.
    pub fn new(info: Arc<ClientInfo>, authenticated: bool, local: bool) -> Self {
        Conn {
            info,
            db: 0,
            protocol: Protocol::Resp2,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            close_now: false,
            authenticated,
            user: None,
            shutdown: None,
            local,
            ready: Vec::new(),
            blocked: None,
            no_block: false,
            in_script: false,
            caller: 0,
            own_messages: Vec::new(),
            subscribed: Default::default(),
            wake: Arc::new(|| {}),
            multi: None,
            watched: Vec::new(),
            exclusive: false,
            cmd_start_us: 0,
            timed: false,
        }
    }

    /// The connection id.
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// Subscriptions of every kind.
    pub fn subscriptions(&self) -> usize {
        self.subscribed.iter().map(|s| s.len()).sum()
    }

    /// In RESP2 a subscribed connection may only (un)subscribe, PING, QUIT and RESET.
    pub fn in_subscribed_mode(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subscriptions() > 0
    }
}
