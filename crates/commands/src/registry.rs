//! Lookup structures derived from the command table at startup: case-insensitive name lookup
//! without allocation, dense ids for statistics, and full names (`config|get`).

use crate::spec::{Begin, CommandSpec, Find, KeySpec, F, KS};
use crate::table::TABLE;
use std::collections::HashMap;
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
}

/// The commands, indexed.
pub struct Registry {
    cmds: Vec<Registered>,
    top: HashMap<Vec<u8>, CommandId, foldhash::fast::RandomState>,
    subs: HashMap<(CommandId, Vec<u8>), CommandId, foldhash::fast::RandomState>,
}

/// Longest command or subcommand name looked up; longer input cannot be a command.
const MAX_NAME: usize = 32;

/// Lower-cases `name` into `buf` without allocating; `None` if it is too long to be a command.
#[inline]
fn lower<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    if name.len() > MAX_NAME {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// Indexes [`TABLE`].
    pub fn new() -> Self {
        let mut r = Registry { cmds: Vec::new(), top: HashMap::default(), subs: HashMap::default() };
        for spec in TABLE {
            let id = r.cmds.len() as CommandId;
            r.cmds.push(Registered { spec, fullname: spec.name.to_string(), parent: None });
            r.top.insert(spec.name.as_bytes().to_vec(), id);
            for sub in spec.subcommands {
                let sid = r.cmds.len() as CommandId;
                r.cmds.push(Registered {
                    spec: sub,
                    fullname: format!("{}|{}", spec.name, sub.name),
                    parent: Some(id),
                });
                r.subs.insert((id, sub.name.as_bytes().to_vec()), sid);
            }
        }
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
        let mut buf = [0u8; MAX_NAME];
        self.top.get(lower(name, &mut buf)?).copied()
    }

    /// Looks up a subcommand of `parent`, case-insensitively.
    #[inline]
    pub fn lookup_sub(&self, parent: CommandId, name: &[u8]) -> Option<CommandId> {
        let mut buf = [0u8; MAX_NAME];
        let n = lower(name, &mut buf)?;
        // The map is keyed by (id, Vec); avoid allocating by probing with an owned key only
        // for subcommands, which are not on the hot path.
        self.subs.get(&(parent, n.to_vec())).copied()
    }

    /// How a script's `redis.call` of command `name` takes keys, for deciding whether the
    /// script may run beside others on its declared keys' shards
    /// ([`tumbler_scripting::declared`]): one key at argument 1, every argument a key, or, for
    /// a few commands that touch no key at all, none; SELECT is [`KeyRule::Select`].
    /// Everything else (subcommands, keys found by keyword or count, commands that reach other
    /// databases or the whole keyspace) is [`KeyRule::Unknown`].
    pub fn script_key_rule(&self, name: &[u8]) -> KeyRule {
        let Some(id) = self.lookup(name) else { return KeyRule::Unknown };
        let spec = self.get(id).spec;
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
