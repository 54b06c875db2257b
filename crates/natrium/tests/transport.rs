//! The NATS transport server: extractors, replies, errors, panics, retry, dead letters,
//! concurrency and middleware — on the embedded server with the real async-nats client.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use natrium::message::Message;
use natrium::middleware::{Next, Recover, Timeout};
use natrium::transport::{
    DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER, DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SUBJECT_HEADER, Extension, HandlerRequest, HandlerResult,
};
use natrium::{
    AppContext, Broker, BrokerExt, Codec, Ctx, Error, HandlerError, Headers, Json, MemoryBroker,
    Middleware, Msg, NatsBroker, NatsServer, Proto, ReplyTo, RetryPolicy, Route, Server, State,
    Subject, Wire,
};
use serde::{Deserialize, Serialize};
use support::{TestServer, bounded};
use tokio::sync::mpsc;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Event {
    name: String,
    n: u32,
}

fn ev(n: u32) -> Event {
    Event {
        name: format!("e{n}"),
        n,
    }
}

type Tx<T> = mpsc::UnboundedSender<T>;

/// What the kratos-shaped handler saw: (cancelled, subject, x-user header, event).
type Seen = (bool, String, Option<String>, Event);

struct Running {
    server: NatsServer,
    ctx: AppContext,
    client: NatsBroker,
    _nats: TestServer,
}

impl Running {
    async fn stop(self) {
        bounded("server stop", self.server.stop(&self.ctx))
            .await
            .unwrap();
    }
}

/// Starts `server` (built on the embedded NATS server) and returns a second connection
/// for the test to publish with.
async fn start(nats: TestServer, server: NatsServer, codec: Codec) -> Running {
    let ctx = AppContext::standalone("test");
    bounded("server start", server.start(&ctx)).await.unwrap();
    let client = nats.broker(codec).await;
    Running {
        server,
        ctx,
        client,
        _nats: nats,
    }
}

