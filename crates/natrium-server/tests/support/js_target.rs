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
