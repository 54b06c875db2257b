//! `/healthz` with its JetStream flags (`js-enabled-only`, `js-server-only`, `js-meta-only`,
//! `account`, `stream`, `consumer`, `details`): status code and body compared with the newest
//! nats-server, without JetStream, with JetStream and no streams, and with a file stream and
//! a memory stream.

mod common;
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use async_nats::jetstream::{self, stream};
use common::{BOUND, start};
use natrium_server::{JetStreamOptions, Server, ServerOptions};
use tokio::time::timeout;

/// The queries of one phase; each is asked of both servers.
const ALWAYS: &[&str] = &[
    "",
    "?js-enabled-only=true",
    "?js-enabled=1",
    "?js-server-only=true",
    "?js-meta-only=true",
    "?js-enabled-only=false",
    "?js-enabled-only=bad",
    "?js-server-only=nope",
    "?details=maybe",
    "?details=true",
    "?stream=S",
    "?stream=S&details=true",
    "?account=$G&consumer=c",
    "?account=$G&consumer=c&details=true",
    "?account=$G",
    "?account=$G&details=true",
    "?account=other",
    "?account=other&details=1",
];

const WITH_STREAMS: &[&str] = &[
    "?account=$G&stream=S",
    "?account=$G&stream=S&details=true",
    "?account=$G&stream=M",
    "?account=$G&stream=M&details=true",
    "?account=$G&stream=X",
    "?account=$G&stream=X&details=true",
    "?account=$G&stream=S&consumer=c",
    "?account=$G&stream=S&consumer=c&details=true",
    "?account=$G&stream=S&consumer=C",
    "?account=$G&stream=S&consumer=C&details=true",
    "?js-enabled-only=true&account=$G&stream=X",
    "?js-server-only=true&account=$G&stream=X",
];

/// Status code and body of `GET {base}/healthz{query}`.
async fn ask(base: &str, query: &str) -> (u16, String) {
    let url = format!("{base}/healthz{query}");
    let response = timeout(BOUND, reqwest::get(&url))
        .await
        .expect("answer within bound")
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn compare(natrium: &str, reference: &str, queries: &[&str], phase: &str) {
    for query in queries {
        let ours = ask(natrium, query).await;
        let theirs = ask(reference, query).await;
        assert_eq!(ours, theirs, "{phase}: /healthz{query}");
    }
}

fn monitor_url(server: &Server) -> String {
    format!("http://{}", server.monitor_addr().expect("monitoring on"))
}

async fn create_streams(client: async_nats::Client) {
    let js = jetstream::new(client);
    for (name, storage) in [
        ("S", stream::StorageType::File),
        ("M", stream::StorageType::Memory),
    ] {
        js.create_stream(stream::Config {
            name: name.into(),
            subjects: vec![format!("{}.>", name.to_lowercase())],
            storage,
            ..Default::default()
        })
        .await
        .expect("stream created");
    }
    js.create_consumer_on_stream(
        async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        },
        "S",
    )
    .await
    .expect("consumer created");
}

#[tokio::test]
async fn healthz_answers_as_nats_server_without_jetstream() {
    let Some(bin) = reference::latest_binary_or_skip("healthz") else {
        return;
    };
    let reference = ServerCommand::new(&bin)
        .monitor()
        .start()
        .await
        .expect("reference starts");
    let natrium = start(ServerOptions {
        http_port: Some(0),
        ..ServerOptions::ephemeral()
    })
    .await;
    let reference_url = reference.monitor_url().expect("monitored");
    compare(
        &monitor_url(&natrium),
        &reference_url,
        ALWAYS,
        "no JetStream",
    )
    .await;
    compare(
        &monitor_url(&natrium),
        &reference_url,
        WITH_STREAMS,
        "no JetStream",
    )
    .await;
    natrium.shutdown().await;
    reference.shutdown().await;
}

#[tokio::test]
async fn healthz_answers_as_nats_server_with_jetstream_before_and_after_streams() {
    let Some(bin) = reference::latest_binary_or_skip("healthz") else {
        return;
    };
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = ServerCommand::new(&bin)
        .monitor()
        .jetstream(reference_dir.path())
        .start()
        .await
        .expect("reference starts");
    let natrium_dir = tempfile::tempdir().unwrap();
    let natrium = start(ServerOptions {
        http_port: Some(0),
        jetstream: Some(JetStreamOptions::in_dir(natrium_dir.path())),
        ..ServerOptions::ephemeral()
    })
    .await;
    let ours = monitor_url(&natrium);
    let theirs = reference.monitor_url().expect("monitored");
    compare(&ours, &theirs, ALWAYS, "no streams yet").await;
    compare(&ours, &theirs, WITH_STREAMS, "no streams yet").await;

    create_streams(common::connect(&natrium).await).await;
    let client = async_nats::connect(reference.client_url()).await.unwrap();
    create_streams(client).await;
    compare(&ours, &theirs, ALWAYS, "with streams").await;
    compare(&ours, &theirs, WITH_STREAMS, "with streams").await;
    // The file stream is the one found; the memory stream has no directory to be found by.
    assert_eq!(ask(&ours, "?account=$G&stream=S").await.0, 200);
    assert_eq!(ask(&ours, "?account=$G&stream=M").await.0, 404);
    assert_eq!(ask(&ours, "?account=$G&stream=S&consumer=C").await.0, 200);
    natrium.shutdown().await;
    reference.shutdown().await;
}
