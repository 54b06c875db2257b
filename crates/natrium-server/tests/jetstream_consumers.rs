//! JetStream consumers through the official client's consumer API: pull (fetch, batch,
//! stream of messages), acknowledgement kinds, redelivery after ack wait, max deliver,
//! push, ordered consumers, retention, and consumers surviving a restart.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use common::{BOUND, connect, start};
use futures::StreamExt;
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

fn durable(name: &str) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(name.into()),
        ..Default::default()
    }
}

/// Publishes `n` messages `orders.<i>` with payload `<i>` (from 1), each acknowledged.
async fn publish_n(js: &jetstream::Context, n: usize) {
    for i in 1..=n {
        timeout(BOUND, async {
            js.publish(format!("orders.{i}"), i.to_string().into())
                .await
                .expect("publish sent")
                .await
                .expect("ack")
        })
        .await
        .expect("ack within bound");
    }
}

/// Fetches up to `n` messages (waiting at most a second for them).
async fn fetch(consumer: &consumer::PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let mut batch = consumer
        .fetch()
        .max_messages(n)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .expect("fetch");
    let mut out = Vec::new();
    while let Some(m) = timeout(BOUND, batch.next()).await.expect("batch ends") {
        out.push(m.expect("message"));
    }
    out
}

fn payloads(messages: &[jetstream::Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

#[tokio::test]
async fn a_durable_pull_consumer_hands_out_each_message_once_and_counts_acks() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 10).await;
    let consumer = stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    let got = fetch(&consumer, 4).await;
    assert_eq!(payloads(&got), ["1", "2", "3", "4"]);
    let info = got[3].info().expect("metadata");
    assert_eq!(
        (
            info.stream_sequence,
            info.consumer_sequence,
            info.delivered,
            info.pending
        ),
        (4, 4, 1, 6)
    );
    for m in &got {
        m.ack().await.expect("ack");
    }
    let rest = fetch(&consumer, 100).await;
    assert_eq!(rest.len(), 6, "the rest, then the request expires");
    for m in &rest[..3] {
        m.double_ack().await.expect("double ack confirmed");
    }
    let mut consumer = consumer;
    let info = consumer.info().await.expect("info");
    assert_eq!(info.delivered.stream_sequence, 10);
    assert_eq!(info.ack_floor.stream_sequence, 7);
    assert_eq!(info.num_ack_pending, 3);
    assert_eq!(info.num_pending, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn nak_redelivers_at_once_and_term_never_again() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 2).await;
    let consumer = stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    let got = fetch(&consumer, 2).await;
    got[0].ack_with(AckKind::Nak(None)).await.expect("nak");
    got[1].ack_with(AckKind::Term).await.expect("term");
    let again = fetch(&consumer, 2).await;
    assert_eq!(payloads(&again), ["1"], "only the NAKed one comes back");
    assert_eq!(again[0].info().expect("metadata").delivered, 2);
    again[0].ack().await.expect("ack");
    let mut consumer = consumer;
    let info = consumer.info().await.expect("info");
    assert_eq!((info.num_ack_pending, info.num_redelivered), (0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn an_unacknowledged_message_comes_back_after_ack_wait_until_max_deliver() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 1).await;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_wait: Duration::from_millis(200),
            max_deliver: 2,
            ..durable("saver")
        })
        .await
        .expect("consumer");
    let client = connect(&server).await;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.saver")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let first = fetch(&consumer, 1).await;
    assert_eq!(first[0].info().expect("metadata").delivered, 1);
    // `batch` waits for messages (`fetch` is `no_wait`).
    let second = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch")
        .next()
        .await
        .expect("redelivered")
        .expect("message");
    assert_eq!(second.info().expect("metadata").delivered, 2);
    // Out of deliveries: a third pull waits in vain, and the server says why.
    let mut third = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_millis(600))
        .messages()
        .await
        .expect("batch");
    assert!(
        timeout(BOUND, third.next()).await.expect("ends").is_none(),
        "never delivered a third time"
    );
    let advisory = timeout(BOUND, advisories.next())
        .await
        .expect("advisory within bound")
        .expect("advisory");
    let body: serde_json::Value = serde_json::from_slice(&advisory.payload).expect("json");
    assert_eq!(body["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(body["stream_seq"], 1);
    assert_eq!(body["deliveries"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_consumer_stream_of_messages_reads_everything_in_order() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    let consumer = stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(7)
        .messages()
        .await
        .expect("messages");
    publish_n(&js, 50).await;
    for i in 1..=50 {
        let m = timeout(BOUND, messages.next())
            .await
            .expect("within bound")
            .expect("message")
            .expect("ok");
        assert_eq!(m.payload, i.to_string());
        m.ack().await.expect("ack");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn filters_and_deliver_policies_pick_where_a_consumer_starts() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 6).await;
    let only_5 = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: "orders.5".into(),
            ..durable("five")
        })
        .await
        .expect("consumer");
    assert_eq!(payloads(&fetch(&only_5, 10).await), ["5"]);
    let last = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::Last,
            ..durable("last")
        })
        .await
        .expect("consumer");
    assert_eq!(payloads(&fetch(&last, 10).await), ["6"]);
    let from_4 = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: 4 },
            ..durable("from4")
        })
        .await
        .expect("consumer");
    assert_eq!(payloads(&fetch(&from_4, 10).await), ["4", "5", "6"]);
    let new = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::New,
            ..durable("new")
        })
        .await
        .expect("consumer");
    assert!(fetch(&new, 10).await.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn a_workqueue_stream_forgets_what_was_acknowledged() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js
        .create_stream(stream::Config {
            retention: stream::RetentionPolicy::WorkQueue,
            ..orders()
        })
        .await
        .expect("stream");
    publish_n(&js, 5).await;
    let consumer = stream
        .create_consumer(durable("worker"))
        .await
        .expect("consumer");
    for m in fetch(&consumer, 5).await {
        m.double_ack().await.expect("ack");
    }
    let mut stream = stream;
    let info = stream.info().await.expect("info");
    assert_eq!(info.state.messages, 0);
    assert_eq!(info.state.first_sequence, 6);
    server.shutdown().await;
}

