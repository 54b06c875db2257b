//! Scripts run against natrium-server and the newest nats-server started from the same
//! configuration file: each step's answer is recorded (JSON with per-server fields masked)
//! and the two transcripts must agree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::{HeaderMap, client::RequestErrorKind};
use natrium_server::{Server, ServerOptions};
use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::latest_binary_or_skip;
use serde_json::{Value, json};
use tokio::time::timeout;

/// Upper bound for one step (a request, a message); never a pacing delay.
pub const WAIT: Duration = Duration::from_secs(5);

/// Keys whose values are times.
pub const TIME_KEYS: &[&str] = &[
    "created",
    "ts",
    "time",
    "first_ts",
    "last_ts",
    "last_active",
    "now",
    "timestamp",
];
/// Keys whose values name one server.
pub const SERVER_KEYS: &[&str] = &["server_id", "server_name", "leader", "cluster"];

/// Which server a script runs against.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Natrium,
    Latest,
}

/// A server under test: ours, embedded, or the reference binary.
pub enum Running {
    Natrium(Server),
    Latest {
        _server: ServerProcess,
        url: String,
        monitor: String,
    },
}

impl Running {
    /// `kind` from the configuration file; `None` when the reference is missing locally
    /// (`what` names the suite in the warning).
    pub async fn start(kind: Kind, config: &Path, what: &str) -> Option<Running> {
        Some(match kind {
            Kind::Natrium => Running::natrium(config).await,
            Kind::Latest => Running::latest(&latest_binary_or_skip(what)?, config).await,
        })
    }

    /// natrium-server from the configuration file, on free client and monitoring ports.
    pub async fn natrium(config: &Path) -> Running {
        let file = natrium_server::config::load(config).expect("the configuration loads");
        let opts = ServerOptions {
            host: "127.0.0.1".into(),
            port: 0,
            http_port: Some(0),
            ..file.options
        };
        Running::Natrium(super::start(opts).await)
    }

    /// The reference from the same file, on free client and monitoring ports.
    pub async fn latest(bin: &Path, config: &Path) -> Running {
        let text = std::fs::read_to_string(config).expect("read the configuration");
        let server = ServerCommand::new(bin)
            .config(text)
            .monitor()
            .start()
            .await
            .expect("nats-server starts");
        Running::Latest {
            url: server.client_url(),
            monitor: server.monitor_url().expect("monitoring address"),
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        match self {
            Running::Natrium(server) => server.client_url(),
            Running::Latest { url, .. } => url.clone(),
        }
    }

    pub fn monitor(&self) -> String {
        match self {
            Running::Natrium(server) => {
                format!(
                    "http://{}",
                    server.monitor_addr().expect("monitoring is on")
                )
            }
            Running::Latest { monitor, .. } => monitor.clone(),
        }
    }

    pub async fn shutdown(self) {
        if let Running::Natrium(server) = self {
            server.shutdown().await;
        }
    }
}

/// Writes `text` as `name` in `dir`, with `{store}` replaced by `dir/store`.
pub fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let store = dir.join("store");
    std::fs::write(&path, text.replace("{store}", &store.display().to_string()))
        .expect("write the configuration");
    path
}

/// Connects with a user name and password.
pub async fn connect_user(url: &str, (user, pass): (&str, &str)) -> async_nats::Client {
    timeout(
        WAIT,
        async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into()).connect(url),
    )
    .await
    .expect("connect within bound")
    .expect("connect")
}

/// Masks times, server names and API counters, keeping every key.
pub fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if TIME_KEYS.contains(&key.as_str()) {
                    if inner.as_str() != Some("0001-01-01T00:00:00Z") {
                        *inner = json!("<time>");
                    }
                } else if SERVER_KEYS.contains(&key.as_str()) {
                    *inner = json!("<server>");
                } else if key == "api" && inner.get("total").is_some() {
                    for counter in ["total", "errors"] {
                        if let Some(n) = inner.get_mut(counter) {
                            *n = json!("<n>");
                        }
                    }
                } else if key == "_nats.ver" {
                    *inner = json!("<version>");
                } else {
                    mask(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// What one script saw, step by step.
pub struct Transcript(pub Vec<(String, Value)>);

impl Transcript {
    pub fn new() -> Transcript {
        Transcript(Vec::new())
    }

    pub fn record(&mut self, label: &str, value: Value) {
        self.0.push((label.to_owned(), value));
    }

    pub fn get(&self, label: &str) -> &Value {
        &self
            .0
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no step {label}"))
            .1
    }

    /// Panics, naming the first step that differs, unless `other` saw the same.
    pub fn assert_same(&self, other: &Transcript, ours: &str, theirs: &str) {
        for ((label, a), (_, b)) in self.0.iter().zip(&other.0) {
            assert_eq!(a, b, "step {label:?}: {ours} (left) vs {theirs} (right)");
        }
        assert_eq!(self.0.len(), other.0.len(), "both ran every step");
    }
}

/// A request's outcome: the reply's JSON (masked), its raw text when not JSON, or what
/// went wrong (`no responders`, `timed out`).
pub async fn ask(
    client: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Value {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, *v);
    }
    let request = async_nats::Request::new()
        .payload(body.to_owned().into())
        .headers(map)
        .timeout(Some(WAIT));
    match client.send_request(subject.to_owned(), request).await {
        Ok(msg) => match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(mut v) => {
                mask(&mut v);
                v
            }
            Err(_) => json!({ "raw": String::from_utf8_lossy(&msg.payload) }),
        },
        Err(e) if e.kind() == RequestErrorKind::NoResponders => json!("no responders"),
        Err(e) if e.kind() == RequestErrorKind::TimedOut => json!("timed out"),
        Err(e) => panic!("{subject}: {e}"),
    }
}
