//! The system account: connect/disconnect events and the server's PING requests, seen by a
//! system-account user, compared field by field with the newest nats-server (values that
//! differ per server, such as ids and times, are left out of the comparison).

mod common;

use std::collections::BTreeSet;

use common::BOUND;
use futures::StreamExt;
use natrium_server::{Server, config};
use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference;
use serde_json::Value;

const SYS_AND_A: &str = "accounts {\n  SYS { users: [{user: sys, password: sys}] }\n  \
    A { users: [{user: a, password: a}] }\n}\nsystem_account: SYS\n";

/// The default system account, `$SYS`, given users in the configuration.
const DEFAULT_SYS: &str = "accounts {\n  $SYS { users: [{user: sys, password: sys}] }\n  \
    A { users: [{user: a, password: a}] }\n}\n";

async fn start_with(conf: &str) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).expect("write config");
    let opts = config::load(&path).expect("valid configuration").options;
    Server::start(opts).await.expect("server starts")
}

async fn start_latest(conf: &str) -> Option<ServerProcess> {
    let bin = reference::latest_binary_or_skip("system")?;
    Some(
        ServerCommand::new(bin)
            .config(conf)
            .start()
            .await
            .expect("reference starts"),
    )
}

async fn login(url: &str, user: &str, name: &str) -> async_nats::Client {
    let connect = async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .name(name)
        .connect(url);
    tokio::time::timeout(BOUND, connect)
        .await
        .expect("connect within bound")
        .expect("connect")
}

async fn next_json(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let msg = tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("a message within bound")
        .expect("subscription open");
    let value = serde_json::from_slice(&msg.payload).expect("JSON payload");
    (msg.subject.to_string(), value)
}

/// The keys of `v` (an object), with the nested objects' keys as `outer.inner`. Fields
/// only nats-server has are dropped: `feature_flags` (its internal feature switches).
fn shape(v: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    fn walk(prefix: &str, v: &Value, keys: &mut BTreeSet<String>) {
        if let Some(map) = v.as_object() {
            for (k, child) in map {
                if k == "feature_flags" {
                    continue;
                }
                let key = format!("{prefix}{k}");
                walk(&format!("{key}."), child, keys);
                keys.insert(key);
            }
        }
    }
    walk("", v, &mut keys);
    keys
}

/// What one server shows a system user: the CONNECT and DISCONNECT events of a client of
/// account A, and the answers to `$SYS.REQ.SERVER.PING` and `...PING.IDZ`.
struct Seen {
    connect: (String, Value),
    disconnect: (String, Value),
    statsz: Value,
    idz: Value,
}

async fn observe(url: &str) -> Seen {
    let sys = login(url, "sys", "watcher").await;
    // CONNECT and DISCONNECT (nats-server also sends `SERVER.CONNS` counts, not compared).
    let mut events = sys.subscribe("$SYS.ACCOUNT.A.*").await.unwrap();
    sys.flush().await.unwrap();
    let a = login(url, "a", "app").await;
    a.publish("x", "hello".into()).await.unwrap();
    a.flush().await.unwrap();
    let connect = next_json(&mut events).await;
    drop(a);
    let disconnect = next_json(&mut events).await;
    let reply = tokio::time::timeout(BOUND, sys.request("$SYS.REQ.SERVER.PING", "".into()))
        .await
        .expect("statsz within bound")
        .expect("statsz");
    let statsz = serde_json::from_slice(&reply.payload).unwrap();
    let reply = tokio::time::timeout(BOUND, sys.request("$SYS.REQ.SERVER.PING.IDZ", "".into()))
        .await
        .expect("idz within bound")
        .expect("idz");
    let idz = serde_json::from_slice(&reply.payload).unwrap();
    Seen {
        connect,
        disconnect,
        statsz,
        idz,
    }
}

fn check(seen: &Seen) {
    let (subject, connect) = &seen.connect;
    assert_eq!(subject, "$SYS.ACCOUNT.A.CONNECT");
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["client"]["acc"], "A");
    assert_eq!(connect["client"]["user"], "a");
    assert_eq!(connect["client"]["name"], "app");
    assert_eq!(connect["client"]["lang"], "rust");
    assert_eq!(connect["client"]["kind"], "Client");
    assert_eq!(connect["client"]["client_type"], "nats");
    assert_eq!(connect["client"]["host"], "127.0.0.1");
    let (subject, disconnect) = &seen.disconnect;
    assert_eq!(subject, "$SYS.ACCOUNT.A.DISCONNECT");
    assert_eq!(
        disconnect["type"],
        "io.nats.server.advisory.v1.client_disconnect"
    );
    assert_eq!(disconnect["reason"], "Client Closed");
    assert_eq!(disconnect["sent"]["msgs"], 1, "{disconnect}");
    assert_eq!(disconnect["sent"]["bytes"], 5, "{disconnect}");
    assert_eq!(disconnect["client"]["id"], connect["client"]["id"]);
    assert!(seen.statsz["statsz"]["connections"].as_u64() >= Some(1));
    assert_eq!(seen.statsz["server"]["id"], seen.idz["id"]);
}

