//! The tracing middleware on a real (embedded) NATS server: spans, their attributes, and
//! W3C trace context crossing from one service to another.

mod obs_support;

use std::time::Duration;

use natrium::middleware::Tracing;
use natrium::transport::Extension;
use natrium::{
    AppContext, Broker, BrokerConfig, BrokerExt, Error, HandlerError, Json, NatsBroker, NatsServer,
    Route, Server,
};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider,
};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Order {
    id: u32,
}

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn spans(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().expect("in-memory exporter")
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span {name:?}, got {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Span context of the span a handler ran in, as the handler saw it.
type Seen = (TraceId, SpanId);

fn seen(cx: &Context) -> Seen {
    let span = cx.span();
    let sc = span.span_context();
    (sc.trace_id(), sc.span_id())
}

#[tokio::test]
async fn a_trace_crosses_from_publisher_to_handler() {
    let nats = obs_support::embedded().await;
    let (provider, exporter) = provider();
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();

    // Service B: a queue subscriber with the tracing layer.
    let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]))
        .route(
            Route::subscribe(
                "orders.created",
                move |Json(order): Json<Order>, Extension(cx): Extension<Context>| {
                    let tx = tx.clone();
                    async move {
                        assert_eq!(order, Order { id: 7 });
                        let _ = tx.send(seen(&cx));
                    }
                },
            )
            .queue("billing"),
        )
        .layer(Tracing::new(&provider))
        .build()
        .expect("valid server");
    let ctx = AppContext::standalone("billing");
    server.start(&ctx).await.expect("server starts");

    // Service A publishes inside its own span.
    let broker =
        NatsBroker::connect(BrokerConfig::new([nats.url.clone()]).layer(Tracing::new(&provider)))
            .await
            .expect("connects");
    let tracer = provider.tracer("service-a");
    let checkout = tracer.start("checkout");
    let cx = Context::current_with_span(checkout);
    broker
        .publish("orders.created", &Order { id: 7 })
        .with_context(cx.clone())
        .await
        .expect("publish");
    let (handler_trace, handler_span) = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .expect("handler ran in time")
        .expect("handler ran");
    cx.span().end();
    // Stop waits for in-flight handlers, so every span has ended after this.
    server.stop(&ctx).await.expect("server stops");

    let all = spans(&exporter);
    let checkout = span(&all, "checkout");
    let publish = span(&all, "publish orders.created");
    let process = span(&all, "process orders.created");

    let trace_id = checkout.span_context.trace_id();
    assert_eq!(publish.span_context.trace_id(), trace_id);
    assert_eq!(publish.parent_span_id, checkout.span_context.span_id());
    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(
        process.span_context.trace_id(),
        trace_id,
        "B's span is in A's trace"
    );
    assert_eq!(
        process.parent_span_id,
        publish.span_context.span_id(),
        "B's span is the child of A's publish"
    );
    assert!(process.parent_span_is_remote);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(
        (handler_trace, handler_span),
        (trace_id, process.span_context.span_id())
    );

    assert_eq!(attribute(publish, "messaging.system"), Some("nats".into()));
    assert_eq!(
        attribute(publish, "messaging.destination.name"),
        Some("orders.created".into())
    );
    assert_eq!(
        attribute(publish, "messaging.operation.type"),
        Some("publish".into())
    );
    assert_eq!(
        attribute(publish, "messaging.message.body.size"),
        Some(Value::I64(8))
    );
    assert_eq!(attribute(process, "messaging.system"), Some("nats".into()));
    assert_eq!(
        attribute(process, "messaging.destination.name"),
        Some("orders.created".into())
    );
    assert_eq!(
        attribute(process, "messaging.operation.type"),
        Some("process".into())
    );
    assert_eq!(
        attribute(process, "messaging.message.body.size"),
        Some(Value::I64(8))
    );
    assert_eq!(
        attribute(process, "messaging.consumer.group.name"),
        Some("billing".into())
    );
    assert_eq!(process.status, Status::Unset);

    broker.close().await.expect("close");
    drop(nats);
}

#[tokio::test]
async fn request_and_reply_spans_link_and_record_errors() {
    let nats = obs_support::embedded().await;
    let (provider, exporter) = provider();

    async fn quote(Json(order): Json<Order>) -> Result<Json<u32>, HandlerError> {
        if order.id == 0 {
            return Err(HandlerError::new("no such order").with_code(404));
        }
        Ok(Json(order.id * 10))
    }
    let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]))
        .reply("pricing.quote", quote)
        .layer(Tracing::new(&provider))
        .build()
        .expect("valid server");
    let ctx = AppContext::standalone("pricing");
    server.start(&ctx).await.expect("server starts");

    let broker =
        NatsBroker::connect(BrokerConfig::new([nats.url.clone()]).layer(Tracing::new(&provider)))
            .await
            .expect("connects");
    let price: u32 = broker
        .request("pricing.quote", &Order { id: 3 })
        .await
        .expect("request succeeds");
    assert_eq!(price, 30);
    let failed = broker
        .request::<_, u32>("pricing.quote", &Order { id: 0 })
        .await;
    assert!(
        matches!(&failed, Err(Error::Service { code: 404, .. })),
        "{failed:?}"
    );
    server.stop(&ctx).await.expect("server stops");

    let all = spans(&exporter);
    let requests: Vec<_> = all
        .iter()
        .filter(|s| s.name == "request pricing.quote")
        .collect();
    let processes: Vec<_> = all
        .iter()
        .filter(|s| s.name == "process pricing.quote")
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(processes.len(), 2);
    for (request, process) in requests.iter().zip(&processes) {
        assert_eq!(request.span_kind, SpanKind::Client);
        assert_eq!(
            attribute(request, "messaging.operation.name"),
            Some("request".into())
        );
        assert_eq!(
            process.span_context.trace_id(),
            request.span_context.trace_id()
        );
        assert_eq!(process.parent_span_id, request.span_context.span_id());
    }
    // Every request starts a trace of its own (no span was current).
    assert_ne!(
        requests[0].span_context.trace_id(),
        requests[1].span_context.trace_id()
    );
    assert_eq!(requests[0].status, Status::Unset);
    assert_eq!(processes[0].status, Status::Unset);
    assert_eq!(
        attribute(requests[0], "messaging.batch.message_count"),
        Some(Value::I64(1))
    );

    assert!(
        matches!(&processes[1].status, Status::Error { description } if description.contains("no such order"))
    );
    assert_eq!(
        attribute(processes[1], "error.type"),
        Some("handler".into())
    );
    assert!(matches!(requests[1].status, Status::Error { .. }));
    assert_eq!(
        attribute(requests[1], "error.type"),
        Some("service_error".into())
    );

    broker.close().await.expect("close");
    drop(nats);
}

