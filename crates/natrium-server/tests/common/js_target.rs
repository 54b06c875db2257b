//! A JetStream server under test, ours (embedded) or the newest nats-server, started the same
//! way, so one scenario runs against both: `both!` makes the pair of tests and `run` the
//! harness. A test file gets it with `#[macro_use] mod common;`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream;
use natrium_server::{JetStreamOptions, Server, ServerOptions};
use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference;
use tokio::time::timeout;

use crate::common;

/// A running JetStream server: ours, embedded, or the reference binary.
pub enum Target {
    Natrium(Server),
    Latest(ServerProcess),
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
            let bin = reference::latest_binary_or_skip(suite)?;
            let server = ServerCommand::new(&bin)
                .jetstream(dir)
                .port(port)
                .start()
                .await
                .expect("nats-server starts");
            Some(Target::Latest(server))
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
#[allow(unused_macros)] // not every test file runs scenarios on both servers
macro_rules! both {
    ($suite:expr, $natrium:ident, $latest:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $natrium() {
            $crate::common::js_target::run(
                $crate::common::js_target::Kind::Natrium,
                &$suite,
                |js| Box::pin($scenario(js)),
            )
            .await;
        }
        #[tokio::test]
        async fn $latest() {
            $crate::common::js_target::run(
                $crate::common::js_target::Kind::Latest,
                &$suite,
                |js| Box::pin($scenario(js)),
            )
            .await;
        }
    };
}
