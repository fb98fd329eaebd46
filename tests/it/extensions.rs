//! tumbler's extensions over Redis 7.0: DELEX and DIGEST and SET's IFEQ / IFNE / IFDEQ / IFDNE
//! (Redis 8.4) and DELIFEQ (Valkey 9.0). No such server is installed here, so these are
//! expectation tests written from those servers' documentation, command JSON and test suites:
//! every reply is checked byte for byte, in RESP2 and in RESP3, on a clock the test moves by hand.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use tumbler_expiry::ManualClock;
use tumbler_tests::resp::RawConn;
use tumbler_tests::Tumbler;

const OK: &[u8] = b"+OK\r\n";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_STRING: &str = "ERR Key should be of string type if conditions are specified";
const BAD_CONDITION: &str = "ERR Invalid condition. Use IFEQ, IFNE, IFDEQ, or IFDNE";
const BAD_DIGEST: &str = "ERR must be exactly 16 hexadecimal characters";

/// The protocol a connection speaks (only null differs among the replies checked here).
#[derive(Clone, Copy, Debug)]
enum Proto {
    Resp2,
    Resp3,
}

impl Proto {
    fn nil(self) -> &'static [u8] {
        match self {
            Proto::Resp2 => b"$-1\r\n",
            Proto::Resp3 => b"_\r\n",
        }
    }
}

fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", b.len()).into_bytes();
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

fn err(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// A connection and the protocol it speaks.
struct Conn {
    c: RawConn,
    p: Proto,
}

impl Conn {
    fn run(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.c.cmd(args).unwrap_or_else(|e| panic!("{:?}: {e:?}", args.iter().map(|a| show(a)).collect::<Vec<_>>()))
    }

    /// Sends `args` and checks the reply byte for byte.
    #[track_caller]
    fn expect(&mut self, args: &[&[u8]], want: &[u8]) {
        let got = self.run(args);
        assert_eq!(show(&got), show(want), "{:?} ({:?})", args.iter().map(|a| show(a)).collect::<Vec<_>>(), self.p);
    }

    fn nil(&self) -> &'static [u8] {
        self.p.nil()
    }
}

/// A server on a manual clock, and a function that runs a scenario once per protocol on a
/// fresh keyspace.
fn server() -> (ManualClock, Tumbler) {
    let clock = ManualClock::new(10_000_000, 1_700_000_000_000 - 10_000_000);
    let t = Tumbler::start_with(&[], Some(Arc::new(clock.clone())));
    (clock, t)
}

fn each_protocol(t: &Tumbler, mut scenario: impl FnMut(&mut Conn)) {
    for p in [Proto::Resp2, Proto::Resp3] {
        let mut c = Conn { c: RawConn::connect(t.addr()).unwrap(), p };
        if let Proto::Resp3 = p {
            let hello = c.run(&[b"HELLO", b"3"]);
            assert!(hello.starts_with(b"%"), "{}", show(&hello));
        }
        c.expect(&[b"FLUSHALL"], OK);
        scenario(&mut c);
    }
}

/// 20 random bytes, the shape of a lock token (any byte may appear, CR, LF and NUL included).
fn token() -> Vec<u8> {
    let s = std::collections::hash_map::RandomState::new();
    (0..20u64)
        .map(|i| {
            let mut h = s.build_hasher();
            h.write_u64(i);
            h.finish() as u8
        })
        .collect()
}

/// A binary token that certainly holds the bytes a text protocol would trip over.
const NASTY: &[u8] = b"\x00tok\r\nen\xff\x00\x01 \"'\\$-1\r\n*";

// ------------------------------------------------------------------------------------ DELIFEQ

