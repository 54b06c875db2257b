//! Test servers: the embedded natrium-server (default) and Debian's reference nats-server.
#![allow(dead_code)]

use std::time::Duration;

use natrium::{BrokerConfig, Codec, NatsBroker};
use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::reference_binary_or_skip;

/// A running NATS server for one test; stopped when dropped.
pub enum TestServer {
    /// natrium-server, in process.
    Embedded(natrium_server::Server),
    /// The reference `nats-server` child process.
    Reference(ServerProcess),
}

impl TestServer {
    /// The client URL.
    pub fn url(&self) -> String {
        match self {
            TestServer::Embedded(s) => s.client_url(),
            TestServer::Reference(server) => server.client_url(),
        }
    }

    /// A broker config for this server.
    pub fn config(&self) -> BrokerConfig {
        BrokerConfig::new([self.url()])
    }

    /// A connected broker with `codec`.
    pub async fn broker(&self, codec: Codec) -> NatsBroker {
        NatsBroker::connect(self.config().codec(codec))
            .await
            .expect("connect to test server")
    }

    /// Stops the server (and waits for it).
    pub async fn stop(self) {
        match self {
            TestServer::Embedded(s) => s.shutdown().await,
            TestServer::Reference(server) => server.shutdown().await,
        }
    }
}

/// The embedded server on a loopback port.
pub async fn embedded() -> TestServer {
    embedded_with(natrium_server::ServerOptions::ephemeral()).await
}

/// The embedded server with options (host/port are forced to loopback/ephemeral).
pub async fn embedded_with(mut opts: natrium_server::ServerOptions) -> TestServer {
    opts.host = "127.0.0.1".into();
    opts.port = 0;
    TestServer::Embedded(
        natrium_server::Server::start(opts)
            .await
            .expect("embedded natrium-server starts"),
    )
}

/// The reference nats-server on a loopback port, with extra arguments. When it is not
/// installed: fails under CI, otherwise warns loudly and returns `None`.
pub async fn reference_with(args: &[&str]) -> Option<TestServer> {
    let bin = reference_binary_or_skip("framework reference-server")?;
    let server = ServerCommand::new(bin)
        .args(args)
        .start()
        .await
        .expect("nats-server starts");
    Some(TestServer::Reference(server))
}

/// The reference server with default settings.
pub async fn reference() -> Option<TestServer> {
    reference_with(&[]).await
}

/// Failure bound for anything awaited in tests.
pub const BOUND: Duration = Duration::from_secs(10);

/// Awaits `fut` or fails the test after [`BOUND`].
pub async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
