//! Benchmark publishers and subscribers, with either async-nats or the raw TCP client.
//!
//! Subscribers are set up in two steps — [`Subscriber::prepare`] returns once the server has
//! confirmed every subscription, [`Subscriber::run`] then counts — so publishing starts only
//! when nobody can miss a message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::SelectAll;
use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

use super::raw::RawConnection;
use super::report::{ClientRun, Span};

/// Which client library the benchmark's publishers and subscribers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// The official async-nats client.
    Nats,
    /// A minimal client writing and counting protocol frames directly over TCP.
    Raw,
}

impl ClientKind {
    /// The name shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Nats => "nats",
            ClientKind::Raw => "raw",
        }
    }
}

/// Messages a subscriber may buffer inside async-nats before the library drops them.
const SUBSCRIPTION_CAPACITY: usize = 1 << 20;

/// How many messages a client handles between progress bar updates.
const PROGRESS_STEP: u64 = 4096;

/// Counts messages towards an expected total shared by one or more subscribers (all members
/// of a queue group share one); `done` fires when the total is reached.
#[derive(Debug)]
pub struct Tally {
    expected: u64,
    received: AtomicU64,
    done: CancellationToken,
}

impl Tally {
    /// A tally expecting `expected` messages.
    pub fn new(expected: u64) -> Arc<Tally> {
        Arc::new(Tally {
            expected,
            received: AtomicU64::new(0),
            done: CancellationToken::new(),
        })
    }

    /// Adds `n` received messages; fires `done` when the total is reached.
    fn add(&self, n: u64) {
        if self.received.fetch_add(n, Ordering::Relaxed) + n >= self.expected {
            self.done.cancel();
        }
    }
}

/// Connection options for benchmark clients; slow-consumer events are counted in `slow`.
async fn nats_options(
    name: &str,
    slow: Arc<AtomicU64>,
) -> anyhow::Result<async_nats::ConnectOptions> {
    Ok(crate::connect::options(name)
        .await?
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .event_callback(move |event| {
            let slow = slow.clone();
            async move {
                if let async_nats::Event::SlowConsumer(_) = event {
                    slow.fetch_add(1, Ordering::Relaxed);
                }
            }
        }))
}

/// A connected publisher; connecting is kept out of the measured time.
pub enum Publisher {
    /// async-nats.
    Nats(async_nats::Client),
    /// Raw TCP.
    Raw(RawConnection),
}

impl Publisher {
    /// Connects (and completes the handshake).
    pub async fn connect(kind: ClientKind, url: &str) -> anyhow::Result<Publisher> {
        Ok(match kind {
            ClientKind::Raw => Publisher::Raw(RawConnection::connect(url).await?),
            ClientKind::Nats => {
                Publisher::Nats(crate::connect::connect(url, "natrium bench publisher").await?)
            }
        })
    }

    /// Publishes `count` messages of `payload`, cycling over `subjects`, and returns once
    /// the server confirmed receiving them all.
    pub async fn run(
        self,
        subjects: Arc<Vec<String>>,
        count: u64,
        payload: Bytes,
        progress: ProgressBar,
    ) -> anyhow::Result<ClientRun> {
        anyhow::ensure!(!subjects.is_empty(), "nothing to publish to: no subjects");
        let start = Instant::now();
        match self {
            Publisher::Raw(mut connection) => {
                connection
                    .publish(&subjects, count, &payload, |n| progress.inc(n))
                    .await?;
            }
            Publisher::Nats(client) => {
                let subjects: Vec<async_nats::Subject> = subjects
                    .iter()
                    .map(|s| async_nats::Subject::from(s.as_str()))
                    .collect();
                for i in 0..count {
                    let subject = subjects[(i % subjects.len() as u64) as usize].clone();
                    client
                        .publish(subject, payload.clone())
                        .await
                        .context("publish failed")?;
                    if (i + 1) % PROGRESS_STEP == 0 {
                        progress.inc(PROGRESS_STEP);
                    }
                }
                crate::connect::round_trip(&client)
                    .await
                    .context("the server did not confirm the published messages")?;
                progress.inc(count % PROGRESS_STEP);
            }
        }
        Ok(ClientRun {
            msgs: count,
            bytes: count * payload.len() as u64,
            span: Some(Span {
                start,
                end: Instant::now(),
            }),
        })
    }
}