#[test]
fn delifeq_deletes_only_the_holders_token() {
    let (clock, t) = server();
    each_protocol(&t, |c| {
        let tok = token();
        let other = token();
        c.expect(&[b"DELIFEQ", b"lock", &tok], &int(0));
        c.expect(&[b"SET", b"lock", &tok, b"NX", b"PX", b"10000"], OK);
        c.expect(&[b"DELIFEQ", b"lock", &other], &int(0));
        c.expect(&[b"DELIFEQ", b"lock", &tok[..19]], &int(0));
        let mut longer = tok.clone();
        longer.push(0);
        c.expect(&[b"DELIFEQ", b"lock", &longer], &int(0));
        c.expect(&[b"GET", b"lock"], &bulk(&tok));
        c.expect(&[b"delifeq", b"lock", &tok], &int(1));
        c.expect(&[b"EXISTS", b"lock"], &int(0));
        c.expect(&[b"DELIFEQ", b"lock", &tok], &int(0));

        c.expect(&[b"SET", b"nasty", NASTY], OK);
        c.expect(&[b"DeLiFeQ", b"nasty", NASTY], &int(1));

        // An integer-encoded value compares as its decimal text, byte for byte.
        c.expect(&[b"SET", b"n", b"123"], OK);
        c.expect(&[b"DELIFEQ", b"n", b"0123"], &int(0));
        c.expect(&[b"DELIFEQ", b"n", b"123 "], &int(0));
        c.expect(&[b"DELIFEQ", b"n", b"123"], &int(1));
        c.expect(&[b"SET", b"empty", b""], OK);
        c.expect(&[b"DELIFEQ", b"empty", b"x"], &int(0));
        c.expect(&[b"DELIFEQ", b"empty", b""], &int(1));

        // Another type is WRONGTYPE and stays.
        c.expect(&[b"RPUSH", b"list", b"a"], &int(1));
        c.expect(&[b"DELIFEQ", b"list", b"a"], &err(WRONGTYPE));
        c.expect(&[b"EXISTS", b"list"], &int(1));

        c.expect(&[b"DELIFEQ", b"k"], &err("ERR wrong number of arguments for 'delifeq' command"));
        c.expect(&[b"DELIFEQ", b"k", b"a", b"b"], &err("ERR wrong number of arguments for 'delifeq' command"));

        // A lock that expired is gone: its holder cannot delete a successor's lock either.
        c.expect(&[b"SET", b"lock", &tok, b"PX", b"100"], OK);
        clock.advance_ms(100);
        c.expect(&[b"DELIFEQ", b"lock", &other], &int(0));
        c.expect(&[b"EXISTS", b"lock"], &int(1));
        clock.advance_ms(1);
        c.expect(&[b"DELIFEQ", b"lock", &tok], &int(0));
        c.expect(&[b"SET", b"lock", &other, b"NX", b"PX", b"100"], OK);
        c.expect(&[b"DELIFEQ", b"lock", &tok], &int(0));
        c.expect(&[b"GET", b"lock"], &bulk(&other));
    });
}

// -------------------------------------------------------------------------------------- DIGEST

#[test]
fn digest_is_xxh3_in_sixteen_lower_case_hex_digits() {
    let (clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        c.expect(&[b"DIGEST", b"missing"], nil);
        // redis.io's DIGEST example.
        c.expect(&[b"SET", b"key1", b"Hello world"], OK);
        c.expect(&[b"DIGEST", b"key1"], &bulk(b"b6acb9d84a38ff74"));
        // Redis' test suite: the leading zeros are kept.
        let long: &[u8] =
            b"v8lf0c11xh8ymlqztfd3eeq16kfn4sspw7fqmnuuq3k3t75em5wdizgcdw7uc26nnf961u2jkfzkjytls2kwlj7626sd";
        c.expect(&[b"SET", b"foo", long], OK);
        c.expect(&[b"digest", b"foo"], &bulk(b"00006c38adf31777"));
        c.expect(&[b"SET", b"e", b""], OK);
        c.expect(&[b"DIGEST", b"e"], &bulk(b"2d06800538d394c2"));
        // An integer (int-encoded, and after INCR) digests its decimal text.
        c.expect(&[b"SET", b"n", b"122"], OK);
        c.expect(&[b"INCR", b"n"], &int(123));
        c.expect(&[b"DIGEST", b"n"], &bulk(b"404a763b3f4c8c9a"));

        // Any binary value: 16 lower-case hex digits, which IFDEQ accepts back.
        let tok = token();
        c.expect(&[b"SET", b"tok", &tok], OK);
        let d = c.run(&[b"DIGEST", b"tok"]);
        assert!(d.starts_with(b"$16\r\n") && d.len() == 23, "{}", show(&d));
        assert!(d[5..21].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)), "{}", show(&d));
        c.expect(&[b"DIGEST", b"tok"], &d);
        c.expect(&[b"SET", b"tok2", &tok], OK);
        c.expect(&[b"DIGEST", b"tok2"], &d);
        c.expect(&[b"DELEX", b"tok", b"IFDEQ", &d[5..21]], &int(1));

        c.expect(&[b"HSET", b"h", b"f", b"v"], &int(1));
        c.expect(&[b"DIGEST", b"h"], &err(WRONGTYPE));
        c.expect(&[b"DIGEST"], &err("ERR wrong number of arguments for 'digest' command"));
        c.expect(&[b"DIGEST", b"a", b"b"], &err("ERR wrong number of arguments for 'digest' command"));

        c.expect(&[b"SET", b"short", b"x", b"PX", b"50"], OK);
        clock.advance_ms(51);
        c.expect(&[b"DIGEST", b"short"], nil);
    });
}

// --------------------------------------------------------------------------------------- DELEX

#[test]
fn delex_without_a_condition_is_del_of_one_key() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        c.expect(&[b"DELEX", b"k"], &int(0));
        c.expect(&[b"SET", b"k", b"v"], OK);
        c.expect(&[b"DELEX", b"k"], &int(1));
        c.expect(&[b"EXISTS", b"k"], &int(0));
        c.expect(&[b"RPUSH", b"k", b"a"], &int(1));
        c.expect(&[b"delex", b"k"], &int(1));
        c.expect(&[b"ZADD", b"z", b"1", b"m"], &int(1));
        c.expect(&[b"DELEX", b"z"], &int(1));
        c.expect(&[b"DELEX"], &err("ERR wrong number of arguments for 'delex' command"));
    });
}

