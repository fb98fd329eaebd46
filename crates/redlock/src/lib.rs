//! An async Redlock client: a lock held on a majority of independent Redis-compatible nodes
//! (tumbler, redis-server, Valkey), as specified at
//! <https://redis.io/docs/latest/develop/use/patterns/distributed-locks/>.
//!
//! - [`Redlock::acquire`] stores a random 20-byte token with `SET key token NX PX ttl` on every
//!   node in parallel (each request bounded by a small timeout), and holds the lock only if a
//!   majority stored it with time to spare: validity = ttl − elapsed − drift, with
//!   drift = ttl × 1 % + 2 ms. Otherwise it releases what it got and retries after a random
//!   delay, up to a count or a deadline.
//! - Release and extend compare the token first: natively where the node can (`DELIFEQ`,
//!   `LOCK.EXTEND` on tumbler), through Lua scripts where it cannot (plain Redis); a connection
//!   finds out once, from `ERR unknown command`.
//! - [`Redlock::acquire_fenced`] (every node tumbler) also yields a fencing token that increases
//!   across successive holders of the lock, with tumbler's two-round `LOCK.ACQUIRE`/`LOCK.FENCE`
//!   (docs/locks.md).
//! - [`Redlock::watch`] keeps a lock alive with a watchdog and tells its holder as soon as the
//!   lock can no longer be held.
//! - `rediss://` nodes are reached over TLS (rustls), trusting the CA and presenting the client
//!   certificate of [`Options::tls`] ([`TlsOptions`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tumbler_redlock::Error> {
//! use std::time::Duration;
//! use tumbler_redlock::{NodeAddr, Options, Redlock};
//! let nodes = NodeAddr::parse_list("redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002")?;
//! let client = Redlock::new(nodes, Options::default())?;
//! let lock = client.acquire("jobs:nightly", Duration::from_secs(10)).await?;
//! // ... work, within lock.validity() ...
//! client.release(&lock).await?;
//! # Ok(()) }
//! ```

mod conn;
mod error;
mod options;
pub mod quorum;
mod resp;
mod tls;
mod token;
mod watchdog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_protocol::bytes::Bytes;

use conn::{broadcast, Acquired, Node, Op, Out};
pub use error::{Error, NodeError, NodeFailure};
pub use options::{NodeAddr, Options, Protocol, TlsOptions, Transport};
use quorum::{Outcome, Tally};
use token::Jitter;
pub use token::{Token, TOKEN_LEN};
pub use watchdog::Guard;

/// How [`Redlock::acquire_with`] retries a refused or failed attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Attempts after the first (0: one attempt only).
    pub count: u32,
    /// Least wait between attempts.
    pub delay: Duration,
    /// Random extra wait, uniform in `[0, jitter]`.
    pub jitter: Duration,
    /// Give up once this much time has passed since the first attempt began, whatever `count`
    /// says.
    pub wait: Option<Duration>,
    /// On a final refusal of a plain lock, ask the refusing nodes for `PTTL` to fill in
    /// [`Error::Refused::retry_after`] (one more round trip).
    pub query_retry_after: bool,
}

impl Retry {
    /// A single attempt.
    pub fn none() -> Retry {
        Retry { count: 0, delay: Duration::ZERO, jitter: Duration::ZERO, wait: None, query_retry_after: true }
    }

    /// The count, delay and jitter of `opts`.
    pub fn from_options(opts: &Options) -> Retry {
        Retry {
            count: opts.retry_count,
            delay: opts.retry_delay,
            jitter: opts.retry_jitter,
            wait: None,
            query_retry_after: true,
        }
    }

    /// Attempts for up to `wait` (any number of them), spaced as in `opts`.
    pub fn for_up_to(wait: Duration, opts: &Options) -> Retry {
        Retry { count: u32::MAX, wait: Some(wait), ..Retry::from_options(opts) }
    }
}

