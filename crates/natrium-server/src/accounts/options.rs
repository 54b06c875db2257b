//! Typed settings of the `accounts { ... }` block: accounts, their exports and imports.
//! Users of an account are ordinary [`crate::User`]s naming the account.

use std::time::Duration;

/// nats-server's name of the global account: clients outside any account land in it.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// How long the answers to one request imported as a `stream`/`chunked` service may keep
/// coming (nats-server's default `response_threshold`).
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// One account: its own subject space, with what it shares and what it takes from others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOptions {
    /// The account's name (never `$G`).
    pub name: String,
    /// Subjects other accounts may import.
    pub exports: Vec<Export>,
    /// Subjects taken from other accounts.
    pub imports: Vec<Import>,
}

impl AccountOptions {
    /// An account without exports or imports.
    pub fn new(name: impl Into<String>) -> Self {
        AccountOptions {
            name: name.into(),
            exports: Vec::new(),
            imports: Vec::new(),
        }
    }
}

/// How many messages answer one request to an exported service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One answer (the default).
    #[default]
    Singleton,
    /// Any number of answers, until the response threshold.
    Stream,
    /// One answer sent in several messages, until the response threshold.
    Chunked,
}

/// What an export shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Messages published on the subject flow to importers.
    Stream,
    /// Importers' requests on the subject reach the exporter's responders, and their
    /// answers flow back.
    Service {
        /// How many messages answer one request.
        response_type: ResponseType,
        /// How long answers may keep coming for `stream`/`chunked` responses.
        response_threshold: Duration,
    },
}

/// One export of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Stream or service.
    pub kind: ExportKind,
    /// The subject (wildcards allowed).
    pub subject: String,
    /// Accounts allowed to import it; `None` = every account (a public export).
    pub accounts: Option<Vec<String>>,
}

/// Whether an import takes a stream or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A stream export.
    Stream,
    /// A service export.
    Service,
}

impl ImportKind {
    /// `stream` or `service`, as nats-server's messages name them.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Stream => "stream",
            ImportKind::Service => "service",
        }
    }
}

/// One import of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Stream or service.
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The subject in this account: for a stream, where imported messages appear; for a
    /// service, where this account's clients send requests. `None` = `subject`.
    pub to: Option<String>,
    /// A stream import's prefix: messages appear as `prefix.<subject>`.
    pub prefix: Option<String>,
}
