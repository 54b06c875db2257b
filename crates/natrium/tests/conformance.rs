//! One conformance suite, run against every `Broker`: the in-memory broker, NatsBroker on
//! the embedded natrium-server, and NatsBroker on the reference nats-server.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use natrium::broker::{Gather, RequestOptions, SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER};
use natrium::message::Message;
use natrium::middleware::{Outbound, OutboundNext};
use natrium::{Broker, BrokerExt, Codec, Error, Headers, MemoryBroker, Middleware, Proto};
use serde::{Deserialize, Serialize};
use support::{TestServer, bounded};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Event {
    name: String,
    n: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PEvent {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    n: u32,
}

/// Adds a header to everything sent, the way a tracing layer injects `traceparent`.
struct StampHeader;

#[async_trait]
impl Middleware for StampHeader {
    async fn outbound(
        &self,
        mut out: Outbound,
        next: OutboundNext<'_>,
    ) -> natrium::Result<Vec<Message>> {
        out.message.headers.insert("X-Stamp", "stamped");
        next.run(out).await
    }
}

/// A broker under test plus whatever must stay alive with it.
struct Env {
    broker: Arc<dyn Broker>,
    _server: Option<TestServer>,
}

enum Backend {
    Memory,
    Embedded,
    Reference,
}

async fn env(backend: Backend, codec: Codec, stamp: bool) -> Option<Env> {
    match backend {
        Backend::Memory => {
            let mut b = MemoryBroker::new().with_codec(codec);
            if stamp {
                b = b.with_layer(StampHeader);
            }
            Some(Env {
                broker: Arc::new(b),
                _server: None,
            })
        }
        Backend::Embedded | Backend::Reference => {
            let server = match backend {
                Backend::Embedded => support::embedded().await,
                _ => support::reference().await?,
            };
            let mut config = server.config().codec(codec);
            if stamp {
                config = config.layer(StampHeader);
            }
            let broker = natrium::NatsBroker::connect(config).await.expect("connect");
            Some(Env {
                broker: Arc::new(broker),
                _server: Some(server),
            })
        }
    }
}

async fn next(sub: &mut natrium::broker::Subscriber) -> Message {
    bounded("a message", sub.next())
        .await
        .expect("subscription open")
}

// ---- the cases -------------------------------------------------------------------------

async fn typed_publish_carries_every_header(b: &dyn Broker) {
    let mut sub = b.subscribe("conf.headers", None).await.unwrap();
    let headers = Headers::new()
        .with("Trace-Id", "abc")
        .with("Multi", "1")
        .with("Multi", "2");
    let event = Event {
        name: "e".into(),
        n: 1,
    };
    b.publish_with_headers("conf.headers", headers, &event)
        .await
        .unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.subject, "conf.headers");
    assert_eq!(
        b.codec()
            .decode::<Event>(&msg.payload, "conf.headers")
            .unwrap(),
        event
    );
    assert_eq!(msg.headers.get("trace-id"), Some("abc"));
    assert_eq!(msg.headers.get_all("MULTI").collect::<Vec<_>>(), ["1", "2"]);
}

async fn raw_bytes_arrive_unchanged(b: &dyn Broker) {
    let mut sub = b.subscribe("conf.raw", None).await.unwrap();
    let payload = bytes::Bytes::from_static(b"\x00\x01binary\r\n");
    b.publish_bytes("conf.raw", Headers::new(), payload.clone())
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, payload);
}

async fn wildcards_match_whole_tokens(b: &dyn Broker) {
    let mut star = b.subscribe("conf.*.x", None).await.unwrap();
    let mut tail = b.subscribe("conf.w.>", None).await.unwrap();
    for s in ["conf.1.y", "conf.1.x", "conf.w", "conf.w.a.b", "conf.w.x"] {
        b.publish_bytes(s, Headers::new(), "p".into())
            .await
            .unwrap();
    }
    // Order is kept per subscription, so the last message bounds what came before it.
    assert_eq!(next(&mut star).await.subject, "conf.1.x");
    assert_eq!(next(&mut star).await.subject, "conf.w.x");
    assert_eq!(next(&mut tail).await.subject, "conf.w.a.b");
    assert_eq!(next(&mut tail).await.subject, "conf.w.x");
}

async fn queue_group_gives_each_message_to_one_member(b: &dyn Broker) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
    let mut handles = Vec::new();
    for member in 0..2 {
        let mut sub = b.subscribe("conf.q", Some("workers")).await.unwrap();
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let _ = tx.send((member, String::from_utf8_lossy(&m.payload).into_owned()));
            }
        }));
    }
    let mut plain = b.subscribe("conf.q", None).await.unwrap();
    for i in 0..40 {
        b.publish_bytes("conf.q", Headers::new(), i.to_string().into())
            .await
            .unwrap();
    }
    b.publish_bytes("conf.q", Headers::new(), "end".into())
        .await
        .unwrap();
    for _ in 0..41 {
        next(&mut plain).await;
    }
    let mut seen = HashSet::new();
    let mut members = HashSet::new();
    while seen.len() < 41 {
        let (member, body) = bounded("queue delivery", rx.recv()).await.unwrap();
        assert!(
            seen.insert(body.clone()),
            "{body} delivered twice in the queue group"
        );
        members.insert(member);
    }
    assert_eq!(members.len(), 2, "both members got work");
    for h in handles {
        h.abort();
    }
}

