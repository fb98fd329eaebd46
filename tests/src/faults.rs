//! Support for the fault-injection tests (tests/it/faults.rs): a fleet of `tumbler-server`
//! processes that can be killed, restarted on the same port and data directory, paused and
//! resumed, or run with their wall clocks stepped ([`ClockShim`]); and a history of critical
//! sections with the checker that judges it.
//!
//! Every instant in a [`History`] is read from one clock, the test process' `Instant`
//! (`CLOCK_MONOTONIC`), which is also the clock the servers' TTLs run on.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::resp::{parse, RawConn, Value};
use crate::TumblerProcess;

/// One node of a [`Fleet`]: a fixed port and data directory, and the process currently serving
/// them (none while killed).
struct Node {
    /// Declared before `dir`: the process dies before its directory is removed.
    proc: Option<TumblerProcess>,
    paused: bool,
    port: u16,
    /// Environment variables of every start of this node.
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

/// Tumbler server processes on loopback, each with a port and a data directory that survive
/// its restarts (the lock state file, `dir/tumbler-locks.state`, lives there). Every process is
/// killed when the fleet is dropped, also while a test unwinds from a panic.
pub struct Fleet {
    nodes: Vec<Node>,
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

const SIGCONT: i32 = 18;
const SIGSTOP: i32 = 19;

impl Fleet {
    /// Starts `n` nodes, each with `args` after its own `--port`, `--dir` and `--logfile`.
    pub fn start(n: usize, args: &[&str]) -> Fleet {
        Self::start_with_env(n, args, |_| Vec::new())
    }

    /// As [`Fleet::start`], node `i` with the environment variables `env(i)`, also on every
    /// restart (e.g. [`ClockShim::env`]).
    pub fn start_with_env(n: usize, args: &[&str], env: impl Fn(usize) -> Vec<(String, String)>) -> Fleet {
        let mut fleet = Fleet { nodes: Vec::with_capacity(n) };
        for i in 0..n {
            let dir = tempfile::tempdir().unwrap();
            fleet.nodes.push(Node { proc: None, paused: false, port: crate::free_port(), env: env(i), dir });
        }
        for i in 0..n {
            fleet.restart(i, args);
        }
        fleet
    }

    /// The nodes' ports, in node order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// Node `i`'s data directory.
    pub fn dir(&self, i: usize) -> &Path {
        self.nodes[i].dir.path()
    }

    /// Node `i`'s log file.
    pub fn log(&self, i: usize) -> PathBuf {
        self.dir(i).join("tumbler.log")
    }

    /// `kill -9` node `i` and waits for it to be gone; a no-op when it is not running.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        // TumblerProcess' drop is SIGKILL + wait (a stopped process dies of SIGKILL too).
        drop(node.proc.take());
        node.paused = false;
    }

    /// Starts node `i` (again) on its port and data directory, with `args` after them; waits
    /// until it accepts connections. Kills it first if it is still running.
    pub fn restart(&mut self, i: usize, args: &[&str]) {
        self.kill(i);
        let node = &mut self.nodes[i];
        let port = node.port.to_string();
        let dir = node.dir.path().display().to_string();
        let log = node.dir.path().join("tumbler.log").display().to_string();
        let mut all: Vec<&str> = vec!["--port", &port, "--dir", &dir, "--logfile", &log];
        all.extend_from_slice(args);
        let env: Vec<(&str, &str)> = node.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        node.proc = Some(TumblerProcess::start_with_env(&all, &env));
    }

    /// The process id of node `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].proc.as_ref().map(|p| p.child.id())
    }

