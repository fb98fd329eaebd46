//! Behaviour pinned against redis-server 7.0.15.
//!
//! How the expectations were obtained: a local `redis-server` 7.0.15 (Debian) was started with
//! `--port 6411 --aclfile …`; each rule list was sent as `ACL SETUSER t <rules>` (after
//! `ACL DELUSER t`) and the `user t …` line of `ACL LIST` recorded; error replies, DRYRUN
//! answers, ACL LOAD messages and GETUSER fields were captured the same way, byte for byte.
//! `testdata/redis-7.0.15-commands.txt` is that server's `COMMAND` output reduced to names,
//! ACL categories and the `no_auth` flag, so category rules cover the same commands here.
//!
//! Redis walks its command table in hash order when it lists single commands (`+get -set`),
//! so that part of a description is compared as a set; categories come first and in a fixed
//! order, and are compared exactly.

use crate::split::split_args;
use crate::*;
use std::sync::Arc;

const COMMANDS: &str = include_str!("testdata/redis-7.0.15-commands.txt");

fn catalog() -> Arc<Catalog> {
    let mut entries: Vec<CatalogEntry> = Vec::new();
    let mut parent: Option<(String, CmdId)> = None;
    for line in COMMANDS.lines() {
        let mut parts = line.split(' ');
        let name = parts.next().unwrap();
        let mut cats = 0;
        for c in parts.next().unwrap().split(',').filter(|c| *c != "-") {
            cats |= Cat::by_name(c.as_bytes()).unwrap();
        }
        let no_auth = parts.next() == Some("no_auth");
        let id = entries.len() as CmdId;
        let mut e = match name.split_once('|') {
            Some((p, _)) => {
                let (pname, pid) = parent.clone().unwrap();
                assert_eq!(p, pname);
                CatalogEntry::subcommand(name, cats, pid)
            }
            None => {
                parent = Some((name.to_string(), id));
                CatalogEntry::command(name, cats)
            }
        };
        e.no_auth = no_auth;
        entries.push(e);
    }
    Arc::new(Catalog::new(entries).unwrap())
}

fn args(s: &str) -> Vec<Vec<u8>> {
    split_args(s.as_bytes()).unwrap()
}

fn setuser(acl: &mut Acl, name: &str, rules: &str) -> Result<SetUserOutcome, String> {
    acl.setuser(name.as_bytes(), &args(rules)).map_err(|e| String::from_utf8(e.reply()).unwrap())
}

fn line(acl: &Acl, name: &str) -> String {
    String::from_utf8(acl.user(name.as_bytes()).unwrap().list_line(acl.catalog())).unwrap()
}

/// Splits a description into its fixed part (everything up to the last `@` rule, and the
/// selectors' structure) and the set of single-command rules.
fn normalize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in line.split(" (").enumerate() {
        let tokens: Vec<&str> = part.trim_end_matches(')').split(' ').collect();
        let last_cat = tokens.iter().rposition(|t| t.starts_with("+@") || t.starts_with("-@")).unwrap_or(0);
        let mut singles: Vec<&str> = tokens[last_cat + 1..].to_vec();
        singles.sort_unstable();
        out.push(format!("{i}: {} | {}", tokens[..=last_cat].join(" "), singles.join(" ")));
    }
    out
}

