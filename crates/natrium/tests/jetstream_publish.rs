//! Durable publishing against the newest nats-server: PubAcks, dedupe by message id,
//! expectation headers as typed errors, batches, and the memory broker's refusal.

use std::time::Duration;

use async_nats::jetstream::stream;
use natrium::jetstream::testing::JsTestServer;
use natrium::jetstream::{Expectation, PublishBatch, PublishOptions};
use natrium::{Broker, BrokerExt, Error, MemoryBroker, NatsBroker};

async fn with_stream(server: &JsTestServer, name: &str, subjects: &[&str]) -> NatsBroker {
    let broker = NatsBroker::connect(server.config()).await.expect("connect");
    let js = broker.jetstream().expect("NatsBroker has JetStream");
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .expect("create stream");
    broker
}

#[tokio::test]
async fn a_durable_publish_returns_the_stream_and_sequence() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    let first = broker
        .publish_durable("orders.new", &"a", PublishOptions::new())
        .await
        .expect("stored");
    let second = broker
        .publish_durable("orders.new", &"b", PublishOptions::new())
        .await
        .expect("stored");
    assert_eq!(
        (first.stream.as_str(), first.sequence, first.duplicate),
        ("ORDERS", 1, false)
    );
    assert_eq!(second.sequence, 2);
    broker.close().await.expect("close");
    server.stop().await;
}

#[tokio::test]
async fn the_same_msg_id_is_stored_once_and_reported_as_duplicate() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    let options = PublishOptions::new().msg_id("order-42");
    let stored = broker
        .publish_durable("orders.new", &1, options.clone())
        .await
        .expect("stored");
    let again = broker
        .publish_durable("orders.new", &1, options)
        .await
        .expect("answered");
    assert!(!stored.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.sequence, stored.sequence);
    let info = broker
        .jetstream()
        .unwrap()
        .get_stream("ORDERS")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.state.messages, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_subject_without_a_stream_is_no_stream() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    let err = broker
        .publish_durable("nowhere.new", &1, PublishOptions::new())
        .await
        .expect_err("no stream captures nowhere.new");
    assert!(
        matches!(&err, Error::NoStream { subject } if subject == "nowhere.new"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn failed_expectations_are_typed_errors() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    broker
        .publish_durable("orders.new", &1, PublishOptions::new().msg_id("m1"))
        .await
        .expect("stored");
    let cases = [
        (
            PublishOptions::new().expected_last_sequence(5),
            Expectation::LastSequence,
        ),
        (
            PublishOptions::new().expected_last_subject_sequence(9),
            Expectation::LastSubjectSequence,
        ),
        (
            PublishOptions::new().expected_last_msg_id("other"),
            Expectation::LastMsgId,
        ),
        (
            PublishOptions::new().expected_stream("INVOICES"),
            Expectation::Stream,
        ),
    ];
    for (options, want) in cases {
        let err = broker
            .publish_durable("orders.new", &2, options)
            .await
            .expect_err("expectation fails");
        assert!(
            matches!(&err, Error::WrongExpectation { expectation, .. } if *expectation == want),
            "{want}: {err}"
        );
    }
    // The right expectations pass.
    let ack = broker
        .publish_durable(
            "orders.new",
            &2,
            PublishOptions::new()
                .expected_last_sequence(1)
                .expected_last_msg_id("m1")
                .expected_stream("ORDERS"),
        )
        .await
        .expect("expectations hold");
    assert_eq!(ack.sequence, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_publish_to_a_dead_server_times_out() {
    let Some(mut server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    server.kill().await;
    let err = broker
        .publish_durable(
            "orders.new",
            &1,
            PublishOptions::new().timeout(Duration::from_millis(200)),
        )
        .await
        .expect_err("nobody answers");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_batch_bounds_outstanding_acks_and_returns_them_all() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    let mut batch = PublishBatch::new(&broker, 16);
    for i in 0..500u32 {
        batch
            .publish("orders.new", &i, PublishOptions::new())
            .await
            .expect("sent");
        assert!(batch.outstanding() <= 16);
    }
    let mut seqs: Vec<u64> = batch
        .finish()
        .await
        .expect("all acked")
        .iter()
        .map(|a| a.sequence)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=500).collect::<Vec<u64>>());
    server.stop().await;
}

#[tokio::test]
async fn a_batch_reports_the_first_failure() {
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = with_stream(&server, "ORDERS", &["orders.>"]).await;
    let mut batch = PublishBatch::new(&broker, 4);
    batch
        .publish("orders.new", &1, PublishOptions::new())
        .await
        .expect("sent");
    batch
        .publish("nowhere.x", &2, PublishOptions::new())
        .await
        .expect("sent");
    let err = batch.finish().await.expect_err("one had no stream");
    assert!(matches!(err, Error::NoStream { .. }), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn the_memory_broker_refuses_durable_publishing_with_a_typed_error() {
    let broker = MemoryBroker::new();
    let err = broker
        .publish_durable("orders.new", &1, PublishOptions::new())
        .await
        .expect_err("no JetStream in memory");
    assert!(
        matches!(
            err,
            Error::Unsupported {
                what: "JetStream",
                ..
            }
        ),
        "{err}"
    );
    assert!(broker.jetstream().is_none());
}
