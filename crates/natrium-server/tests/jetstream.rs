//! JetStream streams through the official client's JetStream API: create, publish with
//! acknowledgements, deduplication and expectations, get, delete, purge, direct get, and
//! recovery of a file-backed stream after a restart.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage as Publish, stream};
use common::{BOUND, connect, start};
use natrium_server::{JetStreamOptions, Server, ServerOptions};
use tokio::time::timeout;

async fn js_server() -> Server {
    start(ServerOptions::ephemeral_jetstream()).await
}

async fn context(server: &Server) -> jetstream::Context {
    jetstream::new(connect(server).await)
}

fn orders() -> stream::Config {
    stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    }
}

/// Publishes and waits for the acknowledgement.
async fn publish(
    js: &jetstream::Context,
    subject: &str,
    payload: &str,
) -> jetstream::publish::PublishAck {
    timeout(BOUND, async {
        js.publish(subject.to_owned(), payload.to_owned().into())
            .await
            .expect("publish sent")
            .await
    })
    .await
    .expect("ack within bound")
    .expect("ack")
}

#[tokio::test]
async fn info_announces_jetstream_and_account_info_answers() {
    let server = js_server().await;
    let client = connect(&server).await;
    assert!(client.server_info().jetstream, "INFO has jetstream:true");
    let js = jetstream::new(client);
    let info = js.query_account().await.expect("account info");
    assert_eq!(info.streams, 0);
    js.create_stream(orders()).await.expect("create");
    let info = js.query_account().await.expect("account info");
    assert_eq!(info.streams, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_jetstream_gives_no_responders() {
    let server = start(ServerOptions::ephemeral()).await;
    let js = context(&server).await;
    let err = js.create_stream(orders()).await.expect_err("no JetStream");
    // async-nats reads the no-responders status on the API subject this way.
    assert!(err.to_string().contains("jetstream unavailable"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn publishes_are_acknowledged_with_increasing_sequences_and_stored() {
    let server = js_server().await;
    let js = context(&server).await;
    let mut stream = js.create_stream(orders()).await.expect("create");
    for i in 1..=5u64 {
        let ack = publish(&js, "orders.new", &format!("order {i}")).await;
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.sequence, i);
        assert!(!ack.duplicate);
    }
    let info = stream.info().await.expect("info");
    assert_eq!(info.state.messages, 5);
    assert_eq!(info.state.first_sequence, 1);
    assert_eq!(info.state.last_sequence, 5);
    // nats-server's file store size rule: 22 + subject + payload + 8 per message.
    assert_eq!(info.state.bytes, 5 * (22 + 10 + 7 + 8));
    let msg = stream.get_raw_message(3).await.expect("get");
    assert_eq!(msg.subject.as_str(), "orders.new");
    assert_eq!(&msg.payload[..], b"order 3");
    server.shutdown().await;
}

#[tokio::test]
async fn a_publish_to_no_stream_fails_fast_with_no_responders() {
    let server = js_server().await;
    let js = context(&server).await;
    let err = js
        .publish("nowhere", "x".into())
        .await
        .expect("sent")
        .await
        .expect_err("no stream");
    // async-nats reads the no-responders status of a publish this way.
    assert!(
        err.to_string()
            .contains("no stream found for given subject"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn message_ids_deduplicate_within_the_window() {
    let server = js_server().await;
    let js = context(&server).await;
    js.create_stream(orders()).await.expect("create");
    let first = js
        .send_publish(
            "orders.new",
            Publish::build().payload("a".into()).message_id("m-1"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let again = js
        .send_publish(
            "orders.new",
            Publish::build().payload("a".into()).message_id("m-1"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(first.sequence, 1);
    assert!(again.duplicate);
    assert_eq!(again.sequence, 1);
    let other = js
        .send_publish(
            "orders.new",
            Publish::build().payload("b".into()).message_id("m-2"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(other.sequence, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn expectations_refuse_with_nats_server_errors() {
    let server = js_server().await;
    let js = context(&server).await;
    js.create_stream(orders()).await.expect("create");
    publish(&js, "orders.a", "1").await;
    publish(&js, "orders.b", "2").await;
    let refuse = |p: Publish| {
        let js = js.clone();
        async move {
            js.send_publish("orders.a", p)
                .await
                .unwrap()
                .await
                .expect_err("refused")
                .to_string()
        }
    };
    let err = refuse(
        Publish::build()
            .payload("x".into())
            .expected_last_sequence(1),
    )
    .await;
    assert!(err.contains("wrong last sequence: 2"), "{err}");
    let err = refuse(
        Publish::build()
            .payload("x".into())
            .expected_stream("OTHER"),
    )
    .await;
    assert!(err.contains("expected stream does not match"), "{err}");
    let err = refuse(
        Publish::build()
            .payload("x".into())
            .expected_last_subject_sequence(7),
    )
    .await;
    assert!(err.contains("wrong last sequence: 1"), "{err}");
    // The right expectation goes through.
    let ack = js
        .send_publish(
            "orders.a",
            Publish::build()
                .payload("x".into())
                .expected_last_sequence(2)
                .expected_last_subject_sequence(1),
        )
        .await
        .unwrap()
        .await
        .expect("accepted");
    assert_eq!(ack.sequence, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn limits_discard_old_messages_and_per_subject_history() {
    let server = js_server().await;
    let js = context(&server).await;
    let mut stream = js
        .create_stream(stream::Config {
            max_messages: 3,
            max_messages_per_subject: 2,
            ..orders()
        })
        .await
        .expect("create");
    for i in 0..3 {
        publish(&js, "orders.a", &i.to_string()).await;
    }
    publish(&js, "orders.b", "b").await;
    let info = stream.info().await.unwrap();
    // orders.a keeps its last two; the stream keeps three in all.
    assert_eq!(info.state.messages, 3);
    assert_eq!(info.state.first_sequence, 2);
    let last = stream
        .get_last_raw_message_by_subject("orders.a")
        .await
        .unwrap();
    assert_eq!(&last.payload[..], b"2");
    server.shutdown().await;
}

#[tokio::test]
async fn discard_new_refuses_when_full() {
    let server = js_server().await;
    let js = context(&server).await;
    js.create_stream(stream::Config {
        max_messages: 2,
        discard: stream::DiscardPolicy::New,
        ..orders()
    })
    .await
    .expect("create");
    publish(&js, "orders.a", "1").await;
    publish(&js, "orders.a", "2").await;
    let err = js
        .publish("orders.a", "3".into())
        .await
        .unwrap()
        .await
        .expect_err("full");
    assert!(
        err.to_string().contains("maximum messages exceeded"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn purge_delete_and_get_by_subject() {
    let server = js_server().await;
    let js = context(&server).await;
    let mut stream = js.create_stream(orders()).await.expect("create");
    for s in ["orders.a", "orders.b", "orders.a", "orders.c"] {
        publish(&js, s, s).await;
    }
    assert!(stream.delete_message(2).await.expect("delete"));
    assert!(stream.get_raw_message(2).await.is_err());
    let purged = stream.purge().filter("orders.a").await.expect("purge");
    assert_eq!(purged.purged, 2);
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1);
    assert_eq!(info.state.last_sequence, 4);
    let purged = stream.purge().await.expect("purge all");
    assert_eq!(purged.purged, 1);
    let info = stream.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (0, 5));
    server.shutdown().await;
}

#[tokio::test]
async fn direct_get_serves_streams_that_allow_it() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js
        .create_stream(stream::Config {
            allow_direct: true,
            ..orders()
        })
        .await
        .expect("create");
    publish(&js, "orders.a", "first").await;
    publish(&js, "orders.a", "second").await;
    let msg = stream
        .direct_get_last_for_subject("orders.a")
        .await
        .expect("direct get");
    assert_eq!(&msg.payload[..], b"second");
    assert_eq!(msg.sequence, 2);
    let msg = stream.direct_get(1).await.expect("direct get by seq");
    assert_eq!(&msg.payload[..], b"first");
    assert!(stream.direct_get(9).await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn stream_names_and_list_and_delete() {
    let server = js_server().await;
    let js = context(&server).await;
    js.create_stream(orders()).await.unwrap();
    js.create_stream(stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["events.*".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    use futures::TryStreamExt;
    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["EVENTS", "ORDERS"]);
    let overlap = js
        .create_stream(stream::Config {
            name: "CLASH".into(),
            subjects: vec!["orders.new".into()],
            ..Default::default()
        })
        .await
        .expect_err("overlap");
    assert!(
        overlap.to_string().contains("subjects overlap"),
        "{overlap}"
    );
    assert!(js.delete_stream("EVENTS").await.unwrap().success);
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, ["ORDERS"]);
    assert!(js.delete_stream("EVENTS").await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn a_file_stream_survives_a_restart_with_its_messages_and_dedupe_window() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(dir.path())),
        ..ServerOptions::ephemeral()
    };
    let server = start(opts.clone()).await;
    let js = context(&server).await;
    js.create_stream(orders()).await.unwrap();
    for i in 1..=10 {
        js.send_publish(
            "orders.new",
            Publish::build()
                .payload(format!("order {i}").into())
                .message_id(format!("id-{i}")),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    server.shutdown().await;

    let server = start(opts).await;
    let js = context(&server).await;
    let mut stream = js.get_stream("ORDERS").await.expect("recovered");
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 10);
    assert_eq!(info.state.last_sequence, 10);
    let msg = stream.get_raw_message(7).await.unwrap();
    assert_eq!(&msg.payload[..], b"order 7");
    let again = js
        .send_publish(
            "orders.new",
            Publish::build()
                .payload("order 10".into())
                .message_id("id-10"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(again.duplicate, "the window survives the restart");
    let next = publish(&js, "orders.new", "order 11").await;
    assert_eq!(next.sequence, 11);
    server.shutdown().await;
}

#[tokio::test]
async fn a_store_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(dir.path())),
        ..ServerOptions::ephemeral()
    };
    let first = start(opts.clone()).await;
    let err = Server::start(opts.clone()).await.expect_err("locked");
    assert!(
        err.to_string().contains("in use by another server"),
        "{err}"
    );
    first.shutdown().await;
    // Once the first server is gone the directory is free again.
    let second = timeout(Duration::from_secs(5), Server::start(opts))
        .await
        .unwrap()
        .expect("starts");
    second.shutdown().await;
}

#[tokio::test]
async fn an_unwritable_store_directory_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = Server::start(ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(&file)),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect_err("unusable");
    let text = err.to_string();
    assert!(
        text.contains("could not create storage directory"),
        "{text}"
    );
    assert!(text.contains("not-a-dir"), "{text}");
}

async fn get_json(server: &Server, path: &str) -> serde_json::Value {
    let addr = server.monitor_addr().expect("monitoring on");
    let url = format!("http://{addr}{path}");
    let resp = timeout(BOUND, reqwest::get(&url))
        .await
        .expect("answer within bound")
        .expect("monitoring answers");
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.expect("json")
}

#[tokio::test]
async fn monitoring_shows_jetstream_in_jsz_varz_metrics_and_healthz() {
    let server = start(ServerOptions {
        http_port: Some(0),
        ..ServerOptions::ephemeral_jetstream()
    })
    .await;
    let js = context(&server).await;
    js.create_stream(orders()).await.unwrap();
    publish(&js, "orders.a", "hello").await;
    publish(&js, "orders.b", "world").await;

    let jsz = get_json(&server, "/jsz").await;
    assert_eq!(jsz["streams"], 1);
    assert_eq!(jsz["messages"], 2);
    assert_eq!(jsz["accounts"], 1);
    assert_eq!(jsz["config"]["strict"], true);
    assert_eq!(jsz["config"]["sync_interval"], 120_000_000_000u64);
    assert!(
        jsz["config"]["store_dir"]
            .as_str()
            .unwrap()
            .ends_with("jetstream")
    );
    assert!(jsz["api"]["total"].as_u64().unwrap() >= 1);
    assert!(jsz.get("account_details").is_none());

    let jsz = get_json(&server, "/jsz?streams=1").await;
    let detail = &jsz["account_details"][0];
    assert_eq!(detail["name"], "$G");
    assert_eq!(detail["stream_detail"][0]["name"], "ORDERS");
    assert_eq!(detail["stream_detail"][0]["state"]["messages"], 2);
    let jsz = get_json(&server, "/jsz?accounts=true").await;
    assert!(jsz["account_details"][0].get("stream_detail").is_none());

    let varz = get_json(&server, "/varz").await;
    assert_eq!(varz["jetstream"]["stats"]["accounts"], 1);
    assert_eq!(varz["jetstream"]["config"]["strict"], true);

    let health = get_json(&server, "/healthz?js-enabled-only=true").await;
    assert_eq!(health["status"], "ok");

    let addr = server.monitor_addr().unwrap();
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("natrium_jetstream_streams 1"), "{metrics}");
    assert!(
        metrics.contains("natrium_jetstream_stream_messages{account=\"$G\",stream=\"ORDERS\"} 2"),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn jsz_without_jetstream_says_disabled() {
    let server = start(ServerOptions {
        http_port: Some(0),
        ..ServerOptions::ephemeral()
    })
    .await;
    let jsz = get_json(&server, "/jsz").await;
    assert_eq!(jsz["disabled"], true);
    let varz = get_json(&server, "/varz").await;
    assert_eq!(varz["jetstream"], serde_json::json!({}));
    server.shutdown().await;
}

/// Past the server's `max_file_store` (or `max_memory_store`), a publish gets nats-server's
/// 503 "insufficient resources" (10023) and is not stored; a purge frees the space and
/// publishing works again. The check is on what is already stored, as in nats-server: the
/// message that crosses the limit is accepted, the next one is refused.
#[tokio::test]
async fn a_server_out_of_storage_refuses_publishes_until_space_is_freed() {
    for storage in [stream::StorageType::File, stream::StorageType::Memory] {
        let mut opts = ServerOptions::ephemeral_jetstream();
        let js_opts = opts.jetstream.as_mut().expect("jetstream on");
        js_opts.max_store = Some(1 << 20);
        js_opts.max_memory = Some(1 << 20);
        let server = start(opts).await;
        let js = context(&server).await;
        js.create_stream(stream::Config {
            storage,
            ..orders()
        })
        .await
        .expect("create");
        let big = "x".repeat(100_000);
        for _ in 0..11 {
            publish(&js, "orders.a", &big).await;
        }
        let err = js
            .publish("orders.a", big.clone().into())
            .await
            .unwrap()
            .await
            .expect_err("out of storage");
        assert!(
            err.to_string().contains("insufficient resources"),
            "{storage:?}: {err}"
        );
        let info = js.query_account().await.expect("account info");
        let used = match storage {
            stream::StorageType::File => info.storage,
            stream::StorageType::Memory => info.memory,
        };
        assert!(
            used > 1 << 20 && used < (1 << 20) + 100_100,
            "{storage:?}: {used}"
        );
        let mut orders = js.get_stream("ORDERS").await.expect("stream");
        assert_eq!(orders.info().await.expect("info").state.messages, 11);
        orders.purge().await.expect("purge");
        assert_eq!(publish(&js, "orders.a", &big).await.sequence, 12);
        let info = js.query_account().await.expect("account info");
        assert_eq!(
            info.storage + info.memory,
            used / 11,
            "{storage:?}: one message left"
        );
        server.shutdown().await;
    }
}
