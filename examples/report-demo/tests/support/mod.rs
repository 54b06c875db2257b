//! Shared test helpers: databases, a NATS server, unique names.
#![allow(dead_code)] // each test binary uses a different subset.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use report_demo::store::Store;

/// `REPORT_DEMO_POSTGRES_URL`, or `None` after a loud warning when running locally.
/// In CI (env `CI` set) a missing URL fails the test: the suite must not silently shrink.
pub fn postgres_url() -> Option<String> {
    match std::env::var("REPORT_DEMO_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but REPORT_DEMO_POSTGRES_URL is not: the PostgreSQL tests must run in CI"
            )
        }
        _ => {
            eprintln!(
                "\n!!! WARNING: REPORT_DEMO_POSTGRES_URL is not set, so this PostgreSQL test did NOT run.\n\
                 !!! Start PostgreSQL (apt-get install -y postgresql) and set e.g.\n\
                 !!! REPORT_DEMO_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/report_demo\n"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same database) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls the database until `event_name` has at least `want` rows or `deadline` passes, then
/// returns the rows. There is no event for "the saver committed", so a short poll bounded by a
/// deadline is the honest wait here.
pub async fn wait_for_rows(
    store: &Store,
    event_name: &str,
    want: usize,
    deadline: Duration,
) -> Vec<String> {
    let start = Instant::now();
    loop {
        let rows = store
            .event_report_data(event_name)
            .await
            .unwrap_or_else(|e| panic!("query failed: {e}"));
        if rows.len() >= want || start.elapsed() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts that every row is one of `item-0`..`item-{n-1}` and none appears twice.
pub fn assert_at_most_once(rows: &[String], n: usize) {
    let mut seen = vec![false; n];
    for row in rows {
        let index = row
            .strip_prefix("item-")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < n)
            .unwrap_or_else(|| panic!("unexpected row {row:?}"));
        assert!(!seen[index], "{row} saved twice");
        seen[index] = true;
    }
}

/// Asserts that `rows` is exactly `0..n` formatted as `item-{i}`, once each.
pub fn assert_exactly_once(rows: &[String], n: usize) {
    let mut seen = vec![0u32; n];
    for row in rows {
        let index = row
            .strip_prefix("item-")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < n)
            .unwrap_or_else(|| panic!("unexpected row {row:?}"));
        seen[index] += 1;
    }
    let missing: Vec<usize> = (0..n).filter(|i| seen[*i] == 0).collect();
    let doubled: Vec<usize> = (0..n).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "{} rows for {n} reports; missing {:?}…, duplicated {:?}…",
        rows.len(),
        &missing[..missing.len().min(10)],
        &doubled[..doubled.len().min(10)]
    );
}

/// A NATS server for a test: the embedded natrium-server by default, or Debian's
/// `nats-server` when `REPORT_DEMO_NATS=reference` (to compare behaviour).
pub enum Nats {
    /// In-process natrium-server.
    Embedded(natrium_server::Server),
    /// A `nats-server` child process (killed on drop).
    Reference(natrium_test_support::process::ServerProcess),
}

impl Nats {
    /// Starts a server on a free loopback port; ready when this returns.
    pub async fn start() -> Nats {
        if std::env::var("REPORT_DEMO_NATS").as_deref() == Ok("reference") {
            return Self::start_reference().await;
        }
        let server = natrium_server::Server::start(natrium_server::ServerOptions::ephemeral())
            .await
            .unwrap_or_else(|e| panic!("embedded NATS server: {e}"));
        Nats::Embedded(server)
    }

    async fn start_reference() -> Nats {
        let bin = natrium_test_support::reference::reference_binary().expect(
            "REPORT_DEMO_NATS=reference needs nats-server (NATS_SERVER_BIN, PATH, /usr/sbin/nats-server)",
        );
        let server = natrium_test_support::process::ServerCommand::new(bin)
            .start()
            .await
            .unwrap_or_else(|e| panic!("reference NATS server: {e}"));
        Nats::Reference(server)
    }

