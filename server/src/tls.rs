//! TLS on `tls-port`, with rustls: the server certificate and key, and client certificates
//! checked against `tls-ca-cert-file` as `tls-auth-clients` says (yes: required, optional:
//! checked when presented, no: not asked for).

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tumbler_commands::config::TlsSettings;

/// Builds the TLS configuration from the `tls-*` directives, or says which one is wrong.
pub fn server_config(t: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
    if t.cert_file.is_empty() || t.key_file.is_empty() {
        return Err("tls-port needs tls-cert-file and tls-key-file".into());
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read tls-cert-file '{}': {e}", t.cert_file))?;
    if certs.is_empty() {
        return Err(format!("no certificate in tls-cert-file '{}'", t.cert_file));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key_file)
        .map_err(|e| format!("cannot read tls-key-file '{}': {e}", t.key_file))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    let wanted: Vec<String> = t.protocols.split_whitespace().map(str::to_ascii_lowercase).collect();
    if let Some(p) = wanted.iter().find(|p| !matches!(p.as_str(), "tlsv1" | "tlsv1.1" | "tlsv1.2" | "tlsv1.3")) {
        return Err(format!("invalid tls-protocols '{p}' (TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"));
    }
    if wanted.is_empty() || wanted.iter().any(|p| p == "tlsv1.2") {
        versions.push(&rustls::version::TLS12);
    }
    if wanted.is_empty() || wanted.iter().any(|p| p == "tlsv1.3") {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(format!("tls-protocols '{}': tumbler speaks TLSv1.2 and TLSv1.3 only", t.protocols));
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls-protocols: {e}"))?;
    let builder = match t.auth_clients {
        0 => builder.with_no_client_auth(),
        mode => {
            if t.ca_cert_file.is_empty() {
                return Err("tls-auth-clients needs tls-ca-cert-file (or set tls-auth-clients no)".into());
            }
            let mut roots = RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(&t.ca_cert_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read tls-ca-cert-file '{}': {e}", t.ca_cert_file))?;
            for ca in cas {
                roots.add(ca).map_err(|e| format!("tls-ca-cert-file '{}': {e}", t.ca_cert_file))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == 2 { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("tls-ca-cert-file: {e}"))?)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| format!("tls-cert-file / tls-key-file: {e}"))?;
    Ok(Arc::new(config))
}

/// A TLS connection as the server holds it.
pub(crate) type TlsConn = tokio_rustls::server::TlsStream<Socket>;

/// The TCP socket under a TLS session. It can leave the runtime it is registered with and join
/// another's while the session stays whole: a connection has its handshake on the acceptor
/// thread, and is then served by a worker.
pub(crate) struct Socket(Option<tokio::net::TcpStream>);

impl Socket {
    pub(crate) fn new(s: tokio::net::TcpStream) -> Socket {
        Socket(Some(s))
    }

    /// Takes the socket out of this thread's runtime, to be [`attach`](Socket::attach)ed on
    /// another thread. Until then the session reads and writes nothing.
    pub(crate) fn detach(&mut self) -> std::io::Result<std::net::TcpStream> {
        self.0.take().ok_or_else(not_connected)?.into_std()
    }

    /// Registers the socket with this thread's runtime.
    pub(crate) fn attach(&mut self, s: tokio::net::TcpStream) {
        self.0 = Some(s);
    }

    fn io(&mut self) -> std::io::Result<Pin<&mut tokio::net::TcpStream>> {
        self.0.as_mut().map(Pin::new).ok_or_else(not_connected)
    }
}

fn not_connected() -> std::io::Error {
    std::io::ErrorKind::NotConnected.into()
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.get_mut().io()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_shutdown(cx)
    }
}
