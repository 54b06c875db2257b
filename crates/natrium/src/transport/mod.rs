//! The subscribing side: [`NatsServer`] runs typed handlers for subjects, axum-style.
//!
//! A handler is an `async fn` whose arguments are extractors ([`Msg`], [`Json`],
//! [`Subject`], [`Headers`](crate::Headers), [`ReplyTo`], [`State`], [`Ctx`], or any
//! decodable type) and whose return value is `()` or `Result<R, E>` with `R` a reply
//! ([`IntoReply`]) and `E` any error. Decode errors, handler errors and panics are caught,
//! logged, counted ([`NatsServer::stats`]) and never stop the server.

// Imports run one way: server → route → erased → runner → options, request, stats,
// service_api; route and erased also use handler → extract → request. The runner never sees
// a route, a handler's type or the server.
mod erased;
mod extract;
mod handler;
mod options;
pub(crate) mod request;
mod route;
pub(crate) mod runner;
mod server;
pub mod service_api;
pub(crate) mod stats;

pub use extract::{Attempt, Extension, FromMessage, Json, Msg, ReplyTo, State, Subject};
pub use handler::{Handler, IntoOutcome, IntoReply};
pub use options::RetryPolicy;
pub use request::{
    Ctx, HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, Reply, RouteInfo, RouteKind,
};
pub use route::Route;
pub use runner::{
    CANCEL_GRACE, DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER, DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SUBJECT_HEADER,
};
pub use server::{BrokerSource, NatsServer, NatsServerBuilder, RouteStats};
pub use stats::StatsSnapshot;
