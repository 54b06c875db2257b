//! `natrium bench`: small runs against a real server, JSON parsed and every count checked.

mod support;

use serde_json::Value;
use support::{TestServer, run, spawn_listening, stderr, stdout};

async fn bench_json(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = run(url, &all).await;
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|err| panic!("{args:?} printed no JSON ({err}): {}", stdout(&output)))
}

fn u(report: &Value, pointer: &str) -> u64 {
    report
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no {pointer} in {report}"))
}

fn assert_no_loss(report: &Value, expected: u64) {
    assert_eq!(u(report, "/expected"), expected, "{report}");
    assert_eq!(u(report, "/received"), expected, "{report}");
    assert_eq!(u(report, "/lost"), 0, "{report}");
    assert_eq!(u(report, "/client_slow_consumer_events"), 0, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_only_counts_every_message() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    for client in ["nats", "raw"] {
        let report = bench_json(
            &server.url(),
            &["pub", "--msgs", "1000", "--pub", "2", "--client", client],
        )
        .await;
        assert_eq!(report["workload"], "pub");
        assert_eq!(u(&report, "/publish_aggregate/msgs"), 1000);
        assert_eq!(u(&report, "/publish_aggregate/bytes"), 16_000);
        assert_eq!(report["publishers"].as_array().map(Vec::len), Some(2));
        assert!(report["publish_aggregate"]["msgs_per_sec"].as_f64() > Some(0.0));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pub_sub_fan_out_delivers_everything_to_every_subscriber() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    for client in ["nats", "raw"] {
        let report = bench_json(
            &server.url(),
            &[
                "pubsub", "--msgs", "1000", "--pub", "2", "--sub", "3", "--size", "1KiB",
                "--client", client,
            ],
        )
        .await;
        assert_no_loss(&report, 3000);
        for subscriber in report["subscribers"].as_array().expect("subscribers") {
            assert_eq!(subscriber["msgs"], 1000);
            assert_eq!(subscriber["bytes"], 1000 * 1024);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_group_members_together_get_each_message_once() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    for client in ["nats", "raw"] {
        let report = bench_json(
            &server.url(),
            &[
                "queue", "--msgs", "1000", "--queue", "3", "--client", client,
            ],
        )
        .await;
        assert_no_loss(&report, 1000);
        let members = report["subscribers"].as_array().expect("members");
        assert_eq!(members.len(), 3);
        let total: u64 = members.iter().filter_map(|m| m["msgs"].as_u64()).sum();
        assert_eq!(total, 1000);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_reply_answers_every_request_and_reports_latency() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let report = bench_json(
        &server.url(),
        &[
            "req",
            "--msgs",
            "300",
            "--requesters",
            "4",
            "--responders",
            "2",
        ],
    )
    .await;
    assert_no_loss(&report, 300);
    assert_eq!(u(&report, "/latency/samples"), 300);
    let latency = &report["latency"];
    let (p50, p99, max) = (
        latency["p50_us"].as_f64(),
        latency["p99_us"].as_f64(),
        latency["max_us"].as_f64(),
    );
    assert!(p50 > Some(0.0) && p50 <= p99 && p99 <= max, "{latency}");
    let answered: u64 = report["subscribers"]
        .as_array()
        .expect("responders")
        .iter()
        .filter_map(|r| r["msgs"].as_u64())
        .sum();
    assert_eq!(answered, 300);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subject_index_stress_delivers_to_exact_and_wildcard_subscriptions() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    for client in ["nats", "raw"] {
        let report = bench_json(
            &server.url(),
            &[
                "subjects",
                "--msgs",
                "1000",
                "--subjects",
                "200",
                "--wildcards",
                "2",
                "--client",
                client,
            ],
        )
        .await;
        // Each message matches its own subject's subscription plus both wildcards.
        assert_no_loss(&report, 3000);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_only_counts_messages_from_another_process() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let sub = spawn_listening(
        &url,
        &["bench", "sub", "--msgs", "500", "--sub", "2", "--json"],
    )
    .await;
    let published = run(&url, &["bench", "pub", "--msgs", "500"]).await;
    assert!(published.status.success(), "{}", stderr(&published));
    let (ok, out, err) = sub.finish().await;
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_no_loss(&report, 1000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_messages_are_reported_as_lost_and_fail_the_run() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    // Nobody publishes: the subscriber gives up after the bounded wait and must say so.
    let output = run(
        &server.url(),
        &[
            "bench",
            "sub",
            "--msgs",
            "10",
            "--wait",
            "200ms",
            "--timeout",
            "200ms",
            "--json",
        ],
    )
    .await;
    assert!(!output.status.success());
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    assert_eq!(u(&report, "/expected"), 10);
    assert_eq!(u(&report, "/received"), 0);
    assert_eq!(u(&report, "/lost"), 10);
    assert!(
        stderr(&output).contains("10 of 10 messages were lost"),
        "{}",
        stderr(&output)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_clients_are_held_and_server_memory_reported() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let pid = server.pid().to_string();
    let report = bench_json(
        &server.url(),
        &["idle", "--clients", "200", "--server-pid", &pid],
    )
    .await;
    assert_eq!(u(&report, "/idle/clients"), 200);
    assert!(u(&report, "/idle/rss_before_kib") > 0);
    assert!(u(&report, "/idle/rss_after_kib") > 0);
    assert!(report["idle"]["kib_per_client"].as_f64().is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_is_a_readable_table() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let output = run(
        &server.url(),
        &["bench", "pubsub", "--msgs", "1000", "--sub", "2"],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("subscriber #1"), "{text}");
    assert!(text.contains("subscribers (all)"), "{text}");
    assert!(
        text.contains("messages: expected 2000, received 2000 — no loss"),
        "{text}"
    );
    server.stop().await;
}
