//! The `natrium-server` binary: a drop-in for `nats-server` (core NATS).

use std::process::ExitCode;

use clap::Parser;
use natrium_server::cli::{ServerArgs, normalize_args, run};

/// A NATS-compatible message server.
#[derive(Debug, Parser)]
#[command(name = "natrium-server", disable_version_flag = true)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    match run(cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natrium-server: {e}");
            ExitCode::FAILURE
        }
    }
}