#[test]
fn delex_value_conditions() {
    let (clock, t) = server();
    each_protocol(&t, |c| {
        let tok = token();
        let other = token();
        c.expect(&[b"SET", b"lock", &tok, b"PX", b"10000"], OK);
        c.expect(&[b"DELEX", b"lock", b"IFEQ", &other], &int(0));
        c.expect(&[b"DELEX", b"lock", b"IFNE", &tok], &int(0));
        c.expect(&[b"GET", b"lock"], &bulk(&tok));
        c.expect(&[b"PTTL", b"lock"], &int(10000));
        c.expect(&[b"DELEX", b"lock", b"ifeq", &tok], &int(1));
        c.expect(&[b"EXISTS", b"lock"], &int(0));

        c.expect(&[b"SET", b"lock", NASTY], OK);
        c.expect(&[b"DELEX", b"lock", b"IfNe", NASTY], &int(0));
        c.expect(&[b"DELEX", b"lock", b"IFNE", &other], &int(1));

        // Bytes, not numbers.
        c.expect(&[b"SET", b"n", b"0123"], OK);
        c.expect(&[b"DELEX", b"n", b"IFEQ", b"123"], &int(0));
        c.expect(&[b"DELEX", b"n", b"IFNE", b"123"], &int(1));
        c.expect(&[b"SET", b"n", b"123"], OK);
        c.expect(&[b"DELEX", b"n", b"IFEQ", b"123"], &int(1));

        // A missing key answers 0 whatever the condition, even one that does not exist or a
        // malformed digest: nothing is looked at before the key.
        for cond in [&b"IFEQ"[..], b"IFNE", b"IFDEQ", b"IFDNE", b"FOO"] {
            c.expect(&[b"DELEX", b"missing", cond, b"x"], &int(0));
        }
        // Another type: the string-type error (before the condition's name), and it stays.
        c.expect(&[b"SADD", b"set", b"a"], &int(1));
        for cond in [&b"IFEQ"[..], b"IFNE", b"IFDEQ", b"IFDNE", b"FOO"] {
            c.expect(&[b"DELEX", b"set", cond, b"a"], &err(NOT_STRING));
        }
        c.expect(&[b"EXISTS", b"set"], &int(1));
        // A string with an unknown condition.
        c.expect(&[b"SET", b"k", b"v"], OK);
        for cond in [&b"FOO"[..], b"IF", b"EQ", b"IFEQX", b"NX", b""] {
            c.expect(&[b"DELEX", b"k", cond, b"v"], &err(BAD_CONDITION));
        }
        c.expect(&[b"GET", b"k"], &bulk(b"v"));
        // Three or five arguments: arity, on a present key and on a missing one.
        let arity = err("ERR wrong number of arguments for 'delex' command");
        for key in [&b"k"[..], b"missing"] {
            c.expect(&[b"DELEX", key, b"IFEQ"], &arity);
            c.expect(&[b"DELEX", key, b"IFEQ", b"v", b"extra"], &arity);
        }
        c.expect(&[b"GET", b"k"], &bulk(b"v"));

        // An expired key is missing.
        c.expect(&[b"SET", b"short", b"v", b"PX", b"100"], OK);
        clock.advance_ms(100);
        c.expect(&[b"DELEX", b"short", b"IFNE", b"x"], &int(1));
        c.expect(&[b"SET", b"short", b"v", b"PX", b"100"], OK);
        clock.advance_ms(101);
        c.expect(&[b"DELEX", b"short", b"IFNE", b"x"], &int(0));
        c.expect(&[b"DELEX", b"short", b"IFEQ", b"v"], &int(0));
        c.expect(&[b"DELEX", b"short"], &int(0));
    });
}

