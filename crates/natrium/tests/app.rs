//! App lifecycle: hooks, readiness, graceful stop under load, stop timeout cancelling
//! handler contexts, failing servers, and HTTP + NATS together.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use natrium::app::FnServer;
use natrium::{
    App, AppContext, Broker, BrokerExt, Ctx, Error, HandlerError, HttpServer, Json, NatsServer,
    Route, State,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use support::bounded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Job {
    id: u64,
}

type Log = Arc<Mutex<Vec<String>>>;

fn recorder(log: &Log, name: &'static str) -> FnServer {
    let (a, b) = (log.clone(), log.clone());
    FnServer::new(
        name,
        move |_ctx: AppContext| async move {
            a.lock().push(format!("start {name}"));
            Ok(())
        },
        move |_ctx: AppContext| async move {
            b.lock().push(format!("stop {name}"));
            Ok(())
        },
    )
}

fn hook(
    log: &Log,
    what: &'static str,
) -> impl FnOnce(AppContext) -> futures::future::Ready<natrium::Result<()>> + Send + 'static {
    let log = log.clone();
    move |ctx: AppContext| {
        log.lock().push(format!("{what} {}", ctx.info().name));
        futures::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn hooks_and_servers_run_in_order_and_stop_via_handle() {
    let log: Log = Arc::default();
    let app = App::new("svc")
        .id("svc-1")
        .version("1.2.3")
        .metadata("region", "test")
        .server(recorder(&log, "a"))
        .server(recorder(&log, "b"))
        .before_start(hook(&log, "before_start"))
        .after_start(hook(&log, "after_start"))
        .before_stop(hook(&log, "before_stop"))
        .after_stop(hook(&log, "after_stop"))
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    handle.stop();
    bounded("run", run).await.unwrap().unwrap();
    let log = log.lock().clone();
    assert_eq!(
        &log[..4],
        ["before_start svc", "start a", "start b", "after_start svc"]
    );
    assert_eq!(log[4], "before_stop svc");
    let stops: HashSet<_> = log[5..7].iter().cloned().collect();
    assert_eq!(
        stops,
        HashSet::from(["stop a".to_string(), "stop b".to_string()])
    );
    assert_eq!(log[7], "after_stop svc");
}

#[tokio::test]
async fn a_server_failing_to_start_stops_those_already_started() {
    let log: Log = Arc::default();
    let failing = FnServer::new(
        "bad",
        |_ctx: AppContext| async { Err(Error::Config("port taken".into())) },
        |_ctx: AppContext| async { Ok(()) },
    );
    let app = App::new("svc")
        .server(recorder(&log, "a"))
        .server(failing)
        .handle_signals(false);
    let handle = app.handle();
    let err = bounded("run", app.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Server { ref name, .. } if name == "bad"),
        "{err}"
    );
    assert_eq!(*log.lock(), ["start a", "stop a"]);
    assert!(!handle.ready().await, "never became ready");
}

#[tokio::test]
async fn a_server_failing_later_stops_the_others() {
    let log: Log = Arc::default();
    let failing = FnServer::new(
        "flaky",
        |ctx: AppContext| async move {
            tokio::spawn(async move { ctx.fail("flaky", "lost its socket") });
            Ok(())
        },
        |_ctx: AppContext| async { Ok(()) },
    );
    let app = App::new("svc")
        .server(recorder(&log, "a"))
        .server(failing)
        .handle_signals(false);
    let err = bounded("run", app.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Server { ref name, .. } if name == "flaky"),
        "{err}"
    );
    assert_eq!(*log.lock(), ["start a", "stop a"]);
}

#[tokio::test]
async fn ready_means_every_subscription_is_live() {
    let nats = support::embedded().await;
    let server = NatsServer::builder(nats.config())
        .reply("ping", || async { Ok::<_, HandlerError>(Json("pong")) })
        .build()
        .unwrap();
    let app = App::new("svc").server(server).handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    // From another connection, right away: no "no responders".
    let client = nats.broker(natrium::Codec::Json).await;
    let pong: String = client.request("ping", &()).await.unwrap();
    assert_eq!(pong, "pong");
    handle.stop();
    bounded("run", run).await.unwrap().unwrap();
}

/// What the handlers did, shared with the test.
#[derive(Clone, Default)]
struct Ledger {
    started: Arc<Mutex<Vec<u64>>>,
    finished: Arc<Mutex<Vec<u64>>>,
}

