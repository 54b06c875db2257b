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

/// Distinct objects a run cycles through: object `i` holds `contents[i % DISTINCT]`.
const DISTINCT: u64 = 8;

/// Deterministic bytes that differ per object, so a mixed-up read is caught.
fn object_bytes(i: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0; size];
    fastrand::Rng::with_seed(i).fill(&mut bytes);
    bytes
}

/// The contents of a run's objects, made before the clock starts (making 8 MiB of random
/// bytes takes longer than the server takes to store them): neighbours always differ.
pub(super) fn contents(settings: &ObjectSettings) -> Vec<Vec<u8>> {
    (0..settings.count.min(DISTINCT))
        .map(|i| object_bytes(i, settings.size))
        .collect()
}

/// What object `i` holds.
pub(super) fn content(contents: &[Vec<u8>], i: u64) -> &[u8] {
    &contents[(i % DISTINCT) as usize]
}

/// The name of the `i`th object.
pub(super) fn name(i: u64) -> String {
    format!("object-{i}")
}

async fn put_all(
    bucket: &object_store::ObjectStore,
    settings: &ObjectSettings,
    contents: &[Vec<u8>],
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    for i in 0..settings.count {
        let info = bucket
            .put(name(i).as_str(), &mut content(contents, i))
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
    put_all(
        &bucket,
        settings,
        &contents(settings),
        &ProgressBar::hidden(),
    )
    .await
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
    let contents = contents(settings);
    let (workload, span) = match settings.op {
        ObjectOp::Put => {
            let start = Instant::now();
            put_all(&bucket, settings, &contents, &progress).await?;
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
                put_all(&bucket, settings, &contents, &ProgressBar::hidden()).await?;
            }
            let start = Instant::now();
            let mut buffer = Vec::with_capacity(settings.size);
            for i in 0..settings.count {
                read_and_check(&bucket, &contents, i, &mut buffer).await?;
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
    tokio::time::timeout(Duration::from_secs(5), client.flush())
        .await
        .ok();
    Ok(report(workload, settings, "async-nats", span))
}

/// Reads object `i` to its end through async-nats' object store (which checks its digest)
/// into `buffer`; it must be the object put.
pub(super) async fn read_and_check(
    bucket: &object_store::ObjectStore,
    contents: &[Vec<u8>],
    i: u64,
    buffer: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let name = name(i);
    let mut object = bucket
        .get(name.as_str())
        .await
        .with_context(|| format!("get of {name} failed"))?;
    buffer.clear();
    object
        .read_to_end(buffer)
        .await
        .with_context(|| format!("reading {name} failed"))?;
    anyhow::ensure!(
        *buffer == content(contents, i),
        "{name} came back different"
    );
    Ok(())
}

/// The report of an object run: `count` objects of `size` bytes in `span`.
pub(super) fn report(
    workload: &str,
    settings: &ObjectSettings,
    client: &str,
    span: Span,
) -> Report {
    let mut report = Report::new(workload, &settings.url, client, settings.size);
    report.set_publishers(&[ClientRun {
        msgs: settings.count,
        bytes: settings.count * settings.size as u64,
        span: Some(span),
    }]);
    report.set_accounting(settings.count, settings.count);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_differ_from_each_other() {
        assert_eq!(object_bytes(1, 64), object_bytes(1, 64));
        assert_ne!(object_bytes(1, 64), object_bytes(2, 64));
    }

    #[test]
    fn neighbouring_objects_differ() {
        let settings = ObjectSettings {
            url: String::new(),
            op: ObjectOp::Put,
            count: 20,
            size: 64,
            progress: false,
            filled: false,
        };
        let contents = contents(&settings);
        assert_eq!(contents.len(), DISTINCT as usize);
        for i in 0..settings.count - 1 {
            assert_ne!(content(&contents, i), content(&contents, i + 1));
        }
        assert_eq!(content(&contents, 3), content(&contents, 3 + DISTINCT));
    }
}