#[test]
fn delex_digest_conditions() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        c.expect(&[b"SET", b"k", b"hello"], OK);
        let d: &[u8] = b"9555e8555c62dcfd";
        c.expect(&[b"DIGEST", b"k"], &bulk(d));
        let upper = d.to_ascii_uppercase();
        c.expect(&[b"DELEX", b"k", b"IFDEQ", b"0000000000000000"], &int(0));
        c.expect(&[b"DELEX", b"k", b"IFDNE", d], &int(0));
        c.expect(&[b"DELEX", b"k", b"IFDNE", &upper], &int(0));
        c.expect(&[b"GET", b"k"], &bulk(b"hello"));
        c.expect(&[b"DELEX", b"k", b"ifdeq", &upper], &int(1));
        c.expect(&[b"SET", b"k", b"hello"], OK);
        c.expect(&[b"DELEX", b"k", b"IFDNE", b"0000000000000000"], &int(1));

        // Only the length is checked: 16 characters that are not hex simply differ.
        c.expect(&[b"SET", b"k", b"hello"], OK);
        c.expect(&[b"DELEX", b"k", b"IFDEQ", b"zzzzzzzzzzzzzzzz"], &int(0));
        c.expect(&[b"DELEX", b"k", b"IFDEQ", b"9555e8555c62dcf\x00"], &int(0));
        for bad in [&b""[..], b"0123", &d[1..], b"09555e8555c62dcfd"] {
            c.expect(&[b"DELEX", b"k", b"IFDEQ", bad], &err(BAD_DIGEST));
            c.expect(&[b"DELEX", b"k", b"IFDNE", bad], &err(BAD_DIGEST));
        }
        c.expect(&[b"GET", b"k"], &bulk(b"hello"));
        c.expect(&[b"DELEX", b"k", b"IFDNE", b"zzzzzzzzzzzzzzzz"], &int(1));

        // Integers digest their text.
        c.expect(&[b"SET", b"n", b"123"], OK);
        c.expect(&[b"DELEX", b"n", b"IFDEQ", b"404a763b3f4c8c9a"], &int(1));
    });
}

// ------------------------------------------------------------------------------------ SET IFxx

#[test]
fn set_conditions_on_present_missing_and_expired_keys() {
    let (clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        // Missing key: IFEQ / IFDEQ never create it, IFNE / IFDNE do (a digest is not even
        // checked when there is no value).
        c.expect(&[b"SET", b"k", b"v1", b"IFEQ", b"x"], nil);
        c.expect(&[b"SET", b"k", b"v1", b"IFDEQ", b"9555e8555c62dcfd"], nil);
        c.expect(&[b"SET", b"k", b"v1", b"IFDEQ", b"12"], nil);
        c.expect(&[b"EXISTS", b"k"], &int(0));
        c.expect(&[b"SET", b"k", b"v1", b"IFNE", b"x"], OK);
        c.expect(&[b"GET", b"k"], &bulk(b"v1"));
        c.expect(&[b"SET", b"k2", b"v1", b"IFDNE", b"12"], OK);
        c.expect(&[b"GET", b"k2"], &bulk(b"v1"));

        // Present key.
        c.expect(&[b"SET", b"k", b"v2", b"IFNE", b"v1"], nil);
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"v"], nil);
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"v1 "], nil);
        c.expect(&[b"GET", b"k"], &bulk(b"v1"));
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"v1"], OK);
        c.expect(&[b"GET", b"k"], &bulk(b"v2"));
        c.expect(&[b"SET", b"k", b"v3", b"IFNE", b"v1"], OK);
        c.expect(&[b"GET", b"k"], &bulk(b"v3"));
        c.expect(&[b"SET", b"empty", b""], OK);
        c.expect(&[b"SET", b"empty", b"x", b"IFNE", b""], nil);
        c.expect(&[b"SET", b"empty", b"x", b"IFEQ", b""], OK);
        c.expect(&[b"GET", b"empty"], &bulk(b"x"));

        // Digests: DIGEST's own answer, in either case.
        c.expect(&[b"SET", b"h", b"hello"], OK);
        c.expect(&[b"SET", b"h", b"x", b"IFDNE", b"9555e8555c62dcfd"], nil);
        c.expect(&[b"SET", b"h", b"x", b"IFDEQ", b"9555e8555c62dcfe"], nil);
        c.expect(&[b"GET", b"h"], &bulk(b"hello"));
        c.expect(&[b"SET", b"h", b"world", b"IFDEQ", b"9555E8555C62DCFD"], OK);
        c.expect(&[b"GET", b"h"], &bulk(b"world"));
        c.expect(&[b"SET", b"h", b"x", b"IFDNE", b"zzzzzzzzzzzzzzzz"], OK);
        for bad in [&b""[..], b"9555e8555c62dcf", b"09555e8555c62dcfd"] {
            c.expect(&[b"SET", b"h", b"y", b"IFDEQ", bad], &err(BAD_DIGEST));
            c.expect(&[b"SET", b"h", b"y", b"IFDNE", bad], &err(BAD_DIGEST));
        }
        c.expect(&[b"GET", b"h"], &bulk(b"x"));

        // A counter compares as its decimal text.
        c.expect(&[b"SET", b"c", b"10"], OK);
        c.expect(&[b"INCR", b"c"], &int(11));
        c.expect(&[b"SET", b"c", b"12", b"IFEQ", b"011"], nil);
        c.expect(&[b"SET", b"c", b"12", b"IFEQ", b"11"], OK);
        c.expect(&[b"SET", b"c", b"13", b"IFDEQ", b"404a763b3f4c8c9a"], nil);
        c.expect(&[b"GET", b"c"], &bulk(b"12"));

        // Binary tokens.
        let (a, b) = (token(), token());
        c.expect(&[b"SET", b"bin", &a], OK);
        c.expect(&[b"SET", b"bin", &b, b"IFEQ", &b], nil);
        c.expect(&[b"SET", b"bin", &b, b"IFEQ", &a], OK);
        c.expect(&[b"SET", b"bin", NASTY, b"IFNE", &a], OK);
        c.expect(&[b"SET", b"bin", &a, b"IFEQ", NASTY], OK);
        c.expect(&[b"GET", b"bin"], &bulk(&a));

        // An expired key is missing.
        c.expect(&[b"SET", b"lock", b"tokA", b"PX", b"100"], OK);
        clock.advance_ms(100);
        c.expect(&[b"SET", b"lock", b"tokA", b"IFEQ", b"tokA", b"PX", b"100"], OK);
        clock.advance_ms(101);
        c.expect(&[b"SET", b"lock", b"tokA", b"IFEQ", b"tokA", b"PX", b"100"], nil);
        c.expect(&[b"EXISTS", b"lock"], &int(0));
        c.expect(&[b"SET", b"lock", b"tokB", b"IFNE", b"tokA"], OK);
        c.expect(&[b"GET", b"lock"], &bulk(b"tokB"));
    });
}

