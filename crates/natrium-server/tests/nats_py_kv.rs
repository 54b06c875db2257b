//! nats.py's `key_value` (`tests/py/key_value.py`) on natrium-server and on the newest
//! nats-server: the same script must pass on both.
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py (`pip install nats-py`). Under env
//! `CI` a missing one (or a missing reference server) fails the test; locally it warns and
//! returns.

mod common;
#[path = "support/latest.rs"]
mod latest;

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
    eprintln!("\n!!! WARNING: SKIPPED the nats.py key_value test: {message}\n");
    None
}

async fn run_script(python: &str, url: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/key_value.py");
    let run = Command::new(python)
        .arg(script)
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
    assert!(stdout.contains("key_value checks passed"), "{stdout}");
}

#[tokio::test]
async fn nats_py_key_value_on_natrium() {
    let Some(python) = python_with_nats_py().await else {
        return;
    };
    let server = common::start(ServerOptions::ephemeral_jetstream()).await;
    run_script(&python, &server.client_url()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn nats_py_key_value_on_latest() {
    let Some(python) = python_with_nats_py().await else {
        return;
    };
    let Some(bin) = latest::latest_binary_or_skip("nats.py key_value") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = latest::LatestServer::start_js(&bin, dir.path())
        .await
        .expect("nats-server starts");
    run_script(&python, &server.client_url()).await;
    server.shutdown().await;
}
