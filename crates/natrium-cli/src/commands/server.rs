//! `natrium server`: natrium-server with nats-server's flags, via the server crate's CLI.

use std::process::ExitCode;

use natrium_server::cli::{ServerArgs, normalize_args};

/// Rewrites Go-style flags (`-port 4222`, `-DV`) after `natrium server` into clap's form,
/// leaving every other command line untouched.
pub fn normalize_command_line(args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) != Some("server") {
        return args;
    }
    let mut args = args.into_iter();
    let program = args.next().unwrap_or_default();
    // `normalize_args` keeps its first element as is: here that is `server`.
    let mut out = vec![program];
    out.extend(normalize_args(args));
    out
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    natrium_server::cli::run(args).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn go_style_flags_after_server_are_normalized() {
        assert_eq!(
            normalize_command_line(strings(&["natrium", "server", "-port", "4333", "-DV"])),
            strings(&["natrium", "server", "--port", "4333", "-D", "-V"])
        );
    }

    #[test]
    fn other_commands_are_untouched() {
        let args = strings(&["natrium", "pub", "-port", "x"]);
        assert_eq!(normalize_command_line(args.clone()), args);
    }
}
