//! Logging: human-readable lines through `tracing`, to standard output or `logfile`.

use tracing_subscriber::filter::LevelFilter;

/// Maps redis.conf's `loglevel` to a tracing level: debug and verbose show debug lines,
/// notice shows info and above, warning only warnings and errors.
pub fn level(loglevel: &str) -> LevelFilter {
    match loglevel {
        "debug" | "verbose" => LevelFilter::DEBUG,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::INFO,
    }
}

/// Installs the global subscriber. `logfile` empty means standard output.
pub fn init(loglevel: &str, logfile: &str) -> std::io::Result<()> {
    let builder = tracing_subscriber::fmt().with_max_level(level(loglevel)).with_target(false).with_thread_names(true);
    if logfile.is_empty() {
        use std::io::IsTerminal;
        let ansi = std::io::stdout().is_terminal();
        let _ = builder.with_ansi(ansi).with_writer(std::io::stdout).try_init();
    } else {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(logfile)?;
        let _ = builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).try_init();
    }
    Ok(())
}
