//! Reading configuration: redis.conf syntax in files, and redis-server's command line form
//! `tumbler-server [config-file] [--directive value ...]`.
//!
//! Every directive goes through the same parameter table as CONFIG SET, so validation and error
//! texts are shared; a bad directive stops startup with the file, line and directive named.

use std::fmt;
use std::sync::Arc;
use tumbler_commands::config::{Config, SetError};
use tumbler_commands::tumbler_acl::Acl;
use tumbler_commands::Registry;
use tumbler_proto::split_args;

/// A directive with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Directive name as written.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Vec<u8>>,
    /// `file:line` or `command line`.
    pub origin: String,
    /// The line as written (for error messages).
    pub text: String,
}

/// A configuration error that stops startup.
#[derive(Debug)]
pub struct ConfError {
    /// Where.
    pub origin: String,
    /// The offending line or argument.
    pub text: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "*** FATAL CONFIG ERROR (tumbler) ***\nReading the configuration at {}\n>>> '{}'\n{}",
            self.origin, self.text, self.reason
        )
    }
}

impl std::error::Error for ConfError {}

/// Parses configuration text (a file's contents). `name` names the file in errors.
pub fn parse_text(text: &str, name: &str) -> Result<Vec<Directive>, ConfError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let origin = format!("{}:{}", name, i + 1);
        let Some(mut parts) = split_args(trimmed.as_bytes()) else {
            return Err(ConfError {
                origin,
                text: trimmed.into(),
                reason: "Unbalanced quotes in configuration line".into(),
            });
        };
        if parts.is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(&parts.remove(0)).into_owned();
        out.push(Directive { name, args: parts, origin, text: trimmed.into() });
    }
    Ok(out)
}

/// What the command line asks for.
#[derive(Debug, Default)]
pub struct CommandLine {
    /// The configuration file, if one was given.
    pub file: Option<String>,
    /// `--directive value ...` pairs, applied after the file.
    pub directives: Vec<Directive>,
    /// `--help` / `-h`.
    pub help: bool,
    /// `--version` / `-v`.
    pub version: bool,
    /// `--test-config`: check the configuration and exit.
    pub test_config: bool,
}

