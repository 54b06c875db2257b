//! Durable routes against the newest nats-server: each handler outcome becomes the right
//! ack, slow handlers send +WPI, max_deliver ends in a dead letter, stop keeps the contract,
//! and declared streams and consumers are created, checked or updated.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::stream;
use futures::StreamExt;
use natrium::jetstream::testing::JsTestServer;
use natrium::jetstream::{Delivery, OnMismatch, PublishOptions};
use natrium::{
    AppContext, Broker, BrokerExt, Error, HandlerError, MemoryBroker, NatsBroker, NatsServer,
    RetryPolicy, Route, Server, State,
};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(15);

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn orders_stream() -> stream::Config {
    stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    }
}

fn consumer(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        filter_subject: "orders.>".into(),
        ..Default::default()
    }
}

/// A broker connected to `server`.
async fn broker(server: &JsTestServer) -> NatsBroker {
    NatsBroker::connect(server.config()).await.expect("connect")
}

/// Starts `nats` outside an app; returns the context to stop it with.
async fn start(nats: &NatsServer) -> AppContext {
    let ctx = AppContext::standalone("test");
    bounded("start", nats.start(&ctx))
        .await
        .expect("server starts");
    ctx
}

async fn publish_n(broker: &NatsBroker, n: usize) {
    for i in 0..n {
        broker
            .publish_durable("orders.new", &i, PublishOptions::new())
            .await
            .expect("stored");
    }
}

/// Waits until the consumer has nothing pending and nothing unacknowledged.
async fn consumer_settled(
    broker: &NatsBroker,
    name: &str,
) -> async_nats::jetstream::consumer::Info {
    let js = broker.jetstream().unwrap();
    let stream = js.get_stream("ORDERS").await.unwrap();
    bounded("consumer settled", async {
        loop {
            let info = stream.consumer_info(name).await.unwrap();
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return info;
            }
            // Acks are processed by the server asynchronously; there is no event to await.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn ok_acks_every_message_once() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(u32, Delivery)>();
    async fn save(n: u32, d: Delivery, State(tx): State<mpsc::UnboundedSender<(u32, Delivery)>>) {
        let _ = tx.send((n, d));
    }
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(tx)
        .route(Route::durable("ORDERS", consumer("saver"), save).concurrency(4))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 20).await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (n, d) = bounded("delivery", rx.recv()).await.unwrap();
        assert_eq!(
            (d.stream.as_str(), d.consumer.as_str(), d.delivered),
            ("ORDERS", "saver", 1)
        );
        assert_eq!(d.stream_sequence, u64::from(n) + 1);
        seen.push(n);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<u32>>());
    let info = consumer_settled(&broker, "saver").await;
    assert_eq!(info.ack_floor.stream_sequence, 20);
    nats.stop(&ctx).await.unwrap();
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!(
        (
            stats.received,
            stats.handled,
            stats.acks,
            stats.naks,
            stats.redeliveries
        ),
        (20, 20, 20, 0, 0)
    );
    server.stop().await;
}

#[tokio::test]
async fn double_ack_confirms_before_the_next_message() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    async fn save(d: Delivery, State(tx): State<mpsc::UnboundedSender<u64>>) {
        let _ = tx.send(d.stream_sequence);
    }
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(tx)
        .route(Route::durable("ORDERS", consumer("saver"), save).double_ack(true))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 5).await;
    for _ in 0..5 {
        bounded("delivery", rx.recv()).await.unwrap();
    }
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(nats.stats_for("orders.>").unwrap().acks, 5);
    server.stop().await;
}

#[tokio::test]
async fn a_retryable_error_is_nacked_with_the_routes_backoff() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    async fn flaky(
        d: Delivery,
        State(tx): State<mpsc::UnboundedSender<(u64, Instant)>>,
    ) -> Result<(), HandlerError> {
        let _ = tx.send((d.delivered, Instant::now()));
        if d.delivered < 3 {
            return Err(HandlerError::new("database busy"));
        }
        Ok(())
    }
    let backoff =
        RetryPolicy::attempts(1).backoff(Duration::from_millis(300), Duration::from_secs(5));
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(tx)
        .route(Route::durable("ORDERS", consumer("saver"), flaky).retry(backoff))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 1).await;
    let mut times = Vec::new();
    for want in 1..=3 {
        let (delivered, at) = bounded("delivery", rx.recv()).await.unwrap();
        assert_eq!(delivered, want);
        times.push(at);
    }
    // NAK delays: 300 ms after the first failure, 600 ms after the second.
    let first = times[1] - times[0];
    let second = times[2] - times[1];
    assert!(
        first >= Duration::from_millis(280) && first < Duration::from_millis(1500),
        "{first:?}"
    );
    assert!(
        second >= Duration::from_millis(580) && second < Duration::from_millis(2500),
        "{second:?}"
    );
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!(
        (stats.naks, stats.acks, stats.redeliveries, stats.errors),
        (2, 1, 2, 2)
    );
    server.stop().await;
}

