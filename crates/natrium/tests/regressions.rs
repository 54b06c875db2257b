//! One regression test per defect of the Go original (kratos-transport broker/nats and
//! transport/nats), each on the embedded server with the real async-nats client.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use natrium::broker::RequestOptions;
use natrium::{
    App, AppContext, Broker, BrokerConfig, BrokerExt, Codec, Ctx, Error, HandlerError, Headers,
    Json, MemoryBroker, NatsBroker, NatsServer, Server, State,
};
use natrium_server::{Auth, ServerOptions};
use support::bounded;
use tokio::sync::mpsc;

/// Defect: headers passed to publish never reached the wire. Checked with a plain
/// async-nats subscriber, so natrium's own decoding cannot hide a loss.
#[tokio::test]
async fn headers_reach_the_wire() {
    let nats = support::embedded().await;
    let raw = async_nats::connect(nats.url()).await.unwrap();
    let mut sub = raw.subscribe("wire.h").await.unwrap();
    raw.flush().await.unwrap();
    let broker = nats.broker(Codec::Json).await;
    let headers = Headers::new()
        .with("X-A", "1")
        .with("X-A", "2")
        .with("Traceparent", "00-t-s-01");
    broker
        .publish_with_headers("wire.h", headers, &"hi")
        .await
        .unwrap();
    let msg = bounded("message", sub.next()).await.unwrap();
    let map = msg.headers.expect("headers on the wire");
    let a: Vec<_> = map.get_all("X-A").map(|v| v.as_str().to_owned()).collect();
    assert_eq!(a, ["1", "2"]);
    assert_eq!(
        map.get("Traceparent").map(|v| v.as_str()),
        Some("00-t-s-01")
    );
}

/// Defect: a request without an explicit timeout failed at once (zero timeout).
#[tokio::test]
async fn request_without_explicit_timeout_waits_for_the_default() {
    let nats = support::embedded().await;
    let broker = nats.broker(Codec::Json).await;
    let responder = broker.clone();
    let _h = broker
        .subscribe_fn("slow.answer", None, move |m: natrium::message::Message| {
            let responder = responder.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                responder
                    .publish_message(natrium::message::Message::new(m.reply.unwrap(), "42"))
                    .await
                    .unwrap();
            }
        })
        .await
        .unwrap();
    assert_eq!(
        broker.request_timeout(),
        natrium::broker::DEFAULT_REQUEST_TIMEOUT
    );
    let answer: u32 = broker.request("slow.answer", &()).await.unwrap();
    assert_eq!(answer, 42);
}

