//! [`Metrics`]: Prometheus counters and a handling-time histogram, on a registry the user
//! owns, plus [`encode`] and [`metrics_router`] to expose them.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::FutureExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::{Middleware, Next, Outbound, OutboundKind, OutboundNext};
use crate::error::Result;
use crate::jetstream::DeliveryEvent;
use crate::message::Message;
use crate::transport::{HandlerRequest, HandlerResult, RouteInfo};

/// The content type of the text exposition served by [`metrics_router`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Subjects starting with this are reply inboxes; they share one label value so the
/// number of series stays bounded.
const INBOX_PREFIX: &str = "_INBOX.";

/// Labels of handler metrics: the subscribed subject and the queue group (`""` if none).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    queue: String,
}

/// Labels of handler failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    route: String,
    queue: String,
    kind: String,
}

/// Labels of durable-route ack signals.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AckLabels {
    route: String,
    queue: String,
    kind: String,
}

/// Labels of PubAcks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PubAckLabels {
    subject: String,
    duplicate: String,
}

/// Labels of outbound metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    subject: String,
    operation: String,
}

fn handling_histogram() -> Histogram {
    // 100 µs .. ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

struct Families {
    received: Family<RouteLabels, Counter>,
    handled: Family<RouteLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    handling: Family<RouteLabels, Histogram, fn() -> Histogram>,
    published: Family<OutboundLabels, Counter>,
    publish_errors: Family<OutboundLabels, Counter>,
    js_deliveries: Family<RouteLabels, Counter>,
    js_redeliveries: Family<RouteLabels, Counter>,
    js_acks: Family<AckLabels, Counter>,
    js_dead_letters: Family<RouteLabels, Counter>,
    js_pub_acks: Family<PubAckLabels, Counter>,
}

/// Middleware that counts messages into a Prometheus [`Registry`].
///
/// Registered under the `natrium` prefix:
///
/// | metric | labels | counts |
/// |---|---|---|
/// | `natrium_messages_received_total` | `route`, `queue` | messages delivered to a handler (first attempt) |
/// | `natrium_messages_handled_total` | `route`, `queue` | attempts that succeeded |
/// | `natrium_message_errors_total` | `route`, `queue`, `kind` | attempts that failed, by kind (`decode`, `handler`, `panic`, `timeout`) |
/// | `natrium_message_handling_seconds` | `route`, `queue` | time per attempt (histogram) |
/// | `natrium_messages_published_total` | `subject`, `operation` | publishes and requests sent (`publish`, `request`, `request_many`) |
/// | `natrium_publish_errors_total` | `subject`, `operation` | publishes and requests that failed |
/// | `natrium_jetstream_deliveries_total` | `route`, `queue` | messages a durable route received (`queue`: the consumer) |
/// | `natrium_jetstream_redeliveries_total` | `route`, `queue` | of those, redeliveries |
/// | `natrium_jetstream_acks_total` | `route`, `queue`, `kind` | ack signals sent: `ack`, `nak`, `term`, `progress` (`+WPI`) |
/// | `natrium_jetstream_dead_letters_total` | `route`, `queue` | messages a durable route dead-lettered |
/// | `natrium_jetstream_pub_acks_total` | `subject`, `duplicate` | PubAcks of durable publishes (`duplicate`: `true`/`false`) |
///
/// Durable publishes are also counted in `natrium_messages_published_total` with operation
/// `publish_durable`.
///
/// `route` is the subscribed subject (wildcards kept), so label values stay bounded;
/// reply inboxes are all counted as `_INBOX.>`.
///
/// ```
/// use prometheus_client::registry::Registry;
/// let mut registry = Registry::default();
/// let metrics = natrium::middleware::Metrics::new(&mut registry);
/// // builder.layer(metrics.clone()); config.layer(metrics);
/// let text = natrium::middleware::metrics::encode(&registry).unwrap();
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers natrium's metrics in `registry` (under the `natrium` prefix).
    pub fn new(registry: &mut Registry) -> Self {
        let families = Families {
            received: Family::default(),
            handled: Family::default(),
            errors: Family::default(),
            handling: Family::new_with_constructor(handling_histogram),
            published: Family::default(),
            publish_errors: Family::default(),
            js_deliveries: Family::default(),
            js_redeliveries: Family::default(),
            js_acks: Family::default(),
            js_dead_letters: Family::default(),
            js_pub_acks: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("natrium");
        r.register(
            "messages_received",
            "Messages delivered to a handler",
            families.received.clone(),
        );
        r.register(
            "messages_handled",
            "Handler attempts that succeeded",
            families.handled.clone(),
        );
        r.register(
            "message_errors",
            "Handler attempts that failed, by kind",
            families.errors.clone(),
        );
        r.register(
            "message_handling_seconds",
            "Time per handler attempt",
            families.handling.clone(),
        );
        r.register(
            "messages_published",
            "Publishes and requests sent",
            families.published.clone(),
        );
        r.register(
            "publish_errors",
            "Publishes and requests that failed",
            families.publish_errors.clone(),
        );
        r.register(
            "jetstream_deliveries",
            "Messages durable routes received",
            families.js_deliveries.clone(),
        );
        r.register(
            "jetstream_redeliveries",
            "Messages durable routes received again",
            families.js_redeliveries.clone(),
        );
        r.register(
            "jetstream_acks",
            "Ack signals durable routes sent, by kind (ack, nak, term, progress)",
            families.js_acks.clone(),
        );
        r.register(
            "jetstream_dead_letters",
            "Messages durable routes dead-lettered",
            families.js_dead_letters.clone(),
        );
        r.register(
            "jetstream_pub_acks",
            "PubAcks received for durable publishes",
            families.js_pub_acks.clone(),
        );
        Metrics {
            families: Arc::new(families),
        }
    }
}

#[async_trait]
impl Middleware for Metrics {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        let labels = RouteLabels {
            route: request.route.subject.clone(),
            queue: request.route.queue.clone().unwrap_or_default(),
        };
        let f = &self.families;
        if request.attempt <= 1 {
            f.received.get_or_create(&labels).inc();
        }
        let started = Instant::now();
        // A panic is counted here; the server reports it after.
        let result = AssertUnwindSafe(next.run(request)).catch_unwind().await;
        f.handling
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        let kind = match &result {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(err.kind().to_string()),
            Err(_) => Some("panic".to_owned()),
        };
        match kind {
            None => {
                f.handled.get_or_create(&labels).inc();
            }
            Some(kind) => {
                let labels = ErrorLabels {
                    route: labels.route,
                    queue: labels.queue,
                    kind,
                };
                f.errors.get_or_create(&labels).inc();
            }
        }
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    async fn outbound(&self, outbound: Outbound, next: OutboundNext<'_>) -> Result<Vec<Message>> {
        let subject = &outbound.message.subject;
        let labels = OutboundLabels {
            subject: if subject.starts_with(INBOX_PREFIX) {
                "_INBOX.>".to_owned()
            } else {
                subject.clone()
            },
            operation: match outbound.kind {
                OutboundKind::Publish => "publish",
                OutboundKind::Request { .. } => "request",
                OutboundKind::RequestMany(_) => "request_many",
                OutboundKind::DurablePublish { .. } => "publish_durable",
            }
            .to_owned(),
        };
        let durable = matches!(outbound.kind, OutboundKind::DurablePublish { .. });
        let result = next.run(outbound).await;
        let f = &self.families;
        f.published.get_or_create(&labels).inc();
        match &result {
            Err(_) => {
                f.publish_errors.get_or_create(&labels).inc();
            }
            Ok(replies) if durable => {
                #[derive(serde::Deserialize)]
                struct Ack {
                    #[serde(default)]
                    duplicate: bool,
                }
                if let Some(ack) = replies
                    .first()
                    .and_then(|r| serde_json::from_slice::<Ack>(&r.payload).ok())
                {
                    let labels = PubAckLabels {
                        subject: labels.subject,
                        duplicate: ack.duplicate.to_string(),
                    };
                    f.js_pub_acks.get_or_create(&labels).inc();
                }
            }
            Ok(_) => {}
        }
        result
    }

    fn on_delivery(&self, route: &RouteInfo, event: &DeliveryEvent) {
        let labels = RouteLabels {
            route: route.subject.clone(),
            queue: route.queue.clone().unwrap_or_default(),
        };
        let f = &self.families;
        match event {
            DeliveryEvent::Delivered { redelivery } => {
                f.js_deliveries.get_or_create(&labels).inc();
                if *redelivery {
                    f.js_redeliveries.get_or_create(&labels).inc();
                }
            }
            DeliveryEvent::DeadLettered => {
                f.js_dead_letters.get_or_create(&labels).inc();
            }
            signal => {
                let labels = AckLabels {
                    route: labels.route,
                    queue: labels.queue,
                    kind: signal.name().to_owned(),
                };
                f.js_acks.get_or_create(&labels).inc();
            }
        }
    }
}

/// Encodes every metric of `registry` in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> std::result::Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

/// An axum router serving `GET /metrics` from `registry` (merge it into your HTTP
/// server's router).
pub fn metrics_router(registry: Arc<Registry>) -> axum::Router {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                match encode(&registry) {
                    Ok(text) => {
                        ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "cannot encode metrics");
                        (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n")
                            .into_response()
                    }
                }
            }
        }),
    )
}
