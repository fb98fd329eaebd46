//! Rust lock libraries (rslock on redis-rs 1.x, redlock-rs on redis-rs 0.23) against live
//! tumbler-server processes.
//!
//! Run by tests/it/clients.rs as `tumbler-client-tests-rust LIBRARY`, with the five servers in
//! TUMBLER_ADDRS (`host:port,...`). Exits 0 when every step passed; otherwise prints the library,
//! the step, and what was expected and seen, and exits 1. The steps are those of
//! tests/clients/README.md (1 acquire, 2 second owner refused, 3 token and PTTL on a plain
//! connection, 4 extend, 5 non-owner refused and key untouched, 6 release, 7 expiry on time);
//! 5a uses an impostor with another value while the lock is held, 5b the owner of an expired
//! lease after someone else took the lock. PTTL bounds are derived from clock readings around
//! the commands, never from how fast the machine is.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The lease held through steps 1-6: released, never waited out, and long enough that a loaded
/// machine cannot let it lapse while the steps run.
const LONG_MS: u64 = 2000;
const SHORT_MS: u64 = 400; // the lease left to expire in step 7
const EXTEND_AFTER: Duration = Duration::from_millis(150);

/// A failed step: "step N (what): message".
type Failure = String;

struct Ctx {
    library: String,
    step: String,
    plain: Vec<Plain>,
}

macro_rules! check {
    ($ctx:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}: {}", $ctx.step, format!($($fmt)+)));
        }
    };
}

impl Ctx {
    fn step(&mut self, number: &str, what: &str) {
        self.step = format!("step {number} ({what})");
        println!("{}: {}", self.library, self.step);
    }

    fn fail<T>(&self, msg: impl std::fmt::Display) -> Result<T, Failure> {
        Err(format!("{}: {msg}", self.step))
    }

    fn cmd(&mut self, i: usize, args: &[&[u8]]) -> Result<Reply, Failure> {
        let step = self.step.clone();
        let p = &mut self.plain[i];
        match p.cmd(args) {
            Ok(Reply::Error(e)) => {
                Err(format!("{step}: {}: {} answered the error {e}", p.addr, String::from_utf8_lossy(args[0])))
            }
            Ok(r) => Ok(r),
            Err(e) => Err(format!("{step}: {}: {e}", p.addr)),
        }
    }

    fn get(&mut self, i: usize, key: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
        match self.cmd(i, &[b"GET", key])? {
            Reply::Bulk(v) => Ok(v),
            other => self.fail(format!("GET answered {other:?}")),
        }
    }

    fn int(&mut self, i: usize, args: &[&[u8]]) -> Result<i64, Failure> {
        match self.cmd(i, args)? {
            Reply::Int(n) => Ok(n),
            other => self.fail(format!("{} answered {other:?}", String::from_utf8_lossy(args[0]))),
        }
    }

    fn pttl(&mut self, i: usize, key: &[u8]) -> Result<i64, Failure> {
        self.int(i, &[b"PTTL", key])
    }

    /// Every instance holds `key` = `token` with PTTL in [ttl - elapsed, ttl], elapsed counted
    /// from `since` (taken before the command that set the TTL).
    fn expect_held(&mut self, key: &[u8], token: &[u8], ttl: u64, since: Instant) -> Result<(), Failure> {
        for i in 0..self.plain.len() {
            let v = self.get(i, key)?;
            let t = self.pttl(i, key)?;
            let elapsed = since.elapsed().as_secs_f64() * 1000.0;
            let addr = self.plain[i].addr.clone();
            check!(
                self,
                v.as_deref() == Some(token),
                "{addr}: GET {} = {}, expected the owner's token {}",
                show(key),
                show_opt(&v),
                show(token)
            );
            check!(
                self,
                (t as f64) >= ttl as f64 - elapsed - 1.0 && t <= ttl as i64,
                "{addr}: PTTL {} = {t}, expected between {:.0} and {ttl} ({elapsed:.0} ms after the command that set it)",
                show(key),
                ttl as f64 - elapsed - 1.0
            );
        }
        Ok(())
    }

