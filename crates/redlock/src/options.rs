//! Client options and node addresses.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::Error;

/// The RESP version a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// RESP2, which every Redis-compatible server speaks; authentication with `AUTH`.
    #[default]
    Resp2,
    /// RESP3 through `HELLO 3` (authentication in the same command); a server that refuses
    /// `HELLO` gets RESP2 and `AUTH` instead.
    Resp3,
}

/// How a connection reaches its node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Plain TCP (`redis://`).
    #[default]
    Tcp,
    /// TLS over TCP (`rediss://`), with the roots, client certificate and server name of
    /// [`Options::tls`].
    Tls,
}

/// TLS settings for `rediss://` nodes ([`Options::tls`]). Files are PEM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// The CA certificate(s) to trust for the servers' certificates (required: no system roots
    /// are used).
    pub ca_file: Option<PathBuf>,
    /// A client certificate (chain) to present, for servers that ask for one
    /// (`tls-auth-clients yes`); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name the servers' certificates must carry; by default each node's host (an IP
    /// address is checked as one).
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// Settings that trust the CAs in `ca_file` and present no client certificate.
    pub fn with_ca(ca_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions { ca_file: Some(ca_file.into()), ..TlsOptions::default() }
    }

    /// These settings, presenting the client certificate `cert_file` with its key `key_file`.
    pub fn client_cert(self, cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions { cert_file: Some(cert_file.into()), key_file: Some(key_file.into()), ..self }
    }
}

/// One node of the quorum: where it is and, optionally, credentials and database of its own.
///
/// Parsed from `redis://[[user]:password@]host[:port][/db]` or plain `host[:port]` (port 6379
/// by default; IPv6 hosts in brackets); `rediss://` for TLS ([`Options::tls`]). User and
/// password may be percent-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeAddr {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User for this node, overriding [`Options::username`].
    pub username: Option<String>,
    /// Password for this node, overriding [`Options::password`].
    pub password: Option<String>,
    /// Database for this node, overriding [`Options::database`].
    pub database: Option<u32>,
    /// How to reach it.
    pub transport: Transport,
}

impl NodeAddr {
    /// A plain TCP node without credentials of its own.
    pub fn new(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr { host: host.into(), port, username: None, password: None, database: None, transport: Transport::Tcp }
    }

    /// A TLS node without credentials of its own (as `rediss://host:port`).
    pub fn new_tls(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr { transport: Transport::Tls, ..NodeAddr::new(host, port) }
    }

    /// Parses a comma-separated list of addresses (`redis://a:7000,redis://b:7001`), ignoring
    /// spaces and empty items.
    pub fn parse_list(list: &str) -> Result<Vec<NodeAddr>, Error> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
    }

    /// `host:port` as connected to (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for NodeAddr {
    /// `host:port`; credentials are never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_port())
    }
}

impl FromStr for NodeAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<NodeAddr, Error> {
        // Never echo a password: show the address without its userinfo.
        let shown = match s.rfind('@') {
            Some(i) => format!("…@{}", &s[i + 1..]),
            None => s.to_string(),
        };
        let bad = |why: &str| Error::Config(format!("bad node address {shown:?}: {why}"));
        let (rest, transport) = if let Some(r) = s.strip_prefix("redis://") {
            (r, Transport::Tcp)
        } else if let Some(r) = s.strip_prefix("rediss://") {
            (r, Transport::Tls)
        } else if s.contains("://") {
            return Err(bad("the scheme must be redis:// or rediss://"));
        } else {
            (s, Transport::Tcp)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                let u = percent_decode(u).ok_or_else(|| bad("bad percent-encoding"))?;
                let p = match p {
                    Some(p) => Some(percent_decode(p).ok_or_else(|| bad("bad percent-encoding"))?),
                    None => None,
                };
                match p {
                    // `redis://secret@host`: a lone userinfo is the password, as redis-cli reads it.
                    None => (None, Some(u)),
                    Some(p) => ((!u.is_empty()).then_some(u), Some(p)),
                }
            }
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let end = h.find(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = &h[end + 1..];
            let port =
                if port.is_empty() { None } else { Some(port.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?) };
            (&h[..end], port)
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => 6379,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| bad("bad port"))?,
        };
        let path = path.trim_end_matches('/');
        let database = if path.is_empty() { None } else { Some(path.parse::<u32>().map_err(|_| bad("bad database"))?) };
        Ok(NodeAddr { host: host.to_string(), port, username, password, database, transport })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Options of a [`Redlock`](crate::Redlock) client. Start from `Options::default()`:
