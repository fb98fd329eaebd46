//! `tumbler`: Redlock locks from the shell. Run a command under a lock, take and hand back
//! locks by token, inspect a lock on every node, benchmark lock cycles, and start a local
//! quorum of tumbler-server processes.

mod bench;
mod locks;
mod quorum;
mod run;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tumbler_redlock::{Error, NodeAddr, Options, Redlock, TlsOptions};

/// Exit statuses, documented in `--help` (sysexits.h where one fits).
pub(crate) mod exit {
    /// The lock is not held (release/extend found nothing of ours).
    pub const NOT_HELD: u8 = 1;
    /// Too few nodes answered to decide (EX_UNAVAILABLE).
    pub const UNAVAILABLE: u8 = 69;
    /// A protocol or internal error (EX_SOFTWARE).
    pub const SOFTWARE: u8 = 70;
    /// The lock was not acquired within --wait: someone else holds it (EX_TEMPFAIL).
    pub const NOT_ACQUIRED: u8 = 75;
    /// Bad configuration: node addresses, config file (EX_CONFIG).
    pub const CONFIG: u8 = 78;
    /// The command could not be executed.
    pub const CANNOT_EXEC: u8 = 126;
    /// The command was not found.
    pub const NOT_FOUND: u8 = 127;
}

const EXIT_CODES: &str = "\
Exit status:
  0        success (run: the command's own status)
  1        release/extend: the lock is not held with this token
  2        usage error
  69       fewer than a majority of nodes answered
  70       protocol or internal error
  75       the lock was not acquired within --wait (held by someone else)
  78       bad configuration (node addresses, config file)
  126/127  run: the command could not be executed / was not found
  128+N    run: the command was killed by signal N

Nodes come from --nodes, else $TUMBLER_NODES, else the `nodes = …` line of --config,
else redis://127.0.0.1:6379. rediss:// nodes use TLS: --tls-ca (required), and --tls-cert
with --tls-key for servers that ask for a client certificate.";

#[derive(Parser, Debug)]
#[command(name = "tumbler", version, about = "Redlock locks from the shell: run under a lock, acquire/release by token, status, bench, local quorums", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a command while holding a lock, extended by a watchdog, released on exit.
    #[command(after_help = EXIT_CODES)]
    Run(run::RunArgs),
    /// Acquire a lock and print its token (for `release`/`extend`).
    #[command(after_help = EXIT_CODES)]
    Acquire(locks::AcquireArgs),
    /// Release a lock held with a token.
    #[command(after_help = EXIT_CODES)]
    Release(locks::ReleaseArgs),
    /// Extend a lock held with a token.
    #[command(after_help = EXIT_CODES)]
    Extend(locks::ExtendArgs),
    /// Show a lock on every node: holder, PTTL, LOCK.INFO.
    #[command(after_help = EXIT_CODES)]
    Status(locks::StatusArgs),
    /// Benchmark acquire→hold→release cycles.
    #[command(after_help = EXIT_CODES)]
    Bench(bench::BenchArgs),
    /// Start or stop a local quorum of tumbler-server processes.
    #[command(subcommand)]
    Quorum(quorum::QuorumCmd),
}

/// Where the nodes are and how to talk to them; shared by the lock commands.
#[derive(Args, Debug, Clone)]
pub(crate) struct ConnArgs {
    /// Nodes: comma-separated `redis://[user:pass@]host:port[/db]`, `rediss://…` for TLS
    /// (else $TUMBLER_NODES, the config file, or redis://127.0.0.1:6379).
    #[arg(long, value_name = "URLS")]
    nodes: Option<String>,
    /// Config file with `nodes = …`, `username = …`, `password = …`, `tls-ca = …`,
    /// `tls-cert = …`, `tls-key = …` lines (`#` comments; paths relative to the file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// CA certificate (PEM) to trust for rediss:// nodes.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for rediss:// nodes that require one (with --tls-key).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Per-node request timeout (`250ms`, `1s`).
    #[arg(long, default_value = "250ms", value_parser = util::parse_duration)]
    timeout: Duration,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A failure that ends the program with a status and a message.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) code: u8,
    pub(crate) msg: String,
}

