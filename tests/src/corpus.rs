//! The differential corpus: parsing `tests/corpus/*.redis`, running a case against a server, and
//! comparing two servers' replies under the masks the case declares (see tests/corpus/README.md).

use crate::resp::{parse, RawConn, ReadError, Value};
use regex::bytes::Regex;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub name: String,
    pub protos: Vec<u8>,
    pub steps: Vec<(usize, String)>,
}

/// Parses a corpus file.
pub fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case {
                file: file.clone(),
                name: name.trim().to_string(),
                protos: vec![2, 3],
                steps: Vec::new(),
            });
            continue;
        }
        let case = cases.last_mut().unwrap_or_else(|| panic!("{file}:{}: step before the first case", i + 1));
        match line.trim() {
            "@resp2" => case.protos = vec![2],
            "@resp3" => case.protos = vec![3],
            _ => case.steps.push((i + 1, line.to_string())),
        }
    }
    cases
}

/// A mask from a `## ...` suffix.
#[derive(Debug, Clone)]
pub enum Mask {
    Int,
    Approx(i64),
    Bulk,
    Sorted,
    Type,
    Re(Regex),
}

/// Splits `cmd  ## masks` into the command text and its masks.
pub fn split_masks(line: &str) -> (String, Vec<Mask>) {
    let Some((cmd, m)) = line.split_once("  ## ") else { return (line.to_string(), Vec::new()) };
    let mut masks = Vec::new();
    let mut rest = m.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("re ") {
            let r = r.trim_start();
            let end = r[1..].find('/').map(|i| i + 1).expect("re /.../ needs a closing slash");
            masks.push(Mask::Re(Regex::new(&r[1..end]).expect("valid regex")));
            rest = r[end + 1..].trim_start();
            continue;
        }
        let (tok, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = tail.trim_start();
        match tok {
            "int" => masks.push(Mask::Int),
            "bulk" => masks.push(Mask::Bulk),
            "sorted" => masks.push(Mask::Sorted),
            "type" => masks.push(Mask::Type),
            "approx" => {
                let (n, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                masks.push(Mask::Approx(n.parse().expect("approx N")));
                rest = tail.trim_start();
            }
            other => panic!("unknown mask {other}"),
        }
    }
    (cmd.to_string(), masks)
}

/// Splits a command line like redis-cli (sdssplitargs).
pub fn args_of(cmd: &str) -> Vec<Vec<u8>> {
    tumbler_proto::split_args(cmd.as_bytes()).unwrap_or_else(|| panic!("unbalanced quotes in {cmd:?}"))
}

/// What one step produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub line_no: usize,
    pub line: String,
    pub reply: Vec<u8>,
    pub masks: Vec<Mask>,
}

const CLOSED: &[u8] = b"<closed>";

struct Conns {
    addr: SocketAddr,
    proto: u8,
    map: HashMap<usize, RawConn>,
}

impl Conns {
    fn get(&mut self, n: usize) -> &mut RawConn {
        let (addr, proto) = (self.addr, self.proto);
        self.map.entry(n).or_insert_with(|| {
            let mut c = RawConn::connect(addr).expect("connect");
            if proto == 3 {
                c.cmd_str(&["HELLO", "3"]);
            }
            c
        })
    }
}

/// Waits until the server lists only one client (the probe itself), so connections closed by
/// the previous case are gone before this one looks at CLIENT LIST.
fn quiesce(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut probe = RawConn::connect(addr).expect("connect");
    while Instant::now() < deadline {
        let r = probe.cmd_str(&["CLIENT", "LIST"]);
        let (v, _) = parse(&r);
        if v.text().lines().filter(|l| !l.is_empty()).count() <= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Leave with QUIT and wait for the close: by then the server has forgotten the probe too.
    let _ = probe.raw(b"QUIT\r\n", Duration::from_millis(500));
}

/// Runs a case against the server at `addr` in protocol `proto`.
pub fn run_case(addr: SocketAddr, case: &Case, proto: u8) -> Vec<Outcome> {
    quiesce(addr);
    let mut conns = Conns { addr, proto, map: HashMap::new() };
    conns.get(1).cmd_str(&["FLUSHALL"]);
    let mut cur = 1usize;
    let mut out = Vec::new();
    for (line_no, line) in &case.steps {
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse::<u64>().unwrap().min(300)));
            continue;
        }
        if let Some(ms) = line.strip_prefix("!await ") {
            let limit = Duration::from_millis(ms.trim().parse::<u64>().unwrap());
            conns.get(cur).await_data(limit);
            continue;
        }
        if let Some(n) = line.strip_prefix("!conn ") {
            cur = n.trim().parse().unwrap();
            conns.get(cur);
            continue;
        }
        if let Some(data) = line.strip_prefix("!raw ") {
            let bytes = args_of(data).remove(0);
            let r = conns.get(cur).raw(&bytes, Duration::from_millis(150));
            conns.map.remove(&cur);
            out.push(Outcome { line_no: *line_no, line: line.clone(), reply: r, masks: Vec::new() });
            continue;
        }
        if let Some(rest) = line.strip_prefix("!scanall ") {
            let (cmd, _) = split_masks(rest);
            let mut cursor = b"0".to_vec();
            let mut elems = BTreeSet::new();
            let mut error = None;
            loop {
                let args: Vec<Vec<u8>> =
                    args_of(&cmd).into_iter().map(|a| if a == b"{}" { cursor.clone() } else { a }).collect();
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                let r = conns.get(cur).cmd(&refs).expect("scan reply");
                match parse(&r).0 {
                    Value::Array(items) if items.len() == 2 => {
                        cursor = match &items[0] {
                            Value::Bulk(b) => b.clone(),
                            other => panic!("cursor {other:?}"),
                        };
                        if let Value::Array(keys) | Value::Set(keys) = &items[1] {
                            for k in keys {
                                if let Value::Bulk(b) = k {
                                    elems.insert(b.clone());
                                }
                            }
                        }
                        if cursor == b"0" {
                            break;
                        }
                    }
                    _ => {
                        error = Some(r);
                        break;
                    }
                }
            }
            let reply = error.unwrap_or_else(|| format!("{elems:?}").into_bytes());
            out.push(Outcome { line_no: *line_no, line: line.clone(), reply, masks: Vec::new() });
            continue;
        }
        let (cmd, masks) = split_masks(line);
        let args = args_of(&cmd);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let reply = match conns.get(cur).cmd(&refs) {
            Ok(r) => r,
            Err(ReadError::Closed) => {
                conns.map.remove(&cur);
                CLOSED.to_vec()
            }
            Err(ReadError::Other(e)) => format!("<error: {e}>").into_bytes(),
        };
        out.push(Outcome { line_no: *line_no, line: line.clone(), reply, masks });
    }
    out
}