#[tokio::test]
async fn kratos_shape_handler_gets_ctx_subject_headers_and_typed_message() {
    async fn save(
        ctx: Ctx,
        subject: Subject,
        headers: Headers,
        event: Event,
        State(tx): State<Tx<Seen>>,
    ) -> natrium::Result<()> {
        tx.send((
            ctx.is_cancelled(),
            subject.0,
            headers.get("x-user").map(str::to_owned),
            event,
        ))
        .unwrap();
        Ok(())
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let nats = support::embedded().await;
    let server = NatsServer::builder(nats.config())
        .subscribe("report.*", save)
        .state(tx)
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    run.client
        .publish_with_headers("report.user", Headers::new().with("X-User", "ann"), &ev(1))
        .await
        .unwrap();
    let got = bounded("handler", rx.recv()).await.unwrap();
    assert_eq!(
        got,
        (false, "report.user".into(), Some("ann".into()), ev(1))
    );
    run.stop().await;
}

#[tokio::test]
async fn every_extractor_and_every_codec() {
    for codec in [Codec::Json, Codec::MsgPack, Codec::Protobuf] {
        let nats = support::embedded().await;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let builder = NatsServer::builder(nats.config().codec(codec)).state(tx);
        let builder = match codec {
            Codec::Protobuf => builder.reply("calc.double", |Proto(p): Proto<PEvent>| async move {
                Ok::<_, HandlerError>(Proto(PEvent {
                    name: p.name,
                    n: p.n * 2,
                }))
            }),
            _ => builder.reply(
                "calc.double",
                |Msg(e): Msg<Event>, ReplyTo(r): ReplyTo, State(tx): State<Tx<String>>| async move {
                    tx.send(format!("reply-to:{}", r.is_some())).unwrap();
                    Ok::<_, HandlerError>(Msg(Event {
                        name: e.name,
                        n: e.n * 2,
                    }))
                },
            ),
        };
        // Json<T> is JSON whatever the configured codec.
        let builder = builder.subscribe(
            "json.only",
            |Json(e): Json<Event>, State(tx): State<Tx<String>>, m: Message| async move {
                tx.send(format!("json:{}:{}", e.n, m.subject)).unwrap();
            },
        );
        let run = start(nats, builder.build().unwrap(), codec).await;
        match codec {
            Codec::Protobuf => {
                let back: Proto<PEvent> = run
                    .client
                    .request(
                        "calc.double",
                        &Proto(PEvent {
                            name: "p".into(),
                            n: 4,
                        }),
                    )
                    .await
                    .unwrap();
                assert_eq!(back.0.n, 8);
            }
            _ => {
                let back: Event = run.client.request("calc.double", &ev(4)).await.unwrap();
                assert_eq!(
                    back,
                    Event {
                        name: "e4".into(),
                        n: 8
                    }
                );
                assert_eq!(bounded("state", rx.recv()).await.unwrap(), "reply-to:true");
            }
        }
        let json = serde_json::to_vec(&ev(3)).unwrap();
        run.client
            .publish_bytes("json.only", Headers::new(), json.into())
            .await
            .unwrap();
        assert_eq!(
            bounded("json", rx.recv()).await.unwrap(),
            "json:3:json.only"
        );
        run.stop().await;
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct PEvent {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    n: u32,
}

/// A prost message that derives serde too, for `Wire`.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
struct WEvent {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    n: u32,
}

/// One handler written with `Wire` serves under every codec, replying in that codec.
#[tokio::test]
async fn one_wire_handler_serves_every_codec() {
    for codec in [Codec::Json, Codec::MsgPack, Codec::Protobuf] {
        let nats = support::embedded().await;
        let server = NatsServer::builder(nats.config().codec(codec))
            .reply("wire.double", |Wire(e): Wire<WEvent>| async move {
                Ok::<_, HandlerError>(Wire(WEvent {
                    name: e.name,
                    n: e.n * 2,
                }))
            })
            .build()
            .unwrap();
        let run = start(nats, server, codec).await;
        let asked = Wire(WEvent {
            name: "w".into(),
            n: 21,
        });
        let back: Wire<WEvent> = run.client.request("wire.double", &asked).await.unwrap();
        assert_eq!(back.0.n, 42, "{codec}");
        // Under JSON the payload is the plain serde form.
        if codec == Codec::Json {
            let json = serde_json::to_vec(&asked.0).unwrap();
            let reply = run
                .client
                .request_message(Message::new("wire.double", json), Duration::from_secs(5))
                .await
                .unwrap();
            let value: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            assert_eq!(value, serde_json::json!({"name": "w", "n": 42}));
        }
        run.stop().await;
    }
}

#[tokio::test]
async fn handler_errors_become_typed_error_replies() {
    let nats = support::embedded().await;
    let server = NatsServer::builder(nats.config())
        .reply("acct.open", |e: Event| async move {
            if e.n == 0 {
                return Err(HandlerError::new("account exists").with_code(409));
            }
            Ok(Json(e))
        })
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    let ok: Event = run.client.request("acct.open", &ev(1)).await.unwrap();
    assert_eq!(ok, ev(1));
    match run
        .client
        .request::<_, Event>("acct.open", &ev(0))
        .await
        .unwrap_err()
    {
        Error::Service {
            code,
            message,
            subject,
        } => {
            assert_eq!(
                (code, message.as_str(), subject.as_str()),
                (409, "account exists", "acct.open")
            );
        }
        other => panic!("expected service error, got {other}"),
    }
    // Garbage is a decode error: answered with code 400, counted, and the server goes on.
    let err = run
        .client
        .request_message(
            Message::new("acct.open", "{not json"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Service { code: 400, .. }), "{err}");
    let ok: Event = run.client.request("acct.open", &ev(2)).await.unwrap();
    assert_eq!(ok, ev(2));
    let stats = run.server.stats_for("acct.open").unwrap();
    assert_eq!(
        (
            stats.received,
            stats.handled,
            stats.errors,
            stats.decode_errors
        ),
        (4, 2, 1, 1)
    );
    run.stop().await;
}

#[tokio::test]
async fn panics_are_caught_counted_and_the_service_survives() {
    for with_recover in [false, true] {
        let nats = support::embedded().await;
        let mut builder = NatsServer::builder(nats.config());
        if with_recover {
            builder = builder.layer(Recover);
        }
        let server = builder
            .reply("fragile", |e: Event| async move {
                if e.n == 0 {
                    panic!("boom on zero");
                }
                Ok::<_, HandlerError>(Json(e))
            })
            .build()
            .unwrap();
        let run = start(nats, server, Codec::Json).await;
        let err = run
            .client
            .request::<_, Event>("fragile", &ev(0))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Service { code: 500, ref message, .. } if message.contains("boom on zero")),
            "{err}"
        );
        let ok: Event = run.client.request("fragile", &ev(5)).await.unwrap();
        assert_eq!(ok, ev(5));
        let stats = run.server.stats_for("fragile").unwrap();
        assert_eq!((stats.panics, stats.handled), (1, 1));
        run.stop().await;
    }
}

#[tokio::test]
async fn retries_with_backoff_then_dead_letters_with_reason() {
    let nats = support::embedded().await;
    let flaky_calls = Arc::new(AtomicU32::new(0));
    let calls = flaky_calls.clone();
    let policy =
        RetryPolicy::attempts(3).backoff(Duration::from_millis(10), Duration::from_millis(40));
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let server = NatsServer::builder(nats.config())
        .route(
            Route::subscribe(
                "jobs.flaky",
                move |e: Event, natrium::transport::Attempt(a): natrium::transport::Attempt| {
                    let calls = calls.clone();
                    let tx = tx.clone();
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        if a < 3 {
                            return Err(HandlerError::new(format!("attempt {a} failed")));
                        }
                        tx.send(e.n).unwrap();
                        Ok(())
                    }
                },
            )
            .retry(policy),
        )
        .route(
            Route::subscribe("jobs.doomed", |_: Event| async {
                Err::<(), _>(HandlerError::new("disk\nfull"))
            })
            .retry(policy)
            .dead_letter("jobs.dead"),
        )
        .route(
            Route::subscribe("jobs.garbled", |_: Event| async {})
                .retry(policy)
                .dead_letter("jobs.dead"),
        )
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    let mut dead = run.client.subscribe("jobs.dead", None).await.unwrap();

    run.client.publish("jobs.flaky", &ev(7)).await.unwrap();
    assert_eq!(bounded("third attempt", rx.recv()).await.unwrap(), 7);
    assert_eq!(flaky_calls.load(Ordering::SeqCst), 3);

    let headers = Headers::new().with("X-Order", "42");
    run.client
        .publish_with_headers("jobs.doomed", headers, &ev(9))
        .await
        .unwrap();
    let letter = bounded("dead letter", dead.next()).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Event>(&letter.payload).unwrap(),
        ev(9)
    );
    assert_eq!(
        letter.headers.get("x-order"),
        Some("42"),
        "original headers kept"
    );
    assert_eq!(
        letter.headers.get(DEAD_LETTER_SUBJECT_HEADER),
        Some("jobs.doomed")
    );
    assert_eq!(
        letter.headers.get(DEAD_LETTER_REASON_HEADER),
        Some("disk full")
    );
    assert_eq!(letter.headers.get(DEAD_LETTER_KIND_HEADER), Some("handler"));
    assert_eq!(letter.headers.get(DEAD_LETTER_ATTEMPTS_HEADER), Some("3"));

    // A payload that cannot be decoded is not retried: it goes straight to the dead letters.
    run.client
        .publish_bytes("jobs.garbled", Headers::new(), "][".into())
        .await
        .unwrap();
    let letter = bounded("dead letter", dead.next()).await.unwrap();
    assert_eq!(&letter.payload[..], b"][");
    assert_eq!(letter.headers.get(DEAD_LETTER_KIND_HEADER), Some("decode"));
    assert_eq!(letter.headers.get(DEAD_LETTER_ATTEMPTS_HEADER), Some("1"));

    let flaky = run.server.stats_for("jobs.flaky").unwrap();
    assert_eq!((flaky.handled, flaky.errors, flaky.retries), (1, 2, 2));
    let doomed = run.server.stats_for("jobs.doomed").unwrap();
    assert_eq!(
        (
            doomed.handled,
            doomed.errors,
            doomed.retries,
            doomed.dead_lettered
        ),
        (0, 3, 2, 1)
    );
    run.stop().await;
}

