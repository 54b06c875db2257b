//! `natrium req`: send one request and print the reply.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_nats::RequestErrorKind;

/// Arguments of `natrium req`.
#[derive(Debug, clap::Args)]
pub struct ReqArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    /// Subject to send the request to.
    subject: String,
    /// Request body.
    #[arg(default_value = "")]
    body: String,
    /// Header to add, as `key:value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    headers: Vec<String>,
    /// How long to wait for the reply, e.g. `500ms`, `2s`.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print only the reply body.
    #[arg(long)]
    raw: bool,
}

/// Why a request got no reply; each case has its own message so users can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum RequestFailure {
    /// Nobody is subscribed to the subject (the server answered with status 503).
    #[error("no responders available for request on {0:?}")]
    NoResponders(String),
    /// Someone is subscribed but no reply came in time.
    #[error("request on {subject:?} timed out after {}", humantime::format_duration(*.timeout))]
    TimedOut {
        /// The request subject.
        subject: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// Any other client or connection error.
    #[error("request on {subject:?} failed: {source}")]
    Other {
        /// The request subject.
        subject: String,
        /// The client's error.
        source: async_nats::RequestError,
    },
}

/// Sends the request and prints the reply (headers and body).
pub async fn run(url: &str, args: ReqArgs) -> anyhow::Result<ExitCode> {
    let headers = crate::headers::parse(&args.headers)?;
    let client = crate::connect::connect(url, "natrium req").await?;
    let mut request = async_nats::Request::new()
        .payload(bytes::Bytes::from(args.body.clone()))
        .timeout(Some(args.timeout));
    if !headers.is_empty() {
        request = request.headers(headers);
    }
    let started = Instant::now();
    let reply = client
        .send_request(args.subject.clone(), request)
        .await
        .map_err(|source| match source.kind() {
            RequestErrorKind::NoResponders => RequestFailure::NoResponders(args.subject.clone()),
            RequestErrorKind::TimedOut => RequestFailure::TimedOut {
                subject: args.subject.clone(),
                timeout: args.timeout,
            },
            _ => RequestFailure::Other {
                subject: args.subject.clone(),
                source,
            },
        })?;
    if !args.raw {
        eprintln!("Received with rtt {:?}", started.elapsed());
    }
    super::print_message(1, &reply, args.raw)?;
    Ok(ExitCode::SUCCESS)
}
