//! `natrium bench js pub`: publishing into a JetStream stream with acknowledgements, through
//! async-nats' JetStream context (the client applications use, the same against any server).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
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