/// Subscribes to the dead-letter subject on core NATS.
async fn dead_letters(broker: &NatsBroker) -> natrium::broker::Subscriber {
    broker
        .subscribe("failed.orders", None)
        .await
        .expect("subscribe")
}

#[tokio::test]
async fn a_terminal_error_is_dead_lettered_and_terminated_with_its_reason() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let calls = Arc::new(AtomicUsize::new(0));
    async fn refuse(State(calls): State<Arc<AtomicUsize>>) -> Result<(), HandlerError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::new("customer unknown").terminal())
    }
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(calls.clone())
        .route(Route::durable("ORDERS", consumer("saver"), refuse).dead_letter("failed.orders"))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    let mut dead = dead_letters(&broker).await;
    // The server's termination advisory carries the +TERM reason.
    let mut advisories = broker
        .subscribe(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.saver",
            None,
        )
        .await
        .unwrap();
    publish_n(&broker, 1).await;
    let letter = bounded("dead letter", dead.next()).await.unwrap();
    assert_eq!(letter.payload.as_ref(), b"0");
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Reason"),
        Some("customer unknown")
    );
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Kind"),
        Some("handler")
    );
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Subject"),
        Some("orders.new")
    );
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Attempts"),
        Some("1")
    );
    let advisory = bounded("termination advisory", advisories.next())
        .await
        .unwrap();
    let advisory: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap();
    assert_eq!(advisory["reason"], "customer unknown", "{advisory}");
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never redelivered");
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!(
        (stats.terms, stats.dead_lettered, stats.naks, stats.acks),
        (1, 1, 0, 0)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_decode_error_is_terminal() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    #[derive(serde::Deserialize)]
    struct Order {
        #[allow(dead_code)]
        id: u32,
    }
    async fn save(_order: Order) {}
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .route(Route::durable("ORDERS", consumer("saver"), save).dead_letter("failed.orders"))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    let mut dead = dead_letters(&broker).await;
    broker
        .publish_durable_message(
            natrium::message::Message::new("orders.new", "not json"),
            PublishOptions::new(),
        )
        .await
        .unwrap();
    let letter = bounded("dead letter", dead.next()).await.unwrap();
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Kind"),
        Some("decode")
    );
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!(
        (
            stats.decode_errors,
            stats.terms,
            stats.dead_lettered,
            stats.naks
        ),
        (1, 1, 1, 0)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_panic_is_nacked_and_redelivered() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    async fn fragile(d: Delivery, State(tx): State<mpsc::UnboundedSender<u64>>) {
        let _ = tx.send(d.delivered);
        if d.delivered == 1 {
            panic!("first try explodes");
        }
    }
    let fast =
        RetryPolicy::attempts(1).backoff(Duration::from_millis(10), Duration::from_millis(10));
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(tx)
        .route(Route::durable("ORDERS", consumer("saver"), fragile).retry(fast))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 1).await;
    assert_eq!(bounded("first", rx.recv()).await, Some(1));
    assert_eq!(bounded("redelivery", rx.recv()).await, Some(2));
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!((stats.panics, stats.naks, stats.acks), (1, 1, 1));
    server.stop().await;
}