#[tokio::test]
async fn graceful_stop_under_load_finishes_every_started_message_exactly_once() {
    let nats = support::embedded().await;
    let ledger = Ledger::default();
    let (progress_tx, mut progress) = mpsc::unbounded_channel::<()>();
    let server =
        NatsServer::builder(nats.config())
            .state(ledger.clone())
            .state(progress_tx)
            .route(
                Route::subscribe(
                    "load.jobs",
                    |job: Job,
                     State(l): State<Ledger>,
                     State(p): State<mpsc::UnboundedSender<()>>| async move {
                        l.started.lock().push(job.id);
                        // Real work takes time; stop must wait for it.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        l.finished.lock().push(job.id);
                        let _ = p.send(());
                    },
                )
                .queue("workers")
                .concurrency(4),
            )
            .build()
            .unwrap();
    let app = App::new("load")
        .server(server)
        .stop_timeout(Duration::from_secs(10))
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);

    let publisher = nats.broker(natrium::Codec::Json).await;
    let stop_publishing = tokio_util::sync::CancellationToken::new();
    let pub_task = {
        let stop = stop_publishing.clone();
        tokio::spawn(async move {
            let mut id = 0u64;
            while !stop.is_cancelled() {
                publisher.publish("load.jobs", &Job { id }).await.unwrap();
                id += 1;
                if id.is_multiple_of(20) {
                    tokio::task::yield_now().await;
                }
            }
            publisher.flush().await.unwrap();
            id
        })
    };
    for _ in 0..50 {
        bounded("progress", progress.recv()).await.unwrap();
    }
    handle.stop(); // mid-stream: the publisher keeps going
    bounded("run", run).await.unwrap().unwrap();
    stop_publishing.cancel();
    let published = bounded("publisher", pub_task).await.unwrap();

    let started = ledger.started.lock().clone();
    let finished = ledger.finished.lock().clone();
    let started_set: HashSet<_> = started.iter().copied().collect();
    let finished_set: HashSet<_> = finished.iter().copied().collect();
    assert_eq!(
        started.len(),
        started_set.len(),
        "a message was handled twice"
    );
    assert_eq!(
        started_set, finished_set,
        "a started message was not finished"
    );
    assert!(finished.len() >= 50);
    assert!(
        (finished.len() as u64) < published,
        "stop took effect while publishing went on"
    );
}

#[tokio::test]
async fn stop_waits_for_in_flight_handlers() {
    let nats = support::embedded().await;
    let done = Arc::new(Mutex::new(false));
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<()>();
    let server =
        NatsServer::builder(nats.config())
            .state(done.clone())
            .state(entered_tx)
            .subscribe(
                "slow",
                |State(done): State<Arc<Mutex<bool>>>,
                 State(e): State<mpsc::UnboundedSender<()>>| async move {
                    e.send(()).unwrap();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    *done.lock() = true;
                },
            )
            .build()
            .unwrap();
    let app = App::new("svc").server(server).handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    let client = nats.broker(natrium::Codec::Json).await;
    client.publish("slow", &()).await.unwrap();
    client.flush().await.unwrap();
    bounded("handler entered", entered.recv()).await.unwrap();
    handle.stop();
    bounded("run", run).await.unwrap().unwrap();
    assert!(
        *done.lock(),
        "run returned before the in-flight handler finished"
    );
}

