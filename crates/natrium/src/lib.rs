//! natrium: Rust microservices on NATS, in the style of Go's kratos-transport and axum.
//!
//! # The pieces
//!
//! - **Publishing side** — a [`Broker`]: [`NatsBroker`] on a real NATS connection
//!   (async-nats) or [`MemoryBroker`] in process, with the same semantics. Typed helpers
//!   come from [`BrokerExt`]: [`publish`](BrokerExt::publish),
//!   [`request`](BrokerExt::request) (5 s default timeout; [`Error::NoResponders`],
//!   [`Error::Timeout`] and [`Error::Service`] are distinct errors),
//!   [`request_gather`](BrokerExt::request_gather) (one request, many replies),
//!   [`subscribe_fn`](BrokerExt::subscribe_fn). Payloads go through the configured
//!   [`Codec`]: JSON (default), MessagePack, or protobuf via [`Proto`]; [`Wire`] carries a
//!   message under whichever codec is configured.
//! - **Subscribing side** — a [`NatsServer`] with axum-style handlers: `async fn`s whose
//!   arguments are extractors ([`Msg`], [`Json`], [`Subject`], [`Headers`], [`ReplyTo`],
//!   [`State`], [`Ctx`], or any decodable type) registered with `.subscribe`,
//!   `.queue_subscribe`, `.reply` or a configured [`Route`] (concurrency, retry, dead
//!   letter). Decode errors, handler errors and panics are caught, logged and counted.
//! - **Middleware** — [`Middleware`] wraps handlers and outbound messages; built-ins in
//!   [`middleware`]: [`Logging`](middleware::Logging), [`Timeout`](middleware::Timeout),
//!   [`Recover`](middleware::Recover).
//! - **At-least-once** — [`jetstream`]: durable publishing (PubAck, message ids,
//!   expectations), streams and consumers declared in code, and durable routes
//!   ([`Route::durable`]) whose handler outcome decides ack / NAK with backoff / TERM, with
//!   `+WPI` for slow handlers, dead letters and a graceful stop that loses nothing;
//!   [`jetstream::testing`] starts a JetStream server for tests in one call.
//! - **Service registry** — [`registry`]: an [`App`] with [`App::registrar`] registers
//!   its instance and bound endpoints (NATS KV by default, etcd with feature `etcd`, or any
//!   [`Registrar`]); a server bound on `0.0.0.0` registers this host's address
//!   ([`host`]); callers find instances with a [`Discovery`] and pick endpoints with a
//!   [`Resolver`](registry::Resolver).
//! - **Lifecycle** — an [`App`] runs servers ([`NatsServer`], [`HttpServer`], or any
//!   [`Server`]) and stops them gracefully on SIGINT/SIGTERM, [`AppHandle::stop`], or a
//!   server failure.
//!
//! # Example
//!
//! A report service: an HTTP endpoint publishes events, a NATS handler saves them, and a
//! responder answers requests. It runs on the embedded `natrium-server`; point
//! [`BrokerConfig`] at any NATS cluster instead.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use natrium::{
//!     App, Broker, BrokerConfig, BrokerExt, Ctx, Error, HandlerError, Headers, HttpServer,
//!     Json, NatsBroker, NatsServer, Route, State, Subject,
//! };
//! use serde::{Deserialize, Serialize};
//! use tokio::sync::mpsc;
//!
//! #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
//! struct ReportEvent {
//!     name: String,
//!     value: u32,
//! }
//!
//! #[derive(Serialize, Deserialize, Debug)]
//! struct Quote {
//!     price: u32,
//! }
//!
//! // The kratos-transport handler shape: context, subject, headers, typed message.
//! async fn save_event(
//!     _ctx: Ctx,
//!     Subject(subject): Subject,
//!     headers: Headers,
//!     event: ReportEvent,
//!     State(saved): State<mpsc::UnboundedSender<ReportEvent>>,
//! ) -> natrium::Result<()> {
//!     println!("{subject} from {:?}: {event:?}", headers.get("x-user"));
//!     saved.send(event).map_err(Error::other)
//! }
//!
//! // A responder: the return value is the reply; an Err becomes an error reply.
//! async fn quote(Json(event): Json<ReportEvent>) -> Result<Json<Quote>, HandlerError> {
//!     if event.value == 0 {
//!         return Err(HandlerError::new("nothing to price").with_code(422));
//!     }
//!     Ok(Json(Quote { price: event.value * 10 }))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let nats = natrium_server::Server::start(natrium_server::ServerOptions::ephemeral()).await?;
//! let config = BrokerConfig::new([nats.client_url()]);
//!
//! // Publishing side ("data layer").
//! let broker: Arc<dyn Broker> = Arc::new(NatsBroker::connect(config.clone()).await?);
//!
//! // Subscribing side ("server layer").
//! let (saved_tx, mut saved) = mpsc::unbounded_channel();
//! let saver = NatsServer::builder(config)
//!     .state(saved_tx)
//!     .route(Route::subscribe("report.event", save_event).queue("savers").concurrency(4))
//!     .reply("report.quote", quote)
//!     .layer(natrium::middleware::Logging)
//!     .build()?;
//!
//! // An HTTP API that publishes, like the article's ReportService.
//! let router = axum::Router::new()
//!     .route(
//!         "/report",
//!         axum::routing::post(
//!             |axum::extract::State(b): axum::extract::State<Arc<dyn Broker>>,
//!              axum::Json(event): axum::Json<ReportEvent>| async move {
//!                 b.publish("report.event", &event).await.map_err(|e| e.to_string())?;
//!                 Ok::<_, String>(r#"{"code":0,"msg":"success"}"#)
//!             },
//!         ),
//!     )
//!     .with_state(broker.clone());
//! let http = HttpServer::new(([127, 0, 0, 1], 0), router);
//!
//! let app = App::new("report")
//!     .version("1.0.0")
//!     .metadata("team", "data")
//!     .server(saver)
//!     .server(http)
//!     .stop_timeout(Duration::from_secs(10));
//! let handle = app.handle();
//! let running = tokio::spawn(app.run());
//! assert!(handle.ready().await); // every subscription is live
//!
//! // Publish with headers; the saver receives it.
//! let event = ReportEvent { name: "signup".into(), value: 3 };
//! let headers = Headers::new().with("X-User", "ann");
//! broker.publish_with_headers("report.event", headers, &event).await?;
//! assert_eq!(saved.recv().await, Some(event.clone()));
//!
//! // Request/reply, and a typed error reply.
//! let q: Quote = broker.request("report.quote", &event).await?;
//! assert_eq!(q.price, 30);
//! let zero = ReportEvent { name: "none".into(), value: 0 };
//! let err = broker.request::<_, Quote>("report.quote", &zero).await.unwrap_err();
//! assert!(matches!(err, Error::Service { code: 422, .. }));
//!
//! // Nobody listens: its own error, at once.
//! let err = broker.request::<_, Quote>("nobody.home", &event).await.unwrap_err();
//! assert!(matches!(err, Error::NoResponders { .. }));
//!
//! // Graceful stop (SIGINT/SIGTERM do the same).
//! handle.stop();
//! running.await??;
//! broker.close().await?;
//! nats.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod broker;
pub mod codec;
pub mod error;
pub mod headers;
pub mod host;
pub mod http;
pub mod jetstream;
pub mod message;
pub mod middleware;
pub mod registry;
mod test_process;
pub mod transport;

// The root names what a service is written with (the README, the example above, the
// examples); everything else is reached through its module (`natrium::transport::RouteInfo`,
// `natrium::broker::RequestOptions`, ...), so each item has one path.
pub use app::{App, AppContext, AppHandle, Server};
pub use broker::{Broker, BrokerConfig, BrokerExt, MemoryBroker, NatsBroker, SharedBroker};
pub use codec::{Codec, Decode, Encode, Proto, Wire};
pub use error::{BoxError, Error, Result};
pub use headers::Headers;
pub use http::HttpServer;
pub use middleware::Middleware;
pub use registry::{Discovery, Registrar};
pub use transport::{
    Ctx, HandlerError, Json, Msg, NatsServer, ReplyTo, RetryPolicy, Route, State, Subject,
};

/// Re-exported so users name the same versions natrium uses.
pub use async_nats;
/// Re-exported for [`Ctx::token`].
pub use tokio_util::sync::CancellationToken;
