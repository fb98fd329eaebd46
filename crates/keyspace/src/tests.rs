//! Keyspace tests: lazy expiry, reclamation, multi-key locking and iteration, all with time
//! passed in by hand.

use super::*;
use std::collections::HashSet;

fn set(ks: &Keyspace, db: usize, k: &[u8], v: &[u8], ttl: Ttl, now: u64) {
    ks.write(ks.key(db, k), now, |e| {
        e.set(NewValue::Str(v), ttl);
    });
}

fn get(ks: &Keyspace, db: usize, k: &[u8], now: u64) -> Option<Vec<u8>> {
    ks.read(ks.key(db, k), now, |e| e.map(|e| e.value().to_vec()))
}

#[test]
fn set_get_and_exact_lazy_expiry() {
    let ks = Keyspace::new(16);
    set(&ks, 0, b"lock:1", b"tok", Ttl::At(1100), 1000);
    assert_eq!(get(&ks, 0, b"lock:1", 1100).as_deref(), Some(&b"tok"[..]), "alive at its deadline");
    assert_eq!(get(&ks, 0, b"lock:1", 1101), None, "gone one ms later, before any reclamation");
    assert_eq!(get(&ks, 1, b"lock:1", 1000), None, "databases are separate");
    // A write after the deadline sees the key as absent and counts the expiration.
    let existed = ks.write(ks.key(0, b"lock:1"), 1101, |e| e.exists());
    assert!(!existed);
    assert_eq!(ks.stats.expired_keys(), 1);
    assert_eq!(ks.dbsize(0), 0);
}

#[test]
fn ttl_kept_or_cleared_on_overwrite() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"k", b"1", Ttl::At(5000), 0);
    set(&ks, 0, b"k", b"2", Ttl::Keep, 0);
    let at = ks.read(ks.key(0, b"k"), 0, |e| e.map(Entry::expire_at));
    assert_eq!(at, Some(5000));
    set(&ks, 0, b"k", b"3", Ttl::Clear, 0);
    let at = ks.read(ks.key(0, b"k"), 0, |e| e.map(Entry::expire_at));
    assert_eq!(at, Some(NO_EXPIRE));
    assert_eq!(ks.db_info(0, 0).expires, 0);
    // Nothing left on the wheel: reclaiming far in the future removes nothing.
    assert_eq!(ks.reclaim(u64::MAX / 2, usize::MAX), 0);
    assert_eq!(get(&ks, 0, b"k", 10_000).as_deref(), Some(&b"3"[..]));
}

#[test]
fn reclaim_follows_deadlines_and_reports_lag() {
    let ks = Keyspace::new(2);
    for i in 0..1000u64 {
        set(&ks, (i % 2) as usize, format!("k{i}").as_bytes(), b"v", Ttl::At(2000 + i), 1000);
    }
    assert!(ks.next_due() <= 2001);
    assert_eq!(ks.reclaim(2000, usize::MAX), 0);
    assert_eq!(ks.reclaim(2500, usize::MAX), 500);
    assert_eq!(ks.dbsize(0) + ks.dbsize(1), 500);
    assert_eq!(ks.reclaim(2999, usize::MAX), 499);
    assert_eq!(ks.reclaim(3000, usize::MAX), 1);
    assert_eq!(ks.stats.expired_keys(), 1000);
    assert_eq!(ks.next_due(), u64::MAX);
    assert_eq!(ks.stats.lag_max(), 500);
}

#[test]
fn delete_cancels_the_timer() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"k", b"v", Ttl::At(100), 0);
    let removed = ks.write(ks.key(0, b"k"), 50, |e| e.remove().is_some());
    assert!(removed);
    assert_eq!(ks.reclaim(1000, usize::MAX), 0);
    assert_eq!(ks.stats.expired_keys(), 0);
}

