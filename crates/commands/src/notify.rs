//! Keyspace notifications (`notify-keyspace-events`): a command that changes a key publishes
//! the event on `__keyspace@<db>__:<key>` and/or the key on `__keyevent@<db>__:<event>`, as
//! Redis 7.0 does. Expirations come from the keyspace itself (the timing wheel, or an access
//! that finds the key expired), so `expired` events arrive within milliseconds of the deadline.

use crate::pubsub::{Kind, PubSub};
use crate::Server;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use tumbler_keyspace::KeyEvents;

/// Event classes and delivery flags (Redis' NOTIFY_*).
pub struct N;

#[allow(missing_docs)]
impl N {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// What `A` stands for.
    pub const ALL: u32 =
        N::GENERIC | N::STRING | N::LIST | N::SET | N::HASH | N::ZSET | N::EXPIRED | N::EVICTED | N::STREAM | N::MODULE;
}

/// The classes in the order Redis prints them (inside the non-`A` branch).
const CLASSES: &[(u32, char)] = &[
    (N::GENERIC, 'g'),
    (N::STRING, '$'),
    (N::LIST, 'l'),
    (N::SET, 's'),
    (N::HASH, 'h'),
    (N::ZSET, 'z'),
    (N::EXPIRED, 'x'),
    (N::EVICTED, 'e'),
    (N::STREAM, 't'),
    (N::MODULE, 'd'),
    (N::NEW, 'n'),
];

/// Parses a `notify-keyspace-events` value; `None` for an unknown character.
pub fn parse(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => N::ALL,
            'K' => N::KEYSPACE,
            'E' => N::KEYEVENT,
            'm' => N::KEY_MISS,
            c => CLASSES.iter().find(|(_, ch)| *ch == c)?.0,
        };
    }
    Some(flags)
}

/// Renders flags as CONFIG GET shows them.
pub fn render(flags: u32) -> String {
    let mut s = String::new();
    if flags & N::ALL == N::ALL {
        s.push('A');
    } else {
        s.extend(CLASSES.iter().filter(|(f, _)| flags & f != 0).map(|(_, c)| c));
    }
    for (f, c) in [(N::KEYSPACE, 'K'), (N::KEYEVENT, 'E'), (N::KEY_MISS, 'm')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

/// The current flags, shared by the configuration and the expiry listener.
#[derive(Default)]
pub struct Flags(AtomicU32);

impl Flags {
    /// The flags.
    #[inline]
    pub fn get(&self) -> u32 {
        self.0.load(Relaxed)
    }

    /// Replaces the flags.
    pub fn set(&self, f: u32) {
        self.0.store(f, Relaxed);
    }
}

/// Publishes `event` for `key` of database `db` when `class` is enabled.
pub fn publish(pubsub: &PubSub, flags: u32, class: u32, event: &str, db: usize, key: &[u8]) {
    if flags & class == 0 || flags & (N::KEYSPACE | N::KEYEVENT) == 0 {
        return;
    }
    if flags & N::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        pubsub.publish(Kind::Channel, &ch, event.as_bytes(), None);
    }
    if flags & N::KEYEVENT != 0 {
        let ch = format!("__keyevent@{db}__:{event}");
        pubsub.publish(Kind::Channel, ch.as_bytes(), key, None);
    }
}

impl Server {
    /// Publishes a keyspace notification for a change a command made (Redis'
    /// notifyKeyspaceEvent). One relaxed load when notifications are off.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.config.notify.get();
        if flags != 0 {
            publish(&self.pubsub, flags, class, event, db, key);
        }
    }
}

