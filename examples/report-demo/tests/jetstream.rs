//! The demo in JetStream mode: reports answered 200 are saved exactly once, row by row,
//! whatever happens to savers or to the server. `JsTestServer` picks the server: the
//! embedded natrium-server by default, the newest nats-server with
//! `NATRIUM_JS_TEST_SERVER=nats-server-latest` (CI runs both).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use natrium::jetstream::testing::JsTestServer;
use report_demo::config::{CodecName, Config, NatsMode};
use report_demo::store::Store;
use support::{
    assert_at_most_once, assert_exactly_once, post_reports, start_report, start_saver, test_config,
    unique, wait_for_rows,
};

const REPORTS: usize = 1_000;
const SAVE_DEADLINE: Duration = Duration::from_secs(60);

/// A JetStream-mode configuration on `server`, SQLite under `dir`; redelivery after 2 s so a
/// killed saver's reports come back quickly.
fn js_config(server: &JsTestServer, dir: &std::path::Path) -> Config {
    let mut config = test_config(&server.url(), CodecName::Json, dir, None);
    config.data.nats.mode = NatsMode::Jetstream;
    config.data.nats.ack_wait = Duration::from_secs(2);
    config.server.http.publish_timeout = Duration::from_secs(2);
    config
}

async fn rows_exactly_once(config: &Config, name: &str, n: usize) {
    let store = Store::open(&config.data.database.url).await.expect("open");
    let rows = wait_for_rows(&store, name, n, SAVE_DEADLINE).await;
    // Give a straggling duplicate no chance to hide: the count must stay exact.
    assert_exactly_once(&rows, n);
}

