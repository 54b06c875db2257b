//! `natrium bench object`: object store put and get rates through async-nats'
//! `object_store::ObjectStore`, the same against any server.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, object_store};
use indicatif::ProgressBar;
use tokio::io::AsyncReadExt as _;

use super::report::{ClientRun, Report, Span};

/// The bucket the benchmark (re)creates.
pub const BUCKET: &str = "NATRIUM_BENCH_OBJ";

/// The object store operation measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectOp {
    /// Puts of `count` objects, one after another.
    Put,
    /// Gets of `count` objects written beforehand, one after another, each read to its end.
    Get,
}

/// What to measure and how.
#[derive(Debug, Clone)]
pub struct ObjectSettings {
    /// Server URL.
    pub url: String,
    /// The operation.
    pub op: ObjectOp,
    /// Objects in total.
    pub count: u64,
    /// Bytes per object.
    pub size: usize,
    /// Whether to draw a progress bar.
    pub progress: bool,
    /// Get: [`fill`] has written the objects already (so a caller can leave the writing out
    /// of what it measures).
    pub filled: bool,
}

/// Deletes an earlier benchmark bucket and creates it afresh (file storage).
pub(super) async fn fresh_bucket(
    js: &jetstream::Context,
) -> anyhow::Result<object_store::ObjectStore> {
    if js.get_object_store(BUCKET).await.is_ok() {
        js.delete_object_store(BUCKET)
            .await
            .context("cannot delete the old benchmark bucket")?;
    }
    js.create_object_store(object_store::Config {
        bucket: BUCKET.to_owned(),
        ..Default::default()
    })
    .await
    .context("cannot create the benchmark bucket")
}

/// Deterministic bytes that differ per object, so a mixed-up read is caught.
pub(super) fn object_bytes(i: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0; size];
    fastrand::Rng::with_seed(i).fill(&mut bytes);
    bytes
}

/// The name of the `i`th object.
pub(super) fn name(i: u64) -> String {
    format!("object-{i}")
}

async fn put_all(
    bucket: &object_store::ObjectStore,
    settings: &ObjectSettings,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    for i in 0..settings.count {
        let bytes = object_bytes(i, settings.size);
        let info = bucket
            .put(name(i).as_str(), &mut bytes.as_slice())
            .await
            .with_context(|| format!("put of {} failed", name(i)))?;
        anyhow::ensure!(
            info.size == settings.size,
            "{} stored {} bytes of {}",
            name(i),
            info.size,
            settings.size
        );
        progress.inc(1);
    }
    Ok(())
}

/// Writes the objects a get run reads into a fresh bucket.
pub async fn fill(settings: &ObjectSettings) -> anyhow::Result<()> {
    let client = crate::connect::connect(&settings.url, "natrium bench object fill").await?;
    let bucket = fresh_bucket(&jetstream::new(client)).await?;
    put_all(&bucket, settings, &ProgressBar::hidden()).await
}

/// Runs the workload and reports its rate; every object must round-trip intact.
pub async fn run(settings: &ObjectSettings) -> anyhow::Result<Report> {
    let client = crate::connect::connect(&settings.url, "natrium bench object").await?;
    let js = jetstream::new(client.clone());
    let bucket = if settings.op == ObjectOp::Get && settings.filled {
        js.get_object_store(BUCKET)
            .await
            .context("the filled benchmark bucket is missing")?
    } else {
        fresh_bucket(&js).await?
    };
    let progress = if settings.progress {
        ProgressBar::new(settings.count)
    } else {
        ProgressBar::hidden()
    };
    let (workload, span) = match settings.op {
        ObjectOp::Put => {
            let start = Instant::now();
            put_all(&bucket, settings, &progress).await?;
            (
                "object-put",
                Span {
                    start,
                    end: Instant::now(),
                },
            )
        }
        ObjectOp::Get => {
            if !settings.filled {
                put_all(&bucket, settings, &ProgressBar::hidden()).await?;
            }
            let start = Instant::now();
            let mut buffer = Vec::with_capacity(settings.size);
            for i in 0..settings.count {
                let mut object = bucket
                    .get(name(i).as_str())
                    .await
                    .with_context(|| format!("get of {} failed", name(i)))?;
                buffer.clear();
                object
                    .read_to_end(&mut buffer)
                    .await
                    .with_context(|| format!("reading {} failed", name(i)))?;
                anyhow::ensure!(
                    buffer == object_bytes(i, settings.size),
                    "{} came back different",
                    name(i)
                );
                progress.inc(1);
            }
            (
                "object-get",
                Span {
                    start,
                    end: Instant::now(),
                },
            )
        }
    };
    progress.finish_and_clear();
    let mut report = Report::new(workload, &settings.url, "async-nats", settings.size);
    report.set_publishers(&[ClientRun {
        msgs: settings.count,
        bytes: settings.count * settings.size as u64,
        span: Some(span),
    }]);
    report.set_accounting(settings.count, settings.count);
    tokio::time::timeout(Duration::from_secs(5), client.flush())
        .await
        .ok();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_differ_from_each_other() {
        assert_eq!(object_bytes(1, 64), object_bytes(1, 64));
        assert_ne!(object_bytes(1, 64), object_bytes(2, 64));
    }
}
