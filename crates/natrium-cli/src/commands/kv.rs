//! `natrium kv add|info|put|create|update|get|del|purge|ls|watch|history`: the Key-Value
//! store like `nats kv`.

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::jetstream::kv;
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::jetstream::{Js, bytes, confirm, limit, nanos, print_json};
use super::stream::{Storage, list_all, number, text};
use super::table::Table;

/// Arguments of `natrium kv`.
#[derive(Debug, clap::Args)]
pub struct KvArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    #[command(subcommand)]
    command: KvCommand,
}

/// The `kv` verbs.
#[derive(Debug, clap::Subcommand)]
enum KvCommand {
    /// Create a bucket.
    #[command(visible_alias = "new")]
    Add {
        /// Bucket name.
        bucket: String,
        /// How many values to keep per key.
        #[arg(long, default_value_t = 1)]
        history: i64,
        /// How long values live, e.g. `1h` (0: forever).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
        ttl: Duration,
        /// Storage backend.
        #[arg(long, value_enum, default_value = "file")]
        storage: Storage,
        /// Number of replicas.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Largest value accepted (-1: unlimited).
        #[arg(long = "max-value-size", default_value_t = -1, allow_negative_numbers = true)]
        max_value_size: i32,
        /// Most bytes the bucket holds (-1: unlimited).
        #[arg(long = "max-bucket-size", default_value_t = -1, allow_negative_numbers = true)]
        max_bucket_size: i64,
        /// Print the bucket stream's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a bucket's configuration and state.
    #[command(visible_alias = "status")]
    Info {
        /// Bucket name.
        bucket: String,
        /// Print the bucket stream's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store a value only if the key has none (never set, deleted or purged).
    Create {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// Value (read from stdin when not given).
        value: Option<String>,
    },
    /// Store a value only if the key's latest revision is the one given.
    Update {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// The revision the key must be at.
        revision: u64,
    },
    /// Remove every revision of a key, leaving a purge marker.
    Purge {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Store a value (read from stdin when not given).
    Put {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: Option<String>,
    },
    /// Show the value of a key.
    Get {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// This revision instead of the latest.
        #[arg(long)]
        revision: Option<u64>,
        /// Print only the value.
        #[arg(long)]
        raw: bool,
        /// Print the entry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key, or the whole bucket when no key is given.
    #[command(visible_alias = "rm")]
    Del {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: Option<String>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// List the buckets, or the keys of a bucket.
    #[command(visible_alias = "list")]
    Ls {
        /// Bucket whose keys to list.
        bucket: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print changes to a bucket (the latest value of each key first).
    Watch {
        /// Bucket name.
        bucket: String,
        /// Only this key (wildcards allowed).
        key: Option<String>,
        /// Stop after this many entries.
        #[arg(long)]
        count: Option<u64>,
        /// Print each entry as a JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Show every stored revision of a key.
    History {
        /// Bucket name.
        bucket: String,
        /// Key.
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `kv` verb.
pub async fn run(url: &str, args: KvArgs) -> anyhow::Result<ExitCode> {
    let js = Js::connect_checked(url, "natrium kv").await?;
    match args.command {
        KvCommand::Add {
            bucket,
            history,
            ttl,
            storage,
            replicas,
            max_value_size,
            max_bucket_size,
            json,
        } => {
            let storage = match storage {
                Storage::File => async_nats::jetstream::stream::StorageType::File,
                Storage::Memory => async_nats::jetstream::stream::StorageType::Memory,
            };
            js.context
                .create_key_value(kv::Config {
                    bucket: bucket.clone(),
                    history,
                    max_age: ttl,
                    storage,
                    num_replicas: replicas,
                    max_value_size,
                    max_bytes: max_bucket_size,
                    ..kv::Config::default()
                })
                .await
                .with_context(|| format!("cannot create bucket {bucket}"))?;
            let info = js.api(&format!("STREAM.INFO.KV_{bucket}"), None).await?;
            if json {
                print_json(&info)?;
            } else {
                eprintln!("Bucket {bucket} was created");
                print!("{}", buckets_table(&[info]));
            }
        }
        KvCommand::Info { bucket, json } => {
            let info = js
                .api(&format!("STREAM.INFO.KV_{bucket}"), None)
                .await
                .with_context(|| format!("no Key-Value bucket {bucket}"))?;
            if json {
                print_json(&info)?;
            } else {
                print!("{}", bucket_info(&bucket, &info));
            }
        }
        KvCommand::Create { bucket, key, value } => {
            let store = open(&js, &bucket).await?;
            let value = value_or_stdin(value)?;
            let revision = store
                .create(&key, value.clone().into())
                .await
                .with_context(|| format!("cannot create {key} in bucket {bucket}"))?;
            eprintln!("Created {bucket} > {key} revision {revision}");
            println!("{}", String::from_utf8_lossy(&value));
        }
        KvCommand::Update {
            bucket,
            key,
            value,
            revision,
        } => {
            let store = open(&js, &bucket).await?;
            let revision = store
                .update(&key, value.clone().into(), revision)
                .await
                .with_context(|| {
                    format!("cannot update {key} in bucket {bucket} at revision {revision}")
                })?;
            eprintln!("Updated {bucket} > {key} revision {revision}");
            println!("{value}");
        }
        KvCommand::Purge { bucket, key, force } => {
            let store = open(&js, &bucket).await?;
            confirm(force, &format!("purge key {key} of bucket {bucket}"))?;
            store
                .purge(&key)
                .await
                .with_context(|| format!("cannot purge {key} from bucket {bucket}"))?;
            eprintln!("Purged {bucket} > {key}");
        }
        KvCommand::Put { bucket, key, value } => {
            let store = open(&js, &bucket).await?;
            let value = value_or_stdin(value)?;
            let revision = store
                .put(&key, value.clone().into())
                .await
                .with_context(|| format!("cannot put {key} in bucket {bucket}"))?;
            eprintln!("Put {bucket} > {key} revision {revision}");
            println!("{}", String::from_utf8_lossy(&value));
        }
        KvCommand::Get {
            bucket,
            key,
            revision,
            raw,
            json,
        } => {
            let store = open(&js, &bucket).await?;
            let entry = match revision {
                Some(revision) => store.entry_for_revision(&key, revision).await,
                None => store.entry(&key).await,
            }
            .with_context(|| format!("cannot get {key} from bucket {bucket}"))?;
            // A delete or purge marker means the key has no value.
            let Some(entry) = entry.filter(|entry| entry.operation == kv::Operation::Put) else {
                bail!("key {key} not found in bucket {bucket}");
            };
            if json {
                print_json(&entry_json(&entry))?;
            } else if raw {
                println!("{}", String::from_utf8_lossy(&entry.value));
            } else {
                println!(
                    "{} > {} revision: {} created @ {}\n\n{}",
                    entry.bucket,
                    entry.key,
                    entry.revision,
                    entry.created,
                    String::from_utf8_lossy(&entry.value)
                );
            }
        }
        KvCommand::Del { bucket, key, force } => match key {
            Some(key) => {
                let store = open(&js, &bucket).await?;
                confirm(force, &format!("delete key {key} of bucket {bucket}"))?;
                store
                    .delete(&key)
                    .await
                    .with_context(|| format!("cannot delete {key} from bucket {bucket}"))?;
                eprintln!("Deleted {bucket} > {key}");
            }
            None => {
                confirm(force, &format!("delete bucket {bucket}"))?;
                js.api(&format!("STREAM.DELETE.KV_{bucket}"), None).await?;
                eprintln!("Deleted bucket {bucket}");
            }
        },
        KvCommand::Ls { bucket, json } => match bucket {
            None => {
                let buckets: Vec<Value> = list_all(&js, "STREAM.LIST", "streams")
                    .await?
                    .into_iter()
                    .filter(|info| text(&info["config"]["name"]).starts_with("KV_"))
                    .collect();
                if json {
                    print_json(&buckets)?;
                } else if buckets.is_empty() {
                    println!("No Key-Value buckets found");
                } else {
                    print!("{}", buckets_table(&buckets));
                }
            }
            Some(bucket) => {
                let store = open(&js, &bucket).await?;
                let mut keys: Vec<String> = store
                    .keys()
                    .await
                    .with_context(|| format!("cannot list the keys of bucket {bucket}"))?
                    .map(|key| key.map_err(|err| anyhow::anyhow!("cannot list keys: {err}")))
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<anyhow::Result<_>>()?;
                keys.sort();
                if json {
                    print_json(&keys)?;
                } else {
                    for key in keys {
                        println!("{key}");
                    }
                }
            }
        },
        KvCommand::Watch {
            bucket,
            key,
            count,
            json,
        } => {
            let store = open(&js, &bucket).await?;
            // Like `nats kv watch`: the latest value of each key first, then changes.
            let mut watch = store
                .watch_with_history(key.as_deref().unwrap_or(">"))
                .await
                .with_context(|| format!("cannot watch bucket {bucket}"))?;
            // Scripts and tests wait for this line: later changes are delivered.
            eprintln!("Listening on bucket {bucket}");
            let mut seen = 0u64;
            while count.is_none_or(|count| seen < count) {
                let Some(entry) = watch.next().await else {
                    break;
                };
                let entry = entry.map_err(|err| anyhow::anyhow!("watch failed: {err}"))?;
                seen += 1;
                if json {
                    println!("{}", entry_json(&entry));
                } else {
                    println!(
                        "[{}] {} {} > {}: {}",
                        entry.created,
                        operation(entry.operation),
                        entry.bucket,
                        entry.key,
                        String::from_utf8_lossy(&entry.value)
                    );
                }
            }
        }
        KvCommand::History { bucket, key, json } => {
            let store = open(&js, &bucket).await?;
            let entries: Vec<kv::Entry> = store
                .history(&key)
                .await
                .with_context(|| format!("cannot read the history of {key}"))?
                .map(|entry| entry.map_err(|err| anyhow::anyhow!("cannot read history: {err}")))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<anyhow::Result<_>>()?;
            if entries.is_empty() {
                bail!("key {key} not found in bucket {bucket}");
            }
            if json {
                print_json(&entries.iter().map(entry_json).collect::<Vec<_>>())?;
            } else {
                let mut table = Table::new(
                    format!("History for {bucket} > {key}"),
                    &["Key", "Revision", "Op", "Created", "Length", "Value"],
                );
                for entry in &entries {
                    table.row(vec![
                        entry.key.clone(),
                        entry.revision.to_string(),
                        operation(entry.operation).to_owned(),
                        entry.created.to_string(),
                        entry.value.len().to_string(),
                        String::from_utf8_lossy(&entry.value).into_owned(),
                    ]);
                }
                print!("{}", table.render());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value given on the command line, or all of stdin.
fn value_or_stdin(value: Option<String>) -> anyhow::Result<Vec<u8>> {
    match value {
        Some(value) => Ok(value.into_bytes()),
        None => {
            let mut all = Vec::new();
            std::io::stdin()
                .read_to_end(&mut all)
                .context("cannot read the value from stdin")?;
            Ok(all)
        }
    }
}

/// One bucket's configuration and state, from its stream's info, as `nats kv info` shows it.
fn bucket_info(bucket: &str, info: &Value) -> String {
    let (config, state) = (&info["config"], &info["state"]);
    let mut out = format!("Information for Key-Value Store Bucket {bucket}\n\nConfiguration:\n\n");
    let rows = [
        ("Bucket Name", bucket.to_owned()),
        (
            "History Kept",
            number(&config["max_msgs_per_subject"]).to_string(),
        ),
        ("Values Stored", number(&state["messages"]).to_string()),
        ("Backing Store Kind", "JetStream".to_owned()),
        ("Bucket Size", bytes(number(&state["bytes"]))),
        (
            "Maximum Bucket Size",
            limit(config["max_bytes"].as_i64().unwrap_or(-1)),
        ),
        (
            "Maximum Value Size",
            limit(config["max_msg_size"].as_i64().unwrap_or(-1)),
        ),
        ("Maximum Age", nanos(number(&config["max_age"]))),
        ("JetStream Stream", text(&config["name"]).to_owned()),
        ("Storage", text(&config["storage"]).to_owned()),
    ];
    for (name, value) in rows {
        out.push_str(&format!("{name:>20}: {value}\n"));
    }
    out
}

/// Opens a bucket; a missing one is reported by name.
async fn open(js: &Js, bucket: &str) -> anyhow::Result<kv::Store> {
    // The stream info gives the server's own "stream not found" text for a missing bucket.
    js.api(&format!("STREAM.INFO.KV_{bucket}"), None)
        .await
        .with_context(|| format!("no Key-Value bucket {bucket}"))?;
    js.context
        .get_key_value(bucket)
        .await
        .with_context(|| format!("cannot open bucket {bucket}"))
}

fn operation(operation: kv::Operation) -> &'static str {
    match operation {
        kv::Operation::Put => "PUT",
        kv::Operation::Delete => "DEL",
        kv::Operation::Purge => "PURGE",
    }
}

/// An entry for scripts; the value as text (lossy for binary values).
fn entry_json(entry: &kv::Entry) -> Value {
    json!({
        "bucket": entry.bucket,
        "key": entry.key,
        "value": String::from_utf8_lossy(&entry.value),
        "revision": entry.revision,
        "created": entry.created.to_string(),
        "operation": operation(entry.operation),
    })
}

/// Buckets (their streams' infos) as a table.
fn buckets_table(infos: &[Value]) -> String {
    let mut table = Table::new(
        "Key-Value Buckets",
        &["Bucket", "Values", "Size", "History", "TTL", "Storage"],
    );
    for info in infos {
        let config = &info["config"];
        table.row(vec![
            text(&config["name"]).trim_start_matches("KV_").to_owned(),
            number(&info["state"]["messages"]).to_string(),
            bytes(number(&info["state"]["bytes"])),
            number(&config["max_msgs_per_subject"]).to_string(),
            nanos(number(&config["max_age"])),
            text(&config["storage"]),
        ]);
    }
    table.render()
}
