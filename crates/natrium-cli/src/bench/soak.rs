//! `natrium bench soak`: a bounded run of mixed, hostile load that checks as it goes.
//!
//! Against an embedded natrium-server (default) or a server binary it starts on loopback
//! (`--server-binary nats-server-latest`), all at once: clients connecting and disconnecting,
//! pub/sub with wildcards and a queue group, request/reply, a slow consumer that must be
//! cut, clients that vanish mid-frame, config reloads, and JetStream publishers and a pull
//! consumer with acks. Every interval it samples the server's RSS, open fds and tasks and
//! the request/reply p99. At the end it fails on any loss (a JetStream-acked message never
//! consumed, a core message missing at a healthy subscriber, a request without reply), on a
//! slow consumer not cut, on a half frame delivered, and on growth past the thresholds.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream;
use futures::{FutureExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::process::{free_port, spawn_ready};

/// Upper bound for any single event (a connect, a reply, the final catch-up).
const BOUND: Duration = Duration::from_secs(30);
/// Server-side pending limit during the soak: small, so the slow consumer is cut quickly.
const MAX_PENDING: usize = 4 * 1024 * 1024;
/// Payload of the firehose that the slow consumer stops reading.
const FIRE_PAYLOAD: usize = 1024;
/// Core subjects the publisher cycles over (`soak.core.0` … `soak.core.7`).
const CORE_SUBJECTS: u64 = 8;

/// Arguments of `natrium bench soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// How long to run the load.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Start of the run left out of the leak checks (caches, buffers and the store fill up).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Sampling interval for RSS, fds, tasks and the request/reply p99.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Server binary to start on loopback (e.g. `nats-server-latest`) instead of the
    /// embedded natrium-server; it gets SIGHUP for reloads.
    #[arg(long, value_name = "BINARY")]
    pub server_binary: Option<PathBuf>,
    /// Clients connecting, exchanging a message and disconnecting, concurrently.
    #[arg(long, default_value_t = 200, value_parser = super::at_least_one)]
    pub clients: usize,
    /// Core messages per second from the sequenced publisher.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub rate: u64,
    /// JetStream publishers (each publishes one message at a time, waiting for its ack).
    #[arg(long, default_value_t = 2, value_parser = super::at_least_one)]
    pub js_publishers: usize,
    /// Fail when the server's RSS grows faster than this after warm-up (MiB/min).
    #[arg(long, default_value_t = 8.0)]
    pub max_rss_slope: f64,
    /// Fail when the floor of the server's open fds grows by more than this.
    #[arg(long, default_value_t = 64)]
    pub max_fd_growth: i64,
    /// Fail when the floor of the server's tasks (threads for a binary) grows by more.
    #[arg(long, default_value_t = 256)]
    pub max_task_growth: i64,
    /// Fail when the request/reply p99 of the second half exceeds this many times the
    /// first half's (plus 10 ms of slack for a shared machine).
    #[arg(long, default_value_t = 4.0)]
    pub max_p99_ratio: f64,
}

/// The server under soak.
enum Target {
    /// natrium-server on its own runtime, so that runtime's task count is the server's.
    Embedded {
        server: natrium_server::Server,
        runtime: tokio::runtime::Runtime,
        opts: Box<natrium_server::ServerOptions>,
    },
    /// A server binary started by the soak.
    External {
        child: Child,
        pid: u32,
        monitor: String,
        reloads_logged: Arc<AtomicU64>,
        _dir: tempfile::TempDir,
    },
}

