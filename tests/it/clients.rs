//! The lock client libraries people actually use, installed at pinned versions from PyPI, npm and
//! crates.io, run unmodified against live `tumbler-server` processes (tests/clients/README.md).
//!
//! Each test starts the servers a library needs (five for the Redlock-style libraries, one for
//! the others) as child processes of the real binary on loopback ports, runs that library's
//! scenario as a subprocess with the addresses in `TUMBLER_ADDRS`, and requires exit status 0.
//! The scenario checks every step a user depends on (acquire, refusal of a second owner, the
//! token and TTL in the key, extend, refusal of a non-owner, release, expiry on time) and names
//! the library and the step when one fails; its whole output is shown then.
//!
//! The libraries are installed by scripts/test.sh: a virtualenv in tests/clients/python/.venv,
//! `npm ci` in tests/clients/node, and the Cargo project tests/clients/rust (not a workspace
//! member) built into its own target directory. When they are missing the tests fail and say so.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tumbler_tests::TumblerProcess;

/// How long one scenario may take; they need a second or two, this is for a stuck library.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

const INSTALL_HINT: &str = "run scripts/test.sh, which installs the pinned client libraries";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

#[derive(Clone, Copy)]
enum Lang {
    Python,
    Node,
    Rust,
}

/// The program and leading arguments that run `lang`'s scenarios, after checking that the
/// installed libraries are where scripts/test.sh puts them.
fn runner(lang: Lang) -> (PathBuf, Vec<PathBuf>) {
    let dir = clients_dir();
    match lang {
        Lang::Python => {
            let python = dir.join("python/.venv/bin/python");
            assert!(python.exists(), "the Python virtualenv {} is missing: {INSTALL_HINT}", python.display());
            (python, vec![dir.join("python/lockclients.py")])
        }
        Lang::Node => {
            for package in ["ioredis", "redlock4", "redlock5", "@sesamecare-oss/redlock", "redis-semaphore"] {
                let p = dir.join("node/node_modules").join(package);
                assert!(p.exists(), "the npm package {package} is missing from {}: {INSTALL_HINT}", p.display());
            }
            (PathBuf::from("node"), vec![dir.join("node/lockclients.js")])
        }
        Lang::Rust => {
            let project = dir.join("rust");
            let bin = project.join("target/debug/tumbler-client-tests-rust");
            assert!(bin.exists(), "the Rust client binary {} is missing: {INSTALL_HINT}", bin.display());
            // Rebuild if its source changed since scripts/test.sh built it (a no-op otherwise);
            // offline, because the crates were fetched when it was first built.
            let st = tumbler_tests::cargo()
                .args(["build", "-q", "--offline", "--locked", "--manifest-path"])
                .arg(project.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(project.join("target"))
                .status()
                .expect("cargo");
            assert!(st.success(), "building {} failed: {INSTALL_HINT}", project.display());
            (bin, vec![])
        }
    }
}

/// A child process killed when dropped (a scenario that panics the test must not outlive it).
struct Scenario(Child);

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// How the library's scripts must have run (INFO locks `scripts_beside_others`/`scripts_alone`).
#[derive(Clone, Copy, PartialEq)]
enum Scripts {
    /// Every script beside others, on its declared keys' shards: the source check in
    /// crates/scripting/src/declared.rs recognises them, so lock releases on different
    /// workers do not take turns.
    Beside,
    /// Some run alone (a command name from ARGV, string functions…).
    Either,
}

/// Starts `instances` tumbler servers and runs `library`'s scenario against them.
fn run(lang: Lang, library: &str, instances: usize) {
    run_checking(lang, library, instances, Scripts::Either);
}

/// [`run`], then checks how the scripts ran on every server.
fn run_checking(lang: Lang, library: &str, instances: usize, scripts: Scripts) {
    let (program, args) = runner(lang);
    let servers: Vec<TumblerProcess> = (0..instances).map(|_| TumblerProcess::start(&[])).collect();
    let addrs: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
    let started = Instant::now();
    let child = Command::new(&program)
        .args(&args)
        .arg(library)
        .env("TUMBLER_ADDRS", addrs.join(","))
        .current_dir(clients_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{library}: cannot start {}: {e} ({INSTALL_HINT})", program.display()));
    let mut child = Scenario(child);
    let out = drain(child.0.stdout.take().unwrap());
    let err = drain(child.0.stderr.take().unwrap());
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > SCENARIO_TIMEOUT {
            let _ = child.0.kill();
            let _ = child.0.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        // The servers' own logs help when tumbler is at fault: stop them and read what they said.
        let mut logs = String::new();
        for mut s in servers {
            let _ = s.child.kill();
            let _ = s.child.wait();
            let mut text = String::new();
            if let Some(mut e) = s.child.stderr.take() {
                let _ = e.read_to_string(&mut text);
            }
            if let Some(mut o) = s.child.stdout.take() {
                let _ = o.read_to_string(&mut text);
            }
            logs.push_str(&format!("--- tumbler-server on port {}:\n{text}\n", s.port));
        }
        let what = match status {
            Some(st) => format!("exited with {st}"),
            None => format!("did not finish within {SCENARIO_TIMEOUT:?} and was killed"),
        };
        panic!(
            "\n{library} against tumbler ({instances} instance(s) at {}): the scenario {what}\n\
             --- stdout:\n{out}\n--- stderr:\n{err}\n{logs}",
            addrs.join(",")
        );
    }
    eprintln!("{library}: passed in {:.2} s", started.elapsed().as_secs_f64());
    if scripts == Scripts::Beside {
        let (mut beside, mut alone) = (0, 0);
        for s in &servers {
            let mut c = tumbler_tests::resp::RawConn::connect(s.addr()).unwrap();
            let info = String::from_utf8_lossy(&c.cmd_str(&["INFO", "locks"])).into_owned();
            let field = |name: &str| -> u64 {
                info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok()).unwrap_or(0)
            };
            beside += field("scripts_beside_others");
            alone += field("scripts_alone");
        }
        assert!(beside > 0 && alone == 0, "{library}: {beside} scripts ran beside others, {alone} alone");
    }
}

// ------------------------------------------------------------------ Python (PyPI)

#[test]
fn redis_py_lock_resp2() {
    run_checking(Lang::Python, "redis-py-resp2", 1, Scripts::Beside);
}

#[test]
fn redis_py_lock_resp3() {
    run_checking(Lang::Python, "redis-py-resp3", 1, Scripts::Beside);
}

#[test]
fn pottery_redlock() {
    run_checking(Lang::Python, "pottery", 5, Scripts::Beside);
}

#[test]
fn aioredlock() {
    run_checking(Lang::Python, "aioredlock", 5, Scripts::Beside);
}

#[test]
fn python_redis_lock() {
    run_checking(Lang::Python, "python-redis-lock", 1, Scripts::Beside);
}

/// python-redis-lock's blocking acquire(): waiters sit in BLPOP on the lock's signal list until
/// the release script's LPUSH wakes them; each must own the lock within 100 ms of release(),
/// and two waiters are woken one per release, in the order they blocked.
#[test]
fn python_redis_lock_wakeup() {
    run_checking(Lang::Python, "python-redis-lock-wake", 1, Scripts::Beside);
}

#[test]
fn redlock_py() {
    run_checking(Lang::Python, "redlock-py", 5, Scripts::Beside);
}

// Redisson's RLock protocol in scripts of our own, through redis-py (EVALSHA and its pub/sub
// client): a re-entrant hash lock {owner: holds} whose last unlock deletes it and PUBLISHes from
// Lua to a channel that a subscribed waiter hears within 100 ms, then acquires.

#[test]
fn redisson_style_lock_resp2() {
    run_checking(Lang::Python, "redisson-style-resp2", 1, Scripts::Beside);
}

#[test]
fn redisson_style_lock_resp3() {
    run_checking(Lang::Python, "redisson-style-resp3", 1, Scripts::Beside);
}

// ------------------------------------------------------------------ Node (npm, on ioredis)

#[test]
fn node_redlock4() {
    run_checking(Lang::Node, "redlock4", 5, Scripts::Beside);
}

#[test]
fn node_redlock5() {
    run_checking(Lang::Node, "redlock5", 5, Scripts::Beside);
}

#[test]
fn node_sesamecare_redlock() {
    run_checking(Lang::Node, "sesamecare-redlock", 5, Scripts::Beside);
}

#[test]
fn node_redis_semaphore_mutex() {
    run_checking(Lang::Node, "semaphore-mutex", 1, Scripts::Beside);
}

#[test]
fn node_redis_semaphore_redlock_mutex() {
    run_checking(Lang::Node, "semaphore-redlock-mutex", 5, Scripts::Beside);
}

/// redis-semaphore's counting `Semaphore` and `MultiSemaphore` (a sorted set of holders): N
/// permits, the N+1th refused and then let in by a release, abandoned permits freed on time.
/// The scenario checks INFO locks itself: Semaphore's scripts run beside others, and
/// MultiSemaphore's (a numeric `for` over a count from ARGV) then run alone, so this test
/// cannot ask for [`Scripts::Beside`].
#[test]
fn node_redis_semaphore_semaphore() {
    run(Lang::Node, "semaphore-counting", 1);
}

// ------------------------------------------------------------------ Rust (crates.io)

#[test]
fn rslock() {
    run_checking(Lang::Rust, "rslock", 5, Scripts::Beside);
}

#[test]
fn redlock_rs() {
    run_checking(Lang::Rust, "redlock-rs", 5, Scripts::Beside);
}
