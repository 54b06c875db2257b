//! A JetStream server under test, ours (embedded) or the newest nats-server, started the same
//! way, so one scenario runs against both. Needs the test crate's `common` and `latest`
//! modules.

use std::path::Path;

use natrium_server::{JetStreamOptions, Server, ServerOptions};

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