    fn snapshot(&mut self, key: &[u8]) -> Result<Vec<(Option<Vec<u8>>, i64)>, Failure> {
        (0..self.plain.len()).map(|i| Ok((self.get(i, key)?, self.pttl(i, key)?))).collect()
    }

    /// The value is the one in `before` and the TTL has not been pushed up (nor removed).
    fn expect_untouched(&mut self, key: &[u8], before: &[(Option<Vec<u8>>, i64)]) -> Result<(), Failure> {
        for (i, (v0, t0)) in before.iter().enumerate() {
            let v = self.get(i, key)?;
            let t = self.pttl(i, key)?;
            let addr = self.plain[i].addr.clone();
            check!(
                self,
                v.is_some() && v == *v0,
                "{addr}: GET {} = {}, expected it unchanged at {}",
                show(key),
                show_opt(&v),
                show_opt(v0)
            );
            check!(self, t > 0 && t <= *t0, "{addr}: PTTL {} = {t}, expected unchanged (0 < PTTL <= {t0})", show(key));
        }
        Ok(())
    }

    fn expect_gone(&mut self, key: &[u8]) -> Result<(), Failure> {
        for i in 0..self.plain.len() {
            let v = self.get(i, key)?;
            let e = self.int(i, &[b"EXISTS", key])?;
            let addr = self.plain[i].addr.clone();
            check!(
                self,
                v.is_none() && e == 0,
                "{addr}: {} still exists (GET = {}, EXISTS = {e})",
                show(key),
                show_opt(&v)
            );
        }
        Ok(())
    }

    /// After an extension to `ttl`: PTTL in [ttl - elapsed, ttl] and above the value in `before`.
    fn expect_pttl_up(
        &mut self,
        key: &[u8],
        before: &[(Option<Vec<u8>>, i64)],
        ttl: u64,
        since: Instant,
    ) -> Result<(), Failure> {
        for (i, (_, t0)) in before.iter().enumerate() {
            let t = self.pttl(i, key)?;
            let elapsed = since.elapsed().as_secs_f64() * 1000.0;
            let addr = self.plain[i].addr.clone();
            check!(self, t > *t0, "{addr}: PTTL {} = {t} after extending, not above the {t0} before", show(key));
            check!(
                self,
                (t as f64) >= ttl as f64 - elapsed - 1.0 && t <= ttl as i64,
                "{addr}: PTTL {} = {t} after extending to {ttl}, expected at least {:.0}",
                show(key),
                ttl as f64 - elapsed - 1.0
            );
        }
        Ok(())
    }