/// A subscriber whose subscriptions the server has confirmed.
pub enum Subscriber {
    /// async-nats: all subscriptions merged into one stream.
    Nats {
        /// Kept alive for as long as the subscriptions are read.
        _client: async_nats::Client,
        /// Every subscription's messages.
        messages: SelectAll<async_nats::Subscriber>,
    },
    /// Raw TCP.
    Raw(RawConnection),
}

impl Subscriber {
    /// Connects and subscribes to every `(subject, queue group)`; returns once the server
    /// confirmed them (PING/PONG).
    pub async fn prepare(
        kind: ClientKind,
        url: &str,
        subscriptions: &[(String, Option<String>)],
        slow: Arc<AtomicU64>,
    ) -> anyhow::Result<Subscriber> {
        match kind {
            ClientKind::Raw => {
                let mut connection = RawConnection::connect(url).await?;
                connection.subscribe(subscriptions).await?;
                Ok(Subscriber::Raw(connection))
            }
            ClientKind::Nats => {
                let client = crate::connect::connect_with(
                    url,
                    nats_options("natrium bench subscriber", slow).await?,
                )
                .await?;
                let mut messages = SelectAll::new();
                for (subject, queue) in subscriptions {
                    let subscription = match queue {
                        Some(queue) => client.queue_subscribe(subject.clone(), queue.clone()).await,
                        None => client.subscribe(subject.clone()).await,
                    }
                    .with_context(|| format!("cannot subscribe to {subject:?}"))?;
                    messages.push(subscription);
                }
                crate::connect::round_trip(&client)
                    .await
                    .context("the server did not confirm the subscriptions")?;
                Ok(Subscriber::Nats {
                    _client: client,
                    messages,
                })
            }
        }
    }

    /// Counts messages until `tally` is complete, or nothing arrives for `first_wait` (before
    /// the first message) or `idle` (after it); then the report shows the loss.
    ///
    /// The subscriber's time runs from `epoch` (when publishing started, if it is known) to
    /// the last message: a client reading in large batches may see its first and last
    /// message in the same read, so "first to last message" would be no time at all.
    pub async fn run(
        self,
        tally: Arc<Tally>,
        epoch: Arc<OnceLock<Instant>>,
        first_wait: Duration,
        idle: Duration,
        progress: ProgressBar,
    ) -> anyhow::Result<ClientRun> {
        let mut msgs = 0u64;
        let mut bytes = 0u64;
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        match self {
            Subscriber::Raw(mut connection) => {
                let done = tally.done.clone();
                connection
                    .receive(first_wait, idle, &done.clone(), |n, size| {
                        let now = Instant::now();
                        first.get_or_insert(now);
                        last = Some(now);
                        msgs += n;
                        bytes += size;
                        progress.inc(n);
                        tally.add(n);
                        !done.is_cancelled()
                    })
                    .await?;
            }
            Subscriber::Nats { mut messages, .. } => {
                let mut unreported = 0u64;
                loop {
                    let next = tokio::select! {
                        biased;
                        _ = tally.done.cancelled() => break,
                        next = tokio::time::timeout(
                            if msgs == 0 { first_wait } else { idle },
                            messages.next(),
                        ) => next,
                    };
                    let Ok(Some(message)) = next else { break };
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = Some(now);
                    msgs += 1;
                    bytes += message.payload.len() as u64;
                    unreported += 1;
                    if unreported == PROGRESS_STEP {
                        progress.inc(unreported);
                        unreported = 0;
                    }
                    tally.add(1);
                }
                progress.inc(unreported);
            }
        }
        Ok(ClientRun {
            msgs,
            bytes,
            span: first.zip(last).map(|(first, end)| Span {
                start: epoch.get().copied().unwrap_or(first).min(first),
                end,
            }),
        })
    }
}

/// Options for request/reply clients; requests time out after `timeout`.
pub async fn request_options(
    name: &str,
    timeout: Duration,
) -> anyhow::Result<async_nats::ConnectOptions> {
    Ok(crate::connect::options(name)
        .await?
        .request_timeout(Some(timeout)))
}
