//! The demo's services register themselves: report and saver are found through discovery
//! with the endpoints they bound, a report posted through the discovered URL is saved, and
//! a saver killed with SIGKILL leaves the registry within the TTL. `JsTestServer` picks the
//! server (the NATS registry needs JetStream): the embedded natrium-server by default, the
//! newest nats-server with `NATRIUM_JS_TEST_SERVER=nats-server-latest`. With
//! `registry: { kind: etcd }` both services are listed through etcd (a real etcd:
//! `ETCD_BIN` or `etcd` on PATH).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use natrium::NatsBroker;
use natrium::jetstream::testing::JsTestServer;
#[cfg(feature = "etcd")]
use natrium::registry::EtcdRegistry;
#[cfg(feature = "etcd")]
use natrium::registry::testing::EtcdTestServer;
use natrium::registry::{Discovery, KvRegistry, Pick, Resolver};
use report_demo::config::{CodecName, Config, NatsMode, RegistryKind};
use support::{start_report, start_saver, test_config, unique, wait_for_rows};

const BOUND: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(2);

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn registry_config(server: &JsTestServer, dir: &std::path::Path) -> Config {
    let mut config = test_config(&server.url(), CodecName::Json, dir, None);
    config.data.nats.mode = NatsMode::Jetstream;
    config.registry.kind = RegistryKind::Nats;
    config.registry.ttl = TTL;
    config
}

