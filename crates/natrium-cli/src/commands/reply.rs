//! `natrium reply`: answer requests on a subject with a fixed body or an echo.

use std::process::ExitCode;

use anyhow::Context as _;
use futures::StreamExt as _;

/// Arguments of `natrium reply`.
#[derive(Debug, clap::Args)]
pub struct ReplyArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    /// Subject to answer requests on.
    subject: String,
    /// Reply body; `{{Count}}` is replaced with the request number.
    #[arg(default_value = "", conflicts_with = "echo")]
    body: String,
    /// Reply with the request's own body and headers.
    #[arg(long)]
    echo: bool,
    /// Join this queue group: each request goes to one member of the group.
    #[arg(long)]
    queue: Option<String>,
    /// Exit after answering this many requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

/// Answers requests until `--count` is reached, Ctrl-C, or the connection ends.
pub async fn run(url: &str, args: ReplyArgs) -> anyhow::Result<ExitCode> {
    let (client, mut subscriber) =
        super::listen(url, "natrium reply", &args.subject, args.queue.as_deref()).await?;

    let mut answered = 0u64;
    loop {
        if args.count.is_some_and(|count| answered >= count) {
            crate::connect::round_trip(&client)
                .await
                .context("the server did not confirm the replies")?;
            return Ok(ExitCode::SUCCESS);
        }
        let request = tokio::select! {
            message = subscriber.next() => message,
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        };
        let Some(request) = request else {
            anyhow::bail!("the connection to {url} closed after {answered} requests");
        };
        answered += 1;
        super::print_message(answered, &request, false)?;
        let Some(reply_to) = request.reply.clone() else {
            eprintln!("message #{answered} has no reply subject; nothing to answer");
            continue;
        };
        let sent = if args.echo {
            match request.headers.clone() {
                Some(headers) => {
                    client
                        .publish_with_headers(reply_to, headers, request.payload.clone())
                        .await
                }
                None => client.publish(reply_to, request.payload.clone()).await,
            }
        } else {
            client
                .publish(reply_to, super::expand_body(&args.body, answered))
                .await
        };
        sent.context("cannot send the reply")?;
    }
}
