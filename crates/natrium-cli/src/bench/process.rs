//! Server binaries started by a benchmark: a free port to give them, and a start that waits
//! for the log line both natrium-server and nats-server write once they accept clients.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

/// The rest of a started server's log, line by line.
pub(super) type Log = Lines<BufReader<ChildStderr>>;

/// A port that was free a moment ago (the server binds it right after).
pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Spawns `command` (the server `binary` with its arguments; killed on drop) and waits up to
/// `bound` for "Server is ready" in its log. The caller must keep draining the returned log:
/// a full pipe would stall the server.
pub(super) async fn spawn_ready(
    command: &mut Command,
    binary: &Path,
    bound: Duration,
) -> anyhow::Result<(Child, Log)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr is piped")?).lines();
    let mut log = Vec::new();
    let ready = tokio::time::timeout(bound, async {
        while let Some(line) = lines.next_line().await? {
            let ready = line.contains("Server is ready");
            log.push(line);
            if ready {
                return anyhow::Ok(true);
            }
        }
        anyhow::Ok(false)
    })
    .await;
    match ready {
        Ok(Ok(true)) => Ok((child, lines)),
        Ok(Ok(false)) | Ok(Err(_)) => bail!(
            "{} exited during start-up:\n{}",
            binary.display(),
            log.join("\n")
        ),
        Err(_) => bail!(
            "{} not ready within {bound:?}:\n{}",
            binary.display(),
            log.join("\n")
        ),
    }
}