async fn discovery(server: &JsTestServer) -> KvRegistry {
    let broker = NatsBroker::connect(server.config()).await.expect("connect");
    KvRegistry::with_options(broker.client().clone(), "natrium_registry", TTL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn report_and_saver_are_listed_through_discovery_with_their_endpoints() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = registry_config(&server, dir.path());
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let discovery = discovery(&server).await;

    let reports = discovery.instances("report").await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].endpoints, std::slice::from_ref(&base));
    assert_eq!(reports[0].version, env!("CARGO_PKG_VERSION"));
    assert_eq!(reports[0].metadata["codec"], "json");
    let savers = discovery.instances("saver").await.unwrap();
    assert_eq!(savers.len(), 1, "{savers:?}");
    let saver_endpoints = &savers[0].endpoints;
    assert_eq!(saver_endpoints.len(), 2, "{saver_endpoints:?}");
    assert!(
        saver_endpoints[0].starts_with(&format!("{}?service=saver", server.url())),
        "{saver_endpoints:?}"
    );
    assert!(
        saver_endpoints[0].contains("subject=report.event")
            && saver_endpoints[0].contains("subject=report.user"),
        "{saver_endpoints:?}"
    );
    assert_eq!(saver_endpoints[1], format!("http://{}", saver.http_addr));

    // A caller that knows only the service name: resolve, post, and the saver saves it.
    let resolver = Resolver::new(&discovery, "report", Pick::RoundRobin)
        .await
        .unwrap();
    let name = unique("discovered");
    let response = reqwest::Client::new()
        .post(resolver.http_url("/v1/report").unwrap())
        .json(&serde_json::json!({"event_name": name, "content": "via registry"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let store = report_demo::store::Store::open(&config.data.database.url)
        .await
        .unwrap();
    wait_for_rows(&store, &name, 1, BOUND).await;

    report.stop().await.expect("report stops");
    bounded("report deregistered", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    saver.running.stop().await.expect("saver stops");
    assert!(discovery.instances("saver").await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_saver_leaves_the_registry_within_the_ttl() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let registry = format!("kind = \"nats\"\nttl = \"{}s\"\n", TTL.as_secs());
    sigkilled_saver_expires(&server, &registry, &discovery(&server).await, 1).await;
    server.stop().await;
}

// etcd's client builds with `protoc`: `--features etcd` (CI runs it so).
#[cfg(feature = "etcd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_etcd_a_sigkilled_saver_leaves_the_registry_within_the_ttl() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let registry = format!(
        "kind = \"etcd\"\netcd_endpoints = [\"{}\"]\nttl = \"{}s\"\n",
        etcd.url(),
        TTL.as_secs()
    );
    let discovery = EtcdRegistry::connect(&[etcd.url()], TTL).await.unwrap();
    // etcd revokes expired leases in a 500 ms loop: one more second of slack.
    sigkilled_saver_expires(&server, &registry, &discovery, 2).await;
    server.stop().await;
}

/// Runs the saver binary with `[registry]` = `registry`, kills it with SIGKILL and checks
/// that its entry leaves `discovery` within the TTL (plus `slack_secs` for the registry's
/// expiry timer and the event's delivery).
async fn sigkilled_saver_expires(
    server: &JsTestServer,
    registry: &str,
    discovery: &dyn Discovery,
    slack_secs: u64,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = registry_config(server, dir.path());
    let config_file = dir.path().join("saver.toml");
    std::fs::write(
        &config_file,
        format!(
            "[server.stats]\naddr = \"127.0.0.1:0\"\n[data.nats]\naddrs = [\"{}\"]\n[registry]\n{registry}",
            server.url(),
        ),
    )
    .unwrap();
    let resolver = Resolver::new(discovery, "saver", Pick::RoundRobin)
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_report-demo"))
        .arg("--config")
        .arg(&config_file)
        .arg("saver")
        .env("REPORT_DATA_DATABASE_URL", &config.data.database.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn report-demo saver");
    let listed = bounded("saver registered", resolver.wait_for(|i| !i.is_empty()))
        .await
        .unwrap();
    assert!(listed[0].id.starts_with("saver-"), "{listed:?}");

    child.kill().expect("SIGKILL");
    let killed = Instant::now();
    child.wait().unwrap();
    bounded("entry expired", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    let gone_after = killed.elapsed();
    eprintln!("entry gone {gone_after:?} after SIGKILL (TTL {TTL:?})");
    // The last refresh was at most TTL/3 before the kill, so the entry expires within the
    // TTL; the registry's expiry timer and the event's delivery get the slack.
    assert!(
        gone_after <= TTL + Duration::from_secs(slack_secs),
        "gone after {gone_after:?}, TTL {TTL:?}"
    );
}

#[cfg(feature = "etcd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_etcd_report_and_saver_are_listed_through_discovery() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(&server.url(), CodecName::Json, dir.path(), None);
    // The YAML a user writes: `registry: { kind: etcd, endpoints: [...] }`.
    let section: report_demo::config::RegistrySection = serde_yaml_ng::from_str(&format!(
        "{{ kind: etcd, endpoints: [\"{}\"], ttl: 2s }}",
        etcd.url()
    ))
    .unwrap();
    assert_eq!(section.kind, RegistryKind::Etcd);
    config.registry = section;
    let saver = start_saver(&config).await;
    let (report, base) = start_report(&config).await;
    let discovery = EtcdRegistry::connect(&[etcd.url()], TTL).await.unwrap();

    let reports = discovery.instances("report").await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].endpoints, std::slice::from_ref(&base));
    let savers = discovery.instances("saver").await.unwrap();
    assert_eq!(savers.len(), 1, "{savers:?}");
    assert!(
        savers[0]
            .endpoints
            .contains(&format!("http://{}", saver.http_addr)),
        "{savers:?}"
    );
    let all = discovery.all_instances().await.unwrap();
    let names: Vec<_> = all.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["report", "saver"]);

    let resolver = Resolver::new(&discovery, "report", Pick::RoundRobin)
        .await
        .unwrap();
    let name = unique("discovered-etcd");
    let response = reqwest::Client::new()
        .post(resolver.http_url("/v1/report").unwrap())
        .json(&serde_json::json!({"event_name": name, "content": "via etcd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let store = report_demo::store::Store::open(&config.data.database.url)
        .await
        .unwrap();
    wait_for_rows(&store, &name, 1, BOUND).await;

    report.stop().await.expect("report stops");
    bounded("report deregistered", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    saver.running.stop().await.expect("saver stops");
    assert!(discovery.instances("saver").await.unwrap().is_empty());
    server.stop().await;
}
