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
    /// JetStream for this account (`jetstream: enabled` or limits); `None` = none. When
    /// any account is configured, only accounts with this set have JetStream.
    pub jetstream: Option<JetStreamLimits>,
}

impl AccountOptions {
    /// An account without exports, imports or JetStream.
    pub fn new(name: impl Into<String>) -> Self {
        AccountOptions {
            name: name.into(),
            exports: Vec::new(),
            imports: Vec::new(),
            jetstream: None,
        }
    }

    /// The account with JetStream under `limits`.
    pub fn with_jetstream(mut self, limits: JetStreamLimits) -> Self {
        self.jetstream = Some(limits);
        self
    }
}

/// One account's JetStream limits (an account's `jetstream { ... }` block). Negative
/// numbers mean no limit; the default is no limit at all (`jetstream: enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JetStreamLimits {
    /// Bytes in memory streams (`max_memory`, `max_mem`, `mem`, `memory`).
    pub max_memory: i64,
    /// Bytes in file streams (`max_store`, `max_file`, `max_disk`, `store`, `disk`).
    pub max_store: i64,
    /// Streams (`max_streams`, `streams`).
    pub max_streams: i64,
    /// Consumers per stream (`max_consumers`, `consumers`).
    pub max_consumers: i64,
    /// Unacknowledged messages per consumer (`max_ack_pending`).
    pub max_ack_pending: i64,
    /// Largest `max_bytes` of a memory stream (`memory_max_stream_bytes`).
    pub memory_max_stream_bytes: i64,
    /// Largest `max_bytes` of a file stream (`store_max_stream_bytes`).
    pub store_max_stream_bytes: i64,
    /// Streams must set `max_bytes` (`max_bytes_required`).
    pub max_bytes_required: bool,
}

impl Default for JetStreamLimits {
    fn default() -> Self {
        JetStreamLimits {
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            store_max_stream_bytes: -1,
            max_bytes_required: false,
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
