//! `report-demo`: the seed's report → NATS → saver → database system.
//!
//! With no arguments it runs everything in one process (an embedded natrium-server with
//! JetStream, the report API and a saver on SQLite, all kept under `./data`). `report` and `saver` run one service
//! against any NATS server, configured by `--config FILE` and `REPORT_*` variables.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use report_demo::config::Config;
use report_demo::run::{self, RunError};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The report demo: HTTP report API -> NATS -> saver -> database"
)]
struct Cli {
    /// Bootstrap file (YAML or TOML); see configs/report.yaml and configs/saver.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything in one process, with an embedded NATS server (the default).
    All {
        /// Port of the embedded NATS server on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 4222)]
        nats_port: u16,
    },
    /// The report API alone, publishing to `data.nats.addrs`.
    Report,
    /// A saver alone, subscribing at `data.nats.addrs` and writing to `data.database.url`.
    Saver,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("report-demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("report-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), RunError> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::All { nats_port: 4222 }) {
        Command::All { nats_port } => run_all(config, nats_port).await,
        Command::Report => {
            let report = run::report_app(&config).await?;
            let (running, addr) = run::spawn("report", report.app, &report.http).await?;
            println!("report API: http://{addr}/v1/report");
            running.wait().await?;
            Ok(())
        }
        Command::Saver => {
            let saver = run::saver_app(&config).await?;
            let (running, addr) = run::spawn("saver", saver.app, &saver.http).await?;
            println!("saver stats: http://{addr}/v1/stats");
            let outcome = running.wait().await;
            // One machine-readable line: what this saver took from NATS and saved before it
            // stopped (the graceful-stop test compares the two).
            let counters = saver.saver.stats().snapshot();
            let received_from_nats: u64 = saver.nats.stats().iter().map(|r| r.stats.received).sum();
            let line = serde_json::json!({
                "received_from_nats": received_from_nats,
                "received": counters.received,
                "saved": counters.saved,
                "failed": counters.failed,
            });
            println!("final stats: {line}");
            Ok(outcome?)
        }
    }
}

/// Where the embedded server keeps its streams, next to the SQLite database.
const EMBEDDED_STORE_DIR: &str = "data/nats";

/// Starts an embedded natrium-server, a saver and the report API, in the configured NATS mode
/// (JetStream unless `data.nats.mode` says core, so a report accepted while the saver is down
/// is saved once it is back); stops them in the order
/// that loses nothing: the report API first (its accepted reports are already on NATS), then
/// the saver (it drains what NATS delivered), then the NATS server.
async fn run_all(mut config: Config, nats_port: u16) -> Result<(), RunError> {
    let server = natrium_server::Server::start(natrium_server::ServerOptions {
        port: nats_port,
        jetstream: Some(natrium_server::JetStreamOptions::in_dir(EMBEDDED_STORE_DIR)),
        ..natrium_server::ServerOptions::ephemeral()
    })
    .await?;
    config.data.nats.addrs = vec![server.client_url()];

    // The saver leaves SIGINT/SIGTERM to the report API: a signal stops the API, then the
    // saver is stopped below.
    let saver = run::saver_app(&config).await?;
    let (saver, saver_addr) =
        run::spawn("saver", saver.app.handle_signals(false), &saver.http).await?;
    let report = run::report_app(&config).await?;
    let (report, report_addr) = run::spawn("report", report.app, &report.http).await?;

    let url = format!("http://{report_addr}");
    println!();
    println!("report-demo is running (Ctrl-C to stop)");
    println!(
        "  NATS (embedded natrium-server, {:?} mode): {}",
        config.data.nats.mode,
        server.client_url()
    );
    println!("  report API:  {url}/v1/report  and  {url}/v1/report/user");
    println!("  saver stats: http://{saver_addr}/v1/stats");
    println!("  database:    {}", config.data.database.url);
    println!("Try:");
    println!(
        "  curl -s -X POST {url}/v1/report -H 'Content-Type: application/json' -d '{{\"event_name\":\"page_view\",\"content\":\"hello\"}}'"
    );
    println!("  curl -s http://{saver_addr}/v1/stats");
    println!();

    // Ctrl-C / SIGTERM: the report API stops first (its accepted reports are on NATS)...
    let report_result = report.wait().await;
    tracing::info!("report API stopped; stopping the saver, then the NATS server");
    // ...then the saver drains what NATS delivered, then the NATS server goes.
    let saver_result = saver.stop().await;
    server.shutdown().await;
    report_result?;
    saver_result?;
    Ok(())
}
