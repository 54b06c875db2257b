//! The NATS service API: a running [`NatsServer`](crate::NatsServer) answers `$SRV.PING`,
//! `$SRV.INFO` and `$SRV.STATS` (each also as `.<name>` and `.<name>.<id>`) with the
//! JSON documents of the NATS micro-services protocol (`io.nats.micro.v1.*`), so standard
//! tooling (`nats micro ls`, async-nats and nats.go service clients) discovers natrium
//! services and reads their live statistics.
//!
//! Identity comes from the [`App`](crate::App): its name, id, version and metadata. Every
//! registration (subscriber or responder) is listed as an endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::SelectAll;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::app::AppInfo;
use crate::broker::{Broker, Subscriber};
use crate::message::Message;

use super::request::{HandlerError, RouteInfo, RouteKind};
use super::stats::SubscriptionStats;

/// `type` of a `$SRV.PING` answer.
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// `type` of a `$SRV.INFO` answer.
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// `type` of a `$SRV.STATS` answer.
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";

/// The prefix of service API subjects.
const API_PREFIX: &str = "$SRV";

/// Version reported when the app has none (the protocol requires a semantic version).
const DEFAULT_VERSION: &str = "0.0.0";

/// Answer to `$SRV.PING`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResponse {
    /// Always [`PING_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// One endpoint in an [`InfoResponse`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Endpoint name (derived from the subject).
    pub name: String,
    /// Subscribed subject (may hold wildcards).
    pub subject: String,
    /// Queue group (`""` if none).
    pub queue_group: String,
    /// `kind`: `subscribe` or `reply`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Answer to `$SRV.INFO`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// Always [`INFO_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Description (`""` when none).
    pub description: String,
    /// Every registration.
    pub endpoints: Vec<EndpointInfo>,
}

/// Live statistics of one endpoint in a [`StatsResponse`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// Endpoint name (derived from the subject).
    pub name: String,
    /// Subscribed subject.
    pub subject: String,
    /// Queue group (`""` if none).
    pub queue_group: String,
    /// Messages received.
    pub num_requests: u64,
    /// Failed attempts (handler errors, decode errors, panics, timeouts).
    pub num_errors: u64,
    /// The last failure as `"<code>:<text>"`, `""` if none.
    pub last_error: String,
    /// Total processing time of finished messages, in nanoseconds.
    pub processing_time: u64,
    /// Average processing time of finished messages, in nanoseconds.
    pub average_processing_time: u64,
}

/// Answer to `$SRV.STATS`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// Always [`STATS_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When the server started (RFC 3339, UTC).
    pub started: String,
    /// Every registration's statistics.
    pub endpoints: Vec<EndpointStats>,
}

/// The last failure of one registration, for `last_error`.
#[derive(Debug, Default)]
pub(crate) struct LastError(Mutex<Option<String>>);

impl LastError {
    /// Remembers `err` as the latest failure.
    pub(crate) fn set(&self, err: &HandlerError) {
        *self.0.lock() = Some(format!("{}:{}", err.code(), err.message()));
    }

    fn get(&self) -> String {
        self.0.lock().clone().unwrap_or_default()
    }
}

/// What the service API reads of one registration.
pub(crate) struct Endpoint {
    info: Arc<RouteInfo>,
    stats: Arc<SubscriptionStats>,
    last_error: Arc<LastError>,
}

impl Endpoint {
    pub(crate) fn new(
        info: Arc<RouteInfo>,
        stats: Arc<SubscriptionStats>,
        last_error: Arc<LastError>,
    ) -> Self {
        Endpoint {
            info,
            stats,
            last_error,
        }
    }

    fn name(&self) -> String {
        endpoint_name(&self.info.subject)
    }

    fn info(&self) -> EndpointInfo {
        let kind = match self.info.kind {
            RouteKind::Subscribe => "subscribe",
            RouteKind::Reply => "reply",
            RouteKind::Durable => "durable",
        };
        EndpointInfo {
            name: self.name(),
            subject: self.info.subject.clone(),
            queue_group: self.info.queue.clone().unwrap_or_default(),
            metadata: BTreeMap::from([("kind".to_owned(), kind.to_owned())]),
        }
    }