/// `ACL SETUSER t <rules>` then the `user t …` line of ACL LIST, from redis-server 7.0.15.
const LIST_CASES: &[(&str, &str)] = &[
        ("on nopass +@all ~* &*", "user t on nopass ~* &* +@all"),
        ("+@all -flushdb", "user t off resetchannels +@all -flushdb"),
        ("-@all +@read", "user t off resetchannels -@all +@read"),
        ("-@all +@read +@write", "user t off resetchannels -@all +@write +@read"),
        ("+@all -@dangerous", "user t off resetchannels +@all -@dangerous"),
        ("+@all -config|set", "user t off resetchannels +@all -config|set"),
        ("-@all +config|get", "user t off resetchannels -@all +config|get"),
        ("-@all +config", "user t off resetchannels -@all +config"),
        ("-@all +config -config|set", "user t off resetchannels -@all +config -config|set"),
        ("-@all +@hash -hset", "user t off resetchannels -@all +@hash -hset"),
        ("+@all -@all", "user t off resetchannels -@all"),
        ("-@all +get -get", "user t off resetchannels -@all"),
        ("+@all -get +get", "user t off resetchannels +@all"),
        ("-@all +select|0 +select|1", "user t off resetchannels -@all +select|0 +select|1"),
        ("-@all +select|0 +select", "user t off resetchannels -@all +select"),
        ("+@all -select +select|0", "user t off resetchannels +@all -select +select|0"),
        ("-@all +@slow", "user t off resetchannels -@all +@slow"),
        ("-@all +client|kill", "user t off resetchannels -@all +client|kill"),
        ("+@all -client +client|kill", "user t off resetchannels +@all -client +client|kill"),
        ("-@all +@fast", "user t off resetchannels -@all +@fast"),
        ("+@all -@slow", "user t off resetchannels +@all -@slow"),
        ("-@all +@string +@list -lpush", "user t off resetchannels -@all +@string +@list -lpush"),
        ("-@all +@keyspace +@read -@dangerous", "user t off resetchannels -@all +@read +move +pexpire +unlink +expireat -sort_ro +persist +del -keys +expire +renamenx +rename +object|help +pexpireat +copy"),
        ("+@all -@write +set", "user t off resetchannels +@all -@write +set"),
        ("-@all +@connection", "user t off resetchannels -@all +@connection"),
        ("-@all +@admin", "user t off resetchannels -@all +@admin"),
        ("+@all -@admin", "user t off resetchannels +@all -@admin"),
        ("-@all +@pubsub +@transaction +@scripting", "user t off resetchannels -@all +@scripting +@pubsub +@transaction"),
        ("+@all -@keyspace -@read -@write", "user t off resetchannels +@all -@write -@read -object|help"),
        ("-@all +@dangerous -@admin", "user t off resetchannels -@all +restore +swapdb +migrate +sort_ro +flushdb +keys +flushall +restore-asking +info +sort"),
        ("-@all +acl", "user t off resetchannels -@all +acl"),
        ("-@all +@slow -@admin", "user t off resetchannels -@all +@scripting +@geo +@pubsub +@blocking +@bitmap +@set +@stream +@connection +@sortedset -sadd -ping -smove +psetex -scard +restore +dump +lpos +setrange +linsert +hvals -xsetid +ltrim +lmove +function -xlen -zscore +client -client|list -client|pause -client|unpause -client|no-evict -client|unblock -client|kill -xautoclaim +memory +hgetall +rpoplpush -sismember -zcard +getrange +set -xadd -zrevrank -zadd -zpopmax +substr +mset +module -module|load -module|list -module|loadex -module|unload +lcs -auth -zpopmin +pfmerge +migrate -quit +exec +hscan +lrange +lrem -bitfield_ro +acl -acl|dryrun -acl|users -acl|list -acl|log -acl|load -acl|getuser -acl|deluser -acl|setuser -acl|save -zrank +hkeys -getbit -zmscore -zrem -echo +xinfo +flushdb -xclaim +script +del +latency -latency|histogram -latency|latest -latency|doctor -latency|graph -latency|history -latency|reset +slowlog -slowlog|len -slowlog|reset -slowlog|get -asking +keys +lmpop +randomkey +flushall -hello +pfcount +pubsub -spublish -zcount +restore-asking +lset -zlexcount -bzpopmin -bzpopmax +rename +object -reset -zincrby +cluster -cluster|replicas -cluster|bumpepoch -cluster|count-failure-reports -cluster|addslotsrange -cluster|slaves -cluster|failover -cluster|reset -cluster|forget -cluster|addslots -cluster|replicate -cluster|saveconfig -cluster|flushslots -cluster|delslots -cluster|set-config-epoch -cluster|delslotsrange -cluster|setslot -cluster|meet -readwrite +copy +scan -xdel -srem +xgroup -spop +info +lindex -publish +hrandfield +setex +config -config|resetstat -config|rewrite -config|get -config|set -smismember -select -readonly -xack +msetnx"),
        ("-@all +@read +@write +@keyspace +@string", "user t off resetchannels -@all +@write +@read +object|help"),
        ("+@geo +@stream", "user t off resetchannels -@all +@stream +@geo"),
        ("on >alpha >beta #0000000000000000000000000000000000000000000000000000000000000000 ~a* %R~b* %W~c* %RW~d* &x &y* resetchannels &z", "user t on #8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8 #f44e64e75f3948e9f73f8dfa94721c4ce8cbb4f265c4790c702b2d41cfbf2753 #0000000000000000000000000000000000000000000000000000000000000000 ~a* %R~b* %W~c* ~d* resetchannels &z -@all"),
        ("on ~k1 ~k2 allkeys &c allchannels", "user t on ~* &* -@all"),
        ("skip-sanitize-payload sanitize-payload skip-sanitize-payload", "user t off skip-sanitize-payload resetchannels -@all"),
        ("nopass >x", "user t off #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 resetchannels -@all"),
        (">x nopass", "user t off nopass resetchannels -@all"),
        ("reset on", "user t on sanitize-payload resetchannels -@all"),
        ("(~a +get) (&b +@read) ~c +set", "user t off ~c resetchannels -@all +set (~a resetchannels -@all +get) (resetchannels &b -@all +@read)"),
        ("(~a +get) clearselectors", "user t off resetchannels -@all"),
        ("( ~a   +get )", "user t off resetchannels -@all (~a resetchannels -@all +get)"),
        ("(%R~x %W~y +@all -flushall)", "user t off resetchannels -@all (%R~x %W~y resetchannels +@all -flushall)"),
];

