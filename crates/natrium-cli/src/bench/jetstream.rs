//! `natrium bench js pub`: publishing into a JetStream stream with acknowledgements, through
//! async-nats' JetStream context (the client applications use, the same against any server);
//! and `natrium bench js consume`: reading a filled stream through a new consumer (pull,
//! fetch, push or ordered).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;

use super::report::{ClientRun, Latency, Report, Span};

/// The stream the benchmark (re)creates.
pub const STREAM: &str = "NATRIUM_BENCH";

/// Where the stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    /// Block files in the server's store directory.
    File,
    /// Memory only.
    Memory,
}

/// How the publisher waits for acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Wait for each acknowledgement before the next publish.
    Sync,
    /// Keep up to this many acknowledgements outstanding.
    Async(usize),
}

/// Which client publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsClient {
    /// async-nats' JetStream context, as applications publish.
    Nats,
    /// Pre-encoded `PUB` frames over TCP with one reply inbox, acks parsed in place (async
    /// mode only): a client that is not the bottleneck.
    Raw,
}

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct JsSettings {
    /// Server URL.
    pub url: String,
    /// Messages to publish.
    pub msgs: u64,
    /// Payload size in bytes.
    pub size: usize,
    /// Subject the stream captures.
    pub subject: String,
    /// Storage of the stream.
    pub storage: Storage,
    /// Acknowledgement mode.
    pub mode: AckMode,
    /// Whether to draw a progress bar.
    pub progress: bool,
    /// The publishing client.
    pub client: JsClient,
}

impl JsSettings {
    /// The workload name in reports: `js-pub-sync` or `js-pub-async`.
    fn workload(&self) -> &'static str {
        match self.mode {
            AckMode::Sync => "js-pub-sync",
            AckMode::Async(_) => "js-pub-async",
        }
    }
}

/// Makes the benchmark stream empty: purges an earlier one with the same storage and subject,
/// otherwise deletes it and creates it afresh. Returns the sequence the next message gets.
///
/// Purging rather than deleting a matching stream matters for nats-server, which refuses to
/// create a file stream right after deleting one of the same name ("error creating store for
/// stream", 10049) while it still removes the old directory.
pub async fn recreate_stream(
    js: &jetstream::Context,
    subject: &str,
    storage: Storage,
) -> anyhow::Result<u64> {
    let storage = match storage {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    };
    if let Ok(mut old) = js.get_stream(STREAM).await {
        let config = &old.cached_info().config;
        if config.storage == storage && config.subjects == [subject] {
            old.purge()
                .await
                .context("cannot purge the benchmark stream")?;
            let state = old.info().await.context("stream info")?.state.clone();
            return Ok(state.last_sequence + 1);
        }
        js.delete_stream(STREAM)
            .await
            .context("cannot delete the old benchmark stream")?;
    }
    js.create_stream(stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![subject.to_owned()],
        storage,
        ..Default::default()
    })
    .await
    .context("cannot create the benchmark stream")?;
    Ok(1)
}

