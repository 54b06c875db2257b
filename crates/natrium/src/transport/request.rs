//! What a handler chain works on: [`HandlerRequest`] in, [`HandlerResult`] out.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::codec::Codec;
use crate::error::{BoxError, Error};
use crate::headers::Headers;
use crate::message::Message;

/// What kind of registration a route is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// A subscriber: the handler's return value is not sent anywhere.
    Subscribe,
    /// A responder: the handler's return value is the reply.
    Reply,
    /// A durable consumer: the handler's outcome decides the JetStream ack.
    Durable,
}

/// The registration a message arrived through.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteInfo {
    /// The subscribed subject (may hold wildcards).
    pub subject: String,
    /// The queue group, if any.
    pub queue: Option<String>,
    /// Subscriber or responder.
    pub kind: RouteKind,
}

/// The handler's context: cancelled when the app's stop timeout passes, so long-running
/// handlers can give up cleanly (they then have [`CANCEL_GRACE`](crate::transport::CANCEL_GRACE)
/// to return before being aborted); [`Ctx::is_stopping`] tells that a stop has begun.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    // Shared, so a Ctx per message costs one reference count, not two token clones
    // (each of which takes the token tree's lock).
    tokens: Arc<CtxTokens>,
}

#[derive(Debug, Default)]
struct CtxTokens {
    cancel: CancellationToken,
    stopping: CancellationToken,
}

impl Ctx {
    /// A context from the app's tokens: `stopping` fires when stop begins, `cancel` when
    /// the stop timeout passes.
    pub fn new(stopping: CancellationToken, cancel: CancellationToken) -> Self {
        Ctx {
            tokens: Arc::new(CtxTokens { cancel, stopping }),
        }
    }

    /// The token cancelled when in-flight work must end (stop timeout passed).
    pub fn token(&self) -> &CancellationToken {
        &self.tokens.cancel
    }

    /// Completes when in-flight work must end.
    pub async fn cancelled(&self) {
        self.tokens.cancel.cancelled().await
    }

    /// Whether in-flight work must end.
    pub fn is_cancelled(&self) -> bool {
        self.tokens.cancel.is_cancelled()
    }

    /// Whether the app has begun to stop (no new messages are taken).
    pub fn is_stopping(&self) -> bool {
        self.tokens.stopping.is_cancelled()
    }

    /// Completes when the app begins to stop.
    pub async fn stopping(&self) {
        self.tokens.stopping.cancelled().await
    }
}

/// Shared states given with [`NatsServerBuilder::state`](crate::transport::NatsServerBuilder::state),
/// by type. A service has a handful at most, so a list searched on every `State<S>`
/// extraction beats hashing the `TypeId`.
#[derive(Debug, Default)]
pub(crate) struct StateMap {
    entries: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
}

impl StateMap {
    /// Sets the state of type `id`, replacing an earlier one.
    pub(crate) fn insert(&mut self, id: TypeId, state: Arc<dyn Any + Send + Sync>) {
        match self.entries.iter_mut().find(|(k, _)| *k == id) {
            Some(entry) => entry.1 = state,
            None => self.entries.push((id, state)),
        }
    }

    /// The state of type `id`.
    pub(crate) fn get(&self, id: &TypeId) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.entries.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }

    /// Whether a state of type `id` was given.
    pub(crate) fn contains_key(&self, id: &TypeId) -> bool {
        self.get(id).is_some()
    }
}

/// One message on its way to a handler, as middleware sees it.
#[derive(Debug)]
pub struct HandlerRequest {
    /// The message; middleware may change it before calling the next step.
    pub message: Message,
    /// The registration it arrived through.
    pub route: Arc<RouteInfo>,
    /// The handler's context.
    pub ctx: Ctx,
    /// Typed values middleware passes to extractors ([`Extension`](crate::transport::Extension)).
    pub extensions: http::Extensions,
    /// 1 for the first delivery to the handler, 2.. for retries.
    pub attempt: u32,
    pub(crate) codec: Codec,
    pub(crate) states: Arc<StateMap>,
    /// A durable route's `$JS.ACK` reply subject: the
    /// [`Delivery`](crate::jetstream::Delivery) extractor reads it on demand.
    pub(crate) delivery: Option<async_nats::Subject>,
}