#[test]
fn describes_like_redis() {
    assert_ne!(normalize("user t off +@all -get"), normalize("user t off +@all -set"));
    assert_ne!(normalize("user t off +@all +@read -get"), normalize("user t off +@all -get +@read"));
    assert_eq!(
        normalize("user t off -@all +a -b (~x -@all +c +d)"),
        normalize("user t off -@all -b +a (~x -@all +d +c)")
    );
    let cat = catalog();
    for (rules, expected) in LIST_CASES {
        let mut acl = Acl::new(Arc::clone(&cat));
        setuser(&mut acl, "t", rules).unwrap();
        let got = line(&acl, "t");
        assert_eq!(normalize(&got), normalize(expected), "rules: {rules}\n got: {got}\nwant: {expected}");
        // The description rebuilds the same user.
        let mut again = Acl::new(Arc::clone(&cat));
        setuser(&mut again, "t", got.strip_prefix("user t ").unwrap()).unwrap();
        assert_eq!(line(&again, "t"), got, "round trip of {rules}");
        assert_eq!(again.getuser(b"t"), acl.getuser(b"t"));
    }
}

#[test]
fn default_user() {
    let acl = Acl::new(catalog());
    assert_eq!(acl.list(), [b"user default on nopass ~* &* +@all".to_vec()]);
    let info = acl.getuser(b"default").unwrap();
    assert_eq!(info.flags, ["on", "nopass"]);
    assert!(info.passwords.is_empty());
    assert_eq!(info.root, SelectorInfo { commands: b"+@all".to_vec(), keys: b"~*".to_vec(), channels: b"&*".to_vec() });
    assert!(info.selectors.is_empty());
    assert!(acl.default_user().unrestricted());
    assert!(acl.getuser(b"nosuch").is_none(), "7.0.15 replies a null for an unknown user");
}

/// `ACL GETUSER e` after `ACL SETUSER e on nopass +get ~k* &ch* (+set ~w* &x) (%R~r* +@read)`.
#[test]
fn getuser_fields() {
    let mut acl = Acl::new(catalog());
    setuser(&mut acl, "e", "on nopass +get ~k* &ch* (+set ~w* &x) (%R~r* +@read)").unwrap();
    let info = acl.getuser(b"e").unwrap();
    assert_eq!(info.flags, ["on", "nopass"]);
    assert_eq!(
        info.root,
        SelectorInfo { commands: b"-@all +get".to_vec(), keys: b"~k*".to_vec(), channels: b"&ch*".to_vec() }
    );
    assert_eq!(
        info.selectors,
        [
            SelectorInfo { commands: b"-@all +set".to_vec(), keys: b"~w*".to_vec(), channels: b"&x".to_vec() },
            SelectorInfo { commands: b"-@all +@read".to_vec(), keys: b"%R~r*".to_vec(), channels: Vec::new() },
        ]
    );
    assert_eq!(
        line(&acl, "e"),
        "user e on nopass ~k* resetchannels &ch* -@all +get (~w* resetchannels &x -@all +set) (%R~r* resetchannels \
         -@all +@read)"
    );
    // `%RW~x %R~y %W~y ~y %w~z`: patterns merge their permissions.
    setuser(&mut acl, "b", "%RW~x %R~y %W~y ~y %w~z").unwrap();
    assert_eq!(acl.getuser(b"b").unwrap().root.keys, b"~x ~y %W~z");
    // `%R` without `~` is the empty pattern; `~` and `&` alone too.
    setuser(&mut acl, "a", "%R").unwrap();
    assert_eq!(line(&acl, "a"), "user a off %R~ resetchannels -@all");
    setuser(&mut acl, "d", "~ & %R~* ~a ~*").unwrap();
    assert_eq!(line(&acl, "d"), "user d off ~* resetchannels & -@all");
    // Passwords: deduplicated, removable, listed as hashes.
    setuser(&mut acl, "h", ">p1 >p2 >p1 <p1").unwrap();
    assert_eq!(
        acl.getuser(b"h").unwrap().passwords,
        ["3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693"]
    );
    // Selector arguments are split like redis-cli arguments; unbalanced quotes give an empty
    // selector, as in Redis.
    setuser(&mut acl, "q", "\"(~a \\\"b)\" \"( ~z )\" ()").unwrap();
    let sels = acl.getuser(b"q").unwrap().selectors;
    assert_eq!(sels.len(), 3);
    assert_eq!(sels[0].keys, b"");
    assert_eq!(sels[1].keys, b"~z");
    assert_eq!(sels[2].commands, b"-@all");
}