impl Target {
    async fn start(args: &SoakArgs) -> anyhow::Result<(Target, String)> {
        let Some(binary) = &args.server_binary else {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("soak-server")
                .enable_all()
                .build()?;
            let opts = natrium_server::ServerOptions {
                max_pending: MAX_PENDING,
                ..natrium_server::ServerOptions::ephemeral_jetstream()
            };
            let server = runtime
                .spawn(natrium_server::Server::start(opts.clone()))
                .await??;
            let url = server.client_url();
            let opts = Box::new(opts);
            return Ok((
                Target::Embedded {
                    server,
                    runtime,
                    opts,
                },
                url,
            ));
        };
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let monitor_port = free_port()?;
        let store = serde_json::to_string(&dir.path().join("store").to_string_lossy())?;
        let config = dir.path().join("soak.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 max_pending: {MAX_PENDING}\njetstream {{\n  store_dir: {store}\n}}\n"
            ),
        )?;
        let (child, mut lines) =
            spawn_ready(Command::new(binary).arg("-c").arg(&config), binary, BOUND).await?;
        let pid = child.id().context("server exited at once")?;
        // Keep draining the log (a full pipe would stall the server) and count reloads.
        let reloads_logged = Arc::new(AtomicU64::new(0));
        let counter = reloads_logged.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Reloaded server configuration") {
                    counter.fetch_add(1, Relaxed);
                } else if line.contains("[ERR]") || line.contains("[FTL]") {
                    tracing::warn!("server: {line}");
                }
            }
        });
        Ok((
            Target::External {
                child,
                pid,
                monitor: format!("127.0.0.1:{monitor_port}"),
                reloads_logged,
                _dir: dir,
            },
            format!("nats://127.0.0.1:{port}"),
        ))
    }

    /// The process whose RSS and fds are sampled (this one when embedded).
    fn pid(&self) -> u32 {
        match self {
            Target::Embedded { .. } => std::process::id(),
            Target::External { pid, .. } => *pid,
        }
    }

    /// Server tasks: tokio's alive tasks of the server runtime, or a binary's threads (a
    /// documented proxy: goroutines are not visible from outside).
    fn tasks(&self) -> Option<i64> {
        match self {
            Target::Embedded { runtime, .. } => {
                Some(runtime.handle().metrics().num_alive_tasks() as i64)
            }
            Target::External { pid, .. } => proc_status(*pid, "Threads:"),
        }
    }

    async fn reload(&self) -> anyhow::Result<()> {
        match self {
            Target::Embedded {
                server,
                runtime,
                opts,
            } => {
                let _context = runtime.enter();
                server.reload(opts);
            }
            Target::External { pid, .. } => {
                let status = Command::new("kill")
                    .args(["-HUP", &pid.to_string()])
                    .status()
                    .await?;
                if !status.success() {
                    bail!("kill -HUP {pid} failed: the server is gone");
                }
            }
        }
        Ok(())
    }

    async fn slow_consumers(&self) -> anyhow::Result<u64> {
        match self {
            Target::Embedded { server, .. } => Ok(server.stats().slow_consumers),
            Target::External { monitor, .. } => {
                let varz = http_get_json(monitor, "/varz").await?;
                varz["slow_consumers"]
                    .as_u64()
                    .context("/varz has no slow_consumers")
            }
        }
    }

    async fn stop(self) -> anyhow::Result<String> {
        match self {
            Target::Embedded {
                server, runtime, ..
            } => {
                runtime
                    .spawn(async move { server.shutdown().await })
                    .await?;
                runtime.shutdown_background();
                Ok("embedded natrium-server".into())
            }
            Target::External {
                mut child,
                reloads_logged,
                ..
            } => {
                if let Some(status) = child.try_wait()? {
                    bail!("the server exited during the soak: {status}");
                }
                child.kill().await?;
                Ok(format!(
                    "server binary ({} reloads logged)",
                    reloads_logged.load(Relaxed)
                ))
            }
        }
    }
}

/// A number field of `/proc/<pid>/status` (`VmRSS:` is in kB).
fn proc_status(pid: u32, field: &str) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

fn open_fds(pid: u32) -> Option<i64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as i64)
}

async fn http_get_json(addr: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut response = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut response)).await??;
    let body = memchr::memmem::find(&response, b"\r\n\r\n")
        .map(|at| &response[at + 4..])
        .context("no HTTP body")?;
    Ok(serde_json::from_slice(body)?)
}

/// Counters shared by the workers.
#[derive(Default)]
struct Counters {
    churn_connects: AtomicU64,
    churn_failures: AtomicU64,
    core_published: AtomicU64,
    core_wildcard: AtomicU64,
    core_queue: AtomicU64,
    core_out_of_order: AtomicU64,
    requests: AtomicU64,
    requests_failed: AtomicU64,
    vanished: AtomicU64,
    half_frames_delivered: AtomicU64,
    slow_cycles: AtomicU64,
    slow_cut: AtomicU64,
    slow_not_cut: AtomicU64,
    fire_published: AtomicU64,
    fire_received: AtomicU64,
    reloads: AtomicU64,
    js_retries: AtomicU64,
    js_redelivered: AtomicU64,
}

/// Loss detector for messages a sender numbers 0, 1, 2, … and a receiver may see late or
/// twice: what was acknowledged up to `acked` must all have been seen.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// Everything below is seen, except `missing`.
    next: u64,
    missing: BTreeSet<u64>,
}