#[test]
fn set_conditions_with_get() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        // GET answers the old value whether or not the condition let the write through.
        c.expect(&[b"SET", b"k", b"hello"], OK);
        c.expect(&[b"SET", b"k", b"world", b"IFEQ", b"different", b"GET"], &bulk(b"hello"));
        c.expect(&[b"GET", b"k"], &bulk(b"hello"));
        c.expect(&[b"SET", b"k", b"world", b"GET", b"IFEQ", b"hello"], &bulk(b"hello"));
        c.expect(&[b"GET", b"k"], &bulk(b"world"));
        c.expect(&[b"SET", b"k", b"x", b"IFNE", b"world", b"GET"], &bulk(b"world"));
        c.expect(&[b"SET", b"k", b"x", b"IFDNE", b"0000000000000000", b"GET"], &bulk(b"world"));
        c.expect(&[b"GET", b"k"], &bulk(b"x"));
        // A missing key: null, created only by IFNE / IFDNE.
        c.expect(&[b"SET", b"m", b"v", b"IFEQ", b"v", b"GET"], nil);
        c.expect(&[b"SET", b"m", b"v", b"IFDEQ", b"0000000000000000", b"GET"], nil);
        c.expect(&[b"EXISTS", b"m"], &int(0));
        c.expect(&[b"SET", b"m", b"v", b"IFNE", b"v", b"GET"], nil);
        c.expect(&[b"GET", b"m"], &bulk(b"v"));
        c.expect(&[b"DEL", b"m"], &int(1));
        c.expect(&[b"SET", b"m", b"v", b"GET", b"IFDNE", b"0"], nil);
        c.expect(&[b"GET", b"m"], &bulk(b"v"));
        // A malformed digest on a present key is the error alone (no GET answer before it):
        // the next command gets its own reply.
        c.expect(&[b"SET", b"k", b"y", b"IFDEQ", b"0", b"GET"], &err(BAD_DIGEST));
        c.expect(&[b"PING"], b"+PONG\r\n");
        c.expect(&[b"GET", b"k"], &bulk(b"x"));
    });
}

#[test]
fn set_conditions_on_other_types_are_wrongtype() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        c.expect(&[b"HSET", b"h", b"f", b"v"], &int(1));
        for cond in [&b"IFEQ"[..], b"IFNE", b"IFDEQ", b"IFDNE"] {
            c.expect(&[b"SET", b"h", b"x", cond, b"v"], &err(WRONGTYPE));
            c.expect(&[b"SET", b"h", b"x", cond, b"1234567890", b"GET"], &err(WRONGTYPE));
            c.expect(&[b"SET", b"h", b"x", cond, b"v", b"PX", b"100"], &err(WRONGTYPE));
        }
        c.expect(&[b"HGET", b"h", b"f"], &bulk(b"v"));
        // Without a condition SET still overwrites any type.
        c.expect(&[b"SET", b"h", b"x"], OK);
        c.expect(&[b"GET", b"h"], &bulk(b"x"));
    });
}