/// Publishes `msgs` messages into a fresh stream and reports the acknowledged rate (and the
/// acknowledgement latency in sync mode). Every publish must be acknowledged with the next
/// sequence; anything else fails the run.
pub async fn publish(settings: &JsSettings) -> anyhow::Result<Report> {
    let client = crate::connect::connect(&settings.url, "natrium bench js").await?;
    let js = jetstream::new(client.clone());
    let first_seq = recreate_stream(&js, &settings.subject, settings.storage).await?;
    let payload = Bytes::from(vec![b'n'; settings.size]);
    let progress = if settings.progress {
        ProgressBar::new(settings.msgs)
    } else {
        ProgressBar::hidden()
    };
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .context("cannot create the latency histogram")?;
    let mut expected_seq = first_seq;
    let mut check = |ack: jetstream::publish::PublishAck| {
        anyhow::ensure!(
            ack.sequence == expected_seq && ack.stream == STREAM,
            "acknowledgement {} in {:?}, expected {expected_seq} in {STREAM}",
            ack.sequence,
            ack.stream
        );
        expected_seq += 1;
        Ok(())
    };
    let start = Instant::now();
    match (settings.mode, settings.client) {
        (AckMode::Sync, JsClient::Raw) => {
            anyhow::bail!("the raw JetStream publisher is async only (use --window 1)")
        }
        (AckMode::Async(window), JsClient::Raw) => {
            let mut raw = super::raw::RawConnection::connect(&settings.url).await?;
            raw.publish_acked(
                &settings.subject,
                settings.msgs,
                &payload,
                window as u64,
                first_seq,
                |n| progress.inc(n),
            )
            .await?;
            expected_seq = first_seq + settings.msgs;
        }
        (AckMode::Sync, JsClient::Nats) => {
            for _ in 0..settings.msgs {
                let sent = Instant::now();
                let ack = js
                    .publish(settings.subject.clone(), payload.clone())
                    .await
                    .context("publish failed")?
                    .await
                    .context("no acknowledgement")?;
                let nanos = sent.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                histogram.saturating_record(nanos.max(1));
                check(ack)?;
                progress.inc(1);
            }
        }
        (AckMode::Async(window), JsClient::Nats) => {
            let mut pending = VecDeque::with_capacity(window);
            for _ in 0..settings.msgs {
                if pending.len() >= window.max(1) {
                    let ack: jetstream::context::PublishAckFuture =
                        pending.pop_front().expect("window is full");
                    check(ack.await.context("no acknowledgement")?)?;
                    progress.inc(1);
                }
                pending.push_back(
                    js.publish(settings.subject.clone(), payload.clone())
                        .await
                        .context("publish failed")?,
                );
            }
            for ack in pending {
                check(ack.await.context("no acknowledgement")?)?;
                progress.inc(1);
            }
        }
    }
    let end = Instant::now();
    progress.finish_and_clear();
    let acked = expected_seq - first_seq;
    let client_name = match settings.client {
        JsClient::Nats => "async-nats",
        JsClient::Raw => "raw",
    };
    let mut report = Report::new(
        settings.workload(),
        &settings.url,
        client_name,
        settings.size,
    );
    report.set_publishers(&[ClientRun {
        msgs: acked,
        bytes: acked * settings.size as u64,
        span: Some(Span { start, end }),
    }]);
    report.set_accounting(settings.msgs, acked);
    if !histogram.is_empty() {
        report.latency = Some(Latency::from_histogram(&histogram));
    }
    // Leave nothing queued behind in the client before the caller stops the server.
    tokio::time::timeout(Duration::from_secs(5), client.flush())
        .await
        .ok();
    Ok(report)
}

/// The durable consumer `natrium bench js consume` (re)creates.
pub const CONSUMER: &str = "NATRIUM_BENCH_CONSUMER";

/// Publishes outstanding while a consume benchmark fills its stream.
const FILL_WINDOW: u64 = 256;

/// Messages per pull request of async-nats' ordered pull consumer.
const ORDERED_BATCH: u64 = 500;

/// How long the server may take to show every acknowledgement in consumer info once the
/// client has flushed them (nats-server applies acks from a queue, after the round trip).
const ACK_SETTLE: Duration = Duration::from_secs(10);

/// The acknowledgement policy of the benchmark consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsumeAck {
    /// Every message is acknowledged on its own.
    Explicit,
    /// Nothing is acknowledged: delivered is done.
    None,
}

/// How the benchmark consumer gets its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// async-nats' continuous pull (`consumer.stream()`), this many messages per request.
    Stream(usize),
    /// Repeated `consumer.fetch()` of this many messages, one request at a time.
    Fetch(usize),
    /// A durable push consumer delivering to an inbox (`consumer.messages()`).
    Push,
    /// async-nats' ordered pull consumer (ephemeral, no acknowledgements).
    Ordered,
}

/// What to read and how.
#[derive(Debug, Clone)]
pub struct ConsumeSettings {
    /// Server URL.
    pub url: String,
    /// Messages to put in the stream and read back.
    pub msgs: u64,
    /// Payload size in bytes.
    pub size: usize,
    /// Subject the stream captures.
    pub subject: String,
    /// Storage of the stream.
    pub storage: Storage,
    /// Acknowledgement policy of the consumer.
    pub ack: ConsumeAck,
    /// Wait for the server to confirm each acknowledgement (explicit acks only).
    pub double_ack: bool,
    /// How messages are pulled.
    pub pull: Pull,
    /// The consuming client (raw: continuous pull only).
    pub client: JsClient,
    /// Whether to draw a progress bar.
    pub progress: bool,
}