#[tokio::test]
async fn concurrency_n_runs_n_handlers_at_once() {
    let nats = support::embedded().await;
    // All four must be inside the handler together for the barrier to open.
    let barrier = Arc::new(tokio::sync::Barrier::new(4));
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let server = NatsServer::builder(nats.config())
        .route(
            Route::subscribe("work.par", move |e: Event| {
                let barrier = barrier.clone();
                let tx = tx.clone();
                async move {
                    barrier.wait().await;
                    tx.send(e.n).unwrap();
                }
            })
            .concurrency(4),
        )
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    for i in 0..8 {
        run.client.publish("work.par", &ev(i)).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(bounded("parallel handlers", rx.recv()).await.unwrap());
    }
    got.sort();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
    run.stop().await;
}

#[tokio::test]
async fn default_concurrency_is_one_at_a_time_in_order() {
    let nats = support::embedded().await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<(u32, usize)>();
    let server = NatsServer::builder(nats.config())
        .subscribe("work.seq", move |e: Event| {
            let in_flight = in_flight.clone();
            let tx = tx.clone();
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::task::yield_now().await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                tx.send((e.n, now)).unwrap();
            }
        })
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    for i in 0..50 {
        run.client.publish("work.seq", &ev(i)).await.unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            bounded("sequential handler", rx.recv()).await.unwrap(),
            (i, 1)
        );
    }
    run.stop().await;
}

/// Records what it sees and passes a value to the handler through the extensions.
struct Audit(Tx<String>);