#[test]
fn set_condition_syntax() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        c.expect(&[b"SET", b"k", b"v0"], OK);
        let bad: &[&[&[u8]]] = &[
            // A condition needs its value.
            &[b"IFEQ"],
            &[b"IFNE"],
            &[b"IFDEQ"],
            &[b"IFDNE"],
            &[b"PX", b"100", b"IFEQ"],
            // NX, XX and the conditions exclude each other, in either order.
            &[b"NX", b"IFEQ", b"v0"],
            &[b"IFEQ", b"v0", b"NX"],
            &[b"XX", b"IFEQ", b"v0"],
            &[b"IFEQ", b"v0", b"XX"],
            &[b"IFNE", b"x", b"NX"],
            &[b"XX", b"IFDNE", b"0000000000000000"],
            &[b"IFDEQ", b"0000000000000000", b"xx"],
            &[b"IFEQ", b"v0", b"IFNE", b"x"],
            &[b"IFEQ", b"v0", b"IFEQ", b"v0"],
            &[b"IFDEQ", b"0000000000000000", b"IFDNE", b"0000000000000000"],
            // Still one expiration at most, and no unknown words.
            &[b"IFEQ", b"v0", b"EX", b"10", b"PX", b"100"],
            &[b"IFEQ", b"v0", b"KEEPTTL", b"PX", b"100"],
            &[b"IFEQ", b"v0", b"PERSIST"],
            &[b"IFEQUAL", b"v0"],
            &[b"IF", b"v0"],
        ];
        for opts in bad {
            let mut args: Vec<&[u8]> = vec![b"SET", b"k", b"v1"];
            args.extend_from_slice(opts);
            c.expect(&args, &err(SYNTAX));
        }
        c.expect(&[b"GET", b"k"], &bulk(b"v0"));
        // Option words are case-insensitive and in any order; the value after a condition is
        // data, even when it spells an option.
        c.expect(&[b"set", b"k", b"v1", b"px", b"5000", b"IfEq", b"v0"], OK);
        c.expect(&[b"SET", b"k", b"NX", b"ifne", b"NX"], OK);
        c.expect(&[b"GET", b"k"], &bulk(b"NX"));
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"nx"], nil);
        c.expect(&[b"SET", b"k", b"v2", b"get", b"IFEQ", b"NX", b"get"], &bulk(b"NX"));
        c.expect(&[b"GET", b"k"], &bulk(b"v2"));
        // NX and XX on their own behave as in Redis 7.0 (repeating them is fine).
        c.expect(&[b"SET", b"k", b"v3", b"XX", b"XX"], OK);
        c.expect(&[b"SET", b"k", b"v4", b"NX", b"NX"], nil);
        // The expiration is validated before the key is looked at.
        c.expect(
            &[b"SET", b"k", b"v", b"IFEQ", b"nomatch", b"EX", b"0"],
            &err("ERR invalid expire time in 'set' command"),
        );
        c.expect(
            &[b"SET", b"missing", b"v", b"IFEQ", b"x", b"PX", b"abc"],
            &err("ERR value is not an integer or out of range"),
        );
    });
}

#[test]
fn set_conditions_and_ttls() {
    let (clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        let wall = clock_wall(&clock);
        // The lock idiom: acquire, refuse a stranger's refresh, refresh by the holder, release.
        let (a, b) = (token(), token());
        c.expect(&[b"SET", b"L", &a, b"NX", b"PX", b"10000"], OK);
        c.expect(&[b"SET", b"L", &b, b"NX", b"PX", b"10000"], nil);
        clock.advance_ms(4000);
        c.expect(&[b"SET", b"L", &b, b"IFEQ", &b, b"PX", b"30000"], nil);
        c.expect(&[b"PTTL", b"L"], &int(6000));
        c.expect(&[b"SET", b"L", &a, b"IFEQ", &a, b"PX", b"30000"], OK);
        c.expect(&[b"PTTL", b"L"], &int(30000));
        c.expect(&[b"DELEX", b"L", b"IFEQ", &b], &int(0));
        c.expect(&[b"DELEX", b"L", b"IFEQ", &a], &int(1));

        // A successful conditional SET without an expiration clears the TTL, as SET does;
        // KEEPTTL keeps it; a refused one leaves it alone.
        c.expect(&[b"SET", b"k", b"v1", b"PX", b"10000"], OK);
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"nomatch", b"PX", b"50"], nil);
        c.expect(&[b"PTTL", b"k"], &int(10000));
        clock.advance_ms(1000);
        c.expect(&[b"SET", b"k", b"v2", b"IFEQ", b"v1", b"KEEPTTL"], OK);
        c.expect(&[b"PTTL", b"k"], &int(9000));
        c.expect(&[b"SET", b"k", b"v3", b"IFNE", b"v1"], OK);
        c.expect(&[b"PTTL", b"k"], &int(-1));
        c.expect(&[b"SET", b"k", b"v4", b"IFDNE", b"0000000000000000", b"EX", b"20"], OK);
        c.expect(&[b"PTTL", b"k"], &int(20000));
        let at = (wall + 1000 + 60_000).to_string();
        c.expect(&[b"SET", b"k", b"v5", b"PXAT", at.as_bytes(), b"IFEQ", b"v4"], OK);
        c.expect(&[b"PEXPIRETIME", b"k"], &int(wall + 1000 + 60_000));
        let at_s = ((wall + 1000) / 1000 + 120).to_string();
        c.expect(&[b"SET", b"k", b"v6", b"EXAT", at_s.as_bytes(), b"IFNE", b"x", b"GET"], &bulk(b"v5"));
        c.expect(&[b"PEXPIRETIME", b"k"], &int(((wall + 1000) / 1000 + 120) * 1000));
        // A deadline already past: the write is accepted and the key is gone.
        c.expect(&[b"SET", b"k", b"v7", b"PXAT", b"1", b"IFEQ", b"v6"], OK);
        c.expect(&[b"EXISTS", b"k"], &int(0));
        clock.advance_ms(1);
    });
}