#[tokio::test]
async fn a_handler_three_times_longer_than_ack_wait_is_not_redelivered() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let calls = Arc::new(AtomicUsize::new(0));
    async fn slow(State(calls): State<Arc<AtomicUsize>>) {
        calls.fetch_add(1, Ordering::SeqCst);
        // The slow database this test is about.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let config = pull::Config {
        ack_wait: Duration::from_secs(1),
        ..consumer("saver")
    };
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(calls.clone())
        .route(Route::durable("ORDERS", config, slow).concurrency(2))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 1).await;
    let info = consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no redelivery while the handler worked"
    );
    assert_eq!(info.num_redelivered, 0);
    let stats = nats.stats_for("orders.>").unwrap();
    assert!(
        stats.progress >= 4,
        "+WPI every 500 ms for 3 s: {}",
        stats.progress
    );
    assert_eq!((stats.acks, stats.redeliveries), (1, 0));
    server.stop().await;
}

#[tokio::test]
async fn exhausting_max_deliver_dead_letters_once_and_terminates() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let calls = Arc::new(AtomicUsize::new(0));
    async fn always_fails(State(calls): State<Arc<AtomicUsize>>) -> Result<(), HandlerError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::new("still down"))
    }
    let config = pull::Config {
        max_deliver: 3,
        ..consumer("saver")
    };
    let fast =
        RetryPolicy::attempts(1).backoff(Duration::from_millis(10), Duration::from_millis(20));
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(calls.clone())
        .route(
            Route::durable("ORDERS", config, always_fails)
                .retry(fast)
                .dead_letter("failed.orders"),
        )
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    let mut dead = dead_letters(&broker).await;
    publish_n(&broker, 1).await;
    let letter = bounded("dead letter", dead.next()).await.unwrap();
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Attempts"),
        Some("3")
    );
    assert_eq!(
        letter.headers.get("Natrium-Dead-Letter-Reason"),
        Some("still down")
    );
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let stats = nats.stats_for("orders.>").unwrap();
    assert_eq!((stats.naks, stats.terms, stats.dead_lettered), (2, 1, 1));
    assert!(dead.next().now_or_never_is_pending(), "dead-lettered once");
    server.stop().await;
}

trait PendingExt {
    fn now_or_never_is_pending(self) -> bool;
}

impl<F: std::future::Future> PendingExt for F {
    fn now_or_never_is_pending(self) -> bool {
        futures::FutureExt::now_or_never(self).is_none()
    }
}

#[tokio::test]
async fn a_dead_letter_subject_in_a_stream_is_stored_durably() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    async fn refuse() -> Result<(), HandlerError> {
        Err(HandlerError::new("no").terminal())
    }
    let dead_stream = stream::Config {
        name: "DEAD".into(),
        subjects: vec!["dead.>".into()],
        ..Default::default()
    };
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .stream(dead_stream)
        .route(Route::durable("ORDERS", consumer("saver"), refuse).dead_letter("dead.orders"))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 3).await;
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    let js = broker.jetstream().unwrap();
    let info = js
        .get_stream("DEAD")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.state.messages, 3);
    server.stop().await;
}

#[tokio::test]
async fn concurrency_is_bounded_by_max_ack_pending() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    #[derive(Clone, Default)]
    struct Gauge {
        now: Arc<AtomicUsize>,
        max: Arc<AtomicUsize>,
        done: Arc<AtomicUsize>,
    }
    async fn work(State(g): State<Gauge>) {
        let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
        g.max.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        g.now.fetch_sub(1, Ordering::SeqCst);
        g.done.fetch_add(1, Ordering::SeqCst);
    }
    let gauge = Gauge::default();
    let config = pull::Config {
        max_ack_pending: 2,
        ..consumer("saver")
    };
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(gauge.clone())
        .route(Route::durable("ORDERS", config, work).concurrency(10))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    publish_n(&broker, 20).await;
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(gauge.done.load(Ordering::SeqCst), 20);
    assert_eq!(gauge.max.load(Ordering::SeqCst), 2);
    server.stop().await;
}

