//! `natrium bench js pub` and `js consume` against the natrium-server binary with JetStream:
//! every publish acknowledged with the next sequence, every message read back once, in each
//! mode, storage and client.

mod support;

use std::process::Stdio;

use serde_json::Value;
use support::{BOUND, run, stderr, stdout};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// natrium-server with `-js -sd <temp dir>` on a free port; killed on drop.
struct JsServer {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    url: String,
}

async fn start_server() -> JsServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_natrium-server"))
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("natrium-server starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
    tokio::time::timeout(BOUND, async {
        while let Some(line) = lines.next_line().await.expect("server log") {
            if line.contains("Server is ready") {
                return;
            }
        }
        panic!("natrium-server exited before it was ready");
    })
    .await
    .expect("natrium-server ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    JsServer {
        _child: child,
        _dir: dir,
        url: format!("nats://127.0.0.1:{port}"),
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
