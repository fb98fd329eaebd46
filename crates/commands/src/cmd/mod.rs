//! Command handlers, one module per family.

pub mod acl;
pub mod connection;
pub mod hashes;
pub mod introspection;
pub mod keys;
pub mod lists;
pub mod lock;
pub mod memory;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;