impl Fail {
    pub(crate) fn new(code: u8, msg: impl Into<String>) -> Fail {
        Fail { code, msg: msg.into() }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let code = match &e {
            Error::Refused { .. } | Error::TimedOut => exit::NOT_ACQUIRED,
            Error::QuorumUnreachable { .. } => exit::UNAVAILABLE,
            Error::NotHeld => exit::NOT_HELD,
            Error::Config(_) | Error::Unsupported(_) => exit::CONFIG,
            _ => exit::SOFTWARE,
        };
        Fail::new(code, e.to_string())
    }
}

impl ConnArgs {
    /// The node list: flag, environment, config file, default, in that order.
    fn resolve(&self) -> Result<(Vec<NodeAddr>, Options), Fail> {
        let mut opts = Options { request_timeout: self.timeout, ..Options::default() };
        let mut nodes = self.nodes.clone();
        // TLS files: the flags win over the config file.
        let (mut tls_ca, mut tls_cert, mut tls_key) = (None, None, None);
        if nodes.is_none() {
            nodes = std::env::var("TUMBLER_NODES").ok().filter(|s| !s.trim().is_empty());
        }
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Fail::new(exit::CONFIG, format!("cannot read {}: {e}", path.display())))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (k, v) = line
                    .split_once('=')
                    .or_else(|| line.split_once(char::is_whitespace))
                    .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
                    .ok_or_else(|| {
                        Fail::new(exit::CONFIG, format!("{}:{}: expected `key = value`", path.display(), n + 1))
                    })?;
                match k {
                    "nodes" => {
                        if nodes.is_none() {
                            nodes = Some(v.to_string());
                        }
                    }
                    "username" | "user" => opts.username = Some(v.to_string()),
                    "password" => opts.password = Some(v.to_string()),
                    "tls-ca" | "tls_ca" | "tls-cert" | "tls_cert" | "tls-key" | "tls_key" => {
                        // Relative to the config file's directory.
                        let file = path.parent().unwrap_or_else(|| std::path::Path::new("")).join(v);
                        match &k[4..] {
                            "ca" => tls_ca = Some(file),
                            "cert" => tls_cert = Some(file),
                            _ => tls_key = Some(file),
                        }
                    }
                    _ => {
                        return Err(Fail::new(
                            exit::CONFIG,
                            format!("{}:{}: unknown setting {k:?}", path.display(), n + 1),
                        ))
                    }
                }
            }
        }
        let tls_ca = self.tls_ca.clone().or(tls_ca);
        let tls_cert = self.tls_cert.clone().or(tls_cert);
        let tls_key = self.tls_key.clone().or(tls_key);
        if tls_ca.is_some() || tls_cert.is_some() || tls_key.is_some() {
            let mut t = TlsOptions::default();
            (t.ca_file, t.cert_file, t.key_file) = (tls_ca, tls_cert, tls_key);
            opts.tls = Some(t);
        }
        let list = nodes.unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let addrs = NodeAddr::parse_list(&list).map_err(Fail::from)?;
        if addrs.is_empty() {
            return Err(Fail::new(exit::CONFIG, "no nodes given"));
        }
        Ok((addrs, opts))
    }

    /// A client for the resolved nodes.
    pub(crate) fn client(&self) -> Result<Redlock, Fail> {
        let (nodes, opts) = self.resolve()?;
        Redlock::new(nodes, opts).map_err(Fail::from)
    }

    /// Options and nodes, for callers that build several clients (bench).
    pub(crate) fn parts(&self) -> Result<(Vec<NodeAddr>, Options), Fail> {
        self.resolve()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tumbler: cannot start the runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Run(a) => run::run(a).await,
            Command::Acquire(a) => locks::acquire(a).await,
            Command::Release(a) => locks::release(a).await,
            Command::Extend(a) => locks::extend(a).await,
            Command::Status(a) => locks::status(a).await,
            Command::Bench(a) => bench::bench(a).await,
            Command::Quorum(q) => quorum::quorum(q).await,
        }
    });
    // Do not wait for background work (a release spawned by a dropped guard is already done).
    rt.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("tumbler: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}
