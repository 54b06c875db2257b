//! `natrium bench compare`: the same workloads against natrium-server and nats-server, run
//! alternately (A B A B …) on fresh server processes, summarised as medians and ratios in
//! markdown.
//!
//! This module finds the binaries, starts the servers and runs the rounds; the rows are in
//! [`cases`], what they measure in [`metrics`](mod@metrics), and the markdown section in
//! [`markdown`].

mod cases;
mod markdown;
mod metrics;

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::clients::ClientKind;
use super::jetstream::{self, AckMode, ConsumeSettings, JsClient, JsSettings};
use super::kv::{self, KvSettings};
use super::object::{self, ObjectOp, ObjectSettings};
use super::process::free_port;
use super::raw::RawConnection;
use super::raw_object;
use super::report::Report;
use super::workloads::{self, Settings};
use cases::{ACCOUNTS_CONF, CASES, Case, CaseKind, ConsumeCase, JS_WINDOW, Tenancy};
use markdown::{
    RunInfo, chart_bars, chart_path, load_average, loopback_mib_per_sec, section_heading,
    write_chart, write_section,
};
use metrics::{Problem, Run, Sample, metrics};

/// How long a freshly started server may take to accept a client.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `natrium bench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// natrium-server binary [default: `natrium-server` next to this executable].
    #[arg(long)]
    natrium_server: Option<PathBuf>,
    /// nats-server binary [default: $NATS_SERVER_BIN, else `nats-server` on PATH, else
    /// /usr/sbin/nats-server].
    #[arg(long)]
    nats_server: Option<PathBuf>,
    /// nats-server for the JetStream rows [default: $NATS_SERVER_LATEST_BIN, else
    /// `nats-server-latest` on PATH].
    #[arg(long)]
    nats_server_latest: Option<PathBuf>,
    /// Rounds; each runs every workload once against each server.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Multiply every workload's message count by this (e.g. 0.01 for a smoke run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Client for the publish/subscribe workloads.
    #[arg(long, value_enum, default_value_t = ClientKind::Raw)]
    client: ClientKind,
    /// Run only these workloads (comma-separated names, see the table).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run the JetStream rows (against the newest nats-server) instead of the core rows;
    /// they are written to their own section.
    #[arg(long, conflicts_with = "only")]
    jetstream: bool,
    /// Write the markdown section into this file, replacing an earlier one.
    #[arg(long)]
    write: Option<PathBuf>,
    /// Print the raw results as JSON instead of markdown.
    #[arg(long)]
    json: bool,
}

/// The two servers, in the order they run within a round.
const SERVERS: [&str; 2] = ["natrium-server", "nats-server"];

