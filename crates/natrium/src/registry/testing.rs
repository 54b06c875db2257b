//! An etcd member for tests, in one call: [`EtcdTestServer::start`] (feature `etcd`).
//!
//! It runs `etcd` (`ETCD_BIN`, else `etcd` on `PATH`; Debian's `etcd-server` package) as a
//! child process on free loopback ports with its data in a temporary directory. When the
//! binary is missing it fails the test under `CI` and otherwise prints a loud warning and
//! returns `None`, so a test reads:
//!
//! ```no_run
//! # async fn t() {
//! use natrium::registry::testing::EtcdTestServer;
//! let Some(etcd) = EtcdTestServer::start().await else { return };
//! let registry = natrium::registry::EtcdRegistry::connect(&[etcd.url()], natrium::registry::DEFAULT_TTL)
//!     .await
//!     .unwrap();
//! # }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::test_process::{find_binary, free_port, spawn_ready};

/// The environment variable naming the etcd binary.
pub const ETCD_BIN_ENV: &str = "ETCD_BIN";

/// How long etcd may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// One etcd member on loopback; killed when dropped.
#[derive(Debug)]
pub struct EtcdTestServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<tokio::process::Child>,
}

impl EtcdTestServer {
    /// Starts etcd and waits until it serves clients; `None` (after a warning) when the
    /// binary is missing outside CI. Panics under `CI` when it is missing.
    pub async fn start() -> Option<EtcdTestServer> {
        let mut etcd = EtcdTestServer {
            bin: find_bin()?,
            dir: tempfile::tempdir().expect("a temporary directory"),
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
        };
        etcd.restart().await;
        Some(etcd)
    }

    /// The client URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Starts etcd again (after [`kill`](Self::kill)) on the same ports and data directory,
    /// and waits until it serves clients.
    pub async fn restart(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"));
        self.child =
            Some(spawn_ready(&mut command, "ready to serve client requests", READY_WITHIN).await);
    }

    /// Kills etcd with SIGKILL, keeping its data.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill etcd");
        }
    }

    /// Kills etcd and deletes its data: a registry that lost everything.
    pub async fn kill_and_wipe(&mut self) {
        self.kill().await;
        std::fs::remove_dir_all(self.data_dir()).expect("remove etcd's data");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// `ETCD_BIN`, else `etcd` on `PATH`. Missing: panics under `CI`, else warns and returns
/// `None`.
fn find_bin() -> Option<PathBuf> {
    find_binary(
        ETCD_BIN_ENV,
        "etcd",
        "etcd registry test",
        "Debian: etcd-server",
    )
}