/// Error replies of `ACL SETUSER`, captured from redis-server 7.0.15.
#[test]
fn setuser_errors_like_redis() {
    const AFTER_ALLKEYS: &str =
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not \
                                 have any effect. Try 'resetkeys' to start with an empty list of patterns";
    const AFTER_ALLCHANNELS: &str =
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and \
                                     does not have any effect. Try 'resetchannels' to start with an empty list of \
                                     channels";
    let cases: &[(&str, &str)] = &[
        ("foo", "ERR Error in ACL SETUSER modifier 'foo': Syntax error"),
        ("allkeys ~foo", &format!("ERR Error in ACL SETUSER modifier '~foo': {AFTER_ALLKEYS}")),
        ("allkeys %X~foo", &format!("ERR Error in ACL SETUSER modifier '%X~foo': {AFTER_ALLKEYS}")),
        ("allchannels &x", &format!("ERR Error in ACL SETUSER modifier '&x': {AFTER_ALLCHANNELS}")),
        (
            "<x",
            "ERR Error in ACL SETUSER modifier '<x': The password you are trying to remove from the user does not \
             exist",
        ),
        (
            "!abc",
            "ERR Error in ACL SETUSER modifier '!abc': The password hash must be exactly 64 characters and contain \
             only lowercase hexadecimal characters",
        ),
        (
            "#ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "ERR Error in ACL SETUSER modifier '#ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789': \
             The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        ),
        ("+nosuch", "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
        ("+@nosuch", "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
        ("-@nosuch", "ERR Error in ACL SETUSER modifier '-@nosuch': Unknown command or category name in ACL"),
        ("-select|0", "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"),
        (
            "+config|nosuch",
            "ERR Error in ACL SETUSER modifier '+config|nosuch': Unknown command or category name in ACL",
        ),
        (
            "+config|get|x",
            "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported",
        ),
        ("+get|", "ERR Error in ACL SETUSER modifier '+get|': Syntax error"),
        ("%~foo", "ERR Error in ACL SETUSER modifier '%~foo': Syntax error"),
        ("%RR~foo", "ERR Error in ACL SETUSER modifier '%RR~foo': Syntax error"),
        ("%RX~foo", "ERR Error in ACL SETUSER modifier '%RX~foo': Syntax error"),
        ("%", "ERR Error in ACL SETUSER modifier '%': Syntax error"),
        ("\"~a b\"", "ERR Error in ACL SETUSER modifier '~a b': Syntax error"),
        ("(~x", "ERR Unmatched parenthesis in acl selector starting at '(~x'."),
        ("(~x +get", "ERR Unmatched parenthesis in acl selector starting at '(~x'."),
        ("on off +get (~x", "ERR Unmatched parenthesis in acl selector starting at '(~x'."),
        ("on (~x) (~y +get", "ERR Unmatched parenthesis in acl selector starting at '(~y'."),
        ("(~x) (foo)", "ERR Error in ACL SETUSER modifier '(foo)': Syntax error"),
    ];
    let mut acl = Acl::new(catalog());
    for (rules, expected) in cases {
        assert_eq!(setuser(&mut acl, "a", rules).unwrap_err(), *expected, "rules: {rules}");
        assert!(acl.user(b"a").is_none(), "a failed SETUSER creates nothing ({rules})");
    }
    assert_eq!(setuser(&mut acl, "a b", "on").unwrap_err(), "ERR Usernames can't contain spaces or null characters");
    // Atomic: a failing SETUSER leaves an existing user untouched.
    setuser(&mut acl, "a", "on >pw ~k +get").unwrap();
    let before = line(&acl, "a");
    setuser(&mut acl, "a", "off resetpass +set foo").unwrap_err();
    assert_eq!(line(&acl, "a"), before);
    // Rules are case-insensitive, command names too.
    setuser(&mut acl, "c", "+GET +Config|GET +@ALL ON").unwrap();
    assert_eq!(line(&acl, "c"), "user c on resetchannels +@all");
    // Empty rules are no-ops; `+get|x` is a first-arg rule.
    setuser(&mut acl, "f", "\"\" +get|x").unwrap();
    assert_eq!(line(&acl, "f"), "user f off resetchannels -@all +get|x");
}

fn key<'a>(pos: usize, name: &'a str, read: bool, write: bool) -> KeyRef<'a> {
    KeyRef { pos, name: name.as_bytes(), read, write }
}

fn chan(pos: usize, name: &str, pattern: bool) -> ChannelRef<'_> {
    ChannelRef { pos, name: name.as_bytes(), pattern }
}