#[tokio::test]
async fn stop_finishes_in_flight_work_and_hands_unstarted_messages_back() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    let (started_tx, mut started) = mpsc::unbounded_channel::<u64>();
    let release = Arc::new(tokio::sync::Notify::new());
    #[derive(Clone)]
    struct Gate(mpsc::UnboundedSender<u64>, Arc<tokio::sync::Notify>);
    async fn blocked(d: Delivery, State(Gate(tx, release)): State<Gate>) {
        let _ = tx.send(d.stream_sequence);
        release.notified().await;
    }
    let first = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(Gate(started_tx, release.clone()))
        .route(Route::durable("ORDERS", consumer("saver"), blocked))
        .build()
        .unwrap();
    let ctx = start(&first).await;
    publish_n(&broker, 10).await;
    assert_eq!(bounded("first message", started.recv()).await, Some(1));
    // Stop while message 1 is in flight and 2..10 were pulled but not started: wait until
    // the server has handed all ten to this instance.
    let js = broker.jetstream().unwrap();
    let stream = js.get_stream("ORDERS").await.unwrap();
    bounded("all ten pulled", async {
        while stream.consumer_info("saver").await.unwrap().num_ack_pending < 10 {
            // Deliveries are counted by the server; there is no event to await.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let stopping = tokio::spawn({
        let first = first.clone();
        async move { first.stop(&ctx).await }
    });
    tokio::task::yield_now().await;
    release.notify_one();
    bounded("stop", stopping)
        .await
        .unwrap()
        .expect("stopped cleanly");
    let stats = first.stats_for("orders.>").unwrap();
    assert_eq!(
        (stats.handled, stats.acks),
        (1, 1),
        "the in-flight message was finished and acked"
    );

    // The next instance gets 2..10 at once (NAKed, not left to ack_wait's 30 s).
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    async fn save(d: Delivery, State(tx): State<mpsc::UnboundedSender<u64>>) {
        let _ = tx.send(d.stream_sequence);
    }
    let second = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .state(tx)
        .route(Route::durable("ORDERS", consumer("saver"), save))
        .build()
        .unwrap();
    let ctx = start(&second).await;
    let mut seqs = Vec::new();
    for _ in 0..9 {
        seqs.push(
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("redelivered at once")
                .unwrap(),
        );
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=10).collect::<Vec<u64>>());
    consumer_settled(&broker, "saver").await;
    second.stop(&ctx).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn declared_streams_are_created_checked_and_updated_on_request() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    async fn save() {}
    let declared = stream::Config {
        max_age: Duration::from_secs(3600),
        ..orders_stream()
    };
    let build = |config: stream::Config, policy: OnMismatch| {
        NatsServer::builder(broker.clone())
            .stream(config)
            .on_mismatch(policy)
            .route(Route::durable("ORDERS", consumer("saver"), save))
            .build()
            .unwrap()
    };
    // Created on first start.
    let nats = build(declared.clone(), OnMismatch::Fail);
    let ctx = start(&nats).await;
    nats.stop(&ctx).await.unwrap();
    // The same declaration matches.
    let nats = build(declared.clone(), OnMismatch::Fail);
    let ctx = start(&nats).await;
    nats.stop(&ctx).await.unwrap();
    // A different max_age is refused, naming the field.
    let changed = stream::Config {
        max_age: Duration::from_secs(60),
        ..declared.clone()
    };
    let nats = build(changed.clone(), OnMismatch::Fail);
    let err = nats
        .start(&AppContext::standalone("test"))
        .await
        .expect_err("mismatch");
    assert!(
        matches!(&err, Error::ConfigMismatch { kind: "stream", field, .. } if field == "max_age"),
        "{err}"
    );
    assert!(err.to_string().contains("60000000000"), "{err}");
    // Allowed: updated.
    let nats = build(changed, OnMismatch::Update);
    let ctx = start(&nats).await;
    nats.stop(&ctx).await.unwrap();
    let js = broker.jetstream().unwrap();
    let info = js
        .get_stream("ORDERS")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.config.max_age, Duration::from_secs(60));
    server.stop().await;
}

