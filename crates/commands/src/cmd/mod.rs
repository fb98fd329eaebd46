//! Command handlers, one module per family.

pub mod connection;
pub mod keys;
pub mod server;
pub mod strings;
