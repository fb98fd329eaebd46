//! ACL categories (`@read`, `@write`…): bit values and names in Redis' order.
//!
//! The bit values are the ones `tumbler-commands` declares its table with (`spec::C`), so a
//! command's `acl` field can be handed to the [`Catalog`](crate::Catalog) unchanged.

/// Category bits, in Redis' order.
pub struct Cat;

#[allow(missing_docs)]
impl Cat {
    pub const NONE: u64 = 0;
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    /// Every category with its name, in the order ACL CAT lists them (and in which
    /// the rule describer tries them).
    pub const ORDER: &'static [(u64, &'static str)] = &[
        (Cat::KEYSPACE, "keyspace"),
        (Cat::READ, "read"),
        (Cat::WRITE, "write"),
        (Cat::SET, "set"),
        (Cat::SORTEDSET, "sortedset"),
        (Cat::LIST, "list"),
        (Cat::HASH, "hash"),
        (Cat::STRING, "string"),
        (Cat::BITMAP, "bitmap"),
        (Cat::HYPERLOGLOG, "hyperloglog"),
        (Cat::GEO, "geo"),
        (Cat::STREAM, "stream"),
        (Cat::PUBSUB, "pubsub"),
        (Cat::ADMIN, "admin"),
        (Cat::FAST, "fast"),
        (Cat::SLOW, "slow"),
        (Cat::BLOCKING, "blocking"),
        (Cat::DANGEROUS, "dangerous"),
        (Cat::CONNECTION, "connection"),
        (Cat::TRANSACTION, "transaction"),
        (Cat::SCRIPTING, "scripting"),
    ];

    /// The bit of a category name, case-insensitively (`None` for an unknown name; `all` is
    /// not a category here: `+@all` is a rule of its own).
    pub fn by_name(name: &[u8]) -> Option<u64> {
        Cat::ORDER.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name)).map(|(bit, _)| *bit)
    }

    /// The category names, in order (ACL CAT without argument).
    pub fn names() -> impl Iterator<Item = &'static str> {
        Cat::ORDER.iter().map(|(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits() {
        assert_eq!(Cat::ORDER.len(), 21);
        for (i, (bit, _)) in Cat::ORDER.iter().enumerate() {
            assert_eq!(*bit, 1u64 << i);
        }
        assert_eq!(Cat::by_name(b"SortedSet"), Some(Cat::SORTEDSET));
        assert_eq!(Cat::by_name(b"all"), None);
        assert_eq!(Cat::names().last(), Some("scripting"));
    }
}
