//! The command catalog the server hands to the ACL layer: one dense id per command and
//! subcommand, its full lower-case name, its categories, and the parent/child links.
//!
//! Permissions are bitmaps indexed by these ids, so the catalog must list commands in the same
//! order (and with the same ids) as the server's command registry. A subcommand has its own id
//! and bit, as in Redis 7.0; allowing or denying a container command sets the bits of all its
//! subcommands too.

use std::collections::HashMap;

/// Dense index of a command or subcommand (the server registry's id).
pub type CmdId = u16;

/// One command or subcommand, as the server describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Full name: `get`, or `parent|sub` for a subcommand (`config|get`). Case is folded.
    pub name: String,
    /// [`Cat`](crate::Cat) bits.
    pub categories: u64,
    /// The container command, for a subcommand.
    pub parent: Option<CmdId>,
    /// Redis' `no_auth` flag (AUTH, HELLO…): such commands pass the command check for every
    /// user, whatever its bitmap says.
    pub no_auth: bool,
}

impl CatalogEntry {
    /// A top-level command.
    pub fn command(name: &str, categories: u64) -> Self {
        CatalogEntry { name: name.to_ascii_lowercase(), categories, parent: None, no_auth: false }
    }

    /// A subcommand of `parent` (`name` is the full `parent|sub` form).
    pub fn subcommand(name: &str, categories: u64, parent: CmdId) -> Self {
        CatalogEntry { name: name.to_ascii_lowercase(), categories, parent: Some(parent), no_auth: false }
    }

    /// Sets the `no_auth` flag.
    pub fn no_auth(mut self) -> Self {
        self.no_auth = true;
        self
    }
}

/// The indexed catalog. Immutable once built; share it behind an `Arc`.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    by_name: HashMap<Vec<u8>, CmdId>,
    children: Vec<Vec<CmdId>>,
}

impl Catalog {
    /// Indexes `entries` (entry `i` gets id `i`). Errors on duplicate names, more than
    /// `CmdId::MAX` entries, a parent that is not an earlier top-level entry, or a subcommand
    /// name that is not `parent|sub`.
    pub fn new(entries: Vec<CatalogEntry>) -> Result<Catalog, String> {
        if entries.len() > usize::from(CmdId::MAX) {
            return Err(format!("too many commands for the ACL catalog: {}", entries.len()));
        }
        let mut cat = Catalog {
            by_name: HashMap::with_capacity(entries.len()),
            children: vec![Vec::new(); entries.len()],
            entries,
        };
        for (i, e) in cat.entries.iter_mut().enumerate() {
            e.name.make_ascii_lowercase();
            let id = i as CmdId;
            match e.parent {
                None if e.name.contains('|') => return Err(format!("top-level command '{}' contains '|'", e.name)),
                None => {}
                Some(p) => {
                    let ok = usize::from(p) < i && cat.children.get(usize::from(p)).is_some();
                    if !ok {
                        return Err(format!("subcommand '{}' has an invalid parent id {p}", e.name));
                    }
                    cat.children[usize::from(p)].push(id);
                }
            }
            if cat.by_name.insert(e.name.as_bytes().to_vec(), id).is_some() {
                return Err(format!("duplicate command name '{}'", e.name));
            }
        }
        // Second pass: names and parent links agree, and subcommands do not nest.
        for e in &cat.entries {
            if let Some(p) = e.parent {
                let parent = &cat.entries[usize::from(p)];
                let expected_prefix = format!("{}|", parent.name);
                let sub = e.name.strip_prefix(&expected_prefix);
                if parent.parent.is_some() || sub.is_none_or(|s| s.is_empty() || s.contains('|')) {
                    return Err(format!("subcommand '{}' does not match its parent '{}'", e.name, parent.name));
                }
            }
        }
        Ok(cat)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the catalog has no command.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `id`. Panics on an id the catalog never issued.
    pub fn get(&self, id: CmdId) -> &CatalogEntry {
        &self.entries[usize::from(id)]
    }

    /// The `no_auth` flag of `id` (false for an id the catalog does not have).
    #[inline]
    pub fn is_no_auth(&self, id: CmdId) -> bool {
        self.entries.get(usize::from(id)).is_some_and(|e| e.no_auth)
    }

    /// Full name of `id` (`get`, `config|get`).
    pub fn name(&self, id: CmdId) -> &str {
        &self.entries[usize::from(id)].name
    }

    /// Subcommands of `id` (empty for a plain command).
    pub fn children(&self, id: CmdId) -> &[CmdId] {
        &self.children[usize::from(id)]
    }

    /// True when `id` is a container command.
    pub fn has_subcommands(&self, id: CmdId) -> bool {
        !self.children[usize::from(id)].is_empty()
    }

    /// Looks up `name` or `parent|sub`, case-insensitively, as ACL rules name commands.
    pub fn lookup(&self, name: &[u8]) -> Option<CmdId> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// All ids with their entries, in id order (a container's subcommands follow it when the
    /// server registers them that way).
    pub fn iter(&self) -> impl Iterator<Item = (CmdId, &CatalogEntry)> {
        self.entries.iter().enumerate().map(|(i, e)| (i as CmdId, e))
    }

    /// Names of the commands and subcommands in category `bit` (`ACL CAT <category>`), in id
    /// order.
    pub fn commands_in(&self, bit: u64) -> impl Iterator<Item = &str> {
        self.entries.iter().filter(move |e| e.categories & bit != 0).map(|e| e.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cat;

    #[test]
    fn builds_and_looks_up() {
        let cat = Catalog::new(vec![
            CatalogEntry::command("GET", Cat::READ | Cat::STRING | Cat::FAST),
            CatalogEntry::command("config", Cat::SLOW),
            CatalogEntry::subcommand("config|get", Cat::ADMIN | Cat::SLOW, 1),
        ])
        .unwrap();
        assert_eq!(cat.lookup(b"get"), Some(0));
        assert_eq!(cat.lookup(b"Config|GET"), Some(2));
        assert_eq!(cat.lookup(b"get|x"), None);
        assert_eq!(cat.lookup(b"config|get|x"), None);
        assert!(cat.has_subcommands(1));
        assert_eq!(cat.commands_in(Cat::SLOW).collect::<Vec<_>>(), ["config", "config|get"]);
    }

    #[test]
    fn rejects_bad_catalogs() {
        assert!(Catalog::new(vec![CatalogEntry::command("a", 0), CatalogEntry::command("A", 0)]).is_err());
        assert!(Catalog::new(vec![CatalogEntry::subcommand("a|b", 0, 0)]).is_err());
        assert!(Catalog::new(vec![CatalogEntry::command("a", 0), CatalogEntry::subcommand("b|c", 0, 0)]).is_err());
        assert!(Catalog::new(vec![CatalogEntry::command("a|b", 0)]).is_err());
    }
}
