//! `natrium bench compare`: the same workloads against natrium-server and nats-server, run
//! alternately (A B A B …) on fresh server processes, summarised as medians and ratios in
//! markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::chart;
use super::clients::ClientKind;
use super::jetstream::{
    self, AckMode, ConsumeAck, ConsumeSettings, JsClient, JsSettings, Pull, Storage,
};
use super::kv::{self, KvOp, KvSettings};
use super::object::{self, ObjectOp, ObjectSettings};
use super::process::free_port;
use super::raw::RawConnection;
use super::report::{Report, group_thousands};
use super::workloads::{self, Settings};

/// The heading of the section this command owns in BENCHMARKS.md.
pub const SECTION_HEADING: &str = "## natrium-server vs nats-server";
/// The heading of the section a run of only JetStream rows writes.
pub const JS_SECTION_HEADING: &str = "## JetStream: natrium-server vs nats-server";

/// The section a run writes: the JetStream one when it ran only JetStream rows.
fn section_heading(cases: &[Case]) -> &'static str {
    if cases.iter().all(|c| c.kind.is_jetstream()) {
        JS_SECTION_HEADING
    } else {
        SECTION_HEADING
    }
}

/// The chart of a section, relative to the file the section is written into.
fn chart_path(cases: &[Case]) -> &'static str {
    if cases.iter().all(|c| c.kind.is_jetstream()) {
        "docs/bench-jetstream.svg"
    } else {
        "docs/bench-core.svg"
    }
}

/// Every row of the table as a bar: natrium-server's advantage, whichever way is better.
fn chart_bars(cases: &[Case], samples: &[Sample]) -> Vec<chart::Bar> {
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

/// One row group of the comparison table.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    title: &'static str,
    kind: CaseKind,
    /// Client for this case when it must not follow `--client`.
    client: Option<ClientKind>,
    /// Which accounts the clients are in.
    tenancy: Tenancy,
}

/// Where a case's clients are: the global account (no configuration), or accounts of
/// [`ACCOUNTS_CONF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tenancy {
    Global,
    /// Every client is a user of account A.
    InAccount,
    /// Requesters are in B, responders in A: B imports A's service.
    AcrossAccounts,
}

/// The configuration of the account rows, the same for both servers.
const ACCOUNTS_CONF: &str = "accounts {\n\
  A {\n\
    users: [{user: a, password: a}]\n\
    exports: [{service: \"natrium.bench\"}, {service: \"natrium.bench.>\"}]\n\
  }\n\
  B {\n\
    users: [{user: b, password: b}]\n\
    imports: [{service: {account: A, subject: \"natrium.bench\"}}, \
{service: {account: A, subject: \"natrium.bench.>\"}}]\n\
  }\n\
}\n";

impl Tenancy {
    /// `url` with the credentials of the user that publishes or requests.
    fn client_url(self, url: &str) -> String {
        match self {
            Tenancy::Global => url.to_owned(),
            Tenancy::InAccount => url.replacen("nats://", "nats://a:a@", 1),
            Tenancy::AcrossAccounts => url.replacen("nats://", "nats://b:b@", 1),
        }
    }

