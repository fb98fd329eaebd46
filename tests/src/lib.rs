//! Support for tumbler's integration tests: starting real `redis-server` and tumbler instances
//! on ports the tests pick, a raw RESP client that keeps reply bytes exactly as received, and
//! the differential corpus runner.
#![allow(clippy::unwrap_used, missing_docs)]

pub mod corpus;
pub mod faults;
pub mod resp;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A seeded xorshift generator of numbers below its argument, for randomized tests that must
/// replay the same sequence on every run.
pub fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

/// A free TCP port on loopback (bound to port 0 and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `addr`.
pub fn wait_listening(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// True when a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `redis-server` process started for a test and stopped when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts Debian's redis-server with the settings both sides of the differential tests use.
    pub fn start(extra: &[&str]) -> RedisServer {
        Self::start_from(None, extra)
    }

    /// As [`RedisServer::start`], reading the configuration file `conf` first (CONFIG REWRITE
    /// writes to it).
    pub fn start_from(conf: Option<&Path>, extra: &[&str]) -> RedisServer {
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
                "--dir",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.push(dir.path().display().to_string());
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new("redis-server")
                .args(conf)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (apt-get install redis-server)");
            let mut s = RedisServer { port, child, _dir: dir };
            if wait_listening(s.addr(), Duration::from_secs(5)) {
                return s;
            }
            let _ = s.child.kill();
        }
        panic!("could not start redis-server");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An in-process tumbler server on an ephemeral port, stopped when dropped.
pub struct Tumbler {
    pub handle: tumbler_server::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Tumbler {
    /// Starts tumbler configured like the reference redis-server, plus `extra` directives
    /// (`&[("maxmemory", "1mb")]`). It runs two workers unless `extra` says otherwise, whatever
    /// the machine's cores: connections are dealt to the workers in turn, so a test's clients
    /// sit on different threads, and the paths between them (a blocked client served by
    /// another's push, pub/sub delivery, CLIENT KILL, WATCH, scripts beside each other) are
    /// exercised. `TumblerProcess` runs the binary's own default.
    pub fn start(extra: &[(&str, &str)]) -> Tumbler {
        Self::start_with(extra, None)
    }

    /// As [`Tumbler::start`], with a clock of the test's choosing.
    pub fn start_with(extra: &[(&str, &str)], clock: Option<std::sync::Arc<dyn tumbler_expiry::Clock>>) -> Tumbler {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!(
            "bind 127.0.0.1\nport 0\nsave \"\"\nappendonly no\nenable-debug-command yes\nio-threads 2\ndir \"{}\"\n",
            dir.path().display()
        );
        for (k, v) in extra {
            text.push_str(&format!("{k} \"{v}\"\n"));
        }
        let mut cfg = tumbler_commands::config::Config::default();
        let ds = tumbler_server::conf::parse_text(&text, "test").unwrap();
        tumbler_server::conf::apply(&mut cfg, &ds).unwrap();
        let handle = tumbler_server::start(cfg, tumbler_server::StartOptions { clock, ..Default::default() }).unwrap();
        Tumbler { handle, _dir: dir }
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }
}

/// `cargo`, without the variables cargo sets for the test process that runs it. Build scripts
/// that watch one of them (ring's watches `CARGO_MANIFEST_DIR`) would otherwise run again, and
/// everything above them be rebuilt, here and again at the next `cargo test`.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        let per_package =
            ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"].iter().any(|p| n.starts_with(p))
                || n == "CARGO_PRIMARY_PACKAGE"
                || n == "CARGO_TARGET_TMPDIR"
                || n == "OUT_DIR";
        if per_package {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// The `tumbler-server` binary of this workspace, built on first use if needed.
pub fn server_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    BIN.get_or_init(|| {
        let _g = LOCK.lock().unwrap();
        // target/<profile>/deps/it-xxxx -> target/<profile>/tumbler-server
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
        let bin = profile_dir.join("tumbler-server");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = cargo();
        cmd.args(["build", "-q", "-p", "tumbler-server", "--bin", "tumbler-server"]);
        if release {
            cmd.arg("--release");
        }
        // Always ask cargo: it is a no-op when the binary is up to date.
        let st = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo");
        assert!(st.success(), "building tumbler-server failed");
        bin
    })
    .clone()
}

/// A `tumbler-server` child process, killed when dropped.
pub struct TumblerProcess {
    pub port: u16,
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl TumblerProcess {
    /// Starts the binary with `args` (a config file first, if any) followed by
    /// `--port <free> --bind 127.0.0.1 --dir <temp>`, unless `args` set those themselves.
    pub fn start(args: &[&str]) -> TumblerProcess {
        Self::start_with_env(args, &[])
    }

    /// As [`TumblerProcess::start`], with extra environment variables for the server process
    /// (`&[("LD_PRELOAD", "/tmp/x/libclockshift.so")]`).
    pub fn start_with_env(args: &[&str], envs: &[(&str, &str)]) -> TumblerProcess {
        let bin = server_binary();
        let (file, rest): (&[&str], &[&str]) = match args.first() {
            Some(f) if !f.starts_with("--") => (&args[..1], &args[1..]),
            _ => (&[], args),
        };
        // A `--port` among the arguments wins over the free port picked here (a restart on the
        // same port); the address waited for follows it.
        let fixed = rest.iter().position(|a| *a == "--port").and_then(|i| rest.get(i + 1)).and_then(|p| p.parse().ok());
        for _ in 0..5 {
            let port = fixed.unwrap_or_else(free_port);
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new(&bin)
                .args(file)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", &dir.path().display().to_string()])
                .args(rest)
                .envs(envs.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut p = TumblerProcess { port, child, dir };
            if wait_listening(p.addr(), Duration::from_secs(10)) {
                return p;
            }
            let _ = p.child.kill();
        }
        panic!("could not start tumbler-server");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for TumblerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").current_dir(dir).args(args).output().expect("openssl (scripts/test.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes, with openssl in `dir`: a CA (`ca.crt`), a server certificate for 127.0.0.1 and
/// localhost (`server.crt`/`.key`) and a client certificate (`client.crt`/`.key`) signed by it, and a
/// client certificate signed by a CA the server does not trust (`rogue.crt`/`.key`).
pub fn tls_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "rogue-ca"] {
        let (key, crt, subj) = (format!("{ca}.key"), format!("{ca}.crt"), format!("/CN={ca}"));
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        a.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
        openssl(dir, &a);
    }
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for (name, ca, ext) in
        [("server", "ca", "server.ext"), ("client", "ca", "client.ext"), ("rogue", "rogue-ca", "client.ext")]
    {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        let mut a = vec!["req"];
        a.extend(ec);
        a.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
        openssl(dir, &a);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    }
}
