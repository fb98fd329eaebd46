//! `tumbler quorum up | down`: a local quorum of tumbler-server processes for trying things
//! out. Each node gets `DIR/nodeI` for its data and `DIR/nodeI/tumbler.log`; `DIR/quorum.pid`
//! lists `pid port` per node, so `quorum down` can stop a quorum started with `--detach`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tumbler_redlock::{NodeAddr, Options, Redlock};

use crate::util::{alive, signal as send_signal};
use crate::{exit, Fail};

/// How long a node gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long the nodes get to answer PING after starting.
const START_WAIT: Duration = Duration::from_secs(10);

/// `tumbler quorum …`.
#[derive(Subcommand, Debug)]
pub(crate) enum QuorumCmd {
    /// Start N tumbler-server nodes on consecutive ports; stops them on Ctrl-C unless --detach.
    Up(UpArgs),
    /// Stop a quorum started with `up --detach`.
    Down(DownArgs),
}

/// `tumbler quorum up`.
#[derive(Args, Debug)]
pub(crate) struct UpArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    nodes: u16,
    /// Port of the first node; the others follow.
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// Directory for data, logs and the pid file (default: $TMPDIR/tumbler-quorum).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The tumbler-server binary (default: next to this executable, else on PATH).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Address the nodes listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Worker threads of each node. The nodes share this host, so one each, as five
    /// redis-servers would be; a node on a host of its own uses one per core but one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    io_threads: u16,
    /// Return once the nodes answer, leaving them running (stop with `quorum down`).
    #[arg(long)]
    detach: bool,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `tumbler quorum down`.
#[derive(Args, Debug)]
pub(crate) struct DownArgs {
    /// The directory given to `quorum up` (default: $TMPDIR/tumbler-quorum).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn default_dir() -> PathBuf {
    std::env::temp_dir().join("tumbler-quorum")
}

fn pid_file(dir: &Path) -> PathBuf {
    dir.join("quorum.pid")
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Fail {
    let what = format!("{what} {}", path.display());
    move |e| Fail::new(exit::SOFTWARE, format!("{what}: {e}"))
}

/// The `(pid, port)` lines of a pid file.
fn read_pids(dir: &Path) -> Result<Vec<(u32, u16)>, Fail> {
    let path = pid_file(dir);
    let text = std::fs::read_to_string(&path).map_err(io("cannot read", &path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_whitespace();
            match (it.next().and_then(|p| p.parse().ok()), it.next().and_then(|p| p.parse().ok())) {
                (Some(pid), Some(port)) => Ok((pid, port)),
                _ => Err(Fail::new(exit::CONFIG, format!("{}: bad line {l:?}", path.display()))),
            }
        })
        .collect()
}

/// True when `pid` is (still) a tumbler-server, so a recycled pid is never signalled.
fn is_server(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) => cmd.split(|b| *b == 0).next().is_some_and(|argv0| argv0.ends_with(b"tumbler-server")),
        // No /proc: trust the pid file.
        Err(_) => alive(pid),
    }
}

fn find_server(given: Option<PathBuf>) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        let p = dir.join("tumbler-server");
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from("tumbler-server")
}