/// Posts `n` reports and returns, for each, whether it was answered 200 success.
async fn post_reports_each(
    base: &str,
    event_name: &str,
    n: usize,
    concurrency: usize,
) -> Vec<bool> {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/report");
    let mut answers: Vec<(usize, bool)> = futures::stream::iter(0..n)
        .map(|i| {
            let request = client.post(&url).json(
                &serde_json::json!({"event_name": event_name, "content": format!("item-{i}")}),
            );
            async move {
                let ok = match request.send().await {
                    Ok(response) => response.status() == reqwest::StatusCode::OK,
                    Err(_) => false,
                };
                (i, ok)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    answers.sort_unstable();
    answers.into_iter().map(|(_, ok)| ok).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reports_posted_while_no_saver_runs_are_all_saved_once_it_starts() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let (report, base) = start_report(&config).await;
    let name = unique("saver-down");
    assert_eq!(post_reports(&base, &name, REPORTS, 64).await, REPORTS);

    let saver = start_saver(&config).await;
    rows_exactly_once(&config, &name, REPORTS).await;
    report.stop().await.expect("report stops");
    saver.running.stop().await.expect("saver stops");
    server.stop().await;
}

/// Runs `report-demo saver` as a child process with `config` (environment overrides only).
fn spawn_saver(config: &Config) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_report-demo"))
        .arg("saver")
        .env("REPORT_DATA_NATS_ADDRS", config.data.nats.addrs.join(","))
        .env("REPORT_DATA_NATS_MODE", "jetstream")
        .env("REPORT_DATA_DATABASE_URL", &config.data.database.url)
        .env("REPORT_SERVER_STATS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn report-demo saver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saver_killed_mid_batch_loses_and_doubles_nothing() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let (report, base) = start_report(&config).await;
    let name = unique("sigkill");
    assert_eq!(post_reports(&base, &name, REPORTS, 64).await, REPORTS);

    // The saver process works through the backlog; kill it in the middle.
    let mut child = spawn_saver(&config);
    let store = Store::open(&config.data.database.url).await.expect("open");
    let some = wait_for_rows(&store, &name, 100, SAVE_DEADLINE).await;
    assert!(some.len() >= 100, "the saver started saving");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let at_kill = store.event_report_data(&name).await.expect("rows").len();
    assert!(at_kill < REPORTS, "killed mid-batch ({at_kill} saved)");

    // A new saver gets the rest, including what the dead one had taken but not acked.
    let mut child = spawn_saver(&config);
    let rows = wait_for_rows(&store, &name, REPORTS, SAVE_DEADLINE).await;
    child.kill().expect("stop");
    child.wait().expect("reaped");
    assert_exactly_once(&rows, REPORTS);
    report.stop().await.expect("report stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_savers_one_stopped_gracefully_mid_run_save_each_report_once() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let first = start_saver(&config).await;
    let second = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let name = unique("two-savers");
    let load = tokio::spawn({
        let (base, name) = (base.clone(), name.clone());
        async move { post_reports(&base, &name, REPORTS, 32).await }
    });
    let store = Store::open(&config.data.database.url).await.expect("open");
    wait_for_rows(&store, &name, 200, SAVE_DEADLINE).await;
    first
        .running
        .stop()
        .await
        .expect("first saver stops gracefully");
    assert_eq!(load.await.expect("load"), REPORTS);
    rows_exactly_once(&config, &name, REPORTS).await;
    let a = first.saver.stats().snapshot();
    assert!(
        a.saved > 0 && a.saved < REPORTS as u64,
        "stopped mid-run: {a:?}"
    );
    report.stop().await.expect("report stops");
    second.running.stop().await.expect("second saver stops");
    server.stop().await;
}

/// The server goes away mid-load: nats-server is SIGKILLed; the embedded server is stopped
/// (in-process code cannot be killed apart from the test; natrium-server under SIGKILL is
/// `natrium-cli`'s `js_crash` suite).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_report_answered_200_survives_the_server_going_away_and_coming_back() {
    let Some(mut server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let name = unique("server-kill");
    let load = tokio::spawn({
        let (base, name) = (base.clone(), name.clone());
        async move { post_reports_each(&base, &name, REPORTS, 16).await }
    });
    let store = Store::open(&config.data.database.url).await.expect("open");
    wait_for_rows(&store, &name, 200, SAVE_DEADLINE).await;
    server.kill().await;
    server.restart().await;
    let answers = load.await.expect("load");
    let accepted: Vec<usize> = (0..REPORTS).filter(|i| answers[*i]).collect();
    assert!(accepted.len() >= 200, "{} accepted", accepted.len());
    // Every accepted report is saved; a refused one may be stored too (its PubAck was lost
    // with the server), but nothing twice.
    let deadline = std::time::Instant::now() + SAVE_DEADLINE;
    let rows = loop {
        let rows = store.event_report_data(&name).await.expect("rows");
        let have: std::collections::HashSet<&str> = rows.iter().map(String::as_str).collect();
        if accepted
            .iter()
            .all(|i| have.contains(format!("item-{i}").as_str()))
        {
            break rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "accepted reports missing after restart"
        );
        // The saver commits on its own schedule; there is no event to await.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_at_most_once(&rows, REPORTS);
    eprintln!(
        "server SIGKILL: {} of {REPORTS} answered 200, {} rows",
        accepted.len(),
        rows.len()
    );
    report.stop().await.expect("report stops");
    saver.running.stop().await.expect("saver stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_retry_with_the_same_idempotency_key_is_one_row() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let name = unique("idempotent");
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .post(format!("{base}/v1/report"))
            .header("Idempotency-Key", "retry-1")
            .json(&serde_json::json!({"event_name": name, "content": "item-0"}))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
    }
    // A different report after them proves the saver has seen everything before it.
    let ok = client
        .post(format!("{base}/v1/report"))
        .json(&serde_json::json!({"event_name": name, "content": "item-1"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    rows_exactly_once(&config, &name, 2).await;
    let stats: serde_json::Value = client
        .get(format!("{base}/v1/stats"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["duplicates"], 2, "{stats}");
    report.stop().await.expect("report stops");
    saver.running.stop().await.expect("saver stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_report_is_dead_lettered_once_and_the_rest_are_saved() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = js_config(&server, dir.path());
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let name = unique("poison");
    assert_eq!(post_reports(&base, &name, 50, 16).await, 50);
    // Bytes no saver can decode, straight into the stream.
    let broker = natrium::NatsBroker::connect(server.config())
        .await
        .expect("connect");
    use natrium::Broker;
    broker
        .publish_durable_message(
            natrium::message::Message::new("report.event", "{not json"),
            natrium::jetstream::PublishOptions::new(),
        )
        .await
        .expect("stored");
    assert_eq!(post_reports(&base, &name, 50, 16).await, 50);
    let store = Store::open(&config.data.database.url).await.expect("open");
    let rows = wait_for_rows(&store, &name, 100, SAVE_DEADLINE).await;
    assert_eq!(rows.len(), 100);
    let js = broker.jetstream().expect("jetstream");
    let dead = tokio::time::timeout(SAVE_DEADLINE, async {
        loop {
            let info = js
                .get_stream("REPORTS_DEAD")
                .await
                .expect("dead stream")
                .get_info()
                .await
                .expect("info");
            if info.state.messages > 0 {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("dead letter stored");
    report.stop().await.expect("report stops");
    saver.running.stop().await.expect("saver stops");
    let info = js
        .get_stream("REPORTS_DEAD")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(
        (dead.state.messages, info.state.messages),
        (1, 1),
        "dead-lettered once"
    );
    let stats = saver.nats.stats_for("report.event").expect("route");
    assert_eq!(
        (stats.decode_errors, stats.terms, stats.dead_lettered),
        (1, 1, 1)
    );
    server.stop().await;
}
