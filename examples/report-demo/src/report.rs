//! The report service ("data layer, publish only"): an HTTP API that turns each posted
//! report into an event on NATS and answers once the NATS server has it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use natrium::jetstream::PublishOptions;
use natrium::{BrokerExt, Headers, SharedBroker, Wire};

use crate::proto::{AcceptStatusReportData, RealTimeWarehousingData, now_millis};
use crate::stats::{ReportStats, bump};

/// The body of `POST /v1/report`.
#[derive(Debug, Deserialize)]
pub struct PostReport {
    /// Name of the event, e.g. "page_view"; must not be empty.
    pub event_name: String,
    /// The event's data, stored as given.
    pub content: String,
}

/// The body of `POST /v1/report/user`.
#[derive(Debug, Deserialize)]
pub struct PostUserReport {
    /// Who reports; must not be empty.
    pub user_id: String,
    /// The status, e.g. "accepted"; must not be empty.
    pub status: String,
    /// Optional details.
    #[serde(default)]
    pub content: String,
}

/// Every answer of the API: `{"code":0,"msg":"success"}` or an HTTP status code and why.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiReply {
    /// 0 on success, else the HTTP status code.
    pub code: u16,
    /// "success" or what went wrong.
    pub msg: String,
}

/// What the report handlers share.
#[derive(Clone)]
pub struct ReportService {
    broker: SharedBroker,
    event_subject: Arc<str>,
    user_subject: Arc<str>,
    publish_timeout: Duration,
    durable: bool,
    stats: Arc<ReportStats>,
}

/// The request header whose value becomes the report's JetStream message id, so a client
/// retrying a POST with the same key is stored once.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

impl ReportService {
    /// A service publishing events to `event_subject` and user reports to `user_subject`;
    /// a publish that NATS has not confirmed within `publish_timeout` is answered with 503.
    pub fn new(
        broker: SharedBroker,
        event_subject: &str,
        user_subject: &str,
        publish_timeout: Duration,
    ) -> Self {
        Self {
            broker,
            event_subject: event_subject.into(),
            user_subject: user_subject.into(),
            publish_timeout,
            durable: false,
            stats: Arc::default(),
        }
    }

    /// Publishes to the JetStream stream capturing the subjects and answers 200 only after
    /// its PubAck (instead of after a core-NATS flush).
    pub fn durable(mut self) -> Self {
        self.durable = true;
        self
    }

    /// The service's counters.
    pub fn stats(&self) -> Arc<ReportStats> {
        self.stats.clone()
    }

    /// The HTTP routes: `POST /v1/report`, `POST /v1/report/user`, `GET /v1/stats`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/report", post(post_report))
            .route("/v1/report/user", post(post_user_report))
            .route("/v1/stats", get(report_stats))
            .with_state(self)
    }

    /// Publishes `message` and waits until NATS has it, at most `publish_timeout`: in
    /// JetStream mode until the stream stored it (PubAck), with message id `msg_id`; in core
    /// mode until the server has it (flush). A report is only "success" once it left this
    /// process.
    async fn publish<T>(&self, subject: &str, message: T, msg_id: Option<String>) -> Response
    where
        T: prost::Message + Serialize + Send + Sync,
    {
        let codec = self.broker.codec();
        let headers = Headers::new().with("Content-Type", codec.content_type());
        let sent = async {
            if self.durable {
                // Without an Idempotency-Key every POST is a new report.
                let id = msg_id.unwrap_or_else(|| nuid::next().to_string());
                let options = PublishOptions::new()
                    .msg_id(id)
                    .headers(headers)
                    .timeout(self.publish_timeout);
                let ack = self
                    .broker
                    .publish_durable(subject, &Wire(message), options)
                    .await?;
                if ack.duplicate {
                    bump(&self.stats.duplicates);
                }
                Ok(())
            } else {
                self.broker
                    .publish_with_headers(subject, headers, &Wire(message))
                    .await?;
                self.broker.flush().await
            }
        };
        let outcome = match tokio::time::timeout(self.publish_timeout, sent).await {
            Ok(outcome) => outcome.map_err(|e: natrium::Error| e.to_string()),
            Err(_) => Err(format!(
                "NATS did not take the report within {:?}",
                self.publish_timeout
            )),
        };
        match outcome {
            Ok(()) => {
                bump(&self.stats.published);
                reply(StatusCode::OK, "success")
            }
            Err(why) => {
                bump(&self.stats.unavailable);
                tracing::warn!(error = %why, subject, "report not published");
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("message queue unavailable: {why}"),
                )
            }
        }
    }

    fn reject(&self, why: &str) -> Response {
        bump(&self.stats.rejected);
        reply(StatusCode::BAD_REQUEST, why)
    }
}

fn reply(status: StatusCode, msg: &str) -> Response {
    let code = if status == StatusCode::OK {
        0
    } else {
        status.as_u16()
    };
    let body = ApiReply {
        code,
        msg: msg.to_owned(),
    };
    (status, axum::Json(body)).into_response()
}

/// Parses a JSON body ourselves (rather than with `axum::Json`) so every malformed body, with
/// or without a content type, gets the same 400 JSON answer naming the problem.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
}

/// The `Idempotency-Key` of a request, if it has a usable one.
fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

async fn post_report(
    State(service): State<ReportService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let report: PostReport = match parse(&body) {
        Ok(r) => r,
        Err(why) => return service.reject(&why),
    };
    if report.event_name.trim().is_empty() {
        return service.reject("invalid request body: event_name must not be empty");
    }
    let event = RealTimeWarehousingData {
        event_name: report.event_name,
        report_data: report.content,
        create_time: now_millis(),
    };
    let subject = service.event_subject.clone();
    service
        .publish(&subject, event, idempotency_key(&headers))
        .await
}

async fn post_user_report(
    State(service): State<ReportService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let report: PostUserReport = match parse(&body) {
        Ok(r) => r,
        Err(why) => return service.reject(&why),
    };
    if report.user_id.trim().is_empty() || report.status.trim().is_empty() {
        return service.reject("invalid request body: user_id and status must not be empty");
    }
    let data = AcceptStatusReportData {
        user_id: report.user_id,
        status: report.status,
        content: report.content,
        create_time: now_millis(),
    };
    let subject = service.user_subject.clone();
    service
        .publish(&subject, data, idempotency_key(&headers))
        .await
}

async fn report_stats(State(service): State<ReportService>) -> Response {
    axum::Json(service.stats.snapshot()).into_response()
}