    fn signal(&self, i: usize, sig: i32) {
        let pid = self.pid(i).unwrap_or_else(|| panic!("node {i} is not running"));
        // SAFETY: kill(2) on a child of this process that has not been waited for, so the pid
        // cannot have been recycled.
        let rc = unsafe { libc_kill(pid as i32, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// `SIGSTOP` node `i`: it keeps its sockets (connections and the listening backlog are
    /// accepted by the kernel) but answers nothing until [`Fleet::resume`].
    pub fn pause(&mut self, i: usize) {
        self.signal(i, SIGSTOP);
        self.nodes[i].paused = true;
    }

    /// `SIGCONT` node `i`.
    pub fn resume(&mut self, i: usize) {
        self.signal(i, SIGCONT);
        self.nodes[i].paused = false;
    }

    /// One field of node `i`'s `INFO locks` as a number.
    pub fn info_lock_field(&self, i: usize, field: &str) -> i64 {
        let mut c = RawConn::connect(([127, 0, 0, 1], self.nodes[i].port).into()).unwrap();
        let text = parse(&c.cmd_str(&["INFO", "locks"])).0.text();
        text.lines()
            .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in INFO locks: {text}"))
    }

    /// Sends one command to node `i` and returns the decoded reply.
    pub fn cmd(&self, i: usize, args: &[&str]) -> Value {
        let mut c = RawConn::connect(([127, 0, 0, 1], self.nodes[i].port).into()).unwrap();
        parse(&c.cmd_str(args)).0
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// Compiles tests/shim/clockshift.c into `dir` with `cc` and returns the library's path.
pub fn build_clock_shim(dir: &Path) -> PathBuf {
    assert!(crate::have("cc"), "a C compiler (cc) is needed to build tests/shim/clockshift.c: apt-get install gcc");
    let lib = dir.join("libclockshift.so");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("shim/clockshift.c");
    let out = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(out.status.success(), "building {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
    lib
}

/// tests/shim/clockshift.c built into a temporary directory, with one wall-clock offset file per
/// node: a process started with [`ClockShim::env`]`(i)` reads CLOCK_REALTIME (and
/// gettimeofday, time) as real time plus the seconds in file `i`, which
/// [`ClockShim::set_offset`] rewrites to step that clock at once.
pub struct ClockShim {
    dir: tempfile::TempDir,
    lib: PathBuf,
}

impl ClockShim {
    /// Builds the library with `cc` (needs a C compiler).
    pub fn build() -> ClockShim {
        let dir = tempfile::tempdir().unwrap();
        let lib = build_clock_shim(dir.path());
        ClockShim { dir, lib }
    }

    fn offset_file(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("offset-{i}"))
    }

    /// Steps node `i`'s wall clock to real time + `seconds`. The file is written whole and
    /// renamed into place, so a server never reads half an offset.
    pub fn set_offset(&self, i: usize, seconds: i64) {
        let tmp = self.dir.path().join(format!("offset-{i}.new"));
        std::fs::write(&tmp, format!("{seconds}\n")).unwrap();
        std::fs::rename(&tmp, self.offset_file(i)).unwrap();
    }

    /// The environment that puts node `i` under the shim (offset 0 until set).
    pub fn env(&self, i: usize) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            ("TUMBLER_CLOCK_OFFSET_FILE".into(), self.offset_file(i).display().to_string()),
        ]
    }
}

/// One stay in the critical section: when the client entered (its acquisition had returned),
/// when it left (before it released), until when its lock was valid by the client's own
/// reckoning, and its fencing token if it had one. All instants are on the test process' clock.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// Which client.
    pub client: usize,
    /// Entered: just after the acquisition returned.
    pub enter: Instant,
    /// Left: just before the release was sent (or the lock abandoned).
    pub leave: Instant,
    /// The lock's validity deadline (`Lock::valid_until`).
    pub valid_until: Instant,
    /// The fencing token, for fenced locks.
    pub token: Option<u64>,
}

impl Section {
    /// The part of the stay during which the client believed its lock valid:
    /// `[enter, min(leave, valid_until)]`. Empty (`None`) when the validity had already run out
    /// on entry (a client paused between acquiring and entering): it acted under no belief.
    pub fn believed(&self) -> Option<(Instant, Instant)> {
        let end = self.leave.min(self.valid_until);
        (end > self.enter).then_some((self.enter, end))
    }
}

/// Two sections that broke a rule.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// The earlier entry.
    pub first: Section,
    /// The later entry.
    pub second: Section,
}

/// What [`check`] found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Sections recorded.
    pub sections: usize,
    /// Sections with a non-empty believed interval (the ones judged).
    pub judged: usize,
    /// Two clients inside at once while both believed their lock valid.
    pub overlaps: Vec<Pair>,
    /// A later entry with a fencing token not greater than an earlier entry's.
    pub token_inversions: Vec<Pair>,
}

