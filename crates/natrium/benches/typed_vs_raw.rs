//! Messages per second through a typed natrium handler (`Json<Event>`) versus a raw
//! async-nats subscriber decoding the same JSON, on the same embedded server.
//!
//! Run: `cargo bench -p natrium --bench typed_vs_raw` (env `BENCH_MESSAGES`: messages per
//! round, default 400 000; `BENCH_ROUNDS`: rounds per variant, default 6; `BENCH_NATS_URL`:
//! use that server instead of the embedded one). Every variant runs on the same server with
//! the same payload, publisher and message count; rounds are interleaved and rotate which
//! variant goes first, so drifting machine load hits all alike. The typed handler runs
//! twice: with the state as given (`State<Progress>`) and behind an `Arc`. The publisher sends in
//! windows no larger than the client's subscription buffer and waits for each window to be
//! consumed, so nothing is dropped and both sides are measured the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use natrium::{AppContext, BrokerConfig, Json, NatsServer, Server, State};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Messages per window; below async-nats's default subscription capacity (65 536).
const WINDOW: u64 = 20_000;

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
    fn new() -> (Self, watch::Receiver<u64>) {
        let (done, rx) = watch::channel(0);
        (
            Progress {
                count: Arc::new(AtomicU64::new(0)),
                done,
            },
            rx,
        )
    }

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

/// The same with the state behind one `Arc`, as axum advises for state that is cloned per
/// call: `Progress` itself holds an `Arc` and a `watch::Sender`, whose clone and drop cost
/// six atomic read-modify-writes per message, none of which the raw consumer pays.
async fn typed_arc_handler(State(progress): State<Arc<Progress>>, Json(event): Json<Event>) {
    progress.one(&event);
}

/// Publishes `total` copies of `payload` on `subject` window by window; returns the time
/// from the first publish until the consumer reported the last window.
async fn drive(
    client: &async_nats::Client,
    subject: &'static str,
    payload: &Bytes,
    total: u64,
    mut done: watch::Receiver<u64>,
) -> Duration {
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        for _ in 0..WINDOW {
            client
                .publish(subject, payload.clone())
                .await
                .expect("publish");
        }
        client.flush().await.expect("flush");
        sent += WINDOW;
        tokio::time::timeout(Duration::from_secs(60), done.wait_for(|n| *n >= sent))
            .await
            .unwrap_or_else(|_| {
                panic!("{subject}: window ending at message {sent} not consumed within 60 s")
            })
            .expect("consumer alive");
    }
    started.elapsed()
}

/// Returns once the server has processed everything `client` sent so far (async-nats's
/// flush only reaches the kernel, so a SUB could still be pending when the publisher, on
/// another connection, starts): the server itself answers a request nobody serves, in order.
async fn confirm(client: &async_nats::Client) {
    match client.request("bench.confirm", Bytes::new()).await {
        Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {}
        other => panic!("expected the server's no-responders answer, got {other:?}"),
    }
}

async fn raw_round(
    url: &str,
    publisher: &async_nats::Client,
    payload: &Bytes,
    total: u64,
) -> Duration {
    let client = async_nats::connect(url).await.expect("connect");
    let mut sub = client.subscribe("bench.raw").await.expect("subscribe");
    confirm(&client).await;
    let (progress, done) = Progress::new();
    let consumer = tokio::spawn(async move {
        let mut left = total;
        while left > 0 {
            let Some(msg) = sub.next().await else { break };
            let event: Event = serde_json::from_slice(&msg.payload).expect("valid JSON");
            progress.one(&event);
            left -= 1;
        }
    });
    let took = drive(publisher, "bench.raw", payload, total, done).await;
    consumer.await.expect("consumer");
    took
}

/// Which typed variant a round runs.
#[derive(Clone, Copy)]
enum Typed {
    /// `State<Progress>`.
    State,
    /// `State<Arc<Progress>>`.
    ArcState,
}