/// A server process started for one run, on a free loopback port.
struct ServerProcess {
    child: tokio::process::Child,
    url: String,
    pid: u32,
    /// The JetStream store directory, removed after the run.
    _store: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts `binary -a 127.0.0.1 -p PORT` (with `jetstream`, also `-js -sd <fresh temp
    /// dir>`) and returns once it completes a client handshake.
    async fn start(
        binary: &Path,
        jetstream: bool,
        tenancy: Tenancy,
    ) -> anyhow::Result<ServerProcess> {
        let port = free_port()?;
        let store = (jetstream || tenancy != Tenancy::Global)
            .then(|| tempfile::tempdir().context("cannot create a temporary directory"))
            .transpose()?;
        let mut command = tokio::process::Command::new(binary);
        if let Some(dir) = &store
            && jetstream
        {
            command.arg("-js").arg("-sd").arg(dir.path());
        }
        if let Some(dir) = &store
            && tenancy != Tenancy::Global
        {
            let conf = dir.path().join("accounts.conf");
            std::fs::write(&conf, ACCOUNTS_CONF).context("cannot write the accounts config")?;
            command.arg("-c").arg(conf);
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let url = format!("nats://127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        // No readiness signal is common to both servers, so poll the port (bounded).
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited during start-up: {status}", binary.display());
            }
            if RawConnection::connect(&tenancy.client_url(&url))
                .await
                .is_ok()
            {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not accept clients on {url} within {START_TIMEOUT:?}",
                    binary.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(ServerProcess {
            child,
            url,
            pid,
            _store: store,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// CPU time (user + system) process `pid` has used so far: the sum over its threads of the
/// nanosecond counter in `/proc/PID/task/TID/schedstat` (`/proc/PID/stat` counts only in
/// clock ticks, too coarse for runs of a fraction of a second). Threads that already exited
/// are not counted; both servers keep their threads for their whole life. `None` where the
/// kernel does not provide it.
fn process_cpu(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn scaled(msgs: u64, scale: f64) -> u64 {
    ((msgs as f64 * scale).round() as u64).max(10)
}

/// The consume settings of a [`CaseKind::JsConsume`] case on `server`, scaled.
fn consume_settings(server: &ServerProcess, case: ConsumeCase, scale: f64) -> ConsumeSettings {
    ConsumeSettings {
        url: server.url.clone(),
        msgs: scaled(case.msgs, scale),
        size: case.size,
        subject: "natrium.bench.js".to_owned(),
        storage: case.storage,
        ack: case.ack,
        double_ack: false,
        pull: case.pull,
        client: if case.raw {
            JsClient::Raw
        } else {
            JsClient::Nats
        },
        progress: false,
    }
}

/// The settings of a [`CaseKind::Object`] case (a get row's objects are written beforehand).
fn object_settings(
    server: &ServerProcess,
    op: ObjectOp,
    count: u64,
    size: usize,
    scale: f64,
) -> ObjectSettings {
    ObjectSettings {
        url: server.url.clone(),
        op,
        // Objects are large: a smoke run may go down to one.
        count: ((count as f64 * scale).round() as u64).clamp(1, count),
        size,
        progress: false,
        filled: op == ObjectOp::Get,
    }
}

/// Work a case needs done before it is measured (filling the stream a consume row reads);
/// returns the first stream sequence it stored.
async fn prepare_case(case: Case, server: &ServerProcess, scale: f64) -> anyhow::Result<u64> {
    match case.kind {
        CaseKind::JsConsume(consume) => {
            jetstream::fill(&consume_settings(server, consume, scale)).await
        }
        CaseKind::Object {
            op: ObjectOp::Get,
            count,
            size,
            ..
        } => {
            object::fill(&object_settings(server, ObjectOp::Get, count, size, scale)).await?;
            Ok(0)
        }
        _ => Ok(0),
    }
}

/// Checks, after the clock and the CPU count, what a case left on the server (a raw object
/// put's objects, read back with async-nats).
async fn check_case(case: Case, server: &ServerProcess, scale: f64) -> anyhow::Result<()> {
    match case.kind {
        CaseKind::Object {
            op: ObjectOp::Put,
            count,
            size,
            raw: true,
        } => {
            raw_object::check_put(&object_settings(server, ObjectOp::Put, count, size, scale)).await
        }
        _ => Ok(()),
    }
}

async fn run_case(
    case: Case,
    server: &ServerProcess,
    client: ClientKind,
    scale: f64,
    first_seq: u64,
) -> anyhow::Result<Report> {
    let client = case.client.unwrap_or(client);
    let settings = |msgs: u64, size: usize| Settings {
        url: case.tenancy.client_url(&server.url),
        server_side_url: case.tenancy.server_side_url(&server.url),
        msgs: scaled(msgs, scale),
        size,
        subject: "natrium.bench".to_owned(),
        client,
        idle_timeout: Duration::from_secs(5),
        progress: false,
    };
    match case.kind {
        CaseKind::Publish { msgs, size } => {
            workloads::pub_sub(&settings(msgs, size), 1, 0, None).await
        }
        CaseKind::FanOut {
            msgs,
            size,
            subscribers,
        } => workloads::pub_sub(&settings(msgs, size), 1, subscribers, None).await,
        CaseKind::Queue { msgs, members } => {
            workloads::pub_sub(&settings(msgs, 16), 1, members, Some("natrium.bench.queue")).await
        }
        CaseKind::Request {
            msgs,
            requesters,
            responders,
        } => workloads::request_reply(&settings(msgs, 16), requesters, responders).await,
        CaseKind::Subjects {
            msgs,
            subjects,
            wildcards,
        } => workloads::subjects(&settings(msgs, 16), 1, subjects, wildcards).await,
        CaseKind::Idle { clients } => {
            workloads::idle(&server.url, clients, Some(server.pid), false).await
        }
        CaseKind::JsPublish {
            msgs,
            size,
            storage,
            sync,
            raw,
        } => {
            jetstream::publish(&JsSettings {
                url: server.url.clone(),
                msgs: scaled(msgs, scale),
                size,
                subject: "natrium.bench.js".to_owned(),
                storage,
                mode: if sync {
                    AckMode::Sync
                } else {
                    AckMode::Async(JS_WINDOW)
                },
                progress: false,
                client: if raw { JsClient::Raw } else { JsClient::Nats },
            })
            .await
        }
        CaseKind::JsConsume(consume) => {
            let settings = consume_settings(server, consume, scale);
            jetstream::consume(&settings, first_seq).await
        }
        CaseKind::Kv { op, msgs } => {
            kv::run(&KvSettings {
                url: server.url.clone(),
                op,
                msgs: scaled(msgs, scale),
                size: 16,
                keys: 1_000,
                window: JS_WINDOW,
                progress: false,
            })
            .await
        }
        CaseKind::Object {
            op,
            count,
            size,
            raw,
        } => {
            let settings = object_settings(server, op, count, size, scale);
            if raw {
                raw_object::run(&settings).await
            } else {
                object::run(&settings).await
            }
        }
    }
}

/// Runs the comparison and prints (and optionally writes) the markdown section.
pub async fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let natrium = match &args.natrium_server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("cannot locate this executable's directory")?
            .join("natrium-server"),
    };
    let nats = match &args.nats_server {
        Some(path) => path.clone(),
        None => find_nats_server()?,
    };
    for binary in [&natrium, &nats] {
        if !binary.is_file() {
            bail!("server binary {} not found", binary.display());
        }
    }
    anyhow::ensure!(args.scale > 0.0, "--scale must be positive");
    let cases: Vec<Case> = if args.only.is_empty() {
        CASES
            .iter()
            .copied()
            .filter(|c| c.kind.is_jetstream() == args.jetstream)
            .collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.only {
            let case = CASES.iter().find(|c| c.name == name).with_context(|| {
                let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
                format!(
                    "unknown workload {name:?}; choose from {}",
                    names.join(", ")
                )
            })?;
            chosen.push(*case);
        }
        chosen
    };
    let latest = if cases.iter().any(|c| c.kind.is_jetstream()) {
        let path = match &args.nats_server_latest {
            Some(path) => path.clone(),
            None => find_nats_server_latest()?,
        };
        if !path.is_file() {
            bail!("server binary {} not found", path.display());
        }
        Some(path)
    } else {
        None
    };

    let binaries = [natrium.as_path(), nats.as_path()];
    let load_before = load_average();
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    let started = Instant::now();
    for round in 1..=args.rounds {
        for case in &cases {
            for (server_name, mut binary) in SERVERS.iter().zip(binaries) {
                // JetStream rows compare with the newest nats-server.
                if case.kind.is_jetstream()
                    && *server_name == "nats-server"
                    && let Some(latest) = &latest
                {
                    binary = latest.as_path();
                }
                eprintln!(
                    "round {round}/{}: {} on {server_name}",
                    args.rounds, case.title
                );
                let result = async {
                    let server =
                        ServerProcess::start(binary, case.kind.is_jetstream(), case.tenancy)
                            .await?;
                    let first_seq = match prepare_case(*case, &server, args.scale).await {
                        Ok(seq) => seq,
                        Err(err) => {
                            server.stop().await;
                            return Err(err);
                        }
                    };
                    let cpu_before = process_cpu(server.pid);
                    let report = run_case(*case, &server, args.client, args.scale, first_seq).await;
                    let server_cpu = match (cpu_before, process_cpu(server.pid)) {
                        (Some(before), Some(after)) => after.checked_sub(before),
                        _ => None,
                    };
                    let checked = match &report {
                        Ok(_) => check_case(*case, &server, args.scale).await,
                        Err(_) => Ok(()),
                    };
                    server.stop().await;
                    checked?;
                    anyhow::Ok(Run {
                        report: report?,
                        server_cpu,
                    })
                }
                .await;
                match result {
                    // A run that lost messages did not do the work it is compared on, so
                    // it is listed as a problem and kept out of the medians.
                    Ok(run) if run.report.lost > 0 => problems.push(Problem {
                        case: case.name,
                        server: server_name,
                        round,
                        what: format!(
                            "lost {} of {} messages",
                            run.report.lost, run.report.expected
                        ),
                    }),
                    Ok(run) => {
                        for metric in metrics(case.kind) {
                            if let Some(value) = (metric.read)(&run) {
                                samples.push(Sample {
                                    case: case.name,
                                    metric: metric.label,
                                    server: server_name,
                                    round,
                                    value,
                                });
                            }
                        }
                    }
                    Err(err) => problems.push(Problem {
                        case: case.name,
                        server: server_name,
                        round,
                        what: format!("{err:#}"),
                    }),
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let load = format!("{load_before} before, {} after", load_average());

    if args.json {
        let out = serde_json::json!({ "samples": samples, "problems": problems });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let run = RunInfo {
            binaries,
            latest: latest.as_deref(),
            elapsed,
            load,
            loopback_mib_per_sec: loopback_mib_per_sec().await.ok(),
            rounds: args.rounds,
            client: args.client,
            with_chart: args.write.is_some(),
        };
        let section = markdown::markdown(&cases, &samples, &problems, &run).await;
        print!("{section}");
        if let Some(path) = &args.write {
            write_section(path, section_heading(&cases), &section)?;
            eprintln!("wrote the comparison into {}", path.display());
            let chart = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(chart_path(&cases));
            let title = section_heading(&cases).trim_start_matches("## ");
            write_chart(&chart, title, &chart_bars(&cases, &samples))?;
            eprintln!("drew the chart into {}", chart.display());
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `$NATS_SERVER_LATEST_BIN`, else `nats-server-latest` on `PATH`.
fn find_nats_server_latest() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_LATEST_BIN") {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server-latest"))
                .find(|candidate| candidate.is_file())
        })
        .context(
            "the JetStream rows need the newest nats-server: set NATS_SERVER_LATEST_BIN, pass \
             --nats-server-latest, or put nats-server-latest on PATH",
        )
}

/// `$NATS_SERVER_BIN`, else `nats-server` on `PATH`, else `/usr/sbin/nats-server`.
fn find_nats_server() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    let fallback = PathBuf::from("/usr/sbin/nats-server");
    match on_path {
        Some(path) => Ok(path),
        None if fallback.is_file() => Ok(fallback),
        None => bail!(
            "nats-server not found (set NATS_SERVER_BIN, pass --nats-server, or \
             `apt-get install -y nats-server`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_counts_work_done_by_any_thread() {
        fn own_thread_cpu() -> Duration {
            let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
            Duration::from_nanos(stat.split_whitespace().next().unwrap().parse().unwrap())
        }
        let (busy_done, wait_for_busy) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        // Another thread burns 30 ms of its own CPU time, reports its counter and stays alive
        // while the process total is read; that total must include it (this thread alone has
        // used far less).
        let busy = std::thread::spawn(move || {
            let mut x = 0u64;
            while own_thread_cpu() < Duration::from_millis(30) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            busy_done.send(own_thread_cpu()).unwrap();
            let _ = released.recv();
        });
        let busy_cpu = wait_for_busy.recv().expect("busy thread");
        let total = process_cpu(std::process::id()).expect("schedstat is readable on Linux");
        release.send(()).unwrap();
        busy.join().expect("busy thread");
        assert!(
            total >= busy_cpu,
            "process {total:?} < one thread {busy_cpu:?}"
        );
        assert!(
            own_thread_cpu() < busy_cpu,
            "this thread did the work itself"
        );
    }
}
