//! The saver service ("server layer"): typed handlers for the two report subjects that write
//! each message to the database, plus `GET /v1/stats`.

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use std::time::Duration;

use natrium::jetstream::{Delivery, MSG_ID_HEADER};
use natrium::{BrokerConfig, Headers, Msg, NatsServer, RetryPolicy, Route, State, Subject, Wire};

use crate::config::{NatsMode, NatsSection};
use crate::durable;
use crate::proto::{AcceptStatusReportData, RealTimeWarehousingData};
use crate::stats::{SaverSnapshot, SaverStats, bump};
use crate::store::{Record, RowCounts, Store};

/// What the save handlers share.
#[derive(Clone, Debug)]
pub struct SaverService {
    store: Store,
    stats: Arc<SaverStats>,
}

/// How many messages one saver writes at the same time per subject; SQLite commits
/// concurrent saves together, so this is what turns a burst into a few transactions.
pub const SAVE_CONCURRENCY: usize = 64;

/// The body of the saver's `GET /v1/stats`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SaverStatsReply {
    /// This process's save counters.
    #[serde(flatten)]
    pub counters: SaverSnapshot,
    /// Messages this saver's subscriptions took from NATS.
    pub received_from_nats: u64,
    /// Messages whose payload could not be decoded (logged and dropped).
    pub undecodable: u64,
    /// Rows in the database (all savers together).
    pub rows: RowCounts,
}

impl SaverService {
    /// A saver writing to `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            stats: Arc::default(),
        }
    }

    /// The saver's counters.
    pub fn stats(&self) -> Arc<SaverStats> {
        self.stats.clone()
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Saves a `RealTimeWarehousingData` event.
    pub async fn save_event(
        &self,
        event: RealTimeWarehousingData,
    ) -> Result<(), crate::store::StoreError> {
        self.save(Record::Event(event)).await
    }

    /// Saves an `AcceptStatusReportData` report.
    pub async fn save_user(
        &self,
        report: AcceptStatusReportData,
    ) -> Result<(), crate::store::StoreError> {
        self.save(Record::User(report)).await
    }

    /// Saves `record` once per message id: a redelivery of an already saved report is a
    /// no-op (JetStream mode).
    pub async fn save_once(
        &self,
        record: Record,
        msg_id: &str,
    ) -> Result<(), crate::store::StoreError> {
        self.count(self.store.save_once(record, msg_id)).await
    }

    async fn save(&self, record: Record) -> Result<(), crate::store::StoreError> {
        self.count(self.store.save(record)).await
    }

    async fn count(
        &self,
        saving: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
    ) -> Result<(), crate::store::StoreError> {
        bump(&self.stats.received);
        match saving.await {
            Ok(()) => {
                bump(&self.stats.saved);
                Ok(())
            }
            Err(e) => {
                bump(&self.stats.failed);
                tracing::error!(error = %e, "report not saved");
                Err(e)
            }
        }
    }

    /// The NATS transport server: both subjects in queue group `nats.queue`, decoded with
    /// `nats.codec`. Undecodable messages are logged and counted by natrium and never reach
    /// the handlers; handler failures are logged and counted too, and never stop the saver.
    ///
    /// In JetStream mode the routes are durable consumers on the reports stream (declared
    /// here, created at start if missing): a report is acked only after its row is
    /// committed, a save error is retried with backoff, and a report that cannot be decoded
    /// (or fails `max_deliver` times) goes to the dead-letter stream.
    pub fn nats_server(&self, nats: &NatsSection) -> Result<NatsServer, natrium::Error> {
        let broker = BrokerConfig::new(nats.addrs.clone())
            .codec(nats.codec.codec())
            .name("report-demo saver");
        if nats.mode == NatsMode::Jetstream {
            let retry = RetryPolicy::attempts(1)
                .backoff(Duration::from_millis(100), Duration::from_secs(5));
            let event_consumer = durable::saver_consumer(nats, &nats.event_subject, "event");
            let user_consumer = durable::saver_consumer(nats, &nats.user_subject, "user");
            return NatsServer::builder(broker)
                .name("saver")
                .stream(durable::reports_stream(nats))
                .stream(durable::dead_letter_stream(nats))
                .state(self.clone())
                .route(
                    Route::durable(nats.stream.clone(), event_consumer, save_event_once)
                        .concurrency(SAVE_CONCURRENCY)
                        .retry(retry)
                        .dead_letter(nats.dead_letter_subject.clone()),
                )
                .route(
                    Route::durable(nats.stream.clone(), user_consumer, save_user_once)
                        .concurrency(SAVE_CONCURRENCY)
                        .retry(retry)
                        .dead_letter(nats.dead_letter_subject.clone()),
                )
                .build();
        }
        NatsServer::builder(broker)
            .name("saver")
            .state(self.clone())
            .route(
                Route::subscribe(nats.event_subject.clone(), save_event)
                    .queue(nats.queue.clone())
                    .concurrency(SAVE_CONCURRENCY),
            )
            .route(
                Route::subscribe(nats.user_subject.clone(), save_user)
                    .queue(nats.queue.clone())
                    .concurrency(SAVE_CONCURRENCY),
            )
            .build()
    }

    /// `GET /v1/stats`: this saver's counters, its subscriptions' counters and the
    /// database's row counts.
    pub fn router(self, nats: NatsServer) -> Router {
        Router::new()
            .route("/v1/stats", get(saver_stats))
            .with_state((self, nats))
    }
}

