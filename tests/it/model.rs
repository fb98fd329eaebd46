//! The Promela model of fenced quorum locks (docs/model/fencing.pml), checked with spin: the
//! protocol as tumbler implements it has no violation within the model's bounds, and each
//! safety mechanism, taken out, lets spin find the violation it prevents. Each check explores
//! the whole state space (no bitstate hashing) and takes seconds.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use tumbler_tests::have;

/// One verifier at a time: each wants a core and up to a gigabyte.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What pan said about one variant.
struct Verdict {
    output: String,
}

impl Verdict {
    /// The number after `errors:`.
    fn errors(&self) -> u64 {
        let at =
            self.output.find("errors: ").unwrap_or_else(|| panic!("no error count in pan's output:\n{}", self.output));
        let digits: String = self.output[at + 8..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    }

    /// The number before `states, stored`.
    fn states(&self) -> u64 {
        let line = self.output.lines().find(|l| l.contains("states, stored")).expect("a state count");
        line.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// Asserts the search covered the whole state space: exhaustive (not bitstate), not cut
    /// off by the depth limit or the memory limit, and every statement of the clients reached
    /// (so the assertions in the critical section were evaluated, not skipped vacuously).
    fn assert_complete(&self) {
        let out = &self.output;
        assert!(out.contains("Full statespace search for:"), "not an exhaustive search:\n{out}");
        assert!(out.contains("assertion violations\t+"), "assertions not checked:\n{out}");
        for bad in ["search depth too small", "MEMLIM", "out of memory", "aborted", "Bit statespace"] {
            assert!(!out.contains(bad), "search incomplete ({bad}):\n{out}");
        }
        assert!(out.contains("unreached in proctype client\n\t(0 of "), "unreached client statements:\n{out}");
    }
}

/// Runs spin and pan on the model with `defines`, in a temporary directory.
fn check(defines: &[&str]) -> Verdict {
    assert!(have("spin"), "spin is not installed: apt-get install spin (scripts/test.sh installs it)");
    assert!(have("cc"), "a C compiler (cc) is needed to compile spin's verifier: apt-get install gcc");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/model/fencing.pml");
    std::fs::copy(&model, dir.path().join("fencing.pml")).unwrap();
    let run = |cmd: &mut Command| -> String {
        let out = cmd.current_dir(dir.path()).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{cmd:?} failed:\n{text}");
        text
    };
    run(Command::new("spin").arg("-a").args(defines).arg("fencing.pml"));
    // Exhaustive safety search; 2 GB is several times what the largest variant needs, and
    // reaching it shows up as an incomplete search rather than swapping.
    run(Command::new("cc").args(["-O2", "-DSAFETY", "-DMEMLIM=2048", "-o", "pan", "pan.c"]));
    // -m: the depth limit, far above the model's depth (about 50 steps).
    let output = run(Command::new("./pan").arg("-m10000"));
    Verdict { output }
}

#[test]
fn the_fenced_protocol_is_safe_within_the_bounds() {
    let v = check(&[]);
    v.assert_complete();
    assert_eq!(v.errors(), 0, "{}", v.output);
    assert!(v.states() > 1_000_000, "suspiciously few states:\n{}", v.output);
}

#[test]
fn the_fenced_protocol_is_safe_with_three_clients() {
    let v = check(&["-DNC=3", "-DMAXACQ=1"]);
    v.assert_complete();
    assert_eq!(v.errors(), 0, "{}", v.output);
}

#[test]
fn without_round_two_tokens_go_backwards() {
    let v = check(&["-DNO_ROUND2"]);
    assert!(v.errors() >= 1, "{}", v.output);
    assert!(v.output.contains("assertion violated (T>last_T)"), "{}", v.output);
}

#[test]
fn without_a_persisted_floor_tokens_go_backwards() {
    let v = check(&["-DNO_FLOOR_PERSIST"]);
    assert!(v.errors() >= 1, "{}", v.output);
    assert!(v.output.contains("assertion violated (T>last_T)"), "{}", v.output);
}

#[test]
fn without_the_restart_fence_two_clients_hold_the_lock() {
    let v = check(&["-DNO_RESTART_FENCE"]);
    assert!(v.errors() >= 1, "{}", v.output);
    assert!(v.output.contains("assertion violated (incs==0)"), "{}", v.output);
}
