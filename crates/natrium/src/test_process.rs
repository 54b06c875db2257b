//! What the public `testing` modules (`jetstream::testing`, `registry::testing`) share: a
//! free loopback port, a binary found by environment variable or on `PATH` under the team
//! rule for a missing one, and a child process started and waited for until it is ready.
//!
//! natrium's own test suites use the workspace's `natrium-test-support` crate; this code
//! stays here because the `testing` modules are part of natrium's published API, and a
//! published crate cannot depend on that unpublished one.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound address").port()
}

/// The binary named by env `env`, else `name` on `PATH`. When it is missing: panics under
/// `CI` (with `hint`, how to get it), else warns loudly that `what` did not run and returns
/// `None`.
pub(crate) fn find_binary(env: &str, name: &str, what: &str, hint: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if on_path.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} not found: set {env} ({hint})");
        }
        eprintln!(
            "\n!!!!! WARNING: {name} NOT FOUND — this {what} did NOT run.\n\
             !!!!! Set {env} or put {name} on PATH ({hint}).\n"
        );
    }
    on_path
}

/// Spawns `command` (killed on drop) and waits up to `within` for a log line on its stderr
/// containing `ready`; then keeps draining the log so the process never blocks on a full
/// pipe.
///
/// # Panics
/// When the process cannot run, exits first, or is not ready in time.
pub(crate) async fn spawn_ready(command: &mut Command, ready: &str, within: Duration) -> Child {
    let program = command.as_std().get_program().to_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let started = tokio::time::timeout(within, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(ready) {
                return true;
            }
        }
        false
    })
    .await;
    match started {
        Ok(true) => {}
        Ok(false) => panic!("{} exited before it was ready", program.display()),
        Err(_) => panic!("{} was not ready within {within:?}", program.display()),
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}
