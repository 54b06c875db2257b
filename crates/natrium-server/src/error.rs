//! Errors a caller of the server library can see.

use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener could not bind.
    #[error("can't listen for client connections on {host}:{port}: {source}")]
    Bind {
        /// Host from the options.
        host: String,
        /// Port from the options.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP monitoring listener could not bind.
    #[error("can't listen for monitoring connections on {host}:{port}: {source}")]
    BindMonitor {
        /// `http_host` (or `host`) from the options.
        host: String,
        /// `http_port` from the options.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A pid or ports file could not be written.
    #[error("can't write {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS certificate, key or CA file can't be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// JetStream could not start: its store directory can't be created, locked or read.
    #[error("Can't start JetStream: {0}")]
    JetStream(#[from] crate::jetstream::StartError),
    /// The JetStream domain's name is refused (nats-server's texts).
    #[error(transparent)]
    InvalidDomain(#[from] crate::jetstream::DomainError),
    /// The accounts, their users, exports or imports are inconsistent (nats-server's texts).
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountError),
    /// An operator, account or the resolver's JWTs cannot be trusted.
    #[error(transparent)]
    Operator(#[from] crate::operator::OperatorError),
    /// The options are inconsistent.
    #[error("invalid server options: {0}")]
    InvalidOptions(String),
}
