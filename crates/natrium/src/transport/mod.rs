//! The subscribing side: [`NatsServer`] runs typed handlers for subjects, axum-style.
//!
//! A handler is an `async fn` whose arguments are extractors ([`Msg`], [`Json`],
//! [`Subject`], [`Headers`](crate::Headers), [`ReplyTo`], [`State`], [`Ctx`], or any
//! decodable type) and whose return value is `()` or `Result<R, E>` with `R` a reply
//! ([`IntoReply`]) and `E` any error. Decode errors, handler errors and panics are caught,
//! logged, counted ([`NatsServer::stats`]) and never stop the server.

mod extract;
mod handler;
pub(crate) mod request;
mod route;
pub(crate) mod runner;
mod server;
pub mod service_api;
mod stats;

pub use extract::{
    Attempt, Extension, FromMessage, Json, Msg, ReplyTo, State, StateRequirement, Subject,
};
pub use handler::{Handler, IntoOutcome, IntoReply};
pub use request::{
    Ctx, HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, Reply, RouteInfo, RouteKind,
};
pub use route::{RetryPolicy, Route};
pub use server::{
    BrokerSource, CANCEL_GRACE, DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER,
    DEAD_LETTER_REASON_HEADER, DEAD_LETTER_SUBJECT_HEADER, NatsServer, NatsServerBuilder,
    RouteStats,
};
pub use stats::{StatsSnapshot, SubscriptionStats};
