//! `natrium bench js pub` and `js consume` against the natrium-server binary with JetStream:
//! every publish acknowledged with the next sequence, every message read back once, in each
//! mode, storage and client.

mod support;

use natrium_test_support::process::{ServerCommand, ServerProcess};
use serde_json::Value;
use support::{NATRIUM_SERVER, run, stderr, stdout};

/// natrium-server with `-js -sd <temp dir>` on a free port; killed on drop.
struct JsServer {
    _process: ServerProcess,
    _dir: tempfile::TempDir,
    url: String,
}

async fn start_server() -> JsServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let process = ServerCommand::new(NATRIUM_SERVER)
        .jetstream(dir.path())
        .start()
        .await
        .expect("natrium-server starts");
    JsServer {
        url: process.client_url(),
        _process: process,
        _dir: dir,
    }
}

async fn js_pub(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["bench", "js", "pub", "--json"];
    all.extend_from_slice(args);
    let output = run(url, &all).await;
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("JSON report")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mode_gets_every_ack() {
    let server = start_server().await;
    for (args, workload, client) in [
        (&["--msgs", "500"][..], "js-pub-async", "async-nats"),
        (
            &["--msgs", "200", "--sync", "--storage", "memory"],
            "js-pub-sync",
            "async-nats",
        ),
        (
            &["--msgs", "700", "--client", "raw", "--window", "64"],
            "js-pub-async",
            "raw",
        ),
        // Again on the same stream: it is purged and sequences continue.
        (
            &["--msgs", "300", "--client", "raw", "--size", "128"],
            "js-pub-async",
            "raw",
        ),
    ] {
        let report = js_pub(&server.url, args).await;
        let msgs: u64 = args[1].parse().unwrap();
        assert_eq!(report["workload"], workload, "{report}");
        assert_eq!(report["client"], client, "{report}");
        assert_eq!(report["expected"], msgs, "{report}");
        assert_eq!(report["received"], msgs, "{report}");
        assert_eq!(report["lost"], 0, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_client_refuses_sync_mode() {
    let server = start_server().await;
    let output = run(
        &server.url,
        &["bench", "js", "pub", "--sync", "--client", "raw"],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("async only"),
        "{}",
        stderr(&output)
    );
}

async fn js_consume(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["bench", "js", "consume", "--json"];
    all.extend_from_slice(args);
    let output = run(url, &all).await;
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("JSON report")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_consume_mode_reads_every_message_once() {
    let server = start_server().await;
    for (args, workload) in [
        (&["--msgs", "3000"][..], "js-consume"),
        (
            &["--msgs", "2000", "--ack", "none", "--storage", "memory"],
            "js-consume-ack-none",
        ),
        (&["--msgs", "1500", "--fetch", "--batch", "100"], "js-fetch"),
        (&["--msgs", "300", "--double-ack"], "js-consume-double-ack"),
        (&["--msgs", "2500", "--push"], "js-push"),
        (
            &[
                "--msgs",
                "800",
                "--push",
                "--ack",
                "none",
                "--storage",
                "memory",
            ],
            "js-push-ack-none",
        ),
        (&["--msgs", "2500", "--ordered"], "js-ordered"),
        (
            &["--msgs", "2200", "--client", "raw", "--batch", "64"],
            "js-consume-raw",
        ),
        (
            &[
                "--msgs",
                "900",
                "--client",
                "raw",
                "--ack",
                "none",
                "--storage",
                "memory",
            ],
            "js-consume-raw-ack-none",
        ),
        (
            &[
                "--msgs", "700", "--client", "raw", "--fetch", "--batch", "50",
            ],
            "js-fetch-raw",
        ),
        (
            &["--msgs", "1200", "--client", "raw", "--push"],
            "js-push-raw",
        ),
        (
            &[
                "--msgs", "600", "--client", "raw", "--push", "--ack", "none",
            ],
            "js-push-raw-ack-none",
        ),
        (
            &["--msgs", "1700", "--client", "raw", "--ordered"],
            "js-ordered-raw",
        ),
        // Again on the same stream and storage: purged, sequences continue, new consumer.
        (&["--msgs", "1000", "--batch", "7"], "js-consume"),
    ] {
        let report = js_consume(&server.url, args).await;
        let msgs: u64 = args[1].parse().unwrap();
        assert_eq!(report["workload"], workload, "{report}");
        assert_eq!(report["expected"], msgs, "{report}");
        assert_eq!(report["received"], msgs, "{report}");
        assert_eq!(report["lost"], 0, "{report}");
        assert!(
            report["subscribe_aggregate"]["msgs_per_sec"].as_f64() > Some(0.0),
            "{report}"
        );
        // Only the double ack waits for each acknowledgement, so only it has a latency.
        assert_eq!(
            report["latency"].is_object(),
            workload == "js-consume-double-ack",
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn double_ack_needs_explicit_acks() {
    let server = start_server().await;
    let output = run(
        &server.url,
        &["bench", "js", "consume", "--double-ack", "--ack", "none"],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--double-ack needs --ack explicit"),
        "{}",
        stderr(&output)
    );
}