// The subjects `bench.raw`, `bench.typ` and `bench.arc` have the same length: parsing and
// validating a subject costs per byte, on both sides.
async fn typed_round(
    url: &str,
    publisher: &async_nats::Client,
    payload: &Bytes,
    total: u64,
    variant: Typed,
) -> Duration {
    let (progress, done) = Progress::new();
    let builder = NatsServer::builder(BrokerConfig::new([url]));
    let (subject, builder) = match variant {
        Typed::State => (
            "bench.typ",
            builder
                .subscribe("bench.typ", typed_handler)
                .state(progress),
        ),
        Typed::ArcState => (
            "bench.arc",
            builder
                .subscribe("bench.arc", typed_arc_handler)
                .state(Arc::new(progress)),
        ),
    };
    let server = builder.build().expect("valid server");
    let ctx = AppContext::standalone("bench");
    server.start(&ctx).await.expect("start");
    let took = drive(publisher, subject, payload, total, done).await;
    server.stop(&ctx).await.expect("stop");
    took
}

fn rate(total: u64, took: Duration) -> f64 {
    total as f64 / took.as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let total = env_number("BENCH_MESSAGES", 400_000)
        .div_ceil(WINDOW)
        .max(1)
        * WINDOW;
    let rounds = env_number("BENCH_ROUNDS", 6).max(1) as usize;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let embedded = match std::env::var("BENCH_NATS_URL") {
            Ok(_) => None,
            Err(_) => Some(
                natrium_server::Server::start(natrium_server::ServerOptions::ephemeral())
                    .await
                    .expect("embedded server"),
            ),
        };
        let url = match &embedded {
            Some(server) => server.client_url(),
            None => std::env::var("BENCH_NATS_URL").expect("checked above"),
        };
        let publisher = async_nats::connect(&url).await.expect("connect");
        let payload = Bytes::from(
            serde_json::to_vec(&Event {
                id: 42,
                user: "user-1234".into(),
                kind: "report.created".into(),
                amount: 1234.5,
                tags: vec!["alpha".into(), "beta".into()],
            })
            .expect("encode"),
        );
        println!(
            "typed_vs_raw: {total} messages per round, {} byte JSON payload, {rounds} rounds each, interleaved, server {}",
            payload.len(),
            if embedded.is_some() { "embedded natrium-server" } else { url.as_str() }
        );
        let (mut raw, mut typed, mut arc) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Rotate which variant goes first.
            for slot in 0..3 {
                match (round + slot) % 3 {
                    0 => raw.push(rate(total, raw_round(&url, &publisher, &payload, total).await)),
                    1 => typed.push(rate(
                        total,
                        typed_round(&url, &publisher, &payload, total, Typed::State).await,
                    )),
                    _ => arc.push(rate(
                        total,
                        typed_round(&url, &publisher, &payload, total, Typed::ArcState).await,
                    )),
                }
            }
        }
        let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let show = |v: &[f64]| v.iter().map(|r| *r as u64).collect::<Vec<_>>();
        let ratios = |v: &[f64]| {
            raw.iter()
                .zip(v)
                .map(|(r, t)| (t / r * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        };
        println!("| variant                                 | msgs/s (median) | msgs/s (best) | all rounds |");
        println!("|-----------------------------------------|-----------------|---------------|------------|");
        for (name, v) in [
            ("raw async-nats subscriber + serde      ", &raw),
            ("natrium, State<Progress> + Json<Event> ", &typed),
            ("natrium, State<Arc<Progress>> + Json<..>", &arc),
        ] {
            println!(
                "| {name} | {:>15.0} | {:>13.0} | {:?} |",
                median(v),
                best(v),
                show(v)
            );
        }
        for (name, v) in [("State<Progress>", &typed), ("State<Arc<Progress>>", &arc)] {
            println!(
                "natrium ({name}) / raw: median {:.3}, best {:.3}, per round {:?}",
                median(v) / median(&raw),
                best(v) / best(&raw),
                ratios(v)
            );
        }
        if let Some(server) = embedded {
            server.shutdown().await;
        }
    });
}