#[test]
fn extended_and_shortened_deadlines_expire_exactly_when_due() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"ext", b"v", Ttl::At(100), 0);
    set(&ks, 0, b"short", b"v", Ttl::At(1000), 0);
    let expire = |k: &[u8], at: u64, now: u64| ks.write(ks.key(0, k), now, |e| e.set_expire(at));
    // Extended twice: the timer stays at the first deadline and is re-armed when it fires.
    assert!(expire(b"ext", 200, 10));
    assert!(expire(b"ext", 300, 20));
    // Shortened: the timer must move, or the key would be reclaimed late.
    assert!(expire(b"short", 150, 10));
    assert_eq!(ks.reclaim(101, usize::MAX), 0, "nothing is due at the extended key's first deadline");
    assert!(ks.next_due() <= 151, "the shortened deadline is the next work");
    assert_eq!(ks.reclaim(151, usize::MAX), 1);
    assert_eq!(get(&ks, 0, b"short", 151), None);
    assert_eq!(ks.reclaim(300, usize::MAX), 0, "alive at its deadline");
    assert_eq!(ks.reclaim(301, usize::MAX), 1);
    assert_eq!(ks.dbsize(0), 0);
    assert_eq!(ks.stats.expired_keys(), 2);
    assert_eq!(ks.next_due(), u64::MAX, "no timer left behind");
}
#[test]
fn raw_string_growth_keeps_ttl_and_accounting() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"k", b"12", Ttl::At(100), 0);
    let len = ks.write(ks.key(0, b"k"), 0, |e| {
        e.with_raw_string(|v| {
            v.extend_from_slice(b"34");
            v.len()
        })
    });
    assert_eq!(len, Some(4));
    let (val, at, enc) = ks.read(ks.key(0, b"k"), 0, |e| {
        let e = e.expect("present");
        (e.value().to_vec(), e.expire_at(), e.encoding())
    });
    assert_eq!((val.as_slice(), at, enc), (&b"1234"[..], 100, "raw"));
    ks.write(ks.key(0, b"k"), 0, |e| e.remove());
    assert_eq!(ks.dataset_bytes(), 0);
}

#[test]
fn multi_key_lock_is_ordered_and_covers_all_keys() {
    let ks = Keyspace::new(4);
    let names: Vec<Vec<u8>> = (0..200).map(|i| format!("key{i}").into_bytes()).collect();
    let refs: Vec<KeyRef<'_>> = names.iter().map(|n| ks.key(1, n)).collect();
    {
        let mut l = ks.lock(0, true, &refs);
        for r in &refs {
            l.entry(r).set(NewValue::Str(r.key), Ttl::Clear);
        }
        for r in &refs {
            assert_eq!(l.get(r).map(|e| e.value().to_vec()).as_deref(), Some(r.key));
        }
    }
    assert_eq!(ks.dbsize(1), 200);
    // Two threads locking overlapping key sets in different orders never deadlock.
    let ks = std::sync::Arc::new(ks);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let ks = ks.clone();
            std::thread::spawn(move || {
                let names: Vec<Vec<u8>> =
                    (0..50).map(|i| format!("key{}", if t == 0 { i } else { 49 - i }).into_bytes()).collect();
                for _ in 0..500 {
                    let refs: Vec<KeyRef<'_>> = names.iter().map(|n| ks.key(1, n)).collect();
                    let mut l = ks.lock(0, true, &refs);
                    let r = refs[0];
                    l.entry(&r).set(NewValue::Int(t), Ttl::Clear);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no deadlock, no panic");
    }
}

/// A lock over keys of two databases (MOVE, COPY) covers both, whichever comes first, and a
/// key it was not asked for stays outside it.
#[test]
fn multi_key_lock_covers_keys_of_two_databases() {
    let ks = Keyspace::new(4);
    let names: Vec<Vec<u8>> = (0..40).map(|i| format!("key{i}").into_bytes()).collect();
    for (first, second) in [(3, 1), (1, 3), (2, 2)] {
        let refs: Vec<KeyRef<'_>> =
            names.iter().enumerate().map(|(i, n)| ks.key(if i % 2 == 0 { first } else { second }, n)).collect();
        let mut l = ks.lock(0, true, &refs);
        for r in &refs {
            l.entry(r).set(NewValue::Str(r.key), Ttl::Clear);
        }
        for r in &refs {
            assert_eq!(l.get(r).map(|e| e.value().to_vec()).as_deref(), Some(r.key), "{first}/{second}");
        }
        assert!(l.get(&ks.key(0, b"key0")).is_none(), "database 0 is not locked");
        drop(l);
        let expect = |db: usize| (0..40).filter(|i| [first, second][i % 2] == db).count();
        assert_eq!((ks.dbsize(first), ks.dbsize(second)), (expect(first), expect(second)));
        for db in [first, second] {
            drop(ks.flush_db(db, 0));
        }
    }
}

#[test]
fn keys_and_scan_see_every_live_key_once_iteration_ends() {
    let ks = Keyspace::new(1);
    for i in 0..3000 {
        set(&ks, 0, format!("user:{i}").as_bytes(), b"v", Ttl::Clear, 0);
    }
    set(&ks, 0, b"", b"empty key", Ttl::Clear, 0);
    set(&ks, 0, b"gone", b"v", Ttl::At(5), 0);
    let mut out = Vec::new();
    ks.keys(0, b"*", 10, &mut out);
    assert_eq!(out.len(), 3001, "`*` lists the empty key, not expired ones");
    out.clear();
    ks.keys(0, b"user:1?", 10, &mut out);
    assert_eq!(out.len(), 10);
    out.clear();
    ks.keys(0, b"user:42", 10, &mut out);
    assert_eq!(out, vec![b"user:42".to_vec()]);

    let all = ScanFilter { pattern: None, type_name: None };
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        let mut batch = Vec::new();
        cursor = ks.scan(0, cursor, 10, 10, &all, &mut batch);
        seen.extend(batch);
        calls += 1;
        // Keep inserting while scanning: growth must not make the scan miss old keys.
        set(&ks, 0, format!("new:{calls}").as_bytes(), b"v", Ttl::Clear, 0);
        if cursor == 0 {
            break;
        }
    }
    for i in 0..3000 {
        assert!(seen.contains(format!("user:{i}").as_bytes()), "user:{i} missed");
    }
    assert!(!seen.contains(&b"gone"[..]));
    assert!(calls > 10, "COUNT bounds the work per call ({calls} calls)");
}

#[test]
fn scan_type_filter_and_garbage_cursor() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"a", b"1", Ttl::Clear, 0);
    let mut out = Vec::new();
    let strings = ScanFilter { pattern: None, type_name: Some(b"STRING") };
    assert_eq!(ks.scan(0, 0, 100, 0, &strings, &mut out), 0);
    assert_eq!(out, vec![b"a".to_vec()]);
    out.clear();
    let lists = ScanFilter { pattern: None, type_name: Some(b"list") };
    ks.scan(0, 0, 100, 0, &lists, &mut out);
    assert!(out.is_empty());
    assert_eq!(ks.scan(0, u64::MAX, 10, 0, &strings, &mut out), 0);
}