/// Handler for the event-report subject: (subject, typed message) in, a row out.
async fn save_event(
    State(saver): State<SaverService>,
    Subject(subject): Subject,
    Msg(Wire(event)): Msg<Wire<RealTimeWarehousingData>>,
) -> Result<(), crate::store::StoreError> {
    tracing::debug!(%subject, event = %event.event_name, "saving event report");
    saver.save_event(event).await
}

/// Handler for the user-report subject.
async fn save_user(
    State(saver): State<SaverService>,
    Subject(subject): Subject,
    Msg(Wire(report)): Msg<Wire<AcceptStatusReportData>>,
) -> Result<(), crate::store::StoreError> {
    tracing::debug!(%subject, user = %report.user_id, "saving user report");
    saver.save_user(report).await
}

/// The message id a report is saved under: the `Nats-Msg-Id` the report service set (from
/// the client's `Idempotency-Key`, or a fresh id), else its place in the stream.
fn message_id(headers: &Headers, delivery: &Delivery) -> String {
    match headers.get(MSG_ID_HEADER) {
        Some(id) => id.to_owned(),
        None => format!("{}:{}", delivery.stream, delivery.stream_sequence),
    }
}

/// JetStream handler for event reports: acked (by natrium) once the row is committed.
async fn save_event_once(
    State(saver): State<SaverService>,
    headers: Headers,
    delivery: Delivery,
    Msg(Wire(event)): Msg<Wire<RealTimeWarehousingData>>,
) -> Result<(), crate::store::StoreError> {
    let id = message_id(&headers, &delivery);
    tracing::debug!(%id, delivered = delivery.delivered, "saving event report");
    saver.save_once(Record::Event(event), &id).await
}

/// JetStream handler for user reports.
async fn save_user_once(
    State(saver): State<SaverService>,
    headers: Headers,
    delivery: Delivery,
    Msg(Wire(report)): Msg<Wire<AcceptStatusReportData>>,
) -> Result<(), crate::store::StoreError> {
    let id = message_id(&headers, &delivery);
    saver.save_once(Record::User(report), &id).await
}

async fn saver_stats(
    axum::extract::State((saver, nats)): axum::extract::State<(SaverService, NatsServer)>,
) -> Response {
    let routes = nats.stats();
    let received_from_nats = routes.iter().map(|r| r.stats.received).sum();
    let undecodable = routes.iter().map(|r| r.stats.decode_errors).sum();
    match saver.store.counts().await {
        Ok(rows) => axum::Json(SaverStatsReply {
            counters: saver.stats.snapshot(),
            received_from_nats,
            undecodable,
            rows,
        })
        .into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({"code": 503, "msg": format!("database unavailable: {e}")}),
            ),
        )
            .into_response(),
    }
}