/// `Options { request_timeout: …, ..Options::default() }`.
#[derive(Clone, Debug)]
pub struct Options {
    /// User for `AUTH user password` / `HELLO 3 AUTH user password` (`default` when only a
    /// password is given with RESP3).
    pub username: Option<String>,
    /// Password; no authentication when `None`.
    pub password: Option<String>,
    /// Database to `SELECT` (0: none sent).
    pub database: u32,
    /// RESP version.
    pub protocol: Protocol,
    /// Limit on connecting plus the handshake.
    pub connect_timeout: Duration,
    /// Per-node limit on one request (Redlock's small per-instance timeout); never more than the
    /// lock's TTL (or remaining validity) is allowed either.
    pub request_timeout: Duration,
    /// Clock drift allowance as a fraction of the TTL (Redlock: 0.01).
    pub drift_factor: f64,
    /// Constant part of the clock drift allowance (Redlock: 2 ms).
    pub drift_extra: Duration,
    /// Attempts after the first that [`Redlock::acquire`](crate::Redlock::acquire) makes.
    pub retry_count: u32,
    /// Least wait between two acquisition attempts.
    pub retry_delay: Duration,
    /// Random extra wait between attempts, uniform in `[0, retry_jitter]`, so that competing
    /// clients fall out of step.
    pub retry_jitter: Duration,
    /// The watchdog extends a lock every `ttl × extend_fraction` (default 1/3).
    pub extend_fraction: f64,
    /// Use tumbler's `DELIFEQ` (also in Valkey 9) and `LOCK.EXTEND` to release and extend where
    /// a node has them; with `false` every node gets the Lua scripts, as plain Redis does.
    pub native_commands: bool,
    /// `CLIENT SETNAME` for each connection, if set.
    pub client_name: Option<String>,
    /// TLS settings for `rediss://` nodes (which need at least [`TlsOptions::ca_file`]).
    pub tls: Option<TlsOptions>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            username: None,
            password: None,
            database: 0,
            protocol: Protocol::Resp2,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_millis(100),
            drift_factor: 0.01,
            drift_extra: Duration::from_millis(2),
            retry_count: 3,
            retry_delay: Duration::from_millis(100),
            retry_jitter: Duration::from_millis(100),
            extend_fraction: 1.0 / 3.0,
            native_commands: true,
            client_name: None,
            tls: None,
        }
    }
}

impl Options {
    /// Checks the options for values no lock can work with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be above zero".into()));
        }
        if !(self.extend_fraction > 0.0 && self.extend_fraction < 1.0) {
            return Err(Error::Config(format!("extend_fraction must be in (0, 1), not {}", self.extend_fraction)));
        }
        if !(self.drift_factor.is_finite() && (0.0..1.0).contains(&self.drift_factor)) {
            return Err(Error::Config(format!("drift_factor must be in [0, 1), not {}", self.drift_factor)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> NodeAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(p("redis://127.0.0.1:7000"), NodeAddr::new("127.0.0.1", 7000));
        assert_eq!(p("localhost"), NodeAddr::new("localhost", 6379));
        assert_eq!(p("redis://h"), NodeAddr::new("h", 6379));
        assert_eq!(p("redis://[::1]:7001").host_port(), "[::1]:7001");
        assert_eq!(p("[::1]").port, 6379);
        let a = p("redis://alice:p%40ss@h:1/3");
        assert_eq!((a.username.as_deref(), a.password.as_deref(), a.database), (Some("alice"), Some("p@ss"), Some(3)));
        let a = p("redis://:secret@h:1");
        assert_eq!((a.username, a.password.as_deref()), (None, Some("secret")));
        let a = p("redis://secret@h:1/");
        assert_eq!((a.username, a.password.as_deref(), a.database), (None, Some("secret"), None));
        assert_eq!(p("rediss://h:1"), NodeAddr::new_tls("h", 1));
        assert_eq!(p("rediss://:pw@[::1]:2/1").transport, Transport::Tls);
        assert!("rediss://h:0".parse::<NodeAddr>().is_err());
        assert!("http://h:1".parse::<NodeAddr>().is_err());
        assert!("redis://h:0".parse::<NodeAddr>().is_err());
        assert!("redis://h:x".parse::<NodeAddr>().is_err());
        assert!("redis://:1".parse::<NodeAddr>().is_err());
        assert!("redis://h:1/x".parse::<NodeAddr>().is_err());
        assert_eq!(
            NodeAddr::parse_list(" redis://a:1, b:2,,").unwrap(),
            vec![NodeAddr::new("a", 1), NodeAddr::new("b", 2)]
        );
    }

    #[test]
    fn display_hides_credentials() {
        assert_eq!(p("redis://u:pw@h:9").to_string(), "h:9");
    }

    #[test]
    fn validation() {
        assert!(Options::default().validate().is_ok());
        assert!(Options { extend_fraction: 1.0, ..Options::default() }.validate().is_err());
        assert!(Options { request_timeout: Duration::ZERO, ..Options::default() }.validate().is_err());
        assert!(Options { drift_factor: f64::NAN, ..Options::default() }.validate().is_err());
    }
}