/// Defect: disconnecting hung forever in drain when the server was gone.
#[tokio::test]
async fn close_never_hangs_even_when_the_server_is_gone() {
    let nats = support::embedded().await;
    let broker = NatsBroker::connect(nats.config().drain_timeout(Duration::from_millis(500)))
        .await
        .unwrap();
    let _sub = broker.subscribe("gone.>", None).await.unwrap();
    nats.stop().await;
    let started = Instant::now();
    let result = bounded("close", broker.close()).await;
    assert!(
        matches!(result, Ok(()) | Err(Error::DrainTimeout(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Defect: options were accepted and silently ignored. Each one here is proven applied.
#[tokio::test]
async fn options_are_applied_or_refused() {
    // Token: without it the server refuses; with it, it admits.
    let opts = ServerOptions {
        auth: Auth::Token("s3cret".into()),
        ..ServerOptions::ephemeral()
    };
    let nats = support::embedded_with(opts).await;
    let err = NatsBroker::connect(nats.config()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    NatsBroker::connect(nats.config().token("s3cret"))
        .await
        .unwrap();

    // User and password.
    let opts = ServerOptions {
        auth: Auth::user("ann", "pw"),
        ..ServerOptions::ephemeral()
    };
    let nats = support::embedded_with(opts).await;
    let err = NatsBroker::connect(nats.config().user_password("ann", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    NatsBroker::connect(nats.config().user_password("ann", "pw"))
        .await
        .unwrap();

    // Connection name reaches the server.
    let nats = support::embedded().await;
    let broker = NatsBroker::connect(nats.config().name("saver-7"))
        .await
        .unwrap();
    broker.flush().await.unwrap();
    match &nats {
        support::TestServer::Embedded(s) => {
            assert!(s.clients().iter().any(|c| c.name == "saver-7"))
        }
        support::TestServer::Reference(_) => unreachable!(),
    }

    // TLS required against a plain server: refused, not downgraded.
    let err = NatsBroker::connect(
        nats.config()
            .require_tls(true)
            .connection_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");

    // Files that cannot be read are refused before connecting.
    let err = NatsBroker::connect(nats.config().ca_file("/nonexistent/ca.pem"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::File {
                what: "CA certificate",
                ..
            }
        ),
        "{err}"
    );
    let err = NatsBroker::connect(
        nats.config()
            .client_cert("/nonexistent/c.pem", "/nonexistent/k.pem"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err}");
    let err = NatsBroker::connect(nats.config().credentials_file("/nonexistent/u.creds"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::File {
                what: "credentials",
                ..
            }
        ),
        "{err}"
    );

    // A credentials file that exists but is not a .creds file is refused, with its path.
    let creds = std::env::temp_dir().join(format!("natrium-bad-{}.creds", std::process::id()));
    std::fs::write(&creds, "not a creds file").unwrap();
    let err = NatsBroker::connect(nats.config().credentials_file(&creds))
        .await
        .unwrap_err();
    std::fs::remove_file(&creds).unwrap();
    assert!(
        matches!(err, Error::File { what: "credentials", ref path, .. } if *path == creds),
        "{err}"
    );

    // The configured request timeout is the one used.
    let broker = NatsBroker::connect(nats.config().request_timeout(Duration::from_millis(250)))
        .await
        .unwrap();
    let _silent = broker.subscribe("silent", None).await.unwrap();
    let err = broker.request::<_, u32>("silent", &()).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(250)),
        "{err}"
    );
    // ... and a per-call timeout overrides it.
    let opts = RequestOptions::default().timeout(Duration::from_millis(100));
    let err = broker
        .request_with::<_, u32>("silent", &(), opts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(100)),
        "{err}"
    );

    // Nonsense values are refused.
    let err = NatsBroker::connect(BrokerConfig::new(["not a url at all"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let err = NatsBroker::connect(nats.config().ping_interval(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

/// Defect: registering a handler for a subject twice silently replaced the first.
#[tokio::test]
async fn second_registration_is_refused() {
    let err = NatsServer::builder(MemoryBroker::new())
        .subscribe("orders", || async {})
        .subscribe("orders", || async {})
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateRoute { .. }), "{err}");
}

/// Defect: subscribe errors at start were discarded and the server ran without them.
#[tokio::test]
async fn subscribe_error_fails_start() {
    let nats = support::embedded().await;
    let broker = nats.broker(Codec::Json).await;
    broker.close().await.unwrap();
    let server = NatsServer::builder(broker)
        .subscribe("orders", || async {})
        .build()
        .unwrap();
    let app = App::new("svc").server(server).handle_signals(false);
    let err = bounded("run", app.run()).await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err}");
}

/// Defect: stop returned while handlers were still running.
#[tokio::test]
async fn stop_waits_for_in_flight_handler() {
    let nats = support::embedded().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let server = NatsServer::builder(nats.config())
        .state(tx)
        .subscribe(
            "work",
            |State(tx): State<mpsc::UnboundedSender<&'static str>>| async move {
                tx.send("begin").unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                tx.send("end").unwrap();
            },
        )
        .build()
        .unwrap();
    let ctx = AppContext::standalone("t");
    server.start(&ctx).await.unwrap();
    let client = nats.broker(Codec::Json).await;
    client.publish("work", &()).await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(bounded("begin", rx.recv()).await.unwrap(), "begin");
    bounded("stop", server.stop(&ctx)).await.unwrap();
    assert_eq!(
        rx.try_recv().ok(),
        Some("end"),
        "stop returned before the handler ended"
    );
}

/// Defect: the handler's context was not tied to the app, so it never learnt of a stop.
#[tokio::test]
async fn handler_context_follows_the_app() {
    let nats = support::embedded().await;
    let (tx, mut entered) = mpsc::unbounded_channel::<()>();
    let server = NatsServer::builder(nats.config())
        .state(tx)
        .reply(
            "wait",
            |ctx: Ctx, State(tx): State<mpsc::UnboundedSender<()>>| async move {
                tx.send(()).unwrap();
                ctx.stopping().await;
                Ok::<_, HandlerError>(Json("saw the stop"))
            },
        )
        .build()
        .unwrap();
    let app = App::new("svc").server(server).handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    let client = nats.broker(Codec::Json).await;
    let pending = tokio::spawn(async move { client.request::<_, String>("wait", &()).await });
    bounded("handler entered", entered.recv()).await.unwrap();
    handle.stop();
    bounded("run", run).await.unwrap().unwrap();
    assert_eq!(
        bounded("reply", pending).await.unwrap().unwrap(),
        "saw the stop"
    );
}
