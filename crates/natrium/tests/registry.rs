//! The NATS KV registry on both JetStream servers (natrium-server embedded and the newest
//! nats-server): register, discover and watch; an App registering its bound endpoints and
//! deregistering before its HTTP server stops; lost registrations restored; an unreachable
//! registry, duplicate ids and two apps with one name.

use std::time::Duration;

use futures::StreamExt;
use natrium::jetstream::testing::JsTestServer;
use natrium::registry::{
    Discovery, KvRegistry, Pick, Registrar, RegistryError, Resolver, ServiceInstance,
};
use natrium::{App, AppHandle, Error, HandlerError, HttpServer, Json, NatsBroker, NatsServer};

const BOUND: Duration = Duration::from_secs(20);
const TTL: Duration = Duration::from_secs(2);

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Runs a test body on natrium-server and on the newest nats-server.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            use natrium::jetstream::testing::JsTestServer;

            #[tokio::test]
            async fn embedded() {
                super::$name(JsTestServer::embedded().await).await;
            }

            #[tokio::test]
            async fn nats_server_latest() {
                let Some(server) = JsTestServer::nats_server_latest().await else {
                    return;
                };
                super::$name(server).await;
            }
        }
    };
}

async fn registry(server: &JsTestServer) -> KvRegistry {
    let broker = NatsBroker::connect(server.config()).await.expect("connect");
    KvRegistry::with_options(broker.client().clone(), "natrium_registry", TTL)
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

both!(watch_sees_instances_come_and_go);
async fn watch_sees_instances_come_and_go(server: JsTestServer) {
    let discovery = registry(&server).await;
    let registry = registry(&server).await;
    registry.register(&instance("other", "o1")).await.unwrap();
    let mut watch = discovery.watch("saver").await.unwrap();
    assert_eq!(
        bounded("first list", watch.next()).await.unwrap().unwrap(),
        []
    );

    registry.register(&instance("saver", "s1")).await.unwrap();
    assert_eq!(
        bounded("s1 up", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s1")]
    );
    registry.register(&instance("saver", "s2")).await.unwrap();
    assert_eq!(
        bounded("s2 up", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s1"), instance("saver", "s2")]
    );
    assert_eq!(
        discovery.instances("saver").await.unwrap(),
        [instance("saver", "s1"), instance("saver", "s2")]
    );
    registry.deregister(&instance("saver", "s1")).await.unwrap();
    assert_eq!(
        bounded("s1 down", watch.next()).await.unwrap().unwrap(),
        [instance("saver", "s2")]
    );
    // Keep-alive refreshes (every TTL/3) are not changes: the next item is s2 leaving.
    tokio::time::timeout(TTL, watch.next())
        .await
        .expect_err("refreshes yield nothing");
    registry.deregister(&instance("saver", "s2")).await.unwrap();
    assert_eq!(bounded("s2 down", watch.next()).await.unwrap().unwrap(), []);
    assert_eq!(
        registry.all_instances().await.unwrap(),
        [instance("other", "o1")]
    );
    server.stop().await;
}

both!(a_registration_outlives_several_ttls_while_kept_alive);
async fn a_registration_outlives_several_ttls_while_kept_alive(server: JsTestServer) {
    let registry = registry(&server).await;
    registry.register(&instance("saver", "s1")).await.unwrap();
    let mut watch = registry.watch("saver").await.unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().len(), 1);
    // Nothing may change for three TTLs: an expiry would show as a removal.
    tokio::time::timeout(TTL * 3, watch.next())
        .await
        .expect_err("the registration never expires while kept alive");
    assert_eq!(registry.instances("saver").await.unwrap().len(), 1);
    server.stop().await;
}

both!(an_invalid_service_name_or_id_is_a_typed_error);
async fn an_invalid_service_name_or_id_is_a_typed_error(server: JsTestServer) {
    let registry = registry(&server).await;
    let err = registry
        .register(&instance("report.v1", "a"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Invalid {
                what: "service name",
                ..
            }
        ),
        "{err}"
    );
    let err = registry
        .register(&instance("report", "a b"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Invalid {
                what: "instance id",
                ..
            }
        ),
        "{err}"
    );
    let err = registry.instances("a.>").await.unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { .. }), "{err}");
    server.stop().await;
}

