//! The `natrium` command line: run a server, publish, subscribe, request, reply, manage
//! JetStream (streams, consumers, Key-Value and object store), show the service registry
//! and benchmark.
//!
//! Every client command speaks to NATS through the official `async-nats` client, so it works
//! against any NATS server, not only natrium-server.

mod bench;
mod commands;
mod connect;
mod headers;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The `natrium` command line.
#[derive(Debug, Parser)]
#[command(
    name = "natrium",
    version,
    about = "natrium: NATS server, client and benchmark tool"
)]
struct Cli {
    /// NATS server URL to connect to (client commands and `bench`).
    #[arg(
        short = 's',
        long = "server",
        global = true,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    server: String,

    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run natrium-server (accepts nats-server's flags, e.g. `-a 127.0.0.1 -p 4222`).
    Server(Box<natrium_server::cli::ServerArgs>),
    /// Publish a message.
    Pub(commands::publish::PubArgs),
    /// Subscribe to a subject and print what arrives.
    Sub(commands::subscribe::SubArgs),
    /// Send a request and print the reply.
    Req(commands::request::ReqArgs),
    /// Answer requests on a subject.
    Reply(commands::reply::ReplyArgs),
    /// Measure throughput and latency of a NATS server.
    Bench(bench::BenchArgs),
    /// Manage JetStream streams.
    Stream(commands::stream::StreamArgs),
    /// Manage JetStream consumers.
    Consumer(commands::consumer::ConsumerArgs),
    /// Use the Key-Value store.
    Kv(commands::kv::KvArgs),
    /// Use the object store.
    Object(commands::object::ObjectArgs),
    /// Show the service registry (natrium apps registered in NATS Key-Value).
    Registry(commands::registry::RegistryArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(commands::server::normalize_command_line(
        std::env::args().collect(),
    ));
    // The server sets up its own nats-server style logging.
    if matches!(cli.command, Command::Server(_)) {
        // As the natrium-server binary: spin briefly before sleeping (see busy_poll).
        if let Err(err) = natrium_server::busy_poll::install_from_env() {
            eprintln!("natrium: busy polling is off: {err}");
        }
    } else {
        init_tracing();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(natrium_server::busy_poll::before_park)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("natrium: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("natrium: error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text is already shown
/// (async-nats errors print their source themselves, so `{:#}` would repeat it).
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let url = cli.server;
    let connection = match &cli.command {
        Command::Server(_) => None,
        Command::Pub(args) => Some(&args.connection),
        Command::Sub(args) => Some(&args.connection),
        Command::Req(args) => Some(&args.connection),
        Command::Reply(args) => Some(&args.connection),
        Command::Bench(args) => Some(&args.connection),
        Command::Stream(args) => Some(&args.connection),
        Command::Consumer(args) => Some(&args.connection),
        Command::Kv(args) => Some(&args.connection),
        Command::Object(args) => Some(&args.connection),
        Command::Registry(args) => Some(&args.connection),
    };
    if let Some(connection) = connection {
        connect::install(connection.clone())?;
    }
    match cli.command {
        Command::Server(args) => commands::server::run(*args).await,
        Command::Pub(args) => commands::publish::run(&url, args).await,
        Command::Sub(args) => commands::subscribe::run(&url, args).await,
        Command::Req(args) => commands::request::run(&url, args).await,
        Command::Reply(args) => commands::reply::run(&url, args).await,
        Command::Bench(args) => bench::run(&url, args).await,
        Command::Stream(args) => commands::stream::run(&url, args).await,
        Command::Consumer(args) => commands::consumer::run(&url, args).await,
        Command::Kv(args) => commands::kv::run(&url, args).await,
        Command::Object(args) => commands::object::run(&url, args).await,
        Command::Registry(args) => commands::registry::run(&url, args).await,
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings only).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_cause_already_printed_by_its_parent_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("publish failed: sealed stream")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        #[error("chunk ack failed: {0}")]
        struct Outer(#[source] Inner);
        let err = anyhow::Error::new(Outer(Inner)).context("cannot put b");
        assert_eq!(
            describe(&err),
            "cannot put b: chunk ack failed: publish failed: sealed stream"
        );
        let plain = anyhow::anyhow!("root").context("middle").context("top");
        assert_eq!(describe(&plain), "top: middle: root");
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