#[test]
fn random_key_flush_and_swap() {
    let ks = Keyspace::new(3);
    let mut seed = 7u64;
    let mut rnd = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 11
    };
    assert_eq!(ks.random_key(0, 0, &mut rnd), None);
    set(&ks, 0, b"only", b"v", Ttl::Clear, 0);
    assert_eq!(ks.random_key(0, 0, &mut rnd).as_deref(), Some(&b"only"[..]));
    set(&ks, 0, b"dead", b"v", Ttl::At(1), 0);
    for _ in 0..50 {
        assert_eq!(ks.random_key(0, 10, &mut rnd).as_deref(), Some(&b"only"[..]));
    }
    set(&ks, 1, b"one", b"v", Ttl::At(500), 0);
    ks.swap_db(0, 1, 500);
    assert_eq!(get(&ks, 0, b"one", 0).as_deref(), Some(&b"v"[..]));
    assert_eq!(get(&ks, 1, b"only", 0).as_deref(), Some(&b"v"[..]));
    // The timer moved with its key.
    assert_eq!(ks.reclaim(501, usize::MAX), 2);
    assert_eq!(ks.dbsize(0), 0);
    set(&ks, 2, b"x", b"v", Ttl::At(900), 0);
    let old = ks.flush_all(501);
    assert_eq!(old.iter().map(Shard::len).sum::<usize>(), 2);
    assert_eq!(ks.dbsize(1) + ks.dbsize(2), 0);
    assert_eq!(ks.next_due(), u64::MAX);
}

#[test]
fn db_info_reports_average_ttl() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"a", b"v", Ttl::At(2000), 1000);
    set(&ks, 0, b"b", b"v", Ttl::At(4000), 1000);
    set(&ks, 0, b"c", b"v", Ttl::Clear, 1000);
    assert_eq!(ks.db_info(0, 1000), DbInfo { keys: 3, expires: 2, avg_ttl: 2000 });
}

