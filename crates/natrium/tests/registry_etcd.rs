//! The etcd registry against a real etcd (`ETCD_BIN`, else `etcd` on PATH; Debian's
//! `etcd-server`): register, discover and watch; an expired lease removes a process that
//! died; etcd restarted without its data gets the registration back; duplicates, an
//! unreachable etcd at start, and an App deregistering before its HTTP server stops.

use std::time::{Duration, Instant};

use futures::StreamExt;
use natrium::registry::testing::EtcdTestServer;
use natrium::registry::{
    Discovery, EtcdRegistry, Pick, Registrar, RegistryError, Resolver, ServiceInstance,
};
use natrium::{App, AppHandle, Error, HttpServer};
use natrium_test_support::port::free_port;

const BOUND: Duration = Duration::from_secs(20);
const TTL: Duration = Duration::from_secs(2);

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn registry(etcd: &EtcdTestServer) -> EtcdRegistry {
    EtcdRegistry::connect(&[etcd.url()], TTL)
        .await
        .expect("connect")
}

fn instance(name: &str, id: &str) -> ServiceInstance {
    ServiceInstance {
        id: id.into(),
        name: name.into(),
        version: "1.0.0".into(),
        metadata: [("zone".to_owned(), "a".to_owned())].into(),
        endpoints: vec![format!("http://127.0.0.1:1/{id}")],
    }
}