impl Server {
    /// Publishes `event` of `class` for each of `keys` (the timing wheel's expirations), with
    /// the key-event channel's subscribers looked up once for all of them.
    pub fn notify_many(&self, class: u32, event: &str, db: usize, keys: &mut dyn Iterator<Item = &[u8]>) {
        let flags = self.config.notify.get();
        if flags & class == 0 || flags & (N::KEYSPACE | N::KEYEVENT) == 0 {
            return;
        }
        if flags & N::KEYSPACE != 0 {
            // Every key has its own keyspace channel, and Redis interleaves the two kinds of
            // message key by key.
            keys.for_each(|k| publish(&self.pubsub, flags, class, event, db, k));
            return;
        }
        let keys: Vec<&[u8]> = keys.collect();
        let channel = format!("__keyevent@{db}__:{event}");
        self.pubsub.publish_many(channel.as_bytes(), &keys);
    }
}

/// Runs `f` on `key`'s entry (in the connection's database); when it succeeds and changed the
/// key, publishes `event` of `class`, then `del` if the change left the key deleted (an
/// aggregate emptied by a pop or a removal), as Redis does.
pub fn write<T>(
    ctx: &crate::Ctx<'_>,
    key: &[u8],
    class: u32,
    event: &str,
    f: impl FnOnce(&mut tumbler_keyspace::KeyEntry<'_>) -> Result<T, crate::CmdError>,
) -> Result<T, crate::CmdError> {
    write_in(ctx, ctx.conn.db, key, class, event, f)
}

/// [`write`] in database `db` (a blocked client served from another connection's command).
pub fn write_in<T>(
    ctx: &crate::Ctx<'_>,
    db: usize,
    key: &[u8],
    class: u32,
    event: &str,
    f: impl FnOnce(&mut tumbler_keyspace::KeyEntry<'_>) -> Result<T, crate::CmdError>,
) -> Result<T, crate::CmdError> {
    let (mut changed, mut deleted) = (false, false);
    let out = ctx.srv.keyspace.write(ctx.srv.keyspace.key(db, key), ctx.now, |e| {
        let out = f(e);
        changed = out.is_ok() && e.is_changed();
        deleted = changed && !e.exists();
        out
    })?;
    if changed {
        ctx.srv.notify(class, event, db, key);
        if deleted {
            ctx.srv.notify(N::GENERIC, "del", db, key);
        }
    }
    Ok(out)
}

/// The keyspace's listener: expirations and new keys, published as notifications. Holds the
/// server weakly (the server owns the keyspace, which owns the listener).
struct Listener(Weak<Server>);

impl KeyEvents for Listener {
    fn expired(&self, db: usize, key: &[u8]) {
        if let Some(srv) = self.0.upgrade() {
            srv.notify(N::EXPIRED, "expired", db, key);
        }
    }

    fn expired_many(&self, db: usize, keys: &mut dyn Iterator<Item = &[u8]>) {
        if let Some(srv) = self.0.upgrade() {
            srv.notify_many(N::EXPIRED, "expired", db, keys);
        }
    }

    fn created(&self, db: usize, key: &[u8]) {
        if let Some(srv) = self.0.upgrade() {
            srv.notify(N::NEW, "new", db, key);
        }
    }

    fn missed(&self, db: usize, key: &[u8]) {
        if let Some(srv) = self.0.upgrade() {
            srv.notify(N::KEY_MISS, "keymiss", db, key);
        }
    }
}

/// Connects the keyspace's expirations and new keys to `srv`'s notifications.
pub fn install(srv: &Arc<Server>) {
    srv.keyspace.events.install(Box::new(Listener(Arc::downgrade(srv))));
}

/// Tells the keyspace which of its own events notifications need now.
pub fn apply(srv: &Server) {
    let f = srv.config.notify.get();
    let delivered = f & (N::KEYSPACE | N::KEYEVENT) != 0;
    srv.keyspace.events.want(
        delivered && f & N::EXPIRED != 0,
        delivered && f & N::NEW != 0,
        delivered && f & N::KEY_MISS != 0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        for (set, get) in [("KEA", "AKE"), ("Kg$", "g$K"), ("Elx", "lxE"), ("KEAmn", "AKEm"), ("", "")] {
            assert_eq!(render(parse(set).expect("valid")), get, "{set}");
        }
        assert_eq!(parse("Kq"), None);
    }
}
