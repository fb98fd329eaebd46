//! `tumbler acquire | release | extend | status`: locks handed between commands by token.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};
use tumbler_redlock::{Lock, Retry, Token};

use crate::util::{millis, parse_duration};
use crate::{exit, ConnArgs, Fail};

/// `tumbler acquire`.
#[derive(Args, Debug)]
pub(crate) struct AcquireArgs {
    /// Lock name (the key on every node).
    name: String,
    /// How long the lock lives unless extended.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ttl: Duration,
    /// How long to keep trying while someone else holds it (0: one attempt).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    wait: Duration,
    /// Also get a fencing token (every node must be tumbler).
    #[arg(long)]
    fenced: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

/// `tumbler release`.
#[derive(Args, Debug)]
pub(crate) struct ReleaseArgs {
    /// Lock name.
    name: String,
    /// The token `tumbler acquire` printed.
    #[arg(long)]
    token: String,
    #[command(flatten)]
    conn: ConnArgs,
}

/// `tumbler extend`.
#[derive(Args, Debug)]
pub(crate) struct ExtendArgs {
    /// Lock name.
    name: String,
    /// The token `tumbler acquire` printed.
    #[arg(long)]
    token: String,
    /// The new TTL, from now.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    conn: ConnArgs,
}

/// `tumbler status`.
#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    /// Lock name.
    name: String,
    #[command(flatten)]
    conn: ConnArgs,
}

fn print_json(v: &Value) {
    println!("{v}");
}

/// Acquires `name` as the arguments say: the shared path of `acquire` and `run`.
pub(crate) async fn take(
    client: &tumbler_redlock::Redlock,
    name: &str,
    ttl: Duration,
    wait: Duration,
    fenced: bool,
) -> Result<Lock, Fail> {
    let retry = if wait.is_zero() { Retry::none() } else { Retry::for_up_to(wait, client.options()) };
    let r = if fenced {
        client.acquire_fenced(name, ttl, retry).await
    } else {
        client.acquire_with(name, ttl, retry).await
    };
    r.map_err(|e| {
        let mut f = Fail::from(e);
        f.msg = format!("lock {name:?} not acquired: {}", f.msg);
        f
    })
}

pub(crate) async fn acquire(a: AcquireArgs) -> Result<u8, Fail> {
    let client = a.conn.client()?;
    let lock = take(&client, &a.name, a.ttl, a.wait, a.fenced).await?;
    let validity = lock.validity().map_or(0, millis);
    if a.conn.json {
        print_json(&json!({
            "lock": a.name,
            "token": lock.token().to_string(),
            "fencing_token": lock.fencing_token(),
            "ttl_ms": millis(a.ttl),
            "validity_ms": validity,
        }));
    } else {
        println!("{}", lock.token());
        if let Some(t) = lock.fencing_token() {
            println!("fencing token {t}");
        }
        eprintln!("acquired {:?} for {} ms (valid for {validity} ms)", a.name, millis(a.ttl));
    }
    Ok(0)
}

/// A token as printed by `acquire`: text, or `0x…` hex for binary values.
fn token(text: &str) -> Result<Token, Fail> {
    match text.strip_prefix("0x") {
        Some(h) => Token::from_hex(h).map_err(|e| Fail::new(2, format!("--token: {e}"))),
        None if text.is_empty() => Err(Fail::new(2, "--token: empty")),
        None => Ok(Token::from_bytes(text.as_bytes())),
    }
}

pub(crate) async fn release(a: ReleaseArgs) -> Result<u8, Fail> {
    let client = a.conn.client()?;
    let lock = Lock::from_parts(a.name.as_bytes(), token(&a.token)?, None);
    let released = client.release(&lock).await?;
    let nodes = client.nodes().len();
    if a.conn.json {
        print_json(&json!({ "lock": a.name, "released": released, "nodes": nodes }));
    } else if released > 0 {
        eprintln!("released {:?} on {released} of {nodes} nodes", a.name);
    } else {
        eprintln!("{:?} is not held with this token", a.name);
    }
    Ok(if released > 0 { 0 } else { exit::NOT_HELD })
}