    /// The lease set between `before` and `after` expires on time: there shortly before, gone just after.
    fn expect_expires(&mut self, key: &[u8], ttl: u64, before: Instant, after: Instant) -> Result<(), Failure> {
        sleep_until(before + Duration::from_millis(ttl - 80));
        for i in 0..self.plain.len() {
            let v = self.get(i, key)?;
            let got = before.elapsed();
            let addr = self.plain[i].addr.clone();
            check!(
                self,
                v.is_some() || got >= Duration::from_millis(ttl),
                "{addr}: {} expired early: gone {} ms after the acquire with PX {ttl}",
                show(key),
                got.as_millis()
            );
        }
        sleep_until(after + Duration::from_millis(ttl + 15));
        for i in 0..self.plain.len() {
            let v = self.get(i, key)?;
            let addr = self.plain[i].addr.clone();
            check!(
                self,
                v.is_none(),
                "{addr}: {} = {} still there {} ms after the acquire with a {ttl} ms lease returned",
                show(key),
                show_opt(&v),
                after.elapsed().as_millis()
            );
        }
        Ok(())
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn show(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

fn show_opt(v: &Option<Vec<u8>>) -> String {
    v.as_deref().map_or("nil".into(), show)
}

// ------------------------------------------------------------------------------ plain connections

/// A RESP2 reply; the payloads are shown (through Debug) in failure messages.
#[derive(Debug)]
#[allow(dead_code)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A plain RESP2 connection, independent of redis-rs and the libraries, for looking at keys.
struct Plain {
    addr: String,
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Plain {
    fn connect(addr: &str) -> std::io::Result<Plain> {
        let w = TcpStream::connect(addr)?;
        w.set_read_timeout(Some(Duration::from_secs(10)))?;
        let r = BufReader::new(w.try_clone()?);
        Ok(Plain { addr: addr.to_string(), w, r })
    }

    fn cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out)?;
        self.reply()
    }

    fn reply(&mut self) -> std::io::Result<Reply> {
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(bad(format!("truncated reply {}", show(&line))));
        }
        line.truncate(line.len() - 2);
        let rest = String::from_utf8_lossy(&line[1..]).into_owned();
        let num = |s: &str| s.parse::<i64>().map_err(|_| bad(format!("bad number in {}", show(&line))));
        Ok(match line.first() {
            Some(b'+') => Reply::Status(rest),
            Some(b'-') => Reply::Error(rest),
            Some(b':') => Reply::Int(num(&rest)?),
            Some(b'$') => {
                let n = num(&rest)?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut buf = vec![0; n as usize + 2];
                    self.r.read_exact(&mut buf)?;
                    buf.truncate(n as usize);
                    Reply::Bulk(Some(buf))
                }
            }
            Some(b'*') => {
                let n = num(&rest)?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    Reply::Array(Some((0..n).map(|_| self.reply()).collect::<Result<_, _>>()?))
                }
            }
            _ => return Err(bad(format!("unexpected reply {}", show(&line)))),
        })
    }
}

// ------------------------------------------------------------------------------ rslock

fn rslock(ctx: &mut Ctx, addrs: &[String]) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("tokio: {e}"))?;
    rt.block_on(rslock_main(ctx, addrs))
}

