//! Publish/subscribe: who listens to which channel or pattern, and delivery.
//!
//! Subscribers are connections, possibly on other worker threads. A message is encoded once
//! per protocol, appended to each subscriber's outbox ([`ClientInfo::deliver`]) and the
//! subscriber's task is woken to write it. A connection that publishes to a channel it is
//! subscribed to itself gets the message in its own reply stream, before the PUBLISH reply,
//! as with Redis.
//!
//! Three namespaces, as in Redis 7.0: channels (SUBSCRIBE), patterns (PSUBSCRIBE) and shard
//! channels (SSUBSCRIBE; in a server without cluster they work like channels, apart).

use crate::client::ClientInfo;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tumbler_proto::{Protocol, Reply};

/// Which subscription namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE (glob patterns over channel names).
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl Kind {
    /// The word of subscribe confirmations.
    pub fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    /// The word of unsubscribe confirmations.
    pub fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

type Subscribers = Vec<Arc<ClientInfo>>;

/// The registry.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Vec<u8>, Subscribers>>,
    shard_channels: RwLock<HashMap<Vec<u8>, Subscribers>>,
    /// Patterns with their subscribers, in the order the patterns were first subscribed.
    patterns: RwLock<Vec<(Vec<u8>, Subscribers)>>,
    /// Subscriptions to patterns, over all clients (a fast "nobody uses patterns" check).
    pattern_subscriptions: AtomicUsize,
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Vec<u8>, Subscribers>> {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    /// Adds `client` to `name`'s subscribers. The caller knows it was not there yet.
    pub fn subscribe(&self, kind: Kind, name: &[u8], client: &Arc<ClientInfo>) {
        if kind == Kind::Pattern {
            let mut pats = self.patterns.write();
            match pats.iter_mut().find(|(p, _)| p == name) {
                Some((_, subs)) => subs.push(client.clone()),
                None => pats.push((name.to_vec(), vec![client.clone()])),
            }
            self.pattern_subscriptions.fetch_add(1, Relaxed);
        } else {
            self.map(kind).write().entry(name.to_vec()).or_default().push(client.clone());
        }
    }

    /// Calls `f` for every subscription (kind, channel or pattern, subscriber), under the
    /// registry's read locks: `f` must not subscribe or unsubscribe. Used when ACL SETUSER
    /// takes channels away from a user.
    pub fn for_each_subscription(&self, mut f: impl FnMut(Kind, &[u8], &Arc<ClientInfo>)) {
        for (kind, map) in [(Kind::Channel, &self.channels), (Kind::Shard, &self.shard_channels)] {
            for (name, subs) in map.read().iter() {
                subs.iter().for_each(|c| f(kind, name, c));
            }
        }
        for (name, subs) in self.patterns.read().iter() {
            subs.iter().for_each(|c| f(Kind::Pattern, name, c));
        }
    }

    /// Removes client `id` from `name`'s subscribers.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        if kind == Kind::Pattern {
            let mut pats = self.patterns.write();
            if let Some(i) = pats.iter().position(|(p, _)| p == name) {
                let subs = &mut pats[i].1;
                if let Some(j) = subs.iter().position(|c| c.id == id) {
                    subs.remove(j);
                    self.pattern_subscriptions.fetch_sub(1, Relaxed);
                }
                if subs.is_empty() {
                    pats.remove(i);
                }
            }
        } else {
            let mut map = self.map(kind).write();
            if let Some(subs) = map.get_mut(name) {
                subs.retain(|c| c.id != id);
                if subs.is_empty() {
                    map.remove(name);
                }
            }
        }
    }

    /// Publishes `msg` on `channel` (a shard channel for [`Kind::Shard`]) and returns the number
    /// of receivers. `own` is the publishing connection's id and reply buffer: a message for
    /// itself goes there, in order with its replies.
    pub fn publish(&self, kind: Kind, channel: &[u8], msg: &[u8], own: Option<(u64, &mut Vec<u8>)>) -> usize {
        let (mut own_id, mut own_reply) = match own {
            Some((id, r)) => (Some(id), Some(r)),
            None => (None, None),
        };
        let mut receivers = 0;
        let word: &[u8] = if kind == Kind::Shard { b"smessage" } else { b"message" };
        let mut enc = Encodings::default();
        if let Some(subs) = self.map(kind).read().get(channel) {
            for c in subs {
                let bytes = enc.get(c, |r| {
                    r.push(3);
                    r.bulk(word);
                    r.bulk(channel);
                    r.bulk(msg);
                });
                deliver(c, bytes, &mut own_id, &mut own_reply);
                receivers += 1;
            }
        }
        if kind == Kind::Channel && self.pattern_subscriptions.load(Relaxed) > 0 {
            for (pattern, subs) in self.patterns.read().iter() {
                if !tumbler_glob::matches(pattern, channel) {
                    continue;
                }
                let mut enc = Encodings::default();
                for c in subs {
                    let bytes = enc.get(c, |r| {
                        r.push(4);
                        r.bulk(b"pmessage");
                        r.bulk(pattern);
                        r.bulk(channel);
                        r.bulk(msg);
                    });
                    deliver(c, bytes, &mut own_id, &mut own_reply);
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// Publishes each of `msgs` on `channel`, in order, as that many PUBLISHes would, but looks
    /// the subscribers up once and hands each one all of its messages at once (the timing
    /// wheel's `expired` events: thousands a millisecond under a mass expiry). Returns the
    /// number of deliveries.
    pub fn publish_many(&self, channel: &[u8], msgs: &[&[u8]]) -> usize {
        if self.pattern_subscriptions.load(Relaxed) > 0 {
            // A client on the channel and on a matching pattern gets `message` then `pmessage`
            // for each message: keep that order by publishing one by one.
            return msgs.iter().map(|m| self.publish(Kind::Channel, channel, m, None)).sum();
        }
        let map = self.channels.read();
        let Some(subs) = map.get(channel) else { return 0 };
        let mut enc = Encodings::default();
        for c in subs {
            c.deliver(enc.get(c, |r| {
                for m in msgs {
                    r.push(3);
                    r.bulk(b"message");
                    r.bulk(channel);
                    r.bulk(m);
                }
            }));
        }
        subs.len() * msgs.len()
    }

    /// Channels (or shard channels) with at least one subscriber, matching `pattern` if given.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map(kind).read().keys().filter(|c| pattern.is_none_or(|p| tumbler_glob::matches(p, c))).cloned().collect()
    }

    /// Subscribers of `channel`.
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind).read().get(channel).map_or(0, Vec::len)
    }

    /// Patterns with at least one subscriber (PUBSUB NUMPAT, INFO pubsub_patterns).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Channels (or shard channels) with at least one subscriber.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Pattern => self.numpat(),
            _ => self.map(kind).read().len(),
        }
    }
}