/// Wall-clock milliseconds of the manual clock now.
fn clock_wall(clock: &ManualClock) -> i64 {
    use tumbler_expiry::Clock;
    clock.wall_at(clock.mono_ms())
}

// ------------------------------------------------------------------------------------- scripts

#[test]
fn scripts_call_the_extensions_like_any_command() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        let nil = c.nil();
        c.expect(&[b"SET", b"lock", b"tok"], OK);
        let call = b"return redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))";
        c.expect(&[b"EVAL", call, b"1", b"lock", b"DELIFEQ", b"other"], &int(0));
        c.expect(&[b"EVAL", call, b"1", b"lock", b"SET", b"tok2", b"IFEQ", b"other"], nil);
        c.expect(&[b"EVAL", call, b"1", b"lock", b"SET", b"tok2", b"IFEQ", b"tok"], OK);
        c.expect(&[b"EVAL", call, b"1", b"lock", b"SET", b"hello", b"IFNE", b"x", b"GET"], &bulk(b"tok2"));
        c.expect(&[b"EVAL", call, b"1", b"lock", b"DIGEST"], &bulk(b"9555e8555c62dcfd"));
        c.expect(&[b"EVAL_RO", call, b"1", b"lock", b"DIGEST"], &bulk(b"9555e8555c62dcfd"));
        c.expect(&[b"EVAL", call, b"1", b"lock", b"DELEX", b"IFDEQ", b"9555E8555C62DCFD"], &int(1));
        c.expect(&[b"EVAL", call, b"1", b"lock", b"DELEX"], &int(0));
        c.expect(&[b"EVAL", call, b"1", b"lock", b"SET", b"tok", b"IFNE", b"x"], OK);
        c.expect(&[b"EVAL", call, b"1", b"lock", b"DELIFEQ", b"tok"], &int(1));
        // Errors come back like any command's.
        c.expect(&[b"RPUSH", b"list", b"a"], &int(1));
        let pcall_err = b"local r = redis.pcall(ARGV[1], KEYS[1], unpack(ARGV, 2)) return r.err";
        c.expect(&[b"EVAL", pcall_err, b"1", b"list", b"DELEX", b"IFEQ", b"a"], &bulk(NOT_STRING.as_bytes()));
        c.expect(&[b"EVAL", pcall_err, b"1", b"list", b"DELIFEQ", b"a"], &bulk(WRONGTYPE.as_bytes()));
        c.expect(&[b"EVAL", pcall_err, b"1", b"list", b"SET", b"x", b"IFEQ", b"a"], &bulk(WRONGTYPE.as_bytes()));
        c.expect(&[b"EXISTS", b"list"], &int(1));
    });
}

// ------------------------------------------------------------------------------------- COMMAND

/// RESP builders for the COMMAND INFO / DOCS expectations.
fn s(x: &str) -> Vec<u8> {
    bulk(x.as_bytes())
}

fn st(x: &str) -> Vec<u8> {
    format!("+{x}\r\n").into_bytes()
}

fn agg(p: Proto, resp3_tag: u8, n: usize, items: &[Vec<u8>]) -> Vec<u8> {
    let (tag, n) = match p {
        Proto::Resp2 => (b'*', if resp3_tag == b'%' { 2 * n } else { n }),
        Proto::Resp3 => (resp3_tag, n),
    };
    let mut v = format!("{}{}\r\n", tag as char, n).into_bytes();
    for i in items {
        v.extend_from_slice(i);
    }
    v
}

fn arr(p: Proto, items: &[Vec<u8>]) -> Vec<u8> {
    agg(p, b'*', items.len(), items)
}

fn set(p: Proto, items: &[Vec<u8>]) -> Vec<u8> {
    agg(p, b'~', items.len(), items)
}

fn map(p: Proto, pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = pairs.iter().flat_map(|(k, v)| [s(k), v.clone()]).collect();
    agg(p, b'%', pairs.len(), &items)
}

