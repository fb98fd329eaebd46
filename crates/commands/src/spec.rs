//! The shape of a command declaration: everything COMMAND INFO reports, the ACL categories and
//! key positions, and the handler. The declarations themselves are in [`crate::table`].

use crate::{CmdResult, Ctx};
use tumbler_proto::Args;

/// A command handler: parses its arguments, calls the keyspace, writes the reply.
pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> CmdResult;

/// Command flags (Redis' `CMD_*`), rendered by COMMAND INFO in [`F::ORDER`].
pub struct F;

#[allow(missing_docs)]
impl F {
    pub const NONE: u32 = 0;
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const NO_MULTI: u32 = 1 << 17;
    pub const MOVABLEKEYS: u32 = 1 << 18;
    pub const ALLOW_BUSY: u32 = 1 << 19;
    /// tumbler-only: the command needs the whole keyspace to itself (FLUSHALL, SWAPDB, KEYS…).
    /// Not shown by COMMAND INFO.
    pub const EXCLUSIVE: u32 = 1 << 24;
    /// tumbler-only: an extension that Redis does not have. Not shown by COMMAND INFO.
    pub const EXTENSION: u32 = 1 << 25;
    /// Redis' internal `may-replicate` flag (PUBLISH…), which COMMAND INFO does not show:
    /// read-only scripts treat such commands as writes.
    pub const MAY_REPLICATE: u32 = 1 << 26;