impl HandlerRequest {
    /// The codec used for this route's typed payloads.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

/// What a handler produced for a reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Reply headers.
    pub headers: Headers,
    /// Encoded reply payload.
    pub payload: Bytes,
}

/// The outcome of a handler chain: an optional reply, or an error.
pub type HandlerResult = Result<Option<Reply>, HandlerError>;

/// Why a handler invocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandlerErrorKind {
    /// The payload (or another extractor) could not be decoded.
    Decode,
    /// The handler returned an error.
    Handler,
    /// The handler panicked.
    Panic,
    /// The handler did not finish in time ([`Timeout`](crate::middleware::Timeout)).
    Timeout,
}

impl std::fmt::Display for HandlerErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HandlerErrorKind::Decode => "decode",
            HandlerErrorKind::Handler => "handler",
            HandlerErrorKind::Panic => "panic",
            HandlerErrorKind::Timeout => "timeout",
        })
    }
}

/// A handler failure. Any `std::error::Error` converts into it (so `?` works in handlers);
/// [`HandlerError::new`] and [`HandlerError::with_code`] set the text and code of the
/// error reply a responder sends (`Nats-Service-Error`, `Nats-Service-Error-Code`).
#[derive(Debug, Clone)]
pub struct HandlerError {
    kind: HandlerErrorKind,
    terminal: bool,
    code: u16,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl HandlerError {
    /// A handler error with code 500.
    pub fn new(message: impl Into<String>) -> Self {
        HandlerError {
            kind: HandlerErrorKind::Handler,
            terminal: false,
            code: 500,
            message: message.into(),
            source: None,
        }
    }

    /// Sets the code sent in `Nats-Service-Error-Code`.
    pub fn with_code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }

    /// A decode failure (code 400).
    pub fn decode(message: impl Into<String>) -> Self {
        HandlerError {
            kind: HandlerErrorKind::Decode,
            code: 400,
            ..HandlerError::new(message)
        }
    }

    /// A panic (code 500).
    pub fn panic(message: impl Into<String>) -> Self {
        HandlerError {
            kind: HandlerErrorKind::Panic,
            ..HandlerError::new(message)
        }
    }

    /// A timeout (code 504).
    pub fn timeout(after: Duration) -> Self {
        HandlerError {
            kind: HandlerErrorKind::Timeout,
            code: 504,
            ..HandlerError::new(format!("handler did not finish within {after:?}"))
        }
    }

    /// Marks the failure as terminal: retrying cannot help, so a durable route terminates
    /// the message (`+TERM` with this error's text) and dead-letters it instead of
    /// redelivering it. Decode errors are always terminal.
    pub fn terminal(mut self) -> Self {
        self.terminal = true;
        self
    }

    /// Whether retrying cannot help: marked [`HandlerError::terminal`], or a decode error.
    pub fn is_terminal(&self) -> bool {
        self.terminal || self.kind == HandlerErrorKind::Decode
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> HandlerErrorKind {
        self.kind
    }

    /// The error code for the error reply.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The error text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The underlying error, if one was converted.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} error ({}): {}", self.kind, self.code, self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(err: E) -> Self {
        let boxed: BoxError = Box::new(err);
        let mut out = HandlerError::new(boxed.to_string());
        // A service error from a downstream request keeps its code.
        if let Some(Error::Service { code, message, .. }) = boxed.downcast_ref::<Error>() {
            out.code = *code;
            out.message = message.clone();
        }
        out.source = Some(Arc::from(boxed));
        out
    }
}