async fn spawn_responder(
    b: &Arc<dyn Broker>,
    subject: &str,
) -> natrium::broker::SubscriptionHandle {
    let responder = b.clone();
    b.subscribe_fn(subject, None, move |msg: Message| {
        let responder = responder.clone();
        async move {
            let ev: Event = responder
                .codec()
                .decode(&msg.payload, &msg.subject)
                .unwrap();
            let reply = Event {
                name: format!("re:{}", ev.name),
                n: ev.n + 1,
            };
            let payload = responder.codec().encode(&reply, "r").unwrap();
            let mut headers = Headers::new();
            if let Some(v) = msg.headers.get("X-Echo") {
                headers.insert("X-Echo", v);
            }
            let out = Message::new(msg.reply.unwrap(), payload).with_headers(headers);
            responder.publish_message(out).await.unwrap();
        }
    })
    .await
    .unwrap()
}

async fn request_reply_typed(b: Arc<dyn Broker>) {
    let _responder = spawn_responder(&b, "conf.req").await;
    let got: Event = b
        .request(
            "conf.req",
            &Event {
                name: "a".into(),
                n: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        Event {
            name: "re:a".into(),
            n: 2
        }
    );
    // Request headers reach the responder and reply headers reach the caller.
    let opts = RequestOptions::default().headers(Headers::new().with("X-Echo", "yes"));
    let reply = b
        .request_message(
            Message::new(
                "conf.req",
                b.codec()
                    .encode(
                        &Event {
                            name: "h".into(),
                            n: 0,
                        },
                        "s",
                    )
                    .unwrap(),
            )
            .with_headers(opts.headers.clone()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(reply.headers.get("x-echo"), Some("yes"));
}

async fn no_responders_is_its_own_error_and_fast(b: &dyn Broker) {
    let started = Instant::now();
    let opts = RequestOptions::default().timeout(Duration::from_secs(20));
    let err = b
        .request_with::<_, Event>(
            "conf.nobody",
            &Event {
                name: "x".into(),
                n: 0,
            },
            opts,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NoResponders { ref subject } if subject == "conf.nobody"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no-responders must not wait for the timeout"
    );
}

async fn timeout_is_its_own_error(b: &dyn Broker) {
    let _silent = b.subscribe("conf.silent", None).await.unwrap();
    let opts = RequestOptions::default().timeout(Duration::from_millis(200));
    let err = b
        .request_with::<_, Event>(
            "conf.silent",
            &Event {
                name: "x".into(),
                n: 0,
            },
            opts,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{err}"
    );
}

async fn service_error_reply_is_typed(b: Arc<dyn Broker>) {
    let responder = b.clone();
    let _h = b
        .subscribe_fn("conf.fails", None, move |msg: Message| {
            let responder = responder.clone();
            async move {
                let headers = Headers::new()
                    .with(SERVICE_ERROR_HEADER, "quota exceeded")
                    .with(SERVICE_ERROR_CODE_HEADER, "429");
                responder
                    .publish_message(Message::new(msg.reply.unwrap(), "").with_headers(headers))
                    .await
                    .unwrap();
            }
        })
        .await
        .unwrap();
    let err = b
        .request::<_, Event>(
            "conf.fails",
            &Event {
                name: "x".into(),
                n: 0,
            },
        )
        .await
        .unwrap_err();
    match err {
        Error::Service {
            code,
            message,
            subject,
        } => {
            assert_eq!(
                (code, message.as_str(), subject.as_str()),
                (429, "quota exceeded", "conf.fails")
            );
        }
        other => panic!("expected a service error, got {other}"),
    }
}

async fn request_many_gathers_until_count_or_time(b: Arc<dyn Broker>) {
    let mut handles = Vec::new();
    for _ in 0..3 {
        handles.push(spawn_responder(&b, "conf.many").await);
    }
    let ev = Event {
        name: "m".into(),
        n: 1,
    };
    let all: Vec<Event> = b
        .request_gather(
            "conf.many",
            &ev,
            Gather::within(Duration::from_secs(5)).max_replies(3),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|e| e.name == "re:m"));
    let two: Vec<Event> = b
        .request_gather(
            "conf.many",
            &ev,
            Gather::within(Duration::from_secs(5)).max_replies(2),
        )
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    // Without a count, the time limit ends the gathering with everything that came.
    let timed: Vec<Event> = b
        .request_gather("conf.many", &ev, Gather::within(Duration::from_millis(500)))
        .await
        .unwrap();
    assert_eq!(timed.len(), 3);
    let err = b
        .request_gather::<_, Event>(
            "conf.many.none",
            &ev,
            Gather::within(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoResponders { .. }), "{err}");
}

async fn invalid_input_is_a_typed_error(b: &dyn Broker) {
    let err = b
        .publish_bytes("conf.*", Headers::new(), "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSubject { .. }), "{err}");
    let err = b
        .publish_bytes("", Headers::new(), "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSubject { .. }), "{err}");
    let err = b.subscribe("conf.>.x", None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidSubject { .. }), "{err}");
    let err = b.subscribe("conf.x", Some("bad queue")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidSubject { .. }), "{err}");
    let bad = Headers::new().with("X", "line\r\nbreak");
    let err = b
        .publish_bytes("conf.x", bad, "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidHeader { .. }), "{err}");
}

async fn outbound_middleware_changes_headers(b: &dyn Broker) {
    let mut sub = b.subscribe("conf.stamp", None).await.unwrap();
    b.publish(
        "conf.stamp",
        &Event {
            name: "s".into(),
            n: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(next(&mut sub).await.headers.get("x-stamp"), Some("stamped"));
}

async fn codec_round_trip(b: Arc<dyn Broker>) {
    let responder = b.clone();
    let codec = b.codec();
    let _h = b
        .subscribe_fn("conf.codec", None, move |msg: Message| {
            let responder = responder.clone();
            async move {
                // Echo the payload: the caller decodes what it encoded.
                responder
                    .publish_message(Message::new(msg.reply.unwrap(), msg.payload))
                    .await
                    .unwrap();
            }
        })
        .await
        .unwrap();
    match codec {
        Codec::Protobuf => {
            let p = Proto(PEvent {
                name: "p".into(),
                n: 9,
            });
            let back: Proto<PEvent> = b.request("conf.codec", &p).await.unwrap();
            assert_eq!(back, p);
        }
        _ => {
            let e = Event {
                name: "c".into(),
                n: 9,
            };
            let back: Event = b.request("conf.codec", &e).await.unwrap();
            assert_eq!(back, e);
        }
    }
}

async fn close_drains_and_refuses_further_use(b: &dyn Broker) {
    let mut sub = b.subscribe("conf.close", None).await.unwrap();
    for i in 0..10 {
        b.publish_bytes("conf.close", Headers::new(), i.to_string().into())
            .await
            .unwrap();
    }
    b.flush().await.unwrap();
    bounded("close", b.close()).await.unwrap();
    // Messages delivered before the drain are still there, then the stream ends.
    let mut got = Vec::new();
    while let Some(m) = bounded("drained stream", sub.next()).await {
        got.push(m);
    }
    assert!(got.len() <= 10);
    let err = b
        .publish_bytes("conf.close", Headers::new(), "late".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err}");
}

macro_rules! suite {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn typed_publish_carries_every_header() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::typed_publish_carries_every_header(&*e.broker).await;
            }

            #[tokio::test]
            async fn raw_bytes_arrive_unchanged() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::raw_bytes_arrive_unchanged(&*e.broker).await;
            }

            #[tokio::test]
            async fn wildcards_match_whole_tokens() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::wildcards_match_whole_tokens(&*e.broker).await;
            }

            #[tokio::test]
            async fn queue_group_gives_each_message_to_one_member() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::queue_group_gives_each_message_to_one_member(&*e.broker).await;
            }

            #[tokio::test]
            async fn request_reply_typed() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::request_reply_typed(e.broker.clone()).await;
            }

            #[tokio::test]
            async fn no_responders_is_its_own_error_and_fast() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::no_responders_is_its_own_error_and_fast(&*e.broker).await;
            }

            #[tokio::test]
            async fn timeout_is_its_own_error() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::timeout_is_its_own_error(&*e.broker).await;
            }

            #[tokio::test]
            async fn service_error_reply_is_typed() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::service_error_reply_is_typed(e.broker.clone()).await;
            }

            #[tokio::test]
            async fn request_many_gathers_until_count_or_time() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::request_many_gathers_until_count_or_time(e.broker.clone()).await;
            }

            #[tokio::test]
            async fn invalid_input_is_a_typed_error() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::invalid_input_is_a_typed_error(&*e.broker).await;
            }

            #[tokio::test]
            async fn outbound_middleware_changes_headers() {
                let Some(e) = env($backend, Codec::Json, true).await else {
                    return;
                };
                super::outbound_middleware_changes_headers(&*e.broker).await;
            }

            #[tokio::test]
            async fn codecs_round_trip() {
                for codec in [Codec::Json, Codec::MsgPack, Codec::Protobuf] {
                    let Some(e) = env($backend, codec, false).await else {
                        return;
                    };
                    super::codec_round_trip(e.broker.clone()).await;
                }
            }

            #[tokio::test]
            async fn close_drains_and_refuses_further_use() {
                let Some(e) = env($backend, Codec::Json, false).await else {
                    return;
                };
                super::close_drains_and_refuses_further_use(&*e.broker).await;
            }
        }
    };
}

suite!(memory, Backend::Memory);
suite!(embedded, Backend::Embedded);
suite!(reference, Backend::Reference);
