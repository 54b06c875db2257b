//! The Python client, nats.py, drives JetStream on natrium-server: `tests/py/jetstream.py`
//! (streams, publish with `Nats-Msg-Id` deduplication, `get_msg`/`get_last_msg`, purge,
//! `stream_info`).
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py (`pip install nats-py`). Under env
//! `CI` a missing one fails the test; locally it warns and returns.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::start;
use natrium_server::ServerOptions;
use tokio::process::Command;
use tokio::time::timeout;

/// Upper bound for the whole script.
const SCRIPT_BOUND: Duration = Duration::from_secs(60);

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether `python` can import nats-py; the reason when not.
async fn nats_py_available(python: &str) -> Result<(), String> {
    let out = Command::new(python)
        .args(["-c", "import nats.js"])
        .output()
        .await
        .map_err(|e| format!("{python}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

#[tokio::test]
async fn nats_py_uses_jetstream_streams_dedupe_get_and_purge() {
    let python = python();
    if let Err(why) = nats_py_available(&python).await {
        let message = format!("nats-py is not importable by {python} (pip install nats-py): {why}");
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("\n!!! WARNING: SKIPPED the nats.py test: {message}\n");
        return;
    }
    let server = start(ServerOptions::ephemeral_jetstream()).await;
    let url = server.client_url();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/jetstream.py");
    let run = Command::new(&python)
        .arg(script)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = timeout(SCRIPT_BOUND, run)
        .await
        .expect("the script finishes within its bound")
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nats.py script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    server.shutdown().await;
}