#[async_trait]
impl Middleware for Audit {
    async fn handle(&self, mut request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        let line = format!(
            "{} {:?}",
            request.message.subject,
            request.message.headers.get("traceparent")
        );
        request.extensions.insert(String::from("from-middleware"));
        let result = next.run(request).await;
        self.0
            .send(format!("{line} ok={}", result.is_ok()))
            .unwrap();
        result
    }
}

#[tokio::test]
async fn middleware_sees_subject_headers_and_result_and_timeout_layer_works() {
    let nats = support::embedded().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = NatsServer::builder(nats.config())
        .layer(Audit(tx))
        .layer(Timeout::new(Duration::from_millis(100)))
        .reply("mw.echo", |Extension(v): Extension<String>| async move {
            Ok::<_, HandlerError>(Json(v))
        })
        .reply("mw.slow", || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, HandlerError>(Json(0))
        })
        .build()
        .unwrap();
    let run = start(nats, server, Codec::Json).await;
    let msg = Message::new("mw.echo", "null")
        .with_headers(Headers::new().with("traceparent", "00-abc-def-01"));
    let reply = run
        .client
        .request_message(msg, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], br#""from-middleware""#);
    assert_eq!(
        bounded("audit", rx.recv()).await.unwrap(),
        r#"mw.echo Some("00-abc-def-01") ok=true"#
    );
    let err = run
        .client
        .request::<_, u32>("mw.slow", &())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Service { code: 504, .. }), "{err}");
    assert_eq!(
        bounded("audit", rx.recv()).await.unwrap(),
        "mw.slow None ok=false"
    );
    assert_eq!(run.server.stats_for("mw.slow").unwrap().timeouts, 1);
    run.stop().await;
}

#[tokio::test]
async fn registering_the_same_subject_and_queue_twice_is_a_build_error() {
    let err = NatsServer::builder(MemoryBroker::new())
        .subscribe("a.b", || async {})
        .subscribe("a.b", || async {})
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateRoute { ref subject, queue: None } if subject == "a.b"),
        "{err}"
    );
    let err = NatsServer::builder(MemoryBroker::new())
        .queue_subscribe("a.b", "q", || async {})
        .reply("a.b", || async {})
        .queue_subscribe("a.b", "q", || async {})
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateRoute { queue: Some(ref q), .. } if q == "q"),
        "{err}"
    );
    // Same subject, different queue groups: two registrations, both fine.
    assert!(
        NatsServer::builder(MemoryBroker::new())
            .queue_subscribe("a.b", "q1", || async {})
            .queue_subscribe("a.b", "q2", || async {})
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn missing_state_and_bad_options_are_build_errors() {
    let err = NatsServer::builder(MemoryBroker::new())
        .subscribe("a", |State(_): State<Arc<String>>| async {})
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::MissingState { .. }), "{err}");
    let err = NatsServer::builder(MemoryBroker::new())
        .route(Route::subscribe("a", || async {}).concurrency(0))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let err = NatsServer::builder(MemoryBroker::new())
        .subscribe("a..b", || async {})
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSubject { .. }), "{err}");
}

#[tokio::test]
async fn a_subscription_failing_at_start_fails_start() {
    // A closed broker refuses to subscribe: start must report it, not log and go on.
    let broker = MemoryBroker::new();
    broker.close().await.unwrap();
    let server = NatsServer::builder(broker)
        .subscribe("a", || async {})
        .build()
        .unwrap();
    let err = server
        .start(&AppContext::standalone("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err}");
    // An unreachable server fails start with a connect error.
    let port = natrium_test_support::port::free_port();
    let config = natrium::BrokerConfig::new([format!("nats://127.0.0.1:{port}")]);
    let server = NatsServer::builder(config)
        .subscribe("a", || async {})
        .build()
        .unwrap();
    let err = server
        .start(&AppContext::standalone("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}

#[tokio::test]
async fn transport_runs_on_the_memory_broker_too() {
    let broker = MemoryBroker::new();
    let server = NatsServer::builder(broker.clone())
        .reply("mem.add", |(a, b): (u32, u32)| async move {
            Ok::<_, HandlerError>(Msg(a + b))
        })
        .build()
        .unwrap();
    let ctx = AppContext::standalone("t");
    server.start(&ctx).await.unwrap();
    let sum: u32 = broker.request("mem.add", &(2u32, 3u32)).await.unwrap();
    assert_eq!(sum, 5);
    server.stop(&ctx).await.unwrap();
    // Stopped: the subscription is gone.
    let err = broker
        .request::<_, u32>("mem.add", &(1u32, 1u32))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoResponders { .. }), "{err}");
}
