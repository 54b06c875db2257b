//! A JetStream server under test, ours (embedded) or the newest nats-server, started the same
//! way, so one scenario runs against both: `both!` makes the pair of tests and `run` the
//! harness. Needs the test crate's `common` and `latest` modules; include it with
//! `#[macro_use] #[path = "support/js_target.rs"] mod js_target;`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream;
use natrium_server::{JetStreamOptions, Server, ServerOptions};
use tokio::time::timeout;

use crate::{common, latest};

/// A running JetStream server: ours, embedded, or the reference binary.
pub enum Target {
    Natrium(Server),
    Latest(latest::LatestServer),
}

impl Target {
    pub fn url(&self) -> String {
        match self {
            Target::Natrium(server) => server.client_url(),
            Target::Latest(server) => server.client_url(),
        }
    }

    pub async fn shutdown(self) {
        match self {
            Target::Natrium(server) => server.shutdown().await,
            Target::Latest(server) => server.shutdown().await,
        }
    }
}

/// Which implementation to start.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Natrium,
    Latest,
}

/// Starts `kind` storing in `dir` on `port` (0: any free port); `None` when the reference
/// binary is missing locally (see `latest_binary_or_skip`; `suite` names what is skipped).
pub async fn start(kind: Kind, dir: &Path, port: u16, suite: &str) -> Option<Target> {
    match kind {
        Kind::Natrium => {
            let opts = ServerOptions {
                jetstream: Some(JetStreamOptions::in_dir(dir)),
                port,
                ..ServerOptions::ephemeral()
            };
            Some(Target::Natrium(common::start(opts).await))
        }
        Kind::Latest => {
            let bin = latest::latest_binary_or_skip(suite)?;
            let server = latest::LatestServer::start_js_on(&bin, dir, port)
                .await
                .expect("nats-server starts");
            Some(Target::Latest(server))
        }
    }
}

/// The port of a `nats://host:port` URL.
#[allow(dead_code)] // not every suite restarts a server
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A free port below Linux's ephemeral range (32768–60999), for a server restarted on the
/// same port: a port the OS handed out could be taken meanwhile as the local port of some
/// other test's client connection, and the restart would fail with "address in use".
#[allow(dead_code)] // not every suite restarts a server
pub fn restartable_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread concurrent test binaries apart; within one binary, never hand a port out twice.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % 500) as u16 * 20;
    loop {
        let port = 20_000 + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A suite of scenarios: its name (in the warning when the reference binary is missing) and
/// how long one scenario may take.
pub struct Suite {
    pub name: &'static str,
    pub bound: Duration,
}

/// One scenario, given a JetStream context on a fresh server.
pub type Scenario = fn(jetstream::Context) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A JetStream context on a new client of `target`.
pub async fn context(target: &Target) -> jetstream::Context {
    let client = timeout(common::BOUND, async_nats::connect(target.url()))
        .await
        .expect("connect within bound")
        .expect("connect");
    jetstream::new(client)
}

/// Runs `scenario` against a fresh `kind` server with its own store directory, within
/// `suite.bound`.
pub async fn run(kind: Kind, suite: &Suite, scenario: Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let Some(target) = start(kind, dir.path(), 0, suite.name).await else {
        return;
    };
    let js = context(&target).await;
    timeout(suite.bound, scenario(js))
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: scenario within bound"));
    target.shutdown().await;
}

/// `both!(SUITE, natrium_test, latest_test, scenario)`: two tests that run `scenario` under
/// `SUITE`, one against natrium-server and one against the newest nats-server.
macro_rules! both {
    ($suite:expr, $natrium:ident, $latest:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $natrium() {
            $crate::js_target::run($crate::js_target::Kind::Natrium, &$suite, |js| {
                Box::pin($scenario(js))
            })
            .await;
        }
        #[tokio::test]
        async fn $latest() {
            $crate::js_target::run($crate::js_target::Kind::Latest, &$suite, |js| {
                Box::pin($scenario(js))
            })
            .await;
        }
    };
}
