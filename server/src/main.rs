//! `tumbler-server`: a Redis-compatible lock server. Start it like redis-server:
//! `tumbler-server [config-file] [--directive value ...]`.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tumbler_commands::config::Config;
use tumbler_expiry::SystemClock;
use tumbler_server::{conf, logging, start, StartOptions};

/// The global allocator: mimalloc, with a byte count for INFO's `used_memory` (and, later,
/// `maxmemory`). The counter is one relaxed atomic add per allocation.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to mimalloc unchanged; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(l.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ALLOCATED.fetch_sub(l.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(l.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new, Relaxed);
        ALLOCATED.fetch_sub(l.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated() -> usize {
    ALLOCATED.load(Relaxed)
}

/// `disable-thp yes` (the default, as in Redis 7): no transparent huge pages for this process.
/// mimalloc asks for them (MADV_HUGEPAGE) on its large regions, so with THP in `madvise` mode,
/// as Debian ships it, the first touch of each 2 MB region zeroes all of it at once: a stall of
/// milliseconds on a VM (2.7 ms measured here) in whichever thread touched it, often with a
/// shard lock held, while 4 KB pages spread the same cost thinly. Under a mass expiry while
/// keys were loading it was most of the expiry lag (README, Performance).
fn disable_thp() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and sets a flag of this process only.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        tracing::warn!(
            "could not disable transparent huge pages for this process ({}); expect latency spikes while memory grows",
            std::io::Error::last_os_error()
        );
    }
}

/// Detaches from the terminal (`daemonize yes`): fork, let the parent exit, start a new
/// session, and point the standard streams at /dev/null. Runs before any thread exists.
fn daemonize() {
    // SAFETY: called while the process is still single-threaded; the child only continues
    // running Rust code it owns, the parent exits at once.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("tumbler-server: fork failed, cannot daemonize");
                std::process::exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

const USAGE: &str = "Usage: tumbler-server [/path/to/tumbler.conf] [options] [-]
       tumbler-server - (read config from stdin)
       tumbler-server -v or --version
       tumbler-server -h or --help
       tumbler-server --test-config [/path/to/tumbler.conf] [options]

Options are redis.conf directives written as --name value, applied after the file:
       tumbler-server --port 7777
       tumbler-server /etc/tumbler/tumbler.conf --loglevel verbose --maxmemory 1gb

Every directive is documented in conf/tumbler.conf.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cl = match conf::parse_args(&args) {
        Ok(cl) => cl,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            std::process::exit(1);
        }
    };
    if cl.help {
        println!("{USAGE}");
        return;
    }
    if cl.version {
        println!(
            "tumbler-server v={} (Redis {} compatible) bits={}",
            tumbler_commands::server::TUMBLER_VERSION,
            tumbler_commands::server::REDIS_VERSION,
            usize::BITS
        );
        return;
    }
    let mut cfg = Config::default();
    let mut directives = Vec::new();
    let mut config_file = String::new();
    if let Some(path) = &cl.file {
        let (text, name) = if path == "-" {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s);
            (s, "stdin".to_string())
        } else {
            match std::fs::read_to_string(path) {
                Ok(t) => (t, path.clone()),
                Err(e) => {
                    eprintln!("Fatal error, can't open config file '{path}': {e}");
                    std::process::exit(1);
                }
            }
        };
        config_file = std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.clone());
        match conf::parse_text(&text, &name) {
            Ok(d) => directives.extend(d),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    directives.extend(cl.directives);
    if let Err(e) = conf::apply(&mut cfg, &directives) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if cl.test_config {
        // The users too, as startup would load them: `user` directives and the `aclfile`
        // (Redis' --test-config reads no aclfile; a node that then refused to start because
        // of it would be found out only at its restart).
        let srv = tumbler_commands::Server::new(cfg, std::sync::Arc::new(SystemClock::new()), 1, config_file);
        if let Err(e) = srv.init_acl() {
            eprintln!("{e}");
            std::process::exit(1);
        }
        println!("Configuration test passed");
        return;
    }
    if cfg.daemonize.load(Relaxed) {
        daemonize();
    }
    let (loglevel, logfile, mut pidfile, save, appendonly) = {
        let s = cfg.settings.read();
        let lvl =
            tumbler_commands::config::LOGLEVELS.get(cfg.loglevel.load(Relaxed) as usize).copied().unwrap_or("notice");
        (lvl.to_string(), s.logfile.clone(), s.pidfile.clone(), s.save.clone(), s.appendonly)
    };
    if cfg.daemonize.load(Relaxed) && pidfile.is_empty() {
        // As Redis: a daemon always writes a pid file, by default in /var/run.
        pidfile = "/var/run/tumbler.pid".into();
    }
    if let Err(e) = logging::init(&loglevel, &logfile) {
        eprintln!("Can't open the log file '{logfile}': {e}");
        std::process::exit(1);
    }
    if cfg.disable_thp.load(Relaxed) {
        disable_thp();
    }
    tumbler_commands::info::set_allocated_probe(allocated);
    if !save.is_empty() || appendonly {
        tracing::warn!(
            "'save' and 'appendonly' are accepted but tumbler does not persist data yet: a restart starts empty"
        );
    }
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!("failed to write PID file {pidfile}: {e}");
        }
    }
    let handle = match start(cfg, StartOptions { config_file, handle_signals: true, clock: None }) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("tumbler-server: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(
        "tumbler {} (Redis {} compatible) started, pid {}, {} worker thread(s)",
        tumbler_commands::server::TUMBLER_VERSION,
        tumbler_commands::server::REDIS_VERSION,
        std::process::id(),
        handle.server().workers
    );
    for a in handle.addrs() {
        tracing::info!("Ready to accept connections tcp on {a}");
    }
    handle.wait();
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
}