/// A COMMAND INFO entry for a one-key command whose key is argument 1.
fn info(p: Proto, name: &str, arity: i64, flags: &[&str], acl: &[&str], key_flags: &[&str]) -> Vec<u8> {
    let strs = |xs: &[&str]| xs.iter().map(|x| st(x)).collect::<Vec<_>>();
    let spec = map(
        p,
        &[
            ("flags", set(p, &strs(key_flags))),
            ("begin_search", map(p, &[("type", s("index")), ("spec", map(p, &[("index", int(1))]))])),
            (
                "find_keys",
                map(
                    p,
                    &[
                        ("type", s("range")),
                        ("spec", map(p, &[("lastkey", int(0)), ("keystep", int(1)), ("limit", int(0))])),
                    ],
                ),
            ),
        ],
    );
    arr(
        p,
        &[
            s(name),
            int(arity),
            set(p, &strs(flags)),
            int(1),
            int(1),
            int(1),
            set(p, &strs(acl)),
            set(p, &[]),
            set(p, &[spec]),
            set(p, &[]),
        ],
    )
}

#[test]
fn command_info_docs_and_getkeys() {
    let (_clock, t) = server();
    each_protocol(&t, |c| {
        let p = c.p;
        // Redis 8.4's delex.json / digest.json, Valkey 9.0's delifeq.json.
        let delex = info(
            p,
            "delex",
            -2,
            &["write", "fast"],
            &["@write", "@string", "@fast"],
            &["RW", "delete", "variable_flags"],
        );
        let digest = info(p, "digest", 2, &["readonly", "fast"], &["@read", "@string", "@fast"], &["RO", "access"]);
        let delifeq = info(p, "delifeq", 3, &["write", "fast"], &["@write", "@string", "@fast"], &["RM", "delete"]);
        c.expect(&[b"COMMAND", b"INFO", b"delex"], &arr(p, &[delex]));
        c.expect(&[b"COMMAND", b"INFO", b"DIGEST", b"DelIfEq"], &arr(p, &[digest, delifeq]));

        let key = map(p, &[("name", s("key")), ("type", s("key")), ("key_spec_index", int(0))]);
        let tok =
            |name: &str, typ: &str, token: &str| map(p, &[("name", s(name)), ("type", s(typ)), ("token", s(token))]);
        let docs = |summary: &str, since: &str, complexity: &str, args: Vec<Vec<u8>>| {
            map(
                p,
                &[
                    ("summary", s(summary)),
                    ("since", s(since)),
                    ("group", s("string")),
                    ("complexity", s(complexity)),
                    ("arguments", arr(p, &args)),
                ],
            )
        };
        let delex_docs = docs(
            "Conditionally removes the specified key based on value or digest comparison.",
            "8.4.0",
            "O(1) for IFEQ/IFNE, O(N) for IFDEQ/IFDNE where N is the length of the string value.",
            vec![
                key.clone(),
                map(
                    p,
                    &[
                        ("name", s("condition")),
                        ("type", s("oneof")),
                        ("flags", set(p, &[st("optional")])),
                        (
                            "arguments",
                            arr(
                                p,
                                &[
                                    tok("ifeq-value", "string", "IFEQ"),
                                    tok("ifne-value", "string", "IFNE"),
                                    tok("ifdeq-digest", "integer", "IFDEQ"),
                                    tok("ifdne-digest", "integer", "IFDNE"),
                                ],
                            ),
                        ),
                    ],
                ),
            ],
        );
        let digest_docs = docs(
            "Returns the XXH3 hash of a string value.",
            "8.4.0",
            "O(N) where N is the length of the string value.",
            vec![key.clone()],
        );
        let delifeq_docs = docs(
            "Delete key if value matches string.",
            "9.0.0",
            "O(1)",
            vec![key.clone(), map(p, &[("name", s("value")), ("type", s("string"))])],
        );
        c.expect(&[b"COMMAND", b"DOCS", b"delex"], &map(p, &[("delex", delex_docs)]));
        c.expect(
            &[b"COMMAND", b"DOCS", b"Digest", b"DELIFEQ"],
            &map(p, &[("digest", digest_docs), ("delifeq", delifeq_docs)]),
        );

        c.expect(&[b"COMMAND", b"GETKEYS", b"DELEX", b"k"], &arr(p, &[s("k")]));
        c.expect(&[b"COMMAND", b"GETKEYS", b"DELEX", b"k", b"IFEQ", b"v"], &arr(p, &[s("k")]));
        c.expect(&[b"COMMAND", b"GETKEYS", b"delifeq", b"k", b"v"], &arr(p, &[s("k")]));
        c.expect(&[b"COMMAND", b"GETKEYS", b"digest", b"k"], &arr(p, &[s("k")]));
        c.expect(&[b"COMMAND", b"GETKEYS", b"SET", b"k", b"v", b"IFEQ", b"x"], &arr(p, &[s("k")]));
        c.expect(
            &[b"COMMAND", b"GETKEYS", b"DELIFEQ", b"k"],
            &err("ERR Invalid number of arguments specified for command"),
        );

        // They are listed among the commands tumbler serves.
        for name in ["delex", "delifeq", "digest"] {
            c.expect(&[b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", name.as_bytes()], &arr(p, &[s(name)]));
        }
    });
}
