//! The wire protocol of tumbler: a resumable RESP request parser, a RESP2/RESP3 reply writer,
//! Redis' number parsing and formatting rules, and the exact error texts Redis 7.0 sends.
//!
//! This crate knows nothing of the keyspace, the commands or the network: it turns bytes into
//! arguments and replies into bytes, so it can be tested and benchmarked without sockets.

pub mod errors;
pub mod num;
pub mod parser;
pub mod reply;
pub mod splitargs;

pub use parser::{peek_requests, Args, Limits, ParseError, Parser, Step};
pub use reply::{Protocol, Reply};
pub use splitargs::split_args;