impl ConsumeSettings {
    /// The workload name in reports.
    fn workload(&self) -> &'static str {
        match (self.pull, self.ack, self.double_ack) {
            (Pull::Stream(_), ConsumeAck::None, _) if self.client == JsClient::Raw => {
                "js-consume-raw-ack-none"
            }
            (Pull::Stream(_), ConsumeAck::Explicit, _) if self.client == JsClient::Raw => {
                "js-consume-raw"
            }
            (Pull::Fetch(_), ConsumeAck::None, _) if self.client == JsClient::Raw => {
                "js-fetch-raw-ack-none"
            }
            (Pull::Fetch(_), ConsumeAck::Explicit, _) if self.client == JsClient::Raw => {
                "js-fetch-raw"
            }
            (Pull::Push, ConsumeAck::None, _) if self.client == JsClient::Raw => {
                "js-push-raw-ack-none"
            }
            (Pull::Push, ConsumeAck::Explicit, _) if self.client == JsClient::Raw => "js-push-raw",
            (Pull::Ordered, _, _) if self.client == JsClient::Raw => "js-ordered-raw",
            (Pull::Stream(_), ConsumeAck::None, _) => "js-consume-ack-none",
            (Pull::Stream(_), ConsumeAck::Explicit, false) => "js-consume",
            (Pull::Stream(_), ConsumeAck::Explicit, true) => "js-consume-double-ack",
            (Pull::Fetch(_), ConsumeAck::None, _) => "js-fetch-ack-none",
            (Pull::Fetch(_), ConsumeAck::Explicit, false) => "js-fetch",
            (Pull::Fetch(_), ConsumeAck::Explicit, true) => "js-fetch-double-ack",
            (Pull::Push, ConsumeAck::None, _) => "js-push-ack-none",
            (Pull::Push, ConsumeAck::Explicit, false) => "js-push",
            (Pull::Push, ConsumeAck::Explicit, true) => "js-push-double-ack",
            (Pull::Ordered, _, _) => "js-ordered",
        }
    }
}

/// Fills a fresh benchmark stream with `msgs` messages (raw client, every publish
/// acknowledged) and removes an earlier benchmark consumer. Returns the first sequence.
pub async fn fill(settings: &ConsumeSettings) -> anyhow::Result<u64> {
    let client = crate::connect::connect(&settings.url, "natrium bench js consume").await?;
    let js = jetstream::new(client.clone());
    let first_seq = recreate_stream(&js, &settings.subject, settings.storage).await?;
    // A purged stream keeps its consumers; the benchmark wants a new one.
    if let Ok(stream) = js.get_stream(STREAM).await
        && stream.consumer_info(CONSUMER).await.is_ok()
    {
        stream
            .delete_consumer(CONSUMER)
            .await
            .context("cannot delete the old benchmark consumer")?;
    }
    let mut raw = super::raw::RawConnection::connect(&settings.url).await?;
    let payload = vec![b'n'; settings.size];
    raw.publish_acked(
        &settings.subject,
        settings.msgs,
        &payload,
        FILL_WINDOW,
        first_seq,
        |_| {},
    )
    .await
    .context("cannot fill the benchmark stream")?;
    Ok(first_seq)
}

