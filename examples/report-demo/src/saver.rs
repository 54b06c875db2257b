//! The saver service ("server layer"): typed handlers for the two report subjects that write
//! each message to the database, plus `GET /v1/stats`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::proto::{AcceptStatusReportData, RealTimeWarehousingData};
use crate::stats::{SaverSnapshot, SaverStats, bump};
use crate::store::{Record, RowCounts, Store};

/// What the save handlers share.
#[derive(Clone, Debug)]
pub struct SaverService {
    store: Store,
    stats: Arc<SaverStats>,
}

/// The body of the saver's `GET /v1/stats`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SaverStatsReply {
    /// This process's counters.
    #[serde(flatten)]
    pub counters: SaverSnapshot,
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

    async fn save(&self, record: Record) -> Result<(), crate::store::StoreError> {
        bump(&self.stats.received);
        match self.store.save(record).await {
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

    /// Counts a message that could not be decoded (the transport logs it).
    pub fn count_undecodable(&self) {
        bump(&self.stats.failed);
    }

    /// `GET /v1/stats`: this saver's counters and the database's row counts.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/stats", get(saver_stats))
            .with_state(self)
    }
}

async fn saver_stats(State(saver): State<SaverService>) -> Response {
    match saver.store.counts().await {
        Ok(rows) => axum::Json(SaverStatsReply {
            counters: saver.stats.snapshot(),
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