#[test]
fn workers_help_once_the_planned_time_has_come() {
    let ks = Keyspace::new(1);
    for i in 0..200u64 {
        set(&ks, 0, format!("k{i}").as_bytes(), b"v", Ttl::At(1000 + i), 0);
    }
    // The expiry thread plans to wake at 1100 (here without sleeping).
    ks.wait_for_due(0, 1100, Duration::ZERO);
    assert!(!ks.reclaim_due(1099));
    assert_eq!(ks.help_reclaim(1099, usize::MAX, || true), 0, "before the planned time, nothing to help with");
    assert_eq!(ks.dbsize(0), 200);
    // Later (the expiry thread kept waiting for the core): a worker reclaims, a little at a
    // time, until nothing is due.
    assert!(ks.reclaim_due(1150));
    let first = ks.help_reclaim(1150, 1, || true);
    assert!(first > 0 && first <= SHARDS, "one timer a shard: {first}");
    assert!(ks.reclaim_due(1150), "keys still due: the next batch helps again");
    // A pass may remove nothing yet still make progress: a shard's next due time is a lower
    // bound (a coarse wheel slot), which a pass that only cascades it moves on.
    let mut helped = first;
    for _ in 0..1000 {
        if !ks.reclaim_due(1150) {
            break;
        }
        helped += ks.help_reclaim(1150, 1, || true);
    }
    assert!(!ks.reclaim_due(1150), "the passes come to an end");
    assert!(ks.next_due() > 1150, "nothing due at 1150 is left");
    assert_eq!(helped, 150, "exactly the keys past their deadlines (1000..=1149)");
    assert_eq!(ks.stats.expired_by_workers(), 150);
    assert_eq!(ks.dbsize(0), 50);
    // The plan moved on to the next timer: no more help at 1150.
    assert_eq!(ks.help_reclaim(1150, usize::MAX, || true), 0);
    assert_eq!(ks.reclaim(1200, usize::MAX), 50, "the rest is the expiry thread's again");
}

/// Keys in shards of both databases, all due at 2000; the shards that hold any, in the order
/// a pass visits them, with their key counts.
fn due_everywhere(ks: &Keyspace, keys: u64) -> Vec<usize> {
    for i in 0..keys {
        set(ks, (i % 2) as usize, format!("k{i}").as_bytes(), b"v", Ttl::At(2000), 1000);
    }
    ks.dbs.iter().flat_map(|d| d.shards.iter()).map(|s| s.rw.read().len()).filter(|n| *n > 0).collect()
}

#[test]
fn a_yielding_pass_gives_way_after_each_shard_with_none_locked() {
    let ks = Keyspace::new(2);
    let busy = due_everywhere(&ks, 4000);
    assert!(busy.len() > SHARDS, "keys in both databases' shards: {}", busy.len());
    let mut calls = 0;
    let removed = ks.reclaim_yielding(2500, usize::MAX, || {
        // Whoever the caller lets in here finds every shard free.
        let free = ks.dbs.iter().flat_map(|d| d.shards.iter()).all(|s| s.rw.try_write().is_some());
        assert!(free, "a shard is still locked at call {calls}");
        calls += 1;
        true
    });
    assert_eq!(removed, 4000);
    assert_eq!(calls, busy.len(), "once per shard that had work, no more");
    // Nothing due: no shard to give way after.
    assert_eq!(ks.reclaim_yielding(2500, usize::MAX, || panic!("no shard had work")), 0);
}

