//! tumbler's integration tests: one binary, one module per area. Every server a test needs is
//! started by the test on a port it picks, and stopped when the test ends.
#![allow(clippy::unwrap_used, missing_docs)]

mod acl;
mod blocking;
mod cli;
mod clients;
mod differential;
mod expiry;
mod extensions;
mod faults;
mod harness;
mod hostile;
mod locks;
mod model;
mod process;
mod redlock;
mod scripting;
mod tls;
mod tools;
mod wallclock;
