//! The benchmark workloads: who connects, who publishes what, and what must arrive.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::clients::{self, ClientKind, Publisher, Subscriber, Tally};
use super::raw::RawConnection;
use super::report::{ClientRun, IdleMemory, Latency, Report, Span};

/// Settings every message workload shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Server URL of the publishers and requesters (credentials may be in it).
    pub url: String,
    /// Server URL of the subscribers and responders: the same server, possibly as another
    /// user (an account that exports what the publishers' account imports).
    pub server_side_url: String,
    /// Messages to publish in total (split across publishers), or requests to send.
    pub msgs: u64,
    /// Payload size in bytes.
    pub size: usize,
    /// Subject (or subject prefix) to use.
    pub subject: String,
    /// Client implementation for publishers and subscribers.
    pub client: ClientKind,
    /// A subscriber gives up when nothing arrives for this long.
    pub idle_timeout: Duration,
    /// Whether to draw a progress bar (still hidden when stderr is not a terminal).
    pub progress: bool,
}

impl Settings {
    fn payload(&self) -> Bytes {
        Bytes::from(vec![b'n'; self.size])
    }

    fn progress_bar(&self, total: u64, label: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        bar
    }
}

/// Splits `total` into `parts` shares that differ by at most one.
fn shares(total: u64, parts: usize) -> Vec<u64> {
    let parts = parts as u64;
    (0..parts)
        .map(|i| total / parts + u64::from(i < total % parts))
        .collect()
}

/// Collects the results of a set of client tasks, failing on the first error.
async fn join_all<T: 'static>(mut set: JoinSet<anyhow::Result<T>>) -> anyhow::Result<Vec<T>> {
    let mut out = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        out.push(joined.context("a benchmark client panicked")??);
    }
    Ok(out)
}

/// `publishers` publishers and `subscribers` subscribers on one subject. Without `queue`
/// every subscriber must receive every message (fan-out); with `queue` the subscribers form
/// that queue group and together must receive every message once. With no subscribers this
/// is the publish-only workload.
pub async fn pub_sub(
    settings: &Settings,
    publishers: usize,
    subscribers: usize,
    queue: Option<&str>,
) -> anyhow::Result<Report> {
    let workload = match (subscribers, queue) {
        (0, _) => "pub",
        (_, Some(_)) => "queue",
        (_, None) => "pubsub",
    };
    let subscriptions = vec![(settings.subject.clone(), queue.map(str::to_owned))];
    let groups: Vec<Vec<(String, Option<String>)>> = vec![subscriptions; subscribers];
    let (tallies, expected) = match queue {
        Some(_) => (vec![Tally::new(settings.msgs); 1], settings.msgs),
        None => (
            (0..subscribers)
                .map(|_| Tally::new(settings.msgs))
                .collect(),
            settings.msgs * subscribers as u64,
        ),
    };
    let subjects = Arc::new(vec![settings.subject.clone()]);
    run_messaging(
        workload, settings, publishers, subjects, groups, tallies, expected,
    )
    .await
}

/// Subscribers only: each must receive `msgs` messages published by someone else.
pub async fn sub_only(
    settings: &Settings,
    subscribers: usize,
    first_wait: Duration,
) -> anyhow::Result<Report> {
    let slow = Arc::new(AtomicU64::new(0));
    let subscriptions = vec![(settings.subject.clone(), None)];
    let mut ready = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        ready.push(
            Subscriber::prepare(
                settings.client,
                &settings.server_side_url,
                &subscriptions,
                slow.clone(),
            )
            .await?,
        );
    }
    eprintln!(
        "Listening on \"{}\" with {subscribers} subscriber(s) for {} messages each",
        settings.subject, settings.msgs
    );
    let progress = settings.progress_bar(settings.msgs * subscribers as u64, "received");
    let mut tasks = JoinSet::new();
    for subscriber in ready {
        let tally = Tally::new(settings.msgs);
        let (idle, progress) = (settings.idle_timeout, progress.clone());
        let epoch = Arc::new(OnceLock::new());
        tasks.spawn(async move {
            subscriber
                .run(tally, epoch, first_wait, idle, progress)
                .await
        });
    }
    let runs = join_all(tasks).await?;
    progress.finish_and_clear();
    let mut report = Report::new("sub", &settings.url, settings.client.name(), settings.size);
    report.set_subscribers(&runs, settings.msgs * subscribers as u64);
    report.client_slow_consumer_events = slow.load(Ordering::Relaxed);
    Ok(report)
}