#[test]
fn a_yielding_pass_ends_where_told_and_leaves_the_rest_due() {
    let ks = Keyspace::new(2);
    let busy = due_everywhere(&ks, 4000);
    // Stop after the third shard, then in the second database's first shard.
    let mut calls = 0;
    let removed = ks.reclaim_yielding(2500, usize::MAX, || {
        calls += 1;
        calls < 3
    });
    assert_eq!(calls, 3);
    assert_eq!(removed, busy[..3].iter().sum::<usize>(), "exactly the first three shards' keys");
    assert_eq!(ks.stats.expired_keys(), removed as u64);
    assert_eq!(ks.dbsize(0) + ks.dbsize(1), 4000 - removed);
    assert!(ks.next_due() <= 2500, "the rest is still due");
    let left_in_db0 = ks.dbs[0].shards.iter().filter(|s| !s.rw.read().is_empty()).count();
    calls = 0;
    let more = ks.reclaim_yielding(2500, usize::MAX, || {
        calls += 1;
        calls <= left_in_db0
    });
    assert_eq!(calls, left_in_db0 + 1);
    assert_eq!(ks.dbsize(0), 0, "the first database is done");
    assert_eq!(removed + more, 4000 - ks.dbsize(1));
    // A pass that is not told to stop takes the rest.
    assert_eq!(ks.reclaim(2500, usize::MAX), 4000 - removed - more);
    assert_eq!(ks.dbsize(0) + ks.dbsize(1), 0);
    assert_eq!(ks.stats.expired_keys(), 4000);
}

#[test]
fn wait_for_due_wakes_on_an_earlier_deadline() {
    let ks = std::sync::Arc::new(Keyspace::new(1));
    let k2 = ks.clone();
    let t = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        k2.wait_for_due(0, u64::MAX, Duration::from_secs(5));
        start.elapsed()
    });
    std::thread::sleep(Duration::from_millis(50));
    set(&ks, 0, b"k", b"v", Ttl::At(10), 0);
    let waited = t.join().expect("thread");
    assert!(waited < Duration::from_secs(2), "woken by the new deadline, not the timeout");
}

#[test]
fn watches_see_writes_expiry_and_flushes_of_their_keys_only() {
    let ks = Keyspace::new(2);
    let flag = || Arc::new(WatchFlag::default());
    set(&ks, 0, b"w", b"v", Ttl::At(1000), 0);
    let (on_w, on_missing, on_other) = (flag(), flag(), flag());
    ks.watch(ks.key(0, b"w"), 0, &on_w);
    ks.watch(ks.key(0, b"missing"), 0, &on_missing);
    ks.watch(ks.key(1, b"w"), 0, &on_other);
    // A read changes nothing; a failed conditional write neither.
    get(&ks, 0, b"w", 10);
    ks.write(ks.key(0, b"w"), 10, |e| e.exists());
    assert!(!on_w.is_dirty());
    // The wheel reclaiming the key is a change for its watcher only.
    assert_eq!(ks.reclaim(1001, usize::MAX), 1);
    assert!(on_w.is_dirty());
    assert!(!on_missing.is_dirty() && !on_other.is_dirty());
    // FLUSHALL touches existing keys, not missing ones.
    set(&ks, 1, b"w", b"v", Ttl::Clear, 0);
    assert!(on_other.is_dirty(), "a write in database 1");
    on_other.clear();
    ks.flush_all(1002);
    assert!(on_other.is_dirty());
    assert!(!on_missing.is_dirty());
    ks.watches.remove(&[(0, b"w".to_vec()), (0, b"missing".to_vec())], &on_w);
    ks.watches.remove(&[(0, b"missing".to_vec())], &on_missing);
    ks.watches.remove(&[(1, b"w".to_vec())], &on_other);
    assert!(!ks.watches.active());
}

#[test]
fn watching_an_expired_key_ignores_its_deletion() {
    let ks = Keyspace::new(1);
    set(&ks, 0, b"k", b"v", Ttl::At(100), 0);
    let f = Arc::new(WatchFlag::default());
    ks.watch(ks.key(0, b"k"), 200, &f);
    assert_eq!(get(&ks, 0, b"k", 200), None);
    assert!(!f.is_dirty(), "the expired key's deletion is no logical change");
    set(&ks, 0, b"k", b"v", Ttl::Clear, 200);
    assert!(f.is_dirty());
}

/// Two keys in different shards (and one that shares the first one's shard).
fn keys_in_two_shards() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let shard = |k: &[u8]| shard_of(hash_key(k));
    let a = b"claim:a".to_vec();
    let other = (0..).map(|i| format!("claim:b{i}").into_bytes()).find(|k| shard(k) != shard(&a)).unwrap();
    let same = (0..).map(|i| format!("claim:c{i}").into_bytes()).find(|k| shard(k) == shard(&a)).unwrap();
    (a, other, same)
}