async fn hello(axum::extract::State(id): axum::extract::State<String>) -> String {
    id
}

/// An app named `name` with id `id`: an HTTP server answering its id on `/` and a NATS
/// server with one responder.
fn app(server: &JsTestServer, name: &str, id: &str, registrar: KvRegistry) -> App {
    let router = axum::Router::new()
        .route("/", axum::routing::get(hello))
        .with_state(id.to_owned());
    let nats = NatsServer::builder(server.config())
        .reply(format!("{name}.echo"), || async {
            Ok::<_, HandlerError>(Json("pong"))
        })
        .build()
        .unwrap();
    App::new(name)
        .id(id)
        .version("2.0.0")
        .handle_signals(false)
        .registrar(registrar)
        .server(HttpServer::new(([127, 0, 0, 1], 0), router))
        .server(nats)
}

async fn run(app: App) -> (AppHandle, tokio::task::JoinHandle<natrium::Result<()>>) {
    let handle = app.handle();
    let running = tokio::spawn(app.run());
    assert!(bounded("ready", handle.ready()).await, "app got ready");
    (handle, running)
}

both!(an_app_registers_its_bound_endpoints_and_deregisters_before_http_stops);
async fn an_app_registers_its_bound_endpoints_and_deregisters_before_http_stops(
    server: JsTestServer,
) {
    let discovery = registry(&server).await;
    let resolver = Resolver::new(&discovery, "pricing", Pick::RoundRobin)
        .await
        .unwrap();
    let (client_done, hook_wait) = tokio::sync::oneshot::channel::<()>();
    let app = app(&server, "pricing", "pricing-1", registry(&server).await).before_stop(
        // Holds the servers up until the client has called in after the deregistration:
        // if deregistering came after the servers stopped, this would never be released.
        |_| async move {
            let _ = hook_wait.await;
            Ok(())
        },
    );
    let (handle, running) = run(app).await;
    let registered = handle.registered().expect("registered");
    let up = bounded("instance listed", resolver.wait_for(|i| !i.is_empty()))
        .await
        .unwrap();
    assert_eq!(up, std::slice::from_ref(&registered));
    assert_eq!(registered.version, "2.0.0");
    let http = resolver.endpoint("http").unwrap();
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    let nats = resolver.endpoint("nats").unwrap();
    assert_eq!(
        nats,
        format!("{}?service=pricing&subject=pricing.echo", server.url())
    );
    let body = reqwest::get(resolver.http_url("/").unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "pricing-1");

    handle.stop();
    bounded("instance gone", resolver.wait_for(|i| i.is_empty()))
        .await
        .unwrap();
    // Deregistered, and the HTTP server still answers.
    let still = reqwest::get(format!("{http}/"))
        .await
        .expect("HTTP still serves");
    assert_eq!(still.text().await.unwrap(), "pricing-1");
    client_done.send(()).unwrap();
    bounded("app stops", running).await.unwrap().unwrap();
    assert!(handle.registered().is_none());
    assert!(
        reqwest::get(format!("{http}/")).await.is_err(),
        "HTTP stopped after"
    );
    server.stop().await;
}

both!(two_apps_with_one_name_are_both_discovered_and_picked_in_turn);
async fn two_apps_with_one_name_are_both_discovered_and_picked_in_turn(server: JsTestServer) {
    let discovery = registry(&server).await;
    let (a, run_a) = run(app(&server, "quote", "quote-a", registry(&server).await)).await;
    let (b, run_b) = run(app(&server, "quote", "quote-b", registry(&server).await)).await;
    let resolver = Resolver::new(&discovery, "quote", Pick::RoundRobin)
        .await
        .unwrap();
    assert_eq!(
        resolver
            .instances()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        ["quote-a", "quote-b"]
    );
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
    server.stop().await;
}

