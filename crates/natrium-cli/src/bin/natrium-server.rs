//! The `natrium-server` binary: a drop-in for `nats-server` (core NATS).

use std::process::ExitCode;

use clap::Parser;
use natrium_server::busy_poll;
use natrium_server::cli::{ServerArgs, normalize_args, run};

/// A NATS-compatible message server.
#[derive(Debug, Parser)]
#[command(name = "natrium-server", disable_version_flag = true)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    if let Err(e) = busy_poll::install_from_env() {
        eprintln!("natrium-server: busy polling is off: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(busy_poll::before_park)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("natrium-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natrium-server: {e}");
            ExitCode::FAILURE
        }
    }
}
