//! Which scripts provably touch only the keys they declare, and always finish.
//!
//! Such a script can run while other workers serve other keys: it locks the shards of its
//! declared keys (KEYS) instead of the whole keyspace. The question is answered by reading the
//! Lua source, before the script ever runs, so it must be *sound*: a yes has to hold for every
//! possible execution. The rules are therefore narrow, and anything they do not recognise is a
//! no (the script then runs alone, as it always may):
//!
//! * the keyspace is reached only through `redis.call(...)` / `redis.pcall(...)` written out
//!   at the call site, with the command name a string literal the caller's [`KeyRule`] knows,
//!   and every key argument a *key expression*: `KEYS[...]`, or a name that every binding
//!   binds to a key (`local name = KEYS[...]`, or the value of `for _, name in ipairs(KEYS)`)
//!   and nothing assigns; for commands whose every argument is a key, `unpack(KEYS)` as the
//!   only argument also does;
//! * the one exception to the literal-keys rule is a leading `SELECT` whose database comes
//!   from the arguments (`redis.pcall('SELECT', tonumber(ARGV[1]))`, as
//!   `@sesamecare-oss/redlock` writes it): the script's first call, in a statement of its own
//!   at the top level, so that the caller reads the database from ARGV before the script runs
//!   ([`Db::Argv`]) and claims the keys there;
//! * `KEYS` and `ARGV` are only read (indexed, counted with `#`, iterated, unpacked); `redis`
//!   is only used through its members, and only `call`/`pcall` reach commands;
//! * nothing can run long or reach code this reading does not see: no `while`, `repeat`,
//!   numeric `for`, `function`, no `loadstring`/`load`/`getfenv`/`setfenv`/`_G`/`rawget`/
//!   `rawset`/`setmetatable`/`getmetatable`/`coroutine`/`debug`/`require`/`module`/`dofile`/
//!   `loadfile`/`newproxy`/`pcall`/`xpcall` (the globals; `redis.pcall` is a member), and no
//!   `string` library, field of a string-library name, indexing of anything but the
//!   arguments, or method call (`s:find`):
//!   a pattern match can backtrack for minutes inside C, and `string.rep` builds memory bombs.
//!   The only loop is `for a, b in ipairs(KEYS)` (or `ARGV`), over arguments that cannot
//!   change. So the script's time is bounded by its source and its arguments, and it needs no
//!   busy-script hook.
//!
//! The server checks every key at run time as well, so a mistake here would turn into an error
//! reply, never into a script seeing another client's half-done work.

use std::cell::Cell;
use std::collections::HashMap;

/// How a command's arguments relate to keys, for [`declared_keys_only`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRule {
    /// Takes no key and touches no key (PING, ECHO, TIME…): any arguments.
    NoKeys,
    /// The first argument is the only key.
    First,
    /// Every argument is a key (DEL, EXISTS, MGET…).
    All,
    /// SELECT: no key, but the calls after it are in another database. Only a script's
    /// leading SELECT of a database from ARGV qualifies (see the module docs).
    Select,
    /// Anything else: the script must run alone.
    Unknown,
}

/// The database the keys of a script that passed [`declared_keys_only`] are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// The caller's.
    Caller,
    /// The one the script's leading `SELECT` names, from its arguments, so that the caller
    /// can tell which before the script runs.
    Argv {
        /// Which ARGV (1-based).
        index: usize,
        /// Passed through Lua's `tonumber` (rather than as it is).
        tonumber: bool,
    },
}

/// Whether the Lua source `src` reaches only the keys it declares and always finishes (see
/// the module docs), and if so in which database. `rule` classifies command names (as
/// written, any case).
pub fn declared_keys_only(src: &[u8], rule: &dyn Fn(&[u8]) -> KeyRule) -> Option<Db> {
    let tokens = lex(src)?;
    let (key_vars, bound) = key_vars(&tokens);
    let check = Check { t: &tokens, rule, key_vars, bound, calls: Cell::new(0), select: Cell::new(None) };
    check.run().then(|| check.select.get().unwrap_or(Db::Caller))
}

