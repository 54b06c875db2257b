//! A NATS server binary (Debian's or the newest `nats-server`, or the `natrium-server`
//! binary: they take the same flags and log the same "Server is ready" line) started as a
//! child process on a free loopback port, waited for until it is ready, killed when dropped.
//!
//! ```no_run
//! # async fn t(bin: &std::path::Path, store: &std::path::Path) {
//! use natrium_test_support::process::ServerCommand;
//! let server = ServerCommand::new(bin).jetstream(store).start().await.expect("server starts");
//! let url = server.client_url();
//! # }
//! ```

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::port::free_port;

/// The line a server logs once it accepts clients.
const READY_LINE: &str = "Server is ready";

/// How often [`ServerCommand::start`] tries: a free port can be taken by someone else
/// between probing and binding.
const ATTEMPTS: usize = 3;

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration file could not be written.
    #[error("cannot write the server's config file: {0}")]
    Config(#[source] std::io::Error),
    /// The binary could not be run.
    #[error("cannot run {bin}: {source}", bin = .bin.display())]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The server exited, or did not log "Server is ready" in time.
    #[error("{bin} did not become ready within {within:?}; arguments: {args:?}\nconfig:\n{config}\nlog:\n{log}", bin = .bin.display())]
    NotReady {
        /// The binary.
        bin: PathBuf,
        /// Its arguments.
        args: Vec<OsString>,
        /// The configuration file's text, if one was written.
        config: String,
        /// What it logged.
        log: String,
        /// The bound it had.
        within: Duration,
    },
}

/// How to start a server: the binary, its flags, an optional config file; then
/// [`ServerCommand::start`].
///
/// Without [`config`](Self::config) the server listens via `-a 127.0.0.1 -p PORT` (and
/// monitors via `-m HTTP_PORT`); with it, via `listen:` (and `http:`) lines written at the
/// top of the file.
#[derive(Clone, Debug)]
pub struct ServerCommand {
    bin: PathBuf,
    args: Vec<OsString>,
    config: Option<String>,
    store: Option<PathBuf>,
    port: u16,
    monitor: bool,
    ready_within: Duration,
}

impl ServerCommand {
    /// A server run from `bin` on a free port, ready within 30 s.
    pub fn new(bin: impl AsRef<Path>) -> ServerCommand {
        ServerCommand {
            bin: bin.as_ref().to_owned(),
            args: Vec::new(),
            config: None,
            store: None,
            port: 0,
            monitor: false,
            ready_within: Duration::from_secs(30),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> ServerCommand {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> ServerCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs with a config file of `text` (nats-server syntax, without `listen` or `http`,
    /// which are added here).
    pub fn config(mut self, text: impl Into<String>) -> ServerCommand {
        self.config = Some(text.into());
        self
    }

    /// Turns JetStream on, storing in `dir` (`-js -sd DIR`).
    pub fn jetstream(mut self, dir: impl AsRef<Path>) -> ServerCommand {
        self.store = Some(dir.as_ref().to_owned());
        self
    }

    /// Listens on `port` (0, the default: a free port), e.g. to restart on the same port.
    pub fn port(mut self, port: u16) -> ServerCommand {
        self.port = port;
        self
    }

    /// Serves monitoring on a free port too.
    pub fn monitor(mut self) -> ServerCommand {
        self.monitor = true;
        self
    }

    /// How long the server may take to log "Server is ready" (a failure bound only).
    pub fn ready_within(mut self, bound: Duration) -> ServerCommand {
        self.ready_within = bound;
        self
    }

    /// Starts the server and returns once it logged "Server is ready"; tries three times
    /// (with fresh free ports), returning the last error.
    pub async fn start(&self) -> Result<ServerProcess, StartError> {
        let mut result = self.start_once().await;
        for _ in 1..ATTEMPTS {
            if result.is_ok() {
                break;
            }
            result = self.start_once().await;
        }
        result
    }

    async fn start_once(&self) -> Result<ServerProcess, StartError> {
        let port = match self.port {
            0 => free_port(),
            port => port,
        };
        let http_port = self.monitor.then(free_port);
        // The caller's arguments (a `-c FILE` among them) first, then the listen flags, which
        // override what a config file says.
        let mut args: Vec<OsString> = Vec::new();
        let mut config_dir = None;
        let mut config_text = String::new();
        if let Some(config) = &self.config {
            let dir = tempfile::tempdir().map_err(StartError::Config)?;
            let file = dir.path().join("server.conf");
            config_text = format!("listen: \"127.0.0.1:{port}\"\n");
            if let Some(http_port) = http_port {
                config_text.push_str(&format!("http: \"127.0.0.1:{http_port}\"\n"));
            }
            config_text.push_str(config);
            std::fs::write(&file, &config_text).map_err(StartError::Config)?;
            args.extend(["-c".into(), file.into_os_string()]);
            config_dir = Some(dir);
        }
        args.extend(self.args.iter().cloned());
        if self.config.is_none() {
            args.extend(["-a", "127.0.0.1", "-p"].map(OsString::from));
            args.push(port.to_string().into());
            if let Some(http_port) = http_port {
                args.extend(["-m".into(), http_port.to_string().into()]);
            }
        }
        if let Some(store) = &self.store {
            args.extend(["-js".into(), "-sd".into(), store.clone().into_os_string()]);
        }

        let mut child = Command::new(&self.bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StartError::Spawn {
                bin: self.bin.clone(),
                source,
            })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let ready = tokio::time::timeout(self.ready_within, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let ready = line.contains(READY_LINE);
                lock(&log).push(line);
                if ready {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            return Err(StartError::NotReady {
                bin: self.bin.clone(),
                args,
                config: config_text,
                log: lock(&log).join("\n"),
                within: self.ready_within,
            });
        }
        // Keep draining the log so the server never blocks on a full pipe.
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                lock(&sink).push(line);
            }
        });
        Ok(ServerProcess {
            child,
            port,
            http_port,
            log,
            _config: config_dir,
        })
    }
}

/// A running server child process; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    port: u16,
    http_port: Option<u16>,
    log: Arc<Mutex<Vec<String>>>,
    // The config file lives as long as the server (a reload reads it again).
    _config: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The monitoring port, when started with [`ServerCommand::monitor`].
    pub fn http_port(&self) -> Option<u16> {
        self.http_port
    }

    /// The monitoring base URL, `http://127.0.0.1:PORT`, when started with
    /// [`ServerCommand::monitor`].
    pub fn monitor_url(&self) -> Option<String> {
        self.http_port
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// The process id (for signals).
    ///
    /// # Panics
    /// When the process was already killed.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("server process running")
    }

    /// Every line the server logged so far.
    pub fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// The lines logged so far that contain `text`.
    pub fn log_lines(&self, text: &str) -> Vec<String> {
        lock(&self.log)
            .iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Stops the server and waits for the process to exit.
    pub async fn shutdown(mut self) {
        self.kill().await;
    }
}

fn lock(log: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}
