//! TLS for client connections, as nats-server 2.9 does it: the server sends INFO in plaintext
//! (with `"tls_required":true`), then upgrades the socket with a server-side handshake bounded
//! by the TLS timeout. Certificates and keys are PEM files; with `verify`, clients must present
//! a certificate signed by the CA file.
//!
//! Built on rustls with the `ring` provider, restricted as nats-server restricts Go's TLS:
//! TLS 1.2 and 1.3 only, and for TLS 1.2 only ECDHE suites with AES-GCM or ChaCha20-Poly1305.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, ProtocolVersion, RootCertStore, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::client::{Client, CloseReason, SessionInfo};

pub(crate) mod options;
pub use options::{DEFAULT_TLS_TIMEOUT, TlsOptions};

/// Which of the TLS files a problem is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `cert_file` / `--tlscert`.
    Certificate,
    /// `key_file` / `--tlskey`.
    Key,
    /// `ca_file` / `--tlscacert`.
    Ca,
}

impl std::fmt::Display for TlsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsFile::Certificate => "certificate file",
            TlsFile::Key => "private key file",
            TlsFile::Ca => "CA file",
        })
    }
}

/// Why the TLS settings can't be used; the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or is not valid PEM.
    #[error("TLS {kind} {path}: {source}")]
    Read {
        /// Which file.
        kind: TlsFile,
        /// The file.
        path: PathBuf,
        /// The OS or PEM error.
        source: std::io::Error,
    },
    /// A file holds no PEM item of the kind expected.
    #[error("TLS {kind} {path}: no {expected} found (expected PEM)")]
    Missing {
        /// Which file.
        kind: TlsFile,
        /// The file.
        path: PathBuf,
        /// What was looked for.
        expected: &'static str,
    },
    /// The certificate and the key can't be used together (mismatch, unsupported key type).
    #[error(
        "TLS certificate file {cert} and private key file {key}: {}",
        key_pair_problem(.source)
    )]
    KeyPair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls refused.
        source: rustls::Error,
    },
    /// A CA certificate could not be used as a trust anchor.
    #[error("TLS CA file {path}: {source}")]
    Ca {
        /// The CA file.
        path: PathBuf,
        /// What was refused.
        source: rustls::Error,
    },
    /// `verify` without `ca_file`: natrium-server does not trust the system's CAs for client
    /// certificates (nats-server would).
    #[error(
        "TLS verify needs a CA file (`ca_file` / --tlscacert) to check client certificates against"
    )]
    VerifyWithoutCa,
    /// The client certificate verifier could not be built.
    #[error("TLS CA file {path}: {source}")]
    Verifier {
        /// The CA file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::server::VerifierBuilderError,
    },
}

/// TLS settings in force: the options and the acceptor built from their files. Replaced as a
/// whole on reload, so rotated certificate files are read again.
#[derive(Clone)]
pub(crate) struct LiveTls {
    pub options: TlsOptions,
    pub acceptor: TlsAcceptor,
}

impl LiveTls {
    /// Reads the files `options` name.
    pub(crate) fn load(options: &TlsOptions) -> Result<LiveTls, TlsError> {
        Ok(LiveTls {
            options: options.clone(),
            acceptor: TlsAcceptor::from(server_config(options)?),
        })
    }
}

impl std::fmt::Debug for LiveTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTls")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Plain words for the usual certificate/key problem.
fn key_pair_problem(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the private key does not match the certificate's public key".to_owned()
        }
        other => other.to_string(),
    }
}

impl SessionInfo {
    /// What `conn` negotiated.
    pub(crate) fn of(conn: &rustls::ServerConnection) -> SessionInfo {
        SessionInfo {
            version: conn
                .protocol_version()
                .map_or_else(String::new, version_name),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map_or_else(String::new, |s| cipher_suite_name(s.suite())),
        }
    }
}

/// The crypto provider: ring, with nats-server's TLS 1.2 suites (ECDHE with AEAD only; rustls
/// offers nothing weaker) and every TLS 1.3 suite.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(kind: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        kind,
        path: path.to_owned(),
        source,
    })
}

