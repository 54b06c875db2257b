//! The markdown section of a comparison (header facts, table, notes), its chart, and
//! writing both into a file such as BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::cases::{Case, JS_PULL_BATCH, JS_WINDOW};
use super::metrics::{CPU_PER_MESSAGE, Problem, Sample, median, median_of, metrics};
use crate::bench::chart;
use crate::bench::clients::ClientKind;
use crate::bench::report::group_thousands;

/// The heading of the section this command owns in BENCHMARKS.md.
const SECTION_HEADING: &str = "## natrium-server vs nats-server";
/// The heading of the section a run of only JetStream rows writes.
const JS_SECTION_HEADING: &str = "## JetStream: natrium-server vs nats-server";

/// The section a run writes: the JetStream one when it ran only JetStream rows.
pub(super) fn section_heading(cases: &[Case]) -> &'static str {
    if cases.iter().all(|c| c.kind.is_jetstream()) {
        JS_SECTION_HEADING
    } else {
        SECTION_HEADING
    }
}

/// The chart of a section, relative to the file the section is written into.
pub(super) fn chart_path(cases: &[Case]) -> &'static str {
    if cases.iter().all(|c| c.kind.is_jetstream()) {
        "docs/bench-jetstream.svg"
    } else {
        "docs/bench-core.svg"
    }
}

/// Every row of the table as a bar: natrium-server's advantage, whichever way is better.
pub(super) fn chart_bars(cases: &[Case], samples: &[Sample]) -> Vec<chart::Bar> {
    let mut bars = Vec::new();
    for case in cases {
        for metric in metrics(case.kind) {
            let nats = median_of(samples, case.name, metric.label, "nats-server");
            let natrium = median_of(samples, case.name, metric.label, "natrium-server");
            let advantage = match (nats, natrium) {
                (Some(nats), Some(natrium)) if metric.higher_is_better => natrium / nats,
                (Some(nats), Some(natrium)) => nats / natrium,
                _ => f64::NAN,
            };
            bars.push(chart::Bar {
                label: format!("{} — {}", case.title, metric.label),
                advantage,
            });
        }
    }
    bars
}

