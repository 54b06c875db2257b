//! Process signals, as nats-server handles them: SIGINT/SIGTERM stop, SIGUSR2 enters
//! lame-duck mode, SIGHUP reloads the configuration; and `--signal CMD[=PID|PIDFILE]`, which
//! sends one of those signals to a running server.

use std::path::Path;

use crate::options::ServerOptions;
use crate::server::Server;

/// Why `--signal` failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The command is not one nats-server knows.
    #[error("unknown signal {0:?} (expected stop, quit, term, reopen, reload or ldm)")]
    UnknownCommand(String),
    /// No process id was given.
    #[error("--signal {0} needs a process id or a pid file: {0}=<pid|pidfile>")]
    MissingPid(String),
    /// The pid file could not be read or holds no process id.
    #[error("can't read a process id from {path}: {reason}")]
    PidFile {
        /// The file given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// `kill` could not be run or refused.
    #[error("can't send SIG{signal} to {pid}: {reason}")]
    Kill {
        /// Signal name without `SIG`.
        signal: &'static str,
        /// Target process.
        pid: u32,
        /// What went wrong.
        reason: String,
    },
}

/// The signal nats-server's `--signal` command names map to.
fn signal_name(command: &str) -> Option<&'static str> {
    Some(match command {
        "stop" => "KILL",
        "quit" => "INT",
        "term" => "TERM",
        "reopen" => "USR1",
        "reload" => "HUP",
        "ldm" => "USR2",
        _ => return None,
    })
}

/// Sends the signal `spec` names (`ldm=1234`, `reload=/run/natrium.pid`) and returns the
/// target process id.
pub fn send(spec: &str) -> Result<u32, SignalError> {
    let (command, target) = match spec.split_once('=') {
        Some((c, t)) => (c, Some(t)),
        None => (spec, None),
    };
    let signal =
        signal_name(command).ok_or_else(|| SignalError::UnknownCommand(command.to_owned()))?;
    let target = target
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SignalError::MissingPid(command.to_owned()))?;
    let pid = match target.parse::<u32>() {
        Ok(pid) => pid,
        Err(_) => read_pid_file(Path::new(target))?,
    };
    // `kill(1)` rather than libc: the workspace forbids unsafe code.
    let out = std::process::Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .output()
        .map_err(|e| SignalError::Kill {
            signal,
            pid,
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(SignalError::Kill {
            signal,
            pid,
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(pid)
}

fn read_pid_file(path: &Path) -> Result<u32, SignalError> {
    let err = |reason: String| SignalError::PidFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    text.trim()
        .parse()
        .map_err(|_| err(format!("{:?} is not a process id", text.trim())))
}

/// The process's signal handlers. Install them before the server announces it is ready, so
/// a signal sent right after that is never met by the default action (which kills).
#[cfg(unix)]
#[derive(Debug)]
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

/// The process's signal handlers (Ctrl-C only off Unix).
#[cfg(not(unix))]
#[derive(Debug)]
pub struct Signals;

#[cfg(not(unix))]
impl Signals {
    /// Nothing to install off Unix.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    /// Serves Ctrl-C until the server has stopped.
    pub async fn serve<F, E>(self, server: &Server, _reload: F) -> std::io::Result<()>
    where
        F: Fn() -> Result<ServerOptions, E>,
        E: std::fmt::Display,
    {
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(())
    }
}

#[cfg(unix)]
impl Signals {
    /// Installs handlers for SIGTERM, SIGINT, SIGUSR2 and SIGHUP.
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            usr2: signal(SignalKind::user_defined2())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Serves signals until the server has stopped: SIGINT/SIGTERM shut down, SIGUSR2 runs
    /// lame-duck mode (a SIGINT/SIGTERM meanwhile stops at once), SIGHUP calls `reload` for
    /// new options and applies them; a failed reload is logged and the running settings are
    /// kept.
    pub async fn serve<F, E>(self, server: &Server, reload: F) -> std::io::Result<()>
    where
        F: Fn() -> Result<ServerOptions, E>,
        E: std::fmt::Display,
    {
        let Signals {
            mut term,
            mut int,
            mut usr2,
            mut hup,
        } = self;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => match reload() {
                    Ok(opts) => server.reload(&opts),
                    Err(e) => tracing::error!("Failed to reload server configuration: {e}"),
                },
                _ = usr2.recv() => {
                    tokio::select! {
                        _ = server.lame_duck() => return Ok(()),
                        _ = term.recv() => break,
                        _ = int.recv() => break,
                    }
                }
            }
        }
        tracing::info!("Trapped signal; shutting down");
        server.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_server_signal_names() {
        assert_eq!(signal_name("stop"), Some("KILL"));
        assert_eq!(signal_name("ldm"), Some("USR2"));
        assert_eq!(signal_name("reload"), Some("HUP"));
        assert_eq!(signal_name("quit"), Some("INT"));
        assert!(matches!(
            send("bogus=1"),
            Err(SignalError::UnknownCommand(c)) if c == "bogus"
        ));
        assert!(matches!(send("ldm"), Err(SignalError::MissingPid(_))));
        let err = send("ldm=/nonexistent/natrium.pid").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/natrium.pid"),
            "{err}"
        );
    }
}