/// ACL DRYRUN answers of redis-server 7.0.15 for users `e` (above) and
/// `f on nopass +@all ~* &ch* &lit`.
#[test]
fn checks_like_redis() {
    let cat = catalog();
    let mut acl = Acl::new(Arc::clone(&cat));
    setuser(&mut acl, "e", "on nopass +get ~k* &ch* (+set ~w* &x) (%R~r* +@read)").unwrap();
    setuser(&mut acl, "f", "on nopass +@all ~* &ch* &lit").unwrap();
    let e = Arc::clone(acl.user(b"e").unwrap());
    let f = Arc::clone(acl.user(b"f").unwrap());
    let id = |n: &str| cat.lookup(n.as_bytes()).unwrap();
    let run = |u: &User, cmd: &str, keys: &[KeyRef<'_>], chans: &[ChannelRef<'_>]| -> Result<(), String> {
        let req = Request { cmd: id(cmd), first_arg: None, keys, channels: chans };
        u.check(&cat, &req).map_err(|d| {
            let obj = match d {
                Denial::Key { pos } => keys.iter().find(|k| k.pos == pos).unwrap().name,
                Denial::Channel { pos } => chans.iter().find(|c| c.pos == pos).unwrap().name,
                Denial::Command => b"",
            };
            String::from_utf8(d.dryrun_message(cat.name(id(cmd)), obj)).unwrap()
        })
    };
    // GET is RO+ACCESS (read); SET is RW+UPDATE (write); DEL is RM+DELETE (write).
    assert_eq!(run(&e, "get", &[key(1, "k1", true, false)], &[]), Ok(()));
    assert_eq!(
        run(&e, "get", &[key(1, "z", true, false)], &[]).unwrap_err(),
        "This user has no permissions to access the 'z' key"
    );
    assert_eq!(
        run(&e, "set", &[key(1, "z", false, true)], &[]).unwrap_err(),
        "This user has no permissions to access the 'z' key"
    );
    assert_eq!(run(&e, "set", &[key(1, "w1", false, true)], &[]), Ok(()));
    assert_eq!(
        run(&e, "del", &[key(1, "q", false, true)], &[]).unwrap_err(),
        "This user has no permissions to run the 'del' command"
    );
    assert_eq!(
        run(&e, "publish", &[], &[chan(1, "chx", false)]).unwrap_err(),
        "This user has no permissions to run the 'publish' command"
    );
    // %R~r*: reads of r* through +@read, but no writes.
    assert_eq!(run(&e, "get", &[key(1, "r1", true, false)], &[]), Ok(()));
    assert!(run(&e, "set", &[key(1, "r1", false, true)], &[]).is_err());
    assert_eq!(
        run(&f, "publish", &[], &[chan(1, "zz", false)]).unwrap_err(),
        "This user has no permissions to access the 'zz' channel"
    );
    assert_eq!(run(&f, "publish", &[], &[chan(1, "chx", false)]), Ok(()));
    assert_eq!(
        run(&f, "subscribe", &[], &[chan(1, "ch1", false), chan(2, "zz", false)]).unwrap_err(),
        "This user has no permissions to access the 'zz' channel"
    );
    // PSUBSCRIBE patterns must be one of the user's patterns, literally.
    assert_eq!(run(&f, "psubscribe", &[], &[chan(1, "ch*", true)]), Ok(()));
    assert_eq!(
        run(&f, "psubscribe", &[], &[chan(1, "ch1*", true)]).unwrap_err(),
        "This user has no permissions to access the 'ch1*' channel"
    );
    assert!(run(&f, "psubscribe", &[], &[chan(1, "l*", true)]).is_err());
    // no_auth commands pass the command check for everyone.
    setuser(&mut acl, "n", "on nopass").unwrap();
    let n = Arc::clone(acl.user(b"n").unwrap());
    assert_eq!(run(&n, "auth", &[], &[]), Ok(()));
    assert_eq!(run(&n, "hello", &[], &[]), Ok(()));
    assert!(run(&n, "ping", &[], &[]).is_err());
    assert!(!e.unrestricted() && !f.unrestricted());
}