async fn rslock_main(ctx: &mut Ctx, addrs: &[String]) -> Result<(), Failure> {
    use rslock::{Lock, LockError, LockManager};
    let uris: Vec<String> = addrs.iter().map(|a| format!("redis://{a}/")).collect();
    let mut ma = LockManager::new(uris.clone());
    let mut mb = LockManager::new(uris);
    // One attempt each: a refused lock() or extend() answers at once.
    ma.set_retry(1, Duration::from_millis(10));
    mb.set_retry(1, Duration::from_millis(10));
    let key: &[u8] = b"rslock";
    let long = Duration::from_millis(LONG_MS);

    ctx.step("1", "acquire");
    let t0 = Instant::now();
    let a = match ma.lock(key, long).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(format!("lock() failed: {e}")),
    };
    check!(ctx, a.val.len() == 20, "lock value of {} bytes, expected 20 random bytes", a.val.len());
    check!(ctx, a.validity_time > 0 && a.validity_time <= LONG_MS as usize, "validity {}", a.validity_time);

    ctx.step("2", "second owner refused");
    match mb.lock(key, long).await {
        Err(LockError::Unavailable) => {}
        other => return ctx.fail(format!("a second lock() returned {other:?}, expected Err(Unavailable)")),
    }

    ctx.step("3", "the key holds the owner's token");
    ctx.expect_held(key, &a.val, LONG_MS, t0)?;
    match ma.is_freed(&a).await {
        Ok(false) => {}
        other => return ctx.fail(format!("is_freed() for the owner = {other:?}, expected Ok(false)")),
    }

    ctx.step("4", "extend");
    tokio::time::sleep(EXTEND_AFTER).await;
    let before = ctx.snapshot(key)?;
    let t = Instant::now();
    let a = match ma.extend(&a, long).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(format!("extend() failed: {e}")),
    };
    ctx.expect_pttl_up(key, &before, LONG_MS, t)?;
    ctx.expect_held(key, &a.val, LONG_MS, t)?;

    ctx.step("5a", "an impostor's extend and unlock are refused");
    let before = ctx.snapshot(key)?;
    let impostor = Lock {
        resource: key.to_vec(),
        val: b"impostor-value".to_vec(),
        validity_time: LONG_MS as usize,
        lock_manager: mb.clone(),
    };
    match mb.extend(&impostor, long).await {
        Err(LockError::Unavailable) => {}
        other => return ctx.fail(format!("extend() with another value returned {other:?}, expected Err(Unavailable)")),
    }
    mb.unlock(&impostor).await; // best effort: reports nothing
    ctx.expect_untouched(key, &before)?;
    match mb.is_freed(&impostor).await {
        Err(LockError::RedisKeyMismatch) => {}
        other => return ctx.fail(format!("is_freed() for the impostor = {other:?}, expected Err(RedisKeyMismatch)")),
    }

    ctx.step("6", "release");
    ma.unlock(&a).await;
    ctx.expect_gone(key)?;
    match ma.is_freed(&a).await {
        Err(LockError::RedisKeyNotFound) => {}
        other => return ctx.fail(format!("is_freed() after unlock = {other:?}, expected Err(RedisKeyNotFound)")),
    }

    ctx.step("4u", "using() extends automatically past the first lease");
    let ukey: &[u8] = b"rslock:using";
    let lease = 600u64;
    let seen = ma
        .using(ukey, Duration::from_millis(lease), async || {
            tokio::time::sleep(Duration::from_millis(lease + 150)).await;
            ctx.snapshot(ukey)
        })
        .await;
    match seen {
        Ok(Ok(seen)) => {
            for (i, (v, t)) in seen.iter().enumerate() {
                let addr = ctx.plain[i].addr.clone();
                check!(
                    ctx,
                    v.as_ref().is_some_and(|v| v.len() == 20) && *t > 0 && *t <= lease as i64,
                    "{addr}: {} = {} with PTTL {t} {} ms into a {lease} ms lease: not extended",
                    show(ukey),
                    show_opt(v),
                    lease + 150
                );
            }
        }
        Ok(Err(e)) => return Err(e),
        Err(e) => return ctx.fail(format!("using() failed: {e}")),
    }
    ctx.expect_gone(ukey)?;

    ctx.step("7", "an unextended lock expires on time");
    let t0 = Instant::now();
    let a2 = match ma.lock(key, Duration::from_millis(SHORT_MS)).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(format!("lock() with a short lease failed: {e}")),
    };
    let t1 = Instant::now();
    ctx.expect_expires(key, SHORT_MS, t0, t1)?;
    let t2 = Instant::now();
    let b = match mb.lock(key, long).await {
        Ok(l) => l,
        Err(e) => return ctx.fail(format!("another owner could not take the expired lock: {e}")),
    };
    ctx.expect_held(key, &b.val, LONG_MS, t2)?;

    ctx.step("5b", "the stale owner's extend and unlock are refused");
    let before = ctx.snapshot(key)?;
    match ma.extend(&a2, long).await {
        Err(LockError::Unavailable) => {}
        other => return ctx.fail(format!("extend() by the owner of an expired lease returned {other:?}")),
    }
    ma.unlock(&a2).await;
    ctx.expect_untouched(key, &before)?;

    ctx.step("6", "release by the new owner");
    b.release().await;
    ctx.expect_gone(key)?;
    Ok(())
}

// ------------------------------------------------------------------------------ redlock-rs

