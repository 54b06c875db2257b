//! `natrium sub`: print the messages arriving on a subject.

use std::process::ExitCode;

use futures::StreamExt as _;

/// Arguments of `natrium sub`.
#[derive(Debug, clap::Args)]
pub struct SubArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    /// Subject to subscribe to (wildcards `*` and `>` allowed).
    subject: String,
    /// Join this queue group: each message goes to one member of the group.
    #[arg(long)]
    queue: Option<String>,
    /// Exit after this many messages.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Print only message bodies, one per line.
    #[arg(long)]
    raw: bool,
}

/// Subscribes, announces `Listening on ...` once the server has the subscription, and prints
/// messages until `--count` is reached, Ctrl-C, or the connection ends.
pub async fn run(url: &str, args: SubArgs) -> anyhow::Result<ExitCode> {
    // The client stays bound: dropping it would end the connection.
    let (_client, mut subscriber) =
        super::listen(url, "natrium sub", &args.subject, args.queue.as_deref()).await?;

    let mut received = 0u64;
    loop {
        if args.count.is_some_and(|count| received >= count) {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            message = subscriber.next() => {
                let Some(message) = message else {
                    anyhow::bail!("the connection to {url} closed after {received} messages");
                };
                received += 1;
                super::print_message(received, &message, args.raw)?;
            }
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}