#[test]
fn denial_choice_and_firstargs() {
    let cat = catalog();
    let mut acl = Acl::new(Arc::clone(&cat));
    let id = |n: &str| cat.lookup(n.as_bytes()).unwrap();
    // Two selectors failing on different keys: the later argument is reported.
    setuser(&mut acl, "m", "on +mget ~a (+mget ~b)").unwrap();
    let m = acl.user(b"m").unwrap();
    let keys = [key(1, "a", true, false), key(2, "b", true, false)];
    let req = Request { cmd: id("mget"), first_arg: None, keys: &keys, channels: &[] };
    assert_eq!(m.check(&cat, &req), Err(Denial::Key { pos: 2 }));
    let keys = [key(1, "a", true, false), key(2, "a", true, false)];
    assert_eq!(m.check(&cat, &Request { keys: &keys, ..req }), Ok(()));
    // A key denial wins over a command denial.
    let keys = [key(1, "z", false, true)];
    let req = Request { cmd: id("set"), first_arg: None, keys: &keys, channels: &[] };
    setuser(&mut acl, "k", "on +get ~z (+set ~y)").unwrap();
    assert_eq!(acl.user(b"k").unwrap().check(&cat, &req), Err(Denial::Key { pos: 1 }));
    // First-arg rules: `+select|0` allows SELECT 0 only; `+select` clears them.
    setuser(&mut acl, "s", "on -@all +select|0 +SELECT|1").unwrap();
    let s = Arc::clone(acl.user(b"s").unwrap());
    let sel = |arg: Option<&'static str>| Request {
        cmd: id("select"),
        first_arg: arg.map(str::as_bytes),
        keys: &[],
        channels: &[],
    };
    assert_eq!(s.check(&cat, &sel(Some("0"))), Ok(()));
    assert_eq!(s.check(&cat, &sel(Some("1"))), Ok(()));
    assert_eq!(s.check(&cat, &sel(Some("2"))), Err(Denial::Command));
    assert_eq!(s.check(&cat, &sel(None)), Err(Denial::Command));
    assert_eq!(line(&acl, "s"), "user s on resetchannels -@all +select|0 +select|1");
    // Container rules reach every subcommand; `-cmd|sub` under an allowed parent is fine in 7.0.
    setuser(&mut acl, "c", "on +config -config|set").unwrap();
    let c = acl.user(b"c").unwrap();
    assert_eq!(c.check(&cat, &Request::command(id("config|get"))), Ok(()));
    assert_eq!(c.check(&cat, &Request::command(id("config|set"))), Err(Denial::Command));
    assert_eq!(
        Denial::Command.noperm(cat.name(id("config|set"))),
        "NOPERM this user has no permissions to run the 'config|set' command"
    );
}

#[test]
fn future_commands() {
    // A bitmap built against a catalog is asked about ids beyond it (a newer catalog): only
    // rules that started from +@all cover them.
    let small = Arc::new(Catalog::new(vec![CatalogEntry::command("get", Cat::READ)]).unwrap());
    let big = catalog();
    let mut acl = Acl::new(Arc::clone(&small));
    setuser(&mut acl, "all", "on +@all -get").unwrap();
    setuser(&mut acl, "some", "on -@all +get").unwrap();
    let far = Request::command((big.len() - 1) as CmdId);
    assert_eq!(acl.user(b"all").unwrap().check(&big, &far), Ok(()));
    assert_eq!(acl.user(b"some").unwrap().check(&big, &far), Err(Denial::Command));
}

#[test]
fn authentication() {
    let mut acl = Acl::new(catalog());
    setuser(&mut acl, "u1", "on >pw").unwrap();
    assert!(acl.authenticate(b"u1", b"pw").is_ok());
    assert_eq!(acl.authenticate(b"u1", b"bad").unwrap_err(), AuthFailure::WrongPassword);
    setuser(&mut acl, "u1", "off").unwrap();
    assert_eq!(acl.authenticate(b"u1", b"pw").unwrap_err(), AuthFailure::Disabled);
    assert_eq!(acl.authenticate(b"nouser", b"pw").unwrap_err(), AuthFailure::NoSuchUser);
    assert_eq!(AuthFailure::REPLY, "WRONGPASS invalid username-password pair or user is disabled.");
    // Any password for a nopass user; the default user accepts anything out of the box.
    assert!(acl.authenticate(b"default", b"whatever").is_ok());
    acl.set_requirepass(b"secret");
    assert_eq!(
        line(&acl, "default"),
        "user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* &* +@all"
    );
    assert!(acl.authenticate(b"default", b"secret").is_ok());
    assert!(acl.authenticate(b"default", b"x").is_err());
    acl.set_requirepass(b"");
    assert_eq!(line(&acl, "default"), "user default on nopass ~* &* +@all");
}

#[test]
fn deluser_and_sessions() {
    let cat = catalog();
    let shared = SharedAcl::new(Acl::new(Arc::clone(&cat)), DEFAULT_MAX_LEN);
    shared.update(|acl| setuser(acl, "u", "on nopass +get ~*")).unwrap();
    let user = shared.read().authenticate(b"u", b"").unwrap();
    let mut session = SessionUser::authenticated(&shared, user);
    let get = Request { cmd: cat.lookup(b"get").unwrap(), first_arg: None, keys: &[], channels: &[] };
    assert!(session.current(&shared).unwrap().check(&cat, &get).is_ok());
    // A SETUSER is seen at the next command.
    shared.update(|acl| setuser(acl, "u", "-get")).unwrap();
    assert_eq!(session.current(&shared).unwrap().check(&cat, &get), Err(Denial::Command));
    // DELUSER then SETUSER of the same name: the session does not follow the new user.
    assert_eq!(shared.update(|acl| acl.deluser(&["u", "nosuch"])).unwrap().len(), 1);
    shared.update(|acl| setuser(acl, "u", "on nopass +@all")).unwrap();
    assert!(session.current(&shared).is_none());
    assert_eq!(session.name(), b"u");
    assert_eq!(
        shared.update(|acl| acl.deluser(&["x", "default"])).unwrap_err(),
        "ERR The 'default' user cannot be removed"
    );
    // The default session follows requirepass and ACL LOAD in place.
    let mut d = SessionUser::default_user(&shared);
    shared.update(|acl| acl.load_text("f", b"user default on nopass -@all +ping\n")).unwrap();
    assert_eq!(d.current(&shared).unwrap().check(&cat, &get), Err(Denial::Command));
}