#[tokio::test]
async fn handler_ctx_is_cancelled_when_the_stop_timeout_passes() {
    let nats = support::embedded().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let server = NatsServer::builder(nats.config())
        .state(tx)
        .subscribe(
            "stuck",
            |ctx: Ctx, State(tx): State<mpsc::UnboundedSender<&'static str>>| async move {
                tx.send("entered").unwrap();
                ctx.stopping().await;
                tx.send("stopping seen").unwrap();
                ctx.cancelled().await;
                tx.send("cancelled").unwrap();
            },
        )
        .build()
        .unwrap();
    let app = App::new("svc")
        .server(server)
        .stop_timeout(Duration::from_millis(200))
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    let client = nats.broker(natrium::Codec::Json).await;
    client.publish("stuck", &()).await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(bounded("entered", rx.recv()).await.unwrap(), "entered");
    handle.stop();
    assert_eq!(
        bounded("stopping", rx.recv()).await.unwrap(),
        "stopping seen"
    );
    assert_eq!(bounded("cancelled", rx.recv()).await.unwrap(), "cancelled");
    let err = bounded("run", run).await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::StopTimeout(d) if d == Duration::from_millis(200)),
        "{err}"
    );
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn http_and_nats_servers_run_together() {
    let nats = support::embedded().await;
    let broker: Arc<dyn Broker> = Arc::new(nats.broker(natrium::Codec::Json).await);
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let saver = NatsServer::builder(broker.clone())
        .state(tx)
        .subscribe(
            "report.event",
            |job: Job, State(tx): State<mpsc::UnboundedSender<Job>>| async move {
                tx.send(job).unwrap();
            },
        )
        .build()
        .unwrap();
    let router = axum::Router::new().route(
        "/report/{id}",
        axum::routing::get(
            |axum::extract::Path(id): axum::extract::Path<u64>,
             axum::extract::State(b): axum::extract::State<Arc<dyn Broker>>| async move {
                match b.publish("report.event", &Job { id }).await {
                    Ok(()) => r#"{"code":0,"msg":"success"}"#.to_string(),
                    Err(e) => e.to_string(),
                }
            },
        ),
    );
    let http = Arc::new(HttpServer::new(
        ([127, 0, 0, 1], 0),
        router.with_state(broker.clone()),
    ));
    let app = App::new("report")
        .server(saver)
        .server(http.clone())
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    let addr = http.local_addr().unwrap();
    let response = bounded("http", http_get(addr, "/report/7")).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.ends_with(r#"{"code":0,"msg":"success"}"#),
        "{response}"
    );
    assert_eq!(bounded("saved", rx.recv()).await.unwrap(), Job { id: 7 });
    handle.stop();
    bounded("run", run).await.unwrap().unwrap();
    // Stopped: the port no longer answers.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn losing_the_nats_server_for_good_fails_the_app_per_reconnect_policy() {
    let nats = support::embedded().await;
    let policy = natrium::broker::ReconnectPolicy {
        max_reconnects: Some(2),
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    let server = NatsServer::builder(nats.config().reconnect(policy))
        .subscribe("orders", || async {})
        .build()
        .unwrap();
    let log: Log = Arc::default();
    let app = App::new("svc")
        .server(server)
        .server(recorder(&log, "other"))
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    nats.stop().await;
    let err = bounded("run", run).await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Server { ref name, .. } if name == "nats"),
        "{err}"
    );
    assert_eq!(*log.lock(), ["start other", "stop other"]);
}

#[tokio::test]
async fn a_handler_ignoring_cancellation_is_aborted_and_run_returns() {
    let nats = support::embedded().await;
    let (tx, mut entered) = mpsc::unbounded_channel::<()>();
    let server = NatsServer::builder(nats.config())
        .state(tx)
        .subscribe(
            "forever",
            |State(tx): State<mpsc::UnboundedSender<()>>| async move {
                tx.send(()).unwrap();
                std::future::pending::<()>().await;
            },
        )
        .build()
        .unwrap();
    let app = App::new("svc")
        .server(server)
        .stop_timeout(Duration::from_millis(100))
        .handle_signals(false);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    let client = nats.broker(natrium::Codec::Json).await;
    client.publish("forever", &()).await.unwrap();
    client.flush().await.unwrap();
    bounded("handler entered", entered.recv()).await.unwrap();
    handle.stop();
    let err = bounded("run", run).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::StopTimeout(_)), "{err}");
}

/// Parts of one process stop in a chosen order by giving each its own app and awaiting
/// their stops in turn: `RunningApp::stop` returns only once the app's servers and its
/// `after_stop` hooks are done (the slow stop below would otherwise finish after the next
/// app's).
#[tokio::test]
async fn spawned_apps_stop_in_the_order_their_stops_are_awaited() {
    let log: Log = Arc::default();
    let (slow, hook) = (log.clone(), log.clone());
    let api = App::new("api")
        .handle_signals(false)
        .server(FnServer::new(
            "http",
            |_| async { Ok(()) },
            move |_| async move {
                // A stop that takes a while: other tasks run in between.
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                slow.lock().push("stop http".to_owned());
                Ok(())
            },
        ))
        .after_stop(move |_| async move {
            hook.lock().push("api stopped".to_owned());
            Ok(())
        })
        .spawn()
        .await
        .expect("api ready");
    let workers = App::new("workers")
        .handle_signals(false)
        .server(recorder(&log, "workers"))
        .spawn()
        .await
        .expect("workers ready");
    assert!(api.handle().is_ready() && workers.handle().is_ready());

    api.stop().await.expect("api stops");
    workers.stop().await.expect("workers stop");
    assert_eq!(
        *log.lock(),
        ["start workers", "stop http", "api stopped", "stop workers"]
    );
}

/// `spawn` returns the error of an app that could not get ready.
#[tokio::test]
async fn spawn_returns_the_start_failure() {
    let err = App::new("broken")
        .handle_signals(false)
        .server(FnServer::new(
            "db",
            |_| async { Err(Error::other("no database")) },
            |_| async { Ok(()) },
        ))
        .spawn()
        .await
        .expect_err("the app cannot start");
    assert!(
        matches!(&err, Error::Server { name, .. } if name == "db"),
        "{err}"
    );
}
