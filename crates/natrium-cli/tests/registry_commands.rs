//! `natrium registry ls|watch` on natrium-server (in process) and the newest nats-server:
//! instances registered with natrium's KV registry are listed (table and JSON) and watched;
//! the same with `--etcd` on a real etcd (`ETCD_BIN` or `etcd` on PATH).

mod support;

use natrium::jetstream::testing::JsTestServer;
#[cfg(feature = "etcd")]
use natrium::registry::testing::EtcdTestServer;
use natrium::registry::{DEFAULT_BUCKET, KvRegistry, Registrar, ServiceInstance};
#[cfg(feature = "etcd")]
use natrium::registry::{DEFAULT_TTL, EtcdRegistry};
use serde_json::Value;
use support::{run, spawn_listening, stderr, stdout};

fn instance(name: &str, id: &str) -> ServiceInstance {
    ServiceInstance {
        id: id.into(),
        name: name.into(),
        version: "1.2.3".into(),
        metadata: [("zone".to_owned(), "eu".to_owned())].into(),
        endpoints: vec![format!("http://127.0.0.1:8000/{id}")],
    }
}

async fn ls_and_watch(server: JsTestServer) {
    let url = server.url();
    let client = async_nats::connect(&url).await.expect("connect");
    let registry = KvRegistry::new(client);
    registry
        .register(&instance("saver", "saver-1"))
        .await
        .unwrap();
    registry
        .register(&instance("report", "report-1"))
        .await
        .unwrap();

    let all = run(&url, &["registry", "ls", "--json"]).await;
    assert!(all.status.success(), "{}", stderr(&all));
    let all: Value = serde_json::from_str(&stdout(&all)).unwrap();
    assert_eq!(
        all,
        serde_json::to_value([instance("report", "report-1"), instance("saver", "saver-1")])
            .unwrap()
    );

    let table = run(&url, &["registry", "ls", "saver"]).await;
    let table = stdout(&table);
    assert!(
        table.starts_with(&format!("1 instance(s) of saver in {DEFAULT_BUCKET}")),
        "{table}"
    );
    assert!(
        table.contains("saver-1")
            && table.contains("http://127.0.0.1:8000/saver-1")
            && table.contains("zone=eu"),
        "{table}"
    );
    assert!(!table.contains("report-1"), "{table}");

    let mut watch = spawn_listening(
        &url,
        &["registry", "watch", "saver", "--json", "--count", "3"],
    )
    .await;
    let first: Value = serde_json::from_str(&watch.next_line().await).unwrap();
    assert_eq!(
        first,
        serde_json::to_value([instance("saver", "saver-1")]).unwrap()
    );
    registry
        .register(&instance("saver", "saver-2"))
        .await
        .unwrap();
    let second: Value = serde_json::from_str(&watch.next_line().await).unwrap();
    assert_eq!(second.as_array().unwrap().len(), 2, "{second}");
    registry
        .deregister(&instance("saver", "saver-1"))
        .await
        .unwrap();
    let (ok, rest, err) = watch.finish().await;
    assert!(ok, "{err}");
    let third: Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(
        third,
        serde_json::to_value([instance("saver", "saver-2")]).unwrap()
    );

    let bad = run(&url, &["registry", "ls", "a.b"]).await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid service name \"a.b\""),
        "{}",
        stderr(&bad)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_ls_and_watch_on_natrium_server() {
    ls_and_watch(JsTestServer::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_ls_and_watch_on_nats_server_latest() {
    let Some(server) = JsTestServer::nats_server_latest().await else {
        return;
    };
    ls_and_watch(server).await;
}

// etcd's client builds with `protoc`: `--features etcd` (CI runs it so).
#[cfg(feature = "etcd")]
#[tokio::test(flavor = "multi_thread")]
async fn registry_ls_and_watch_on_etcd() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let endpoint = etcd.url();
    let registry = EtcdRegistry::connect(std::slice::from_ref(&endpoint), DEFAULT_TTL)
        .await
        .unwrap();
    registry
        .register(&instance("saver", "saver-1"))
        .await
        .unwrap();
    registry
        .register(&instance("report", "report-1"))
        .await
        .unwrap();
    // No NATS server at all: `-s` points nowhere, the etcd registry is read.
    let nowhere = "nats://127.0.0.1:1";

    let all = run(nowhere, &["registry", "--etcd", &endpoint, "ls", "--json"]).await;
    assert!(all.status.success(), "{}", stderr(&all));
    let all: Value = serde_json::from_str(&stdout(&all)).unwrap();
    assert_eq!(
        all,
        serde_json::to_value([instance("report", "report-1"), instance("saver", "saver-1")])
            .unwrap()
    );
    let table = run(nowhere, &["registry", "ls", "saver", "--etcd", &endpoint]).await;
    let table = stdout(&table);
    assert!(
        table.starts_with(&format!("1 instance(s) of saver in etcd {endpoint}")),
        "{table}"
    );
    assert!(table.contains("http://127.0.0.1:8000/saver-1"), "{table}");

    let mut watch = spawn_listening(
        nowhere,
        &[
            "registry", "watch", "--etcd", &endpoint, "--json", "--count", "2",
        ],
    )
    .await;
    let first: Value = serde_json::from_str(&watch.next_line().await).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2, "{first}");
    registry
        .deregister(&instance("report", "report-1"))
        .await
        .unwrap();
    let (ok, rest, err) = watch.finish().await;
    assert!(ok, "{err}");
    let second: Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(
        second,
        serde_json::to_value([instance("saver", "saver-1")]).unwrap()
    );

    let unreachable = format!(
        "http://127.0.0.1:{}",
        natrium_test_support::port::free_port()
    );
    let down = run(nowhere, &["registry", "ls", "--etcd", &unreachable]).await;
    assert!(!down.status.success());
    assert!(
        stderr(&down).contains(&format!("etcd {unreachable}")),
        "{}",
        stderr(&down)
    );
}
