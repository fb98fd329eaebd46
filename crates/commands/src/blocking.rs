//! Clients blocked on keys (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP), and WAIT.
//!
//! A blocking command that finds nothing registers a [`Waiter`] on its keys and the connection
//! task waits, outside every lock. A command that adds elements to a waited-on key marks it
//! ready; at the end of that (top-level) command, the dispatcher serves the waiters of every
//! ready key in arrival order: the pop is done on the waiter's behalf, its reply is encoded in
//! the waiter's protocol and handed over, and the waiter is woken. Serving happens before the
//! pushing client gets its own reply, so a client that sees the push acknowledged also sees the
//! blocked client served, as in Redis.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tumbler_proto::Protocol;

/// What a blocked client will do once one of its keys has data.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// BLPOP / BRPOP (count None) and BLMPOP (count Some).
    ListPop {
        /// Pop from the head.
        left: bool,
        /// BLMPOP's COUNT.
        count: Option<usize>,
    },
    /// BLMOVE / BRPOPLPUSH.
    ListMove {
        /// Destination key.
        to: Vec<u8>,
        /// Pop from the source's head.
        from_left: bool,
        /// Push at the destination's head.
        to_left: bool,
    },
    /// BZPOPMIN / BZPOPMAX (count None) and BZMPOP (count Some).
    ZPop {
        /// Pop the lowest scores.
        min: bool,
        /// BZMPOP's COUNT.
        count: Option<usize>,
    },
    /// WAIT for replicas: tumbler has none, so only the timeout (or CLIENT UNBLOCK) ends it.
    Wait,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still waiting.
    Waiting,
    /// Served: the encoded reply.
    Served(Vec<u8>),
    /// Unblocked by CLIENT UNBLOCK ... ERROR.
    Error,
    /// Unblocked by CLIENT UNBLOCK (TIMEOUT), or timed out: reply as on a timeout.
    TimedOut,
}

/// One blocked client.
pub struct Waiter {
    /// The client's id.
    pub client_id: u64,
    /// Its database.
    pub db: usize,
    /// Keys waited on, in the order given.
    pub keys: Vec<Vec<u8>>,
    /// What to do when served.
    pub op: BlockOp,
    /// Protocol to encode the reply in.
    pub protocol: Protocol,
    /// Whether the op is a list or sorted-set one (which data type wakes it).
    pub zset: bool,
    /// Locked while the waiter is being served, so a concurrent timeout waits for the outcome
    /// instead of racing with the pop done on its behalf.
    pub(crate) outcome: Mutex<Outcome>,
    wake: Box<dyn Fn() + Send + Sync>,
}

impl Waiter {
    /// A waiter; `wake` makes the owning connection look at its outcome.
    pub fn new(
        client_id: u64,
        db: usize,
        keys: Vec<Vec<u8>>,
        op: BlockOp,
        protocol: Protocol,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let zset = matches!(op, BlockOp::ZPop { .. });
        Waiter { client_id, db, keys, op, protocol, zset, outcome: Mutex::new(Outcome::Waiting), wake }
    }

    /// The current outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome.lock().clone()
    }

    /// Wakes the owning connection.
    pub(crate) fn wake(&self) {
        (self.wake)();
    }

    /// Ends the wait with `o` if it is still waiting; returns whether this call ended it.
    pub fn finish(&self, o: Outcome) -> bool {
        let mut cur = self.outcome.lock();
        if *cur != Outcome::Waiting {
            return false;
        }
        *cur = o;
        drop(cur);
        (self.wake)();
        true
    }
}

/// A key in a database.
type DbKey = (usize, Vec<u8>);

/// The registry of blocked clients.
#[derive(Default)]
pub struct Blocking {
    by_key: Mutex<HashMap<DbKey, VecDeque<Arc<Waiter>>>>,
    by_client: Mutex<HashMap<u64, Arc<Waiter>>>,
    blocked: AtomicUsize,
}

impl Blocking {
    /// Number of blocked clients (INFO `blocked_clients`).
    #[inline]
    pub fn count(&self) -> usize {
        self.blocked.load(Relaxed)
    }

    /// Registers a waiter on its keys.
    pub fn add(&self, w: Arc<Waiter>) {
        let mut m = self.by_key.lock();
        for k in &w.keys {
            m.entry((w.db, k.clone())).or_default().push_back(w.clone());
        }
        drop(m);
        self.by_client.lock().insert(w.client_id, w.clone());
        self.blocked.fetch_add(1, Relaxed);
    }

    /// Removes a waiter from every key (served, timed out or disconnected).
    pub fn remove(&self, w: &Arc<Waiter>) {
        let mut m = self.by_key.lock();
        for k in &w.keys {
            let key = (w.db, k.clone());
            if let Some(q) = m.get_mut(&key) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    m.remove(&key);
                }
            }
        }
        drop(m);
        let mut c = self.by_client.lock();
        if c.get(&w.client_id).is_some_and(|x| Arc::ptr_eq(x, w)) {
            c.remove(&w.client_id);
            self.blocked.fetch_sub(1, Relaxed);
        }
    }

    /// The waiters of a key in arrival order (a snapshot).
    pub fn waiters(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        self.by_key.lock().get(&(db, key.to_vec())).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// The waiter of a blocked client, if it is blocked.
    pub fn of_client(&self, id: u64) -> Option<Arc<Waiter>> {
        self.by_client.lock().get(&id).cloned()
    }
}

/// A blocking request made by a handler for its connection.
pub struct BlockRequest {
    /// The registered waiter.
    pub waiter: Arc<Waiter>,
    /// Monotonic deadline in ms; `None` blocks forever.
    pub deadline: Option<u64>,
    /// The blocking command and how long its call took (µs), when it was timed: its latency,
    /// which Redis records once the command is served, never when it times out.
    pub latency: Option<(crate::CommandId, u64)>,
}
