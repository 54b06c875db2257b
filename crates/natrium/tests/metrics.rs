//! The metrics middleware on a real NATS server: handle messages (some failing), scrape
//! the text exposition, check exact counts.

mod obs_support;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use natrium::middleware::{Metrics, Middleware, Next, metrics, metrics_router};
use natrium::transport::{HandlerRequest, HandlerResult};
use natrium::{
    AppContext, Broker, BrokerConfig, BrokerExt, HandlerError, Headers, Json, NatsBroker,
    NatsServer, RetryPolicy, Route, Server,
};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Serialize, Deserialize)]
struct Job {
    n: u32,
}

async fn run(Json(job): Json<Job>) -> Result<(), HandlerError> {
    if job.n == 100 {
        panic!("job 100 panics");
    }
    if job.n % 3 == 0 {
        return Err(HandlerError::new(format!("job {} failed", job.n)));
    }
    Ok(())
}

async fn echo(Json(job): Json<Job>) -> Result<Json<u32>, HandlerError> {
    Ok(Json(job.n))
}

async fn always_fails() -> Result<(), HandlerError> {
    Err(HandlerError::new("never works"))
}

/// Reports every finished handler attempt, so the test waits on events instead of
/// hoping the stop comes late enough. Added as the outermost layer, it fires after the
/// metrics layer has counted.
struct Finished(mpsc::UnboundedSender<String>);

#[async_trait::async_trait]
impl Middleware for Finished {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        let route = request.route.subject.clone();
        let result = AssertUnwindSafe(next.run(request)).catch_unwind().await;
        let _ = self.0.send(route);
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// The value of the sample `series` (name and labels, exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn counts_received_handled_errors_and_published_exactly() {
    let nats = obs_support::embedded().await;
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let (finished_tx, mut finished) = mpsc::unbounded_channel();