impl Verdict {
    /// No rule broken.
    pub fn ok(&self) -> bool {
        self.overlaps.is_empty() && self.token_inversions.is_empty()
    }

    /// A readable account of what went wrong, relative to `origin`, for assertion messages.
    pub fn describe(&self, origin: Instant) -> String {
        let at = |t: Instant| t.saturating_duration_since(origin).as_secs_f64() * 1000.0;
        let show = |s: &Section| {
            format!(
                "client {} in [{:.1}, {:.1}] ms valid to {:.1} ms token {:?}",
                s.client,
                at(s.enter),
                at(s.leave),
                at(s.valid_until),
                s.token
            )
        };
        let mut out = format!("{} sections ({} judged)", self.sections, self.judged);
        for p in self.overlaps.iter().take(5) {
            out.push_str(&format!("\n  OVERLAP {} / {}", show(&p.first), show(&p.second)));
        }
        for p in self.token_inversions.iter().take(5) {
            out.push_str(&format!("\n  TOKEN ORDER {} / {}", show(&p.first), show(&p.second)));
        }
        out
    }
}

/// Judges a history: every pair of sections whose believed intervals overlap is an overlap
/// (whatever the clients: one client never holds two sections at once, so an overlap with
/// itself would be a bug of the harness and is reported too), and fencing tokens must increase
/// strictly in the order of entry. Sections with an empty believed interval are left out of
/// both rules: a client whose validity ran out before it entered did not hold the lock.
///
/// The token rule holds for sound locks: if the second section's lock was granted after the
/// first's lease ended on a node both majorities share, its token is greater (docs/locks.md);
/// and a section entered later without overlapping was granted after the earlier one left or
/// its validity ran out — both before that node freed the key.
pub fn check(history: &[Section]) -> Verdict {
    let mut judged: Vec<(Section, Instant, Instant)> =
        history.iter().filter_map(|s| s.believed().map(|(a, b)| (*s, a, b))).collect();
    judged.sort_by_key(|(_, a, _)| *a);
    let mut v = Verdict { sections: history.len(), judged: judged.len(), ..Verdict::default() };
    for (i, (s, _, end)) in judged.iter().enumerate() {
        // Sorted by entry: every later section that enters before this one's end overlaps it.
        for (t, start, _) in &judged[i + 1..] {
            if *start >= *end {
                break;
            }
            v.overlaps.push(Pair { first: *s, second: *t });
        }
    }
    for w in judged.windows(2) {
        let (a, b) = (w[0].0, w[1].0);
        if let (Some(ta), Some(tb)) = (a.token, b.token) {
            if tb <= ta {
                v.token_inversions.push(Pair { first: a, second: b });
            }
        }
    }
    v
}

/// Sections recorded by concurrent clients.
#[derive(Debug, Default)]
pub struct History {
    sections: Mutex<Vec<Section>>,
}

impl History {
    /// Records one section.
    pub fn record(&self, s: Section) {
        self.sections.lock().unwrap().push(s);
    }

    /// Everything recorded so far.
    pub fn sections(&self) -> Vec<Section> {
        self.sections.lock().unwrap().clone()
    }

    /// Sections entered within `[from, to)`.
    pub fn entered_between(&self, from: Instant, to: Instant) -> usize {
        self.sections.lock().unwrap().iter().filter(|s| s.enter >= from && s.enter < to).count()
    }
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
