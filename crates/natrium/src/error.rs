//! The one error type of the framework, with enough context to act on.

use std::time::Duration;

use crate::codec::Codec;

/// A boxed error from a lower layer (async-nats, I/O, a codec, user code).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a codec failed while encoding or while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecOp {
    /// Turning a value into bytes.
    Encode,
    /// Turning bytes into a value.
    Decode,
}

impl std::fmt::Display for CodecOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CodecOp::Encode => "encode",
            CodecOp::Decode => "decode",
        })
    }
}

/// Everything that can go wrong in natrium.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is invalid; `connect`/`build` refuse it instead of ignoring it.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A file named by the configuration (CA, certificate, key, credentials) cannot be used.
    #[error("cannot use {what} file {path}: {source}")]
    File {
        /// What the file is for ("CA certificate", "credentials", ...).
        what: &'static str,
        /// The path as configured.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        source: std::io::Error,
    },

    /// Connecting to the NATS servers failed.
    #[error("cannot connect to {servers}: {source}")]
    Connect {
        /// The configured server list, comma separated.
        servers: String,
        /// The client's reason.
        source: BoxError,
    },

    /// A subject (or queue group name) is not valid for this operation.
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The offending subject.
        subject: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A header name or value cannot be sent on the wire.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A codec could not encode or decode a value.
    #[error("cannot {op} {type_name} with the {codec} codec (subject {subject:?}): {source}")]
    Codec {
        /// Encode or decode.
        op: CodecOp,
        /// The codec in use.
        codec: Codec,
        /// The Rust type involved.
        type_name: &'static str,
        /// The subject of the message, when known.
        subject: String,
        /// The codec's reason.
        source: BoxError,
    },

    /// Publishing failed.
    #[error("cannot publish to {subject}: {source}")]
    Publish {
        /// The subject.
        subject: String,
        /// The client's reason.
        source: BoxError,
    },

    /// A request got no reply within its timeout.
    #[error("request to {subject} timed out after {timeout:?}")]
    Timeout {
        /// The subject.
        subject: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },

    /// Nobody listens on the subject of a request (NATS "no responders").
    #[error("no responders on {subject}")]
    NoResponders {
        /// The subject.
        subject: String,
    },

    /// The responder answered with an error (`Nats-Service-Error` headers).
    #[error("service error from {subject}: {code} {message}")]
    Service {
        /// The subject of the request.
        subject: String,
        /// `Nats-Service-Error-Code`.
        code: u16,
        /// `Nats-Service-Error`.
        message: String,
    },

    /// A request failed for another reason.
    #[error("request to {subject} failed: {source}")]
    Request {
        /// The subject.
        subject: String,
        /// The client's reason.
        source: BoxError,
    },

    /// Subscribing failed.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The client's reason.
        source: BoxError,
    },

    /// Flushing the connection failed.
    #[error("flush failed: {0}")]
    Flush(BoxError),

    /// Draining the connection did not finish in time.
    #[error("drain did not finish within {0:?}")]
    DrainTimeout(Duration),

    /// The broker was closed.
    #[error("the broker is closed")]
    Closed,

    /// The same (subject, queue) was registered twice on one server.
    #[error("{subject} (queue {queue:?}) is registered twice")]
    DuplicateRoute {
        /// The subject.
        subject: String,
        /// The queue group, if any.
        queue: Option<String>,
    },

    /// A handler asks for `State<T>` but the server was given no state of that type.
    #[error("handler for {subject} needs State<{type_name}>, but no such state was given")]
    MissingState {
        /// The subject of the handler.
        subject: String,
        /// The missing state type.
        type_name: &'static str,
    },

    /// A server of an [`App`](crate::App) failed.
    #[error("server {name} failed: {source}")]
    Server {
        /// The server's name.
        name: String,
        /// Why.
        source: BoxError,
    },

    /// Servers did not stop within the stop timeout.
    #[error("servers did not stop within {0:?}")]
    StopTimeout(Duration),

    /// An I/O error (binding an HTTP listener, signals, ...).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// JetStream: no stream captures the subject of a durable publish (the server answered
    /// "no responders"), or a named stream does not exist.
    #[error("no JetStream stream for {subject}")]
    NoStream {
        /// The subject published to, or the stream name looked up.
        subject: String,
    },

    /// JetStream refused a durable publish because an expectation header did not hold
    /// (`Nats-Expected-Last-Sequence`, `-Last-Subject-Sequence`, `-Last-Msg-Id`, `-Stream`).
    #[error(
        "JetStream refused the publish to {subject}: {expectation} did not hold ({description})"
    )]
    WrongExpectation {
        /// The subject published to.
        subject: String,
        /// Which expectation failed.
        expectation: crate::jetstream::Expectation,
        /// The server's text.
        description: String,
    },

    /// The JetStream API answered with an error not covered by a more specific variant.
    #[error("JetStream error on {subject}: {description} (code {code}, error code {err_code})")]
    JetStream {
        /// The subject of the request (a stream subject or a `$JS.API` subject).
        subject: String,
        /// The HTTP-like status code.
        code: u16,
        /// nats-server's JetStream error code (e.g. 10059 "stream not found").
        err_code: u16,
        /// The server's text.
        description: String,
    },

    /// A declared stream or consumer exists on the server with a different setting.
    #[error(
        "{kind} {name} exists with {field} = {actual}, but the code declares {declared} \
         (allow updates to change it, or change the declaration)"
    )]
    ConfigMismatch {
        /// `stream` or `consumer`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The JSON field name as nats-server spells it (`max_age`, `ack_wait`, ...).
        field: String,
        /// The declared value, as JSON.
        declared: String,
        /// The server's value, as JSON.
        actual: String,
    },

    /// The broker cannot do this (e.g. JetStream on a [`MemoryBroker`](crate::MemoryBroker)).
    #[error("{what} is not supported by {broker}")]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// The broker type.
        broker: &'static str,
    },

    /// The service registry failed (registering at start, deregistering at stop).
    #[error("service registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),

    /// Any other error, e.g. from a user hook.
    #[error(transparent)]
    Other(BoxError),
}

impl Error {
    /// Wraps any error (for hooks and handlers that use their own error types).
    pub fn other(err: impl Into<BoxError>) -> Self {
        Error::Other(err.into())
    }
}
