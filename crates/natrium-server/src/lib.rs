//! natrium-server: a NATS-compatible message server, embeddable in-process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), natrium_server::ServerError> {
//! let server = natrium_server::Server::start(natrium_server::ServerOptions::ephemeral()).await?;
//! println!("clients connect to {}", server.client_url());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! TLS works as in nats-server 2.9: INFO goes out in plaintext with `"tls_required":true`,
//! then the client upgrades; with `verify`, only clients with a certificate signed by the CA
//! file get in. The binary takes `--tls`, `--tlscert`, `--tlskey`, `--tlsverify`,
//! `--tlscacert` or a `tls { cert_file, key_file, ca_file, verify, timeout }` block.
//!
//! ```no_run
//! # async fn demo() -> Result<(), natrium_server::ServerError> {
//! use natrium_server::{Server, ServerOptions, TlsOptions};
//! let tls = TlsOptions::new("server.pem", "server-key.pem").verify_clients("ca.pem");
//! let server = Server::start(ServerOptions {
//!     tls: Some(tls),
//!     ..ServerOptions::ephemeral()
//! })
//! .await?;
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Module map: `server` (listener, accept loop, shutdown), `options` (typed settings),
//! `connection` (read loop and operation dispatch), `client` (per-connection shared state),
//! `subscription`, `tls` (TLS settings and handshake details), `outbound` (buffer, writer, slow consumers), `auth`, `info`, `monitor` (HTTP
//! monitoring: `/varz`, `/connz`, `/accountz`, ...), `accounts` (one subject index per account,
//! exports and imports), `operator` (operator mode: JWTs, the memory resolver), `cli` (the
//! binary's flags), `logging`, `error`.

mod accounts;
mod auth;
pub mod busy_poll;
pub mod cli;
mod client;
pub mod config;
mod connection;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod go_time;
mod info;
mod internal;
mod jetstream;
mod lame_duck;
pub mod logging;
mod monitor;
mod operator;
mod options;
mod outbound;
mod permissions;
mod port;
mod records;
mod server;
pub mod signal;
mod state;
mod subscription;
mod system;
mod tls;

pub use accounts::{
    AccountError, AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, GLOBAL_ACCOUNT,
    Import, ImportKind, JetStreamLimits, ResponseType,
};
pub use client::{ClientSnapshot, CloseReason};
pub use error::ServerError;
pub use info::VERSION;
pub use jetstream::DomainError;
pub use operator::{JwtError, OperatorError, OperatorOptions};
pub use options::{Auth, DEFAULT_PORT, JetStreamOptions, ServerOptions, SyncPolicy, User};
pub use permissions::{
    DEFAULT_ALLOW_RESPONSE_EXPIRATION, DEFAULT_ALLOW_RESPONSE_MAX_MSGS, Permissions,
    ResponsePermission, SubjectPermission,
};
pub use server::{Server, ServerStats};
pub use tls::{DEFAULT_TLS_TIMEOUT, TlsError, TlsFile, TlsOptions};