/// Parses redis-server's argument form: an optional config file first, then `--name args…`
/// (each directive's arguments run until the next `--`).
pub fn parse_args(args: &[String]) -> Result<CommandLine, ConfError> {
    let mut cl = CommandLine::default();
    let mut i = 0;
    if let Some(first) = args.first() {
        match first.as_str() {
            "-h" | "--help" => cl.help = true,
            "-v" | "--version" => cl.version = true,
            _ => {}
        }
        if cl.help || cl.version {
            return Ok(cl);
        }
        if !first.starts_with("--") {
            cl.file = Some(first.clone());
            i = 1;
        }
    }
    while i < args.len() {
        let a = &args[i];
        let Some(name) = a.strip_prefix("--") else {
            return Err(ConfError {
                origin: "command line".into(),
                text: a.clone(),
                reason: "expected --directive (options after the config file must start with --)".into(),
            });
        };
        if name == "test-config" {
            cl.test_config = true;
            i += 1;
            // `--test-config FILE [options]`, as the usage says.
            if cl.file.is_none() && i < args.len() && !args[i].starts_with("--") {
                cl.file = Some(args[i].clone());
                i += 1;
            }
            continue;
        }
        let mut vals = Vec::new();
        i += 1;
        while i < args.len() && !(args[i].starts_with("--") && args[i].len() > 2) {
            vals.push(args[i].as_bytes().to_vec());
            i += 1;
        }
        let text = std::iter::once(format!("--{name}"))
            .chain(vals.iter().map(|v| String::from_utf8_lossy(v).into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        cl.directives.push(Directive { name: name.to_string(), args: vals, origin: "command line".into(), text });
    }
    Ok(cl)
}

/// Applies directives in order to a configuration being built.
pub fn apply(cfg: &mut Config, directives: &[Directive]) -> Result<(), ConfError> {
    // `user` directives are checked against the command table as they are read (so errors name
    // their line) and applied once the server starts.
    let mut acl: Option<Acl> = None;
    for d in directives {
        let err = |reason: String| ConfError { origin: d.origin.clone(), text: d.text.clone(), reason };
        let name = d.name.to_ascii_lowercase();
        if name == "user" {
            let acl = acl.get_or_insert_with(|| Acl::new(Arc::new(Registry::new().catalog())));
            let argv: Vec<&[u8]> =
                std::iter::once(b"user".as_slice()).chain(d.args.iter().map(Vec::as_slice)).collect();
            cfg.users.add(&argv, acl).map_err(err)?;
            continue;
        }
        let multi = matches!(
            name.as_str(),
            "save" | "bind" | "client-output-buffer-limit" | "latency-tracking-info-percentiles"
        );
        let value: Vec<u8> = if multi {
            d.args.join(&b' ')
        } else if d.args.len() == 1 {
            d.args[0].clone()
        } else {
            return Err(err(format!("wrong number of arguments for '{}' (expected one value)", d.name)));
        };
        // redis.conf allows several `save` lines; they accumulate.
        let value = if name == "save" && !value.is_empty() {
            let cur = Config::param(b"save").map(|p| p.get(cfg)).unwrap_or_default();
            if cur.is_empty() {
                value
            } else {
                format!("{cur} {}", String::from_utf8_lossy(&value)).into_bytes()
            }
        } else {
            value
        };
        match cfg.set_startup(name.as_bytes(), &value) {
            Ok(()) => {}
            Err(SetError::Unknown) => {
                return Err(err(format!("Bad directive or wrong number of arguments: unknown directive '{}'", d.name)))
            }
            Err(SetError::Invalid(why)) => return Err(err(format!("Invalid value for '{}': {why}", d.name))),
            Err(SetError::Immutable) => return Err(err("immutable".into())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn redis_server_argument_form() {
        let cl = parse_args(&args(&["my.conf", "--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"]))
            .expect("parse");
        assert_eq!(cl.file.as_deref(), Some("my.conf"));
        assert_eq!(cl.directives.len(), 3);
        assert_eq!(cl.directives[1].args, vec![Vec::<u8>::new()]);
        assert_eq!(cl.directives[2].args.len(), 2);
        assert!(parse_args(&args(&["--version"])).expect("parse").version);
        assert!(parse_args(&args(&["a.conf", "port"])).is_err());
    }

    #[test]
    fn file_errors_name_the_line() {
        let ds = parse_text("# comment\nport 7000\n\nfoo bar\n", "t.conf").expect("parse");
        let mut cfg = Config::default();
        let e = apply(&mut cfg, &ds).expect_err("foo is unknown");
        assert_eq!(e.origin, "t.conf:4");
        assert!(e.to_string().contains("foo bar"));
        let e = apply(&mut Config::default(), &parse_text("maxmemory-policy allkeys-lru", "x").expect("parse"))
            .expect_err("refused");
        assert!(e.reason.contains("noeviction"), "{}", e.reason);
        assert!(parse_text("dir \"abc", "x").is_err());
    }

    #[test]
    fn user_directives() {
        let mut cfg = Config::default();
        apply(&mut cfg, &parse_text("user alice on >pw ~lock:* +get\nuser bob off\n", "x").expect("parse"))
            .expect("apply");
        assert!(!cfg.users.is_empty());
        let e = apply(&mut Config::default(), &parse_text("user bob on foo", "t.conf").expect("parse"))
            .expect_err("bad rule");
        assert_eq!(e.origin, "t.conf:1");
        assert_eq!(e.reason, "Error in user declaration 'bob': Syntax error");
    }

    #[test]
    fn save_lines_accumulate() {
        let mut cfg = Config::default();
        apply(&mut cfg, &parse_text("save 3600 1\nsave 300 100\n", "x").expect("parse")).expect("apply");
        assert_eq!(Config::param(b"save").map(|p| p.get(&cfg)).as_deref(), Some("3600 1 300 100"));
    }
}