impl Seen {
    /// Records message `n`; returns false when it had been seen already.
    pub(crate) fn record(&mut self, n: u64) -> bool {
        if n == self.next {
            self.next += 1;
            true
        } else if n > self.next {
            self.missing.extend(self.next..n);
            self.next = n + 1;
            true
        } else {
            self.missing.remove(&n)
        }
    }

    /// Messages below `acked` not seen.
    pub(crate) fn lost(&self, acked: u64) -> u64 {
        self.missing.range(..acked).count() as u64 + acked.saturating_sub(self.next)
    }
}

/// One sample of the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds since the start.
    pub(crate) at: f64,
    /// Resident memory, KiB.
    pub(crate) rss_kib: i64,
    pub(crate) fds: i64,
    pub(crate) tasks: i64,
    /// Request/reply p99 over the interval, µs.
    pub(crate) p99_us: u64,
}

/// Least-squares slope of RSS in MiB per minute.
pub(crate) fn rss_slope(samples: &[Sample]) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let n = samples.len() as f64;
    let (mx, my) = samples.iter().fold((0.0, 0.0), |(x, y), s| {
        (x + s.at / 60.0, y + s.rss_kib as f64 / 1024.0)
    });
    let (mx, my) = (mx / n, my / n);
    let (num, den) = samples.iter().fold((0.0, 0.0), |(num, den), s| {
        let dx = s.at / 60.0 - mx;
        (num + dx * (s.rss_kib as f64 / 1024.0 - my), den + dx * dx)
    });
    if den == 0.0 { 0.0 } else { num / den }
}

/// Growth of the floor: the minimum over the second half minus the minimum over the first.
/// Churn makes fds and tasks swing by hundreds; a leak raises the floor.
pub(crate) fn floor_growth(values: &[i64]) -> i64 {
    if values.len() < 2 {
        return 0;
    }
    let (first, second) = values.split_at(values.len() / 2);
    second.iter().min().unwrap_or(&0) - first.iter().min().unwrap_or(&0)
}

