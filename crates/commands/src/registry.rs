//! Lookup structures derived from the command table at startup: case-insensitive name lookup
//! without allocation, dense ids for statistics, and full names (`config|get`).

use crate::spec::{Begin, CommandSpec, Find, KeySpec, F, KS};
use crate::table::TABLE;
use tumbler_scripting::declared::KeyRule;

/// Dense index of a command or subcommand, for per-command statistics.
pub type CommandId = u16;

/// One registered command.
pub struct Registered {
    /// The declaration.
    pub spec: &'static CommandSpec,
    /// `name` or `parent|name`.
    pub fullname: String,
    /// Parent command id for subcommands.
    pub parent: Option<CommandId>,
    /// How a script's `redis.call` of this command takes keys ([`key_rule`]; a subcommand's
    /// is [`KeyRule::Unknown`], since its parent's is).
    pub script_key_rule: KeyRule,
}

/// The commands, indexed.
pub struct Registry {
    cmds: Vec<Registered>,
    names: NameTable,
}

/// Longest command or subcommand name looked up; longer input cannot be a command.
const MAX_NAME: usize = 32;

/// A name as the table compares it: lower-cased, zero-padded to [`MAX_NAME`] bytes and read
/// as words, with its length (so `get\0` is not `get`) and its parent command (or
/// [`NO_PARENT`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct NameKey {
    words: [u64; MAX_NAME / 8],
    len: u8,
    parent: CommandId,
}

/// The parent of a top-level command in a [`NameKey`].
const NO_PARENT: CommandId = CommandId::MAX;