/// Reads the `msgs` messages [`fill`] stored from `first_seq` on through a new consumer,
/// acknowledging each as the settings say, and reports the rate. Every message must arrive
/// once, in order, with its payload; with explicit acks the consumer must end with nothing
/// pending and its ack floor at the last message.
pub async fn consume(settings: &ConsumeSettings, first_seq: u64) -> anyhow::Result<Report> {
    anyhow::ensure!(
        !(settings.double_ack && settings.ack == ConsumeAck::None),
        "--double-ack needs --ack explicit"
    );
    anyhow::ensure!(
        !(settings.pull == Pull::Ordered && settings.ack == ConsumeAck::Explicit),
        "ordered consumers do not acknowledge: use --ack none"
    );
    let client = crate::connect::connect(&settings.url, "natrium bench js consume").await?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(STREAM).await.context("no benchmark stream")?;
    let ack_policy = match settings.ack {
        ConsumeAck::Explicit => jetstream::consumer::AckPolicy::Explicit,
        ConsumeAck::None => jetstream::consumer::AckPolicy::None,
    };
    let progress = if settings.progress {
        ProgressBar::new(settings.msgs)
    } else {
        ProgressBar::hidden()
    };
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .context("cannot create the latency histogram")?;
    let mut next_seq = first_seq;
    let last_seq = first_seq + settings.msgs - 1;
    if settings.client == JsClient::Raw {
        anyhow::ensure!(
            !settings.double_ack,
            "the raw consumer does not do --double-ack"
        );
    }
    let mut raw = match settings.client {
        JsClient::Raw => Some(super::raw::RawConnection::connect(&settings.url).await?),
        JsClient::Nats => None,
    };
    let run = super::raw::RawConsume {
        count: settings.msgs,
        first_seq,
        size: settings.size,
        ack: settings.ack == ConsumeAck::Explicit,
    };
    let start = Instant::now();
    match settings.pull {
        Pull::Stream(batch) | Pull::Fetch(batch) if let Some(raw) = raw.as_mut() => {
            pull_consumer(&stream, ack_policy).await?;
            // async-nats' continuous pull keeps two requests going; a fetch waits for each.
            let outstanding = if matches!(settings.pull, Pull::Stream(_)) {
                2
            } else {
                1
            };
            let feed = super::raw::RawFeed::Pull {
                stream: STREAM,
                consumer: CONSUMER,
                batch: batch as u64,
                outstanding,
            };
            raw.consume(feed, run, |n| progress.inc(n)).await?;
            next_seq = last_seq + 1;
        }
        Pull::Ordered if let Some(raw) = raw.as_mut() => {
            // The consumer async-nats' ordered pull consumer creates (no acks, one
            // delivery, state in memory), read with its batch and two requests going.
            let name = format!("ordered-{}", nuid::next());
            let config =
                jetstream::consumer::pull::Config::from(jetstream::consumer::pull::OrderedConfig {
                    name: Some(name.clone()),
                    ..Default::default()
                });
            stream
                .create_consumer(config)
                .await
                .context("cannot create the ordered consumer")?;
            let feed = super::raw::RawFeed::Pull {
                stream: STREAM,
                consumer: &name,
                batch: ORDERED_BATCH,
                outstanding: 2,
            };
            let run = super::raw::RawConsume { ack: false, ..run };
            raw.consume(feed, run, |n| progress.inc(n)).await?;
            next_seq = last_seq + 1;
        }
        Pull::Push if let Some(raw) = raw.as_mut() => {
            let inbox = format!("_INBOX.{}", nuid::next());
            raw.subscribe(&[(inbox.clone(), None)]).await?;
            push_consumer(&stream, ack_policy, inbox).await?;
            raw.consume(super::raw::RawFeed::Push, run, |n| progress.inc(n))
                .await?;
            next_seq = last_seq + 1;
        }
        Pull::Stream(batch) => {
            let consumer = pull_consumer(&stream, ack_policy).await?;
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(batch)
                .messages()
                .await
                .context("cannot start pulling")?;
            while next_seq <= last_seq {
                let msg = messages
                    .next()
                    .await
                    .context("the message stream ended")?
                    .map_err(|e| anyhow::anyhow!("pulling failed: {e}"))?;
                take(settings, &msg, &mut next_seq, &mut histogram).await?;
                progress.inc(1);
            }
        }
        Pull::Fetch(batch) => {
            let consumer = pull_consumer(&stream, ack_policy).await?;
            while next_seq <= last_seq {
                let wanted = batch.min((last_seq + 1 - next_seq) as usize);
                let mut messages = consumer
                    .fetch()
                    .max_messages(wanted)
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot fetch: {e}"))?;
                let before = next_seq;
                while let Some(msg) = messages.next().await {
                    let msg = msg.map_err(|e| anyhow::anyhow!("fetch failed: {e}"))?;
                    take(settings, &msg, &mut next_seq, &mut histogram).await?;
                    progress.inc(1);
                }
                anyhow::ensure!(
                    next_seq > before,
                    "a fetch of {wanted} expired empty at sequence {next_seq}"
                );
            }
        }
        Pull::Push => {
            let consumer = push_consumer(&stream, ack_policy, client.new_inbox()).await?;
            let mut messages = consumer
                .messages()
                .await
                .context("cannot subscribe to the deliver subject")?;
            while next_seq <= last_seq {
                let msg = messages
                    .next()
                    .await
                    .context("the message stream ended")?
                    .map_err(|e| anyhow::anyhow!("push delivery failed: {e}"))?;
                take(settings, &msg, &mut next_seq, &mut histogram).await?;
                progress.inc(1);
            }
        }
        Pull::Ordered => {
            let consumer = stream
                .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
                .await
                .context("cannot create the ordered consumer")?;
            let mut messages = consumer
                .messages()
                .await
                .context("cannot start the ordered consumer")?;
            while next_seq <= last_seq {
                let msg = messages
                    .next()
                    .await
                    .context("the message stream ended")?
                    .map_err(|e| anyhow::anyhow!("ordered consumer failed: {e}"))?;
                take(settings, &msg, &mut next_seq, &mut histogram).await?;
                progress.inc(1);
            }
        }
    }
    // Acknowledgements are on their way; the run ends when the server has them.
    tokio::time::timeout(ACK_SETTLE, client.flush())
        .await
        .context("flush timed out")?
        .context("flush failed")?;
    let end = Instant::now();
    progress.finish_and_clear();
    if settings.ack == ConsumeAck::Explicit {
        all_acknowledged(&stream, last_seq).await?;
    }
    let received = next_seq - first_seq;
    let client_name = match settings.client {
        JsClient::Nats => "async-nats",
        JsClient::Raw => "raw",
    };
    let mut report = Report::new(
        settings.workload(),
        &settings.url,
        client_name,
        settings.size,
    );
    report.set_subscribers(
        &[ClientRun {
            msgs: received,
            bytes: received * settings.size as u64,
            span: Some(Span { start, end }),
        }],
        settings.msgs,
    );
    if !histogram.is_empty() {
        report.latency = Some(Latency::from_histogram(&histogram));
    }
    Ok(report)
}

