//! [`Tracing`]: OpenTelemetry spans for handled and outbound messages, with W3C trace
//! context carried in NATS headers so one trace crosses services.
//!
//! The tracer provider and the propagator are given by the user; nothing here reads or
//! changes OpenTelemetry's global state (`opentelemetry::global`), so installing this
//! middleware never changes what other code in the process traces.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;

use super::{Middleware, Next, Outbound, OutboundKind, OutboundNext};
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::message::Message;
use crate::transport::{HandlerRequest, HandlerResult};

/// OpenTelemetry attribute names used on natrium spans (messaging semantic conventions).
pub mod attributes {
    /// Always `"nats"`.
    pub const MESSAGING_SYSTEM: &str = "messaging.system";
    /// The subject a message was published on.
    pub const DESTINATION_NAME: &str = "messaging.destination.name";
    /// The subscribed subject (may hold wildcards) a handled message arrived through.
    pub const DESTINATION_TEMPLATE: &str = "messaging.destination.template";
    /// `publish` (publishes and requests) or `process` (handled messages).
    pub const OPERATION_TYPE: &str = "messaging.operation.type";
    /// `publish`, `request` or `process`.
    pub const OPERATION_NAME: &str = "messaging.operation.name";
    /// Payload size in bytes.
    pub const BODY_SIZE: &str = "messaging.message.body.size";
    /// The queue group of the subscription.
    pub const CONSUMER_GROUP: &str = "messaging.consumer.group.name";
    /// Number of replies a request gathered.
    pub const BATCH_COUNT: &str = "messaging.batch.message_count";
    /// Low-cardinality failure class (`decode`, `handler`, `panic`, `timeout`, `no_responders`, ...).
    pub const ERROR_TYPE: &str = "error.type";
    /// 1 for the first delivery to a handler, 2.. for retries.
    pub const DELIVERY_ATTEMPT: &str = "natrium.delivery.attempt";
}

use attributes as attr;

/// Subjects starting with this are reply inboxes; span names collapse them so names keep
/// a bounded number of values.
const INBOX_PREFIX: &str = "_INBOX.";

/// Middleware that traces messages with OpenTelemetry.
///
/// - Outbound (add it to [`BrokerConfig::layer`](crate::BrokerConfig::layer)): a
///   `Producer` span `publish <subject>` per publish and a `Client` span
///   `request <subject>` per request, child of the current [`Context`]; the span's
///   context is injected into the message headers (`traceparent`, `tracestate` with the
///   default propagator).
/// - Handlers (add it to [`NatsServerBuilder::layer`](crate::transport::NatsServerBuilder::layer)):
///   a `Consumer` span `process <subscribed subject>` per delivery, child of the context
///   extracted from the headers (names are matched ignoring case). The handler runs with
///   that span as the current context, so what it publishes continues the trace; the
///   context is also available to handlers as
///   [`Extension<opentelemetry::Context>`](crate::transport::Extension).
///
/// Failures set the span status to error and the `error.type` attribute.
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// let provider = SdkTracerProvider::builder().build();
/// let tracing = natrium::middleware::Tracing::new(&provider);
/// ```
#[derive(Clone)]
pub struct Tracing {
    tracer: Arc<BoxedTracer>,
    propagator: Arc<dyn TextMapPropagator + Send + Sync>,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("propagator", &self.propagator)
            .finish_non_exhaustive()
    }
}

impl Tracing {
    /// Traces with a tracer from `provider` (instrumentation scope `natrium`) and the W3C
    /// trace-context propagator.
    pub fn new<P>(provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        let scope = InstrumentationScope::builder("natrium")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        Tracing {
            tracer: Arc::new(BoxedTracer::new(Box::new(tracer))),
            propagator: Arc::new(TraceContextPropagator::new()),
        }
    }

    /// Uses `propagator` instead of the W3C trace-context propagator (for example a
    /// composite one that also carries baggage).
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.propagator = Arc::new(propagator);
        self
    }

    /// Starts a span named `name` as a child of `parent`, returning the context holding it.
    fn start(
        &self,
        name: String,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        parent: &Context,
    ) -> Context {
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&*self.tracer, parent);
        parent.with_span(span)
    }
}

/// Ends the span in `cx` with an error status.
fn fail(cx: &Context, error_type: impl Into<opentelemetry::Value>, description: String) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type));
    span.set_status(Status::error(description));
}