/// A lock held (or believed held) on a majority of nodes.
#[derive(Clone, Debug)]
pub struct Lock {
    key: Bytes,
    token: Token,
    ttl: Duration,
    valid_until: Option<Instant>,
    fencing_token: Option<u64>,
}

impl Lock {
    /// A lock acquired elsewhere (another process, `tumbler acquire`), to release or extend it
    /// with its token. Its validity is unknown; `fencing_token` says whether it was acquired with
    /// `LOCK.ACQUIRE` (released with `LOCK.RELEASE` then).
    pub fn from_parts(key: impl Into<Vec<u8>>, token: Token, fencing_token: Option<u64>) -> Lock {
        Lock { key: Bytes::from(key.into()), token, ttl: Duration::ZERO, valid_until: None, fencing_token }
    }

    /// The lock's key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The random token stored on the nodes.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The TTL last asked for (acquire or extend); zero for [`Lock::from_parts`].
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The fencing token, for locks from [`Redlock::acquire_fenced`].
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }

    /// The instant until which the lock is held for sure (by this process' monotonic clock),
    /// when known.
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until
    }

    /// Time left of the lock's validity; `None` when unknown, zero once it has run out.
    pub fn validity(&self) -> Option<Duration> {
        self.valid_until.map(|v| v.saturating_duration_since(Instant::now()))
    }

    /// True once the validity is known to have run out.
    pub fn is_expired(&self) -> bool {
        self.valid_until.is_some_and(|v| Instant::now() >= v)
    }
}

/// What one node knows about a key, from [`Redlock::status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStatus {
    /// The key exists.
    pub present: bool,
    /// Its value (the holder's token), when it is a string.
    pub value: Option<Vec<u8>>,
    /// `PTTL`: ms left, -1 without expiry, -2 without the key.
    pub pttl: i64,
    /// `LOCK.INFO`, on nodes that have it and for keys that exist.
    pub info: Option<LockInfo>,
    /// The node has tumbler's `LOCK.*` commands.
    pub lock_commands: bool,
}

/// tumbler's `LOCK.INFO` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockInfo {
    /// The owner (token) stored.
    pub owner: Vec<u8>,
    /// The lock's fencing token (0 for a lock taken with SET NX).
    pub token: i64,
    /// ms left.
    pub pttl: i64,
    /// Acquisition time, Unix ms (-1 unknown).
    pub acquired_at_ms: i64,
    /// Extensions since acquisition.
    pub extensions: i64,
}

/// A node's status or why it could not be had.
pub type NodeReport = (String, Result<NodeStatus, NodeError>);

/// A Redlock client over a fixed set of nodes. Cheap to clone (shared connections); one
/// connection per node, used by one request at a time.
#[derive(Clone, Debug)]
pub struct Redlock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    nodes: Vec<Arc<Node>>,
    opts: Arc<Options>,
    jitter: Jitter,
}

/// Who refused a failed attempt, for [`Redlock::finish_refusal`].
#[derive(Debug, Default)]
struct Refusal {
    /// Nodes that answered "held by another".
    refusing: Vec<usize>,
    /// Nodes that granted (and were released since).
    free: usize,
}

/// The replies of one round, sorted.
struct Round {
    tally: Tally,
    granted: Vec<usize>,
    failures: Vec<NodeFailure>,
}

impl Redlock {
    /// A client for `nodes` (at least one; an odd number is what Redlock intends). Connects
    /// lazily, on the first request.
    pub fn new(nodes: Vec<NodeAddr>, opts: Options) -> Result<Redlock, Error> {
        opts.validate()?;
        if nodes.is_empty() {
            return Err(Error::Config("no nodes".into()));
        }
        // One TLS configuration (files read once, here) for every rediss:// node.
        let tls = match &opts.tls {
            Some(t) if nodes.iter().any(|n| n.transport == Transport::Tls) => Some(tls::client_config(t)?),
            _ => None,
        };
        let nodes =
            nodes.into_iter().map(|a| Node::new(a, &opts, tls.as_ref()).map(Arc::new)).collect::<Result<_, _>>()?;
        Ok(Redlock { inner: Arc::new(Inner { nodes, opts: Arc::new(opts), jitter: Jitter::new() }) })
    }

