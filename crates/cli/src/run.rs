//! `tumbler run`: a command under a lock. Acquire (waiting up to --wait), start the command
//! with a watchdog extending the lock, forward SIGINT/SIGTERM/SIGHUP to it, release when it
//! exits, and exit with its status. Losing the lock is reported on stderr, and with
//! --kill-on-loss ends the command (SIGTERM, then SIGKILL after a grace period).

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use crate::util::{parse_duration, signal as send_signal};
use crate::{exit, ConnArgs, Fail};

/// How long a command killed for losing its lock gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// `tumbler run`.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Lock name (the key on every node).
    #[arg(long = "lock", value_name = "NAME")]
    name: String,
    /// Lock TTL; the watchdog extends it every third of it while the command runs.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ttl: Duration,
    /// How long to wait for the lock while someone else holds it (exit 75 after).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    wait: Duration,
    /// Terminate the command if the lock is lost while it runs.
    #[arg(long)]
    kill_on_loss: bool,
    /// Take a fenced lock (every node must be tumbler); the command gets
    /// $TUMBLER_FENCING_TOKEN.
    #[arg(long)]
    fenced: bool,
    #[command(flatten)]
    conn: ConnArgs,
    /// The command and its arguments (after `--`). It gets $TUMBLER_LOCK and
    /// $TUMBLER_LOCK_TOKEN.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub(crate) async fn run(a: RunArgs) -> Result<u8, Fail> {
    let client = a.conn.client()?;
    // Install the handlers before anything can be interrupted: from here on, SIGINT and
    // SIGTERM are ours to forward, not to die of.
    let io = |e: std::io::Error| Fail::new(exit::SOFTWARE, format!("cannot handle signals: {e}"));
    let mut sigint = signal(SignalKind::interrupt()).map_err(io)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(io)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(io)?;
    let lock = tokio::select! {
        r = crate::locks::take(&client, &a.name, a.ttl, a.wait, a.fenced) => r?,
        _ = sigint.recv() => return Ok(128 + libc::SIGINT as u8),
        _ = sigterm.recv() => return Ok(128 + libc::SIGTERM as u8),
    };
    let mut cmd = tokio::process::Command::new(&a.command[0]);
    cmd.args(&a.command[1..]).env("TUMBLER_LOCK", &a.name).env("TUMBLER_LOCK_TOKEN", lock.token().to_string());
    if let Some(t) = lock.fencing_token() {
        cmd.env("TUMBLER_FENCING_TOKEN", t.to_string());
    }
    let guard = client.watch(lock);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = guard.release().await;
            let code = if e.kind() == std::io::ErrorKind::NotFound { exit::NOT_FOUND } else { exit::CANNOT_EXEC };
            return Err(Fail::new(code, format!("cannot run {:?}: {e}", a.command[0])));
        }
    };
    let pid = child.id().unwrap_or(0);
    let mut lost = false;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let status = loop {
        tokio::select! {
            st = child.wait() => break st,
            _ = guard.lost(), if !lost => {
                lost = true;
                eprintln!("tumbler: lost the lock {:?} while the command was running", a.name);
                if a.kill_on_loss {
                    eprintln!("tumbler: terminating the command (--kill-on-loss)");
                    send_signal(pid, libc::SIGTERM);
                    kill_at = Some(tokio::time::Instant::now() + KILL_GRACE);
                }
            }
            _ = sigint.recv() => { send_signal(pid, libc::SIGINT); }
            _ = sigterm.recv() => { send_signal(pid, libc::SIGTERM); }
            _ = sighup.recv() => { send_signal(pid, libc::SIGHUP); }
            _ = async { if let Some(t) = kill_at { tokio::time::sleep_until(t).await } }, if kill_at.is_some() => {
                send_signal(pid, libc::SIGKILL);
                kill_at = None;
            }
        }
    };
    // Compare-and-delete is harmless even when the lock was lost: it deletes only our token.
    if let Err(e) = guard.release().await {
        eprintln!("tumbler: releasing {:?}: {e}", a.name);
    }
    let status = status.map_err(|e| Fail::new(exit::SOFTWARE, format!("waiting for the command: {e}")))?;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(exit::SOFTWARE),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(exit::SOFTWARE),
        (None, None) => exit::SOFTWARE,
    })
}
