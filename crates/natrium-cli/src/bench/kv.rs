//! `natrium bench kv`: Key-Value put, get and watch rates through async-nats' `kv::Store`,
//! the same against any server.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use indicatif::ProgressBar;

use super::report::{ClientRun, Report, Span};

/// The bucket the benchmark (re)creates.
pub const BUCKET: &str = "NATRIUM_BENCH";

/// The Key-Value operation measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KvOp {
    /// Acknowledged puts, `window` in flight.
    Put,
    /// Gets (direct get) of keys written beforehand, `window` in flight.
    Get,
    /// A `watch_all` watcher receiving the puts of a concurrent writer (one key per put, so
    /// every put must arrive; `--keys` is not used).
    Watch,
}

/// What to measure and how.
#[derive(Debug, Clone)]
pub struct KvSettings {
    /// Server URL.
    pub url: String,
    /// The operation.
    pub op: KvOp,
    /// Operations in total.
    pub msgs: u64,
    /// Value size in bytes.
    pub size: usize,
    /// Distinct keys the operations cycle over.
    pub keys: u64,
    /// Operations in flight at once.
    pub window: usize,
    /// Whether to draw a progress bar.
    pub progress: bool,
}

fn key(i: u64, keys: u64) -> String {
    format!("k{}", i % keys)
}

/// Deletes an earlier benchmark bucket and creates it afresh (history 1, file storage).
async fn fresh_bucket(js: &jetstream::Context) -> anyhow::Result<kv::Store> {
    if js.get_key_value(BUCKET).await.is_ok() {
        js.delete_key_value(BUCKET)
            .await
            .context("cannot delete the old benchmark bucket")?;
    }
    js.create_key_value(kv::Config {
        bucket: BUCKET.to_owned(),
        history: 1,
        ..Default::default()
    })
    .await
    .context("cannot create the benchmark bucket")
}

/// Puts `msgs` values with `window` puts in flight; the first error fails the run.
async fn put_all(
    store: &kv::Store,
    settings: &KvSettings,
    msgs: u64,
    payload: &Bytes,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let mut puts = futures::stream::iter(0..msgs)
        .map(|i| store.put(key(i, settings.keys), payload.clone()))
        .buffer_unordered(settings.window.max(1));
    while let Some(result) = puts.next().await {
        result.context("put failed")?;
        progress.inc(1);
    }
    Ok(())
}

/// Runs the workload and reports its rate; every operation must succeed.
pub async fn run(settings: &KvSettings) -> anyhow::Result<Report> {
    anyhow::ensure!(settings.keys >= 1, "--keys must be at least 1");
    let client = crate::connect::connect(&settings.url, "natrium bench kv").await?;
    let js = jetstream::new(client.clone());
    let store = fresh_bucket(&js).await?;
    let payload = Bytes::from(vec![b'v'; settings.size]);
    let progress = if settings.progress {
        ProgressBar::new(settings.msgs)
    } else {
        ProgressBar::hidden()
    };
    let (workload, done, span) = match settings.op {
        KvOp::Put => {
            let start = Instant::now();
            put_all(&store, settings, settings.msgs, &payload, &progress).await?;
            (
                "kv-put",
                settings.msgs,
                Span {
                    start,
                    end: Instant::now(),
                },
            )
        }
        KvOp::Get => {
            let hidden = ProgressBar::hidden();
            put_all(&store, settings, settings.keys, &payload, &hidden).await?;
            let start = Instant::now();
            let mut gets = futures::stream::iter(0..settings.msgs)
                .map(|i| store.get(key(i, settings.keys)))
                .buffer_unordered(settings.window.max(1));
            let mut found = 0;
            while let Some(result) = gets.next().await {
                let value = result.context("get failed")?;
                anyhow::ensure!(
                    value.as_ref() == Some(&payload),
                    "get returned a wrong value"
                );
                found += 1;
                progress.inc(1);
            }
            (
                "kv-get",
                found,
                Span {
                    start,
                    end: Instant::now(),
                },
            )
        }
        KvOp::Watch => {
            let mut watch = store.watch_all().await.context("cannot watch")?;
            let start = Instant::now();
            // Every put goes to its own key: with history 1 a watcher that falls behind
            // would rightly skip values overwritten before it got them.
            let writer = {
                let settings = KvSettings {
                    keys: settings.msgs,
                    ..settings.clone()
                };
                let (store, payload) = (store.clone(), payload.clone());
                tokio::spawn(async move {
                    put_all(
                        &store,
                        &settings,
                        settings.msgs,
                        &payload,
                        &ProgressBar::hidden(),
                    )
                    .await
                })
            };
            let mut seen = 0;
            while seen < settings.msgs {
                let entry = tokio::time::timeout(Duration::from_secs(10), watch.next())
                    .await
                    .context("the watcher received nothing for 10 s")?
                    .context("the watch ended")?
                    .context("watch error")?;
                anyhow::ensure!(entry.value == payload, "watched a wrong value");
                seen += 1;
                progress.inc(1);
            }
            let end = Instant::now();
            writer.await.context("the writer panicked")??;
            ("kv-watch", seen, Span { start, end })
        }
    };
    progress.finish_and_clear();
    let mut report = Report::new(workload, &settings.url, "async-nats", settings.size);
    report.set_publishers(&[ClientRun {
        msgs: done,
        bytes: done * settings.size as u64,
        span: Some(span),
    }]);
    report.set_accounting(settings.msgs, done);
    tokio::time::timeout(Duration::from_secs(5), client.flush())
        .await
        .ok();
    Ok(report)
}
