//! The TLS settings of client connections, as options and configuration files give them.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's default TLS handshake timeout (2 s).
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS settings for client connections (`tls { ... }` in a configuration file, or `--tls`,
/// `--tlscert`, `--tlskey`, `--tlsverify`, `--tlscacert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// The server's certificate chain (PEM), leaf first (`cert_file`).
    pub cert_file: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1) (`key_file`).
    pub key_file: PathBuf,
    /// CA certificates (PEM) that client certificates must be signed by (`ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate (`verify`); needs `ca_file`.
    pub verify: bool,
    /// How long a client has to complete the TLS handshake (`timeout`, default 2 s).
    pub timeout: Duration,
    /// Clients may also stay in plaintext (`allow_non_tls`, top level in a configuration
    /// file): INFO then says `tls_available` instead of `tls_required`, and each client's
    /// first byte decides.
    pub allow_non_tls: bool,
}

impl TlsOptions {
    /// TLS with this certificate and key, no client verification, the default timeout.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        TlsOptions {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            ca_file: None,
            verify: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            allow_non_tls: false,
        }
    }

    /// The same settings, requiring client certificates signed by the CAs in `ca_file`.
    #[must_use]
    pub fn verify_clients(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self.verify = true;
        self
    }
}