    /// `url` with the credentials of the user that subscribes or answers.
    fn server_side_url(self, url: &str) -> String {
        match self {
            Tenancy::Global => url.to_owned(),
            Tenancy::InAccount | Tenancy::AcrossAccounts => {
                url.replacen("nats://", "nats://a:a@", 1)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum CaseKind {
    Publish {
        msgs: u64,
        size: usize,
    },
    FanOut {
        msgs: u64,
        size: usize,
        subscribers: usize,
    },
    Queue {
        msgs: u64,
        members: usize,
    },
    Request {
        msgs: u64,
        requesters: usize,
        responders: usize,
    },
    Subjects {
        msgs: u64,
        subjects: usize,
        wildcards: usize,
    },
    Idle {
        clients: usize,
    },
    /// JetStream publish with acknowledgements into a fresh stream (`-js -sd <tmp>`).
    JsPublish {
        msgs: u64,
        size: usize,
        storage: Storage,
        /// Wait for each acknowledgement; otherwise [`JS_WINDOW`] are outstanding.
        sync: bool,
        /// Publish with the raw client instead of async-nats.
        raw: bool,
    },
    /// JetStream consume: a stream filled beforehand (not measured) read through a new
    /// consumer with async-nats.
    JsConsume {
        msgs: u64,
        size: usize,
        storage: Storage,
        ack: ConsumeAck,
        /// Pull (continuous or fetch), push or ordered.
        pull: Pull,
        /// Consume with the raw client instead of async-nats.
        raw: bool,
    },
    /// Key-Value operations through async-nats' `kv::Store` on a fresh bucket.
    Kv {
        op: KvOp,
        msgs: u64,
    },
    /// Whole objects through async-nats' object store on a fresh bucket.
    Object {
        op: ObjectOp,
        count: u64,
        size: usize,
    },
}

impl CaseKind {
    fn is_jetstream(self) -> bool {
        matches!(
            self,
            CaseKind::JsPublish { .. }
                | CaseKind::JsConsume { .. }
                | CaseKind::Kv { .. }
                | CaseKind::Object { .. }
        )
    }
}

/// Messages per pull request in the consume rows (as `nats bench js consume`).
const JS_PULL_BATCH: usize = 500;

/// Acknowledgements outstanding in the async JetStream rows (as `nats bench js pub`).
const JS_WINDOW: usize = 256;

/// A JetStream consume row (128 B messages).
const fn js_consume_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    ack: ConsumeAck,
    pull: Pull,
) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsConsume {
            msgs: 200_000,
            size: 128,
            storage,
            ack,
            pull,
            raw: false,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    }
}

/// A JetStream consume row read with the raw client (128 B messages; twice as many, since
/// the raw client reads them faster).
const fn js_raw_consume_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    ack: ConsumeAck,
    pull: Pull,
) -> Case {
    let mut case = js_consume_case(name, title, storage, ack, pull);
    case.kind = CaseKind::JsConsume {
        msgs: 400_000,
        size: 128,
        storage,
        ack,
        pull,
        raw: true,
    };
    case
}

/// A JetStream publish row.
const fn js_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    sync: bool,
    size: usize,
) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsPublish {
            msgs: if sync { 10_000 } else { 200_000 },
            size,
            storage,
            sync,
            raw: false,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    }
}

/// An async JetStream publish row with the raw client.
const fn js_raw_case(name: &'static str, title: &'static str, storage: Storage) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsPublish {
            msgs: 400_000,
            size: 128,
            storage,
            sync: false,
            raw: true,
        },
        client: Some(ClientKind::Raw),
        tenancy: Tenancy::Global,
    }
}