/// Runs the soak and prints its summary; non-zero exit on loss or leak.
pub async fn run(args: &SoakArgs) -> anyhow::Result<ExitCode> {
    if args.warmup + args.interval * 2 > args.duration {
        bail!("--duration must leave at least two --interval samples after --warmup");
    }
    let (target, url) = Target::start(args).await?;
    let target = Arc::new(target);
    eprintln!(
        "natrium bench soak: {} for {} against {url}",
        args.server_binary
            .as_ref()
            .map_or("embedded natrium-server".into(), |b| b
                .display()
                .to_string()),
        humantime::format_duration(args.duration)
    );
    let counters = Arc::new(Counters::default());
    let latency = Arc::new(Latency::default());
    let stop = CancellationToken::new();
    let mut workers = JoinSet::new();

    for slot in 0..args.clients {
        workers.spawn(churn(url.clone(), slot, counters.clone(), stop.clone()));
    }
    let core = core_start(&url, args.rate, counters.clone(), stop.clone()).await?;
    workers.spawn(requests(
        url.clone(),
        counters.clone(),
        latency.clone(),
        stop.clone(),
    ));
    workers.spawn(vanish(url.clone(), counters.clone(), stop.clone()));
    workers.spawn(slow_consumer(
        url.clone(),
        target.clone(),
        counters.clone(),
        stop.clone(),
    ));
    workers.spawn(reloads(target.clone(), counters.clone(), stop.clone()));
    let js = js_start(&url, args.js_publishers, counters.clone(), stop.clone()).await?;

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + args.interval, args.interval);
    let pid = target.pid();
    while started.elapsed() < args.duration {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(done) = workers.join_next() => {
                stop.cancel();
                done??;
                bail!("a soak worker ended early");
            }
        }
        let sample = Sample {
            at: started.elapsed().as_secs_f64(),
            rss_kib: proc_status(pid, "VmRSS:").unwrap_or(0),
            fds: open_fds(pid).unwrap_or(0),
            tasks: target.tasks().unwrap_or(0),
            p99_us: latency.take_p99(),
        };
        eprintln!(
            "{:>6.0}s rss {:>6.1} MiB  fds {:>5}  tasks {:>5}  req p99 {:>7.2} ms  \
             connects {}  core {}  js acked {}  slow cut {}  reloads {}",
            sample.at,
            sample.rss_kib as f64 / 1024.0,
            sample.fds,
            sample.tasks,
            sample.p99_us as f64 / 1000.0,
            counters.churn_connects.load(Relaxed),
            counters.core_published.load(Relaxed),
            js.acked_total(),
            counters.slow_cut.load(Relaxed),
            counters.reloads.load(Relaxed),
        );
        samples.push(sample);
    }
    stop.cancel();
    while let Some(done) = workers.join_next().await {
        done??;
    }
    let core_lost = core.finish(&counters).await?;
    let (js_lost, js_acked) = js.finish().await?;
    let target = Arc::into_inner(target).context("target still shared")?;
    let server = target.stop().await?;

    let steady: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at >= args.warmup.as_secs_f64())
        .collect();
    let summary = Summary {
        server,
        seconds: started.elapsed().as_secs_f64(),
        counters: &counters,
        core_lost,
        js_acked,
        js_lost,
        rss_slope: rss_slope(&steady),
        fd_growth: floor_growth(&steady.iter().map(|s| s.fds).collect::<Vec<_>>()),
        task_growth: floor_growth(&steady.iter().map(|s| s.tasks).collect::<Vec<_>>()),
        p99_halves: p99_halves(&steady),
        args,
    };
    let (table, failed) = summary.table();
    print!("{table}");
    Ok(if failed {
        eprintln!("natrium bench soak: FAILED");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The highest interval p99 of each half of the steady samples, µs.
fn p99_halves(steady: &[Sample]) -> (u64, u64) {
    let (first, second) = steady.split_at(steady.len() / 2);
    let max = |s: &[Sample]| s.iter().map(|s| s.p99_us).max().unwrap_or(0);
    (max(first), max(second))
}

/// Request/reply latencies in µs since the last [`Latency::take_p99`].
struct Latency(std::sync::Mutex<Histogram<u64>>);

impl Default for Latency {
    fn default() -> Self {
        Latency(std::sync::Mutex::new(
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        ))
    }
}

impl Latency {
    fn record(&self, micros: u64) {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        h.saturating_record(micros.max(1));
    }

    fn take_p99(&self) -> u64 {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let p99 = h.value_at_quantile(0.99);
        h.reset();
        p99
    }
}

struct Summary<'a> {
    server: String,
    seconds: f64,
    counters: &'a Counters,
    core_lost: u64,
    js_acked: u64,
    js_lost: u64,
    rss_slope: f64,
    fd_growth: i64,
    task_growth: i64,
    p99_halves: (u64, u64),
    args: &'a SoakArgs,
}

impl Summary<'_> {
    /// The table, and whether any check failed.
    fn table(&self) -> (String, bool) {
        let c = self.counters;
        let n = |a: &AtomicU64| a.load(Relaxed);
        let (p1, p2) = self.p99_halves;
        let p99_limit = (p1 as f64 * self.args.max_p99_ratio) as u64 + 10_000;
        let rows: Vec<(String, String, bool)> = vec![
            (
                "client connects (churn)".into(),
                format!("{} ({} failed)", n(&c.churn_connects), n(&c.churn_failures)),
                n(&c.churn_failures) == 0,
            ),
            (
                "core published / lost".into(),
                format!(
                    "{} / {} (wildcard {}, queue {}, out of order {})",
                    n(&c.core_published),
                    self.core_lost,
                    n(&c.core_wildcard),
                    n(&c.core_queue),
                    n(&c.core_out_of_order)
                ),
                self.core_lost == 0 && n(&c.core_out_of_order) == 0,
            ),
            (
                "requests / failed".into(),
                format!("{} / {}", n(&c.requests), n(&c.requests_failed)),
                n(&c.requests_failed) == 0,
            ),
            (
                "vanished mid-frame / half frames delivered".into(),
                format!("{} / {}", n(&c.vanished), n(&c.half_frames_delivered)),
                n(&c.half_frames_delivered) == 0,
            ),
            (
                "slow consumers cut / not cut".into(),
                format!(
                    "{} / {} (firehose {} published, {} to the healthy subscriber)",
                    n(&c.slow_cut),
                    n(&c.slow_not_cut),
                    n(&c.fire_published),
                    n(&c.fire_received)
                ),
                n(&c.slow_not_cut) == 0 && n(&c.fire_published) == n(&c.fire_received),
            ),
            ("config reloads".into(), n(&c.reloads).to_string(), true),
            (
                "JetStream acked / lost".into(),
                format!(
                    "{} / {} ({} publish retries, {} redelivered)",
                    self.js_acked,
                    self.js_lost,
                    n(&c.js_retries),
                    n(&c.js_redelivered)
                ),
                self.js_lost == 0,
            ),
            (
                "RSS slope after warm-up".into(),
                format!(
                    "{:.2} MiB/min (limit {})",
                    self.rss_slope, self.args.max_rss_slope
                ),
                self.rss_slope <= self.args.max_rss_slope,
            ),
            (
                "open fds floor growth".into(),
                format!("{} (limit {})", self.fd_growth, self.args.max_fd_growth),
                self.fd_growth <= self.args.max_fd_growth,
            ),
            (
                "tasks floor growth".into(),
                format!("{} (limit {})", self.task_growth, self.args.max_task_growth),
                self.task_growth <= self.args.max_task_growth,
            ),
            (
                "request p99, worst interval per half".into(),
                format!(
                    "{:.2} ms then {:.2} ms (limit {:.2} ms)",
                    p1 as f64 / 1000.0,
                    p2 as f64 / 1000.0,
                    p99_limit as f64 / 1000.0
                ),
                p2 <= p99_limit,
            ),
        ];
        let mut out = format!(
            "soak of {} for {:.0} s\n{:<44} {:<4} value\n",
            self.server, self.seconds, "check", "ok"
        );
        for (name, value, ok) in &rows {
            let mark = if *ok { "ok" } else { "FAIL" };
            out.push_str(&format!("{name:<44} {mark:<4} {value}\n"));
        }
        (out, rows.iter().any(|(_, _, ok)| !ok))
    }
}

