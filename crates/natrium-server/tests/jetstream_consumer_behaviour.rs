//! Consumer behaviour measured through async-nats against natrium-server and the newest
//! nats-server alike (each scenario runs once per server): replay at the original pace, ack
//! sampling metrics, and an ordered consumer across a restart.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use common::BOUND;
use common::js_target::{Kind, Suite, Target};
use futures::StreamExt;
use natrium_test_support::port::{port_of, restartable_port};
use tokio::time::{Instant, timeout};

/// The consumer behaviour scenarios.
const SUITE: Suite = Suite {
    name: "consumer behaviour",
    bound: Duration::from_secs(30),
};

/// Starts `kind` for this suite.
async fn start(kind: Kind, dir: &Path, port: u16) -> Option<Target> {
    common::js_target::start(kind, dir, port, SUITE.name).await
}

fn events() -> stream::Config {
    stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["events.>".into()],
        ..Default::default()
    }
}

/// The publisher's spacing in the replay scenarios.
const SPACING: Duration = Duration::from_millis(100);
/// How much later than its stored gap a replayed message may arrive (a shared machine).
const LATE: Duration = Duration::from_millis(150);
/// How much earlier: timer granularity only.
const EARLY: Duration = Duration::from_millis(5);

/// Stores `n` messages `SPACING` apart.
async fn publish_spaced(js: &jetstream::Context, n: usize) {
    for i in 0..n {
        if i > 0 {
            tokio::time::sleep(SPACING).await;
        }
        js.publish(format!("events.{i}"), i.to_string().into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }
}

/// Checks that each message arrived as long after the previous one as it was stored after
/// it (within [`EARLY`] and [`LATE`]).
fn assert_original_pace(got: &[(Instant, jetstream::Message)]) {
    assert_eq!(got.len(), 4, "all messages replayed");
    for pair in got.windows(2) {
        let [(t0, m0), (t1, m1)] = pair else {
            unreachable!()
        };
        let stored = m1.info().unwrap().published - m0.info().unwrap().published;
        let stored = Duration::try_from(stored).expect("stored in order");
        let arrived = *t1 - *t0;
        assert!(
            stored >= SPACING - EARLY,
            "publisher spacing kept: {stored:?}"
        );
        assert!(
            arrived + EARLY >= stored && arrived <= stored + LATE,
            "stored {stored:?} apart, delivered {arrived:?} apart"
        );
    }
}

/// A push consumer with `replay_policy: original` spaces deliveries as the messages were
/// stored.
async fn push_replays_at_original_pace(js: jetstream::Context) {
    js.create_stream(events()).await.expect("stream");
    publish_spaced(&js, 4).await;
    let consumer: consumer::PushConsumer = js
        .create_consumer_on_stream(
            consumer::push::Config {
                deliver_subject: "replay.push".into(),
                replay_policy: consumer::ReplayPolicy::Original,
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            },
            "EVENTS",
        )
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut got = Vec::new();
    while got.len() < 4 {
        let m = timeout(BOUND, messages.next())
            .await
            .expect("delivery within bound")
            .expect("open")
            .expect("message");
        got.push((Instant::now(), m));
    }
    assert_original_pace(&got);
}

both!(
    SUITE,
    push_replay_original_natrium,
    push_replay_original_latest,
    push_replays_at_original_pace
);

/// A pull consumer with `replay_policy: original` answers one fetch (a `no_wait` request:
/// the held-back messages still count as there) at the pace the messages were stored.
async fn pull_replays_at_original_pace(js: jetstream::Context) {
    let stream = js.create_stream(events()).await.expect("stream");
    publish_spaced(&js, 4).await;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("replay".into()),
            replay_policy: consumer::ReplayPolicy::Original,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(4)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    let mut got = Vec::new();
    while got.len() < 4 {
        let m = timeout(BOUND, batch.next())
            .await
            .expect("delivery within bound")
            .expect("open")
            .expect("message");
        got.push((Instant::now(), m));
    }
    assert_original_pace(&got);
    // Caught up: what is published now is delivered at once.
    let mut next = consumer
        .fetch()
        .max_messages(2)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    // Stored long after the last one: were the consumer still replaying, it would wait
    // that long again.
    tokio::time::sleep(SPACING * 5).await;
    js.publish("events.late", "a".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let stored = Instant::now();
    let first = timeout(BOUND, next.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(&first.payload[..], b"a");
    assert!(stored.elapsed() < LATE, "delivered at once once caught up");
}

both!(
    SUITE,
    pull_replay_original_natrium,
    pull_replay_original_latest,
    pull_replays_at_original_pace
);

/// Publishes `events.<i>` with payload `<i>` for each `i`, retrying while the client
/// reconnects (after a restart).
async fn publish_range(js: &jetstream::Context, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        timeout(Duration::from_secs(20), async {
            loop {
                match js
                    .publish(format!("events.{i}"), i.to_string().into())
                    .await
                {
                    Ok(ack) => match ack.await {
                        Ok(ack) => return assert_eq!(ack.sequence, i),
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    },
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
        .await
        .expect("published within bound");
    }
}

/// An async-nats ordered consumer reads on across a restart of a file-backed server on the
/// same port and store directory: every message once, in order, none missing.
async fn ordered_consumer_survives_restart(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(target) = start(kind, dir.path(), restartable_port()).await else {
        return;
    };
    let url = target.url();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url.clone())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let stream = js.create_stream(events()).await.expect("stream");
    publish_range(&js, 1..=5).await;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: "events.>".into(),
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let m = timeout(BOUND, messages.next())
            .await
            .expect("message within bound")
            .expect("open")
            .expect("message");
        seen.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    target.shutdown().await;
    let target = start(kind, dir.path(), port_of(&url)).await.unwrap();
    publish_range(&js, 6..=10).await;
    timeout(Duration::from_secs(20), async {
        while seen.len() < 10 {
            // The lost connection surfaces as errors (missed heartbeats, a consumer to
            // recreate); the messages go on after them.
            if let Ok(m) = messages.next().await.expect("open") {
                seen.push(String::from_utf8_lossy(&m.payload).into_owned());
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{kind:?}: all messages after the restart; got {seen:?}"));
    let expected: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected, "{kind:?}: no gap, no duplicate");
    target.shutdown().await;
}

#[tokio::test]
async fn an_ordered_consumer_resumes_after_a_restart_natrium() {
    ordered_consumer_survives_restart(Kind::Natrium).await;
}

#[tokio::test]
async fn an_ordered_consumer_resumes_after_a_restart_latest() {
    ordered_consumer_survives_restart(Kind::Latest).await;
}
