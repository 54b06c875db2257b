//! Running the nats.py scripts of `tests/py/` against a server.
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py (`pip install nats-py`). Under env
//! `CI` a missing one fails the test; locally it warns and the caller returns.

use std::process::Stdio;
use std::time::Duration;

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
pub async fn python_with_nats_py() -> Option<String> {
    python_importing("import nats.js", "nats-py").await
}

/// The Python interpreter when it can import nats-py and nkeys (which nats.py needs for
/// nkey and `.creds` logins); `None` after a warning locally.
///
/// # Panics
/// When either is missing and env `CI` is set.
pub async fn python_with_nkeys() -> Option<String> {
    python_importing("import nats.js, nkeys", "nats-py nkeys").await
}

async fn python_importing(imports: &str, packages: &str) -> Option<String> {
    let python = python();
    let out = Command::new(&python).args(["-c", imports]).output().await;
    let why = match out {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    let message = format!("{packages} not importable by {python} (pip install {packages}): {why}");
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("\n!!! WARNING: SKIPPED a nats.py test: {message}\n");
    None
}

/// Runs `tests/py/<name>.py` against `url`; it must print "<name> checks passed".
pub async fn run_script(python: &str, name: &str, url: &str) {
    run_script_with(python, name, url, &[]).await;
}

/// Runs `tests/py/<name>.py` against `url` with more arguments after it (e.g. credential
/// files); it must print "<name> checks passed".
pub async fn run_script_with(python: &str, name: &str, url: &str, args: &[&str]) {
    let script = format!("{}/tests/py/{name}.py", env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(python)
        .arg(&script)
        .arg(url)
        .args(args)
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