#[tokio::test]
async fn trace_headers_are_extracted_in_any_case() {
    let nats = obs_support::embedded().await;
    let (provider, exporter) = provider();
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]))
        .subscribe("audit.>", move |Extension(cx): Extension<Context>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(seen(&cx));
            }
        })
        .layer(Tracing::new(&provider))
        .build()
        .expect("valid server");
    let ctx = AppContext::standalone("audit");
    server.start(&ctx).await.expect("server starts");

    // A foreign publisher (plain async-nats) writes the header names in odd cases.
    let client = async_nats::connect(nats.url.clone())
        .await
        .expect("connects");
    let cases = [
        ("traceparent", "tracestate", 0x11_u128, 0x21_u64),
        ("TRACEPARENT", "TRACESTATE", 0x12, 0x22),
        ("TraceParent", "TraceState", 0x13, 0x23),
    ];
    for (parent_name, state_name, trace, span) in cases {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            parent_name,
            format!("00-{trace:032x}-{span:016x}-01").as_str(),
        );
        headers.insert(state_name, "vendor=abc");
        client
            .publish_with_headers("audit.login", headers, "{}".into())
            .await
            .expect("publish");
        let (got_trace, _) = tokio::time::timeout(LIMIT, rx.recv())
            .await
            .expect("handler ran in time")
            .expect("handler ran");
        assert_eq!(got_trace, TraceId::from(trace), "{parent_name}");
    }
    server.stop(&ctx).await.expect("server stops");

    let all = spans(&exporter);
    let processes: Vec<_> = all.iter().filter(|s| s.name == "process audit.>").collect();
    assert_eq!(processes.len(), 3);
    for (process, (name, _, trace, span)) in processes.iter().zip(cases) {
        assert_eq!(
            process.span_context.trace_id(),
            TraceId::from(trace),
            "{name}"
        );
        assert_eq!(process.parent_span_id, SpanId::from(span), "{name}");
        assert_eq!(
            process.span_context.trace_state().header(),
            "vendor=abc",
            "{name}"
        );
        assert_eq!(
            attribute(process, "messaging.destination.name"),
            Some("audit.login".into())
        );
        assert_eq!(
            attribute(process, "messaging.destination.template"),
            Some("audit.>".into())
        );
        assert_eq!(attribute(process, "messaging.consumer.group.name"), None);
    }

    drop(nats);
}

#[tokio::test]
async fn published_messages_carry_w3c_headers_and_global_state_is_untouched() {
    let nats = obs_support::embedded().await;
    let (provider, exporter) = provider();
    let client = async_nats::connect(nats.url.clone())
        .await
        .expect("connects");
    let mut sub = client.subscribe("raw.out").await.expect("subscribe");
    client.flush().await.expect("flush");

    let broker =
        NatsBroker::connect(BrokerConfig::new([nats.url.clone()]).layer(Tracing::new(&provider)))
            .await
            .expect("connects");
    let root = provider.tracer("test").start("root");
    let cx = Context::current_with_span(root);
    broker
        .publish("raw.out", &Order { id: 1 })
        .with_context(cx.clone())
        .await
        .expect("publish");
    cx.span().end();
    let msg = tokio::time::timeout(LIMIT, futures::StreamExt::next(&mut sub))
        .await
        .expect("message in time")
        .expect("message");
    let headers = msg.headers.expect("headers were sent");
    let traceparent = headers.get("traceparent").expect("traceparent").as_str();
    let publish = spans(&exporter)
        .into_iter()
        .find(|s| s.name == "publish raw.out")
        .expect("publish span");
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            publish.span_context.trace_id(),
            publish.span_context.span_id()
        )
    );

    // The middleware used the provider it was given: the global one is still the no-op,
    // and the global propagator still injects nothing.
    let global_span = opentelemetry::global::tracer("probe").start("probe");
    assert!(!opentelemetry::trace::Span::span_context(&global_span).is_valid());
    let mut injected = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injected));
    assert!(
        injected.is_empty(),
        "global propagator was replaced: {injected:?}"
    );

    broker.close().await.expect("close");
    drop(nats);
}