/// The subject-index stress: one subscriber holds `subjects` subscriptions on distinct
/// subjects plus `wildcards` wildcard subscriptions (alternately `prefix.*` and `prefix.>`)
/// that match every subject; publishers cycle over all the subjects. Each message must
/// arrive once per matching subscription: `1 + wildcards` times.
pub async fn subjects(
    settings: &Settings,
    publishers: usize,
    subjects: usize,
    wildcards: usize,
) -> anyhow::Result<Report> {
    anyhow::ensure!(subjects > 0, "--subjects must be at least 1");
    let names: Vec<String> = (0..subjects)
        .map(|i| format!("{}.{i}", settings.subject))
        .collect();
    let mut subscriptions: Vec<(String, Option<String>)> =
        names.iter().map(|n| (n.clone(), None)).collect();
    for j in 0..wildcards {
        let token = if j % 2 == 0 { "*" } else { ">" };
        subscriptions.push((format!("{}.{token}", settings.subject), None));
    }
    let expected = settings.msgs * (1 + wildcards as u64);
    run_messaging(
        "subjects",
        settings,
        publishers,
        Arc::new(names),
        vec![subscriptions],
        vec![Tally::new(expected)],
        expected,
    )
    .await
}

/// Runs subscribers (each with its subscription list; they share `tallies` round-robin),
/// waits until all are confirmed, then runs the publishers and collects both sides.
async fn run_messaging(
    workload: &str,
    settings: &Settings,
    publishers: usize,
    subjects: Arc<Vec<String>>,
    subscriber_groups: Vec<Vec<(String, Option<String>)>>,
    tallies: Vec<Arc<Tally>>,
    expected: u64,
) -> anyhow::Result<Report> {
    anyhow::ensure!(publishers > 0, "at least one publisher is needed");
    let slow = Arc::new(AtomicU64::new(0));
    let mut ready = Vec::with_capacity(subscriber_groups.len());
    for subscriptions in &subscriber_groups {
        ready.push(
            Subscriber::prepare(
                settings.client,
                &settings.server_side_url,
                subscriptions,
                slow.clone(),
            )
            .await?,
        );
    }
    let sub_progress = settings.progress_bar(expected, "received");
    let epoch = Arc::new(OnceLock::new());
    let mut sub_tasks = JoinSet::new();
    for (i, subscriber) in ready.into_iter().enumerate() {
        let tally = tallies[i % tallies.len()].clone();
        let (idle, progress) = (settings.idle_timeout, sub_progress.clone());
        // Publishers start right after this; the first message can take as long as a
        // publisher's connect, so the first wait is generous.
        let first_wait = idle.max(Duration::from_secs(10));
        let epoch = epoch.clone();
        sub_tasks.spawn(async move {
            subscriber
                .run(tally, epoch, first_wait, idle, progress)
                .await
        });
    }

    let pub_progress = if subscriber_groups.is_empty() {
        settings.progress_bar(settings.msgs, "published")
    } else {
        ProgressBar::hidden()
    };
    let payload = settings.payload();
    let mut connected = Vec::with_capacity(publishers);
    for _ in 0..publishers {
        connected.push(Publisher::connect(settings.client, &settings.url).await?);
    }
    let _ = epoch.set(Instant::now());
    let mut pub_tasks = JoinSet::new();
    for (publisher, count) in connected.into_iter().zip(shares(settings.msgs, publishers)) {
        let (subjects, payload) = (subjects.clone(), payload.clone());
        let progress = pub_progress.clone();
        pub_tasks.spawn(async move { publisher.run(subjects, count, payload, progress).await });
    }
    let pub_runs = join_all(pub_tasks).await?;
    pub_progress.finish_and_clear();
    let sub_runs = join_all(sub_tasks).await?;
    sub_progress.finish_and_clear();

    let mut report = Report::new(
        workload,
        &settings.url,
        settings.client.name(),
        settings.size,
    );
    report.set_publishers(&pub_runs);
    if !subscriber_groups.is_empty() {
        report.set_subscribers(&sub_runs, expected);
    }
    report.client_slow_consumer_events = slow.load(Ordering::Relaxed);
    Ok(report)
}