/// A binary's file name: committed documents carry no paths of the measuring machine.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn format_value(value: f64) -> String {
    if value >= 1000.0 {
        group_thousands(value.round() as u64)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The section: how and where it was measured, the table of medians, problems and notes.
pub(super) async fn markdown(
    cases: &[Case],
    samples: &[Sample],
    problems: &[Problem],
    run: &RunInfo<'_>,
) -> String {
    let binaries = &run.binaries;
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", section_heading(cases));
    let _ = writeln!(
        out,
        "Measured {} on {}.",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        machine_description()
    );
    let js_only = cases.iter().all(|c| c.kind.is_jetstream());
    if !js_only {
        let _ = writeln!(
            out,
            "Servers: {} (`{}`) and {} (`{}`).",
            version_of(binaries[0]).await,
            file_name(binaries[0]),
            version_of(binaries[1]).await,
            file_name(binaries[1])
        );
    }
    if let Some(latest) = run.latest {
        let _ = writeln!(
            out,
            "JetStream rows: {} (`{}`) against {} (`{}`), both started with \
             `-js -sd <fresh temp dir>` (default sync policy: written to the OS before the \
             ack, fsync every 2 minutes), publishing through async-nats' JetStream context \
             into a fresh stream. The consume rows first fill a fresh stream (raw client, not \
             measured, server CPU not counted), then read it all through a new consumer with \
             async-nats, every delivery checked (in order, first delivery, intact payload): \
             \"consume\" is a durable pull consumer read with `consumer.stream()` \
             ({JS_PULL_BATCH} messages per pull request), \"fetch\" one `fetch()` of \
             {JS_PULL_BATCH} at a time, \"push\" a durable push consumer on an inbox \
             (defaults: max_ack_pending 1,000), \"ordered\" async-nats' ordered pull \
             consumer. The clock stops when the last ack is flushed, and with acks consumer \
             info must then show nothing unacknowledged. The Key-Value rows use async-nats' \
             `kv::Store` on a fresh bucket (history 1, file storage, {JS_WINDOW} operations in \
             flight; every value read or watched is checked; the watch row's watcher receives \
             a concurrent writer's puts, one key per put). The object rows put or get 8 MiB \
             objects one after another through async-nats' object store on a fresh bucket \
             (eight distinct contents made before the clock, neighbours always different), \
             every object read to its end and compared; the get row's objects are written \
             before the clock and the CPU count start. async-nats hashes every 128 KiB chunk \
             and waits for its ack before sending the next, so there the client sets the \
             rate; the object rows marked \"raw client\" do the same on the wire without it. \
             The raw put sends what nats.go's `Put` sends: all 64 chunk `PUB`s of an object \
             without waiting, then the meta message (`HPUB` with `Nats-Rollup: sub` and the \
             object info async-nats writes), then awaits the 65 acks (each checked: stream, \
             next sequence, no error; at most 256 in flight), one object after another; the \
             frames and the SHA-256 digest are prepared before the clock, and nats.go's \
             lookup of an earlier object of the same name is left out (the names are new). \
             After the clock and the CPU count every object is read back with async-nats \
             and compared. The raw \
             get does per object what async-nats' `get` does: a direct get of the meta \
             message, an ordered push consumer on the object's chunks (flow control answered, \
             heartbeats skipped, each chunk checked in order against the expected bytes with \
             a plain comparison instead of SHA-256), then an unsubscribe.",
            version_of(binaries[0]).await,
            file_name(binaries[0]),
            version_of(latest).await,
            file_name(latest)
        );
    }
    // Binaries by name: the document names no path of the measuring machine.
    let command: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 || Path::new(&arg).is_absolute() {
                file_name(Path::new(&arg))
            } else {
                arg
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "\nCommand ({} build): `{}` — {} rounds in {:.0} s. Load average (1, 5, 15 min): {}.",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        command.join(" "),
        run.rounds,
        run.elapsed.as_secs_f64(),
        run.load
    );
    let clients = if js_only {
        "The JetStream publisher is async-nats' JetStream context (one connection), except in \
         the rows marked \"raw client\" (pre-encoded `PUB` frames with one reply inbox, at \
         most 256 unacknowledged, each ack's sequence checked). In the async rows async-nats, \
         not the server, is the bottleneck on this machine: compare the raw rows and the \
         servers' CPU per message there."
            .to_owned()
    } else {
        format!(
            "Publishers and subscribers use the `{}` client{} except in the rows marked \
             \"async-nats client\" and the JetStream rows; request/reply uses async-nats.",
            run.client.name(),
            if run.client == ClientKind::Raw {
                " (pre-encoded frames over TCP, so the client is not the bottleneck)"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(
        out,
        "\nEach round runs every workload against natrium-server, then nats-server (A B A B …), \
         each time on a fresh server process on 127.0.0.1; the benchmark clients run on the \
         same machine. {clients} Cells are medians over the rounds, every round in brackets. \
         The ratio is natrium-server ÷ nats-server: above 1 is better for rates, below 1 is \
         better for latency and memory.\n"
    );
    if run.with_chart {
        let _ = writeln!(
            out,
            "![natrium-server's advantage per row]({})\n",
            chart_path(cases)
        );
    }
    let _ = writeln!(
        out,
        "| workload | metric | nats-server | natrium-server | natrium ÷ nats |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for case in cases {
        for metric in metrics(case.kind) {
            let mut cells = Vec::new();
            let mut medians = Vec::new();
            for server in ["nats-server", "natrium-server"] {
                let mut values: Vec<f64> = samples
                    .iter()
                    .filter(|s| {
                        s.case == case.name && s.metric == metric.label && s.server == server
                    })
                    .map(|s| s.value)
                    .collect();
                let rounds: Vec<String> = values.iter().map(|v| format_value(*v)).collect();
                let m = median(&mut values);
                medians.push(m);
                cells.push(match m {
                    Some(m) => format!("{} [{}]", format_value(m), rounds.join(", ")),
                    None => "failed".to_owned(),
                });
            }
            let ratio = match (medians[0], medians[1]) {
                (Some(nats), Some(natrium)) if nats > 0.0 => format!("{:.2}×", natrium / nats),
                _ => "–".to_owned(),
            };
            let label = if metric.higher_is_better {
                metric.label.to_owned()
            } else {
                format!("{} (lower is better)", metric.label)
            };
            let _ = writeln!(
                out,
                "| {} | {label} | {} | {} | {ratio} |",
                case.title, cells[0], cells[1]
            );
        }
    }
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "\nEvery run received every expected message (no loss) and no run failed."
        );
    } else {
        let _ = writeln!(
            out,
            "\nProblems (these runs failed or lost messages; they are left out of the medians):\n"
        );
        for problem in problems {
            let _ = writeln!(
                out,
                "- {} on {}, round {}: {}",
                problem.case, problem.server, problem.round, problem.what
            );
        }
    }
    notes(&mut out, samples, run);
    out
}

/// How to read the table: machine load, the loopback ceiling, and what the official client
/// achieves compared with the raw one (why the raw client is the default).
fn notes(out: &mut String, samples: &[Sample], run: &RunInfo<'_>) {
    let _ = writeln!(out, "\n### Reading these numbers\n");
    let _ = writeln!(
        out,
        "- The load average above counts everything else running on the machine; single runs \
         vary accordingly (see the bracketed rounds). Alternation and medians keep the \
         comparison fair; for absolute figures rerun on an idle machine."
    );
    let _ = writeln!(
        out,
        "- \"{CPU_PER_MESSAGE}\" is the CPU time (user + system, all threads, from \
         `/proc/PID/task/*/schedstat`) the server process used during the run, divided by the \
         messages published (publish only) or delivered (all other rows). It does not depend on \
         how fast the clients are, so it compares the servers' efficiency even where a client \
         is the bottleneck, and it moves far less with machine load than the rates."
    );
    if let Some(mib) = run.loopback_mib_per_sec {
        let _ = writeln!(
            out,
            "- One loopback TCP stream on this machine carries {mib:.0} MiB/s (measured by the \
             same command with a plain socket pair); payload-heavy rows cannot exceed that."
        );
    }
    for (raw_case, nats_case, metric, what) in [
        ("pub", "pub-nats", "msgs/s", "publishing"),
        ("pubsub", "pubsub-nats", "msgs/s received", "1 → 1 delivery"),
    ] {
        let ratios: Vec<String> = ["nats-server", "natrium-server"]
            .iter()
            .filter_map(|server| {
                let raw = median_of(samples, raw_case, metric, server)?;
                let nats = median_of(samples, nats_case, metric, server)?;
                (raw > 0.0).then(|| format!("{:.0} % ({server})", 100.0 * nats / raw))
            })
            .collect();
        if !ratios.is_empty() {
            let _ = writeln!(
                out,
                "- Client bottleneck, {what}: with the async-nats client the rate is {} of the \
                 raw client's, so with async-nats the benchmark would mostly measure the \
                 client; it stays in the table as the rate applications see.",
                ratios.join(" and ")
            );
        }
    }
}

/// Throughput of one loopback TCP stream (256 MiB through a socket pair), for context.
pub(super) async fn loopback_mib_per_sec() -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const TOTAL: usize = 256 * 1024 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut received = 0usize;
        while received < TOTAL {
            let n = socket.read(&mut buffer).await?;
            anyhow::ensure!(n > 0, "loopback peer closed early");
            received += n;
        }
        anyhow::Ok(())
    });
    let mut socket = tokio::net::TcpStream::connect(address).await?;
    let chunk = vec![0u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..TOTAL / chunk.len() {
        socket.write_all(&chunk).await?;
    }
    reader.await??;
    Ok(TOTAL as f64 / (1024.0 * 1024.0) / start.elapsed().as_secs_f64())
}