#[test]
fn a_claim_keeps_other_threads_out_of_its_shards_only() {
    use std::sync::atomic::AtomicBool;
    let ks = Keyspace::new(1);
    let (a, other, same) = keys_in_two_shards();
    let released = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let claim = ks.claim(0, [a.as_slice()], 1);
        // The claimant itself reads and writes its shard, and any other.
        set(&ks, 0, &a, b"1", Ttl::Clear, 0);
        set(&ks, 0, &other, b"1", Ttl::Clear, 0);
        let outsider = scope.spawn(|| {
            // Another shard: no wait.
            set(&ks, 0, &other, b"2", Ttl::Clear, 0);
            assert!(!released.load(Ordering::SeqCst), "a write to an unclaimed shard waited for the claim");
            // A key of the claimed shard (not even the claimed key): waits for the release,
            // and so does a multi-key lock that includes it.
            let v = get(&ks, 0, &same, 0);
            assert!(released.load(Ordering::SeqCst), "read a claimed shard before the claim ended");
            assert_eq!(v, None);
            let locked = ks.lock(0, true, &[ks.key(0, &other), ks.key(0, &same)]);
            drop(locked);
        });
        std::thread::sleep(Duration::from_millis(50));
        set(&ks, 0, &a, b"done", Ttl::Clear, 0);
        released.store(true, Ordering::SeqCst);
        drop(claim);
        outsider.join().unwrap();
    });
    assert_eq!(get(&ks, 0, &a, 0).as_deref(), Some(&b"done"[..]));
    assert_eq!(get(&ks, 0, &other, 0).as_deref(), Some(&b"2"[..]));
    // Once released, the claimant's thread is an ordinary thread again.
    assert_eq!(CLAIMANT.with(Cell::get), 0);
}

#[test]
fn claims_on_overlapping_shards_take_turns() {
    let ks = Keyspace::new(1);
    let (a, other, _) = keys_in_two_shards();
    // Two claimants each increment both keys 200 times, reading then writing, in claims that
    // list the keys in opposite orders: no deadlock, and no increment is lost.
    std::thread::scope(|scope| {
        for (id, keys) in [(1, [a.as_slice(), other.as_slice()]), (2, [other.as_slice(), a.as_slice()])] {
            let ks = &ks;
            scope.spawn(move || {
                for _ in 0..200 {
                    let _claim = ks.claim(0, keys, id);
                    for k in keys {
                        let n: u64 = get(ks, 0, k, 0).map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
                        std::thread::yield_now();
                        set(ks, 0, k, (n + 1).to_string().as_bytes(), Ttl::Clear, 0);
                    }
                }
            });
        }
    });
    assert_eq!(get(&ks, 0, &a, 0).as_deref(), Some(&b"400"[..]));
    assert_eq!(get(&ks, 0, &other, 0).as_deref(), Some(&b"400"[..]));
}

/// What each shard tells the expiry thread (`next_due`) stays what its wheel says after every
/// write, though writes that leave the wheel alone no longer recompute it: random sets with
/// and without TTLs, deletes, extensions, shortenings, persists, lazy expirations and
/// reclamations.
#[test]
fn published_deadlines_follow_every_write() {
    let ks = Keyspace::new(1);
    let mut seed = 0x5851_f42d_4c95_7f2du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut now = 1000;
    for step in 0..20_000 {
        now += next(3);
        let key = format!("k{}", next(200));
        let k = ks.key(0, key.as_bytes());
        match next(7) {
            0 => set(&ks, 0, key.as_bytes(), b"v", Ttl::At(now + 1 + next(500)), now),
            1 => set(&ks, 0, key.as_bytes(), b"v", Ttl::Clear, now),
            2 => set(&ks, 0, key.as_bytes(), b"w", Ttl::Keep, now),
            3 => {
                ks.write(k, now, |e| e.remove());
            }
            4 => {
                let at = now + next(1000);
                ks.write(k, now, |e| e.set_expire(at));
            }
            5 => {
                ks.write(k, now, |e| e.persist());
            }
            _ => {
                ks.reclaim(now, 1 + next(4) as usize);
            }
        }
        for (i, slot) in ks.dbs[0].shards.iter().enumerate() {
            let published = slot.next_due.load(Ordering::Relaxed);
            assert_eq!(published, slot.read().next_due(), "step {step}, shard {i}");
        }
    }
}