/// Creates the benchmark's durable pull consumer.
async fn pull_consumer(
    stream: &stream::Stream,
    ack_policy: jetstream::consumer::AckPolicy,
) -> anyhow::Result<jetstream::consumer::PullConsumer> {
    stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some(CONSUMER.to_owned()),
            ack_policy,
            ..Default::default()
        })
        .await
        .context("cannot create the benchmark consumer")
}

/// Creates the benchmark's durable push consumer, delivering to `deliver_subject`.
async fn push_consumer(
    stream: &stream::Stream,
    ack_policy: jetstream::consumer::AckPolicy,
    deliver_subject: String,
) -> anyhow::Result<jetstream::consumer::PushConsumer> {
    stream
        .create_consumer(jetstream::consumer::push::Config {
            durable_name: Some(CONSUMER.to_owned()),
            deliver_subject,
            ack_policy,
            ..Default::default()
        })
        .await
        .context("cannot create the benchmark consumer")
}

/// Checks one delivered message (the next sequence, first delivery, the fill's payload)
/// and acknowledges it as the settings say.
async fn take(
    settings: &ConsumeSettings,
    msg: &jetstream::Message,
    next_seq: &mut u64,
    histogram: &mut Histogram<u64>,
) -> anyhow::Result<()> {
    let info = msg
        .info()
        .map_err(|e| anyhow::anyhow!("not a JetStream delivery: {e}"))?;
    anyhow::ensure!(
        info.stream_sequence == *next_seq && info.delivered == 1,
        "got stream sequence {} (delivery {}), expected {} (delivery 1)",
        info.stream_sequence,
        info.delivered,
        *next_seq
    );
    anyhow::ensure!(
        msg.payload.len() == settings.size && msg.payload.iter().all(|&b| b == b'n'),
        "message {next_seq} has a wrong payload"
    );
    match (settings.ack, settings.double_ack) {
        (ConsumeAck::None, _) => {}
        (ConsumeAck::Explicit, false) => msg
            .ack()
            .await
            .map_err(|e| anyhow::anyhow!("cannot acknowledge {next_seq}: {e}"))?,
        (ConsumeAck::Explicit, true) => {
            let sent = Instant::now();
            msg.double_ack()
                .await
                .map_err(|e| anyhow::anyhow!("double ack of {next_seq} failed: {e}"))?;
            let nanos = sent.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
            histogram.saturating_record(nanos.max(1));
        }
    }
    *next_seq += 1;
    Ok(())
}

/// Waits (bounded) until consumer info shows every message up to `last_seq` acknowledged.
async fn all_acknowledged(stream: &stream::Stream, last_seq: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + ACK_SETTLE;
    loop {
        let info = stream
            .consumer_info(CONSUMER)
            .await
            .context("consumer info")?;
        if info.num_ack_pending == 0 && info.ack_floor.stream_sequence >= last_seq {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "after {ACK_SETTLE:?} the consumer still has {} unacknowledged, ack floor {} of {last_seq}",
            info.num_ack_pending,
            info.ack_floor.stream_sequence
        );
        // No event announces that the server applied queued acks: poll, bounded above.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
