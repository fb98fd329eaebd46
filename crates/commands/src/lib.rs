//! Commands: the table that declares them, the dispatcher that runs them, and one module per
//! command family.
//!
//! This crate is synchronous and knows nothing of sockets: the network layer hands it parsed
//! arguments and a reply buffer ([`Ctx`]), so every command can be run and tested in-process,
//! bytes in and bytes out.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod dispatch;
pub mod docs;
pub mod hdr;
pub mod info;
pub mod latency_report;
mod ldouble;
pub mod locks;
pub mod monitor;
pub mod notify;
pub mod outlimit;
pub mod pubsub;
pub mod registry;
pub mod scripts;
pub mod server;
pub mod slowlog;
pub mod spec;
pub mod stats;
pub mod table;
pub mod util;

pub use client::{ClientInfo, Conn, ReplyMode};
pub use config::Config;
pub use dispatch::dispatch;
pub use registry::{CommandId, Registry};
pub use server::Server;
pub use spec::CommandSpec;
/// The ACL library, for the server crate (config-file `user` directives).
pub use tumbler_acl;

use tumbler_keyspace::gate::{Exclusive, Shared};
use tumbler_proto::Reply;

/// Everything a handler needs: the shared server, this connection, its reply buffer, and the
/// time of the current batch.
pub struct Ctx<'a> {
    /// Shared server state.
    pub srv: &'a Server,
    /// This connection's state.
    pub conn: &'a mut Conn,
    /// Where replies go.
    pub reply: &'a mut Reply,
    /// Monotonic milliseconds, read once per batch of pipelined commands.
    pub now: u64,
    /// Index of the worker thread running this connection (statistics and gate slot).
    pub worker: usize,
    /// Passage through the gate, held for the batch: shared, until a command that needs the
    /// keyspace to itself (a script, EXEC) takes it exclusively, which the batch then keeps
    /// to its end (a pipeline of scripts passes the gate once, not once a script, and other
    /// workers wait at most a batch). `None` while a busy script holds the gate: then only
    /// commands flagged `allow-busy` run, the others get -BUSY. Borrowed from the batch, so
    /// that a command hands it on without moving it.
    pub gate: &'a mut Option<Passage>,
}

/// How a batch holds the gate ([`Ctx::gate`]).
pub enum Passage {
    /// Alongside the other workers.
    Shared(Shared),
    /// Alone.
    Exclusive(Exclusive),
}

impl From<Shared> for Passage {
    fn from(s: Shared) -> Self {
        Passage::Shared(s)
    }
}

/// An error a handler returns instead of a reply; rendered by the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// A fixed text from `tumbler_proto::errors`.
    Static(&'static str),
    /// A formatted text.
    Owned(Vec<u8>),
}

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError::Static(s)
    }
}

impl CmdError {
    /// A formatted error text.
    pub fn msg(s: impl Into<Vec<u8>>) -> Self {
        CmdError::Owned(s.into())
    }
}

/// What a handler returns: `Ok` once it has written its reply, or an error to be replied.
pub type CmdResult = Result<(), CmdError>;

impl Ctx<'_> {
    /// The keyspace.
    #[inline]
    pub fn ks(&self) -> &tumbler_keyspace::Keyspace {
        &self.srv.keyspace
    }

    /// A key in this connection's database.
    #[inline]
    pub fn key<'k>(&self, key: &'k [u8]) -> tumbler_keyspace::KeyRef<'k> {
        self.srv.keyspace.key(self.conn.db, key)
    }

    /// Publishes a keyspace notification for `key` of this connection's database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.srv.notify(class, event, self.conn.db, key);
    }

    /// Wall-clock milliseconds at the batch's monotonic time.
    pub fn wall_ms(&self) -> i64 {
        self.srv.clock.wall_at(self.now)
    }

    /// The time relative TTLs start from (SET PX, PEXPIRE…) and remaining TTLs are measured
    /// against (PTTL): the batch's time, except inside a script. A script's lookups keep the
    /// time the script started (a key does not expire under it), but, as in Redis, a TTL it
    /// sets or reads follows the real clock.
    #[inline]
    pub fn ttl_now(&self) -> u64 {
        if self.conn.in_script {
            self.srv.clock.mono_ms().max(self.now)
        } else {
            self.now
        }
    }

    /// Runs `f` with the keyspace to itself: gives up this connection's shared passage, enters
    /// the gate exclusively, and re-enters in shared mode afterwards.
    ///
    /// Entering can wait for other workers, and what runs inside can take long (a script):
    /// the batch's time is read again after a wait and after `f`, so that TTLs set afterwards
    /// count from when the command actually runs.
    pub fn exclusive<R>(&mut self, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        if self.conn.exclusive {
            // Already alone (a command inside EXEC): entering again would wait for ourselves.
            return f(self);
        }
        if matches!(*self.gate, Some(Passage::Exclusive(_))) {
            // An earlier command of this batch took the gate and kept it.
            self.conn.exclusive = true;
            let out = f(self);
            self.conn.exclusive = false;
            self.now = self.srv.clock.mono_ms().max(self.now);
            return out;
        }
        let had_shared = self.gate.take().is_some();
        let (x, waited) = self.srv.gate.exclusive_noting_wait();
        if waited {
            self.now = self.srv.clock.mono_ms().max(self.now);
        }
        self.conn.exclusive = true;
        let out = f(self);
        self.conn.exclusive = false;
        if had_shared {
            // Kept for the rest of the batch (see `gate`).
            *self.gate = Some(Passage::Exclusive(x));
        } else {
            // Busy mode: another worker's script had the gate; give it back as it was.
            drop(x);
        }
        self.now = self.srv.clock.mono_ms().max(self.now);
        out
    }
}
