//! One side of the `typed_vs_raw` comparison per process, so that a profiler (e.g.
//! `valgrind --tool=callgrind`) sees only the consuming side.
//!
//! ```sh
//! nats-server -a 127.0.0.1 -p 4333 &
//! profile_consumer publish nats://127.0.0.1:4333 raw 100000 &      # waits for the consumer
//! valgrind --tool=callgrind profile_consumer consume nats://127.0.0.1:4333 raw 100000
//! ```
//!
//! The consumer acknowledges every window of messages on `profile.ack`; the publisher sends
//! the next window only then, so nothing is dropped however slow the profiled side runs.
//! Both modes (`raw`: an async-nats subscriber decoding JSON; `typed`: a natrium
//! `NatsServer` with a `Json<Event>` handler) acknowledge the same way, so the difference
//! between their instruction counts is what natrium adds per message.
//!
//! The JetStream modes compare the `durable_vs_raw` sides on a JetStream server
//! (`nats-server -js`): `publish` fills a fresh memory stream with `COUNT` messages and
//! returns; `consume` then reads them all through a new durable pull consumer (prefetch
//! 64), acking each: `pull` with a raw async-nats pull consumer decoding JSON, `durable`
//! with a natrium durable route (`State` + `Json<Event>`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::stream;
use bytes::Bytes;
use futures::StreamExt;
use natrium::{AppContext, BrokerConfig, Json, NatsServer, Route, Server, State};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Messages per window; below async-nats's default subscription capacity (65 536).
const WINDOW: u64 = 10_000;
const ACK_SUBJECT: &str = "profile.ack";
const STREAM: &str = "PROFILE";
const STREAM_SUBJECT: &str = "profile.js";
/// Pulled ahead, in both JetStream modes.
const PREFETCH: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
struct Event {
    id: u64,
    user: String,
    kind: String,
    amount: f64,
    tags: Vec<String>,
}

/// Counts consumed messages and publishes the count at window ends.
#[derive(Clone)]
struct Progress {
    count: Arc<AtomicU64>,
    done: watch::Sender<u64>,
}

impl Progress {
    fn one(&self, event: &Event) {
        std::hint::black_box(event);
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(WINDOW) {
            self.done.send_replace(n);
        }
    }
}

async fn typed_handler(State(progress): State<Progress>, Json(event): Json<Event>) {
    progress.one(&event);
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Subjects of equal length, so that parsing them costs the same in both modes.
fn subject(mode: &str) -> Result<&'static str, BoxError> {
    match mode {
        "raw" => Ok("profile.raw"),
        "typed" => Ok("profile.typ"),
        other => {
            Err(format!("unknown mode {other:?} (expected raw, typed, pull or durable)").into())
        }
    }
}

fn payload() -> Result<Bytes, BoxError> {
    Ok(Bytes::from(serde_json::to_vec(&Event {
        id: 42,
        user: "user-1234".into(),
        kind: "report.created".into(),
        amount: 1234.5,
        tags: vec!["alpha".into(), "beta".into()],
    })?))
}

fn is_jetstream(mode: &str) -> bool {
    matches!(mode, "pull" | "durable")
}

/// Replaces the stream with one holding `total` messages (at most 512 unacknowledged).
async fn fill_stream(url: &str, total: u64) -> Result<(), BoxError> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let _ = js.delete_stream(STREAM).await;
    js.create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec![STREAM_SUBJECT.into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await?;
    let payload = payload()?;
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..total {
        if pending.len() >= 512 {
            let ack: async_nats::jetstream::context::PublishAckFuture =
                pending.pop_front().ok_or("empty")?;
            ack.await?;
        }
        pending.push_back(js.publish(STREAM_SUBJECT, payload.clone()).await?);
    }
    for ack in pending {
        ack.await?;
    }
    client.flush().await?;
    Ok(())
}

/// Sends `total` messages window by window, each after the consumer acknowledged the last.
async fn publish(url: &str, mode: &str, total: u64) -> Result<(), BoxError> {
    if is_jetstream(mode) {
        return fill_stream(url, total).await;
    }
    let subject = subject(mode)?;
    let client = async_nats::connect(url).await?;
    let mut acks = client.subscribe(ACK_SUBJECT).await?;
    client.flush().await?;
    let payload = payload()?;
    let mut sent = 0;
    // The consumer's first acknowledgement (0) says it is subscribed.
    loop {
        let ack = tokio::time::timeout(Duration::from_secs(600), acks.next())
            .await?
            .ok_or("acknowledgement subscription ended")?;
        let consumed: u64 = std::str::from_utf8(&ack.payload)?.parse()?;
        if consumed < sent {
            continue;
        }
        if sent >= total {
            return Ok(());
        }
        for _ in 0..WINDOW.min(total - sent) {
            client.publish(subject, payload.clone()).await?;
        }
        client.flush().await?;
        sent += WINDOW.min(total - sent);
    }
}

