//! A selector: one set of command permissions with the keys and channels it may touch. Every
//! user has a root selector (the rules written outside parentheses) and may have more (`(…)`);
//! a command is allowed when any one selector allows all of it.

use crate::catalog::{Catalog, CmdId};
use crate::check::{Denial, Request};
use crate::error::{has_spaces, RuleError};
use crate::Cat;
use std::collections::BTreeMap;

/// Key pattern permission: the pattern allows reads (`%R~`).
pub(crate) const KEY_READ: u8 = 1;
/// Key pattern permission: the pattern allows writes (`%W~`).
pub(crate) const KEY_WRITE: u8 = 2;
/// Both (`~` or `%RW~`).
pub(crate) const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

/// A command bitmap over catalog ids, plus Redis' reserved "future commands" bit that only
/// `+@all` sets: ids the catalog does not have (commands added later) read as that bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: usize,
    future: bool,
}

impl Bits {
    pub(crate) fn new(len: usize) -> Bits {
        Bits { words: vec![0; len.div_ceil(64)], len, future: false }
    }

    #[inline]
    pub(crate) fn get(&self, id: CmdId) -> bool {
        let i = usize::from(id);
        if i >= self.len {
            return self.future;
        }
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    #[inline]
    fn set(&mut self, id: CmdId, value: bool) {
        let i = usize::from(id);
        if i >= self.len {
            return;
        }
        if value {
            self.words[i / 64] |= 1 << (i % 64);
        } else {
            self.words[i / 64] &= !(1 << (i % 64));
        }
    }

    fn fill(&mut self, value: bool) {
        self.words.fill(if value { u64::MAX } else { 0 });
        self.future = value;
    }

    /// Sets `id` and, for a container, all its subcommands (Redis' `ACLChangeSelectorPerm`).
    fn change(&mut self, cat: &Catalog, id: CmdId, value: bool) {
        self.set(id, value);
        for &sub in cat.children(id) {
            self.set(sub, value);
        }
    }

    /// Applies `change` to every command and subcommand in category `bit`.
    fn change_category(&mut self, cat: &Catalog, bit: u64, value: bool) {
        for (id, e) in cat.iter() {
            if e.categories & bit != 0 {
                self.change(cat, id, value);
            }
        }
    }

    /// (allowed, denied) counts over the commands and subcommands in category `bit`.
    fn count_category(&self, cat: &Catalog, bit: u64) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (id, e) in cat.iter() {
            if e.categories & bit != 0 {
                if self.get(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }
}

/// A key pattern with its permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyPattern {
    pub(crate) pattern: Vec<u8>,
    pub(crate) flags: u8,
}

impl KeyPattern {
    /// `~p`, `%R~p` or `%W~p`, as Redis prints it.
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.flags {
            KEY_READ => b"%R~".as_slice(),
            KEY_WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// One selector. Fresh selectors allow nothing, except all channels when `acl-pubsub-default`
/// is `allchannels` (Redis 7.0's default is `resetchannels`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) allkeys: bool,
    pub(crate) allchannels: bool,
    /// Set by `+@all`, cleared as soon as any command is denied: skips the bitmap test.
    pub(crate) allcommands: bool,
    pub(crate) bits: Bits,
    /// `+cmd|arg` rules: the command is allowed (while its bit is clear) when argv[1] equals
    /// one of these, case-insensitively. Kept in insertion order per command.
    pub(crate) firstargs: BTreeMap<CmdId, Vec<Vec<u8>>>,
    pub(crate) keys: Vec<KeyPattern>,
    pub(crate) channels: Vec<Vec<u8>>,
}

impl Selector {
    pub(crate) fn new(cat: &Catalog, allchannels: bool) -> Selector {
        Selector {
            allkeys: false,
            allchannels,
            allcommands: false,
            bits: Bits::new(cat.len()),
            firstargs: BTreeMap::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn change(&mut self, cat: &Catalog, id: CmdId, allow: bool) {
        self.bits.change(cat, id, allow);
        self.firstargs.remove(&id);
        if !allow {
            self.allcommands = false;
        }
    }

    /// Applies one selector rule (Redis' `ACLSetSelector`).
    pub(crate) fn apply(&mut self, op: &[u8], cat: &Catalog) -> Result<(), RuleError> {
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if is("allkeys") || is("~*") {
            self.allkeys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.bits.fill(true);
            self.allcommands = true;
            self.firstargs.clear();
        } else if is("nocommands") || is("-@all") {
            self.bits.fill(false);
            self.allcommands = false;
            self.firstargs.clear();
        } else {
            match op {
                [b'~' | b'%', ..] => self.add_key_pattern(op)?,
                [b'&', pat @ ..] => {
                    if self.allchannels {
                        return Err(RuleError::ChannelPatternAfterAll);
                    }
                    if has_spaces(pat) {
                        return Err(RuleError::Syntax);
                    }
                    if !self.channels.iter().any(|c| c == pat) {
                        self.channels.push(pat.to_vec());
                    }
                }
                [b'+', b'@', name @ ..] | [b'-', b'@', name @ ..] => {
                    let bit = Cat::by_name(name).ok_or(RuleError::UnknownCommand)?;
                    let allow = op[0] == b'+';
                    for (id, e) in cat.iter() {
                        if e.categories & bit != 0 {
                            self.change(cat, id, allow);
                        }
                    }
                }
                [b'+', name @ ..] => self.allow_command(name, cat)?,
                [b'-', name @ ..] => {
                    let id = cat.lookup(name).ok_or(RuleError::UnknownCommand)?;
                    self.change(cat, id, false);
                }
                _ => return Err(RuleError::Syntax),
            }
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        // Redis refuses any key pattern after allkeys before even parsing it.
        if self.allkeys {
            return Err(RuleError::KeyPatternAfterAll);
        }
        let (flags, pattern) = if op[0] == b'~' {
            (KEY_ALL, &op[1..])
        } else {
            let mut flags = 0;
            let mut i = 1;
            while i < op.len() {
                match op[i] {
                    b'R' | b'r' if flags & KEY_READ == 0 => flags |= KEY_READ,
                    b'W' | b'w' if flags & KEY_WRITE == 0 => flags |= KEY_WRITE,
                    b'~' => {
                        i += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                i += 1;
            }
            // `%~x` and a bare `%` grant nothing: refused. `%R` (no `~`) is the empty pattern.
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
            (flags, &op[i.min(op.len())..])
        };
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => k.flags |= flags,
            None => self.keys.push(KeyPattern { pattern: pattern.to_vec(), flags }),
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, `+cmd|firstarg`.
    fn allow_command(&mut self, name: &[u8], cat: &Catalog) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let id = cat.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change(cat, id, true);
            return Ok(());
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let id = cat.lookup(base).ok_or(RuleError::UnknownCommand)?;
        if cat.get(id).parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if cat.has_subcommands(id) {
            let sub = cat.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change(cat, sub, true);
        } else {
            // Deprecated in Redis 7.0 (it logs a warning) but still honoured.
            let list = self.firstargs.entry(id).or_default();
            if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                list.push(arg.to_vec());
            }
        }
        Ok(())
    }

    /// The command part of the description (`+@all -flushdb`, `-@all +@read +config|get`),
    /// built like Redis' `ACLDescribeSelectorCommandRules`: start from `+@all` or `-@all`
    /// (by the future-commands bit), greedily add the categories that fit best, then fix the
    /// remaining differences command by command, in catalog order.
    pub(crate) fn describe_commands(&self, cat: &Catalog) -> Vec<u8> {
        let additive = !self.bits.future;
        let mut out = Vec::new();
        let mut fake = Bits::new(cat.len());
        if additive {
            out.extend_from_slice(b"-@all ");
        } else {
            out.extend_from_slice(b"+@all ");
            fake.fill(true);
        }
        // `temp` starts as the user's bitmap; each chosen category is taken out of it (in the
        // opposite direction), so overlapping categories stop looking attractive.
        let mut temp = self.bits.clone();
        let mut applied = [false; Cat::ORDER.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, &(bit, _)) in Cat::ORDER.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(cat, bit);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let (bit, name) = Cat::ORDER[j];
            fake.change_category(cat, bit, additive);
            temp.change_category(cat, bit, !additive);
            out.extend_from_slice(if additive { b"+@" } else { b"-@" });
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            applied[j] = true;
        }
        for (id, e) in cat.iter() {
            let user = self.bits.get(id);
            if user != fake.get(id) {
                out.push(if user { b'+' } else { b'-' });
                out.extend_from_slice(e.name.as_bytes());
                out.push(b' ');
                fake.change(cat, id, user);
            }
            if !user {
                for arg in self.firstargs.get(&id).into_iter().flatten() {
                    out.push(b'+');
                    out.extend_from_slice(e.name.as_bytes());
                    out.push(b'|');
                    out.extend_from_slice(arg);
                    out.push(b' ');
                }
            }
        }
        out.pop();
        debug_assert_eq!(fake.words, self.bits.words, "described rules must rebuild the bitmap");
        out
    }

    /// The `keys` field of ACL GETUSER: `~*`, or the patterns separated by spaces.
    pub(crate) fn keys_field(&self) -> Vec<u8> {
        if self.allkeys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            k.render(&mut out);
        }
        out
    }

    /// The `channels` field of ACL GETUSER: `&*`, or `&`-prefixed patterns separated by spaces.
    pub(crate) fn channels_field(&self) -> Vec<u8> {
        if self.allchannels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    /// The rule form used by ACL LIST and the ACL file: keys, channels (`resetchannels` first
    /// unless all are allowed), then commands.
    pub(crate) fn describe(&self, cat: &Catalog, out: &mut Vec<u8>) {
        if self.allkeys {
            out.extend_from_slice(b"~* ");
        } else {
            for k in &self.keys {
                k.render(out);
                out.push(b' ');
            }
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands(cat));
    }

    /// True when this selector allows every command on every key and channel: the server may
    /// then skip extracting keys altogether.
    #[inline]
    pub(crate) fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    /// Redis' `ACLSelectorCheckCmd`.
    pub(crate) fn check(&self, cat: &Catalog, req: &Request<'_>) -> Result<(), Denial> {
        if !self.allcommands && !self.bits.get(req.cmd) && !cat.is_no_auth(req.cmd) {
            let by_firstarg = match (req.first_arg, self.firstargs.get(&req.cmd)) {
                (Some(arg), Some(list)) => list.iter().any(|a| a.eq_ignore_ascii_case(arg)),
                _ => false,
            };
            if !by_firstarg {
                return Err(Denial::Command);
            }
        }
        if !self.allkeys {
            for k in req.keys {
                if !self.key_allowed(k.name, k.read, k.write) {
                    return Err(Denial::Key { pos: k.pos });
                }
            }
        }
        if !self.allchannels {
            for c in req.channels {
                if !self.channel_allowed(c.name, c.pattern) {
                    return Err(Denial::Channel { pos: c.pos });
                }
            }
        }
        Ok(())
    }

    /// Redis' `ACLSelectorCheckKey`.
    pub(crate) fn key_allowed(&self, key: &[u8], read: bool, write: bool) -> bool {
        if self.allkeys {
            return true;
        }
        let need = if read { KEY_READ } else { 0 } | if write { KEY_WRITE } else { 0 };
        self.keys.iter().any(|p| p.flags & need == need && tumbler_glob::matches(&p.pattern, key))
    }

    /// Redis' `ACLCheckChannelAgainstList`: a pattern (PSUBSCRIBE) must equal an allowed
    /// pattern; a channel must match one.
    pub(crate) fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| if literal { p == channel } else { tumbler_glob::matches(p, channel) })
    }
}
