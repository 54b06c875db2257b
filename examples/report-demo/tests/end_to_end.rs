//! The whole system, for real: a NATS server, the report API over HTTP, savers writing to
//! SQLite in a temporary directory (or PostgreSQL when `REPORT_DEMO_POSTGRES_URL` is set).

mod support;

use std::time::{Duration, Instant};

use report_demo::config::CodecName;
use report_demo::store::Store;
use support::{
    Nats, assert_exactly_once, post_reports, start_report, start_saver, test_config, unique,
    wait_for_rows,
};

const REPORTS: usize = 1_000;
const SAVE_DEADLINE: Duration = Duration::from_secs(30);

/// Posts 1,000 reports concurrently through one report service and one saver, then finds
/// each exactly once in the database.
async fn thousand_reports_end_to_end(codec: CodecName, database_url: Option<&str>) {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), codec, dir.path(), database_url);
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;

    let name = unique("e2e");
    let ok = post_reports(&base, &name, REPORTS, 64).await;
    assert_eq!(ok, REPORTS, "every POST is answered {{code:0,msg:success}}");

    let store = Store::open(&config.data.database.url)
        .await
        .expect("open database");
    let rows = wait_for_rows(&store, &name, REPORTS, SAVE_DEADLINE).await;
    assert_exactly_once(&rows, REPORTS);

    report.stop().await.expect("report stops cleanly");
    saver.running.stop().await.expect("saver stops cleanly");
    let counters = saver.saver.stats().snapshot();
    assert_eq!(
        (counters.received, counters.saved, counters.failed),
        (1_000, 1_000, 0)
    );
    nats.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_json_reports_are_saved_exactly_once() {
    thousand_reports_end_to_end(CodecName::Json, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_protobuf_reports_are_saved_exactly_once() {
    thousand_reports_end_to_end(CodecName::Protobuf, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_reports_are_saved_exactly_once_in_postgres() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    thousand_reports_end_to_end(CodecName::Protobuf, Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_savers_in_the_queue_group_save_each_report_once() {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), CodecName::Json, dir.path(), None);
    let first = start_saver(&config).await;
    let second = start_saver(&config).await;
    let (report, base) = start_report(&config).await;

    let name = unique("queue");
    assert_eq!(post_reports(&base, &name, REPORTS, 64).await, REPORTS);
    let store = Store::open(&config.data.database.url)
        .await
        .expect("open database");
    let rows = wait_for_rows(&store, &name, REPORTS, SAVE_DEADLINE).await;
    assert_exactly_once(&rows, REPORTS);

    let (a, b) = (
        first.saver.stats().snapshot(),
        second.saver.stats().snapshot(),
    );
    assert_eq!(a.saved + b.saved, 1_000, "{a:?} {b:?}");
    assert!(
        a.saved > 0 && b.saved > 0,
        "the queue group shares the work: {a:?} {b:?}"
    );

    report.stop().await.expect("report stops");
    first.running.stop().await.expect("saver stops");
    second.running.stop().await.expect("saver stops");
    nats.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_reports_reach_their_table_and_stats_show_them() {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), CodecName::Protobuf, dir.path(), None);
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let client = reqwest::Client::new();

    for i in 0..10 {
        let response = client
            .post(format!("{base}/v1/report/user"))
            .json(&serde_json::json!({"user_id": format!("u{i}"), "status": "accepted"}))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 200);
    }
    let stats_url = format!("http://{}/v1/stats", saver.http_addr);
    let start = Instant::now();
    let stats = loop {
        let stats: serde_json::Value = client
            .get(&stats_url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        if stats["rows"]["user_reports"] == 10 || start.elapsed() > SAVE_DEADLINE {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stats["rows"]["user_reports"], 10, "{stats}");
    assert_eq!(stats["rows"]["event_reports"], 0, "{stats}");
    assert_eq!(stats["saved"], 10, "{stats}");
    assert_eq!(stats["received_from_nats"], 10, "{stats}");

    let report_stats: serde_json::Value = client
        .get(format!("{base}/v1/stats"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        report_stats,
        serde_json::json!({"published": 10, "rejected": 0, "unavailable": 0, "duplicates": 0})
    );

    report.stop().await.expect("report stops");
    saver.running.stop().await.expect("saver stops");
    nats.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_with_a_message_and_publishes_nothing() {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), CodecName::Json, dir.path(), None);
    let (report, base) = start_report(&config).await;
    let client = reqwest::Client::new();

    let cases: [(&str, &str, &str); 6] = [
        (
            "/v1/report",
            "{not json",
            "invalid request body: key must be a string",
        ),
        (
            "/v1/report",
            r#"{"content":"x"}"#,
            "invalid request body: missing field `event_name`",
        ),
        (
            "/v1/report",
            r#"{"event_name":"e"}"#,
            "invalid request body: missing field `content`",
        ),
        (
            "/v1/report",
            r#"{"event_name":" ","content":"x"}"#,
            "invalid request body: event_name must not be empty",
        ),
        (
            "/v1/report",
            r#"{"event_name":"e","content":{"a":1}}"#,
            "invalid request body: invalid type: map, expected a string",
        ),
        (
            "/v1/report/user",
            r#"{"user_id":"u"}"#,
            "invalid request body: missing field `status`",
        ),
    ];
    for (path, body, expected) in cases {
        let response = client
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 400, "{body}");
        let reply: serde_json::Value = response.json().await.expect("JSON error body");
        assert_eq!(reply["code"], 400, "{body}");
        let msg = reply["msg"].as_str().unwrap_or_default();
        assert!(msg.starts_with(expected), "{body}: {msg}");
    }
    let stats: serde_json::Value = client
        .get(format!("{base}/v1/stats"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        stats,
        serde_json::json!({"published": 0, "rejected": 6, "unavailable": 0, "duplicates": 0})
    );

    report.stop().await.expect("report stops");
    nats.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_is_a_503_within_the_publish_timeout() {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), CodecName::Json, dir.path(), None);
    let (report, base) = start_report(&config).await;
    let client = reqwest::Client::new();
    let post = || {
        client
            .post(format!("{base}/v1/report"))
            .json(&serde_json::json!({"event_name": "e", "content": "x"}))
            .send()
    };
    assert_eq!(post().await.expect("POST").status(), 200, "up: accepted");

    nats.shutdown().await;
    for _ in 0..3 {
        let started = Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(5), post())
            .await
            .expect("the API answers while NATS is down, it does not hang")
            .expect("POST");
        let took = started.elapsed();
        assert_eq!(response.status(), 503);
        let reply: serde_json::Value = response.json().await.expect("JSON error body");
        assert_eq!(reply["code"], 503);
        assert!(
            reply["msg"]
                .as_str()
                .unwrap_or_default()
                .starts_with("message queue unavailable"),
            "{reply}"
        );
        // publish_timeout is 500 ms in the test config.
        assert!(took < Duration::from_secs(2), "503 took {took:?}");
    }
    // The service itself still stops cleanly with NATS gone.
    tokio::time::timeout(Duration::from_secs(15), report.stop())
        .await
        .expect("report stops within its bound")
        .ok();
}