/// Stops `pids`: SIGTERM (a clean shutdown, so no restart fence), then SIGKILL after the grace
/// period. Returns how many were running.
async fn stop(pids: &[u32]) -> usize {
    let running: Vec<u32> = pids.iter().copied().filter(|p| alive(*p) && is_server(*p)).collect();
    for &p in &running {
        send_signal(p, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while running.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for &p in &running {
        if alive(p) {
            send_signal(p, libc::SIGKILL);
        }
    }
    running.len()
}

pub(crate) async fn quorum(cmd: QuorumCmd) -> Result<u8, Fail> {
    match cmd {
        QuorumCmd::Up(a) => up(a).await,
        QuorumCmd::Down(a) => down(a).await,
    }
}

async fn up(a: UpArgs) -> Result<u8, Fail> {
    if a.nodes == 0 {
        return Err(Fail::new(2, "--nodes must be at least 1"));
    }
    let last = a.base_port.checked_add(a.nodes - 1).ok_or_else(|| Fail::new(2, "ports beyond 65535"))?;
    let dir = a.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    let dir = dir.canonicalize().map_err(io("cannot resolve", &dir))?;
    if pid_file(&dir).exists() {
        if let Ok(pids) = read_pids(&dir) {
            if pids.iter().any(|(p, _)| alive(*p) && is_server(*p)) {
                return Err(Fail::new(
                    exit::CONFIG,
                    format!("a quorum is already running from {} (tumbler quorum down --dir {0})", dir.display()),
                ));
            }
        }
    }
    let server = find_server(a.server.clone());
    let mut children: Vec<(Child, u16)> = Vec::new();
    for (i, port) in (a.base_port..=last).enumerate() {
        let node_dir = dir.join(format!("node{}", i + 1));
        std::fs::create_dir_all(&node_dir).map_err(io("cannot create", &node_dir))?;
        let log = node_dir.join("tumbler.log");
        let spawned = {
            use std::os::unix::process::CommandExt;
            Command::new(&server)
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg(&a.bind)
                .arg("--io-threads")
                .arg(a.io_threads.to_string())
                .arg("--dir")
                .arg(&node_dir)
                .arg("--daemonize")
                .arg("no")
                .arg("--logfile")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group: a Ctrl-C at the terminal reaches only us, and we stop
                // the nodes cleanly; a detached quorum outlives the terminal's signals.
                .process_group(0)
                .spawn()
        };
        match spawned {
            Ok(c) => children.push((c, port)),
            Err(e) => {
                let pids: Vec<u32> = children.iter().map(|(c, _)| c.id()).collect();
                stop(&pids).await;
                return Err(Fail::new(exit::CONFIG, format!("cannot start {}: {e}", server.display())));
            }
        }
    }
    let pids: Vec<u32> = children.iter().map(|(c, _)| c.id()).collect();
    let text: String = children.iter().map(|(c, port)| format!("{} {port}\n", c.id())).collect();
    let pf = pid_file(&dir);
    std::fs::write(&pf, text).map_err(io("cannot write", &pf))?;
    // Wait until every node answers PING.
    let host = if a.bind == "0.0.0.0" { "127.0.0.1".to_string() } else { a.bind.clone() };
    let addrs: Vec<NodeAddr> = children.iter().map(|(_, p)| NodeAddr::new(host.clone(), *p)).collect();
    let client = Redlock::new(addrs, Options::default()).map_err(Fail::from)?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        let pings = client.ping().await;
        let down: Vec<&String> = pings.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| n).collect();
        if down.is_empty() {
            break;
        }
        let exited = children.iter_mut().any(|(c, _)| matches!(c.try_wait(), Ok(Some(_))));
        if exited || Instant::now() >= deadline {
            stop(&pids).await;
            let _ = std::fs::remove_file(&pf);
            return Err(Fail::new(
                exit::UNAVAILABLE,
                format!("nodes did not come up: {down:?} (logs under {})", dir.display()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let urls: Vec<String> = children.iter().map(|(_, p)| format!("redis://{host}:{p}")).collect();
    let list = urls.join(",");
    if a.json {
        let nodes: Vec<_> =
            children.iter().zip(&urls).map(|((c, p), u)| json!({ "pid": c.id(), "port": p, "url": u })).collect();
        println!("{}", json!({ "dir": dir.display().to_string(), "nodes": nodes, "urls": list }));
    } else {
        println!("quorum of {} nodes up: {list}", children.len());
        println!("data and logs under {}", dir.display());
        println!("export TUMBLER_NODES={list}");
    }
    if a.detach {
        if !a.json {
            println!("stop with: tumbler quorum down --dir {}", dir.display());
        }
        return Ok(0);
    }
    if !a.json {
        println!("Ctrl-C stops the quorum");
    }
    let sigerr = |e: std::io::Error| Fail::new(exit::SOFTWARE, format!("cannot handle signals: {e}"));
    let mut sigint = signal(SignalKind::interrupt()).map_err(sigerr)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(sigerr)?;
    let mut check = tokio::time::interval(Duration::from_millis(500));
    let mut code = 0;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = check.tick() => {
                if let Some((_, port)) = children.iter_mut().find_map(|(c, p)| matches!(c.try_wait(), Ok(Some(_))).then_some((0, *p))) {
                    eprintln!("tumbler: the node on port {port} exited; stopping the quorum");
                    code = exit::UNAVAILABLE;
                    break;
                }
            }
        }
    }
    let n = stop(&pids).await;
    for (c, _) in &mut children {
        let _ = c.wait();
    }
    let _ = std::fs::remove_file(&pf);
    eprintln!("stopped {n} nodes");
    Ok(code)
}

async fn down(a: DownArgs) -> Result<u8, Fail> {
    let dir = a.dir.unwrap_or_else(default_dir);
    let pids = read_pids(&dir)?;
    let n = stop(&pids.iter().map(|(p, _)| *p).collect::<Vec<_>>()).await;
    let pf = pid_file(&dir);
    std::fs::remove_file(&pf).map_err(io("cannot remove", &pf))?;
    if a.json {
        println!("{}", json!({ "dir": dir.display().to_string(), "stopped": n }));
    } else {
        println!("stopped {n} of {} nodes ({})", pids.len(), dir.display());
    }
    Ok(0)
}