#[tokio::test]
async fn system_users_see_connect_and_disconnect_events_and_ping_answers_as_nats_server_sends_them()
{
    let server = start_with(SYS_AND_A).await;
    let ours = observe(&server.client_url()).await;
    check(&ours);
    if let Some(reference) = start_latest(SYS_AND_A).await {
        let theirs = observe(&reference.client_url()).await;
        check(&theirs);
        assert_eq!(shape(&ours.connect.1), shape(&theirs.connect.1));
        // nats-server adds `rtt` once it has measured one; natrium-server too.
        let without_rtt = |v: &Value| {
            let mut s = shape(v);
            s.remove("client.rtt");
            s
        };
        assert_eq!(
            without_rtt(&ours.disconnect.1),
            without_rtt(&theirs.disconnect.1)
        );
        // Statistics: natrium-server fills nats-server's fields except those of clusters.
        let ours_statsz = shape(&ours.statsz);
        let missing: Vec<_> = shape(&theirs.statsz)
            .difference(&ours_statsz)
            .cloned()
            .collect();
        assert!(missing.is_empty(), "statsz lacks {missing:?}");
        assert_eq!(shape(&ours.idz), shape(&theirs.idz));
        reference.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn without_system_account_the_default_is_dollar_sys() {
    let server = start_with(DEFAULT_SYS).await;
    let ours = observe(&server.client_url()).await;
    check(&ours);
    if let Some(reference) = start_latest(DEFAULT_SYS).await {
        check(&observe(&reference.client_url()).await);
        reference.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn other_accounts_neither_see_events_nor_reach_the_system_services() {
    let server = start_with(SYS_AND_A).await;
    let url = server.client_url();
    let a = login(&url, "a", "spy").await;
    // A request from outside the system account reaches no responder.
    let err = a
        .request("$SYS.REQ.SERVER.PING", "".into())
        .await
        .expect_err("no responders outside the system account");
    assert_eq!(
        err.kind(),
        async_nats::client::RequestErrorKind::NoResponders
    );
    let mut spy = a.subscribe("$SYS.>").await.unwrap();
    a.flush().await.unwrap();
    let other = login(&url, "a", "other").await;
    let mut markers = a.subscribe("marker").await.unwrap();
    a.flush().await.unwrap();
    other.publish("marker", "m".into()).await.unwrap();
    other.flush().await.unwrap();
    tokio::time::timeout(BOUND, markers.next())
        .await
        .expect("the marker within bound");
    // Everything published before the marker has arrived: no event reached A.
    assert!(
        futures::FutureExt::now_or_never(spy.next()).is_none(),
        "an event leaked into account A"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn varz_and_connz_requests_answer_with_the_monitoring_documents() {
    let server = start_with(SYS_AND_A).await;
    let url = server.client_url();
    let sys = login(&url, "sys", "watcher").await;
    let a = login(&url, "a", "app").await;
    a.flush().await.unwrap();
    let ask = |subject: &'static str, body: &'static str| {
        let sys = sys.clone();
        async move {
            let reply = tokio::time::timeout(BOUND, sys.request(subject, body.into()))
                .await
                .expect("reply within bound")
                .expect("reply");
            serde_json::from_slice::<Value>(&reply.payload).unwrap()
        }
    };
    let varz = ask("$SYS.REQ.SERVER.PING.VARZ", "").await;
    assert_eq!(varz["data"]["server_id"], server.server_id());
    assert_eq!(varz["data"]["connections"], 2);
    let connz = ask("$SYS.REQ.SERVER.PING.CONNZ", "").await;
    assert_eq!(connz["data"]["num_connections"], 2);
    // One account's connections only.
    let connz = ask("$SYS.REQ.ACCOUNT.A.CONNZ", "").await;
    assert_eq!(connz["data"]["num_connections"], 1);
    assert_eq!(connz["data"]["connections"][0]["name"], "app");
    let connz = ask("$SYS.REQ.SERVER.PING.CONNZ", r#"{"acc":"SYS"}"#).await;
    assert_eq!(connz["data"]["connections"][0]["name"], "watcher");
    // A request meant for another server is not answered; a bad one gets a 400.
    let direct = format!("$SYS.REQ.SERVER.{}.VARZ", server.server_id());
    let reply = sys.request(direct, "".into()).await.unwrap();
    let direct: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(direct["data"]["server_id"], server.server_id());
    let bad = ask("$SYS.REQ.SERVER.PING.VARZ", "{").await;
    assert_eq!(bad["error"]["code"], 400);
    let mut inbox = sys.subscribe("filtered").await.unwrap();
    sys.publish_with_reply(
        "$SYS.REQ.SERVER.PING.VARZ",
        "filtered",
        r#"{"server_name":"another"}"#.into(),
    )
    .await
    .unwrap();
    // The filtered request is answered by nobody; a later one is, and arrives first.
    sys.publish_with_reply("$SYS.REQ.SERVER.PING.IDZ", "filtered", "".into())
        .await
        .unwrap();
    let (_, first) = next_json(&mut inbox).await;
    assert_eq!(first["id"], server.server_id(), "{first}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_named_system_account_must_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, "listen: 127.0.0.1:-1\nsystem_account: FOO\n").expect("write config");
    let opts = config::load(&path).expect("valid configuration").options;
    let err = Server::start(opts).await.expect_err("refused").to_string();
    assert!(
        err.contains("error resolving system account: account missing"),
        "{err}"
    );
}
