//! What each fuzz target does with one input, kept apart from libFuzzer so the integration tests
//! replay the seed corpus through exactly the same code (`tests/it/hostile.rs` includes this
//! file with `#[path]`; it may therefore use only crates the tests package depends on).
//!
//! Beyond "does not panic", each target checks properties that must hold for any input:
//!
//! - `proto`: the request parser gives the same requests whether the bytes arrive at once or in
//!   pieces (down to one byte at a time), always makes progress, and never claims more than it
//!   was given; reading ahead sees a prefix of the requests it then returns, each with the
//!   length the parser consumes;
//! - `acl`: whatever SETUSER / ACL LOAD / `user` directives accept, ACL SAVE writes a file that
//!   ACL LOAD accepts again and that saves back to the same text;
//! - `conf`: configuration text either fails with an error naming a line or applies.

use std::sync::{Arc, OnceLock};
use tumbler_commands::tumbler_acl::{Acl, Catalog, ConfigUsers};
use tumbler_proto::{Limits, ParseError, Parser, Step};

/// Requests, where each ended in the input, the bytes consumed, and the error (if any) that
/// ended parsing.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    requests: Vec<Vec<Vec<u8>>>,
    ends: Vec<usize>,
    consumed: usize,
    error: Option<ParseError>,
}

/// Feeds `input` to one parser as a connection would receive it: the bytes up to each of `ends`
/// become readable in turn, and after each arrival every complete request is taken out.
fn parse_arrivals(input: &[u8], limits: Limits, ends: impl Iterator<Item = usize>) -> Parsed {
    let mut p = Parser::new();
    let mut out = Parsed { requests: Vec::new(), ends: Vec::new(), consumed: 0, error: None };
    let off = &mut out.consumed;
    for end in ends {
        loop {
            let buffered = end - *off;
            match p.next(&input[*off..end], limits) {
                Ok(Step::Request { args, consumed }) => {
                    assert!(consumed > 0 && consumed <= buffered, "request consumed {consumed} of {buffered}");
                    assert!(!args.is_empty(), "a request without a command name");
                    assert_eq!(args.iter().len(), args.len());
                    assert!(args.total_bytes() <= consumed);
                    out.requests.push(args.iter().map(<[u8]>::to_vec).collect());
                    *off += consumed;
                    out.ends.push(*off);
                }
                Ok(Step::Skip { consumed }) => {
                    assert!(consumed > 0 && consumed <= buffered, "skip consumed {consumed} of {buffered}");
                    *off += consumed;
                }
                Ok(Step::Incomplete { need }) => {
                    assert!(need > buffered, "need {need} must exceed the {buffered} bytes buffered");
                    break;
                }
                Err(e) => {
                    // Every framing error has a one-line reply (the connection then closes).
                    let msg = e.message_bytes();
                    assert!(msg.starts_with(b"ERR Protocol error: "), "{msg:?}");
                    assert!(!msg.contains(&b'\n'), "{msg:?}");
                    out.error = Some(e);
                    return out;
                }
            }
        }
    }
    out
}

/// True for the errors that depend on how much happened to be buffered (Redis' 64 KB limits on
/// a line without its end): where they strike depends on where reads were cut, in Redis too.
fn buffer_dependent(e: Option<ParseError>) -> bool {
    matches!(e, Some(ParseError::TooBigInline | ParseError::TooBigMbulkCount | ParseError::TooBigBulkCount))
}

/// Fuzz target `proto`: the resumable request parser (`tumbler_proto::Parser`).
///
/// Byte 0 picks the limits (bit 0: a small `proto-max-bulk-len`; bit 1: unauthenticated) and
/// the size of the pieces the rest arrives in (bits 2–7: 1 to 64 bytes). The rest is the bytes
/// a client sends. Parsing it whole and in pieces must give the same requests and the same error.
pub fn proto(data: &[u8]) {
    let Some((&opts, input)) = data.split_first() else { return };
    let limits = Limits {
        max_bulk_len: if opts & 1 != 0 { 64 } else { Limits::default().max_bulk_len },
        unauthenticated: opts & 2 != 0,
    };
    let piece = usize::from(opts >> 2) + 1;
    let whole = parse_arrivals(input, limits, std::iter::once(input.len()));
    let pieces = parse_arrivals(input, limits, (piece..input.len()).step_by(piece).chain(std::iter::once(input.len())));
    if buffer_dependent(whole.error) || buffer_dependent(pieces.error) {
        // One run stopped at a size limit the other did not reach: up to there, they agree.
        let n = whole.requests.len().min(pieces.requests.len());
        assert_eq!(whole.requests[..n], pieces.requests[..n]);
        assert_eq!(whole.ends[..n], pieces.ends[..n]);
    } else {
        assert_eq!(whole, pieces, "whole vs pieces of {piece} bytes");
    }
    // Reading ahead (as a pipelining connection does to prefetch keys and parse each request
    // once) sees the requests the parser then returns, in order, each as long as the parser
    // consumes: a prefix of them, at most as many as asked for.
    let max = usize::from(opts >> 4) + 1;
    let mut peeked: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut ends = Vec::new();
    let mut at = 0;
    tumbler_proto::peek_requests(input, limits, max, &mut Vec::new(), |args, consumed| {
        peeked.push(args.iter().map(<[u8]>::to_vec).collect());
        at += consumed;
        ends.push(at);
    });
    assert!(peeked.len() <= max);
    let n = peeked.len().min(whole.requests.len());
    assert_eq!(peeked[..], whole.requests[..n], "read-ahead");
    assert_eq!(ends[..], whole.ends[..n], "read-ahead request lengths");
    // The inline splitter on its own, as the config parser and redis-cli style input use it.
    let _ = tumbler_proto::split_args(input);
}