impl NameKey {
    /// `None` if `name` is too long to be a command.
    #[inline]
    fn new(parent: CommandId, name: &[u8]) -> Option<Self> {
        if name.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let mut words = [0u64; MAX_NAME / 8];
        for (w, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        Some(NameKey { words, len: name.len() as u8, parent })
    }

    #[inline]
    fn hash(&self) -> u64 {
        let [a, b, c, d] = self.words;
        let mixed = a ^ b.rotate_left(17) ^ c.rotate_left(31) ^ d.rotate_left(47);
        (mixed ^ (u64::from(self.len) << 48) ^ (u64::from(self.parent) << 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// Command and subcommand names to ids: open addressing with linear probing over a table
/// built once at startup and at most a quarter full, so a lookup (the first step of every
/// request) hashes four words and compares a key or two, with no allocation.
struct NameTable {
    slots: Vec<Option<(NameKey, CommandId)>>,
    shift: u32,
}

impl NameTable {
    fn new(entries: usize) -> Self {
        let size = (entries * 4).next_power_of_two().max(16);
        NameTable { slots: vec![None; size], shift: 64 - size.trailing_zeros() }
    }

    fn insert(&mut self, key: NameKey, id: CommandId) {
        let mask = self.slots.len() - 1;
        let mut i = (key.hash() >> self.shift) as usize;
        while let Some((k, _)) = &self.slots[i] {
            assert!(*k != key, "command {id} is registered twice");
            i = (i + 1) & mask;
        }
        self.slots[i] = Some((key, id));
    }

    #[inline]
    fn get(&self, key: &NameKey) -> Option<CommandId> {
        let mask = self.slots.len() - 1;
        let mut i = (key.hash() >> self.shift) as usize;
        loop {
            match &self.slots[i] {
                Some((k, id)) if k == key => return Some(*id),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// Indexes [`TABLE`].
    pub fn new() -> Self {
        let entries = TABLE.iter().map(|spec| 1 + spec.subcommands.len()).sum();
        let mut r = Registry { cmds: Vec::new(), names: NameTable::new(entries) };
        let key = |parent, name: &str| NameKey::new(parent, name.as_bytes()).expect("command names are short");
        for spec in TABLE {
            let id = r.cmds.len() as CommandId;
            r.cmds.push(Registered {
                spec,
                fullname: spec.name.to_string(),
                parent: None,
                script_key_rule: key_rule(spec),
            });
            r.names.insert(key(NO_PARENT, spec.name), id);
            for sub in spec.subcommands {
                let sid = r.cmds.len() as CommandId;
                r.cmds.push(Registered {
                    spec: sub,
                    fullname: format!("{}|{}", spec.name, sub.name),
                    parent: Some(id),
                    script_key_rule: KeyRule::Unknown,
                });
                r.names.insert(key(id, sub.name), sid);
            }
        }
        assert!(r.cmds.len() < usize::from(NO_PARENT), "too many commands for a CommandId");
        r
    }

    /// Number of commands and subcommands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when no command is registered (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The command with this id.
    #[inline]
    pub fn get(&self, id: CommandId) -> &Registered {
        &self.cmds[id as usize]
    }

    /// Looks up a top-level command by name, case-insensitively.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<CommandId> {
        self.names.get(&NameKey::new(NO_PARENT, name)?)
    }

    /// Looks up a subcommand of `parent`, case-insensitively.
    #[inline]
    pub fn lookup_sub(&self, parent: CommandId, name: &[u8]) -> Option<CommandId> {
        self.names.get(&NameKey::new(parent, name)?)
    }

    /// How a script's `redis.call` of command `name` takes keys (see [`key_rule`]); an
    /// unknown name is [`KeyRule::Unknown`].
    pub fn script_key_rule(&self, name: &[u8]) -> KeyRule {
        self.lookup(name).map_or(KeyRule::Unknown, |id| self.get(id).script_key_rule)
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = (CommandId, &Registered)> {
        self.cmds.iter().enumerate().filter(|(_, r)| r.parent.is_none()).map(|(i, r)| (i as CommandId, r))
    }

    /// Subcommands of `parent`.
    pub fn children(&self, parent: CommandId) -> impl Iterator<Item = (CommandId, &Registered)> {
        self.cmds.iter().enumerate().filter(move |(_, r)| r.parent == Some(parent)).map(|(i, r)| (i as CommandId, r))
    }

    /// All commands and subcommands with their ids.
    pub fn all(&self) -> impl Iterator<Item = (CommandId, &Registered)> {
        self.cmds.iter().enumerate().map(|(i, r)| (i as CommandId, r))
    }

    /// The ACL catalog: one entry per command and subcommand with the same ids as this
    /// registry, their full names, the table's categories and the `no_auth` flag.
    pub fn catalog(&self) -> tumbler_acl::Catalog {
        let entries = self
            .cmds
            .iter()
            .map(|r| {
                let e = match r.parent {
                    None => tumbler_acl::CatalogEntry::command(&r.fullname, r.spec.acl),
                    Some(p) => tumbler_acl::CatalogEntry::subcommand(&r.fullname, r.spec.acl, p),
                };
                if r.spec.has(crate::spec::F::NO_AUTH) {
                    e.no_auth()
                } else {
                    e
                }
            })
            .collect();
        // The table is static and its names unique (a unit test builds it), so this cannot fail.
        tumbler_acl::Catalog::new(entries).expect("the command table is a valid ACL catalog")
    }

    /// Resolves `name` or `name|sub` (as COMMAND INFO and ACL rules write them).
    pub fn resolve(&self, full: &[u8]) -> Option<CommandId> {
        match full.iter().position(|&c| c == b'|') {
            Some(i) => {
                let p = self.lookup(&full[..i])?;
                self.lookup_sub(p, &full[i + 1..])
            }
            None => self.lookup(full),
        }
    }
}

/// How a script's `redis.call` of `spec` takes keys, for deciding whether the script may run
/// beside others on its declared keys' shards ([`tumbler_scripting::declared`]): one key at
/// argument 1, every argument a key, or, for a few commands that touch no key at all, none;
/// SELECT is [`KeyRule::Select`]. Everything else (commands with subcommands, keys found by
/// keyword or count, commands that reach other databases or the whole keyspace) is
/// [`KeyRule::Unknown`].
fn key_rule(spec: &CommandSpec) -> KeyRule {
    if !spec.subcommands.is_empty() || spec.has(F::NOSCRIPT) || spec.has(F::EXCLUSIVE) {
        return KeyRule::Unknown;
    }
    if spec.keys.is_empty() {
        // Keyless commands that read or write no keyspace state.
        return match spec.name {
            "ping" | "echo" | "time" | "publish" => KeyRule::NoKeys,
            "select" => KeyRule::Select,
            _ => KeyRule::Unknown,
        };
    }
    // MOVE names one key but writes into another database.
    if spec.name == "move" {
        return KeyRule::Unknown;
    }
    match spec.keys {
        [KeySpec { begin: Begin::Index(1), find: Find::Range { lastkey: 0, step: 1, limit: 0 }, flags, .. }]
            if flags & KS::NOT_KEY == 0 =>
        {
            KeyRule::First
        }
        [KeySpec { begin: Begin::Index(1), find: Find::Range { lastkey: -1, step: 1, limit: 0 }, flags, .. }]
            if flags & KS::NOT_KEY == 0 =>
        {
            KeyRule::All
        }
        _ => KeyRule::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand is found under its own name in any case, and nothing
    /// else is.
    #[test]
    fn names_are_found_case_insensitively_and_only_whole() {
        let r = Registry::new();
        for id in 0..r.len() as CommandId {
            let reg = r.get(id);
            let name = reg.spec.name;
            let find = |n: &[u8]| match reg.parent {
                Some(p) => r.lookup_sub(p, n),
                None => r.lookup(n),
            };
            assert_eq!(find(name.as_bytes()), Some(id), "{}", reg.fullname);
            assert_eq!(find(name.to_ascii_uppercase().as_bytes()), Some(id), "{}", reg.fullname);
            let mixed: Vec<u8> =
                name.bytes().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
            assert_eq!(find(&mixed), Some(id), "{}", reg.fullname);
            // Near misses find nothing, or the command that really has that name (LPUSHX).
            let near = [format!("{name}\0"), format!("{name}x"), format!("\0{name}"), name[..name.len() - 1].into()];
            for other in near {
                if let Some(found) = find(other.as_bytes()) {
                    assert_eq!(r.get(found).spec.name, other, "{other:?} found {}", r.get(found).fullname);
                }
            }
        }
        let get = r.lookup(b"get").expect("GET");
        let config = r.lookup(b"config").expect("CONFIG");
        let config_get = r.lookup_sub(config, b"GET").expect("CONFIG GET");
        assert_ne!(get, config_get);
        assert_eq!(r.get(config_get).fullname, "config|get");
        assert_eq!(r.lookup_sub(get, b"get"), None);
        assert_eq!(r.lookup(&[b'a'; MAX_NAME + 1]), None);
        assert_eq!(r.lookup(b""), None);
    }
}
