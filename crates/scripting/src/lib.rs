//! Lua 5.1 scripting with the environment Redis 7.0 gives scripts: EVAL/EVALSHA semantics,
//! the `redis.*` API, Redis' Lua ↔ RESP conversions, its error texts, the sandbox and global
//! protection, `math.random` seeded as Redis seeds it, and the `cjson`, `cmsgpack`, `bit` and
//! `struct` libraries.
//!
//! The interpreter is the Lua 5.1.5 in `lua/` (with small patches, see its README) driven
//! through the C API. This crate knows nothing of commands: scripts reach the keyspace through
//! the [`Host`] trait, which the command layer implements. One [`Engine`] per worker thread;
//! the [`ScriptCache`] of bodies by SHA1 is shared.

#![allow(non_snake_case)]

mod convert;
pub mod declared;
mod engine;
mod env;
mod libs;
mod lua;
mod pool;
mod rand48;
mod script;
#[cfg(test)]
mod testing;
mod vm;

pub use engine::{Engine, EngineConfig, Host, RunOptions};
pub use script::{sha1_hex, sha_arg, Flags, Script, ScriptCache, Sha};
