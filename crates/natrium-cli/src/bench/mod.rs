//! `natrium bench`: throughput and latency workloads against any NATS server, and a
//! side-by-side comparison of natrium-server with nats-server.

mod chart;
mod clients;
mod compare;
mod crash;
mod crash_consume;
mod jetstream;
mod kv;
mod object;
mod process;
mod raw;
mod raw_object;
mod report;
mod soak;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use clients::ClientKind;
use report::Report;
use workloads::Settings;

/// Arguments of `natrium bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    #[command(subcommand)]
    workload: Workload,
}

/// The benchmark workloads.
#[derive(Debug, Subcommand)]
enum Workload {
    /// Publish only: N publishers, no subscribers.
    Pub {
        #[command(flatten)]
        common: Common,
        /// Number of publishers.
        #[arg(long = "pub", default_value_t = 1, value_parser = at_least_one)]
        publishers: usize,
    },
    /// Subscribe only: M subscribers each wait for --msgs messages published by others.
    Sub {
        #[command(flatten)]
        common: Common,
        /// Number of subscribers.
        #[arg(long = "sub", default_value_t = 1, value_parser = at_least_one)]
        subscribers: usize,
        /// How long to wait for the first message.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// N publishers × M subscribers on one subject: every subscriber gets every message.
    Pubsub {
        #[command(flatten)]
        common: Common,
        /// Number of publishers.
        #[arg(long = "pub", default_value_t = 1, value_parser = at_least_one)]
        publishers: usize,
        /// Number of subscribers.
        #[arg(long = "sub", default_value_t = 1, value_parser = at_least_one)]
        subscribers: usize,
    },
    /// N publishers and a queue group of M members: each message reaches one member.
    Queue {
        #[command(flatten)]
        common: Common,
        /// Number of publishers.
        #[arg(long = "pub", default_value_t = 1, value_parser = at_least_one)]
        publishers: usize,
        /// Number of queue group members.
        #[arg(long = "queue", default_value_t = 4, value_parser = at_least_one)]
        members: usize,
    },
    /// Request/reply: K requesters (one request in flight each) and R responders in a
    /// queue group; one requester measures latency, many measure throughput.
    Req {
        #[command(flatten)]
        common: Common,
        /// Number of concurrent requesters.
        #[arg(long, default_value_t = 1, value_parser = at_least_one)]
        requesters: usize,
        /// Number of responders (one queue group).
        #[arg(long, default_value_t = 1, value_parser = at_least_one)]
        responders: usize,
    },
    /// Subject-index stress: many distinct subjects plus wildcard subscriptions that match
    /// them all; publishing cycles over every subject.
    Subjects {
        #[command(flatten)]
        common: Common,
        /// Number of publishers.
        #[arg(long = "pub", default_value_t = 1, value_parser = at_least_one)]
        publishers: usize,
        /// Distinct subjects, one subscription each.
        #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
        subjects: usize,
        /// Wildcard subscriptions (alternately `SUBJECT.*` and `SUBJECT.>`).
        #[arg(long, default_value_t = 2)]
        wildcards: usize,
    },
    /// Idle connections: open N clients and hold them; report the server's memory.
    Idle {
        /// Number of idle clients.
        #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
        clients: usize,
        /// Pid of a local server process whose resident memory (VmRSS) to report.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the comparison table against natrium-server and nats-server, alternately.
    Compare(compare::CompareArgs),
    /// Key-Value workloads: put, get or watch rates on a fresh bucket.
    Kv {
        /// The operation to measure.
        #[arg(long, value_enum, default_value_t = kv::KvOp::Put)]
        op: kv::KvOp,
        /// Operations in total.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        msgs: u64,
        /// Value size: bytes, or with a unit (`16B`, `16KiB`, `1MiB`).
        #[arg(long, default_value = "16", value_parser = parse_size)]
        size: usize,
        /// Distinct keys the operations cycle over.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        keys: u64,
        /// Operations in flight at once.
        #[arg(long, default_value_t = 256, value_parser = at_least_one)]
        window: usize,
        /// Print the result as JSON (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// Object store workloads: put or get rates of whole objects on a fresh bucket.
    Object {
        /// The operation to measure.
        #[arg(long, value_enum, default_value_t = object::ObjectOp::Put)]
        op: object::ObjectOp,
        /// Objects in total.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// Object size: bytes, or with a unit (`64KiB`, `8MiB`).
        #[arg(long, default_value = "8MiB", value_parser = parse_size)]
        size: usize,
        /// Put or get on the wire with the raw client instead of async-nats' object store
        /// (a put sends every chunk without waiting, as nats.go does, then awaits the acks; a
        /// get compares the bytes instead of hashing them).
        #[arg(long)]
        raw: bool,
        /// Print the result as JSON (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// A bounded soak of mixed, hostile load with loss and leak checks (see
    /// RELIABILITY.md); exits non-zero on loss or growth past the thresholds.
    Soak(soak::SoakArgs),
    /// JetStream workloads.
    Js {
        #[command(subcommand)]
        workload: JsWorkload,
    },
}

/// The JetStream workloads.
#[derive(Debug, Subcommand)]
enum JsWorkload {
    /// Publish into a fresh stream with acknowledgements (sync or a window of async ones).
    Pub {
        /// Messages to publish.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        msgs: u64,
        /// Payload size: bytes, or with a unit (`16B`, `16KiB`, `1MiB`).
        #[arg(long, default_value = "16", value_parser = parse_size)]
        size: usize,
        /// Subject the stream captures.
        #[arg(long, default_value = "natrium.bench.js")]
        subject: String,
        /// Storage of the stream.
        #[arg(long, value_enum, default_value_t = jetstream::Storage::File)]
        storage: jetstream::Storage,
        /// Wait for each acknowledgement before the next publish.
        #[arg(long, conflicts_with = "window")]
        sync: bool,
        /// Acknowledgements outstanding at once in async mode.
        #[arg(long, default_value_t = 256, value_parser = at_least_one)]
        window: usize,
        /// Publishing client: async-nats' JetStream context, or raw frames (async only).
        #[arg(long, value_enum, default_value_t = jetstream::JsClient::Nats)]
        client: jetstream::JsClient,
        /// Print the result as JSON (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// Fill a fresh stream, then read it all through a new consumer (durable pull by
    /// default; `--fetch`, `--push` or `--ordered` for the others).
    Consume {
        /// Messages to store and read back.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        msgs: u64,
        /// Payload size: bytes, or with a unit (`16B`, `16KiB`, `1MiB`).
        #[arg(long, default_value = "128", value_parser = parse_size)]
        size: usize,
        /// Subject the stream captures.
        #[arg(long, default_value = "natrium.bench.js")]
        subject: String,
        /// Storage of the stream.
        #[arg(long, value_enum, default_value_t = jetstream::Storage::File)]
        storage: jetstream::Storage,
        /// Acknowledgement policy of the consumer.
        #[arg(long, value_enum, default_value_t = jetstream::ConsumeAck::Explicit)]
        ack: jetstream::ConsumeAck,
        /// Wait for the server to confirm each acknowledgement (one at a time).
        #[arg(long)]
        double_ack: bool,
        /// Messages per pull request.
        #[arg(long, default_value_t = 500, value_parser = at_least_one)]
        batch: usize,
        /// Pull with one `fetch` at a time instead of async-nats' continuous pull.
        #[arg(long, conflicts_with_all = ["push", "ordered"])]
        fetch: bool,
        /// Read through a durable push consumer instead.
        #[arg(long, conflicts_with = "ordered")]
        push: bool,
        /// Read through an ordered consumer instead (no acknowledgements: `--ack` is
        /// ignored).
        #[arg(long, conflicts_with = "double_ack")]
        ordered: bool,
        /// Consuming client: async-nats, or raw frames (pull requests kept going, acks
        /// written in place: a client that is not the bottleneck; `--ordered` reads the
        /// ordered consumer's configuration with its batch of 500).
        #[arg(long, value_enum, default_value_t = jetstream::JsClient::Nats)]
        client: jetstream::JsClient,
        /// Print the result as JSON (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// kill -9 the natrium-server binary in a loop while publishing (or consuming with
    /// double acks); verify the durability contract after each restart.
    Crash(crash::CrashArgs),
}

/// Flags shared by the message workloads.
#[derive(Debug, Args)]
struct Common {
    /// Messages to publish in total (or requests to send), split across clients.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    msgs: u64,
    /// Payload size: bytes, or with a unit (`16B`, `16KiB`, `1MiB`).
    #[arg(long, default_value = "16", value_parser = parse_size)]
    size: usize,
    /// Subject (or subject prefix) to use.
    #[arg(long, default_value = "natrium.bench")]
    subject: String,
    /// Client for publishers and subscribers: the official async-nats, or raw TCP frames.
    #[arg(long, value_enum, default_value_t = ClientKind::Nats)]
    client: ClientKind,
    /// A subscriber (or requester) gives up when nothing arrives for this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the result as JSON (and no progress bar).
    #[arg(long)]
    json: bool,
}

impl Common {
    fn settings(&self, url: &str) -> Settings {
        Settings {
            url: url.to_owned(),
            server_side_url: url.to_owned(),
            msgs: self.msgs,
            size: self.size,
            subject: self.subject.clone(),
            client: self.client,
            idle_timeout: self.timeout,
            progress: !self.json,
        }
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// Parses `16`, `16B`, `16K`, `16KiB`, `1M`, `1MiB` (units are powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 16, 512B or 16KiB"))?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?} (use B, KiB or MiB)")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Runs the chosen workload and prints its report; exits non-zero if messages were lost.
pub async fn run(url: &str, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (report, json) = match args.workload {
        Workload::Pub { common, publishers } => (
            workloads::pub_sub(&common.settings(url), publishers, 0, None).await?,
            common.json,
        ),
        Workload::Sub {
            common,
            subscribers,
            wait,
        } => (
            workloads::sub_only(&common.settings(url), subscribers, wait).await?,
            common.json,
        ),
        Workload::Pubsub {
            common,
            publishers,
            subscribers,
        } => (
            workloads::pub_sub(&common.settings(url), publishers, subscribers, None).await?,
            common.json,
        ),
        Workload::Queue {
            common,
            publishers,
            members,
        } => (
            workloads::pub_sub(
                &common.settings(url),
                publishers,
                members,
                Some("natrium.bench.queue"),
            )
            .await?,
            common.json,
        ),
        Workload::Req {
            common,
            requesters,
            responders,
        } => (
            workloads::request_reply(&common.settings(url), requesters, responders).await?,
            common.json,
        ),
        Workload::Subjects {
            common,
            publishers,
            subjects,
            wildcards,
        } => (
            workloads::subjects(&common.settings(url), publishers, subjects, wildcards).await?,
            common.json,
        ),
        Workload::Idle {
            clients,
            server_pid,
            json,
        } => (
            workloads::idle(url, clients, server_pid, !json).await?,
            json,
        ),
        Workload::Compare(args) => return compare::run(args).await,
        Workload::Soak(args) => return soak::run(&args).await,
        Workload::Kv {
            op,
            msgs,
            size,
            keys,
            window,
            json,
        } => {
            let settings = kv::KvSettings {
                url: url.to_owned(),
                op,
                msgs,
                size,
                keys,
                window,
                progress: !json,
            };
            (kv::run(&settings).await?, json)
        }
        Workload::Object {
            op,
            count,
            size,
            raw,
            json,
        } => {
            let settings = object::ObjectSettings {
                url: url.to_owned(),
                op,
                count,
                size,
                progress: !json,
                filled: false,
            };
            let report = if raw {
                let report = raw_object::run(&settings).await?;
                if settings.op == object::ObjectOp::Put {
                    raw_object::check_put(&settings).await?;
                }
                report
            } else {
                object::run(&settings).await?
            };
            (report, json)
        }
        Workload::Js {
            workload: JsWorkload::Crash(args),
        } => {
            if args.consume {
                crash_consume::run(&args).await?;
            } else {
                crash::run(&args).await?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        Workload::Js {
            workload:
                JsWorkload::Consume {
                    msgs,
                    size,
                    subject,
                    storage,
                    ack,
                    double_ack,
                    batch,
                    fetch,
                    push,
                    ordered,
                    client,
                    json,
                },
        } => {
            if double_ack && ack == jetstream::ConsumeAck::None {
                anyhow::bail!("--double-ack needs --ack explicit");
            }
            let settings = jetstream::ConsumeSettings {
                url: url.to_owned(),
                msgs,
                size,
                subject,
                storage,
                ack: if ordered {
                    jetstream::ConsumeAck::None
                } else {
                    ack
                },
                double_ack,
                pull: if fetch {
                    jetstream::Pull::Fetch(batch)
                } else if push {
                    jetstream::Pull::Push
                } else if ordered {
                    jetstream::Pull::Ordered
                } else {
                    jetstream::Pull::Stream(batch)
                },
                client,
                progress: !json,
            };
            let first_seq = jetstream::fill(&settings).await?;
            (jetstream::consume(&settings, first_seq).await?, json)
        }
        Workload::Js {
            workload:
                JsWorkload::Pub {
                    msgs,
                    size,
                    subject,
                    storage,
                    sync,
                    window,
                    client,
                    json,
                },
        } => {
            let settings = jetstream::JsSettings {
                url: url.to_owned(),
                msgs,
                size,
                subject,
                storage,
                mode: if sync {
                    jetstream::AckMode::Sync
                } else {
                    jetstream::AckMode::Async(window)
                },
                progress: !json,
                client,
            };
            (jetstream::publish(&settings).await?, json)
        }
    };
    print_report(&report, json)?;
    if report.lost > 0 {
        eprintln!(
            "natrium bench: {} of {} messages were lost",
            report.lost, report.expected
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("16B"), Ok(16));
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("1MiB"), Ok(1024 * 1024));
        assert!(parse_size("x").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
