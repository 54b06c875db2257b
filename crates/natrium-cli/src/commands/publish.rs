//! `natrium pub`: publish one message or a numbered series.

use std::process::ExitCode;

use anyhow::Context as _;

/// Arguments of `natrium pub`.
#[derive(Debug, clap::Args)]
pub struct PubArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    /// Subject to publish to.
    subject: String,
    /// Message body; `{{Count}}` is replaced with the message number.
    #[arg(default_value = "")]
    body: String,
    /// Header to add, as `key:value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    headers: Vec<String>,
    /// Number of messages to publish.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Reply subject to send with each message.
    #[arg(long)]
    reply: Option<String>,
}

/// Publishes the messages and waits until the server has processed them (flush).
pub async fn run(url: &str, args: PubArgs) -> anyhow::Result<ExitCode> {
    let headers = crate::headers::parse(&args.headers)?;
    let client = crate::connect::connect(url, "natrium pub").await?;
    for n in 1..=args.count {
        let payload = super::expand_body(&args.body, n);
        let subject = args.subject.clone();
        let published = match (&args.reply, headers.is_empty()) {
            (None, true) => client.publish(subject, payload).await,
            (None, false) => {
                client
                    .publish_with_headers(subject, headers.clone(), payload)
                    .await
            }
            (Some(reply), true) => {
                client
                    .publish_with_reply(subject, reply.clone(), payload)
                    .await
            }
            (Some(reply), false) => {
                client
                    .publish_with_reply_and_headers(
                        subject,
                        reply.clone(),
                        headers.clone(),
                        payload,
                    )
                    .await
            }
        };
        published.with_context(|| format!("cannot publish to {:?}", args.subject))?;
    }
    crate::connect::round_trip(&client)
        .await
        .context("the server did not confirm the published messages")?;
    let plural = if args.count == 1 { "" } else { "s" };
    eprintln!(
        "Published {} message{plural} to \"{}\"",
        args.count, args.subject
    );
    Ok(ExitCode::SUCCESS)
}