    /// The client URL.
    pub fn url(&self) -> String {
        match self {
            Nats::Embedded(server) => server.client_url(),
            Nats::Reference(server) => server.client_url(),
        }
    }

    /// Stops the server; clients see their connection close.
    pub async fn shutdown(&mut self) {
        match self {
            Nats::Embedded(server) => server.shutdown().await,
            Nats::Reference(server) => server.kill().await,
        }
    }
}

/// A test configuration: everything on free loopback ports, SQLite under `dir` unless
/// `database_url` is given.
pub fn test_config(
    nats_url: &str,
    codec: report_demo::config::CodecName,
    dir: &std::path::Path,
    database_url: Option<&str>,
) -> report_demo::config::Config {
    let mut config = report_demo::config::Config::default();
    config.server.http.addr = "127.0.0.1:0".parse().expect("addr");
    config.server.http.publish_timeout = Duration::from_millis(500);
    config.server.stats.addr = "127.0.0.1:0".parse().expect("addr");
    config.data.nats.addrs = vec![nats_url.to_owned()];
    config.data.nats.codec = codec;
    // These tests run on servers without JetStream (the embedded one, Debian's 2.9.10);
    // the JetStream suite (tests/jetstream.rs) sets its own mode.
    config.data.nats.mode = report_demo::config::NatsMode::Core;
    // Registering needs JetStream too; tests/registry.rs turns it on.
    config.registry.kind = report_demo::config::RegistryKind::None;
    config.data.database.url = database_url.map_or_else(
        || format!("sqlite://{}", dir.join("report.db").display()),
        str::to_owned,
    );
    config
}

/// A running saver and what the test reads from it.
pub struct SaverUnderTest {
    /// The running app.
    pub running: natrium::app::RunningApp,
    /// The address of its stats HTTP server.
    pub http_addr: std::net::SocketAddr,
    /// Its service (counters).
    pub saver: report_demo::saver::SaverService,
    /// Its NATS transport server (subscription counters).
    pub nats: natrium::NatsServer,
}

/// Starts a saver app on `config`.
pub async fn start_saver(config: &report_demo::config::Config) -> SaverUnderTest {
    let app = report_demo::run::saver_app(config)
        .await
        .unwrap_or_else(|e| panic!("saver: {e}"));
    let (running, http_addr) =
        report_demo::run::spawn("saver", app.app.handle_signals(false), &app.http)
            .await
            .unwrap_or_else(|e| panic!("saver: {e}"));
    SaverUnderTest {
        running,
        http_addr,
        saver: app.saver,
        nats: app.nats,
    }
}

/// Starts a report app on `config`; returns it and the base URL of its API.
pub async fn start_report(
    config: &report_demo::config::Config,
) -> (natrium::app::RunningApp, String) {
    let app = report_demo::run::report_app(config)
        .await
        .unwrap_or_else(|e| panic!("report: {e}"));
    let (running, addr) =
        report_demo::run::spawn("report", app.app.handle_signals(false), &app.http)
            .await
            .unwrap_or_else(|e| panic!("report: {e}"));
    let base = format!("http://{addr}");
    (running, base)
}

/// Posts `n` reports named `event_name` (content `item-{i}`), `concurrency` at a time;
/// returns how many were answered `{"code":0,"msg":"success"}`.
pub async fn post_reports(base: &str, event_name: &str, n: usize, concurrency: usize) -> usize {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/report");
    futures::stream::iter(0..n)
        .map(|i| {
            let request = client.post(&url).json(
                &serde_json::json!({"event_name": event_name, "content": format!("item-{i}")}),
            );
            async move {
                let response = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("POST {i}: {e}"));
                let status = response.status();
                let body: serde_json::Value = response
                    .json()
                    .await
                    .unwrap_or_else(|e| panic!("POST {i} body: {e}"));
                status == reqwest::StatusCode::OK
                    && body == serde_json::json!({"code": 0, "msg": "success"})
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await
}