/// A message encoded at most once per protocol.
#[derive(Default)]
struct Encodings {
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Encodings {
    fn get(&mut self, c: &ClientInfo, write: impl FnOnce(&mut Reply)) -> &[u8] {
        let resp3 = c.resp.load(Relaxed) == 3;
        let slot = if resp3 { &mut self.resp3 } else { &mut self.resp2 };
        slot.get_or_insert_with(|| {
            let mut r = Reply::new();
            r.set_protocol(if resp3 { Protocol::Resp3 } else { Protocol::Resp2 });
            write(&mut r);
            r.as_bytes().to_vec()
        })
    }
}

fn deliver(c: &ClientInfo, bytes: &[u8], own_id: &mut Option<u64>, own_reply: &mut Option<&mut Vec<u8>>) {
    if *own_id == Some(c.id) {
        if let Some(r) = own_reply.as_deref_mut() {
            r.extend_from_slice(bytes);
            return;
        }
    }
    c.deliver(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(id, format!("127.0.0.1:{id}"), "127.0.0.1:6379".into(), -1, 0))
    }

    fn take(c: &ClientInfo) -> Vec<u8> {
        let mut v = Vec::new();
        c.take_messages(|m| v.extend_from_slice(m));
        v
    }

    #[test]
    fn publish_many_delivers_what_publishing_one_by_one_would() {
        let ps = PubSub::default();
        let (a, b, other) = (client(1), client(2), client(3));
        ps.subscribe(Kind::Channel, b"ev", &a);
        ps.subscribe(Kind::Channel, b"ev", &b);
        ps.subscribe(Kind::Channel, b"elsewhere", &other);
        assert_eq!(ps.publish_many(b"ev", &[b"k1", b"k2", b"k3"]), 6);
        let batched = take(&a);
        assert_eq!(take(&b), batched);
        assert!(take(&other).is_empty());
        for m in [&b"k1"[..], b"k2", b"k3"] {
            ps.publish(Kind::Channel, b"ev", m, None);
        }
        assert_eq!(take(&a), batched, "same bytes, same order");
        assert_eq!(ps.publish_many(b"nobody", &[b"k"]), 0);
    }

    #[test]
    fn publish_many_keeps_message_pmessage_order_for_pattern_subscribers() {
        let ps = PubSub::default();
        let c = client(1);
        ps.subscribe(Kind::Channel, b"ev", &c);
        ps.subscribe(Kind::Pattern, b"e*", &c);
        assert_eq!(ps.publish_many(b"ev", &[b"k1", b"k2"]), 4);
        let out = String::from_utf8(take(&c)).unwrap();
        let words: Vec<&str> = out.split("\r\n").filter(|w| w.ends_with("message") || w.starts_with('k')).collect();
        assert_eq!(words, ["message", "k1", "pmessage", "k1", "message", "k2", "pmessage", "k2"]);
    }
}