fn redlock_rs(ctx: &mut Ctx, addrs: &[String]) -> Result<(), Failure> {
    use redlock::{Lock, RedLock};
    let uris: Vec<String> = addrs.iter().map(|a| format!("redis://{a}/")).collect();
    let mut ma = RedLock::new(uris.clone());
    let mut mb = RedLock::new(uris);
    ma.set_retry(1, 1);
    mb.set_retry(1, 1);
    let key: &[u8] = b"redlock-rs";

    ctx.step("1", "acquire");
    let t0 = Instant::now();
    let a = match ma.lock(key, LONG_MS as usize) {
        Ok(Some(l)) => l,
        Ok(None) => return ctx.fail("lock() returned None"),
        Err(e) => return ctx.fail(format!("lock() failed: {e}")),
    };
    check!(ctx, a.val.len() == 20, "lock value of {} bytes, expected 20 random bytes", a.val.len());

    ctx.step("2", "second owner refused");
    match mb.lock(key, LONG_MS as usize) {
        Ok(None) => {}
        Ok(Some(_)) => return ctx.fail("a second owner acquired a held lock"),
        Err(e) => return ctx.fail(format!("a second lock() failed with an error instead of None: {e}")),
    }

    ctx.step("3", "the key holds the owner's token");
    ctx.expect_held(key, &a.val, LONG_MS, t0)?;

    ctx.step("5a", "an impostor's unlock leaves the key alone");
    // redlock-rs's unlock reports nothing (best effort): the key must simply stay as it is.
    let before = ctx.snapshot(key)?;
    let impostor =
        Lock { resource: key.to_vec(), val: b"impostor-value".to_vec(), validity_time: 0, lock_manager: &mb };
    mb.unlock(&impostor);
    ctx.expect_untouched(key, &before)?;

    // Step 4: redlock-rs has no extend.

    ctx.step("6", "release");
    ma.unlock(&a);
    ctx.expect_gone(key)?;

    ctx.step("6g", "a guard releases when dropped");
    let t = Instant::now();
    {
        let guard = ma.acquire(key, LONG_MS as usize).map_err(|e| format!("{}: acquire() failed: {e}", ctx.step))?;
        let val = guard.lock.val.clone();
        ctx.expect_held(key, &val, LONG_MS, t)?;
    }
    ctx.expect_gone(key)?;

    ctx.step("7", "an unextended lock expires on time");
    let t0 = Instant::now();
    let a2 = match ma.lock(key, SHORT_MS as usize) {
        Ok(Some(l)) => l,
        other => return ctx.fail(format!("lock() with a short lease returned {:?}", other.map(|o| o.is_some()))),
    };
    let t1 = Instant::now();
    ctx.expect_expires(key, SHORT_MS, t0, t1)?;
    let t2 = Instant::now();
    let b = match mb.lock(key, LONG_MS as usize) {
        Ok(Some(l)) => l,
        other => {
            return ctx.fail(format!("another owner could not take the expired lock: {:?}", other.map(|o| o.is_some())))
        }
    };
    ctx.expect_held(key, &b.val, LONG_MS, t2)?;

    ctx.step("5b", "the stale owner's unlock leaves the key alone");
    let before = ctx.snapshot(key)?;
    ma.unlock(&a2);
    ctx.expect_untouched(key, &before)?;

    ctx.step("6", "release by the new owner");
    mb.unlock(&b);
    ctx.expect_gone(key)?;
    Ok(())
}

fn main() {
    let library = std::env::args().nth(1).unwrap_or_default();
    let addrs: Vec<String> = std::env::var("TUMBLER_ADDRS")
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    let run: fn(&mut Ctx, &[String]) -> Result<(), Failure> = match library.as_str() {
        "rslock" => rslock,
        "redlock-rs" => redlock_rs,
        _ => {
            eprintln!("usage: tumbler-client-tests-rust {{rslock|redlock-rs}} (five servers in TUMBLER_ADDRS)");
            std::process::exit(2);
        }
    };
    if addrs.len() != 5 {
        eprintln!("{library}: needs 5 addresses in TUMBLER_ADDRS, got {addrs:?}");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut ctx = Ctx { library: library.clone(), step: "setup".into(), plain: Vec::new() };
    for a in &addrs {
        match Plain::connect(a) {
            Ok(p) => ctx.plain.push(p),
            Err(e) => {
                eprintln!("FAILED {library}: setup: connecting to {a}: {e}");
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = run(&mut ctx, &addrs) {
        eprintln!("FAILED {library}: {e}");
        std::process::exit(1);
    }
    println!("{library}: all steps passed in {:.2} s", started.elapsed().as_secs_f64());
}