/// The comparison table: sized for seconds per workload on a small machine.
const CASES: &[Case] = &[
    Case {
        name: "pub",
        title: "publish only, 16 B",
        kind: CaseKind::Publish {
            msgs: 2_000_000,
            size: 16,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub",
        title: "1 → 1, 16 B",
        kind: CaseKind::FanOut {
            msgs: 1_000_000,
            size: 16,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub16k",
        title: "1 → 1, 16 KiB",
        kind: CaseKind::FanOut {
            msgs: 50_000,
            size: 16 * 1024,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "fanout",
        title: "1 → 4 fan-out, 16 B",
        kind: CaseKind::FanOut {
            msgs: 500_000,
            size: 16,
            subscribers: 4,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "queue",
        title: "queue group of 4, 16 B",
        kind: CaseKind::Queue {
            msgs: 1_000_000,
            members: 4,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "req",
        title: "request/reply sequential, 16 B",
        kind: CaseKind::Request {
            msgs: 10_000,
            requesters: 1,
            responders: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "req50",
        title: "request/reply, 50 requesters, 2 responders (queue group)",
        kind: CaseKind::Request {
            msgs: 50_000,
            requesters: 50,
            responders: 2,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "subjects",
        title: "subject index: 10,000 subjects + 2 wildcards",
        kind: CaseKind::Subjects {
            msgs: 500_000,
            subjects: 10_000,
            wildcards: 2,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub-account",
        title: "1 → 1, 16 B, inside account A",
        kind: CaseKind::FanOut {
            msgs: 1_000_000,
            size: 16,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::InAccount,
    },
    Case {
        name: "req-import",
        title: "request/reply sequential, 16 B, service imported from another account",
        kind: CaseKind::Request {
            msgs: 10_000,
            requesters: 1,
            responders: 1,
        },
        client: None,
        tenancy: Tenancy::AcrossAccounts,
    },
    Case {
        name: "pub-nats",
        title: "publish only, 16 B, async-nats client",
        kind: CaseKind::Publish {
            msgs: 1_000_000,
            size: 16,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub-nats",
        title: "1 → 1, 16 B, async-nats client",
        kind: CaseKind::FanOut {
            msgs: 500_000,
            size: 16,
            subscribers: 1,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    js_case(
        "js-file-async-128",
        "JetStream publish, file, async (256 acks in flight), 128 B",
        Storage::File,
        false,
        128,
    ),
    js_case(
        "js-file-async-16",
        "JetStream publish, file, async (256 acks in flight), 16 B",
        Storage::File,
        false,
        16,
    ),
    js_case(
        "js-mem-async-128",
        "JetStream publish, memory, async (256 acks in flight), 128 B",
        Storage::Memory,
        false,
        128,
    ),
    js_case(
        "js-mem-async-16",
        "JetStream publish, memory, async (256 acks in flight), 16 B",
        Storage::Memory,
        false,
        16,
    ),
    js_raw_case(
        "js-file-async-128-raw",
        "JetStream publish, file, async (256 acks in flight), 128 B, raw client",
        Storage::File,
    ),
    js_raw_case(
        "js-mem-async-128-raw",
        "JetStream publish, memory, async (256 acks in flight), 128 B, raw client",
        Storage::Memory,
    ),
    js_case(
        "js-file-sync-128",
        "JetStream publish, file, sync (one ack at a time), 128 B",
        Storage::File,
        true,
        128,
    ),
    js_case(
        "js-file-sync-16",
        "JetStream publish, file, sync (one ack at a time), 16 B",
        Storage::File,
        true,
        16,
    ),
    js_case(
        "js-mem-sync-128",
        "JetStream publish, memory, sync (one ack at a time), 128 B",
        Storage::Memory,
        true,
        128,
    ),
    js_case(
        "js-mem-sync-16",
        "JetStream publish, memory, sync (one ack at a time), 16 B",
        Storage::Memory,
        true,
        16,
    ),
    js_consume_case(
        "js-consume-file-128",
        "JetStream consume, file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-consume-mem-ack-none-128",
        "JetStream consume, memory, no ack, 128 B",
        Storage::Memory,
        ConsumeAck::None,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-fetch-file-128",
        "JetStream fetch (500 per fetch), file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Fetch(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-push-file-128",
        "JetStream push consumer, file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Push,
    ),
    js_consume_case(
        "js-ordered-file-128",
        "JetStream ordered consumer, file, 128 B",
        Storage::File,
        ConsumeAck::None,
        Pull::Ordered,
    ),
    js_raw_consume_case(
        "js-consume-file-128-raw",
        "JetStream consume, file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-consume-mem-ack-none-128-raw",
        "JetStream consume, memory, no ack, 128 B, raw client",
        Storage::Memory,
        ConsumeAck::None,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-fetch-file-128-raw",
        "JetStream fetch (500 per fetch), file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Fetch(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-push-file-128-raw",
        "JetStream push consumer, file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Push,
    ),
    js_raw_consume_case(
        "js-ordered-file-128-raw",
        "JetStream ordered consumer, file, 128 B, raw client",
        Storage::File,
        ConsumeAck::None,
        Pull::Ordered,
    ),
    Case {
        name: "kv-put",
        title: "Key-Value put, 16 B values, 1,000 keys",
        kind: CaseKind::Kv {
            op: KvOp::Put,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "kv-get",
        title: "Key-Value get, 16 B values, 1,000 keys",
        kind: CaseKind::Kv {
            op: KvOp::Get,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "kv-watch",
        title: "Key-Value watch, 16 B values, one key per put",
        kind: CaseKind::Kv {
            op: KvOp::Watch,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "object-put-8mib",
        title: "Object store put, 8 MiB objects",
        kind: CaseKind::Object {
            op: ObjectOp::Put,
            count: 24,
            size: 8 * 1024 * 1024,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "object-get-8mib",
        title: "Object store get, 8 MiB objects",
        kind: CaseKind::Object {
            op: ObjectOp::Get,
            count: 24,
            size: 8 * 1024 * 1024,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "idle1k",
        title: "1,000 idle clients",
        kind: CaseKind::Idle { clients: 1_000 },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "idle10k",
        title: "10,000 idle clients",
        kind: CaseKind::Idle { clients: 10_000 },
        client: None,
        tenancy: Tenancy::Global,
    },
];

/// The two servers, in the order they run within a round.
const SERVERS: [&str; 2] = ["natrium-server", "nats-server"];

/// One measured number.
#[derive(Debug, Clone, Serialize)]
struct Sample {
    case: &'static str,
    metric: &'static str,
    server: &'static str,
    round: u32,
    value: f64,
}

/// What went wrong in one run (a failed run or lost messages).
#[derive(Debug, Clone, Serialize)]
struct Problem {
    case: &'static str,
    server: &'static str,
    round: u32,
    what: String,
}

/// What one workload run against one server measured.
struct Run {
    report: Report,
    /// CPU time the server process used during the run, when the OS tells.
    server_cpu: Option<Duration>,
}

impl Run {
    /// Server CPU nanoseconds per message of `count`.
    fn cpu_ns_per(&self, count: u64) -> Option<f64> {
        let cpu = self.server_cpu?;
        (count > 0).then(|| cpu.as_nanos() as f64 / count as f64)
    }
}

/// A metric of a case: its label, whether higher is better, and how to read it off a run.
struct Metric {
    label: &'static str,
    higher_is_better: bool,
    read: fn(&Run) -> Option<f64>,
}

/// Label of the server-efficiency metric: CPU per message does not depend on how fast the
/// client is, so it compares the servers even where the client is the bottleneck.
const CPU_PER_MESSAGE: &str = "server CPU ns per message";

fn metrics(kind: CaseKind) -> Vec<Metric> {
    let pub_rate = |r: &Run| r.report.publish_aggregate.as_ref().map(|a| a.msgs_per_sec);
    let sub_rate = |r: &Run| {
        r.report
            .subscribe_aggregate
            .as_ref()
            .map(|a| a.msgs_per_sec)
    };
    let sub_mib = |r: &Run| r.report.subscribe_aggregate.as_ref().map(|a| a.mib_per_sec);
    let p50 = |r: &Run| r.report.latency.as_ref().map(|l| l.p50_us);
    let p99 = |r: &Run| r.report.latency.as_ref().map(|l| l.p99_us);
    // Per message published (publish only) or delivered (everything else).
    let cpu_per_published = |r: &Run| {
        let published = r.report.publish_aggregate.as_ref().map(|a| a.msgs)?;
        r.cpu_ns_per(published)
    };
    let cpu_per_delivered = |r: &Run| r.cpu_ns_per(r.report.received);
    let higher = |label, read| Metric {
        label,
        higher_is_better: true,
        read,
    };
    let lower = |label, read| Metric {
        label,
        higher_is_better: false,
        read,
    };
    match kind {
        CaseKind::Publish { .. } | CaseKind::JsPublish { sync: false, .. } => vec![
            higher("msgs/s", pub_rate),
            lower(CPU_PER_MESSAGE, cpu_per_published),
        ],
        CaseKind::JsPublish { sync: true, .. } => vec![
            higher("msgs/s", pub_rate),
            lower("ack p50 µs", p50),
            lower(CPU_PER_MESSAGE, cpu_per_published),
        ],
        CaseKind::FanOut { size, .. } if size >= 1024 => vec![
            higher("msgs/s received", sub_rate),
            higher("MiB/s received", sub_mib),
            lower(CPU_PER_MESSAGE, cpu_per_delivered),
        ],
        CaseKind::FanOut { .. }
        | CaseKind::Queue { .. }
        | CaseKind::Subjects { .. }
        | CaseKind::JsConsume { .. } => vec![
            higher("msgs/s received", sub_rate),
            lower(CPU_PER_MESSAGE, cpu_per_delivered),
        ],
        CaseKind::Kv { .. } => vec![
            higher("operations/s", pub_rate),
            lower("server CPU ns per operation", cpu_per_published),
        ],
        CaseKind::Object { .. } => vec![
            higher("MiB/s", |r: &Run| {
                r.report.publish_aggregate.as_ref().map(|a| a.mib_per_sec)
            }),
            lower("server CPU ms per object", |r: &Run| {
                let objects = r.report.publish_aggregate.as_ref().map(|a| a.msgs)?;
                r.cpu_ns_per(objects).map(|ns| ns / 1e6)
            }),
        ],
        CaseKind::Request { requesters: 1, .. } => vec![
            lower("p50 µs", p50),
            lower("p99 µs", p99),
            lower("server CPU ns per request", cpu_per_delivered),
        ],
        CaseKind::Request { .. } => vec![
            higher("requests/s", pub_rate),
            lower("p50 µs", p50),
            lower("p99 µs", p99),
            lower("server CPU ns per request", cpu_per_delivered),
        ],
        CaseKind::Idle { .. } => vec![
            lower("server RSS MiB", |r| {
                r.report
                    .idle
                    .as_ref()
                    .and_then(|i| i.rss_after_kib)
                    .map(|k| k as f64 / 1024.0)
            }),
            lower("KiB per client", |r| {
                r.report.idle.as_ref().and_then(|i| i.kib_per_client)
            }),
        ],
    }
}

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

/// The consume settings of a [`CaseKind::JsConsume`] case (its fields, the server, the scale).
#[allow(clippy::too_many_arguments)]
fn consume_settings(
    server: &ServerProcess,
    msgs: u64,
    size: usize,
    storage: Storage,
    ack: ConsumeAck,
    pull: Pull,
    raw: bool,
    scale: f64,
) -> ConsumeSettings {
    ConsumeSettings {
        url: server.url.clone(),
        msgs: scaled(msgs, scale),
        size,
        subject: "natrium.bench.js".to_owned(),
        storage,
        ack,
        double_ack: false,
        pull,
        client: if raw { JsClient::Raw } else { JsClient::Nats },
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
        CaseKind::JsConsume {
            msgs,
            size,
            storage,
            ack,
            pull,
            raw,
        } => {
            jetstream::fill(&consume_settings(
                server, msgs, size, storage, ack, pull, raw, scale,
            ))
            .await
        }
        CaseKind::Object {
            op: ObjectOp::Get,
            count,
            size,
        } => {
            object::fill(&object_settings(server, ObjectOp::Get, count, size, scale)).await?;
            Ok(0)
        }
        _ => Ok(0),
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
        CaseKind::JsConsume {
            msgs,
            size,
            storage,
            ack,
            pull,
            raw,
        } => {
            let settings = consume_settings(server, msgs, size, storage, ack, pull, raw, scale);
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
        CaseKind::Object { op, count, size } => {
            object::run(&object_settings(server, op, count, size, scale)).await
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
                    server.stop().await;
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
        };
        let section = markdown(&cases, &samples, &problems, &args, &run).await;
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

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
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

async fn markdown(
    cases: &[Case],
    samples: &[Sample],
    problems: &[Problem],
    args: &CompareArgs,
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
             objects one after another through async-nats' object store on a fresh bucket, \
             every object read to its end and compared; the get row's objects are written \
             before the clock and the CPU count start.",
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
        args.rounds,
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
            args.client.name(),
            if args.client == ClientKind::Raw {
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
    if args.write.is_some() {
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

/// The median of one metric of one case on one server.
fn median_of(samples: &[Sample], case: &str, metric: &str, server: &str) -> Option<f64> {
    let mut values: Vec<f64> = samples
        .iter()
        .filter(|s| s.case == case && s.metric == metric && s.server == server)
        .map(|s| s.value)
        .collect();
    median(&mut values)
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
async fn loopback_mib_per_sec() -> anyhow::Result<f64> {
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
struct RunInfo<'a> {
    binaries: [&'a Path; 2],
    /// The nats-server of the JetStream rows, when there are any.
    latest: Option<&'a Path>,
    elapsed: Duration,
    load: String,
    loopback_mib_per_sec: Option<f64>,
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every number.
fn load_average() -> String {
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
fn write_chart(path: &Path, title: &str, bars: &[chart::Bar]) -> anyhow::Result<()> {
    let svg = chart::svg(title, bars)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces this command's section in `path` (from its heading to the next `## ` heading),
/// or appends it; creates the file if needed.
fn write_section(path: &Path, heading: &str, section: &str) -> anyhow::Result<()> {
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
    let end = existing[after..]
        .find("\n## ")
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

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

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
            25,
            "publish: sync/async × file/memory × 16/128 B, and 2 raw; 5 consume and 5 raw; 3 KV; 2 object"
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

    #[test]
    fn every_case_has_metrics_and_a_unique_name() {
        let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
        assert!(CASES.iter().all(|c| !metrics(c.kind).is_empty()));
    }
}