    /// A client for a comma-separated list of `redis://` addresses.
    pub fn from_urls(urls: &str, opts: Options) -> Result<Redlock, Error> {
        Redlock::new(NodeAddr::parse_list(urls)?, opts)
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// The nodes, as `host:port`.
    pub fn nodes(&self) -> Vec<String> {
        self.inner.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The majority of this client's nodes.
    pub fn quorum(&self) -> usize {
        quorum::quorum(self.inner.nodes.len())
    }

    fn all(&self) -> Vec<usize> {
        (0..self.inner.nodes.len()).collect()
    }

    fn drift(&self, ttl: Duration) -> Duration {
        quorum::drift(ttl, self.inner.opts.drift_factor, self.inner.opts.drift_extra)
    }

    /// The per-node timeout of a request for a lock of `ttl`: never more than the TTL itself.
    fn node_timeout(&self, ttl: Duration) -> Duration {
        self.inner.opts.request_timeout.min(ttl).max(Duration::from_millis(1))
    }

    async fn round(&self, which: &[usize], timeout: Duration, op: &Op) -> (Vec<Result<Out, NodeError>>, Round) {
        let results = broadcast(&self.inner.nodes, which, &self.inner.opts, timeout, op).await;
        let mut round = Round {
            tally: Tally { nodes: self.inner.nodes.len(), ..Tally::default() },
            granted: vec![],
            failures: vec![],
        };
        for (r, &i) in results.iter().zip(which) {
            match r {
                Ok(Out::Bool(true)) | Ok(Out::Acquire(Acquired::Granted(_))) => {
                    round.tally.granted += 1;
                    round.granted.push(i);
                }
                Ok(Out::Bool(false)) | Ok(Out::Acquire(Acquired::Refused(_))) => round.tally.denied += 1,
                Ok(_) => round.tally.failed += 1,
                Err(e) => {
                    round.tally.failed += 1;
                    round.failures.push(NodeFailure { node: self.inner.nodes[i].name.clone(), error: e.clone() });
                }
            }
        }
        // Nodes not asked count as failed for the majority arithmetic.
        round.tally.failed += self.inner.nodes.len() - which.len();
        (results, round)
    }

    fn unreachable(&self, round: Round) -> Error {
        Error::QuorumUnreachable {
            reachable: round.tally.answered(),
            needed: self.quorum(),
            nodes: self.inner.nodes.len(),
            failures: round.failures,
        }
    }

    /// Acquires `key` for `ttl`, retrying as the options say.
    pub async fn acquire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<Lock, Error> {
        self.acquire_with(key, ttl, Retry::from_options(&self.inner.opts)).await
    }

    /// Acquires `key` for `ttl` with a single attempt.
    pub async fn try_acquire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<Lock, Error> {
        self.acquire_with(key, ttl, Retry::none()).await
    }

    /// Acquires `key` for `ttl`, retrying as `retry` says.
    pub async fn acquire_with(&self, key: impl AsRef<[u8]>, ttl: Duration, retry: Retry) -> Result<Lock, Error> {
        self.acquire_loop(Bytes::copy_from_slice(key.as_ref()), ttl, retry, false).await
    }

    /// Acquires `key` for `ttl` with a fencing token ([`Lock::fencing_token`]) that is greater
    /// than that of every earlier holder. Every node must be tumbler ([`Error::Unsupported`]
    /// otherwise).
    pub async fn acquire_fenced(&self, key: impl AsRef<[u8]>, ttl: Duration, retry: Retry) -> Result<Lock, Error> {
        self.acquire_loop(Bytes::copy_from_slice(key.as_ref()), ttl, retry, true).await
    }

    async fn acquire_loop(&self, key: Bytes, ttl: Duration, retry: Retry, fenced: bool) -> Result<Lock, Error> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return Err(Error::Config("the TTL must be at least 1 ms".into()));
        }
        let ttl = Duration::from_millis(ttl_ms);
        let deadline = retry.wait.map(|w| Instant::now() + w);
        let mut attempt: u32 = 0;
        loop {
            let r = if fenced {
                self.attempt_fenced(&key, ttl, ttl_ms).await
            } else {
                self.attempt_plain(&key, ttl, ttl_ms).await
            };
            let (err, refusal) = match r {
                Ok(lock) => return Ok(lock),
                Err((e, refusal)) if e.is_retryable() => (e, refusal),
                Err((e, _)) => return Err(e),
            };
            attempt = attempt.saturating_add(1);
            let mut pause = retry.delay + self.inner.jitter.up_to(retry.jitter);
            let mut last = attempt > retry.count;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                last |= left.is_zero();
                pause = pause.min(left);
            }
            if last {
                return Err(self.finish_refusal(err, &key, &refusal, retry.query_retry_after).await);
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Fills in the holder's remaining time of a plain refusal from `PTTL` on the nodes that
    /// refused, as the error leaves the client; `refusal.free` nodes are known free (they had
    /// granted us, and we released them).
    async fn finish_refusal(&self, err: Error, key: &Bytes, refusal: &Refusal, query: bool) -> Error {
        if !matches!(err, Error::Refused { retry_after: None }) || refusal.refusing.is_empty() || !query {
            return err;
        }
        let timeout = self.inner.opts.request_timeout;
        let op = Op::Pttl { key: key.clone() };
        let results = broadcast(&self.inner.nodes, &refusal.refusing, &self.inner.opts, timeout, &op).await;
        let mut free = refusal.free;
        let mut held = Vec::new();
        for r in results {
            match r {
                // The key went away since it refused us: that node is free now.
                Ok(Out::Int(-2)) => free += 1,
                Ok(Out::Int(n)) => held.push(quorum::pttl_to_remaining(n)),
                _ => {}
            }
        }
        Error::Refused { retry_after: quorum::holder_remaining(self.inner.nodes.len(), free, &held) }
    }

    /// Releases `token` on the nodes at `which` (after a failed attempt), waiting for them.
    async fn cleanup(&self, key: &Bytes, token: &Token, which: &[usize], fenced: bool, ttl: Duration) {
        if which.is_empty() {
            return;
        }
        let op = Op::Release { key: key.clone(), token: Bytes::copy_from_slice(token.as_bytes()), fenced };
        broadcast(&self.inner.nodes, which, &self.inner.opts, self.node_timeout(ttl), &op).await;
    }

    /// One plain Redlock attempt. On failure, also the nodes that refused (for `PTTL`).
    async fn attempt_plain(&self, key: &Bytes, ttl: Duration, ttl_ms: u64) -> Result<Lock, (Error, Refusal)> {
        let token = Token::random().map_err(|e| (e, Refusal::default()))?;
        let start = Instant::now();
        let all = self.all();
        let op = Op::SetNx { key: key.clone(), token: Bytes::copy_from_slice(token.as_bytes()), ttl_ms };
        let (results, round) = self.round(&all, self.node_timeout(ttl), &op).await;
        let elapsed = start.elapsed();
        let refusing: Vec<usize> =
            results.iter().enumerate().filter(|(_, r)| matches!(r, Ok(Out::Bool(false)))).map(|(i, _)| i).collect();
        // Everyone but the refusing nodes may hold our token (a timed-out SET may have landed).
        let ours: Vec<usize> = all.iter().copied().filter(|i| !refusing.contains(i)).collect();
        let granted = round.granted.len();
        let err = match round.tally.outcome() {
            Outcome::Granted => match quorum::validity(ttl, elapsed, self.drift(ttl)) {
                Some(_) => {
                    let valid_until = start + ttl - self.drift(ttl);
                    return Ok(Lock {
                        key: key.clone(),
                        token,
                        ttl,
                        valid_until: Some(valid_until),
                        fencing_token: None,
                    });
                }
                None => Error::TimedOut,
            },
            Outcome::Denied => Error::Refused { retry_after: None },
            Outcome::Unreachable | Outcome::Pending => self.unreachable(round),
        };
        self.cleanup(key, &token, &ours, false, ttl).await;
        Err((err, Refusal { refusing, free: granted }))
    }

    /// One fenced attempt: `LOCK.ACQUIRE` everywhere, then `LOCK.FENCE` with
    /// `T = 1 + max(granted tokens)` on the granting nodes; held only if a majority confirms `T`.
    async fn attempt_fenced(&self, key: &Bytes, ttl: Duration, ttl_ms: u64) -> Result<Lock, (Error, Refusal)> {
        let owner = Token::random().map_err(|e| (e, Refusal::default()))?;
        let owner_b = Bytes::copy_from_slice(owner.as_bytes());
        let start = Instant::now();
        let all = self.all();
        let timeout = self.node_timeout(ttl);
        let op = Op::Acquire { key: key.clone(), owner: owner_b.clone(), ttl_ms };
        let (results, round) = self.round(&all, timeout, &op).await;
        let mut refusals = Vec::new();
        let mut refusing = Vec::new();
        let mut max_token = 0u64;
        let mut unsupported = None;
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(Out::Acquire(Acquired::Granted(t))) => max_token = max_token.max(*t),
                Ok(Out::Acquire(Acquired::Refused(left))) => {
                    refusals.push(*left);
                    refusing.push(i);
                }
                Err(NodeError::Server(e)) if e.starts_with("ERR unknown command") => {
                    unsupported = Some(self.inner.nodes[i].name.clone());
                }
                _ => {}
            }
        }
        let ours: Vec<usize> = all.iter().copied().filter(|i| !refusing.contains(i)).collect();
        if let Some(node) = unsupported {
            self.cleanup(key, &owner, &ours, true, ttl).await;
            return Err((
                Error::Unsupported(format!("{node} has no LOCK.ACQUIRE: fenced locks need tumbler on every node")),
                Refusal::default(),
            ));
        }
        let err = match round.tally.outcome() {
            Outcome::Granted => {
                let t = max_token.saturating_add(1);
                let fence = Op::Fence { key: key.clone(), owner: owner_b, t };
                let (results, fround) = self.round(&round.granted, timeout, &fence).await;
                let confirmed =
                    results.iter().filter(|r| matches!(r, Ok(Out::Int(n)) if *n > 0 && n.unsigned_abs() == t)).count();
                let elapsed = start.elapsed();
                if confirmed >= self.quorum() {
                    match quorum::validity(ttl, elapsed, self.drift(ttl)) {
                        Some(_) => {
                            let valid_until = start + ttl - self.drift(ttl);
                            return Ok(Lock {
                                key: key.clone(),
                                token: owner,
                                ttl,
                                valid_until: Some(valid_until),
                                fencing_token: Some(t),
                            });
                        }
                        None => Error::TimedOut,
                    }
                } else if confirmed + fround.failures.len() >= self.quorum() {
                    // Failures, not answers, kept the fence from a majority.
                    Error::QuorumUnreachable {
                        reachable: results.len() - fround.failures.len(),
                        needed: self.quorum(),
                        nodes: self.inner.nodes.len(),
                        failures: fround.failures,
                    }
                } else {
                    // Nodes answered "not held": the lock ran out between the rounds.
                    Error::TimedOut
                }
            }
            Outcome::Denied => {
                let free = round.granted.len();
                Error::Refused { retry_after: quorum::holder_remaining(self.inner.nodes.len(), free, &refusals) }
            }
            Outcome::Unreachable | Outcome::Pending => self.unreachable(round),
        };
        self.cleanup(key, &owner, &ours, true, ttl).await;
        Err((err, Refusal::default()))
    }