#[tokio::test]
async fn a_push_consumer_delivers_to_its_subject() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 3).await;
    let consumer = stream
        .create_consumer(consumer::push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: "deliver.here".into(),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    for i in 1..=3 {
        let m = timeout(BOUND, messages.next())
            .await
            .expect("within bound")
            .expect("message")
            .expect("ok");
        assert_eq!(m.payload, i.to_string());
        m.ack().await.expect("ack");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_ordered_consumer_reads_the_stream_in_order() {
    let server = js_server().await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 20).await;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    for i in 1..=20 {
        let m = timeout(BOUND, messages.next())
            .await
            .expect("within bound")
            .expect("message")
            .expect("ok");
        assert_eq!(m.payload, i.to_string());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn consumers_and_their_acks_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(dir.path())),
        ..ServerOptions::ephemeral()
    };
    let server = start(opts()).await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 5).await;
    let consumer = stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    for m in fetch(&consumer, 3).await {
        m.double_ack().await.expect("ack stored");
    }
    server.shutdown().await;

    let server = start(opts()).await;
    let js = context(&server).await;
    let consumer: consumer::PullConsumer = js
        .get_consumer_from_stream("saver", "ORDERS")
        .await
        .expect("consumer recovered");
    assert_eq!(payloads(&fetch(&consumer, 10).await), ["4", "5"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_paused_consumer_delivers_nothing_until_unpaused() {
    let server = js_server().await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    let stream = js.create_stream(orders()).await.expect("stream");
    let consumer = stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    let until = "2999-01-01T00:00:00Z";
    let reply = client
        .request(
            "$JS.API.CONSUMER.PAUSE.ORDERS.saver",
            format!(r#"{{"pause_until":"{until}"}}"#).into(),
        )
        .await
        .expect("pause reply");
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
    assert_eq!(
        body["type"],
        "io.nats.jetstream.api.v1.consumer_pause_response"
    );
    assert_eq!(body["paused"], true);
    assert_eq!(body["pause_until"], until);
    publish_n(&js, 2).await;
    assert!(fetch(&consumer, 2).await.is_empty(), "paused: nothing");
    let mut consumer = consumer;
    let info = consumer.info().await.expect("info").clone();
    assert!(info.paused);
    let reply = client
        .request("$JS.API.CONSUMER.PAUSE.ORDERS.saver", "".into())
        .await
        .expect("unpause reply");
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
    assert_eq!(body["paused"], false);
    assert_eq!(payloads(&fetch(&consumer, 2).await), ["1", "2"]);
    let reply = client
        .request("$JS.API.CONSUMER.PAUSE.ORDERS.nobody", "".into())
        .await
        .expect("reply");
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
    assert_eq!(body["error"]["err_code"], 10014, "consumer not found");
    server.shutdown().await;
}

#[tokio::test]
async fn push_flow_control_holds_delivery_until_the_client_answers() {
    let server = js_server().await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    let stream = js.create_stream(orders()).await.expect("stream");
    let mut raw = client.subscribe("deliver.fc").await.expect("subscribe");
    client.flush().await.expect("flush");
    stream
        .create_consumer(consumer::push::Config {
            durable_name: Some("fc".into()),
            deliver_subject: "deliver.fc".into(),
            ack_policy: consumer::AckPolicy::None,
            flow_control: true,
            idle_heartbeat: Duration::from_millis(200),
            ..Default::default()
        })
        .await
        .expect("consumer");
    // 12 MiB: flow control counts bytes, and its first window is 2 MiB.
    let total = 3000;
    let payload = bytes::Bytes::from(vec![b'x'; 4096]);
    let acks: Vec<_> = futures::future::join_all((1..=total).map(|i| {
        let js = js.clone();
        let payload = payload.clone();
        async move { js.publish(format!("orders.{i}"), payload).await }
    }))
    .await
    .into_iter()
    .map(|r| r.expect("sent"))
    .collect();
    for ack in acks {
        ack.await.expect("stored");
    }
    // Read until delivery stops: a flow-control request goes out unanswered, and then the
    // consumer idles (its heartbeat says so).
    let mut messages = 0;
    let mut requests = Vec::new();
    loop {
        let m = timeout(BOUND, raw.next())
            .await
            .expect("within bound")
            .expect("msg");
        if m.status == Some(async_nats::StatusCode::from_u16(100).unwrap()) {
            match m.reply {
                Some(reply) => requests.push(reply),
                None if !requests.is_empty() => break,
                None => {}
            }
        } else {
            messages += 1;
        }
    }
    assert!(
        messages < total,
        "held back: {messages} of {total} before an answer"
    );
    for reply in requests {
        client.publish(reply, "".into()).await.expect("answer");
    }
    while messages < total {
        let m = timeout(BOUND, raw.next())
            .await
            .expect("the rest follows")
            .expect("msg");
        if m.status == Some(async_nats::StatusCode::from_u16(100).unwrap()) {
            if let Some(reply) = m.reply {
                client.publish(reply, "".into()).await.expect("answer");
            }
        } else {
            messages += 1;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_push_consumer_with_a_deliver_group_hands_each_message_to_one_member() {
    let server = js_server().await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    let stream = js.create_stream(orders()).await.expect("stream");
    let mut a = client
        .queue_subscribe("deliver.q", "workers".into())
        .await
        .expect("a");
    let mut b = client
        .queue_subscribe("deliver.q", "workers".into())
        .await
        .expect("b");
    client.flush().await.expect("flush");
    stream
        .create_consumer(consumer::push::Config {
            durable_name: Some("q".into()),
            deliver_subject: "deliver.q".into(),
            deliver_group: Some("workers".into()),
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    publish_n(&js, 40).await;
    let mut seen = Vec::new();
    while seen.len() < 40 {
        let m = timeout(BOUND, async {
            tokio::select! {
                m = a.next() => m,
                m = b.next() => m,
            }
        })
        .await
        .expect("within bound")
        .expect("message");
        seen.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    seen.sort_by_key(|s| s.parse::<u32>().unwrap());
    let want: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    assert_eq!(seen, want, "each message once, across the group");
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limit_bps_spaces_push_deliveries() {
    let server = js_server().await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    let stream = js.create_stream(orders()).await.expect("stream");
    for i in 1..=5 {
        js.publish(format!("orders.{i}"), vec![b'x'; 240].into())
            .await
            .expect("sent")
            .await
            .expect("stored");
    }
    let mut raw = client.subscribe("deliver.slow").await.expect("subscribe");
    client.flush().await.expect("flush");
    let started = std::time::Instant::now();
    stream
        .create_consumer(consumer::push::Config {
            durable_name: Some("slow".into()),
            deliver_subject: "deliver.slow".into(),
            ack_policy: consumer::AckPolicy::None,
            // 250 bytes a message at 8,000 bits (1,000 bytes) a second: four a second.
            rate_limit: 8_000,
            ..Default::default()
        })
        .await
        .expect("consumer");
    for _ in 0..5 {
        timeout(BOUND, raw.next())
            .await
            .expect("within bound")
            .expect("message");
    }
    // The first goes at once; the other four wait about a quarter second each.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "five messages in {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_damaged_consumer_state_redelivers_rather_than_skips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(dir.path())),
        ..ServerOptions::ephemeral()
    };
    let server = start(opts()).await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::New,
            ..durable("saver")
        })
        .await
        .expect("consumer");
    publish_n(&js, 3).await;
    let got = fetch(&consumer, 1).await;
    got[0].double_ack().await.expect("ack stored");
    server.shutdown().await;

    let state = dir
        .path()
        .join("jetstream/$G/streams/ORDERS/obs/saver/state.log");
    assert!(
        state.exists(),
        "the consumer keeps its state in {}",
        state.display()
    );
    // The snapshot at the start of the log damaged: nothing of the state can be trusted.
    let mut bytes = std::fs::read(&state).expect("read state");
    bytes[10] ^= 0xff;
    std::fs::write(&state, bytes).expect("damage");
    let server = start(opts()).await;
    let js = context(&server).await;
    let consumer: consumer::PullConsumer = js
        .get_consumer_from_stream("saver", "ORDERS")
        .await
        .expect("consumer recovered");
    assert_eq!(
        payloads(&fetch(&consumer, 10).await),
        ["1", "2", "3"],
        "from the first message, not from 'new'"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_state_json_of_an_earlier_version_is_read_and_replaced_by_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(dir.path())),
        ..ServerOptions::ephemeral()
    };
    let server = start(opts()).await;
    let js = context(&server).await;
    let stream = js.create_stream(orders()).await.expect("stream");
    publish_n(&js, 5).await;
    stream
        .create_consumer(durable("saver"))
        .await
        .expect("consumer");
    server.shutdown().await;

    // The state as earlier versions kept it: 1 and 2 acknowledged, 3 delivered and pending.
    let obs = dir.path().join("jetstream/$G/streams/ORDERS/obs/saver");
    std::fs::remove_file(obs.join("state.log")).expect("a log was written");
    std::fs::write(
        obs.join("state.json"),
        r#"{"next_sseq":4,"dseq":3,"delivered_sseq":3,"ack_floor":[2,2],
            "pending":{"3":{"dseq":3,"deliveries":1,"time":1700000000000000000}},
            "start_list":[],"exhausted":[]}"#,
    )
    .expect("write state.json");

    let server = start(opts()).await;
    let js = context(&server).await;
    let mut consumer: consumer::PullConsumer = js
        .get_consumer_from_stream("saver", "ORDERS")
        .await
        .expect("consumer recovered");
    let info = consumer.info().await.expect("info").clone();
    assert_eq!(
        (
            info.ack_floor.stream_sequence,
            info.delivered.stream_sequence,
            info.num_ack_pending,
            info.num_pending
        ),
        (2, 3, 1, 2),
        "{info:?}"
    );
    // 3 waits for its ack wait; the new ones come now.
    let got = fetch(&consumer, 10).await;
    assert_eq!(payloads(&got), ["4", "5"]);
    for m in &got {
        m.double_ack().await.expect("ack stored");
    }
    server.shutdown().await;
    assert!(
        !obs.join("state.json").exists() && obs.join("state.log").exists(),
        "the log replaced state.json"
    );

    let server = start(opts()).await;
    let js = context(&server).await;
    let mut consumer: consumer::PullConsumer = js
        .get_consumer_from_stream("saver", "ORDERS")
        .await
        .expect("consumer recovered");
    let info = consumer.info().await.expect("info").clone();
    assert_eq!(
        (
            info.ack_floor.stream_sequence,
            info.delivered.stream_sequence,
            info.num_ack_pending
        ),
        (2, 5, 1),
        "only 3 is still unacknowledged: {info:?}"
    );
    server.shutdown().await;
}