async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    Ok(async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(BOUND)
        .connect(url)
        .await?)
}

/// Waits `d` unless stopped first; true when stopped.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// One churn slot: connect, subscribe to a wildcard, get its own message, stay a random
/// while, disconnect; again.
async fn churn(
    url: String,
    slot: usize,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    // Spread the first connects over a second.
    if pause(&stop, Duration::from_millis(fastrand::u64(0..1000))).await {
        return Ok(());
    }
    while !stop.is_cancelled() {
        let round = async {
            let client = connect(&url, "soak churn").await?;
            let mut sub = client.subscribe(format!("soak.churn.{slot}.*")).await?;
            client
                .publish(format!("soak.churn.{slot}.hello"), "hello".into())
                .await?;
            client.flush().await?;
            tokio::time::timeout(BOUND, sub.next())
                .await?
                .context("subscription ended")?;
            anyhow::Ok(client)
        };
        match round.await {
            Ok(client) => {
                counters.churn_connects.fetch_add(1, Relaxed);
                pause(&stop, Duration::from_millis(fastrand::u64(0..1000))).await;
                drop(client);
            }
            Err(e) => {
                tracing::warn!("churn client {slot}: {e:#}");
                counters.churn_failures.fetch_add(1, Relaxed);
                pause(&stop, Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}

/// The sequenced core publisher and its healthy subscribers: a wildcard subscription and a
/// queue group of three, each on its own connection.
struct Core {
    publisher: async_nats::Client,
    tasks: JoinSet<anyhow::Result<()>>,
    done: CancellationToken,
}

async fn core_start(
    url: &str,
    rate: u64,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<Core> {
    let done = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut ready = Vec::new();
    for member in 0..4 {
        let client = connect(url, "soak core subscriber").await?;
        let sub = if member == 0 {
            client.subscribe("soak.core.*").await?
        } else {
            client
                .queue_subscribe("soak.core.>", "soak-q".into())
                .await?
        };
        client.flush().await?;
        ready.push((client, sub));
    }
    for (member, (client, mut sub)) in ready.into_iter().enumerate() {
        let counters = counters.clone();
        let done = done.clone();
        tasks.spawn(async move {
            let _client = client;
            // One publisher connection: each subscriber sees its messages in order.
            let mut last: Option<u64> = None;
            loop {
                let msg = tokio::select! {
                    _ = done.cancelled() => return Ok(()),
                    msg = sub.next() => msg.context("core subscription ended")?,
                };
                let n: u64 = std::str::from_utf8(&msg.payload)?.parse()?;
                if last.is_some_and(|l| n <= l) || (member == 0 && n != last.map_or(0, |l| l + 1)) {
                    counters.core_out_of_order.fetch_add(1, Relaxed);
                }
                last = Some(n);
                let counter = if member == 0 {
                    &counters.core_wildcard
                } else {
                    &counters.core_queue
                };
                counter.fetch_add(1, Relaxed);
            }
        });
    }
    let publisher = connect(url, "soak core publisher").await?;
    let client = publisher.clone();
    tasks.spawn(async move {
        let per_tick = rate / 100;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut n = 0u64;
        while !stop.is_cancelled() {
            tick.tick().await;
            for _ in 0..per_tick {
                client
                    .publish(
                        format!("soak.core.{}", n % CORE_SUBJECTS),
                        n.to_string().into(),
                    )
                    .await?;
                n += 1;
            }
            counters.core_published.store(n, Relaxed);
        }
        Ok(())
    });
    Ok(Core {
        publisher,
        tasks,
        done,
    })
}

impl Core {
    /// After the publisher stopped: waits for the subscribers to catch up; returns the
    /// messages the wildcard subscriber or the queue group is missing.
    async fn finish(mut self, counters: &Counters) -> anyhow::Result<u64> {
        self.publisher.flush().await?;
        let published = counters.core_published.load(Relaxed);
        let caught_up = || {
            counters.core_wildcard.load(Relaxed) >= published
                && counters.core_queue.load(Relaxed) >= published
        };
        let deadline = Instant::now() + BOUND;
        while !caught_up() && Instant::now() < deadline {
            // Polling a counter: the subscribers are other tasks; the bound is the limit.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.done.cancel();
        while let Some(done) = self.tasks.join_next().await {
            done??;
        }
        let missing = |a: &AtomicU64| published.saturating_sub(a.load(Relaxed));
        let extra = |a: &AtomicU64| a.load(Relaxed).saturating_sub(published);
        // A duplicate is as wrong as a loss: count both.
        Ok(missing(&counters.core_wildcard)
            + missing(&counters.core_queue)
            + extra(&counters.core_wildcard)
            + extra(&counters.core_queue))
    }
}

/// Two responders in a queue group and one requester measuring latency.
async fn requests(
    url: String,
    counters: Arc<Counters>,
    latency: Arc<Latency>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut responders = JoinSet::new();
    for _ in 0..2 {
        let client = connect(&url, "soak responder").await?;
        let mut sub = client.queue_subscribe("soak.rr", "rr".into()).await?;
        client.flush().await?;
        responders.spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    client.publish(reply, msg.payload).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    let client = async_nats::ConnectOptions::new()
        .name("soak requester")
        .request_timeout(Some(Duration::from_secs(5)))
        .connect(&url)
        .await?;
    while !pause(&stop, Duration::from_millis(5)).await {
        let start = Instant::now();
        match client.request("soak.rr", "ping".into()).await {
            Ok(_) => {
                latency.record(start.elapsed().as_micros() as u64);
                counters.requests.fetch_add(1, Relaxed);
            }
            Err(e) => {
                tracing::warn!("request failed: {e}");
                counters.requests_failed.fetch_add(1, Relaxed);
            }
        }
    }
    responders.abort_all();
    Ok(())
}

/// Clients that vanish mid-frame: half a PUB, then a close (every other one with RST).
/// A watcher on the subject counts anything delivered from those halves.
async fn vanish(
    url: String,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let watcher = connect(&url, "soak vanish watcher").await?;
    let mut sub = watcher.subscribe("soak.vanish.>").await?;
    watcher.flush().await?;
    let address = super::raw::socket_address(&url)?;
    let mut rst = false;
    while !pause(&stop, Duration::from_millis(50)).await {
        let Ok(stream) = TcpStream::connect(&address).await else {
            counters.churn_failures.fetch_add(1, Relaxed);
            continue;
        };
        let mut stream = BufReader::new(stream);
        let mut info = String::new();
        tokio::time::timeout(BOUND, stream.read_line(&mut info)).await??;
        let mut stream = stream.into_inner();
        stream
            .write_all(
                b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n\
                  PUB soak.vanish.x 100\r\nonly half of the payload",
            )
            .await?;
        rst = !rst;
        if rst {
            // Linger 0 makes the close an RST at once; it never blocks the thread.
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
        }
        drop(stream);
        counters.vanished.fetch_add(1, Relaxed);
        while let Some(Some(_)) = sub.next().now_or_never() {
            counters.half_frames_delivered.fetch_add(1, Relaxed);
        }
    }
    // Round trip through the server, then count what arrived.
    watcher.flush().await?;
    while let Some(Some(_)) = sub.next().now_or_never() {
        counters.half_frames_delivered.fetch_add(1, Relaxed);
    }
    Ok(())
}

/// A raw subscriber with a tiny receive buffer stops reading a firehose; the server must
/// cut it as a slow consumer while a healthy subscriber gets every firehose message.
async fn slow_consumer(
    url: String,
    target: Arc<Target>,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let address = super::raw::socket_address(&url)?;
    let healthy = connect(&url, "soak firehose reader").await?;
    let mut healthy_sub = healthy.subscribe("soak.firehose").await?;
    healthy.flush().await?;
    let publisher = connect(&url, "soak firehose").await?;
    let payload = bytes::Bytes::from(vec![b'f'; FIRE_PAYLOAD]);
    while !pause(&stop, Duration::from_secs(2)).await {
        counters.slow_cycles.fetch_add(1, Relaxed);
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let stream = socket.connect(address.parse()?).await?;
        let mut slow = BufReader::new(stream);
        let mut line = String::new();
        slow.read_line(&mut line).await?;
        slow.get_mut()
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB soak.firehose 1\r\nPING\r\n")
            .await?;
        line.clear();
        slow.read_line(&mut line).await?;
        if line != "PONG\r\n" {
            bail!("slow consumer handshake got {line:?}");
        }
        let before = target.slow_consumers().await?;
        let mut sent = 0usize;
        let mut cut = false;
        // Bounded: 16 times max_pending.
        while sent < 16 * MAX_PENDING && !stop.is_cancelled() {
            for _ in 0..256 {
                publisher.publish("soak.firehose", payload.clone()).await?;
            }
            publisher.flush().await?;
            sent += 256 * FIRE_PAYLOAD;
            let published = counters.fire_published.fetch_add(256, Relaxed) + 256;
            // Keep the healthy reader caught up, so only the stalled one builds a backlog.
            while counters.fire_received.load(Relaxed) < published {
                tokio::time::timeout(BOUND, healthy_sub.next())
                    .await
                    .context("healthy firehose reader starved")?
                    .context("firehose subscription ended")?;
                counters.fire_received.fetch_add(1, Relaxed);
            }
            if target.slow_consumers().await? > before {
                cut = true;
                break;
            }
        }
        if cut {
            // The cut socket must be closed: drain what the kernel holds until EOF.
            let mut sink = Vec::new();
            tokio::time::timeout(BOUND, slow.read_to_end(&mut sink))
                .await
                .context("the cut slow consumer was not closed")??;
            counters.slow_cut.fetch_add(1, Relaxed);
        } else if !stop.is_cancelled() {
            counters.slow_not_cut.fetch_add(1, Relaxed);
        }
    }
    Ok(())
}

/// A config reload every five seconds.
async fn reloads(
    target: Arc<Target>,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    while !pause(&stop, Duration::from_secs(5)).await {
        target.reload().await?;
        counters.reloads.fetch_add(1, Relaxed);
    }
    Ok(())
}

/// JetStream publishers (message ids make retries idempotent) and one durable pull consumer
/// on a work-queue stream (acked messages are removed, so the store stays small).
struct Js {
    acked: Arc<Vec<AtomicU64>>,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    publishers: JoinSet<anyhow::Result<()>>,
    consumer: tokio::task::JoinHandle<anyhow::Result<()>>,
    consumer_done: CancellationToken,
}

async fn js_start(
    url: &str,
    publishers: usize,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<Js> {
    let client = connect(url, "soak js").await?;
    let js = jetstream::new(client);
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "SOAK".into(),
            subjects: vec!["soak.js.>".into()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("soak".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..publishers).map(|_| AtomicU64::new(0)).collect());
    let seen = Arc::new(std::sync::Mutex::new(vec![Seen::default(); publishers]));
    let consumer_done = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for p in 0..acked.len() {
        let (js, acked, stop, counters) =
            (js.clone(), acked.clone(), stop.clone(), counters.clone());
        tasks.spawn(async move {
            let mut i = 0u64;
            while !pause(&stop, Duration::from_millis(2)).await {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("{p}-{i}").as_str());
                let attempt = async {
                    js.publish_with_headers(
                        format!("soak.js.{p}"),
                        headers,
                        format!("{p} {i}").into(),
                    )
                    .await?
                    .await
                    .map_err(anyhow::Error::from)
                };
                match attempt.await {
                    Ok(_) => {
                        i += 1;
                        acked[p].store(i, Relaxed);
                    }
                    Err(e) => {
                        // Retried with the same id: stored at most once either way.
                        tracing::warn!("JetStream publish {p}-{i}: {e:#}");
                        counters.js_retries.fetch_add(1, Relaxed);
                    }
                }
            }
            Ok(())
        });
    }
    let (seen_c, done) = (seen.clone(), consumer_done.clone());
    let consumer = tokio::spawn(async move {
        let mut messages = consumer.messages().await?;
        loop {
            let msg = tokio::select! {
                _ = done.cancelled() => return Ok(()),
                msg = messages.next() => msg.context("pull consumer ended")?,
            };
            let msg = match msg {
                Ok(msg) => msg,
                Err(e) => {
                    tracing::warn!("pull consumer: {e}");
                    continue;
                }
            };
            let text = std::str::from_utf8(&msg.payload)?;
            let (p, i) = text.split_once(' ').context("bad soak payload")?;
            let (p, i): (usize, u64) = (p.parse()?, i.parse()?);
            let fresh = seen_c
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(p)
                .context("unknown publisher")?
                .record(i);
            if !fresh {
                counters.js_redelivered.fetch_add(1, Relaxed);
            }
            msg.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
    });
    Ok(Js {
        acked,
        seen,
        publishers: tasks,
        consumer,
        consumer_done,
    })
}

impl Js {
    fn acked_total(&self) -> u64 {
        self.acked.iter().map(|a| a.load(Relaxed)).sum()
    }

    fn lost(&self) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter()
            .zip(self.acked.iter())
            .map(|(s, a)| s.lost(a.load(Relaxed)))
            .sum()
    }

    /// After the publishers stopped: waits for the consumer to see every acked message;
    /// returns the acked messages it never saw, and all acked.
    async fn finish(mut self) -> anyhow::Result<(u64, u64)> {
        // A publish in flight at the stop may still be acked: wait for the last acks first.
        while let Some(done) = self.publishers.join_next().await {
            done??;
        }
        let deadline = Instant::now() + BOUND;
        while self.lost() > 0 && Instant::now() < deadline {
            // Polling: the consumer is another task; the bound is the limit.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.consumer_done.cancel();
        (&mut self.consumer).await??;
        Ok((self.lost(), self.acked_total()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_flags_a_lost_message_and_forgives_a_late_one() {
        let mut seen = Seen::default();
        for n in [0, 1, 3, 4] {
            assert!(seen.record(n));
        }
        assert_eq!(seen.lost(5), 1, "2 is missing");
        assert_eq!(seen.lost(7), 3, "2, 5 and 6 are missing");
        assert!(seen.record(2), "late but first");
        assert!(!seen.record(2), "a redelivery");
        assert_eq!(seen.lost(5), 0);
    }

    fn sample(at: f64, rss_mib: f64) -> Sample {
        Sample {
            at,
            rss_kib: (rss_mib * 1024.0) as i64,
            fds: 0,
            tasks: 0,
            p99_us: 0,
        }
    }

    #[test]
    fn rss_slope_is_mib_per_minute() {
        let flat: Vec<_> = (0..10).map(|i| sample(i as f64 * 6.0, 100.0)).collect();
        assert_eq!(rss_slope(&flat), 0.0);
        // 1 MiB every 6 s is 10 MiB/min.
        let leak: Vec<_> = (0..10)
            .map(|i| sample(i as f64 * 6.0, 100.0 + i as f64))
            .collect();
        assert!((rss_slope(&leak) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn floor_growth_ignores_swings_and_flags_a_rising_floor() {
        assert_eq!(floor_growth(&[100, 400, 120, 390, 100, 350]), 0);
        assert_eq!(floor_growth(&[100, 400, 120, 300, 390, 350]), 200);
    }

    #[test]
    fn a_loss_fails_the_summary() {
        let args = SoakArgs {
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(10),
            interval: Duration::from_secs(5),
            server_binary: None,
            clients: 1,
            rate: 100,
            js_publishers: 1,
            max_rss_slope: 8.0,
            max_fd_growth: 64,
            max_task_growth: 256,
            max_p99_ratio: 4.0,
        };
        let counters = Counters::default();
        let summary = |js_lost| Summary {
            server: "test".into(),
            seconds: 60.0,
            counters: &counters,
            core_lost: 0,
            js_acked: 10,
            js_lost,
            rss_slope: 0.0,
            fd_growth: 0,
            task_growth: 0,
            p99_halves: (1000, 1000),
            args: &args,
        };
        assert!(!summary(0).table().1);
        let (table, failed) = summary(1).table();
        assert!(failed);
        assert!(table.contains("FAIL 10 / 1"), "{table}");
    }
}
