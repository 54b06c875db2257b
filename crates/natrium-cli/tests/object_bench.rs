//! `natrium bench object --raw`: the raw client's object put and get against natrium-server
//! and the newest nats-server; each run fails unless every object round-trips intact.

mod support;

use std::path::Path;

use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::latest_binary_or_skip;
use serde_json::Value;
use support::{NATRIUM_SERVER, run, stderr, stdout};

/// `binary` with `-js -sd <temp dir>` on a free port; killed on drop.
struct JsServer {
    _process: ServerProcess,
    _dir: tempfile::TempDir,
    url: String,
}

async fn start_server(binary: &Path) -> JsServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let process = ServerCommand::new(binary)
        .jetstream(dir.path())
        .start()
        .await
        .unwrap_or_else(|err| panic!("{} starts: {err}", binary.display()));
    JsServer {
        url: process.client_url(),
        _process: process,
        _dir: dir,
    }
}

/// `natrium bench object --count 2` with `args`.
async fn object_bench(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["bench", "object", "--json", "--count", "2"];
    all.extend_from_slice(args);
    let output = run(url, &all).await;
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("JSON report")
}

async fn raw_put_and_get(binary: &Path) {
    let server = start_server(binary).await;
    for (op, workload) in [("put", "object-put-raw"), ("get", "object-get-raw")] {
        let report = object_bench(&server.url, &["--op", op, "--raw", "--size", "1MiB"]).await;
        assert_eq!(report["workload"], workload, "{report}");
        assert_eq!(report["client"], "raw", "{report}");
        assert_eq!(report["expected"], 2, "{report}");
        assert_eq!(report["lost"], 0, "{report}");
        assert!(
            report["publish_aggregate"]["mib_per_sec"].as_f64() > Some(0.0),
            "{report}"
        );
    }
    // A size that is not a whole number of chunks (the last one short).
    for op in ["put", "get"] {
        let report = object_bench(&server.url, &["--op", op, "--raw", "--size", "200001"]).await;
        assert_eq!(report["lost"], 0, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_object_rows_round_trip_on_natrium_server() {
    raw_put_and_get(Path::new(NATRIUM_SERVER)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_object_rows_round_trip_on_the_newest_nats_server() {
    let Some(latest) = latest_binary_or_skip("raw object bench") else {
        return;
    };
    raw_put_and_get(&latest).await;
}