/// The command catalog of the real command table, built once per process.
fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    Arc::clone(CATALOG.get_or_init(|| Arc::new(tumbler_commands::Registry::new().catalog())))
}

/// Fuzz target `acl`: ACL rules as ACL SETUSER, the ACL file and `user` directives give them.
///
/// Byte 0 picks the entry point (modulo 3): 0 = each line is `name rule rule…` for ACL SETUSER,
/// split like an inline command (quotes allowed); 1 = the rest is an ACL file for ACL LOAD;
/// 2 = each line is the arguments of a config-file `user` directive. Afterwards the users are
/// listed (ACL GETUSER), saved, loaded back into a fresh table and saved again: the two saved
/// texts must be equal.
pub fn acl(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let cat = catalog();
    let mut acl = Acl::new(Arc::clone(&cat));
    match mode % 3 {
        0 => {
            for line in rest.split(|&b| b == b'\n') {
                let Some(argv) = tumbler_proto::split_args(line) else { continue };
                if let Some((name, rules)) = argv.split_first() {
                    if let Err(e) = acl.setuser(name, rules) {
                        let _ = e.reply();
                    }
                }
            }
        }
        1 => {
            if let Err(e) = acl.load_text("fuzz.acl", rest) {
                let _ = e.reply();
            }
        }
        _ => {
            let mut pending = ConfigUsers::default();
            for line in rest.split(|&b| b == b'\n') {
                let Some(args) = tumbler_proto::split_args(line) else { continue };
                let argv: Vec<&[u8]> =
                    std::iter::once(b"user".as_slice()).chain(args.iter().map(Vec::as_slice)).collect();
                let _ = pending.add(&argv, &acl);
            }
            let _ = acl.apply_config_users(&pending);
        }
    }
    let names: Vec<Vec<u8>> = acl.usernames().map(<[u8]>::to_vec).collect();
    for name in &names {
        assert!(acl.getuser(name).is_some(), "a listed user must be found");
    }
    let _ = acl.list();
    let saved = acl.save_text();
    let mut again = Acl::new(cat);
    if let Err(e) = again.load_text("saved.acl", &saved) {
        panic!("ACL SAVE wrote a file ACL LOAD refuses: {}\n{}", e.0, String::from_utf8_lossy(&saved));
    }
    let resaved = again.save_text();
    assert!(
        resaved == saved,
        "saving a loaded ACL file changed it:\n{}\n---\n{}",
        String::from_utf8_lossy(&saved),
        String::from_utf8_lossy(&resaved)
    );
}

/// Fuzz target `conf`: `tumbler_server::conf::parse_text` then `apply` to a default
/// configuration, as startup reads a config file. The input is taken as UTF-8 (lossily).
/// The same lines are also given to `parse_args` as a command line would be.
pub fn conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match tumbler_server::conf::parse_text(&text, "fuzz.conf") {
        Ok(directives) => {
            for d in &directives {
                assert!(d.origin.starts_with("fuzz.conf:"), "{}", d.origin);
            }
            let mut cfg = tumbler_commands::Config::default();
            if let Err(e) = tumbler_server::conf::apply(&mut cfg, &directives) {
                assert!(e.origin.starts_with("fuzz.conf:"), "{}", e.origin);
                let _ = e.to_string();
            }
        }
        Err(e) => {
            assert!(e.origin.starts_with("fuzz.conf:"), "{}", e.origin);
            let _ = e.to_string();
        }
    }
    let args: Vec<String> = text.lines().map(str::to_string).collect();
    if let Ok(cl) = tumbler_server::conf::parse_args(&args) {
        if !cl.directives.is_empty() {
            let _ = tumbler_server::conf::apply(&mut tumbler_commands::Config::default(), &cl.directives);
        }
    }
}