pub(crate) async fn extend(a: ExtendArgs) -> Result<u8, Fail> {
    let client = a.conn.client()?;
    let mut lock = Lock::from_parts(a.name.as_bytes(), token(&a.token)?, None);
    let r = client.extend(&mut lock, a.ttl).await;
    let ok = match r {
        Ok(()) => true,
        Err(tumbler_redlock::Error::NotHeld) => false,
        Err(e) => return Err(e.into()),
    };
    if a.conn.json {
        print_json(&json!({
            "lock": a.name,
            "extended": ok,
            "ttl_ms": millis(a.ttl),
            "validity_ms": lock.validity().map_or(0, millis),
        }));
    } else if ok {
        eprintln!("extended {:?} to {} ms", a.name, millis(a.ttl));
    } else {
        eprintln!("{:?} is not held with this token", a.name);
    }
    Ok(if ok { 0 } else { exit::NOT_HELD })
}

/// A stored value as `acquire` would print it.
fn hex(b: &[u8]) -> String {
    Token::from_bytes(b.to_vec()).to_string()
}

pub(crate) async fn status(a: StatusArgs) -> Result<u8, Fail> {
    let client = a.conn.client()?;
    let reports = client.status(&a.name).await;
    let total = reports.len();
    let quorum = client.quorum();
    // The value held by the most nodes, and on how many.
    let mut counts: Vec<(Vec<u8>, usize)> = Vec::new();
    for (_, r) in &reports {
        if let Ok(s) = r {
            if let Some(v) = &s.value {
                match counts.iter_mut().find(|(k, _)| k == v) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((v.clone(), 1)),
                }
            }
        }
    }
    let top = counts.into_iter().max_by_key(|(_, n)| *n);
    let (holder, held_on) = match &top {
        Some((v, n)) => (Some(hex(v)), *n),
        None => (None, 0),
    };
    let reachable = reports.iter().filter(|(_, r)| r.is_ok()).count();
    if a.conn.json {
        let nodes: Vec<Value> = reports
            .iter()
            .map(|(node, r)| match r {
                Ok(s) => json!({
                    "node": node,
                    "ok": true,
                    "present": s.present,
                    "value": s.value.as_deref().map(hex),
                    "pttl": s.pttl,
                    "lock_commands": s.lock_commands,
                    "info": s.info.as_ref().map(|i| json!({
                        "owner": hex(&i.owner),
                        "token": i.token,
                        "pttl": i.pttl,
                        "acquired_at_ms": i.acquired_at_ms,
                        "extensions": i.extensions,
                    })),
                }),
                Err(e) => json!({ "node": node, "ok": false, "error": e.to_string() }),
            })
            .collect();
        print_json(&json!({
            "lock": a.name,
            "nodes": nodes,
            "reachable": reachable,
            "quorum": quorum,
            "holder": holder,
            "held_on": held_on,
            "held_by_majority": held_on >= quorum,
        }));
    } else {
        let summary = match &holder {
            Some(h) if held_on >= quorum => format!("held on {held_on}/{total} nodes (a majority) by {h}"),
            Some(h) => format!("held on only {held_on}/{total} nodes (no majority) by {h}"),
            None => format!("free on all {reachable} nodes that answered"),
        };
        println!("lock {:?}: {summary}", a.name);
        for (node, r) in &reports {
            match r {
                Ok(s) if s.present => {
                    let mut line = format!("  {node:<22} held  pttl {} ms", s.pttl);
                    if let Some(i) = &s.info {
                        line.push_str(&format!("  fencing token {}  extensions {}", i.token, i.extensions));
                    }
                    if let Some(v) = &s.value {
                        line.push_str(&format!("  owner {}", hex(v)));
                    }
                    println!("{line}");
                }
                Ok(_) => println!("  {node:<22} free"),
                Err(e) => println!("  {node:<22} error: {e}"),
            }
        }
    }
    Ok(if reachable >= quorum { 0 } else { exit::UNAVAILABLE })
}