fn consumer(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ..Default::default()
    }
}

/// Reads the whole stream through a raw async-nats pull consumer, acking each message.
async fn consume_pull(url: &str, total: u64) -> Result<(), BoxError> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream(STREAM).await?;
    let _ = stream.delete_consumer("pull").await;
    let consumer = stream.create_consumer(consumer("pull")).await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PREFETCH)
        .messages()
        .await?;
    let mut count = 0;
    while count < total {
        let message = messages.next().await.ok_or("pull ended")??;
        match serde_json::from_slice::<Event>(&message.payload) {
            Ok(event) => {
                std::hint::black_box(&event);
            }
            Err(err) => eprintln!("bad JSON: {err}"),
        }
        message.ack().await?;
        count += 1;
    }
    drop(messages);
    client.flush().await?;
    Ok(())
}

/// Reads the whole stream through a natrium durable route.
async fn consume_durable(url: &str, total: u64) -> Result<(), BoxError> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client);
    let _ = js
        .get_stream(STREAM)
        .await?
        .delete_consumer("durable")
        .await;
    let (done, mut windows) = watch::channel(0);
    let progress = Progress {
        count: Arc::new(AtomicU64::new(0)),
        done,
    };
    let route = Route::durable(STREAM, consumer("durable"), typed_handler).prefetch(PREFETCH);
    let server = NatsServer::builder(BrokerConfig::new([url]))
        .route(route)
        .state(progress.clone())
        .build()?;
    let ctx = AppContext::standalone("profile");
    server.start(&ctx).await?;
    windows.wait_for(|n| *n >= total).await?;
    server.stop(&ctx).await?;
    Ok(())
}

/// Consumes `total` messages in `mode`, acknowledging each window on `profile.ack`.
async fn consume(url: &str, mode: &str, total: u64) -> Result<(), BoxError> {
    match mode {
        "pull" => return consume_pull(url, total).await,
        "durable" => return consume_durable(url, total).await,
        _ => {}
    }
    let subject = subject(mode)?;
    let acker = async_nats::connect(url).await?;
    let (done, mut windows) = watch::channel(0);
    let progress = Progress {
        count: Arc::new(AtomicU64::new(0)),
        done,
    };
    let ctx = AppContext::standalone("profile");
    let (raw, typed) = match mode {
        "raw" => {
            let client = async_nats::connect(url).await?;
            let mut sub = client.subscribe(subject).await?;
            // async-nats's flush only reaches the kernel; the server's own answer to a
            // request nobody serves proves the SUB was processed.
            match client.request("profile.confirm", Bytes::new()).await {
                Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {}
                other => return Err(format!("expected no responders, got {other:?}").into()),
            }
            let progress = progress.clone();
            let task = tokio::spawn(async move {
                let mut left = total;
                while left > 0 {
                    let Some(msg) = sub.next().await else { break };
                    match serde_json::from_slice::<Event>(&msg.payload) {
                        Ok(event) => progress.one(&event),
                        Err(err) => eprintln!("bad JSON: {err}"),
                    }
                    left -= 1;
                }
            });
            (Some(task), None)
        }
        _ => {
            let server = NatsServer::builder(BrokerConfig::new([url]))
                .subscribe(subject, typed_handler)
                .state(progress.clone())
                .build()?;
            server.start(&ctx).await?;
            (None, Some(server))
        }
    };
    acker.publish(ACK_SUBJECT, "0".into()).await?;
    acker.flush().await?;
    loop {
        let n = *windows.borrow_and_update();
        if n > 0 {
            acker.publish(ACK_SUBJECT, n.to_string().into()).await?;
            acker.flush().await?;
        }
        if n >= total {
            break;
        }
        windows.changed().await?;
    }
    if let Some(task) = raw {
        task.await?;
    }
    if let Some(server) = typed {
        server.stop(&ctx).await?;
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role, url, mode, total] = args.as_slice() else {
        return Err(
            "usage: profile_consumer publish|consume URL raw|typed|pull|durable COUNT".into(),
        );
    };
    let total: u64 = total.parse()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match role.as_str() {
            "publish" => publish(url, mode, total).await,
            "consume" => consume(url, mode, total).await,
            other => Err(format!("unknown role {other:?} (expected publish or consume)").into()),
        }
    })
}
