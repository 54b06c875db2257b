//! Test servers: the embedded natrium-server (default) and Debian's reference nats-server.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use natrium::{BrokerConfig, Codec, NatsBroker};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running NATS server for one test; stopped when dropped.
pub enum TestServer {
    /// natrium-server, in process.
    Embedded(natrium_server::Server),
    /// The reference `nats-server` child process.
    Reference {
        url: String,
        child: tokio::process::Child,
    },
}

impl TestServer {
    /// The client URL.
    pub fn url(&self) -> String {
        match self {
            TestServer::Embedded(s) => s.client_url(),
            TestServer::Reference { url, .. } => url.clone(),
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
            TestServer::Reference { mut child, .. } => {
                let _ = child.kill().await;
            }
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

fn reference_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    debian.is_file().then_some(debian)
}

/// The reference nats-server on a loopback port, with extra arguments. When it is not
/// installed: fails under CI, otherwise warns loudly and returns `None`.
pub async fn reference_with(args: &[&str]) -> Option<TestServer> {
    let Some(bin) = reference_bin() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "reference nats-server not found (set NATS_SERVER_BIN or apt-get install -y nats-server)"
            );
        }
        eprintln!(
            "\n!!!!! WARNING: reference nats-server NOT FOUND — reference-server test SKIPPED.\n\
             !!!!! Install it with `apt-get install -y nats-server` or set NATS_SERVER_BIN.\n"
        );
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let mut child = tokio::process::Command::new(&bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn nats-server");
    // nats-server logs "Server is ready" once it accepts clients.
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("read nats-server log") {
            if line.contains("Server is ready") {
                return;
            }
        }
        panic!("nats-server exited before it was ready");
    })
    .await
    .expect("nats-server ready within 10 s");
    // Keep draining its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(TestServer::Reference {
        url: format!("nats://127.0.0.1:{port}"),
        child,
    })
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