    /// Releases `lock` on every node (compare-and-delete: only where it still holds the lock's
    /// token). Returns on how many nodes it was deleted; [`Error::QuorumUnreachable`] when fewer
    /// than a majority answered.
    pub async fn release(&self, lock: &Lock) -> Result<usize, Error> {
        let op = Op::Release {
            key: lock.key.clone(),
            token: Bytes::copy_from_slice(lock.token.as_bytes()),
            fenced: lock.fencing_token.is_some(),
        };
        let (_, round) = self.round(&self.all(), self.inner.opts.request_timeout, &op).await;
        if round.tally.answered() < self.quorum() {
            return Err(self.unreachable(round));
        }
        Ok(round.tally.granted)
    }

    /// Extends `lock` to `ttl` from now on every node that still holds its token
    /// (compare-and-pexpire). Succeeds when a majority did so within the lock's validity, and
    /// then renews [`Lock::valid_until`]; [`Error::NotHeld`] when the lock's validity had already
    /// run out or a majority answered that they do not hold it.
    pub async fn extend(&self, lock: &mut Lock, ttl: Duration) -> Result<(), Error> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return Err(Error::Config("the TTL must be at least 1 ms".into()));
        }
        let ttl = Duration::from_millis(ttl_ms);
        let mut timeout = self.node_timeout(ttl);
        if let Some(left) = lock.validity() {
            if left.is_zero() {
                return Err(Error::NotHeld);
            }
            timeout = timeout.min(left);
        }
        let start = Instant::now();
        let op = Op::Extend { key: lock.key.clone(), token: Bytes::copy_from_slice(lock.token.as_bytes()), ttl_ms };
        let (_, round) = self.round(&self.all(), timeout, &op).await;
        let elapsed = start.elapsed();
        match round.tally.outcome() {
            Outcome::Granted => {
                // Still inside the old validity, and time left of the new one.
                if lock.is_expired() || quorum::validity(ttl, elapsed, self.drift(ttl)).is_none() {
                    return Err(Error::TimedOut);
                }
                lock.valid_until = Some(start + ttl - self.drift(ttl));
                lock.ttl = ttl;
                Ok(())
            }
            Outcome::Denied => Err(Error::NotHeld),
            Outcome::Unreachable | Outcome::Pending => Err(self.unreachable(round)),
        }
    }

    /// Hands `lock` to a watchdog that extends it every `ttl × extend_fraction` until released;
    /// the [`Guard`] reports when the lock is lost.
    pub fn watch(&self, lock: Lock) -> Guard {
        Guard::start(self.clone(), lock)
    }

    /// What every node knows about `key`: holder present, value, PTTL, and `LOCK.INFO` where
    /// the node has it.
    pub async fn status(&self, key: impl AsRef<[u8]>) -> Vec<NodeReport> {
        let op = Op::Status { key: Bytes::copy_from_slice(key.as_ref()) };
        let results =
            broadcast(&self.inner.nodes, &self.all(), &self.inner.opts, self.inner.opts.request_timeout, &op).await;
        results
            .into_iter()
            .zip(&self.inner.nodes)
            .map(|(r, n)| {
                let r = match r {
                    Ok(Out::Status(s)) => Ok(s),
                    Ok(other) => Err(NodeError::Protocol(format!("unexpected {other:?}"))),
                    Err(e) => Err(e),
                };
                (n.name.clone(), r)
            })
            .collect()
    }

    /// `PING` on every node: the round-trip time or why it failed, in node order.
    pub async fn ping(&self) -> Vec<(String, Result<Duration, NodeError>)> {
        let start = Instant::now();
        let results =
            broadcast(&self.inner.nodes, &self.all(), &self.inner.opts, self.inner.opts.request_timeout, &Op::Ping)
                .await;
        results.into_iter().zip(&self.inner.nodes).map(|(r, n)| (n.name.clone(), r.map(|_| start.elapsed()))).collect()
    }
}