/// Request/reply: `responders` in one queue group answer; `requesters` send requests one at
/// a time (so one requester measures latency, many measure throughput). Always uses
/// async-nats, whose request/inbox handling is what applications use.
pub async fn request_reply(
    settings: &Settings,
    requesters: usize,
    responders: usize,
) -> anyhow::Result<Report> {
    anyhow::ensure!(requesters > 0, "--requesters must be at least 1");
    anyhow::ensure!(responders > 0, "--responders must be at least 1");
    let stop = CancellationToken::new();
    let mut responder_tasks = JoinSet::new();
    for _ in 0..responders {
        let client =
            crate::connect::connect(&settings.server_side_url, "natrium bench responder").await?;
        let mut requests = client
            .queue_subscribe(
                settings.subject.clone(),
                "natrium.bench.responders".to_owned(),
            )
            .await
            .context("cannot subscribe the responder")?;
        crate::connect::round_trip(&client)
            .await
            .context("the server did not confirm the responder")?;
        let stop = stop.clone();
        responder_tasks.spawn(async move {
            let (mut answered, mut bytes) = (0u64, 0u64);
            let (mut first, mut last) = (None, None);
            loop {
                let request = tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    request = requests.next() => request,
                };
                let Some(request) = request else { break };
                let Some(reply) = request.reply else { continue };
                client
                    .publish(reply, request.payload.clone())
                    .await
                    .context("cannot send a reply")?;
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                answered += 1;
                bytes += request.payload.len() as u64;
            }
            anyhow::Ok(ClientRun {
                msgs: answered,
                bytes,
                span: first.zip(last).map(|(start, end)| Span { start, end }),
            })
        });
    }

    let progress = settings.progress_bar(settings.msgs, "requests");
    let payload = settings.payload();
    let mut requester_tasks = JoinSet::new();
    for count in shares(settings.msgs, requesters) {
        let options =
            clients::request_options("natrium bench requester", settings.idle_timeout).await?;
        let client = crate::connect::connect_with(&settings.url, options).await?;
        let (subject, payload, progress) =
            (settings.subject.clone(), payload.clone(), progress.clone());
        requester_tasks.spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
                .context("cannot create the latency histogram")?;
            let (mut done, mut failure) = (0u64, None);
            let start = Instant::now();
            for _ in 0..count {
                let sent = Instant::now();
                match client.request(subject.clone(), payload.clone()).await {
                    Ok(_) => {
                        let nanos = sent.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                        histogram.saturating_record(nanos.max(1));
                        done += 1;
                        progress.inc(1);
                    }
                    Err(err) => {
                        // The remaining requests count as lost; waiting out a timeout for
                        // each would only make the failure slower.
                        failure = Some(err.to_string());
                        break;
                    }
                }
            }
            let run = ClientRun {
                msgs: done,
                bytes: done * payload.len() as u64,
                span: Some(Span {
                    start,
                    end: Instant::now(),
                }),
            };
            anyhow::Ok((run, histogram, failure))
        });
    }
    let results = join_all(requester_tasks).await?;
    progress.finish_and_clear();
    stop.cancel();
    let responder_runs = join_all(responder_tasks).await?;

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .context("cannot create the latency histogram")?;
    let mut requester_runs = Vec::new();
    for (run, part, failure) in results {
        histogram
            .add(&part)
            .context("cannot merge latency histograms")?;
        if let Some(failure) = failure {
            eprintln!("natrium bench: a requester stopped early: {failure}");
        }
        requester_runs.push(run);
    }
    let mut report = Report::new("req", &settings.url, ClientKind::Nats.name(), settings.size);
    report.set_publishers(&requester_runs);
    report.subscribers = responder_runs.iter().map(ClientRun::rate).collect();
    report.subscribe_aggregate = Some(super::report::aggregate(&responder_runs));
    report.set_accounting(settings.msgs, requester_runs.iter().map(|r| r.msgs).sum());
    if !histogram.is_empty() {
        report.latency = Some(Latency::from_histogram(&histogram));
    }
    Ok(report)
}

/// Opens `clients` idle connections (each completes the CONNECT/PING/PONG handshake) and,
/// when `server_pid` is given, reports the server's resident memory before and after.
pub async fn idle(
    url: &str,
    clients: usize,
    server_pid: Option<u32>,
    show_progress: bool,
) -> anyhow::Result<Report> {
    check_fd_limit(clients)?;
    let rss_before = server_pid.map(rss_kib).transpose()?;
    let progress = if show_progress {
        ProgressBar::new(clients as u64)
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let mut connections = Vec::with_capacity(clients);
    let mut opening = futures::stream::iter(0..clients)
        .map(|_| RawConnection::connect(url))
        .buffer_unordered(64);
    while let Some(connection) = opening.next().await {
        connections.push(connection.with_context(|| {
            format!("idle client #{} could not connect", connections.len() + 1)
        })?);
        progress.inc(1);
    }
    let connect_secs = start.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let rss_after = server_pid.map(rss_kib).transpose()?;
    drop(connections);

    let kib_per_client = match (rss_before, rss_after) {
        (Some(before), Some(after)) if clients > 0 => {
            Some((after as f64 - before as f64) / clients as f64)
        }
        _ => None,
    };
    let mut report = Report::new("idle", url, ClientKind::Raw.name(), 0);
    report.idle = Some(IdleMemory {
        clients: clients as u64,
        connect_secs,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        kib_per_client,
    });
    Ok(report)
}

/// Resident set size of process `pid` in KiB, from `/proc/PID/status` (`VmRSS`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {path}: is the server running as pid {pid}?"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("no VmRSS line in {path}"))
}

/// Fails early, with the fix, when this process may not open `clients` sockets.
fn check_fd_limit(clients: usize) -> anyhow::Result<()> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return Ok(());
    };
    let soft: Option<u64> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok());
    if let Some(soft) = soft
        && (clients as u64) + 64 > soft
    {
        anyhow::bail!(
            "{clients} idle clients need more file descriptors than the limit of {soft}; \
             raise it first (e.g. `ulimit -n {}`)",
            clients + 1024
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(shares(7, 1), vec![7]);
    }

    #[test]
    fn reads_own_rss() {
        let rss = rss_kib(std::process::id()).expect("own RSS");
        assert!(rss > 0);
    }
}