    let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]).layer(metrics.clone()))
        .subscribe("jobs.run", run)
        .route(Route::subscribe("jobs.q", run).queue("workers"))
        .route(Route::subscribe("jobs.retry", always_fails).retry(
            RetryPolicy::attempts(3).backoff(Duration::from_millis(1), Duration::from_millis(2)),
        ))
        .reply("jobs.echo", echo)
        .layer(Finished(finished_tx))
        .layer(metrics.clone())
        .build()
        .expect("valid server");
    let ctx = AppContext::standalone("jobs");
    server.start(&ctx).await.expect("server starts");

    let broker = NatsBroker::connect(BrokerConfig::new([nats.url.clone()]).layer(metrics.clone()))
        .await
        .expect("connects");
    // 10 jobs: 0, 3, 6, 9 fail; 6 succeed.
    for n in 0..10 {
        broker
            .publish("jobs.run", &Job { n })
            .await
            .expect("publish");
    }
    // 2 undecodable, 1 panicking.
    for _ in 0..2 {
        broker
            .publish_bytes("jobs.run", Headers::new(), "not json".into())
            .await
            .expect("publish");
    }
    broker
        .publish("jobs.run", &Job { n: 100 })
        .await
        .expect("publish");
    for n in [1, 2, 3] {
        broker.publish("jobs.q", &Job { n }).await.expect("publish");
    }
    broker
        .publish("jobs.retry", &Job { n: 1 })
        .await
        .expect("publish");
    let echoed: u32 = broker
        .request("jobs.echo", &Job { n: 5 })
        .await
        .expect("request");
    assert_eq!(echoed, 5);
    // Attempts: 13 on jobs.run, 3 on jobs.q, 3 on jobs.retry, 1 on jobs.echo.
    let mut attempts = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let route = tokio::time::timeout(Duration::from_secs(5), finished.recv())
            .await
            .expect("handlers finish in time")
            .expect("server alive");
        *attempts.entry(route).or_insert(0) += 1;
    }
    server.stop(&ctx).await.expect("server stops");
    assert_eq!(
        attempts,
        [
            ("jobs.echo", 1),
            ("jobs.q", 3),
            ("jobs.retry", 3),
            ("jobs.run", 13)
        ]
        .map(|(r, n)| (r.to_owned(), n))
        .into()
    );
    assert!(
        finished.try_recv().is_err(),
        "no attempt beyond those expected"
    );

    let text = metrics::encode(&registry).expect("encodes");
    let run = r#"route="jobs.run",queue="""#;
    let q = r#"route="jobs.q",queue="workers""#;
    let retry = r#"route="jobs.retry",queue="""#;
    let expect = [
        (format!("natrium_messages_received_total{{{run}}}"), 13.0),
        (format!("natrium_messages_handled_total{{{run}}}"), 6.0),
        (
            format!("natrium_message_errors_total{{{run},kind=\"handler\"}}"),
            4.0,
        ),
        (
            format!("natrium_message_errors_total{{{run},kind=\"decode\"}}"),
            2.0,
        ),
        (
            format!("natrium_message_errors_total{{{run},kind=\"panic\"}}"),
            1.0,
        ),
        (
            format!("natrium_message_handling_seconds_count{{{run}}}"),
            13.0,
        ),
        (format!("natrium_messages_received_total{{{q}}}"), 3.0),
        (format!("natrium_messages_handled_total{{{q}}}"), 2.0),
        (
            format!("natrium_message_errors_total{{{q},kind=\"handler\"}}"),
            1.0,
        ),
        // A retried message is received once and fails once per attempt.
        (format!("natrium_messages_received_total{{{retry}}}"), 1.0),
        (
            format!("natrium_message_errors_total{{{retry},kind=\"handler\"}}"),
            3.0,
        ),
        (
            format!("natrium_message_handling_seconds_count{{{retry}}}"),
            3.0,
        ),
        (
            r#"natrium_messages_received_total{route="jobs.echo",queue=""}"#.to_owned(),
            1.0,
        ),
        (
            r#"natrium_messages_handled_total{route="jobs.echo",queue=""}"#.to_owned(),
            1.0,
        ),
        (
            r#"natrium_messages_published_total{subject="jobs.run",operation="publish"}"#
                .to_owned(),
            13.0,
        ),
        (
            r#"natrium_messages_published_total{subject="jobs.q",operation="publish"}"#.to_owned(),
            3.0,
        ),
        (
            r#"natrium_messages_published_total{subject="jobs.echo",operation="request"}"#
                .to_owned(),
            1.0,
        ),
        // The server's reply went through its broker's layer; inboxes share one series.
        (
            r#"natrium_messages_published_total{subject="_INBOX.>",operation="publish"}"#
                .to_owned(),
            1.0,
        ),
    ];
    for (series, value) in &expect {
        assert_eq!(sample(&text, series), Some(*value), "{series}\n---\n{text}");
    }
    for absent in [
        format!("natrium_message_errors_total{{{run},kind=\"timeout\"}}"),
        format!("natrium_message_errors_total{{{q},kind=\"decode\"}}"),
        r#"natrium_publish_errors_total{subject="jobs.run",operation="publish"}"#.to_owned(),
    ] {
        assert_eq!(sample(&text, &absent), None, "{absent}\n---\n{text}");
    }
    assert!(text.contains("# TYPE natrium_message_handling_seconds histogram"));
    assert!(text.ends_with("# EOF\n"));

    broker.close().await.expect("close");
}

#[tokio::test]
async fn failed_publishes_are_counted() {
    let nats = obs_support::embedded().await;
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let broker = NatsBroker::connect(BrokerConfig::new([nats.url.clone()]).layer(metrics))
        .await
        .expect("connects");
    let result = broker.request::<_, u32>("nobody.home", &Job { n: 1 }).await;
    assert!(
        matches!(result, Err(natrium::Error::NoResponders { .. })),
        "{result:?}"
    );
    let text = metrics::encode(&registry).expect("encodes");
    let series = r#"{subject="nobody.home",operation="request"}"#;
    assert_eq!(
        sample(&text, &format!("natrium_messages_published_total{series}")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("natrium_publish_errors_total{series}")),
        Some(1.0)
    );
    broker.close().await.expect("close");
}

#[tokio::test]
async fn metrics_route_serves_the_registry() {
    use tower::ServiceExt as _;

    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let registry = Arc::new(registry);
    // Count one publish on an in-memory broker, so the scrape has a sample to show.
    let broker = natrium::MemoryBroker::new().with_layer(metrics);
    broker.publish("a.b", &Job { n: 1 }).await.expect("publish");

    let router = metrics_router(registry.clone());
    let response = router
        .clone()
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("served");
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().ok()),
        Some(Some(metrics::OPENMETRICS_CONTENT_TYPE))
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    assert_eq!(text, metrics::encode(&registry).expect("encodes"));
    assert_eq!(
        sample(
            &text,
            r#"natrium_messages_published_total{subject="a.b",operation="publish"}"#
        ),
        Some(1.0)
    );

    let missing = router
        .oneshot(
            axum::http::Request::get("/other")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("served");
    assert_eq!(missing.status(), axum::http::StatusCode::NOT_FOUND);
}