fn canon(v: &Value) -> String {
    format!("{v:?}")
}

/// Compares two replies under `masks`.
pub fn same(a: &[u8], b: &[u8], masks: &[Mask]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    for m in masks {
        if let Mask::Re(rx) = m {
            a = rx.replace_all(&a, &b"*"[..]).into_owned();
            b = rx.replace_all(&b, &b"*"[..]).into_owned();
        }
    }
    let mut ok = a == b;
    for m in masks {
        ok = match m {
            Mask::Re(_) => continue,
            Mask::Int => a.first() == Some(&b':') && b.first() == Some(&b':'),
            Mask::Approx(n) => {
                let int = |x: &[u8]| -> Option<i64> {
                    std::str::from_utf8(x.strip_prefix(b":")?.strip_suffix(b"\r\n")?).ok()?.parse().ok()
                };
                matches!((int(&a), int(&b)), (Some(x), Some(y)) if (x - y).abs() <= *n)
            }
            Mask::Bulk => {
                let bulk = |x: &[u8]| matches!(x.first(), Some(b'$') | Some(b'=')) && !x.starts_with(b"$-1");
                bulk(&a) && bulk(&b)
            }
            Mask::Type => a.first() == b.first(),
            Mask::Sorted => {
                if a.is_empty() || b.is_empty() || !matches!(a[0], b'*' | b'~' | b'%') || a[0] != b[0] {
                    false
                } else {
                    let items = |v: Value| -> Vec<String> {
                        match v {
                            Value::Map(pairs) => {
                                let mut s: Vec<String> =
                                    pairs.iter().map(|(k, v)| format!("{}={}", canon(k), canon(v))).collect();
                                s.sort();
                                s
                            }
                            Value::Array(xs) | Value::Set(xs) => {
                                let mut s: Vec<String> = xs.iter().map(canon).collect();
                                s.sort();
                                s
                            }
                            other => vec![canon(&other)],
                        }
                    };
                    items(parse(&a).0) == items(parse(&b).0)
                }
            }
        };
    }
    ok
}

/// One differing reply.
#[derive(Debug)]
pub struct Diff {
    pub case: String,
    pub proto: u8,
    pub line_no: usize,
    pub line: String,
    pub redis: Vec<u8>,
    pub tumbler: Vec<u8>,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RESP{} line {} [{}] {}\n   redis:   {}\n   tumbler: {}",
            self.proto,
            self.line_no,
            self.case,
            self.line,
            String::from_utf8_lossy(&self.redis).escape_debug(),
            String::from_utf8_lossy(&self.tumbler).escape_debug()
        )
    }
}

/// Runs `case` against both servers in every protocol it declares; returns the differences.
pub fn diff_case(redis: SocketAddr, tumbler: SocketAddr, case: &Case) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for &proto in &case.protos {
        let a = run_case(redis, case, proto);
        let b = run_case(tumbler, case, proto);
        for (x, y) in a.iter().zip(b.iter()) {
            if !same(&x.reply, &y.reply, &x.masks) {
                diffs.push(Diff {
                    case: case.name.clone(),
                    proto,
                    line_no: x.line_no,
                    line: x.line.clone(),
                    redis: x.reply.clone(),
                    tumbler: y.reply.clone(),
                });
            }
        }
        if a.len() != b.len() {
            diffs.push(Diff {
                case: case.name.clone(),
                proto,
                line_no: 0,
                line: "<different number of steps>".into(),
                redis: vec![],
                tumbler: vec![],
            });
        }
    }
    diffs
}

/// Cases listed in `tests/corpus/<list>` (`PENDING`: not passing yet, with the issue that will
/// make them pass; `DIFFERENT`: different on purpose), as `(file, case name)` pairs.
pub fn listed(corpus_dir: &Path, list: &str) -> BTreeSet<(String, String)> {
    let Ok(text) = std::fs::read_to_string(corpus_dir.join(list)) else { return BTreeSet::new() };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let l = l.split("  #").next()?;
            let (f, c) = l.split_once(": ")?;
            Some((f.trim().to_string(), c.trim().to_string()))
        })
        .collect()
}