#[test]
fn channels_revoked() {
    let mut acl = Acl::new(catalog());
    let out = setuser(&mut acl, "p", "on &a &b").unwrap();
    assert!(!out.channels_revoked(), "new user");
    assert!(!setuser(&mut acl, "p", "&c").unwrap().channels_revoked());
    assert!(setuser(&mut acl, "p", "resetchannels &a").unwrap().channels_revoked());
    assert!(!setuser(&mut acl, "p", "allchannels").unwrap().channels_revoked());
    assert!(setuser(&mut acl, "p", "resetchannels").unwrap().channels_revoked());
    let p = acl.user(b"p").unwrap();
    assert!(!p.channel_allowed(b"a", false));
}

/// ACL LOAD messages of redis-server 7.0.15 for the same files.
#[test]
fn load_errors_like_redis() {
    let f = "/tmp/acl-exp/users.acl";
    let mut acl = Acl::new(catalog());
    setuser(&mut acl, "keep", "on").unwrap();
    let before = acl.save_text();
    let text = b"user x on >p ~* +@all\n\n  \nfoo bar\nuser\nuser x off\nuser y on +nosuch\nuser w on \"a\nuser q bogus\n# comment\nuser r on ~a b\n";
    assert_eq!(
        acl.load_text(f, text).unwrap_err().reply(),
        "ERR /tmp/acl-exp/users.acl:4 should start with user keyword followed by the username. \
         /tmp/acl-exp/users.acl:5 should start with user keyword followed by the username. WARNING: Duplicate user 'x' \
         found on line 6. /tmp/acl-exp/users.acl:7: Error in applying operation '+nosuch': Unknown command or \
         category name in ACL. /tmp/acl-exp/users.acl:8: Syntax error. /tmp/acl-exp/users.acl:9: Syntax error. \
         /tmp/acl-exp/users.acl:10 should start with user keyword followed by the username. \
         /tmp/acl-exp/users.acl:11: Syntax error. WARNING: ACL errors detected, no change to the previously active \
         ACL rules was performed"
    );
    assert_eq!(
        acl.load_text(f, b"user y on +nosuch1 foo bar +nosuch2 %X~ +nosuch3\n").unwrap_err().0,
        "/tmp/acl-exp/users.acl:1: Error in applying operation '+nosuch1': Unknown command or category name in ACL. \
         /tmp/acl-exp/users.acl:1: Syntax error. /tmp/acl-exp/users.acl:1: Error in applying operation '+nosuch2': \
         Unknown command or category name in ACL. /tmp/acl-exp/users.acl:1: Error in applying operation '+nosuch3': \
         Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active \
         ACL rules was performed"
    );
    assert_eq!(
        acl.load_text(f, b"user  x   on  \n  user y\tz on\nuser xx on >a\\x41 \"~a\n").unwrap_err().0,
        "/tmp/acl-exp/users.acl:1: Syntax error. '/tmp/acl-exp/users.acl:2: username 'y\tz' contains invalid \
         characters. /tmp/acl-exp/users.acl:3: Syntax error. WARNING: ACL errors detected, no change to the \
         previously active ACL rules was performed"
    );
    assert_eq!(acl.save_text(), before, "failed loads change nothing");
}