#[derive(Clone, Debug, PartialEq)]
enum Tok<'a> {
    Name(&'a [u8]),
    Str(Vec<u8>),
    Num(&'a [u8]),
    Op(&'static str),
}

/// Names that may reach code this check does not see, loop without bound, or replace what it
/// relies on.
const DENIED: &[&[u8]] = &[
    b"while",
    b"repeat",
    b"function",
    b"goto",
    b"loadstring",
    b"load",
    b"dofile",
    b"loadfile",
    b"require",
    b"module",
    b"getfenv",
    b"setfenv",
    b"_G",
    b"rawget",
    b"rawset",
    b"setmetatable",
    b"getmetatable",
    b"coroutine",
    b"debug",
    b"newproxy",
    b"pcall",
    b"xpcall",
    b"string",
];

/// The string library's functions, which every string value reaches as fields
/// (`ARGV[1].rep`): no field of these names may be read.
const STRING_FNS: &[&[u8]] = &[
    b"byte", b"char", b"dump", b"find", b"format", b"gmatch", b"gsub", b"len", b"lower", b"match", b"rep", b"reverse",
    b"sub", b"upper",
];

/// Members of `redis` that reach no key (everything but `call` and `pcall`).
const REDIS_HARMLESS: &[&[u8]] = &[
    b"log",
    b"LOG_DEBUG",
    b"LOG_VERBOSE",
    b"LOG_NOTICE",
    b"LOG_WARNING",
    b"sha1hex",
    b"error_reply",
    b"status_reply",
    b"setresp",
    b"set_repl",
    b"replicate_commands",
    b"REPL_NONE",
    b"REPL_SLAVE",
    b"REPL_REPLICA",
    b"REPL_AOF",
    b"REPL_ALL",
];

const OPS: &[&str] = &[
    "...", "..", "==", "~=", "<=", ">=", "+", "-", "*", "/", "%", "^", "#", "<", ">", "=", "(", ")", "{", "}", "[",
    "]", ";", ":", ",", ".",
];

/// Lua 5.1's tokens, or `None` for anything malformed (the compiler will say what).
fn lex(s: &[u8]) -> Option<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if s[i..].starts_with(b"--") {
            i += 2;
            if let Some(end) = long_bracket(s, i) {
                i = end;
            } else {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
        } else if c == b'[' && matches!(s.get(i + 1), Some(b'[' | b'=')) {
            let end = long_bracket(s, i)?;
            out.push(Tok::Str(Vec::new()));
            i = end;
        } else if c == b'"' || c == b'\'' {
            let mut v = Vec::new();
            i += 1;
            loop {
                let &b = s.get(i)?;
                i += 1;
                if b == c {
                    break;
                }
                if b == b'\n' {
                    return None;
                }
                if b == b'\\' {
                    // An escape. The value only matters as a command name, and no command
                    // name has one: keep the backslash so that it matches none.
                    v.push(b);
                    v.push(*s.get(i)?);
                    i += 1;
                } else {
                    v.push(b);
                }
            }
            out.push(Tok::Str(v));
        } else if c.is_ascii_digit() || (c == b'.' && s.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // Exactly as Lua 5.1's read_numeral splits it (a token boundary read differently
            // from Lua could hide a name): digits and dots, an optional exponent mark and
            // sign, then any letters, digits and underscores.
            let start = i;
            while i < s.len() && (s[i].is_ascii_digit() || s[i] == b'.') {
                i += 1;
            }
            if matches!(s.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(s.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            }
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Num(&s[start..i]));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(&s[start..i]));
        } else {
            let op = OPS.iter().find(|op| s[i..].starts_with(op.as_bytes()))?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Some(out)
}

/// If a long bracket (`[[`, `[==[`) opens at `i`, the index just past its closing bracket.
fn long_bracket(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'[') {
        return None;
    }
    let level = s[i + 1..].iter().take_while(|&&b| b == b'=').count();
    if s.get(i + 1 + level) != Some(&b'[') {
        return None;
    }
    let mut close = vec![b']'];
    close.extend(std::iter::repeat_n(b'=', level));
    close.push(b']');
    let body = i + 2 + level;
    s[body..].windows(close.len()).position(|w| w == close.as_slice()).map(|p| body + p + close.len())
}

/// Names that hold a declared key wherever they are in scope: every binding of the name is
/// `local name = KEYS[...]` (the whole expression) or the value of
/// `for _, name in ipairs(KEYS) do`, and it is never assigned or bound any other way. Out of
/// scope the name is an unset global, nil, which reaches no key.
///
/// Also returns every name that is bound or assigned anywhere (a `tonumber` the script
/// redefines is not Lua's).
fn key_vars<'a>(t: &[Tok<'a>]) -> (Vec<&'a [u8]>, Vec<&'a [u8]>) {
    // Per name: (bindings as a key, any other binding or assignment).
    let mut seen: HashMap<&[u8], (usize, bool)> = HashMap::new();
    let name = |i: usize| match t.get(i) {
        Some(Tok::Name(n)) => Some(*n),
        _ => None,
    };
    let op = |i: usize, o: &str| matches!(t.get(i), Some(Tok::Op(x)) if *x == o);
    // Token indexes of the names a `local` or `for` declares (not assignments).
    let mut declaring = std::collections::HashSet::new();
    for i in 0..t.len() {
        let Some(n) = name(i) else { continue };
        if declaring.contains(&i) {
            continue;
        }
        if n != b"local" && n != b"for" {
            continue;
        }
        // `local a, b = ...`, `local a`, `for a, b in ...`, `for i = ...`: the names declared.
        let mut names = Vec::new();
        let mut j = i + 1;
        while let Some(m) = name(j) {
            names.push(m);
            declaring.insert(j);
            if !op(j + 1, ",") {
                break;
            }
            j += 2;
        }
        // Which of them (by position) is bound to a declared key, if any.
        let key_at = if n == b"local" {
            let whole =
                names.len() == 1 && op(i + 2, "=") && index_of_keys(t, i + 3).is_some_and(|end| ends_expr(t, end));
            whole.then_some(0)
        } else {
            let over_keys = names.len() == 2
                && name(i + 4) == Some(b"in")
                && name(i + 5) == Some(b"ipairs")
                && op(i + 6, "(")
                && name(i + 7) == Some(b"KEYS")
                && op(i + 8, ")");
            over_keys.then_some(1)
        };
        for (k, m) in names.into_iter().enumerate() {
            let e = seen.entry(m).or_default();
            if key_at == Some(k) {
                e.0 += 1;
            } else {
                e.1 = true;
            }
        }
    }
    // Assignments: the names of the targets before each `=` (the head of `t[k].x` too, and
    // table-constructor keys, which only makes the answer more cautious), unless `local`
    // declares them. The target list is read backwards, one target at a time: a name with
    // its `.field`, `[index]` and `(call)` suffixes, and another target only after a `,`, so
    // the reading never runs into the previous statement.
    for (i, tok) in t.iter().enumerate() {
        if *tok != Tok::Op("=") {
            continue;
        }
        let mut targets = Vec::new();
        let mut end = i;
        let declared = loop {
            let mut k = end;
            // Suffixes, last first.
            loop {
                match k.checked_sub(1).map(|p| &t[p]) {
                    Some(Tok::Op("]" | ")")) => match opening(t, k - 1) {
                        Some(open) => k = open,
                        None => break,
                    },
                    Some(Tok::Name(n)) if !KEYWORDS.contains(n) && k >= 2 && t[k - 2] == Tok::Op(".") => k -= 2,
                    _ => break,
                }
            }
            match k.checked_sub(1).map(|p| &t[p]) {
                Some(Tok::Name(n)) if !KEYWORDS.contains(n) => {
                    targets.push(*n);
                    k -= 1;
                }
                _ => break false,
            }
            match k.checked_sub(1).map(|p| &t[p]) {
                Some(Tok::Op(",")) => end = k - 1,
                Some(Tok::Name(b"local")) => break true,
                _ => break false,
            }
        };
        if !declared {
            for n in targets {
                seen.entry(n).or_default().1 = true;
            }
        }
    }
    let bound = seen.keys().copied().collect();
    (seen.into_iter().filter(|(_, (keys, other))| *keys > 0 && !other).map(|(n, _)| n).collect(), bound)
}