#[tokio::test]
async fn etcd_watch_sees_instances_come_and_go_and_leases_outlive_the_ttl() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let discovery = registry(&etcd).await;
    let registry = registry(&etcd).await;
    registry.register(&instance("other", "o1")).await.unwrap();
    let mut watch = discovery.watch("saver").await.unwrap();
    assert_eq!(bounded("first", watch.next()).await.unwrap().unwrap(), []);
    registry.register(&instance("saver", "s1")).await.unwrap();
    assert_eq!(
        bounded("s1 up", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s1")]
    );
    registry.register(&instance("saver", "s2")).await.unwrap();
    assert_eq!(
        bounded("s2 up", watch.next()).await.unwrap().unwrap().len(),
        2
    );
    // Kept alive: nothing changes over three TTLs.
    tokio::time::timeout(TTL * 3, watch.next())
        .await
        .expect_err("leases are kept alive");
    registry.deregister(&instance("saver", "s1")).await.unwrap();
    assert_eq!(
        bounded("s1 down", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s2")]
    );
    assert_eq!(
        discovery.instances("other").await.unwrap(),
        [instance("other", "o1")]
    );
    assert_eq!(
        discovery.all_instances().await.unwrap(),
        [instance("other", "o1"), instance("saver", "s2")]
    );
    let mut all = discovery.watch_all().await.unwrap();
    assert_eq!(bounded("all", all.next()).await.unwrap().unwrap().len(), 2);
    registry.deregister(&instance("other", "o1")).await.unwrap();
    assert_eq!(
        bounded("o1 down", all.next()).await.unwrap().unwrap(),
        [instance("saver", "s2")]
    );
    let err = registry.register(&instance("saver", "s2")).await;
    assert!(
        err.is_ok(),
        "registering the same instance again is fine: {err:?}"
    );
    let mut other = instance("saver", "s2");
    other.endpoints = vec!["http://elsewhere:1".into()];
    let err = discovery.register(&other).await.unwrap_err();
    assert!(matches!(err, RegistryError::Duplicate { .. }), "{err}");
}

#[tokio::test]
async fn etcd_an_instance_whose_process_died_expires_with_its_lease() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let discovery = registry(&etcd).await;
    let resolver = Resolver::new(&discovery, "saver", Pick::RoundRobin)
        .await
        .unwrap();
    let doomed = registry(&etcd).await;
    doomed.register(&instance("saver", "s1")).await.unwrap();
    bounded("listed", resolver.wait_for(|i| i.len() == 1))
        .await
        .unwrap();
    // Dropping the registry stops its keep-alive without deregistering, as a SIGKILL does.
    drop(doomed);
    let died = Instant::now();
    bounded("expired", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    let gone = died.elapsed();
    eprintln!("etcd entry gone {gone:?} after the keep-alive stopped (TTL {TTL:?})");
    // etcd may round a lease up to its minimum TTL; allow it and one second of slack.
    assert!(gone <= TTL + Duration::from_secs(2), "gone after {gone:?}");
}

#[tokio::test]
async fn etcd_restarted_without_its_data_gets_the_registration_back() {
    let Some(mut etcd) = EtcdTestServer::start().await else {
        return;
    };
    let registry = registry(&etcd).await;
    registry.register(&instance("saver", "s1")).await.unwrap();
    // A watch opened before the restart keeps following after it.
    let before = self::registry(&etcd).await;
    let mut old_watch = before.watch("saver").await.unwrap();
    assert_eq!(
        bounded("first", old_watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s1")]
    );
    etcd.kill_and_wipe().await;
    etcd.restart().await;
    let discovery = self::registry(&etcd).await;
    let mut watch = discovery.watch("saver").await.unwrap();
    bounded("restored", async {
        while let Some(list) = watch.next().await {
            if list.unwrap() == [instance("saver", "s1")] {
                return;
            }
        }
        panic!("watch ended");
    })
    .await;
    discovery.register(&instance("saver", "s2")).await.unwrap();
    bounded("the old watch follows", async {
        while let Some(list) = old_watch.next().await {
            // Errors while etcd was down are expected; the watch goes on.
            if let Ok(list) = list
                && list == [instance("saver", "s1"), instance("saver", "s2")]
            {
                return;
            }
        }
        panic!("the old watch ended");
    })
    .await;
}

#[tokio::test]
async fn etcd_an_app_fails_to_start_when_etcd_is_unreachable() {
    // Only to fail under CI without etcd, as the other tests do.
    let Some(_etcd) = EtcdTestServer::start().await else {
        return;
    };
    let registrar = EtcdRegistry::connect(&[format!("http://127.0.0.1:{}", free_port())], TTL)
        .await
        .expect("connecting is lazy");
    let app = App::new("lonely")
        .handle_signals(false)
        .registrar(registrar)
        .server(HttpServer::new(([127, 0, 0, 1], 0), axum::Router::new()));
    let err = bounded("start fails", app.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Registry(RegistryError::Backend { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn etcd_an_app_deregisters_before_its_http_server_stops() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let discovery = registry(&etcd).await;
    let resolver = Resolver::new(&discovery, "pricing", Pick::Random)
        .await
        .unwrap();
    let (client_done, hook_wait) = tokio::sync::oneshot::channel::<()>();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "up" }));
    let app = App::new("pricing")
        .handle_signals(false)
        .registrar(registry(&etcd).await)
        .server(HttpServer::new(([127, 0, 0, 1], 0), router))
        .before_stop(|_| async move {
            let _ = hook_wait.await;
            Ok(())
        });
    let handle = app.handle();
    let running = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await);
    bounded("listed", resolver.wait_for(|i| i.len() == 1))
        .await
        .unwrap();
    let url = resolver.http_url("/").unwrap();
    handle.stop();
    bounded("deregistered", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    let body = reqwest::get(&url)
        .await
        .expect("still serving")
        .text()
        .await
        .unwrap();
    assert_eq!(body, "up");
    client_done.send(()).unwrap();
    bounded("stopped", running).await.unwrap().unwrap();
    assert!(reqwest::get(&url).await.is_err());
}

#[tokio::test]
async fn etcd_restarted_with_its_data_keeps_the_registration_alive() {
    let Some(mut etcd) = EtcdTestServer::start().await else {
        return;
    };
    let registry = registry(&etcd).await;
    registry.register(&instance("saver", "s1")).await.unwrap();
    etcd.kill().await;
    etcd.restart().await;
    let discovery = self::registry(&etcd).await;
    let mut watch = discovery.watch("saver").await.unwrap();
    assert_eq!(
        bounded("first", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s1")]
    );
    // The old keep-alive stream broke with the restart; the registration must survive
    // several TTLs after it (a new lease, or the old one kept alive again).
    if let Ok(change) = tokio::time::timeout(TTL * 4, watch.next()).await {
        let list = change.unwrap().unwrap();
        // A re-registration under a new lease may show as one re-put of the same value.
        assert_eq!(list, [instance("saver", "s1")], "lost after the restart");
        tokio::time::timeout(TTL * 3, watch.next())
            .await
            .expect_err("registration kept alive after the restart");
    }
    assert_eq!(
        discovery.instances("saver").await.unwrap(),
        [instance("saver", "s1")]
    );
}

#[tokio::test]
async fn etcd_an_unreachable_etcd_is_a_backend_error_naming_it() {
    // Only to fail under CI without etcd, as the other tests do.
    let Some(_etcd) = EtcdTestServer::start().await else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", free_port());
    let registry = EtcdRegistry::connect(std::slice::from_ref(&url), TTL)
        .await
        .expect("connecting is lazy");
    let err = bounded(
        "register fails",
        registry.register(&instance("saver", "s1")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RegistryError::Backend { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("register saver/s1") && text.contains(&url),
        "{text}"
    );
    let err = bounded("list fails", registry.instances("saver"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Backend { .. }), "{err}");
    let none: [&str; 0] = [];
    let err = EtcdRegistry::connect(&none, TTL).await.unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { .. }), "{err}");
}

async fn hello(axum::extract::State(id): axum::extract::State<String>) -> String {
    id
}

fn app(name: &str, id: &str, registrar: EtcdRegistry) -> App {
    let router = axum::Router::new()
        .route("/", axum::routing::get(hello))
        .with_state(id.to_owned());
    App::new(name)
        .id(id)
        .handle_signals(false)
        .registrar(registrar)
        .server(HttpServer::new(([127, 0, 0, 1], 0), router))
}

async fn run(app: App) -> (AppHandle, tokio::task::JoinHandle<natrium::Result<()>>) {
    let handle = app.handle();
    let running = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await, "app got ready");
    (handle, running)
}

#[tokio::test]
async fn etcd_two_apps_with_one_name_are_both_discovered_and_picked_in_turn() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let discovery = registry(&etcd).await;
    let (a, run_a) = run(app("quote", "quote-a", registry(&etcd).await)).await;
    let (b, run_b) = run(app("quote", "quote-b", registry(&etcd).await)).await;
    let resolver = Resolver::new(&discovery, "quote", Pick::RoundRobin)
        .await
        .unwrap();
    let ids: Vec<_> = resolver.instances().iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids, ["quote-a", "quote-b"]);
    let mut answers = Vec::new();
    for _ in 0..4 {
        let url = resolver.http_url("/").unwrap();
        answers.push(reqwest::get(url).await.unwrap().text().await.unwrap());
    }
    assert_eq!(answers, ["quote-a", "quote-b", "quote-a", "quote-b"]);
    a.stop();
    bounded("a stops", run_a).await.unwrap().unwrap();
    let left = bounded("a gone", resolver.wait_for(|i| i.len() == 1))
        .await
        .unwrap();
    assert_eq!(left[0].id, "quote-b");
    b.stop();
    bounded("b stops", run_b).await.unwrap().unwrap();
}

#[tokio::test]
async fn etcd_a_duplicate_instance_id_fails_the_second_start_and_keeps_the_first() {
    let Some(etcd) = EtcdTestServer::start().await else {
        return;
    };
    let (first, running) = run(app("dup", "dup-1", registry(&etcd).await)).await;
    let second = app("dup", "dup-1", registry(&etcd).await);
    let err = bounded("second app", second.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Registry(RegistryError::Duplicate { ref id, .. }) if id == "dup-1"),
        "{err}"
    );
    let listed = registry(&etcd).await.instances("dup").await.unwrap();
    assert_eq!(listed, [first.registered().unwrap()]);
    first.stop();
    bounded("first stops", running).await.unwrap().unwrap();
    assert!(
        registry(&etcd)
            .await
            .instances("dup")
            .await
            .unwrap()
            .is_empty()
    );
}