#[test]
fn load_save_round_trip() {
    let mut acl = Acl::new(catalog());
    for (name, rules) in [
        ("a", "%R"),
        ("e", "on nopass +get ~k* &ch* (+set ~w* &x) (%R~r* +@read)"),
        ("g", "reset +@all -client +client|kill"),
        ("h", "on >p1 -@all +@hash -hset +select|0"),
    ] {
        setuser(&mut acl, name, rules).unwrap();
    }
    acl.set_requirepass(b"pw");
    let text = acl.save_text();
    let mut other = Acl::new(catalog());
    setuser(&mut other, "gone", "on").unwrap();
    let out = other.load_text("f", &text).unwrap();
    assert_eq!(out.dropped.iter().map(|u| u.name().to_vec()).collect::<Vec<_>>(), [b"gone".to_vec()]);
    assert_eq!(other.save_text(), text);
    assert!(other.authenticate(b"default", b"pw").is_ok());
    // CRLF line ends and blank lines are fine; a file without `default` gets a fresh one.
    other.load_text("f", b"\r\nuser x on >p ~* +@all\r\n").unwrap();
    assert_eq!(
        other.list(),
        [
            b"user default on nopass ~* &* +@all".to_vec(),
            b"user x on #148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940 ~* resetchannels +@all"
                .to_vec()
        ]
    );
    // Files.
    let dir = std::env::temp_dir().join(format!("tumbler-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("users.acl");
    acl.save_file(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), text);
    let mut third = Acl::new(catalog());
    third.load_file(&path, "users.acl").unwrap();
    assert_eq!(third.save_text(), text);
    assert_eq!(
        third.load_file(&dir.join("missing.acl"), "missing.acl").unwrap_err().0,
        "Error loading ACLs, opening file 'missing.acl': No such file or directory"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Config-file `user` directives: the startup errors of redis-server 7.0.15
/// (`redis-server --user x on foo`, a duplicate `user x` line, `--user x on +nosuch`).
#[test]
fn config_users() {
    let cat = catalog();
    let argv = |s: &str| args(s);
    let mut acl = Acl::new(Arc::clone(&cat));
    let mut pending = ConfigUsers::default();
    assert_eq!(pending.add(&argv("user x on foo"), &acl).unwrap_err(), "Error in user declaration 'x': Syntax error");
    pending.add(&argv("user x on"), &acl).unwrap();
    assert_eq!(
        pending.add(&argv("user x off"), &acl).unwrap_err(),
        "Error in user declaration 'x': Duplicate user found. A user can only be defined once in config files"
    );
    pending.add(&argv("user y on +nosuch"), &acl).unwrap();
    assert_eq!(
        acl.apply_config_users(&pending).unwrap_err(),
        "Error loading ACL rule '+nosuch' for the user named 'y': Unknown command or category name in ACL"
    );
    assert!(acl.user(b"x").is_none(), "nothing applied");
    let mut pending = ConfigUsers::default();
    pending.add(&argv("user default >pw ~* +@all"), &acl).unwrap();
    pending.add(&argv("user z on (~a +get)"), &acl).unwrap();
    let warnings = acl.apply_config_users(&pending).unwrap();
    assert_eq!(
        warnings,
        ["The user 'default' is disabled (there is no 'on' modifier in the user description). Make sure this is not a \
          configuration error."]
    );
    assert_eq!(line(&acl, "default"), "user default off sanitize-payload #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* resetchannels +@all");
    assert_eq!(line(&acl, "z"), "user z on resetchannels -@all (~a resetchannels -@all +get)");
}

/// `acl-pubsub-default allchannels` (lines checked with `CONFIG SET acl-pubsub-default allchannels`
/// on redis-server 7.0.15): new users and selectors start with all channels, so a
/// channel pattern needs `resetchannels` first; `reset` restores all channels.
#[test]
fn pubsub_default() {
    let mut acl = Acl::new(catalog());
    acl.set_pubsub_default(true);
    setuser(&mut acl, "p", "on (~a)").unwrap();
    assert_eq!(line(&acl, "p"), "user p on &* -@all (~a &* -@all)");
    assert!(setuser(&mut acl, "q", "&x").unwrap_err().contains("'allchannels' flag"));
    setuser(&mut acl, "p", "resetchannels &x reset").unwrap();
    assert_eq!(line(&acl, "p"), "user p off sanitize-payload &* -@all");
}

#[test]
fn acl_cat() {
    let acl = Acl::new(catalog());
    assert_eq!(acl.cat(None).unwrap().len(), 21);
    let tx = acl.cat(Some(b"Transaction")).unwrap();
    let mut tx: Vec<&str> = tx.into_iter().collect();
    tx.sort_unstable();
    assert_eq!(tx, ["discard", "exec", "multi", "unwatch", "watch"]);
    assert_eq!(acl.cat(Some(b"nosuch")).unwrap_err(), b"ERR Unknown category 'nosuch'");
}

#[test]
fn merge_selectors() {
    let m = |s: &[&str]| {
        merge_selector_args(s).map(|v| v.into_iter().map(|a| String::from_utf8(a).unwrap()).collect::<Vec<_>>())
    };
    assert_eq!(m(&["on", "(~a", "+get)", "(x)"]), Ok(vec!["on".into(), "(~a +get)".into(), "(x)".into()]));
    assert_eq!(m(&["(", "~a", ")"]), Ok(vec!["( ~a )".into()]));
    assert_eq!(m(&["(a", "(b", "c)"]), Ok(vec!["(b c)".into()]));
    assert_eq!(m(&["on", "(a", "b"]), Err(1));
}
