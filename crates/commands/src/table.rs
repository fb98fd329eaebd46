//! The command table: every command tumbler serves, declared once.
//!
//! Arity, flags, ACL categories, key specifications and tips are Redis 7.0.15's (bootstrapped
//! from its COMMAND INFO with tools/command-meta.py and checked by the differential tests), so
//! COMMAND INFO, key extraction and ACL categories all derive from this one place. tumbler-only
//! flags (`F::EXCLUSIVE`, `F::EXTENSION`) are not shown by COMMAND INFO.

use crate::cmd::{
    acl, connection, hashes, introspection, keys, lists, lock, memory, pubsub, scripting, server, sets, strings,
    transactions, zsets,
};
use crate::spec::{Begin, CommandSpec, Find, KeySpec, C, F, KS};

/// Every command, in the order COMMAND lists them.
pub static TABLE: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: F::FAST,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        handler: connection::ping,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: F::LOADING | F::STALE | F::FAST,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::echo,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::NO_AUTH | F::ALLOW_BUSY,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::hello,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::NO_AUTH | F::ALLOW_BUSY,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::auth,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::NO_AUTH | F::ALLOW_BUSY,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::quit,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::NO_AUTH | F::ALLOW_BUSY,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::reset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "acl",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "whoami",
                arity: 2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: acl::whoami,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "deluser",
                arity: -3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::deluser,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "save",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::save,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "dryrun",
                arity: -4,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::dryrun,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "genpass",
                arity: -2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: acl::genpass,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: acl::help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "list",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::list,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "log",
                arity: -2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::log,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "load",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::load,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "setuser",
                arity: -3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::setuser,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "getuser",
                arity: 3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::getuser,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "cat",
                arity: -2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: acl::cat,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "users",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: acl::users,
                ..CommandSpec::DEFAULT
            },
        ],
        handler: acl::help,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: F::LOADING | F::STALE | F::FAST,
        acl: C::FAST | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        handler: connection::select,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "getredir",
                arity: 2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_getredir,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "reply",
                arity: 3,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_reply,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "kill",
                arity: -3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_kill,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "info",
                arity: 2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output"],
                handler: connection::client_info,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "list",
                arity: -2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output"],
                handler: connection::client_list,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "getname",
                arity: 2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_getname,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "id",
                arity: 2,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_id,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "no-evict",
                arity: 3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_no_evict,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "setname",
                arity: 3,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_setname,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "unblock",
                arity: -3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_unblock,
                ..CommandSpec::DEFAULT
            },
            // Redis 7.2's CLIENT SETINFO, which current client libraries send on every connection.
            CommandSpec {
                name: "setinfo",
                arity: 4,
                flags: F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: connection::client_setinfo,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: connection::client_help,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "get",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::get,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "RW and ACCESS due to the optional `GET` argument",
            flags: KS::RW | KS::ACCESS | KS::UPDATE | KS::VARIABLE_FLAGS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::set,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::OW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::setnx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::OW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::setex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::OW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::psetex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::getset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::getdel,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "RW and UPDATE because it changes the TTL",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::getex,
        ..CommandSpec::DEFAULT
    },
    // Conditional delete and digest: tumbler extensions, not in Redis 7.0. DELEX and DIGEST are
    // declared as Redis 8.4 declares them (src/commands/delex.json, digest.json at 8.4.2),
    // DELIFEQ as Valkey 9.0 does (src/commands/delifeq.json). SET's IFEQ/IFNE/IFDEQ/IFDNE need
    // no entry: SET's COMMAND INFO is the same in 8.4 as in 7.0.
    CommandSpec {
        name: "delex",
        arity: -2,
        flags: F::WRITE | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            // RM without a condition, RW with one (Redis reports which per call).
            flags: KS::RW | KS::DELETE | KS::VARIABLE_FLAGS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::delex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "delifeq",
        arity: 3,
        flags: F::WRITE | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RM | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::delifeq,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "digest",
        arity: 2,
        flags: F::READONLY | F::FAST | F::EXTENSION,
        acl: C::READ | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::digest,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::STRING | C::FAST,
        legacy_keys: (1, -1, 1),
        tips: &["request_policy:multi_shard"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: strings::mget,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, -1, 2),
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::OW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 2, limit: 0 },
        }],
        handler: strings::mset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, -1, 2),
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::OW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 2, limit: 0 },
        }],
        handler: strings::msetnx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::incr,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::decr,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::incrby,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::decrby,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::incrbyfloat,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::append,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::strlen,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: F::READONLY,
        acl: C::READ | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::getrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: F::READONLY,
        acl: C::READ | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::getrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::STRING | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: strings::setrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "del",
        arity: -2,
        flags: F::WRITE,
        acl: C::KEYSPACE | C::WRITE | C::SLOW,
        legacy_keys: (1, -1, 1),
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RM | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: keys::del,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, -1, 1),
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RM | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: keys::unlink,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, -1, 1),
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: keys::exists,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, -1, 1),
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: keys::touch,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::type_,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::ttl,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::pttl,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::expiretime,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::pexpiretime,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::persist,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::expire,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::pexpire,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::expireat,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::pexpireat,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: F::READONLY,
        acl: C::KEYSPACE | C::READ | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        handler: keys::keys,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: F::READONLY,
        acl: C::KEYSPACE | C::READ | C::SLOW,
        legacy_keys: (0, 0, 0),
        tips: &["nondeterministic_output", "request_policy:special"],
        handler: keys::scan,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: F::READONLY,
        acl: C::KEYSPACE | C::READ | C::SLOW,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        handler: keys::randomkey,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: F::WRITE,
        acl: C::KEYSPACE | C::WRITE | C::SLOW,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::OW | KS::UPDATE,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: keys::rename,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::OW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: keys::renamenx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::KEYSPACE | C::WRITE | C::SLOW,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RO | KS::ACCESS,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::OW | KS::UPDATE,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: keys::copy,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: keys::move_,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: F::READONLY | F::FAST,
        acl: C::KEYSPACE | C::READ | C::FAST,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        handler: keys::dbsize,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: F::WRITE,
        acl: C::KEYSPACE | C::WRITE | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        handler: keys::flushdb,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: F::WRITE,
        acl: C::KEYSPACE | C::WRITE | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        handler: keys::flushall,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: F::WRITE | F::FAST,
        acl: C::KEYSPACE | C::WRITE | C::FAST | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: keys::swapdb,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "idletime",
                arity: 3,
                flags: F::READONLY,
                acl: C::KEYSPACE | C::READ | C::SLOW,
                legacy_keys: (2, 2, 1),
                tips: &["nondeterministic_output"],
                keys: &[KeySpec {
                    notes: "",
                    flags: KS::RO,
                    begin: Begin::Index(2),
                    find: Find::Range { lastkey: 0, step: 1, limit: 0 },
                }],
                handler: server::object_idletime,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "freq",
                arity: 3,
                flags: F::READONLY,
                acl: C::KEYSPACE | C::READ | C::SLOW,
                legacy_keys: (2, 2, 1),
                tips: &["nondeterministic_output"],
                keys: &[KeySpec {
                    notes: "",
                    flags: KS::RO,
                    begin: Begin::Index(2),
                    find: Find::Range { lastkey: 0, step: 1, limit: 0 },
                }],
                handler: server::object_freq,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "encoding",
                arity: 3,
                flags: F::READONLY,
                acl: C::KEYSPACE | C::READ | C::SLOW,
                legacy_keys: (2, 2, 1),
                tips: &["nondeterministic_output"],
                keys: &[KeySpec {
                    notes: "",
                    flags: KS::RO,
                    begin: Begin::Index(2),
                    find: Find::Range { lastkey: 0, step: 1, limit: 0 },
                }],
                handler: server::object_encoding,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::KEYSPACE | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: server::object_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "refcount",
                arity: 3,
                flags: F::READONLY,
                acl: C::KEYSPACE | C::READ | C::SLOW,
                legacy_keys: (2, 2, 1),
                tips: &["nondeterministic_output"],
                keys: &[KeySpec {
                    notes: "",
                    flags: KS::RO,
                    begin: Begin::Index(2),
                    find: Find::Range { lastkey: 0, step: 1, limit: 0 },
                }],
                handler: server::object_refcount,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "role",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST,
        acl: C::ADMIN | C::FAST | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: server::role,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "stats",
                arity: 2,
                flags: F::NONE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                handler: memory::stats,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "usage",
                arity: -3,
                flags: F::READONLY,
                acl: C::READ | C::SLOW,
                legacy_keys: (2, 2, 1),
                keys: &[KeySpec {
                    notes: "",
                    flags: KS::RO,
                    begin: Begin::Index(2),
                    find: Find::Range { lastkey: 0, step: 1, limit: 0 },
                }],
                handler: memory::usage,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "purge",
                arity: 2,
                flags: F::NONE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
                handler: memory::purge,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "doctor",
                arity: 2,
                flags: F::NONE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                handler: memory::doctor,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "malloc-stats",
                arity: 2,
                flags: F::NONE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                handler: memory::malloc_stats,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: memory::help_text,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: F::LOADING | F::STALE,
        acl: C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        handler: server::info,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "rewrite",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: server::config_rewrite,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: server::config_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "set",
                arity: -4,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: server::config_set,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "get",
                arity: -3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: server::config_get,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "resetstat",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                handler: server::config_resetstat,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: F::LOADING | F::STALE,
        acl: C::SLOW | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        tips: &["nondeterministic_output_order"],
        subcommands: &[
            CommandSpec {
                name: "count",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: server::command_count,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "docs",
                arity: -2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output_order"],
                handler: server::command_docs,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "info",
                arity: -2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output_order"],
                handler: server::command_info,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: server::command_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "list",
                arity: -2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output_order"],
                handler: server::command_list,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "getkeysandflags",
                arity: -4,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: server::command_getkeysandflags,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "getkeys",
                arity: -4,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::CONNECTION,
                legacy_keys: (0, 0, 0),
                handler: server::command_getkeys,
                ..CommandSpec::DEFAULT
            },
        ],
        handler: server::command,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: F::LOADING | F::STALE | F::FAST,
        acl: C::FAST,
        legacy_keys: (0, 0, 0),
        tips: &["nondeterministic_output"],
        handler: server::time,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: F::LOADING | F::STALE | F::FAST,
        acl: C::ADMIN | C::FAST | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        tips: &["nondeterministic_output"],
        handler: server::lastsave,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE | F::NO_MULTI | F::ALLOW_BUSY,
        acl: C::ADMIN | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: server::shutdown,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "eval",
        arity: -3,
        flags: F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::eval,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "evalsha",
        arity: -3,
        flags: F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::evalsha,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "eval_ro",
        arity: -3,
        flags: F::READONLY | F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::eval_ro,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "evalsha_ro",
        arity: -3,
        flags: F::READONLY | F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::evalsha_ro,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "script",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "flush",
                arity: -2,
                flags: F::NOSCRIPT,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: scripting::script_flush,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "exists",
                arity: -3,
                flags: F::NOSCRIPT,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_shards", "response_policy:agg_logical_and"],
                handler: scripting::script_exists,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                handler: scripting::script_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "kill",
                arity: 2,
                flags: F::NOSCRIPT | F::ALLOW_BUSY,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_shards", "response_policy:one_succeeded"],
                handler: scripting::script_kill,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "debug",
                arity: 3,
                flags: F::NOSCRIPT,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                handler: scripting::script_debug,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "load",
                arity: 3,
                flags: F::NOSCRIPT | F::STALE,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: scripting::script_load,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "wait",
        arity: 3,
        flags: F::NOSCRIPT,
        acl: C::SLOW | C::CONNECTION,
        legacy_keys: (0, 0, 0),
        tips: &["request_policy:all_shards", "response_policy:agg_min"],
        handler: server::wait,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "save",
        arity: 1,
        flags: F::ADMIN | F::NOSCRIPT | F::NO_ASYNC_LOADING | F::NO_MULTI,
        acl: C::ADMIN | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: server::save,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: F::ADMIN | F::NOSCRIPT | F::NO_ASYNC_LOADING,
        acl: C::ADMIN | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: server::bgsave,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "fcall",
        arity: -3,
        flags: F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::fcall,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "fcall_ro",
        arity: -3,
        flags: F::READONLY | F::NOSCRIPT | F::STALE | F::SKIP_MONITOR | F::NO_MANDATORY_KEYS | F::MOVABLEKEYS,
        acl: C::SLOW | C::SCRIPTING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: scripting::fcall_ro,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zmpop",
        arity: -4,
        flags: F::WRITE | F::MOVABLEKEYS,
        acl: C::WRITE | C::SORTEDSET | C::SLOW,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: zsets::zmpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzmpop",
        arity: -5,
        flags: F::WRITE | F::BLOCKING | F::MOVABLEKEYS,
        acl: C::WRITE | C::SORTEDSET | C::SLOW | C::BLOCKING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: zsets::bzmpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "subscribe",
        arity: -2,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (0, 0, 0),
        handler: pubsub::subscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (0, 0, 0),
        handler: pubsub::unsubscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (0, 0, 0),
        handler: pubsub::psubscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (0, 0, 0),
        handler: pubsub::punsubscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ssubscribe",
        arity: -2,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (1, -1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: pubsub::ssubscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunsubscribe",
        arity: -1,
        flags: F::PUBSUB | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::PUBSUB | C::SLOW,
        legacy_keys: (1, -1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: pubsub::sunsubscribe,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: F::PUBSUB | F::LOADING | F::STALE | F::FAST | F::MAY_REPLICATE,
        acl: C::PUBSUB | C::FAST,
        legacy_keys: (0, 0, 0),
        handler: pubsub::publish,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spublish",
        arity: 3,
        flags: F::PUBSUB | F::LOADING | F::STALE | F::FAST | F::MAY_REPLICATE,
        acl: C::PUBSUB | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::NOT_KEY,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: pubsub::spublish,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "numsub",
                arity: -2,
                flags: F::PUBSUB | F::LOADING | F::STALE,
                acl: C::PUBSUB | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_numsub,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "shardchannels",
                arity: -2,
                flags: F::PUBSUB | F::LOADING | F::STALE,
                acl: C::PUBSUB | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_shardchannels,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "channels",
                arity: -2,
                flags: F::PUBSUB | F::LOADING | F::STALE,
                acl: C::PUBSUB | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_channels,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "numpat",
                arity: 2,
                flags: F::PUBSUB | F::LOADING | F::STALE,
                acl: C::PUBSUB | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_numpat,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "shardnumsub",
                arity: -2,
                flags: F::PUBSUB | F::LOADING | F::STALE,
                acl: C::PUBSUB | C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: pubsub::pubsub_shardnumsub,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lock.acquire",
        arity: -5,
        flags: F::WRITE | F::DENYOOM | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lock::lock_acquire,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lock.release",
        arity: 3,
        flags: F::WRITE | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RM | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lock::lock_release,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lock.extend",
        arity: -5,
        flags: F::WRITE | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lock::lock_extend,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lock.info",
        arity: 2,
        flags: F::READONLY | F::FAST | F::EXTENSION,
        acl: C::READ | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lock::lock_info,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lock.fence",
        arity: 4,
        flags: F::WRITE | F::FAST | F::EXTENSION,
        acl: C::WRITE | C::STRING | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lock::lock_fence,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "function",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                handler: server::function_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "list",
                arity: -2,
                flags: F::NOSCRIPT,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output_order"],
                handler: server::function_list,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "flush",
                arity: -2,
                flags: F::WRITE | F::NOSCRIPT,
                acl: C::WRITE | C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
                handler: server::function_flush,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "kill",
                arity: 2,
                flags: F::NOSCRIPT | F::ALLOW_BUSY,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_shards", "response_policy:one_succeeded"],
                handler: scripting::function_kill,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "stats",
                arity: 2,
                flags: F::NOSCRIPT | F::ALLOW_BUSY,
                acl: C::SLOW | C::SCRIPTING,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
                handler: scripting::function_stats,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "debug",
        arity: -2,
        flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE | F::EXCLUSIVE,
        acl: C::ADMIN | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: server::debug,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hset",
        arity: -4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hsetnx",
        arity: 4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hsetnx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hget",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hget,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hmget",
        arity: -3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hmget,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hmset",
        arity: -4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hmset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hdel",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hdel,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hexists",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hexists,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hlen",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hlen,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hstrlen",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hstrlen,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hincrby",
        arity: 4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hincrby,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hincrbyfloat",
        arity: 4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::HASH | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hincrbyfloat,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hkeys",
        arity: 2,
        flags: F::READONLY,
        acl: C::READ | C::HASH | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hkeys,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hvals",
        arity: 2,
        flags: F::READONLY,
        acl: C::READ | C::HASH | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hvals,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hgetall",
        arity: 2,
        flags: F::READONLY,
        acl: C::READ | C::HASH | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hgetall,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hscan",
        arity: -3,
        flags: F::READONLY,
        acl: C::READ | C::HASH | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hscan,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hrandfield",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::HASH | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: hashes::hrandfield,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sadd",
        arity: -3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::sadd,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srem",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::srem,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sismember",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::sismember,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smismember",
        arity: -3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::smismember,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smembers",
        arity: 2,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::smembers,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scard",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::scard,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spop",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SET | C::FAST,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::spop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srandmember",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::srandmember,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinter",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: sets::sinter,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinterstore",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::UPDATE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RO | KS::ACCESS,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: -1, step: 1, limit: 0 },
            },
        ],
        handler: sets::sinterstore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunion",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: sets::sunion,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunionstore",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::OW | KS::UPDATE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RO | KS::ACCESS,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: -1, step: 1, limit: 0 },
            },
        ],
        handler: sets::sunionstore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiff",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        tips: &["nondeterministic_output_order"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: sets::sdiff,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiffstore",
        arity: -3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::SET | C::SLOW,
        legacy_keys: (1, -1, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::OW | KS::UPDATE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RO | KS::ACCESS,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: -1, step: 1, limit: 0 },
            },
        ],
        handler: sets::sdiffstore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: F::READONLY | F::MOVABLEKEYS,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: sets::sintercard,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SET | C::FAST,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: sets::smove,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sscan",
        arity: -3,
        flags: F::READONLY,
        acl: C::READ | C::SET | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: sets::sscan,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lpush",
        arity: -3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lpush,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rpush",
        arity: -3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::rpush,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lpushx",
        arity: -3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lpushx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rpushx",
        arity: -3,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::rpushx,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lpop",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rpop",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::rpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "llen",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::LIST | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::llen,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lrange",
        arity: 4,
        flags: F::READONLY,
        acl: C::READ | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lindex",
        arity: 3,
        flags: F::READONLY,
        acl: C::READ | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lindex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lset",
        arity: 4,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lset,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lrem",
        arity: 4,
        flags: F::WRITE,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lrem,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ltrim",
        arity: 4,
        flags: F::WRITE,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::ltrim,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "linsert",
        arity: 5,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::INSERT,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::linsert,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lpos",
        arity: -3,
        flags: F::READONLY,
        acl: C::READ | C::LIST | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: lists::lpos,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lmove",
        arity: 5,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: lists::lmove,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rpoplpush",
        arity: 3,
        flags: F::WRITE | F::DENYOOM,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: lists::rpoplpush,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lmpop",
        arity: -4,
        flags: F::WRITE | F::MOVABLEKEYS,
        acl: C::WRITE | C::LIST | C::SLOW,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: lists::lmpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blpop",
        arity: -3,
        flags: F::WRITE | F::NOSCRIPT | F::BLOCKING,
        acl: C::WRITE | C::LIST | C::SLOW | C::BLOCKING,
        legacy_keys: (1, -2, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -2, step: 1, limit: 0 },
        }],
        handler: lists::blpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpop",
        arity: -3,
        flags: F::WRITE | F::NOSCRIPT | F::BLOCKING,
        acl: C::WRITE | C::LIST | C::SLOW | C::BLOCKING,
        legacy_keys: (1, -2, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -2, step: 1, limit: 0 },
        }],
        handler: lists::brpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmove",
        arity: 6,
        flags: F::WRITE | F::DENYOOM | F::NOSCRIPT | F::BLOCKING,
        acl: C::WRITE | C::LIST | C::SLOW | C::BLOCKING,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: lists::blmove,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpoplpush",
        arity: 4,
        flags: F::WRITE | F::DENYOOM | F::NOSCRIPT | F::BLOCKING,
        acl: C::WRITE | C::LIST | C::SLOW | C::BLOCKING,
        legacy_keys: (1, 2, 1),
        keys: &[
            KeySpec {
                notes: "",
                flags: KS::RW | KS::ACCESS | KS::DELETE,
                begin: Begin::Index(1),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: KS::RW | KS::INSERT,
                begin: Begin::Index(2),
                find: Find::Range { lastkey: 0, step: 1, limit: 0 },
            },
        ],
        handler: lists::brpoplpush,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmpop",
        arity: -5,
        flags: F::WRITE | F::BLOCKING | F::MOVABLEKEYS,
        acl: C::WRITE | C::LIST | C::SLOW | C::BLOCKING,
        legacy_keys: (0, 0, 0),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(2),
            find: Find::Keynum { index: 0, first: 1, step: 1 },
        }],
        handler: lists::blmpop,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zadd",
        arity: -4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zadd,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zincrby",
        arity: 4,
        flags: F::WRITE | F::DENYOOM | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::UPDATE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zincrby,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrem",
        arity: -3,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrem,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zscore",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zscore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zmscore",
        arity: -3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zmscore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zcard",
        arity: 2,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zcard,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zcount",
        arity: 4,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zcount,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zlexcount",
        arity: 4,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zlexcount,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrank",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrank,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrank",
        arity: 3,
        flags: F::READONLY | F::FAST,
        acl: C::READ | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrevrank,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrange",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrangebyscore",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrangebyscore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrangebyscore",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrevrangebyscore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrangebylex",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrangebylex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrangebylex",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrevrangebylex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrange",
        arity: -4,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrevrange,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebyscore",
        arity: 4,
        flags: F::WRITE,
        acl: C::WRITE | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zremrangebyscore,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebyrank",
        arity: 4,
        flags: F::WRITE,
        acl: C::WRITE | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zremrangebyrank,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebylex",
        arity: 4,
        flags: F::WRITE,
        acl: C::WRITE | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zremrangebylex,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zpopmin",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zpopmin,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zpopmax",
        arity: -2,
        flags: F::WRITE | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST,
        legacy_keys: (1, 1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zpopmax,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmin",
        arity: -3,
        flags: F::WRITE | F::NOSCRIPT | F::BLOCKING | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST | C::BLOCKING,
        legacy_keys: (1, -2, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -2, step: 1, limit: 0 },
        }],
        handler: zsets::bzpopmin,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmax",
        arity: -3,
        flags: F::WRITE | F::NOSCRIPT | F::BLOCKING | F::FAST,
        acl: C::WRITE | C::SORTEDSET | C::FAST | C::BLOCKING,
        legacy_keys: (1, -2, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RW | KS::ACCESS | KS::DELETE,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -2, step: 1, limit: 0 },
        }],
        handler: zsets::bzpopmax,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zscan",
        arity: -3,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zscan,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrandmember",
        arity: -2,
        flags: F::READONLY,
        acl: C::READ | C::SORTEDSET | C::SLOW,
        legacy_keys: (1, 1, 1),
        tips: &["nondeterministic_output"],
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO | KS::ACCESS,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: 0, step: 1, limit: 0 },
        }],
        handler: zsets::zrandmember,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::ALLOW_BUSY,
        acl: C::FAST | C::TRANSACTION,
        legacy_keys: (0, 0, 0),
        handler: transactions::multi,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::SKIP_SLOWLOG,
        acl: C::SLOW | C::TRANSACTION,
        legacy_keys: (0, 0, 0),
        handler: transactions::exec,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::ALLOW_BUSY,
        acl: C::FAST | C::TRANSACTION,
        legacy_keys: (0, 0, 0),
        handler: transactions::discard,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::ALLOW_BUSY,
        acl: C::FAST | C::TRANSACTION,
        legacy_keys: (1, -1, 1),
        keys: &[KeySpec {
            notes: "",
            flags: KS::RO,
            begin: Begin::Index(1),
            find: Find::Range { lastkey: -1, step: 1, limit: 0 },
        }],
        handler: transactions::watch,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: F::NOSCRIPT | F::LOADING | F::STALE | F::FAST | F::ALLOW_BUSY,
        acl: C::FAST | C::TRANSACTION,
        legacy_keys: (0, 0, 0),
        handler: transactions::unwatch,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "monitor",
        arity: 1,
        flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
        acl: C::ADMIN | C::SLOW | C::DANGEROUS,
        legacy_keys: (0, 0, 0),
        handler: connection::monitor,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slowlog",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: introspection::slowlog_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "reset",
                arity: 2,
                flags: F::ADMIN | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: introspection::slowlog_reset,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "get",
                arity: -2,
                flags: F::ADMIN | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "nondeterministic_output"],
                handler: introspection::slowlog_get,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "len",
                arity: 2,
                flags: F::ADMIN | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"],
                handler: introspection::slowlog_len,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "latency",
        arity: -2,
        flags: F::NONE,
        acl: C::SLOW,
        legacy_keys: (0, 0, 0),
        subcommands: &[
            CommandSpec {
                name: "doctor",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                handler: introspection::latency_doctor,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "help",
                arity: 2,
                flags: F::LOADING | F::STALE,
                acl: C::SLOW,
                legacy_keys: (0, 0, 0),
                handler: introspection::latency_help,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "reset",
                arity: -2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                handler: introspection::latency_reset,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "graph",
                arity: 3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                handler: introspection::latency_graph,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "history",
                arity: 3,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                handler: introspection::latency_history,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "latest",
                arity: 2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                handler: introspection::latency_latest,
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "histogram",
                arity: -2,
                flags: F::ADMIN | F::NOSCRIPT | F::LOADING | F::STALE,
                acl: C::ADMIN | C::SLOW | C::DANGEROUS,
                legacy_keys: (0, 0, 0),
                tips: &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
                handler: introspection::latency_histogram,
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
];