#[async_trait]
impl Middleware for Tracing {
    async fn handle(&self, mut request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        let parent = self
            .propagator
            .extract(&HeaderExtractor(&request.message.headers));
        let route = request.route.clone();
        let mut attributes = vec![
            KeyValue::new(attr::MESSAGING_SYSTEM, "nats"),
            KeyValue::new(attr::DESTINATION_NAME, request.message.subject.clone()),
            KeyValue::new(attr::DESTINATION_TEMPLATE, route.subject.clone()),
            KeyValue::new(attr::OPERATION_TYPE, "process"),
            KeyValue::new(attr::OPERATION_NAME, "process"),
            KeyValue::new(attr::BODY_SIZE, body_size(&request.message)),
            KeyValue::new(attr::DELIVERY_ATTEMPT, i64::from(request.attempt)),
        ];
        if let Some(queue) = &route.queue {
            attributes.push(KeyValue::new(attr::CONSUMER_GROUP, queue.clone()));
        }
        let cx = self.start(
            format!("process {}", route.subject),
            SpanKind::Consumer,
            attributes,
            &parent,
        );
        request.extensions.insert(cx.clone());
        // A panic must still close the span with an error; the server reports it after.
        let result = AssertUnwindSafe(next.run(request).with_context(cx.clone()))
            .catch_unwind()
            .await;
        match &result {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => fail(&cx, err.kind().to_string(), err.to_string()),
            Err(_) => fail(&cx, "panic", "handler panicked".to_owned()),
        }
        cx.span().end();
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    async fn outbound(
        &self,
        mut outbound: Outbound,
        next: OutboundNext<'_>,
    ) -> Result<Vec<Message>> {
        let (operation, kind) = match outbound.kind {
            OutboundKind::Publish => ("publish", SpanKind::Producer),
            OutboundKind::DurablePublish { .. } => ("publish_durable", SpanKind::Producer),
            OutboundKind::Request { .. } | OutboundKind::RequestMany(_) => {
                ("request", SpanKind::Client)
            }
        };
        let subject = &outbound.message.subject;
        let name = if subject.starts_with(INBOX_PREFIX) {
            format!("{operation} _INBOX")
        } else {
            format!("{operation} {subject}")
        };
        let attributes = vec![
            KeyValue::new(attr::MESSAGING_SYSTEM, "nats"),
            KeyValue::new(attr::DESTINATION_NAME, subject.clone()),
            KeyValue::new(attr::OPERATION_TYPE, "publish"),
            KeyValue::new(attr::OPERATION_NAME, operation),
            KeyValue::new(attr::BODY_SIZE, body_size(&outbound.message)),
        ];
        let is_request = kind == SpanKind::Client;
        let cx = self.start(name, kind, attributes, &Context::current());
        self.propagator
            .inject_context(&cx, &mut HeaderInjector(&mut outbound.message.headers));
        let result = next.run(outbound).with_context(cx.clone()).await;
        match &result {
            Ok(replies) if is_request => {
                let count = i64::try_from(replies.len()).unwrap_or(i64::MAX);
                cx.span()
                    .set_attribute(KeyValue::new(attr::BATCH_COUNT, count));
            }
            Ok(_) => {}
            Err(err) => fail(&cx, error_type(err), err.to_string()),
        }
        cx.span().end();
        result
    }
}

fn body_size(message: &Message) -> i64 {
    i64::try_from(message.payload.len()).unwrap_or(i64::MAX)
}

/// A low-cardinality name for an outbound failure.
fn error_type(err: &Error) -> &'static str {
    match err {
        Error::Timeout { .. } => "timeout",
        Error::NoResponders { .. } => "no_responders",
        Error::Service { .. } => "service_error",
        Error::InvalidSubject { .. } => "invalid_subject",
        Error::InvalidHeader { .. } => "invalid_header",
        Error::Codec { .. } => "codec",
        Error::Publish { .. } => "publish",
        Error::Request { .. } => "request",
        Error::Closed => "closed",
        _ => "_OTHER",
    }
}

/// Writes propagation fields into natrium headers, replacing earlier values of the same
/// name (in any case), so a forwarded message carries exactly one `traceparent`.
struct HeaderInjector<'a>(&'a mut Headers);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value);
    }
}

/// Reads propagation fields from natrium headers; names match ignoring ASCII case.
struct HeaderExtractor<'a>(&'a Headers);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name).collect()
    }
}
