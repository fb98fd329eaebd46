//! Errors: what went wrong with one node ([`NodeError`]) and with a whole operation ([`Error`]).

use std::fmt;
use std::time::Duration;

/// Why one node did not answer a request usefully.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeError {
    /// Connecting, the handshake or the connection itself failed (refused, reset, closed).
    Io(String),
    /// No reply within the per-node timeout.
    Timeout,
    /// The node answered with an error reply (`-WRONGPASS …`, `-WRONGTYPE …`), verbatim.
    Server(String),
    /// The reply could not be decoded, or had a shape the request does not produce.
    Protocol(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Io(e) => write!(f, "{e}"),
            NodeError::Timeout => f.write_str("timed out"),
            NodeError::Server(e) => write!(f, "server replied: {e}"),
            NodeError::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

impl std::error::Error for NodeError {}

/// A node's failure, with the node's address (`host:port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFailure {
    /// The node, as `host:port`.
    pub node: String,
    /// What happened.
    pub error: NodeError,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.node, self.error)
    }
}

/// Why a lock operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Someone else holds the lock: enough nodes answered, and too many of them hold another
    /// token for a majority to be had.
    Refused {
        /// When the lock should become free by expiry (the holder's remaining time on the
        /// nodes that refused: `LOCK.ACQUIRE`'s `[0, ms]` or `PTTL`), when known.
        retry_after: Option<Duration>,
    },
    /// Fewer than a majority of nodes answered, so the lock could not be decided.
    QuorumUnreachable {
        /// Nodes that answered.
        reachable: usize,
        /// The majority needed.
        needed: usize,
        /// Nodes in the quorum.
        nodes: usize,
        /// What went wrong with the nodes that did not answer.
        failures: Vec<NodeFailure>,
    },
    /// A majority agreed, but too late: the time the operation took (plus the drift allowance)
    /// used up the whole TTL or the lock's remaining validity.
    TimedOut,
    /// The lock is not held (any more): its validity ran out, or a majority answered and fewer
    /// than a majority still hold our token.
    NotHeld,
    /// A reply the protocol does not allow, or an error reply where none is expected.
    Protocol(String),
    /// Invalid options or arguments (a bad node address, a TTL of zero, an unreadable TLS
    /// file, …).
    Config(String),
    /// Something these nodes cannot do: fenced locks on a node that is not tumbler.
    Unsupported(String),
    /// The operating system failed us (no random source).
    Io(String),
}

impl Error {
    /// True for the errors another attempt may cure: refusal, an unreachable quorum, running
    /// out of validity.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Refused { .. } | Error::QuorumUnreachable { .. } | Error::TimedOut)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused { retry_after: Some(r) } => {
                write!(f, "lock is held by someone else (free in about {} ms)", r.as_millis())
            }
            Error::Refused { retry_after: None } => f.write_str("lock is held by someone else"),
            Error::QuorumUnreachable { reachable, needed, nodes, failures } => {
                write!(f, "quorum unreachable: {reachable} of {nodes} nodes answered, {needed} needed")?;
                for (i, failure) in failures.iter().enumerate() {
                    f.write_str(if i == 0 { " (" } else { "; " })?;
                    write!(f, "{failure}")?;
                }
                if !failures.is_empty() {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Error::TimedOut => f.write_str("timed out: no validity left once a majority agreed"),
            Error::NotHeld => f.write_str("lock is not held"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Unsupported(e) => write!(f, "unsupported: {e}"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}
