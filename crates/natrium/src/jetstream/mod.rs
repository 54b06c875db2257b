//! At-least-once messaging on NATS JetStream: durable publishing, streams and consumers
//! declared in code, and durable routes whose handler outcome decides the ack.
//!
//! Everything runs on the official async-nats JetStream API, so it works with any
//! JetStream server. The config types are async-nats' own
//! ([`stream::Config`](async_nats::jetstream::stream::Config),
//! [`pull::Config`](async_nats::jetstream::consumer::pull::Config)), re-exported through
//! [`natrium::async_nats`](crate::async_nats).
//!
//! # Publishing durably
//!
//! [`BrokerExt::publish_durable`](crate::BrokerExt::publish_durable) sends a message to the
//! stream that captures its subject and returns once the stream stored it: a [`PubAck`]
//! with the stream, the sequence and whether the message id was a duplicate. The
//! [`PublishOptions`] carry the message id (`Nats-Msg-Id`, deduplicated within the stream's
//! duplicate window) and the expectation headers. Failures are typed:
//! [`Error::NoStream`](crate::Error::NoStream),
//! [`Error::WrongExpectation`](crate::Error::WrongExpectation) (with the [`Expectation`]),
//! [`Error::Timeout`](crate::Error::Timeout), [`Error::JetStream`](crate::Error::JetStream).
//! [`PublishBatch`] pipelines many publishes with a bound on unacknowledged ones.
//!
//! The [`MemoryBroker`](crate::MemoryBroker) answers
//! [`Error::Unsupported`](crate::Error::Unsupported): emulating acks, redelivery, ack waits
//! and `max_deliver` in memory would be a second JetStream to keep faithful, and a test
//! that passes against an imitation proves little. Durable tests run on a real server
//! ([`testing::JsTestServer`], one call).
//!
//! # Streams and consumers in code
//!
//! [`NatsServerBuilder::stream`](crate::transport::NatsServerBuilder::stream) declares a stream; a
//! [`Route::durable`](crate::Route::durable) declares its pull consumer. At start the server
//! creates what is missing and checks what exists: every field the declaration sets must
//! match, else start fails with [`Error::ConfigMismatch`](crate::Error::ConfigMismatch)
//! naming the field, or, with [`OnMismatch::Update`], the stream or consumer is updated.
//! A publisher without a `NatsServer` calls [`ensure_stream`] (e.g. in an
//! [`App::before_start`](crate::App::before_start) hook).
//!
//! # Durable routes
//!
//! The handler is an ordinary natrium handler (same extractors, plus [`Delivery`] for the
//! stream/consumer sequences, delivery count and pending count). Its outcome decides:
//!
//! | outcome | sent to the server |
//! |---|---|
//! | `Ok` | `+ACK` (a confirmed double ack with [`Route::double_ack`](crate::Route::double_ack)) |
//! | error | `-NAK` with the route's [`RetryPolicy`](crate::RetryPolicy) backoff for the delivery count |
//! | [`HandlerError::terminal`](crate::HandlerError::terminal) or a decode error | dead letter, then `+TERM <reason>` |
//! | panic | `-NAK` with backoff |
//! | failure on the last allowed delivery (`max_deliver`) | dead letter, then `+TERM <reason>` |
//! | handler still running after half `ack_wait` | `+WPI`, every half `ack_wait` |
//!
//! Dead letters carry the headers of core routes (`Natrium-Dead-Letter-Subject`, `-Reason`,
//! `-Kind`, `-Attempts`); when a stream captures the dead-letter subject they are published
//! durably (with a message id, so they are stored once). If a dead letter cannot be
//! published, the message is NAKed instead of terminated, so it is never lost.
//! Concurrency is [`Route::concurrency`](crate::Route::concurrency), at most the consumer's
//! `max_ack_pending`.
//!
//! Stop: the route stops pulling, NAKs what it pulled but did not start (so another
//! instance gets it at once), lets in-flight handlers finish and ack, and confirms the acks
//! with a round trip before the connection closes. A handler still running when the stop
//! timeout passes is cancelled; its message is redelivered after `ack_wait`.
//! Delivery is at least once: make the handler idempotent (e.g. insert keyed on the
//! `Nats-Msg-Id` header, or on [`Delivery::stream_sequence`]).
//!
//! # Observability
//!
//! [`Metrics`](crate::middleware::Metrics) counts PubAcks, deliveries, redeliveries, every
//! ack kind and dead letters; [`Tracing`](crate::middleware::Tracing) gives a consumer span
//! per delivery; middleware see each ack decision through
//! [`Middleware::on_delivery`](crate::Middleware::on_delivery).
//!
//! # Writing a durable test
//!
//! ```no_run
//! use natrium::async_nats::jetstream::{consumer::pull, stream};
//! use natrium::jetstream::{PublishOptions, testing::JsTestServer};
//! use natrium::{AppContext, BrokerExt, NatsBroker, NatsServer, Route, Server, State};
//! use tokio::sync::mpsc;
//!
//! async fn save(order: u32, State(saved): State<mpsc::UnboundedSender<u32>>) {
//!     let _ = saved.send(order);
//! }
//!
//! #[tokio::test]
//! async fn orders_are_saved() {
//!     // nats-server-latest with JetStream in a temporary directory; `None` (after a
//!     // loud warning) only outside CI when the binary is missing.
//!     let Some(server) = JsTestServer::start().await else { return };
//!     let broker = NatsBroker::connect(server.config()).await.unwrap();
//!     let (tx, mut saved) = mpsc::unbounded_channel();
//!     let nats = NatsServer::builder(broker.clone())
//!         .stream(stream::Config {
//!             name: "ORDERS".into(),
//!             subjects: vec!["orders.>".into()],
//!             ..Default::default()
//!         })
//!         .state(tx)
//!         .route(Route::durable(
//!             "ORDERS",
//!             pull::Config {
//!                 durable_name: Some("saver".into()),
//!                 ..Default::default()
//!             },
//!             save,
//!         ))
//!         .build()
//!         .unwrap();
//!     let ctx = AppContext::standalone("test");
//!     nats.start(&ctx).await.unwrap();
//!     broker.publish_durable("orders.new", &7, PublishOptions::new()).await.unwrap();
//!     assert_eq!(saved.recv().await, Some(7));
//!     nats.stop(&ctx).await.unwrap();
//!     // server.kill() / server.restart() simulate a crash and a restart on the same store.
//!     server.stop().await;
//! }
//! ```

mod publish;

pub(crate) use publish::parse_pub_ack;
pub use publish::{
    DEFAULT_PUBLISH_TIMEOUT, EXPECTED_LAST_MSG_ID_HEADER, EXPECTED_LAST_SEQUENCE_HEADER,
    EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, EXPECTED_STREAM_HEADER, Expectation, MSG_ID_HEADER,
    PubAck, PublishBatch, PublishOptions,
};
mod declare;
pub mod testing;
pub use declare::{OnMismatch, ensure_consumer, ensure_stream};
mod delivery;
pub(crate) mod runner;
pub use delivery::{Delivery, DeliveryEvent};
pub(crate) use runner::{DurableRunner, DurableSpec};
