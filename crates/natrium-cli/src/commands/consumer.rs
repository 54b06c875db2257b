//! `natrium consumer ls|info|add|rm|next`: manage JetStream consumers like `nats consumer`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::jetstream::{Js, confirm, nanos, print_json};
use super::stream::{list_all, number, text};
use super::table::{Table, fields};

/// Arguments of `natrium consumer`.
#[derive(Debug, clap::Args)]
pub struct ConsumerArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    #[command(subcommand)]
    command: ConsumerCommand,
}

/// The `consumer` verbs.
#[derive(Debug, clap::Subcommand)]
enum ConsumerCommand {
    /// List a stream's consumers.
    #[command(visible_alias = "list")]
    Ls {
        /// Stream name.
        stream: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a consumer's configuration and state.
    Info {
        /// Stream name.
        stream: String,
        /// Consumer name.
        consumer: String,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a durable consumer.
    #[command(visible_alias = "create", visible_alias = "new")]
    Add(AddArgs),
    /// Delete a consumer.
    #[command(visible_alias = "delete", visible_alias = "del")]
    Rm {
        /// Stream name.
        stream: String,
        /// Consumer name.
        consumer: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Fetch messages from a pull consumer and acknowledge them.
    Next {
        /// Stream name.
        stream: String,
        /// Consumer name.
        consumer: String,
        /// How many messages to fetch.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Do not acknowledge the messages.
        #[arg(long = "no-ack")]
        no_ack: bool,
        /// How long to wait for messages.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Print only the bodies.
        #[arg(long)]
        raw: bool,
    },
}

/// Acknowledgement policies (`--ack`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Ack {
    /// Every message is acknowledged on its own.
    Explicit,
    /// Acknowledging a message acknowledges all before it.
    All,
    /// No acknowledgements.
    None,
}

/// Arguments of `natrium consumer add`.
#[derive(Debug, clap::Args)]
struct AddArgs {
    /// Stream name.
    stream: String,
    /// Consumer (durable) name.
    consumer: String,
    /// Only messages on this subject (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// Acknowledgement policy.
    #[arg(long, value_enum, default_value = "explicit")]
    ack: Ack,
    /// A pull consumer (the default unless --target is given).
    #[arg(long, conflicts_with = "target")]
    pull: bool,
    /// Push messages to this subject (a push consumer).
    #[arg(long)]
    target: Option<String>,
    /// Where to start: all, last, new, last_per_subject, or a stream sequence.
    #[arg(long, default_value = "all", value_parser = parse_deliver)]
    deliver: Deliver,
    /// Redeliver at most this many times (-1: no limit).
    #[arg(long = "max-deliver", default_value_t = -1, allow_negative_numbers = true)]
    max_deliver: i64,
    /// How long the server waits for an acknowledgement before redelivering.
    #[arg(long, value_parser = humantime::parse_duration)]
    wait: Option<Duration>,
    /// Most unacknowledged messages in flight (-1: no limit).
    #[arg(long = "max-pending", allow_negative_numbers = true)]
    max_pending: Option<i64>,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

/// Where a new consumer starts (`--deliver`).
#[derive(Debug, Clone)]
enum Deliver {
    /// A deliver policy by name.
    Policy(&'static str),
    /// From this stream sequence.
    Sequence(u64),
}

/// Why a `--deliver` value was refused.
#[derive(Debug, thiserror::Error)]
#[error("expected all, last, new, last_per_subject or a sequence number, got {0:?}")]
struct BadDeliver(String);

fn parse_deliver(value: &str) -> Result<Deliver, BadDeliver> {
    Ok(match value {
        "all" => Deliver::Policy("all"),
        "last" => Deliver::Policy("last"),
        "new" => Deliver::Policy("new"),
        "last_per_subject" | "subject" => Deliver::Policy("last_per_subject"),
        other => Deliver::Sequence(other.parse().map_err(|_| BadDeliver(other.to_owned()))?),
    })
}

/// Runs a `consumer` verb.
pub async fn run(url: &str, args: ConsumerArgs) -> anyhow::Result<ExitCode> {
    let js = Js::connect(url, "natrium consumer").await?;
    match args.command {
        ConsumerCommand::Ls { stream, json } => {
            let consumers = list_all(&js, &format!("CONSUMER.LIST.{stream}"), "consumers").await?;
            if json {
                print_json(&consumers)?;
            } else if consumers.is_empty() {
                println!("No consumers defined on stream {stream}");
            } else {
                let mut table = Table::new(
                    format!("Consumers on stream {stream}"),
                    &[
                        "Name",
                        "Kind",
                        "Filter",
                        "Pending",
                        "Ack Pending",
                        "Delivered",
                    ],
                );
                for info in &consumers {
                    table.row(vec![
                        text(&info["name"]),
                        kind(&info["config"]).to_owned(),
                        filters(&info["config"]),
                        number(&info["num_pending"]).to_string(),
                        number(&info["num_ack_pending"]).to_string(),
                        number(&info["delivered"]["stream_seq"]).to_string(),
                    ]);
                }
                print!("{}", table.render());
            }
        }
        ConsumerCommand::Info {
            stream,
            consumer,
            json,
        } => {
            let info = js
                .api(&format!("CONSUMER.INFO.{stream}.{consumer}"), None)
                .await?;
            show(&info, json)?;
        }
        ConsumerCommand::Add(add) => {
            let request =
                json!({ "stream_name": add.stream, "config": config(&add), "action": "create" });
            let info = js
                .api(
                    &format!("CONSUMER.CREATE.{}.{}", add.stream, add.consumer),
                    Some(&request),
                )
                .await?;
            eprintln!(
                "Consumer {} was created on stream {}",
                add.consumer, add.stream
            );
            show(&info, add.json)?;
        }
        ConsumerCommand::Rm {
            stream,
            consumer,
            force,
        } => {
            confirm(
                force,
                &format!("delete consumer {consumer} of stream {stream}"),
            )?;
            js.api(&format!("CONSUMER.DELETE.{stream}.{consumer}"), None)
                .await?;
            eprintln!("Deleted consumer {consumer} of stream {stream}");
        }
        ConsumerCommand::Next {
            stream,
            consumer,
            count,
            no_ack,
            timeout,
            raw,
        } => next(&js, &stream, &consumer, count, !no_ack, timeout, raw).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The consumer configuration the flags describe (the server fills in the rest).
fn config(add: &AddArgs) -> Value {
    let mut config = serde_json::Map::new();
    config.insert("durable_name".into(), json!(add.consumer));
    let ack = match add.ack {
        Ack::Explicit => "explicit",
        Ack::All => "all",
        Ack::None => "none",
    };
    config.insert("ack_policy".into(), json!(ack));
    match &add.deliver {
        Deliver::Policy(policy) => {
            config.insert("deliver_policy".into(), json!(policy));
        }
        Deliver::Sequence(seq) => {
            config.insert("deliver_policy".into(), json!("by_start_sequence"));
            config.insert("opt_start_seq".into(), json!(seq));
        }
    }
    match add.filter.as_slice() {
        [] => {}
        [one] => {
            config.insert("filter_subject".into(), json!(one));
        }
        many => {
            config.insert("filter_subjects".into(), json!(many));
        }
    }
    config.insert("max_deliver".into(), json!(add.max_deliver));
    if let Some(wait) = add.wait {
        config.insert(
            "ack_wait".into(),
            json!(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX)),
        );
    }
    if let Some(max_pending) = add.max_pending {
        config.insert("max_ack_pending".into(), json!(max_pending));
    }
    if let Some(target) = &add.target {
        config.insert("deliver_subject".into(), json!(target));
    }
    config.insert("replay_policy".into(), json!("instant"));
    Value::Object(config)
}

/// Fetches up to `count` messages within `timeout`, prints them, and acknowledges them.
async fn next(
    js: &Js,
    stream: &str,
    consumer: &str,
    count: usize,
    ack: bool,
    timeout: Duration,
    raw: bool,
) -> anyhow::Result<()> {
    // Asking for the info first turns "no such stream/consumer" into the server's error text.
    js.api(&format!("CONSUMER.INFO.{stream}.{consumer}"), None)
        .await?;
    let pull: async_nats::jetstream::consumer::PullConsumer = js
        .context
        .get_consumer_from_stream(consumer, stream)
        .await
        .with_context(|| {
            format!("consumer {consumer} of stream {stream} is not a pull consumer")
        })?;
    let mut batch = pull
        .fetch()
        .max_messages(count)
        .expires(timeout)
        .messages()
        .await
        .context("cannot request messages")?;
    let mut received = 0u64;
    while let Some(message) = batch.next().await {
        let message = message.map_err(|err| anyhow::anyhow!("cannot fetch a message: {err}"))?;
        received += 1;
        super::print_message(received, &message.message, raw)?;
        if ack {
            message
                .ack()
                .await
                .map_err(|err| anyhow::anyhow!("cannot acknowledge: {err}"))?;
        }
    }
    js.finish().await?;
    if received == 0 {
        anyhow::bail!(
            "no message received from consumer {consumer} of stream {stream} within {}",
            humantime::format_duration(timeout)
        );
    }
    if !raw && ack {
        eprintln!("Acknowledged {received} messages");
    }
    Ok(())
}

fn kind(config: &Value) -> &'static str {
    if config
        .get("deliver_subject")
        .and_then(Value::as_str)
        .is_some()
    {
        "push"
    } else {
        "pull"
    }
}

fn filters(config: &Value) -> String {
    if let Some(one) = config.get("filter_subject").and_then(Value::as_str) {
        return one.to_owned();
    }
    config
        .get("filter_subjects")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Prints a consumer's info as JSON or as labelled fields.
fn show(info: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(info);
    }
    let config = &info["config"];
    print!(
        "{}",
        fields(
            &format!(
                "Information for Consumer {} > {}",
                text(&info["stream_name"]),
                text(&info["name"])
            ),
            &[
                ("Kind", kind(config).to_owned()),
                ("Filter", filters(config)),
                ("Deliver Policy", text(&config["deliver_policy"])),
                ("Ack Policy", text(&config["ack_policy"])),
                ("Ack Wait", nanos(number(&config["ack_wait"]))),
                ("Max Deliver", config["max_deliver"].to_string()),
                (
                    "Last Delivered",
                    number(&info["delivered"]["stream_seq"]).to_string()
                ),
                (
                    "Acknowledged",
                    number(&info["ack_floor"]["stream_seq"]).to_string()
                ),
                ("Ack Pending", number(&info["num_ack_pending"]).to_string()),
                ("Redelivered", number(&info["num_redelivered"]).to_string()),
                ("Unprocessed", number(&info["num_pending"]).to_string()),
            ],
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_values() {
        assert!(matches!(parse_deliver("new"), Ok(Deliver::Policy("new"))));
        assert!(matches!(parse_deliver("42"), Ok(Deliver::Sequence(42))));
        assert!(parse_deliver("sometimes").is_err());
    }
}