    fn stats(&self) -> EndpointStats {
        let s = self.stats.snapshot();
        let finished = s.received.saturating_sub(s.in_flight);
        let total = nanos(s.processing_time);
        EndpointStats {
            name: self.name(),
            subject: self.info.subject.clone(),
            queue_group: self.info.queue.clone().unwrap_or_default(),
            num_requests: s.received,
            num_errors: s.errors + s.decode_errors + s.panics + s.timeouts,
            last_error: self.last_error.get(),
            processing_time: total,
            average_processing_time: total.checked_div(finished).unwrap_or(0),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Endpoint names allow `A-Z a-z 0-9 - _`; other subject characters become `_`.
fn endpoint_name(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `token` can be one subject token.
fn is_token(token: &str) -> bool {
    !token.is_empty() && !token.contains(['.', '*', '>']) && !token.chars().any(char::is_whitespace)
}

/// The service API of one running server: its subscriptions and what it reports.
pub(crate) struct ServiceApi {
    identity: Identity,
    endpoints: Vec<Endpoint>,
    subscriptions: SelectAll<Subscriber>,
}

struct Identity {
    name: String,
    id: String,
    version: String,
    metadata: BTreeMap<String, String>,
    started: String,
}

impl ServiceApi {
    /// Subscribes to the service API subjects for `app` (falling back to `server_name`
    /// when the app has no name). Returns `None`, after logging why, when subscribing
    /// fails: the service API is an aid, not a reason to refuse to start.
    pub(crate) async fn subscribe(
        broker: &dyn Broker,
        app: &AppInfo,
        server_name: &str,
        endpoints: Vec<Endpoint>,
    ) -> Option<ServiceApi> {
        let name = if app.name.is_empty() {
            server_name
        } else {
            &app.name
        }
        .to_owned();
        let id = if app.id.is_empty() {
            random_id()
        } else {
            app.id.clone()
        };
        let version = if app.version.is_empty() {
            DEFAULT_VERSION
        } else {
            &app.version
        }
        .to_owned();
        let mut subjects = Vec::new();
        for verb in ["PING", "INFO", "STATS"] {
            subjects.push(format!("{API_PREFIX}.{verb}"));
            if is_token(&name) {
                subjects.push(format!("{API_PREFIX}.{verb}.{name}"));
                if is_token(&id) {
                    subjects.push(format!("{API_PREFIX}.{verb}.{name}.{id}"));
                }
            }
        }
        if !is_token(&name) || !is_token(&id) {
            tracing::warn!(%name, %id, "service name or id is not a subject token; answering only $SRV.<verb>");
        }
        let mut subscriptions = SelectAll::new();
        for subject in subjects {
            match broker.subscribe(&subject, None).await {
                Ok(sub) => subscriptions.push(sub),
                Err(err) => {
                    tracing::warn!(%subject, error = %err, "service API disabled: cannot subscribe");
                    for sub in subscriptions.iter_mut() {
                        let _ = sub.unsubscribe().await;
                    }
                    return None;
                }
            }
        }
        Some(ServiceApi {
            identity: Identity {
                name,
                id,
                version,
                metadata: app.metadata.clone(),
                started: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            },
            endpoints,
            subscriptions,
        })
    }

    /// Answers requests until `stop` fires, then unsubscribes.
    pub(crate) async fn run(mut self, broker: Arc<dyn Broker>, stop: CancellationToken) {
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled() => break,
                msg = self.subscriptions.next() => match msg {
                    Some(msg) => msg,
                    None => return,
                },
            };
            let Some(reply) = msg.reply.clone() else {
                continue;
            };
            let body = match self.answer(&msg.subject) {
                Some(Ok(body)) => body,
                Some(Err(err)) => {
                    tracing::error!(subject = %msg.subject, error = %err, "cannot encode service API answer");
                    continue;
                }
                None => continue,
            };
            if let Err(err) = broker.publish_message(Message::new(reply, body)).await {
                tracing::warn!(subject = %msg.subject, error = %err, "cannot send service API answer");
            }
        }
        for sub in self.subscriptions.iter_mut() {
            let _ = sub.unsubscribe().await;
        }
    }

    /// The JSON answer for a request on `subject`, by its verb.
    fn answer(&self, subject: &str) -> Option<serde_json::Result<Vec<u8>>> {
        let verb = subject.split('.').nth(1)?;
        let me = &self.identity;
        Some(match verb {
            "PING" => serde_json::to_vec(&PingResponse {
                kind: PING_RESPONSE_TYPE.to_owned(),
                name: me.name.clone(),
                id: me.id.clone(),
                version: me.version.clone(),
                metadata: me.metadata.clone(),
            }),
            "INFO" => serde_json::to_vec(&InfoResponse {
                kind: INFO_RESPONSE_TYPE.to_owned(),
                name: me.name.clone(),
                id: me.id.clone(),
                version: me.version.clone(),
                metadata: me.metadata.clone(),
                description: String::new(),
                endpoints: self.endpoints.iter().map(Endpoint::info).collect(),
            }),
            "STATS" => serde_json::to_vec(&StatsResponse {
                kind: STATS_RESPONSE_TYPE.to_owned(),
                name: me.name.clone(),
                id: me.id.clone(),
                version: me.version.clone(),
                metadata: me.metadata.clone(),
                started: me.started.clone(),
                endpoints: self.endpoints.iter().map(Endpoint::stats).collect(),
            }),
            _ => return None,
        })
    }
}

/// An instance id for servers run outside an [`App`](crate::App): 16 hex digits.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_keep_only_allowed_characters() {
        assert_eq!(endpoint_name("report.event"), "report_event");
        assert_eq!(endpoint_name("a.*.>"), "a____");
        assert_eq!(endpoint_name("Q-1_x"), "Q-1_x");
    }

    #[test]
    fn tokens_exclude_dots_wildcards_and_spaces() {
        assert!(is_token("saver"));
        assert!(is_token("saver-1234"));
        for bad in ["", "a.b", "a*", ">", "a b"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