fn read_certs(kind: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(kind, path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            kind,
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            kind,
            path: path.to_owned(),
            expected: "certificate",
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(TlsFile::Key, path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| TlsError::Read {
            kind: TlsFile::Key,
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::Missing {
            kind: TlsFile::Key,
            path: path.to_owned(),
            expected: "private key",
        })
}

/// Loads the certificate, key and CA files and builds the server's TLS configuration.
pub(crate) fn server_config(opts: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(TlsFile::Certificate, &opts.cert_file)?;
    let key = read_key(&opts.key_file)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| TlsError::KeyPair {
            cert: opts.cert_file.clone(),
            key: opts.key_file.clone(),
            source,
        })?;
    let builder = match (&opts.ca_file, opts.verify) {
        (Some(ca), true) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(TlsFile::Ca, ca)? {
                roots.add(cert).map_err(|source| TlsError::Ca {
                    path: ca.clone(),
                    source,
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|source| TlsError::Verifier {
                    path: ca.clone(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        (None, true) => return Err(TlsError::VerifyWithoutCa),
        (Some(ca), false) => {
            // nats-server loads the CA file even without `verify` (and fails on a bad one),
            // but asks clients for no certificate.
            read_certs(TlsFile::Ca, ca)?;
            builder.with_no_client_auth()
        }
        (None, false) => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::KeyPair {
            cert: opts.cert_file.clone(),
            key: opts.key_file.clone(),
            source,
        })?;
    Ok(Arc::new(config))
}

/// A protocol version as nats-server names it in logs and `/connz` (`1.2`, `1.3`).
pub(crate) fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_0 => "1.0".to_owned(),
        ProtocolVersion::TLSv1_1 => "1.1".to_owned(),
        ProtocolVersion::TLSv1_2 => "1.2".to_owned(),
        ProtocolVersion::TLSv1_3 => "1.3".to_owned(),
        other => format!("Unknown [0x{:x}]", u16::from(other)),
    }
}

/// A cipher suite as Go's crypto/tls names it (and so nats-server, in logs and `/connz`).
pub(crate) fn cipher_suite_name(suite: CipherSuite) -> String {
    let id = u16::from(suite);
    let name = match id {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        _ => return format!("Unknown [0x{id:x}]"),
    };
    name.to_owned()
}

/// A failed handshake's cause, worded as Go's crypto/tls words the common ones (nats-server
/// logs `TLS handshake error: <this>`).
pub(crate) fn handshake_error_text(e: &std::io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return "EOF".to_owned();
        }
        return e.to_string();
    };
    match tls {
        rustls::Error::NoCertificatesPresented => "tls: client didn't provide a certificate".into(),
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            "tls: failed to verify client certificate: x509: certificate signed by unknown authority"
                .into()
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("tls: failed to verify client certificate: {c:?}")
        }
        other => format!("tls: {other}"),
    }
}

/// nats-server's wording for a client that does not start a TLS handshake (Go's crypto/tls
/// gives up on such a client after its first bytes, without answering).
const NOT_TLS: &str = "tls: first record does not look like a TLS handshake";

/// A connection after INFO: upgraded to TLS, or (with `allow_non_tls`) left in plaintext.
pub(crate) enum Upgraded {
    Tls(Box<TlsStream<TcpStream>>),
    Plain(TcpStream),
}

/// TLS records start with this content type for a handshake.
const HANDSHAKE_RECORD: u8 = 0x16;

/// With `allow_non_tls`: whether the client starts a TLS handshake. Its first byte decides;
/// a client silent for the whole TLS timeout stays in plaintext (as nats-server).
async fn starts_tls(stream: &TcpStream, timeout: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(timeout, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == HANDSHAKE_RECORD
    )
}

/// Sends INFO in plaintext, then performs the server side of the TLS handshake within the
/// TLS timeout, as nats-server does. On failure the cause is logged as nats-server logs it and
/// the connection is dropped without a word to the client.
pub(crate) async fn upgrade(
    write_deadline: std::time::Duration,
    client: &Client,
    mut stream: TcpStream,
    info: &[u8],
    tls: LiveTls,
) -> Result<Upgraded, CloseReason> {
    let peer = client.addr;
    let sent = tokio::time::timeout(write_deadline, stream.write_all(info)).await;
    if !matches!(sent, Ok(Ok(()))) {
        tracing::debug!("{client} - error sending INFO before the TLS handshake");
        return Err(CloseReason::ReadError);
    }
    if tls.options.allow_non_tls {
        let wants_tls = tokio::select! {
            _ = client.kill.cancelled() => return Err(CloseReason::ServerShutdown),
            wants = starts_tls(&stream, tls.options.timeout) => wants,
        };
        if !wants_tls {
            return Ok(Upgraded::Plain(stream));
        }
    }
    tracing::debug!("{client} - Starting TLS client connection handshake");
    let local = stream
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let (timeout, acceptor) = (tls.options.timeout, tls.acceptor);
    let handshake = async move {
        // A TLS client's first record is a handshake (or an alert); anything else is a
        // plaintext client, refused as Go refuses it: no bytes back, and what it sent read
        // off the socket so that closing sends FIN rather than RST.
        let mut first = [0u8; 1];
        let n = stream.peek(&mut first).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("EOF".to_owned());
        }
        if !matches!(first[0], 0x15 | HANDSHAKE_RECORD) {
            let mut sink = vec![0u8; 64 * 1024];
            let _ = stream.try_read(&mut sink);
            return Err(NOT_TLS.to_owned());
        }
        acceptor
            .accept(stream)
            .await
            .map_err(|e| handshake_error_text(&e))
    };
    let outcome = tokio::select! {
        _ = client.kill.cancelled() => return Err(CloseReason::ServerShutdown),
        outcome = tokio::time::timeout(timeout, handshake) => outcome,
    };
    match outcome {
        Ok(Ok(tls)) => {
            let session = SessionInfo::of(tls.get_ref().1);
            tracing::debug!("{client} - TLS handshake complete");
            tracing::debug!(
                "{client} - TLS version {}, cipher suite {}",
                session.version,
                session.cipher_suite
            );
            let _ = client.tls.set(session);
            Ok(Upgraded::Tls(Box::new(tls)))
        }
        Ok(Err(cause)) => {
            tracing::error!("{client} - TLS handshake error: {cause}");
            Err(CloseReason::TlsHandshakeError)
        }
        Err(_) => {
            tracing::error!(
                "{client} - TLS handshake error: read tcp {local}->{peer}: i/o timeout"
            );
            tracing::error!("{client} - TLS handshake timeout");
            Err(CloseReason::TlsHandshakeError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        assert_eq!(version_name(ProtocolVersion::TLSv1_3), "1.3");
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "1.2");
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
        );
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA),
            "Unknown [0x2f]"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let err = server_config(&TlsOptions::new(
            "/nonexistent/cert.pem",
            "/nonexistent/key.pem",
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("certificate file /nonexistent/cert.pem"),
            "{text}"
        );
        assert!(matches!(
            err,
            TlsError::Read {
                kind: TlsFile::Certificate,
                ..
            }
        ));
    }
}
