//! Script bodies: their SHA1 names, shebang flags, and the shared cache EVALSHA looks in.

use parking_lot::RwLock;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A script's name: the lower-case hex SHA1 of its body.
pub type Sha = [u8; 40];

/// Lower-case hex SHA1 of `data`, as `redis.sha1hex` and the script cache compute it.
pub fn sha1_hex(data: &[u8]) -> Sha {
    let digest = Sha1::digest(data);
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// An EVALSHA argument as a cache key: 40 characters, letters folded to lower case (Redis
/// accepts any case). `None` for any other length.
pub fn sha_arg(arg: &[u8]) -> Option<Sha> {
    let mut out: Sha = arg.try_into().ok()?;
    out.make_ascii_lowercase();
    Some(out)
}

/// Flags a script declares in its shebang (`#!lua flags=no-writes,allow-oom`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// The body starts with a shebang line. Without one, a script may run under EVAL_RO and is
    /// refused at its first write; with one, it must say `no-writes` to run under EVAL_RO.
    pub shebang: bool,
    /// `no-writes`: the script is read-only.
    pub no_writes: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// `allow-stale`.
    pub allow_stale: bool,
    /// `no-cluster`.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`.
    pub allow_cross_slot_keys: bool,
}

/// A script body with its name and flags.
#[derive(Debug)]
pub struct Script {
    /// Lower-case hex SHA1 of `body`.
    pub sha: Sha,
    /// The body as the client sent it, shebang included.
    pub body: Box<[u8]>,
    /// Shebang flags.
    pub flags: Flags,
    /// Where the Lua code starts: after the shebang line, at its newline, so that line numbers
    /// still count the shebang as line 1.
    pub(crate) code_start: usize,
    /// [`Script::declared_keys_only`], worked out on first use.
    declared_only: std::sync::OnceLock<Option<crate::declared::Db>>,
}

impl Script {
    /// Reads the shebang, if any. The error is the reply text (`ERR …`). Compilation is the
    /// engine's business ([`crate::Engine::prepare`]).
    pub fn new(body: &[u8]) -> Result<Script, Vec<u8>> {
        let (flags, code_start) = parse_shebang(body)?;
        Ok(Script { sha: sha1_hex(body), body: body.into(), flags, code_start, declared_only: Default::default() })
    }

    /// Whether the script provably touches only its declared keys and always finishes, and in
    /// which database ([`crate::declared::declared_keys_only`], with the server's command
    /// `rule`); read once per script and remembered.
    pub fn declared_keys_only(&self, rule: &dyn Fn(&[u8]) -> crate::declared::KeyRule) -> Option<crate::declared::Db> {
        *self.declared_only.get_or_init(|| crate::declared::declared_keys_only(self.code(), rule))
    }

    /// The Lua source to compile.
    pub(crate) fn code(&self) -> &[u8] {
        &self.body[self.code_start..]
    }
}

fn parse_shebang(body: &[u8]) -> Result<(Flags, usize), Vec<u8>> {
    let mut flags = Flags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    flags.shebang = true;
    let Some(nl) = memchr::memchr(b'\n', body) else {
        return Err(b"ERR Invalid script shebang".to_vec());
    };
    let mut parts = body[..nl].split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        let mut e = b"ERR Unexpected engine in script shebang: ".to_vec();
        e.extend_from_slice(engine);
        return Err(e);
    }
    for opt in parts {
        let Some(list) = opt.strip_prefix(b"flags=") else {
            let mut e = b"ERR Unknown lua shebang option: ".to_vec();
            e.extend_from_slice(opt);
            return Err(e);
        };
        for flag in list.split(|&b| b == b',').filter(|f| !f.is_empty()) {
            match flag {
                b"no-writes" => flags.no_writes = true,
                b"allow-oom" => flags.allow_oom = true,
                b"allow-stale" => flags.allow_stale = true,
                b"no-cluster" => flags.no_cluster = true,
                b"allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                _ => {
                    let mut e = b"ERR Unexpected flag in script shebang: ".to_vec();
                    e.extend_from_slice(flag);
                    return Err(e);
                }
            }
        }
    }
    Ok((flags, nl))
}

/// Source of cache generations, unique in the process: an engine that served another cache (an
/// earlier server in the same test process) starts over too.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// The scripts every connection can call by SHA1: filled by EVAL and SCRIPT LOAD, emptied only
/// by SCRIPT FLUSH (there is no eviction, as in Redis 7.0).
pub struct ScriptCache {
    map: RwLock<HashMap<Sha, Arc<Script>>>,
    /// Bumped by every flush: each worker's engine compares it with the generation its
    /// compiled functions belong to, and starts over when they differ.
    generation: AtomicU64,
    bytes: AtomicU64,
}

impl Default for ScriptCache {
    fn default() -> Self {
        ScriptCache {
            map: RwLock::default(),
            generation: AtomicU64::new(GENERATIONS.fetch_add(1, Ordering::Relaxed)),
            bytes: AtomicU64::new(0),
        }
    }
}

impl ScriptCache {
    /// The script named `sha` (lower case), if cached.
    pub fn get(&self, sha: &Sha) -> Option<Arc<Script>> {
        self.map.read().get(sha).cloned()
    }

    /// Whether `sha` (lower case) is cached.
    pub fn contains(&self, sha: &Sha) -> bool {
        self.map.read().contains_key(sha)
    }

    /// Adds a script (keeping an existing one with the same name).
    pub fn insert(&self, script: &Arc<Script>) {
        let mut map = self.map.write();
        map.entry(script.sha).or_insert_with(|| {
            self.bytes.fetch_add(script.body.len() as u64, Ordering::Relaxed);
            script.clone()
        });
    }

    /// Forgets every script.
    pub fn flush(&self) {
        let mut map = self.map.write();
        map.clear();
        self.bytes.store(0, Ordering::Relaxed);
        self.generation.store(GENERATIONS.fetch_add(1, Ordering::Relaxed), Ordering::Release);
    }

    /// The current flush generation.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of cached scripts.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether no script is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of cached script bodies.
    pub fn body_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_of_known_bodies() {
        assert_eq!(&sha1_hex(b"return 1"), b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert_eq!(sha_arg(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"), Some(sha1_hex(b"return 1")));
        assert_eq!(sha_arg(b"abc"), None);
    }

    #[test]
    fn shebangs() {
        let e = |b: &[u8]| String::from_utf8(Script::new(b).unwrap_err()).unwrap_or_default();
        assert_eq!(e(b"#!lua"), "ERR Invalid script shebang");
        assert_eq!(e(b"#!notlua\nreturn 1"), "ERR Unexpected engine in script shebang: #!notlua");
        assert_eq!(e(b"#! lua\nreturn 1"), "ERR Unexpected engine in script shebang: #!");
        assert_eq!(e(b"#!lua name=foo\nreturn 1"), "ERR Unknown lua shebang option: name=foo");
        assert_eq!(e(b"#!lua flags=foo\nreturn 1"), "ERR Unexpected flag in script shebang: foo");
        let s = Script::new(b"#!lua  flags=no-writes,no-writes\nreturn 1").unwrap();
        assert!(s.flags.shebang && s.flags.no_writes);
        assert_eq!(s.code(), b"\nreturn 1");
        let s = Script::new(b"#!lua flags=\nreturn 1").unwrap();
        assert!(s.flags.shebang && !s.flags.no_writes);
    }
}