    /// Flags in the order COMMAND INFO lists them, with their names.
    pub const ORDER: &'static [(u32, &'static str)] = &[
        (F::WRITE, "write"),
        (F::READONLY, "readonly"),
        (F::DENYOOM, "denyoom"),
        (F::MODULE, "module"),
        (F::ADMIN, "admin"),
        (F::PUBSUB, "pubsub"),
        (F::NOSCRIPT, "noscript"),
        (F::BLOCKING, "blocking"),
        (F::LOADING, "loading"),
        (F::STALE, "stale"),
        (F::SKIP_MONITOR, "skip_monitor"),
        (F::SKIP_SLOWLOG, "skip_slowlog"),
        (F::ASKING, "asking"),
        (F::FAST, "fast"),
        (F::NO_AUTH, "no_auth"),
        (F::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (F::NO_ASYNC_LOADING, "no_async_loading"),
        (F::NO_MULTI, "no_multi"),
        (F::MOVABLEKEYS, "movablekeys"),
        (F::ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories (`@read`, `@write`…), in Redis' order: the ACL library's bits, so a
/// command's `acl` field goes into the ACL catalog unchanged.
pub use tumbler_acl::Cat as C;

/// Key-spec flags, in Redis' order.
pub struct KS;

#[allow(missing_docs)]
impl KS {
    pub const NONE: u32 = 0;
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flags in the order COMMAND INFO lists them.
    pub const ORDER: &'static [(u32, &'static str)] = &[
        (KS::RO, "RO"),
        (KS::RW, "RW"),
        (KS::OW, "OW"),
        (KS::RM, "RM"),
        (KS::ACCESS, "access"),
        (KS::UPDATE, "update"),
        (KS::INSERT, "insert"),
        (KS::DELETE, "delete"),
        (KS::NOT_KEY, "not_key"),
        (KS::INCOMPLETE, "incomplete"),
        (KS::VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where the search for keys begins.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At a fixed argument index.
    Index(i32),
    /// After a keyword, searching from `startfrom` (negative: from the end).
    Keyword(&'static str, i32),
    /// Unknown (the command finds its keys itself).
    Unknown,
}

/// How keys are found from the beginning.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// A range: up to `lastkey` (relative; -1 = last argument), every `step`-th argument;
    /// `limit` divides the remaining arguments when `lastkey` is -1.
    Range {
        /// Last key index relative to the beginning.
        lastkey: i32,
        /// Step between keys.
        step: i32,
        /// Limit divisor.
        limit: i32,
    },
    /// The number of keys is in argument `index` (relative), the first key at `first`.
    Keynum {
        /// Index of the key count, relative to the beginning.
        index: i32,
        /// First key, relative to the beginning.
        first: i32,
        /// Step between keys.
        step: i32,
    },
    /// Unknown.
    Unknown,
}

/// One key specification, as in Redis 7.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Free-text note shown by COMMAND INFO.
    pub notes: &'static str,
    /// `KS::*` flags.
    pub flags: u32,
    /// Begin search.
    pub begin: Begin,
    /// Find keys.
    pub find: Find,
}

/// A command (or subcommand) declaration.
pub struct CommandSpec {
    /// Lower-case name (for a subcommand, the part after `|`).
    pub name: &'static str,
    /// Redis' arity: N exactly, or -N for at least N, counting the name.
    pub arity: i16,
    /// `F::*` flags.
    pub flags: u32,
    /// `C::*` ACL categories.
    pub acl: u64,
    /// COMMAND INFO's legacy first key, last key, step.
    pub legacy_keys: (i32, i32, i32),
    /// Command tips (`nondeterministic_output`, …).
    pub tips: &'static [&'static str],
    /// Key specifications.
    pub keys: &'static [KeySpec],
    /// Subcommands (CONFIG GET, CLIENT LIST…).
    pub subcommands: &'static [CommandSpec],
    /// The handler (for a container command, it is never called: a missing subcommand is
    /// reported before).
    pub handler: Handler,
}

fn no_handler(_: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    Ok(())
}

impl CommandSpec {
    /// Defaults for the fields a declaration leaves out.
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 0,
        flags: F::NONE,
        acl: C::NONE,
        legacy_keys: (0, 0, 0),
        tips: &[],
        keys: &[],
        subcommands: &[],
        handler: no_handler,
    };

    /// True when `argc` arguments (name included) satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity as isize;
        if a >= 0 {
            argc as isize == a
        } else {
            argc as isize >= -a
        }
    }

    /// Tests a flag.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Positions of the key arguments in `argv` according to the key specs (COMMAND GETKEYS,
    /// and later ACL and script key checks). Returns `None` when the arguments are not valid for
    /// the specs (e.g. a key count beyond the arguments).
    pub fn key_positions(&self, argc: usize, arg: impl Fn(usize) -> Vec<u8>) -> Option<Vec<usize>> {
        Some(self.keys_with_flags(argc, arg)?.into_iter().map(|(pos, _)| pos).collect())
    }

    /// Like [`CommandSpec::key_positions`], with the `KS::*` flags of the key spec that found
    /// each key (the ACL check needs a key's access: read from `ACCESS`, write from
    /// `INSERT`/`DELETE`/`UPDATE`).
    pub fn keys_with_flags(&self, argc: usize, arg: impl Fn(usize) -> Vec<u8>) -> Option<Vec<(usize, u32)>> {
        let mut out = Vec::new();
        for ks in self.keys {
            if ks.flags & KS::NOT_KEY != 0 {
                continue;
            }
            let first = match ks.begin {
                Begin::Index(i) => i as isize,
                Begin::Keyword(kw, from) => {
                    let (start, end, step): (isize, isize, isize) = if from >= 0 {
                        (from as isize, argc as isize, 1)
                    } else {
                        (argc as isize + from as isize, 0, -1)
                    };
                    let mut i = start;
                    let mut found = None;
                    while (step > 0 && i < end) || (step < 0 && i > end) {
                        if arg(i as usize).eq_ignore_ascii_case(kw.as_bytes()) {
                            found = Some(i + 1);
                            break;
                        }
                        i += step;
                    }
                    match found {
                        Some(f) => f,
                        None => continue,
                    }
                }
                Begin::Unknown => continue,
            };
            match ks.find {
                Find::Range { lastkey, step, limit } => {
                    let last = if lastkey >= 0 {
                        first + lastkey as isize
                    } else if limit <= 1 {
                        argc as isize + lastkey as isize
                    } else {
                        let remaining = argc as isize - first;
                        first + remaining / limit as isize - 1
                    };
                    let mut i = first;
                    while i <= last && i < argc as isize {
                        out.push((i as usize, ks.flags));
                        i += step.max(1) as isize;
                    }
                }
                Find::Keynum { index, first: f, step } => {
                    let idx = first + index as isize;
                    if idx as usize >= argc {
                        return None;
                    }
                    let n = tumbler_proto::num::parse_i64(&arg(idx as usize))?;
                    let start = first + f as isize;
                    if n < 0 || start + (n as isize - 1) * step as isize >= argc as isize && n > 0 {
                        return None;
                    }
                    for j in 0..n as isize {
                        out.push(((start + j * step as isize) as usize, ks.flags));
                    }
                }
                Find::Unknown => {}
            }
        }
        Some(out)
    }
}
