//! Test support for the observability suites: a reference `nats-server` child process
//! whose log lines are turned into awaitable events.

#![allow(dead_code)] // each suite uses a different part

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long any single wait may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Finds the reference server (`NATS_SERVER_BIN`, `nats-server` on PATH,
/// `/usr/sbin/nats-server`). When absent: fails under CI, otherwise warns loudly and returns
/// `None` (the caller returns).
pub fn nats_server_bin() -> Option<PathBuf> {
    natrium_test_support::reference::reference_binary_or_skip("observability")
}

/// A running `nats-server` child, killed on drop.
pub struct RefServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    /// The route (cluster) port, when clustering is on.
    pub route_port: Option<u16>,
    /// Log lines after startup.
    pub log: mpsc::UnboundedReceiver<String>,
}

impl RefServer {
    /// Starts `bin` on a random loopback port with `extra` arguments, and returns when it
    /// logged "Server is ready" (and, with `-cluster`, its route port).
    pub async fn start(bin: &PathBuf, extra: &[String]) -> RefServer {
        let clustered = extra.iter().any(|a| a == "-cluster");
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nats-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut client_port = None;
        let mut route_port = None;
        let mut ready = false;
        tokio::time::timeout(LIMIT, async {
            while !(ready && client_port.is_some() && (!clustered || route_port.is_some())) {
                let line = rx.recv().await.expect("nats-server exited during startup");
                if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
                    client_port = port_of(addr);
                } else if let Some(addr) = line.split("Listening for route connections on ").nth(1)
                {
                    route_port = port_of(addr);
                } else if line.contains("Server is ready") {
                    ready = true;
                }
            }
        })
        .await
        .expect("nats-server ready in time");
        let port = client_port.expect("client port logged");
        RefServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            route_port,
            log: rx,
        }
    }

    /// Waits until a log line containing `needle` appears `count` times (from now on).
    pub async fn wait_log(&mut self, needle: &str, count: usize) {
        let mut seen = 0;
        tokio::time::timeout(LIMIT, async {
            while seen < count {
                let line = self.log.recv().await.expect("nats-server log ended");
                if line.contains(needle) {
                    seen += 1;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("log line {needle:?} x{count} not seen in time"));
    }

    /// Waits for the next log line for which `wanted` holds, and returns it.
    pub async fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        tokio::time::timeout(LIMIT, async {
            loop {
                let line = self.log.recv().await.expect("nats-server log ended");
                if wanted(&line) {
                    return line;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: no such log line in time"))
    }

    /// Kills the process and waits until it is gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill nats-server");
    }
}

fn port_of(addr: &str) -> Option<u16> {
    addr.trim().rsplit(':').next()?.parse().ok()
}

/// A single reference server for suites that need one, or `None` if absent locally.
pub async fn single() -> Option<RefServer> {
    let bin = nats_server_bin()?;
    Some(RefServer::start(&bin, &[]).await)
}

/// An embedded natrium-server on a random loopback port.
pub struct Embedded {
    /// The running server.
    pub server: natrium_server::Server,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
}

/// Starts an embedded natrium-server (the default for suites that need one server).
pub async fn embedded() -> Embedded {
    let server = natrium_server::Server::start(natrium_server::ServerOptions::ephemeral())
        .await
        .expect("embedded server starts");
    let url = server.client_url();
    Embedded { server, url }
}
