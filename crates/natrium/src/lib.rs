//! natrium: Rust microservices on NATS, in the style of Go's kratos-transport and axum.
//!
//! (The crate guide with a complete example follows once the API settles.)

pub mod app;
pub mod broker;
pub mod codec;
pub mod error;
pub mod headers;
pub mod http;
pub mod message;
pub mod middleware;
pub mod transport;

pub use app::{App, AppContext, AppHandle, AppInfo, FnServer, Server};
pub use broker::{
    Auth, Broker, BrokerConfig, BrokerExt, DEFAULT_REQUEST_TIMEOUT, Gather, MemoryBroker,
    NatsBroker, RawSubscription, ReconnectPolicy, RequestOptions, SERVICE_ERROR_CODE_HEADER,
    SERVICE_ERROR_HEADER, SharedBroker, Subscriber, SubscriptionHandle, TlsConfig,
};
pub use codec::{Codec, Decode, Encode, Proto};
pub use error::{BoxError, CodecOp, Error, Result};
pub use headers::Headers;
pub use http::HttpServer;
pub use message::Message;
pub use middleware::Middleware;
pub use transport::{
    Attempt, BrokerSource, Ctx, DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER,
    DEAD_LETTER_REASON_HEADER, DEAD_LETTER_SUBJECT_HEADER, Extension, FromMessage, Handler,
    HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, IntoOutcome, IntoReply, Json,
    Msg, NatsServer, NatsServerBuilder, Reply, ReplyTo, RetryPolicy, Route, RouteInfo, RouteKind,
    RouteStats, State, StatsSnapshot, Subject, SubscriptionStats,
};

/// Re-exported so users name the same versions natrium uses.
pub use async_nats;
/// Re-exported for [`Ctx::token`].
pub use tokio_util::sync::CancellationToken;