/// Lua 5.1's reserved words.
const KEYWORDS: &[&[u8]] = &[
    b"and",
    b"break",
    b"do",
    b"else",
    b"elseif",
    b"end",
    b"false",
    b"for",
    b"function",
    b"if",
    b"in",
    b"local",
    b"nil",
    b"not",
    b"or",
    b"repeat",
    b"return",
    b"then",
    b"true",
    b"until",
    b"while",
];

/// The index of the bracket that opens the one closing at `close`.
fn opening(t: &[Tok<'_>], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for j in (0..=close).rev() {
        match t[j] {
            Tok::Op(")" | "]" | "}") => depth += 1,
            Tok::Op("(" | "[" | "{") => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// If `KEYS[...]` starts at `i`, the index just past its `]`.
fn index_of_keys(t: &[Tok<'_>], i: usize) -> Option<usize> {
    if t.get(i) != Some(&Tok::Name(b"KEYS")) || t.get(i + 1) != Some(&Tok::Op("[")) {
        return None;
    }
    matching(t, i + 1)
}

/// The index just past the bracket that closes the one at `open`.
fn matching(t: &[Tok<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, tok) in t.iter().enumerate().skip(open) {
        match tok {
            Tok::Op("(" | "[" | "{") => depth += 1,
            Tok::Op(")" | "]" | "}") => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether an expression that ends at `i` really ends there (the statement is over), rather
/// than going on with an operator, an index or a call.
fn ends_expr(t: &[Tok<'_>], i: usize) -> bool {
    match t.get(i) {
        None | Some(Tok::Op(";")) => true,
        Some(Tok::Name(n)) => !matches!(*n, b"or" | b"and"),
        _ => false,
    }
}

struct Check<'t, 'a> {
    t: &'t [Tok<'a>],
    rule: &'t dyn Fn(&[u8]) -> KeyRule,
    key_vars: Vec<&'a [u8]>,
    /// Every name bound or assigned somewhere.
    bound: Vec<&'a [u8]>,
    /// `redis.call`/`pcall`s seen so far, in source order.
    calls: Cell<usize>,
    /// The leading SELECT, once seen.
    select: Cell<Option<Db>>,
}

impl Check<'_, '_> {
    fn run(&self) -> bool {
        let t = self.t;
        for (i, tok) in t.iter().enumerate() {
            match tok {
                // A method call: on a string, the string library.
                Tok::Op(":") => return false,
                // A string value's fields are the string library.
                Tok::Op(".") if matches!(t.get(i + 1), Some(Tok::Name(f)) if STRING_FNS.contains(f)) => return false,
                // Indexing: a string indexed by a computed name is the string library too, so
                // only the arguments may be indexed (and keys given in a table constructor).
                Tok::Op("[") => {
                    let after_args = i > 0 && matches!(t[i - 1], Tok::Name(b"KEYS" | b"ARGV"));
                    let constructor = i > 0 && matches!(t[i - 1], Tok::Op("{" | "," | ";"));
                    if !after_args && !constructor {
                        return false;
                    }
                }
                _ => {}
            }
            let Tok::Name(n) = *tok else { continue };
            // A field of that name (`redis.pcall`) is not the global.
            if DENIED.contains(&n) && !(i > 0 && t[i - 1] == Tok::Op(".")) {
                return false;
            }
            let ok = match n {
                b"for" => self.for_ok(i),
                b"KEYS" | b"ARGV" => self.args_use_ok(i),
                b"redis" => self.redis_use_ok(i),
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Only `for a, b in ipairs(KEYS) do` (or `ARGV`): a loop over arguments that cannot
    /// change. Any other loop could run as long as the data it builds lets it.
    fn for_ok(&self, i: usize) -> bool {
        let t = self.t;
        let name = |j: usize| matches!(t.get(j), Some(Tok::Name(_)));
        name(i + 1)
            && t.get(i + 2) == Some(&Tok::Op(","))
            && name(i + 3)
            && t.get(i + 4) == Some(&Tok::Name(b"in"))
            && t.get(i + 5) == Some(&Tok::Name(b"ipairs"))
            && t.get(i + 6) == Some(&Tok::Op("("))
            && matches!(t.get(i + 7), Some(Tok::Name(b"KEYS" | b"ARGV")))
            && t.get(i + 8) == Some(&Tok::Op(")"))
            && t.get(i + 9) == Some(&Tok::Name(b"do"))
    }

    /// `KEYS` or `ARGV` as `t[...]` read (not assigned), `#t`, `ipairs(t)` (only a loop's,
    /// which [`Check::for_ok`] checks) or `unpack(t)`: never handed on as a table.
    fn args_use_ok(&self, i: usize) -> bool {
        let t = self.t;
        let indexed = if t.get(i + 1) == Some(&Tok::Op("[")) { matching(t, i + 1) } else { None };
        if let Some(end) = indexed {
            // Not the target of an assignment.
            return !(t.get(end) == Some(&Tok::Op("="))
                || t.get(end) == Some(&Tok::Op(",")) && self.assigns_after(end));
        }
        if i > 0 && t[i - 1] == Tok::Op("#") {
            return true;
        }
        let wrapped = |f: &[u8]| {
            i >= 2 && t[i - 2] == Tok::Name(f) && t[i - 1] == Tok::Op("(") && t.get(i + 1) == Some(&Tok::Op(")"))
        };
        // `ipairs(t)` returns `t` too, so only a loop header may call it.
        (wrapped(b"ipairs") && i >= 3 && t[i - 3] == Tok::Name(b"in")) || wrapped(b"unpack")
    }

    /// Whether the comma-separated list starting at `i` (after a `,`) is a list of assignment
    /// targets (it reaches `=` before anything but names, indexes and commas).
    fn assigns_after(&self, mut i: usize) -> bool {
        let t = self.t;
        while i < t.len() {
            match &t[i] {
                Tok::Op("=") => return true,
                Tok::Op("[") => match matching(t, i) {
                    Some(end) => i = end,
                    None => return true,
                },
                Tok::Name(n) if !matches!(*n, b"local" | b"return" | b"if" | b"then" | b"do" | b"end" | b"else") => {
                    i += 1
                }
                Tok::Op("," | ".") => i += 1,
                _ => return false,
            }
        }
        false
    }

    /// `redis.<member>`: harmless members anywhere, `call`/`pcall` only as checked calls.
    fn redis_use_ok(&self, i: usize) -> bool {
        let t = self.t;
        if t.get(i + 1) != Some(&Tok::Op(".")) {
            return false;
        }
        match t.get(i + 2) {
            Some(Tok::Name(b"call" | b"pcall")) => self.call_ok(i + 3),
            Some(Tok::Name(m)) => REDIS_HARMLESS.contains(m) && t.get(i + 3) != Some(&Tok::Op("=")),
            _ => false,
        }
    }

    /// The argument list of a `redis.call` starting at `open` (`(`): a literal command name,
    /// and key expressions wherever the command takes keys.
    fn call_ok(&self, open: usize) -> bool {
        let t = self.t;
        if t.get(open) != Some(&Tok::Op("(")) {
            return false;
        }
        let Some(close) = matching(t, open) else { return false };
        let args = split_args(t, open + 1, close - 1);
        let Some(Tok::Str(name)) = args.first().filter(|a| a.len() == 1).map(|a| &a[0]) else {
            return false;
        };
        let rest = &args[1..];
        let first = self.calls.replace(self.calls.get() + 1) == 0;
        match (self.rule)(name) {
            // `open - 3` is the `redis` of `redis.call(`.
            KeyRule::Select => first && self.leading_select(open - 3, rest),
            KeyRule::NoKeys => true,
            KeyRule::First => rest.first().is_some_and(|a| self.is_key(a)),
            KeyRule::All => {
                let unpacked = rest.len() == 1
                    && rest[0] == [Tok::Name(b"unpack"), Tok::Op("("), Tok::Name(b"KEYS"), Tok::Op(")")].as_slice();
                !rest.is_empty() && (unpacked || rest.iter().all(|a| self.is_key(a)))
            }
            KeyRule::Unknown => false,
        }
    }

    /// A SELECT the caller can follow (`@sesamecare-oss/redlock` begins every script with
    /// one): `redis.call('SELECT', ARGV[n])` or with `tonumber(ARGV[n])`, as the script's first
    /// call, at the top level (in no `if` or `do` block) and not an operand of `and`, `or` or
    /// `not`, so that it runs before every other call and whatever the data; `tonumber` being
    /// Lua's. The caller then knows the database from the arguments before the script runs
    /// ([`Db::Argv`]); a call to `redis` at `at` that is anything else is refused.
    fn leading_select(&self, at: usize, args: &[&[Tok<'_>]]) -> bool {
        let t = self.t;
        let depth = t[..at].iter().fold(0isize, |d, tok| match tok {
            Tok::Name(b"if" | b"do") => d + 1,
            Tok::Name(b"end") => d - 1,
            _ => d,
        });
        // A statement of its own, or the value of `local name =` (an `=` can also be a table
        // field's, in a constructor that may be an operand of `and`).
        let statement = match at.checked_sub(1).map(|p| &t[p]) {
            None | Some(Tok::Op(";" | ")" | "]" | "}") | Tok::Str(_) | Tok::Num(_)) => true,
            Some(Tok::Op("=")) => {
                at >= 3
                    && t[at - 3] == Tok::Name(b"local")
                    && matches!(t[at - 2], Tok::Name(n) if !KEYWORDS.contains(&n))
            }
            Some(Tok::Name(n)) => !matches!(*n, b"and" | b"or" | b"not"),
            Some(Tok::Op(_)) => false,
        };
        let argv = |a: &[Tok<'_>]| match a {
            [Tok::Name(b"ARGV"), Tok::Op("["), Tok::Num(n), Tok::Op("]")] if n.iter().all(u8::is_ascii_digit) => {
                std::str::from_utf8(n).ok()?.parse::<usize>().ok().filter(|&i| i >= 1)
            }
            _ => None,
        };
        let db = match args {
            [a] => match a {
                [Tok::Name(b"tonumber"), Tok::Op("("), inner @ .., Tok::Op(")")]
                    if !self.bound.contains(&&b"tonumber"[..]) =>
                {
                    argv(inner).map(|index| Db::Argv { index, tonumber: true })
                }
                _ => argv(a).map(|index| Db::Argv { index, tonumber: false }),
            },
            _ => None,
        };
        if depth != 0 || !statement || db.is_none() {
            return false;
        }
        self.select.set(db);
        true
    }

    /// `KEYS[...]` (whole) or a key variable.
    fn is_key(&self, arg: &[Tok<'_>]) -> bool {
        match arg {
            [Tok::Name(n)] => self.key_vars.contains(n),
            _ => index_of_keys(arg, 0) == Some(arg.len()),
        }
    }
}

/// The top-level comma-separated pieces of `t[from..to]`.
fn split_args<'t, 'a>(t: &'t [Tok<'a>], from: usize, to: usize) -> Vec<&'t [Tok<'a>]> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    let (mut depth, mut start) = (0usize, from);
    for j in from..to {
        match t[j] {
            Tok::Op("(" | "[" | "{") => depth += 1,
            Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
            Tok::Op(",") if depth == 0 => {
                out.push(&t[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    out.push(&t[start..to]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule like the server's for the commands these tests use.
    fn rule(name: &[u8]) -> KeyRule {
        match name.to_ascii_lowercase().as_slice() {
            b"ping" | b"echo" | b"time" => KeyRule::NoKeys,
            b"get" | b"set" | b"pexpire" | b"pttl" | b"hset" | b"hget" | b"hincrby" | b"hexists" | b"hgetall"
            | b"incr" | b"lpush" => KeyRule::First,
            b"del" | b"exists" | b"mget" | b"unlink" => KeyRule::All,
            b"select" => KeyRule::Select,
            _ => KeyRule::Unknown,
        }
    }

    fn ok(src: &str) -> bool {
        declared_keys_only(src.as_bytes(), &rule).is_some()
    }

    #[test]
    fn lock_scripts_in_the_usual_shapes_qualify() {
        // Compare-and-delete, written three ways.
        assert!(ok(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
        ));
        assert!(ok("local v = redis.call(\"GET\", KEYS[1])\nif v ~= ARGV[1] then return 0 end\nredis.call(\"DEL\", KEYS[1])\nreturn 1"));
        assert!(ok("local key = KEYS[1]\nlocal token = redis.call('get', key)\nif token == ARGV[1] then redis.call('del', key) return 1 end return 0"));
        // Extend, a hash-based reentrant lock, a multi-key acquire over ipairs(KEYS).
        assert!(ok(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
        ));
        assert!(ok("if redis.call('exists', KEYS[1]) == 0 or redis.call('hexists', KEYS[1], ARGV[2]) == 1 then \
                     redis.call('hincrby', KEYS[1], ARGV[2], 1); redis.call('pexpire', KEYS[1], ARGV[1]); return nil; end; \
                     return redis.call('pttl', KEYS[1]);"));
        assert!(ok("for i, key in ipairs(KEYS) do if redis.call('exists', key) == 1 then return 0 end end\n\
                    for i, key in ipairs(KEYS) do redis.call('set', key, ARGV[1], 'PX', ARGV[2]) end return #KEYS"));
        assert!(ok("return redis.call('del', unpack(KEYS))"));
        assert!(ok("local n = 0 for i, key in ipairs(KEYS) do if redis.call('get', key) == ARGV[1] then \
                    redis.pcall('del', key) n = n + 1 end end return n"));
        assert!(ok("return redis.call('mget', KEYS[1], KEYS[2])"));
        assert!(ok("local i = tonumber(ARGV[1]) return redis.call('get', KEYS[i])"));
        // Harmless members, comments, long strings, keyless commands.
        assert!(ok("-- release\n--[[ a [[long]] comment ]] redis.log(redis.LOG_NOTICE, [[x]]) redis.call('ping') \
                    return redis.sha1hex(ARGV[1])"));
        assert!(ok("for i, a in ipairs(ARGV) do redis.call('hset', KEYS[1], a, i) end return #ARGV"));
        assert!(ok("return {[1] = redis.call('get', KEYS[1]), 1.5e+3, 0x1F, .5, ARGV[#ARGV]}"));
    }

    #[test]
    fn undeclared_keys_and_dynamic_calls_do_not() {
        assert!(!ok("return redis.call('get', 'lock:other')"));
        assert!(!ok("return redis.call('get', ARGV[1])"));
        assert!(!ok("return redis.call('get', KEYS[1] .. ':suffix')"));
        assert!(!ok("return redis.call(ARGV[1], KEYS[1])"));
        assert!(!ok("local c = 'get' return redis.call(c, KEYS[1])"));
        assert!(!ok("return redis.call('mget', KEYS[1], 'other')"));
        assert!(!ok("return redis.call('select', 1)"));
        assert!(!ok("return redis.call('flushall')"));
        assert!(!ok("return redis.call('rename', KEYS[1], KEYS[2])"));
        assert!(!ok("return redis.call('get')"));
        assert!(!ok("return redis.call('g\\101t', 'other')"));
        assert!(!ok("return redis.call([[get]], 'other')"));
        // Aliases of redis.call, KEYS or redis itself.
        assert!(!ok("local c = redis.call return c('get', 'x')"));
        assert!(!ok("local r = redis return r.call('get', 'x')"));
        assert!(!ok("return redis['call']('get', 'x')"));
        assert!(!ok("return redis:call('get', 'x')"));
        assert!(!ok("local k = KEYS k[1] = 'x' return redis.call('get', KEYS[1])"));
        assert!(!ok("KEYS[1] = 'other' return redis.call('get', KEYS[1])"));
        assert!(!ok("KEYS[2], KEYS[1] = 'a', 'other' return redis.call('get', KEYS[1])"));
        assert!(!ok("table.insert(KEYS, 'other') return redis.call('get', KEYS[2])"));
        assert!(!ok("redis.call = nil return 1"));
        // A key variable that is bound twice, or rebound, is not a key.
        assert!(!ok("local k = KEYS[1] k = 'other' return redis.call('get', k)"));
        assert!(!ok("local k = KEYS[1] local k = 'other' return redis.call('get', k)"));
        assert!(!ok("local k = KEYS[1] .. 'x' return redis.call('get', k)"));
        assert!(!ok("local k = KEYS[1] or 'x' return redis.call('get', k)"));
        assert!(!ok("for i, k in ipairs(ARGV) do redis.call('get', k) end"));
        assert!(!ok("local a, k = 1, KEYS[1] return redis.call('get', k)"));
        assert!(!ok("local k = KEYS[1] for _, k in ipairs(ARGV) do redis.call('del', k) end"));
        // Reassigned in the middle of a multiple assignment, after a call.
        assert!(!ok("local key = KEYS[1] local a tostring(1) a, key, a = 1, ARGV[1], 2 return redis.call('get', key)"));
        assert!(!ok("local key = KEYS[1] local t = {} t[1], key = 1, ARGV[1] return redis.call('get', key)"));
    }

    fn db(src: &str) -> Option<Db> {
        declared_keys_only(src.as_bytes(), &rule)
    }

    #[test]
    fn a_leading_select_from_the_arguments_is_followed() {
        let tonumber = Some(Db::Argv { index: 1, tonumber: true });
        assert_eq!(db("redis.pcall('SELECT', tonumber(ARGV[1])) return redis.call('get', KEYS[1])"), tonumber);
        assert_eq!(db("\n  -- pick the database\n  redis.pcall(\"SELECT\", tonumber(ARGV[1]))\n  return 1"), tonumber);
        assert_eq!(
            db("local ok = redis.call('select', ARGV[3]); return redis.call('del', KEYS[1])"),
            Some(Db::Argv { index: 3, tonumber: false })
        );
        assert_eq!(
            db("if ARGV[2] then return 0 end redis.pcall('select', ARGV[1]) return 1"),
            Some(Db::Argv { index: 1, tonumber: false })
        );
        assert_eq!(db("return redis.call('get', KEYS[1])"), Some(Db::Caller));
        // Not first, not on its own, not at the top level, not once, not from ARGV as it is.
        assert_eq!(db("redis.call('get', KEYS[1]) redis.pcall('select', ARGV[1]) return 1"), None);
        assert_eq!(db("return redis.call('get', KEYS[1], redis.pcall('select', ARGV[1]))"), None);
        assert_eq!(
            db("if ARGV[2] == 'x' then redis.pcall('select', ARGV[1]) end return redis.call('get', KEYS[1])"),
            None
        );
        assert_eq!(db("for _, k in ipairs(KEYS) do redis.pcall('select', ARGV[1]) end"), None);
        assert_eq!(db("do redis.pcall('select', ARGV[1]) end return 1"), None);
        assert_eq!(
            db("local x = ARGV[2] == 'y' and redis.pcall('select', ARGV[1]) return redis.call('get', KEYS[1])"),
            None
        );
        assert_eq!(db("local x = not redis.pcall('select', ARGV[1])"), None);
        assert_eq!(db("local a, b = 1, redis.pcall('select', ARGV[1])"), None);
        assert_eq!(db("local t = ARGV[2] == 'y' and {x = redis.pcall('select', ARGV[1])} return 1"), None);
        assert_eq!(db("local t = ARGV[2] == 'y' and {[1] = redis.pcall('select', ARGV[1])} return 1"), None);
        assert_eq!(db("x = redis.pcall('select', ARGV[1]) return 1"), None);
        assert_eq!(db("redis.pcall('select', ARGV[1]) redis.pcall('select', ARGV[2]) return 1"), None);
        assert_eq!(db("redis.pcall('select', 1) return redis.call('get', KEYS[1])"), None);
        assert_eq!(db("redis.pcall('select', '1') return 1"), None);
        assert_eq!(db("redis.pcall('select', KEYS[1]) return 1"), None);
        assert_eq!(db("redis.pcall('select', ARGV[1] + 1) return 1"), None);
        assert_eq!(db("redis.pcall('select', tonumber(ARGV[1]) + 1) return 1"), None);
        assert_eq!(db("redis.pcall('select', tonumber(ARGV[1], 16)) return 1"), None);
        assert_eq!(db("redis.pcall('select', ARGV[0]) return 1"), None);
        assert_eq!(db("redis.pcall('select', ARGV[1.0]) return 1"), None);
        assert_eq!(db("redis.pcall('select', ARGV[1], ARGV[2]) return 1"), None);
        assert_eq!(db("redis.pcall('select') return 1"), None);
        assert_eq!(db("tonumber = tostring redis.pcall('select', tonumber(ARGV[1])) return 1"), None);
        assert_eq!(db("local tonumber = tostring redis.pcall('select', tonumber(ARGV[1])) return 1"), None);
    }

    #[test]
    fn unbounded_or_unseen_code_does_not() {
        // Loops only over the arguments, which stay as they are.
        assert!(!ok("for k, v in pairs(redis.call('hgetall', KEYS[1])) do end return 1"));
        assert!(!ok("local t = {1} for i, v in ipairs(t) do t[i + 1] = v end"));
        assert!(!ok("for i, v in ipairs(ARGV) do ARGV[i + 1] = v end"));
        assert!(!ok("for i in ipairs(KEYS) do end"));
        assert!(!ok("table.insert(ARGV, 'x') return 1"));
        assert!(!ok("local a = ARGV a[#a + 1] = 1 return 1"));
        assert!(!ok("local f, a = ipairs(ARGV) for i, v in ipairs(ARGV) do a[#a + 1] = v end"));
        assert!(!ok("while true do end"));
        assert!(!ok("repeat until false"));
        assert!(!ok("for i = 1, tonumber(ARGV[1]) do redis.call('incr', KEYS[1]) end"));
        assert!(!ok("local function f() return f() end return f()"));
        assert!(!ok("local f = function() end return 1"));
        assert!(!ok("return loadstring(\"return redis.call('get', 'x')\")()"));
        assert!(!ok("return getfenv(1).redis.call('get', 'x')"));
        assert!(!ok("return _G.redis.call('get', 'x')"));
        assert!(!ok("return rawget(redis, 'call')('get', 'x')"));
        assert!(!ok("return pcall(redis.call, 'get', 'x')"));
        assert!(!ok("setmetatable(KEYS, {})"));
        // The string library: patterns can backtrack for minutes, rep builds memory bombs.
        assert!(!ok("return string.find(ARGV[1], '.-.-.-b')"));
        assert!(!ok("return (ARGV[1]):rep(1e9)"));
        assert!(!ok("local s = ARGV[1] return s:gsub('a', 'b')"));
        assert!(!ok("return ARGV[1].rep(ARGV[1], 1e9)"));
        assert!(!ok("local s = redis.call('get', KEYS[1]) return s[ARGV[2]](s, 1e9)"));
        assert!(!ok("return redis.call('time')[1]"));
        // A number token as Lua reads it: `0x1e` ends before `+`, so the call is seen.
        assert!(!ok("return 0x1e+redis.call('get', 'other')"));
        assert!(!ok("return 1+redis.call('get', 'other')"));
        // Malformed source is left to the compiler.
        assert!(!ok("return 'unterminated"));
        assert!(!ok("return [[unterminated"));
        assert!(!ok("return @"));
    }
}
