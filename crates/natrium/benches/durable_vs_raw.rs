//! Messages per second through a typed durable route (`Json<Event>`, ack after the
//! handler) versus a raw async-nats pull consumer decoding the same JSON and acking each
//! message, on the newest nats-server (`NATS_SERVER_LATEST_BIN` or `nats-server-latest`).
//!
//! Run: `cargo bench -p natrium --bench durable_vs_raw` (env `BENCH_MESSAGES`: messages in
//! the stream, default 20 000; `BENCH_ROUNDS`: rounds per variant, default 3). The stream is
//! filled once; every round reads all of it through a fresh durable consumer (same prefetch
//! of 64, one message at a time), alternating variants so machine load hits both alike.
//! Both clocks start at the first message handled, so consumer setup is not measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::stream;
use futures::StreamExt;
use natrium::jetstream::testing::JsTestServer;
use natrium::jetstream::{PublishBatch, PublishOptions};
use natrium::{AppContext, Broker, Json, NatsBroker, NatsServer, Route, Server, State};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

const PREFETCH: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
struct Event {
    id: u64,
    user: String,
    kind: String,
    amount: f64,
    tags: Vec<String>,
}

struct Progress {
    count: AtomicU64,
    first: std::sync::OnceLock<Instant>,
    /// Messages of the round: the handler signals only when they are all handled (a signal
    /// per message would wake the waiting task each time, a cost the raw loop does not have).
    total: u64,
    done: watch::Sender<u64>,
}

async fn typed(State(progress): State<Arc<Progress>>, Json(event): Json<Event>) {
    std::hint::black_box(&event);
    progress.first.get_or_init(Instant::now);
    let n = progress.count.fetch_add(1, Ordering::Relaxed) + 1;
    if n >= progress.total {
        progress.done.send_replace(n);
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn consumer(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ..Default::default()
    }
}

async fn raw_round(broker: &NatsBroker, name: &str, total: u64) -> Duration {
    let js = broker.jetstream().expect("jetstream");
    let stream = js.get_stream("BENCH").await.expect("stream");
    let consumer = stream
        .create_consumer(consumer(name))
        .await
        .expect("consumer");
    let mut started = None;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PREFETCH)
        .messages()
        .await
        .expect("pull");
    let mut n = 0;
    while n < total {
        let message = messages.next().await.expect("message").expect("no error");
        started.get_or_insert_with(Instant::now);
        let event: Event = serde_json::from_slice(&message.payload).expect("decode");
        std::hint::black_box(&event);
        message.ack().await.expect("ack");
        n += 1;
    }
    started.expect("started").elapsed()
}

async fn typed_round(broker: &NatsBroker, name: &str, total: u64) -> Duration {
    let (done, mut rx) = watch::channel(0);
    let progress = Arc::new(Progress {
        count: AtomicU64::new(0),
        first: std::sync::OnceLock::new(),
        total,
        done,
    });
    let nats = NatsServer::builder(broker.clone())
        .state(progress.clone())
        .route(Route::durable("BENCH", consumer(name), typed).prefetch(PREFETCH))
        .build()
        .expect("build");
    let ctx = AppContext::standalone("bench");
    nats.start(&ctx).await.expect("start");
    rx.wait_for(|n| *n >= total).await.expect("progress");
    let took = progress.first.get().expect("started").elapsed();
    nats.stop(&ctx).await.expect("stop");
    took
}

#[tokio::main]
async fn main() {
    let total = env("BENCH_MESSAGES", 20_000);
    let rounds = env("BENCH_ROUNDS", 3);
    let Some(server) = JsTestServer::start().await else {
        return;
    };
    let broker = NatsBroker::connect(server.config()).await.expect("connect");
    let js = broker.jetstream().expect("jetstream");
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        ..Default::default()
    })
    .await
    .expect("stream");
    let mut batch = PublishBatch::new(&broker, 512);
    let started = Instant::now();
    for id in 0..total {
        let event = Event {
            id,
            user: "user-42".into(),
            kind: "page_view".into(),
            amount: 12.5,
            tags: vec!["a".into(), "b".into()],
        };
        batch
            .publish("bench.event", &event, PublishOptions::new())
            .await
            .expect("publish");
    }
    batch.finish().await.expect("acks");
    let publish = started.elapsed();
    println!(
        "durable publish (PublishBatch, 512 outstanding): {total} in {publish:?} = {:.0} msgs/s",
        total as f64 / publish.as_secs_f64()
    );
    let (mut raw, mut typ) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_raw in order {
            if is_raw {
                raw.push(raw_round(&broker, &format!("raw{round}"), total).await);
            } else {
                typ.push(typed_round(&broker, &format!("typed{round}"), total).await);
            }
        }
    }
    let rate = |d: &Duration| total as f64 / d.as_secs_f64();
    let best = |v: &[Duration]| v.iter().map(rate).fold(0.0, f64::max);
    let median = |v: &[Duration]| {
        let mut r: Vec<f64> = v.iter().map(rate).collect();
        r.sort_by(|a, b| a.total_cmp(b));
        r[r.len() / 2]
    };
    println!(
        "raw async-nats pull+ack: median {:.0} msgs/s, best {:.0}",
        median(&raw),
        best(&raw)
    );
    println!(
        "typed durable route:     median {:.0} msgs/s, best {:.0}",
        median(&typ),
        best(&typ)
    );
    println!("typed / raw (median): {:.2}x", median(&typ) / median(&raw));
    broker.close().await.expect("close");
    server.stop().await;
}