/// Facts about the whole comparison run, for the markdown header.
pub(super) struct RunInfo<'a> {
    pub(super) binaries: [&'a Path; 2],
    /// The nats-server of the JetStream rows, when there are any.
    pub(super) latest: Option<&'a Path>,
    pub(super) elapsed: Duration,
    pub(super) load: String,
    pub(super) loopback_mib_per_sec: Option<f64>,
    /// Rounds run (`--rounds`).
    pub(super) rounds: u32,
    /// Client of the publish/subscribe rows (`--client`).
    pub(super) client: ClientKind,
    /// Whether the section is written into a file, with its chart beside it (`--write`).
    pub(super) with_chart: bool,
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every number.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `2 cores (CPU model), 24 GiB RAM, Linux 6.x`, from /proc.
fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown memory".to_owned(),
            |kib| format!("{:.1} GiB RAM", kib / 1024.0 / 1024.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("{cores} cores ({cpu}), {memory}, Linux {kernel}")
}

/// The first line `binary --version` prints.
async fn version_of(binary: &Path) -> String {
    match tokio::process::Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
    {
        Ok(output) => {
            let text = if output.stdout.is_empty() {
                output.stderr
            } else {
                output.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("unknown version")
                .trim()
                .to_owned()
        }
        Err(_) => "unknown version".to_owned(),
    }
}

/// Draws `bars` into the SVG file `path`, creating its directory.
pub(super) fn write_chart(path: &Path, title: &str, bars: &[chart::Bar]) -> anyhow::Result<()> {
    let svg = chart::svg(title, bars)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// A subsection written by hand under a generated section: a rerun keeps it.
const HAND_WRITTEN: &str = "\n### Findings";

/// Replaces this command's section in `path` (from its heading to the next `## ` heading or
/// the hand-written `### Findings` under it), or appends it; creates the file if needed.
pub(super) fn write_section(path: &Path, heading: &str, section: &str) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => "# Benchmarks\n".to_owned(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let updated = replace_section(&existing, heading, section);
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

fn replace_section(existing: &str, heading: &str, section: &str) -> String {
    let Some(start) = find_heading(existing, heading) else {
        let mut out = existing.trim_end().to_owned();
        out.push_str("\n\n");
        out.push_str(section);
        return out;
    };
    let after = start + heading.len();
    let rest = &existing[after..];
    let end = [rest.find("\n## "), rest.find(HAND_WRITTEN)]
        .into_iter()
        .flatten()
        .min()
        .map_or(existing.len(), |i| after + i + 1);
    let mut out = existing[..start].to_owned();
    out.push_str(section);
    if end < existing.len() {
        out.push('\n');
        out.push_str(&existing[end..]);
    }
    out
}

/// Byte offset of a line that is exactly `heading`.
fn find_heading(text: &str, heading: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == heading {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::cases::CASES;

    #[test]
    fn section_is_replaced_in_place() {
        let doc = "# Benchmarks\n\nintro\n\n## natrium-server vs nats-server\n\nold\n\n## Parser\n\nkept\n";
        let out = replace_section(
            doc,
            SECTION_HEADING,
            "## natrium-server vs nats-server\n\nnew\n",
        );
        assert_eq!(
            out,
            "# Benchmarks\n\nintro\n\n## natrium-server vs nats-server\n\nnew\n\n## Parser\n\nkept\n"
        );
    }

    #[test]
    fn hand_written_findings_under_the_section_are_kept() {
        let doc = "## natrium-server vs nats-server\n\nold\n\n### Findings (by hand)\n\nkept\n\n## Parser\n";
        let out = replace_section(
            doc,
            SECTION_HEADING,
            "## natrium-server vs nats-server\n\nnew\n",
        );
        assert_eq!(
            out,
            "## natrium-server vs nats-server\n\nnew\n\n### Findings (by hand)\n\nkept\n\n## Parser\n"
        );
    }

    #[test]
    fn section_is_appended_when_absent() {
        let out = replace_section(
            "# Benchmarks\n\nintro\n",
            SECTION_HEADING,
            "## natrium-server vs nats-server\n\nnew\n",
        );
        assert_eq!(
            out,
            "# Benchmarks\n\nintro\n\n## natrium-server vs nats-server\n\nnew\n"
        );
    }

    #[test]
    fn jetstream_rows_get_their_own_section() {
        let js: Vec<Case> = CASES
            .iter()
            .copied()
            .filter(|c| c.kind.is_jetstream())
            .collect();
        assert_eq!(
            js.len(),
            27,
            "publish: sync/async × file/memory × 16/128 B, and 2 raw; 5 consume and 5 raw; 3 KV; 2 object and 2 raw"
        );
        assert_eq!(section_heading(&js), JS_SECTION_HEADING);
        assert_eq!(section_heading(CASES), SECTION_HEADING);
        let doc = "# Benchmarks\n\n## natrium-server vs nats-server\n\ncore\n";
        let out = replace_section(
            doc,
            JS_SECTION_HEADING,
            "## JetStream: natrium-server vs nats-server\n\njs\n",
        );
        assert!(out.contains("core") && out.contains("js\n"), "{out}");
        assert_eq!(
            file_name(Path::new("/x/y/nats-server-latest")),
            "nats-server-latest"
        );
    }
}
