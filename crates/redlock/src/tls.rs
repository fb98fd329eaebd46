//! TLS for `rediss://` nodes: the rustls client configuration built once from
//! [`TlsOptions`](crate::TlsOptions), the name each server's certificate is checked against,
//! and the stream a connection reads and writes (plain TCP or TLS over it).

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::{Error, TlsOptions};

/// The client configuration for `t`, or a [`Error::Config`] naming the file at fault.
pub(crate) fn client_config(t: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        Error::Config(format!("TLS {what} {}: {e}", path.display()))
    };
    let ca = t.ca_file.as_deref().ok_or_else(|| Error::Config("rediss:// nodes need a TLS CA file".into()))?;
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("CA file", ca, &e))?;
    if cas.is_empty() {
        return Err(bad("CA file", ca, &"no certificate in it"));
    }
    for c in cas {
        roots.add(c).map_err(|e| bad("CA file", ca, &e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    let config = match (&t.cert_file, &t.key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad("certificate file", cert, &e))?;
            if chain.is_empty() {
                return Err(bad("certificate file", cert, &"no certificate in it"));
            }
            let k = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key file", key, &e))?;
            builder.with_client_auth_cert(chain, k).map_err(|e| bad("certificate/key", cert, &e))?
        }
        _ => return Err(Error::Config("a TLS client certificate needs its key, and a key its certificate".into())),
    };
    Ok(Arc::new(config))
}

/// The name a node's certificate must carry: the configured one, else the node's host; an IP
/// address as an IP address (certificates name those in `subjectAltName IP:`).
pub(crate) fn server_name(configured: Option<&str>, host: &str) -> Result<ServerName<'static>, Error> {
    let name = configured.unwrap_or(host);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(name.to_string()).map_err(|e| Error::Config(format!("TLS server name {name:?}: {e}")))
}

/// A connection's byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
