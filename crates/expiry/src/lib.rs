//! Time for tumbler: a monotonic [`Clock`] that tests can drive by hand, and the hierarchical
//! timing [`Wheel`] each keyspace shard uses to reclaim expired keys.
//!
//! Deadlines are milliseconds on the monotonic clock. The wall clock only appears at the edge
//! (EXPIREAT, PEXPIRETIME, TIME), converted with [`Clock::wall_offset_ms`], so a wall-clock step
//! never moves a deadline.

pub mod clock;
pub mod wheel;

pub use clock::{Clock, ManualClock, SystemClock};
pub use wheel::{TimerId, Wheel};
