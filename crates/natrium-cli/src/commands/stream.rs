//! `natrium stream ls|info|add|rm|purge|get`: manage JetStream streams like `nats stream`.

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::jetstream::{Js, bytes, confirm, limit, nanos, print_json};
use super::table::{Table, fields};

/// Arguments of `natrium stream`.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    #[command(subcommand)]
    command: StreamCommand,
}

/// The `stream` verbs.
#[derive(Debug, clap::Subcommand)]
enum StreamCommand {
    /// List the streams.
    #[command(visible_alias = "list")]
    Ls {
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a stream's configuration and state.
    Info {
        /// Stream name.
        stream: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a stream.
    #[command(visible_alias = "create", visible_alias = "new")]
    Add(Box<AddArgs>),
    /// Delete a stream and its messages.
    #[command(visible_alias = "delete", visible_alias = "del")]
    Rm {
        /// Stream name.
        stream: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Remove messages from a stream.
    Purge {
        /// Stream name.
        stream: String,
        /// Only messages on this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Remove up to (not including) this sequence.
        #[arg(long)]
        seq: Option<u64>,
        /// Keep this many of the newest messages.
        #[arg(long)]
        keep: Option<u64>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one message of a stream.
    Get {
        /// Stream name.
        stream: String,
        /// Sequence of the message.
        #[arg(required_unless_present = "last_for")]
        seq: Option<u64>,
        /// The last message on this subject instead.
        #[arg(long = "last-for", conflicts_with = "seq")]
        last_for: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Storage backends (`--storage`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Storage {
    /// On disk.
    #[value(alias = "f")]
    File,
    /// In memory.
    #[value(alias = "m", alias = "mem")]
    Memory,
}

impl Storage {
    /// The server's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }
}

/// Retention policies (`--retention`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Retention {
    /// Keep messages up to the limits.
    #[value(alias = "limit", alias = "old")]
    Limits,
    /// Keep messages while consumers have interest.
    Interest,
    /// Remove each message once acknowledged (work queue).
    #[value(alias = "workq", alias = "workqueue")]
    Work,
}

/// Discard policies (`--discard`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Discard {
    /// Remove the oldest messages to make room.
    Old,
    /// Refuse new messages when full.
    New,
}

/// Arguments of `natrium stream add`.
#[derive(Debug, clap::Args)]
struct AddArgs {
    /// Stream name.
    stream: String,
    /// Subjects the stream stores (comma separated or repeated); default: the stream name.
    #[arg(long, value_delimiter = ',')]
    subjects: Vec<String>,
    /// Storage backend.
    #[arg(long, value_enum, default_value = "file")]
    storage: Storage,
    /// Retention policy.
    #[arg(long, value_enum, default_value = "limits")]
    retention: Retention,
    /// What to do when the stream is full.
    #[arg(long, value_enum, default_value = "old")]
    discard: Discard,
    /// Most messages kept (-1: unlimited).
    #[arg(long = "max-msgs", default_value_t = -1, allow_negative_numbers = true)]
    max_msgs: i64,
    /// Most messages kept per subject (-1: unlimited).
    #[arg(long = "max-msgs-per-subject", default_value_t = -1, allow_negative_numbers = true)]
    max_msgs_per_subject: i64,
    /// Most bytes kept (-1: unlimited).
    #[arg(long = "max-bytes", default_value_t = -1, allow_negative_numbers = true)]
    max_bytes: i64,
    /// Oldest message kept, e.g. `1h`, `30d` (0: unlimited).
    #[arg(long = "max-age", value_parser = humantime::parse_duration, default_value = "0s")]
    max_age: Duration,
    /// Largest message accepted (-1: unlimited).
    #[arg(long = "max-msg-size", default_value_t = -1, allow_negative_numbers = true)]
    max_msg_size: i64,
    /// Window for duplicate detection by `Nats-Msg-Id`.
    #[arg(long = "dupe-window", value_parser = humantime::parse_duration)]
    dupe_window: Option<Duration>,
    /// Number of replicas.
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Refuse deleting single messages.
    #[arg(long = "deny-delete")]
    deny_delete: bool,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `stream` verb.
pub async fn run(url: &str, args: StreamArgs) -> anyhow::Result<ExitCode> {
    let js = Js::connect(url, "natrium stream").await?;
    match args.command {
        StreamCommand::Ls { json } => ls(&js, json).await?,
        StreamCommand::Info { stream, json } => {
            let info = js.api(&format!("STREAM.INFO.{stream}"), None).await?;
            show(&info, json)?;
        }
        StreamCommand::Add(add_args) => {
            let config = config(&add_args);
            let info = js
                .api(&format!("STREAM.CREATE.{}", add_args.stream), Some(&config))
                .await?;
            eprintln!("Stream {} was created", add_args.stream);
            show(&info, add_args.json)?;
        }
        StreamCommand::Rm { stream, force } => {
            confirm(force, &format!("delete stream {stream}"))?;
            js.api(&format!("STREAM.DELETE.{stream}"), None).await?;
            eprintln!("Deleted stream {stream}");
        }
        StreamCommand::Purge {
            stream,
            subject,
            seq,
            keep,
            force,
            json,
        } => {
            confirm(force, &format!("purge stream {stream}"))?;
            let mut request = serde_json::Map::new();
            if let Some(subject) = subject {
                request.insert("filter".into(), json!(subject));
            }
            if let Some(seq) = seq {
                request.insert("seq".into(), json!(seq));
            }
            if let Some(keep) = keep {
                request.insert("keep".into(), json!(keep));
            }
            let reply = js
                .api(
                    &format!("STREAM.PURGE.{stream}"),
                    Some(&Value::Object(request)),
                )
                .await?;
            if json {
                print_json(&reply)?;
            } else {
                let purged = reply.get("purged").and_then(Value::as_u64).unwrap_or(0);
                println!("Purged {purged} messages from stream {stream}");
            }
        }
        StreamCommand::Get {
            stream,
            seq,
            last_for,
            json,
        } => {
            let request = match (seq, last_for) {
                (_, Some(subject)) => json!({ "last_by_subj": subject }),
                (Some(seq), None) => json!({ "seq": seq }),
                (None, None) => anyhow::bail!("give a sequence or --last-for SUBJECT"),
            };
            let reply = js
                .api(&format!("STREAM.MSG.GET.{stream}"), Some(&request))
                .await?;
            let message = reply.get("message").cloned().unwrap_or(Value::Null);
            if json {
                print_json(&message)?;
            } else {
                print!("{}", render_message(&stream, &message)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The stream configuration the flags describe (the server fills in the rest).
fn config(args: &AddArgs) -> Value {
    let subjects = if args.subjects.is_empty() {
        vec![args.stream.clone()]
    } else {
        args.subjects.clone()
    };
    let retention = match args.retention {
        Retention::Limits => "limits",
        Retention::Interest => "interest",
        Retention::Work => "workqueue",
    };
    let discard = match args.discard {
        Discard::Old => "old",
        Discard::New => "new",
    };
    let mut config = json!({
        "name": args.stream,
        "subjects": subjects,
        "retention": retention,
        "storage": args.storage.as_str(),
        "discard": discard,
        "max_msgs": args.max_msgs,
        "max_msgs_per_subject": args.max_msgs_per_subject,
        "max_bytes": args.max_bytes,
        "max_age": u64::try_from(args.max_age.as_nanos()).unwrap_or(u64::MAX),
        "max_msg_size": args.max_msg_size,
        "num_replicas": args.replicas,
        "deny_delete": args.deny_delete,
    });
    if let (Some(window), Some(map)) = (args.dupe_window, config.as_object_mut()) {
        map.insert(
            "duplicate_window".into(),
            json!(u64::try_from(window.as_nanos()).unwrap_or(u64::MAX)),
        );
    }
    config
}

/// Lists every stream, page by page (the server answers with at most 256 per request).
async fn ls(js: &Js, json: bool) -> anyhow::Result<()> {
    let streams = list_all(js, "STREAM.LIST", "streams").await?;
    if json {
        return print_json(&streams);
    }
    if streams.is_empty() {
        println!("No streams defined");
        return Ok(());
    }
    let mut table = Table::new(
        "Streams",
        &[
            "Name",
            "Subjects",
            "Storage",
            "Messages",
            "Size",
            "Consumers",
        ],
    );
    for info in &streams {
        let config = &info["config"];
        let state = &info["state"];
        table.row(vec![
            text(&config["name"]),
            subjects(&config["subjects"]),
            text(&config["storage"]),
            number(&state["messages"]).to_string(),
            bytes(number(&state["bytes"])),
            number(&state["consumer_count"]).to_string(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

/// Every item of a paged list API (`STREAM.LIST`, `CONSUMER.LIST.<stream>`).
pub async fn list_all(js: &Js, subject: &str, key: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    loop {
        let page = js
            .api(subject, Some(&json!({ "offset": all.len() })))
            .await?;
        let items = page
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = page.get("total").and_then(Value::as_u64).unwrap_or(0);
        let empty = items.is_empty();
        all.extend(items);
        if empty || all.len() as u64 >= total {
            return Ok(all);
        }
    }
}

/// Prints a stream's info as JSON or as labelled fields.
fn show(info: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(info);
    }
    let config = &info["config"];
    let state = &info["state"];
    let name = text(&config["name"]);
    print!(
        "{}",
        fields(
            &format!("Information for Stream {name}"),
            &[
                ("Subjects", subjects(&config["subjects"])),
                ("Storage", text(&config["storage"])),
                ("Retention", text(&config["retention"])),
                ("Discard", text(&config["discard"])),
                ("Replicas", number(&config["num_replicas"]).to_string()),
                ("Maximum Messages", limit(signed(&config["max_msgs"]))),
                (
                    "Maximum Per Subject",
                    limit(signed(&config["max_msgs_per_subject"]))
                ),
                ("Maximum Bytes", limit(signed(&config["max_bytes"]))),
                ("Maximum Age", nanos(number(&config["max_age"]))),
                (
                    "Maximum Message Size",
                    limit(signed(&config["max_msg_size"]))
                ),
                (
                    "Duplicate Window",
                    nanos(number(&config["duplicate_window"]))
                ),
                ("Messages", number(&state["messages"]).to_string()),
                ("Bytes", bytes(number(&state["bytes"]))),
                ("First Sequence", number(&state["first_seq"]).to_string()),
                ("Last Sequence", number(&state["last_seq"]).to_string()),
                (
                    "Active Consumers",
                    number(&state["consumer_count"]).to_string()
                ),
            ],
        )
    );
    Ok(())
}

/// A stored message for humans: where it is, its headers, its body.
fn render_message(stream: &str, message: &Value) -> anyhow::Result<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = format!(
        "Item: {stream}#{} received {} on Subject {}\n\n",
        number(&message["seq"]),
        text(&message["time"]),
        text(&message["subject"]),
    );
    if let Some(hdrs) = message.get("hdrs").and_then(Value::as_str) {
        let raw = engine.decode(hdrs)?;
        // Skip the `NATS/1.0` status line; the rest are `Key: value` lines.
        for line in String::from_utf8_lossy(&raw).lines().skip(1) {
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    let data = match message.get("data").and_then(Value::as_str) {
        Some(data) => engine.decode(data)?,
        None => Vec::new(),
    };
    out.push_str(&String::from_utf8_lossy(&data));
    out.push('\n');
    Ok(out)
}

/// A JSON string, or "" when absent.
pub fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A JSON unsigned number, or 0 when absent.
pub fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

fn signed(value: &Value) -> i64 {
    value.as_i64().unwrap_or(-1)
}

fn subjects(value: &Value) -> String {
    value
        .as_array()
        .map(|subjects| {
            subjects
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