both!(a_duplicate_instance_id_fails_the_second_start_and_keeps_the_first);
async fn a_duplicate_instance_id_fails_the_second_start_and_keeps_the_first(server: JsTestServer) {
    let (first, running) = run(app(&server, "dup", "dup-1", registry(&server).await)).await;
    let second = app(&server, "dup", "dup-1", registry(&server).await);
    let err = bounded("second app", second.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Registry(RegistryError::Duplicate { ref id, .. }) if id == "dup-1"),
        "{err}"
    );
    let listed = registry(&server).await.instances("dup").await.unwrap();
    assert_eq!(listed, [first.registered().unwrap()]);
    first.stop();
    bounded("first stops", running).await.unwrap().unwrap();
    server.stop().await;
}

both!(an_unreachable_registry_fails_the_start_and_stops_the_servers);
async fn an_unreachable_registry_fails_the_start_and_stops_the_servers(mut server: JsTestServer) {
    let registrar = registry(&server).await;
    server.kill().await;
    let http = std::sync::Arc::new(HttpServer::new(([127, 0, 0, 1], 0), axum::Router::new()));
    let app = App::new("lonely")
        .handle_signals(false)
        .registrar(registrar)
        .server(http.clone());
    let handle = app.handle();
    let err = bounded("start fails", app.run()).await.unwrap_err();
    assert!(
        matches!(err, Error::Registry(RegistryError::Backend { .. })),
        "{err}"
    );
    assert!(!handle.is_ready());
    let addr = http.local_addr().expect("HTTP had started");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "HTTP server stopped after the failed registration"
    );
}

both!(a_registry_restarted_without_its_store_gets_the_registration_back);
async fn a_registry_restarted_without_its_store_gets_the_registration_back(
    mut server: JsTestServer,
) {
    let registrar = registry(&server).await;
    registrar.register(&instance("saver", "s1")).await.unwrap();
    server.kill().await;
    for entry in std::fs::read_dir(server.store_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
    server.restart().await;
    let discovery = registry(&server).await;
    let mut watch = discovery.watch("saver").await.unwrap();
    let mut lists = Vec::new();
    bounded("registration restored", async {
        while let Some(list) = watch.next().await {
            let list = list.unwrap();
            lists.push(list.clone());
            if list == [instance("saver", "s1")] {
                return;
            }
        }
        panic!("watch ended: {lists:?}");
    })
    .await;
    registrar
        .deregister(&instance("saver", "s1"))
        .await
        .unwrap();
    assert_eq!(bounded("gone", watch.next()).await.unwrap().unwrap(), []);
    server.stop().await;
}

#[tokio::test]
async fn an_app_bound_on_every_interface_registers_a_real_address_that_answers() {
    let registry = natrium::registry::MemoryRegistry::new();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "here" }));
    let app = App::new("wide")
        .id("wide-1")
        .handle_signals(false)
        .registrar(registry.clone())
        .server(HttpServer::new(([0, 0, 0, 0], 0), router));
    let (handle, running) = run(app).await;
    let listed = registry.instances("wide").await.unwrap();
    let endpoint = listed[0].endpoints[0].clone();
    let addr: std::net::SocketAddr = endpoint
        .strip_prefix("http://")
        .expect("an http endpoint")
        .parse()
        .expect("host:port");
    assert!(!addr.ip().is_unspecified(), "{endpoint}");
    assert_eq!(addr.ip(), natrium::host::advertised_ip(), "{endpoint}");
    let body = reqwest::get(format!("{endpoint}/"))
        .await
        .expect("the advertised address answers")
        .text()
        .await
        .unwrap();
    assert_eq!(body, "here");
    handle.stop();
    bounded("app stops", running).await.unwrap().unwrap();
}
