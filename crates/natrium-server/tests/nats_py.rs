//! The Python client, nats.py, on natrium-server and on the newest nats-server: each script
//! in `tests/py/` must pass on both — `jetstream.py` (streams, publish with `Nats-Msg-Id`
//! deduplication, `get_msg`/`get_last_msg`, purge, `stream_info`), `key_value.py`,
//! `object_store.py` and `consumers.py` (pull fetch, a push queue group, an ordered consumer).
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py (`pip install nats-py`). Under env
//! `CI` a missing one (or a missing reference server) fails the test; locally it warns and
//! returns.

mod common;
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use std::process::Stdio;
use std::time::Duration;

use natrium_server::ServerOptions;
use tokio::process::Command;
use tokio::time::timeout;

/// Upper bound for the whole script.
const SCRIPT_BOUND: Duration = Duration::from_secs(60);

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The Python interpreter when it can import nats-py; `None` after a warning locally.
///
/// # Panics
/// When nats-py is missing and env `CI` is set.
async fn python_with_nats_py() -> Option<String> {
    let python = python();
    let out = Command::new(&python)
        .args(["-c", "import nats.js"])
        .output()
        .await;
    let why = match out {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    let message = format!("nats-py is not importable by {python} (pip install nats-py): {why}");
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("\n!!! WARNING: SKIPPED a nats.py test: {message}\n");
    None
}

/// Runs `tests/py/<name>.py` against `url`; it must print "<name> checks passed".
async fn run_script(python: &str, name: &str, url: &str) {
    let script = format!("{}/tests/py/{name}.py", env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(python)
        .arg(&script)
        .arg(url)
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
        "nats.py script failed on {url}:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{name} checks passed")),
        "{stdout}"
    );
}

async fn on_natrium(name: &str) {
    let Some(python) = python_with_nats_py().await else {
        return;
    };
    let server = common::start(ServerOptions::ephemeral_jetstream()).await;
    run_script(&python, name, &server.client_url()).await;
    server.shutdown().await;
}

async fn on_latest(name: &str) {
    let Some(python) = python_with_nats_py().await else {
        return;
    };
    let Some(bin) = reference::latest_binary_or_skip(&format!("nats.py {name}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerCommand::new(&bin)
        .jetstream(dir.path())
        .start()
        .await
        .expect("nats-server starts");
    run_script(&python, name, &server.client_url()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn nats_py_jetstream_on_natrium() {
    on_natrium("jetstream").await;
}

#[tokio::test]
async fn nats_py_jetstream_on_latest() {
    on_latest("jetstream").await;
}

#[tokio::test]
async fn nats_py_key_value_on_natrium() {
    on_natrium("key_value").await;
}

#[tokio::test]
async fn nats_py_key_value_on_latest() {
    on_latest("key_value").await;
}

#[tokio::test]
async fn nats_py_object_store_on_natrium() {
    on_natrium("object_store").await;
}

#[tokio::test]
async fn nats_py_object_store_on_latest() {
    on_latest("object_store").await;
}

#[tokio::test]
async fn nats_py_consumers_on_natrium() {
    on_natrium("consumers").await;
}

#[tokio::test]
async fn nats_py_consumers_on_latest() {
    on_latest("consumers").await;
}