#[tokio::test]
async fn a_consumer_mismatch_names_the_field() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = broker(&server).await;
    async fn save() {}
    let with = |config: pull::Config| {
        NatsServer::builder(broker.clone())
            .stream(orders_stream())
            .route(Route::durable("ORDERS", config, save))
            .build()
            .unwrap()
    };
    let nats = with(pull::Config {
        max_deliver: 5,
        ..consumer("saver")
    });
    let ctx = start(&nats).await;
    nats.stop(&ctx).await.unwrap();
    let nats = with(pull::Config {
        max_deliver: 7,
        ..consumer("saver")
    });
    let err = nats
        .start(&AppContext::standalone("test"))
        .await
        .expect_err("mismatch");
    assert!(
        matches!(&err, Error::ConfigMismatch { kind: "consumer", field, declared, actual, .. }
            if field == "max_deliver" && declared == "7" && actual == "5"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_dead_letter_subject_the_consumer_would_receive_is_refused() {
    async fn save() {}
    let err = NatsServer::builder(MemoryBroker::new())
        .route(Route::durable("ORDERS", consumer("saver"), save).dead_letter("orders.dead"))
        .build()
        .expect_err("a loop");
    assert!(err.to_string().contains("orders.dead"), "{err}");
}

#[tokio::test]
async fn durable_routes_on_the_memory_broker_fail_at_start_with_a_typed_error() {
    async fn save() {}
    let nats = NatsServer::builder(MemoryBroker::new())
        .route(Route::durable("ORDERS", consumer("saver"), save))
        .build()
        .unwrap();
    let err = nats
        .start(&AppContext::standalone("test"))
        .await
        .expect_err("no JetStream");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

#[tokio::test]
async fn a_durable_route_needs_a_durable_name() {
    async fn save() {}
    let err = NatsServer::builder(MemoryBroker::new())
        .route(Route::durable("ORDERS", pull::Config::default(), save))
        .build()
        .expect_err("no durable name");
    assert!(err.to_string().contains("durable_name"), "{err}");
}

#[tokio::test]
async fn delivery_on_a_core_route_is_an_error_not_a_panic() {
    let broker = MemoryBroker::new();
    async fn needs(_d: Delivery) {}
    let nats = NatsServer::builder(broker.clone())
        .route(Route::subscribe("x", needs))
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    broker.publish("x", &1).await.unwrap();
    bounded("the failed attempt is counted", async {
        // The runner counts the failure; there is no event to await.
        while nats.stats_for("x").unwrap().errors == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    nats.stop(&ctx).await.unwrap();
    assert_eq!(nats.stats_for("x").unwrap().panics, 0);
}

#[tokio::test]
async fn metrics_count_pub_acks_deliveries_and_every_ack_kind() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = natrium::middleware::Metrics::new(&mut registry);
    let broker = NatsBroker::connect(server.config().layer(metrics.clone()))
        .await
        .unwrap();
    async fn judge(n: u32, d: Delivery) -> Result<(), HandlerError> {
        match (n, d.delivered) {
            (0, _) => Ok(()),
            (1, 1) => Err(HandlerError::new("retry me")),
            (1, _) => Ok(()),
            _ => Err(HandlerError::new("poison").terminal()),
        }
    }
    let fast =
        RetryPolicy::attempts(1).backoff(Duration::from_millis(10), Duration::from_millis(10));
    let nats = NatsServer::builder(broker.clone())
        .stream(orders_stream())
        .layer(metrics)
        .route(
            Route::durable("ORDERS", consumer("saver"), judge)
                .retry(fast)
                .dead_letter("failed.orders"),
        )
        .build()
        .unwrap();
    let ctx = start(&nats).await;
    for (n, id) in [(0u32, "a"), (0, "a"), (1, "b"), (2, "c")] {
        broker
            .publish_durable("orders.new", &n, PublishOptions::new().msg_id(id))
            .await
            .unwrap();
    }
    consumer_settled(&broker, "saver").await;
    nats.stop(&ctx).await.unwrap();
    let text = natrium::middleware::metrics::encode(&registry).unwrap();
    for line in [
        r#"natrium_jetstream_pub_acks_total{subject="orders.new",duplicate="false"} 3"#,
        r#"natrium_jetstream_pub_acks_total{subject="orders.new",duplicate="true"} 1"#,
        r#"natrium_jetstream_deliveries_total{route="orders.>",queue="saver"} 4"#,
        r#"natrium_jetstream_redeliveries_total{route="orders.>",queue="saver"} 1"#,
        r#"natrium_jetstream_acks_total{route="orders.>",queue="saver",kind="ack"} 2"#,
        r#"natrium_jetstream_acks_total{route="orders.>",queue="saver",kind="nak"} 1"#,
        r#"natrium_jetstream_acks_total{route="orders.>",queue="saver",kind="term"} 1"#,
        r#"natrium_jetstream_dead_letters_total{route="orders.>",queue="saver"} 1"#,
        r#"natrium_messages_published_total{subject="orders.new",operation="publish_durable"} 4"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    server.stop().await;
}
