//! The flags of the `natrium-server` binary (and `natrium server`), modelled on nats-server's.
//!
//! nats-server uses Go's flag package, which also accepts long names with one dash
//! (`-port 4222`, `-DV`, `-sd DIR`); [`normalize_args`] rewrites those into the form clap
//! expects before parsing.

use std::path::PathBuf;

use clap::Args;

use crate::config::{ConfigError, FileConfig};
use crate::logging::{self, LogLevel, LoggingError};
use crate::options::{Auth, DEFAULT_PORT, ServerOptions};
use crate::tls::TlsOptions;
use crate::{Server, ServerError};

/// The server's command-line flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Bind to HOST address (default 0.0.0.0).
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "HOST")]
    pub addr: Option<String>,
    /// Use PORT for clients (default 4222; -1 picks a free port).
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub port: Option<i32>,
    /// Server name (default: the server id).
    #[arg(
        short = 'n',
        long = "server_name",
        visible_alias = "name",
        value_name = "NAME"
    )]
    pub server_name: Option<String>,
    /// Configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// File to redirect log output to.
    #[arg(
        short = 'l',
        long = "log",
        visible_alias = "log_file",
        value_name = "FILE"
    )]
    pub log: Option<PathBuf>,
    /// File to store the process id in.
    #[arg(short = 'P', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// Directory to write `<executable>_<pid>.ports` into, listing the listen URLs.
    #[arg(long = "ports_file_dir", value_name = "DIR")]
    pub ports_file_dir: Option<PathBuf>,
    /// User required for connections.
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Password required for connections.
    #[arg(long = "pass", value_name = "PASSWORD")]
    pub pass: Option<String>,
    /// Authorization token required for connections.
    #[arg(long = "auth", value_name = "TOKEN")]
    pub auth: Option<String>,
    /// Maximum message size (headers + payload) in bytes.
    #[arg(long = "max_payload", value_name = "BYTES")]
    pub max_payload: Option<u32>,
    /// Enable debug output.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Enable protocol trace output.
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Timestamp log lines (default true; `-T=false` turns timestamps off).
    #[arg(
        short = 'T',
        long = "logtime",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub logtime: Option<bool>,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// HTTP monitoring port (-1 picks a free port, 0 turns monitoring off).
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i32>,
    /// HTTPS monitoring port (not supported yet: fails with a clear message).
    #[arg(
        long = "https_port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i32>,
    /// Send a signal to a running server and exit: stop, quit, term, reopen, reload or ldm,
    /// followed by `=PID` or `=PIDFILE`.
    #[arg(long = "signal", value_name = "CMD=PID")]
    pub signal: Option<String>,
    /// Enable TLS for client connections (`--tls=false` turns off TLS set in the config file).
    /// Any TLS flag builds the TLS settings from the flags alone, as nats-server does:
    /// `--tlscert` and `--tlskey` are then required.
    #[arg(
        long = "tls",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub tls: Option<bool>,
    /// Server certificate file (PEM).
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Private key for the server certificate (PEM).
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Enable TLS with client verification (implies --tls).
    #[arg(
        long = "tlsverify",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub tlsverify: Option<bool>,
    /// Client certificate CA for verification (PEM).
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Enable JetStream (`-js`).
    #[arg(long = "jetstream")]
    pub jetstream: bool,
    /// JetStream storage directory (`-sd`); the data goes under `DIR/jetstream`.
    #[arg(long = "store_dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
}

/// Why the server command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag value is out of range or a combination is invalid.
    #[error("{0}")]
    InvalidFlag(String),
    /// A feature nats-server has and natrium-server does not (yet).
    #[error("{0} is not supported yet by natrium-server")]
    NotSupported(&'static str),
    /// The configuration file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Logging could not be set up.
    #[error(transparent)]
    Logging(#[from] LoggingError),
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// `--signal` could not signal the process.
    #[error(transparent)]
    SendSignal(#[from] crate::signal::SignalError),
    /// Waiting for signals failed.
    #[error("can't install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Rewrites Go-style single-dash long flags (`-port`, `-sd`, `-DV`) into clap's form.
/// The first element (the program name) is kept as is.
pub fn normalize_args<I>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = String>,
{
    const LONG: &[&str] = &[
        "addr",
        "net",
        "port",
        "server_name",
        "name",
        "config",
        "log",
        "log_file",
        "pid",
        "ports_file_dir",
        "user",
        "pass",
        "auth",
        "max_payload",
        "debug",
        "trace",
        "logtime",
        "version",
        "http_port",
        "https_port",
        "store_dir",
        "jetstream",
        "signal",
        "help",
        "tls",
        "tlscert",
        "tlskey",
        "tlsverify",
        "tlscacert",
    ];
    let mut out = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || arg.starts_with("--") || !arg.starts_with('-') {
            out.push(arg);
            continue;
        }
        let body = &arg[1..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let long = match name {
            "DV" | "VD" => {
                out.push("-D".to_owned());
                out.push("-V".to_owned());
                continue;
            }
            "sd" => Some("store_dir"),
            "js" => Some("jetstream"),
            "T" => Some("logtime"),
            "sl" => Some("signal"),
            "ms" => Some("https_port"),
            n if LONG.contains(&n) => Some(n),
            _ => None,
        };
        match (long, value) {
            (Some(l), Some(v)) => out.push(format!("--{l}={v}")),
            (Some(l), None) => out.push(format!("--{l}")),
            (None, _) => out.push(arg),
        }
    }
    out
}

/// What the flags (and the configuration file they name) resolve to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Server options (the log level and `logtime` included).
    pub options: ServerOptions,
    /// Log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
}

impl ServerArgs {
    /// The server options these flags describe (flags override the config file).
    pub fn to_options(&self) -> Result<ServerOptions, CliError> {
        self.resolve().map(|r| r.options)
    }

    /// Options and log settings: the configuration file first, then the flags on top.
    pub fn resolve(&self) -> Result<Resolved, CliError> {
        if self.https_port.is_some() {
            return Err(CliError::NotSupported(
                "HTTPS monitoring (-ms/--https_port)",
            ));
        }
        let file = match &self.config {
            Some(path) => crate::config::load(path)?,
            None => FileConfig::default(),
        };
        let log_level = LogLevel {
            debug: self.debug || file.debug.unwrap_or(false),
            trace: self.trace || file.trace.unwrap_or(false),
            logtime: self.logtime.or(file.logtime).unwrap_or(true),
        };
        let log_file = self.log.clone().or(file.log_file.clone());
        let mut opts = file.options.clone();
        let file_tls_timeout = opts.tls.as_ref().map(|t| t.timeout);
        opts.logging = log_level;
        if let Some(addr) = &self.addr {
            opts.host = addr.clone();
        }
        if let Some(port) = self.port {
            opts.port = match port {
                -1 => 0,
                0 => DEFAULT_PORT,
                p => u16::try_from(p).map_err(|_| {
                    CliError::InvalidFlag(format!("invalid port {p}: must be -1, 0 or 1..=65535"))
                })?,
            };
        }
        if let Some(port) = self.http_port {
            opts.http_port = match port {
                -1 => Some(0),
                0 => None,
                p => Some(u16::try_from(p).map_err(|_| {
                    CliError::InvalidFlag(format!(
                        "invalid monitoring port {p}: must be -1, 0 or 1..=65535"
                    ))
                })?),
            };
        }
        if let Some(name) = &self.server_name {
            opts.server_name = Some(name.clone());
        }
        if let Some(max) = self.max_payload {
            if max == 0 {
                return Err(CliError::InvalidFlag("max_payload must be positive".into()));
            }
            opts.max_payload = max;
        }
        match (&self.user, &self.pass, &self.auth) {
            (Some(_), Some(_), Some(_)) => {
                return Err(CliError::InvalidFlag(
                    "--auth can't be combined with --user/--pass".into(),
                ));
            }
            (Some(u), Some(p), None) => opts.auth = Auth::user(u.clone(), p.clone()),
            (None, None, Some(t)) => opts.auth = Auth::Token(t.clone()),
            (None, None, None) => {}
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(CliError::InvalidFlag(
                    "--user and --pass must be given together".into(),
                ));
            }
        }
        if let Some(pid) = &self.pid {
            opts.pid_file = Some(pid.clone());
        }
        if let Some(dir) = &self.ports_file_dir {
            opts.ports_file_dir = Some(dir.clone());
        }
        if self.jetstream && opts.jetstream.is_none() {
            opts.jetstream = Some(crate::JetStreamOptions {
                // As nats-server: without a store directory, one under the system's
                // temporary directory, kept across restarts.
                store_dir: Some(std::env::temp_dir().join("nats")),
                ..crate::JetStreamOptions::default()
            });
        }
        if let (Some(dir), Some(js)) = (&self.store_dir, &mut opts.jetstream) {
            js.store_dir = Some(dir.clone());
        }
        if let Some(mut tls) = self.tls_override()? {
            // The flags replace the files, not the file's handshake timeout.
            if let Some(t) = &mut tls {
                t.timeout = file_tls_timeout.unwrap_or(t.timeout);
                t.allow_non_tls = file.allow_non_tls;
            }
            opts.tls = tls;
        }
        if !file.auth_timeout_set {
            opts.auth_timeout = crate::config::default_auth_timeout(opts.tls.as_ref());
        }
        if opts.max_payload as usize > opts.max_pending {
            return Err(CliError::InvalidFlag(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                opts.max_payload, opts.max_pending
            )));
        }
        Ok(Resolved {
            options: opts,
            log_file,
        })
    }
}

impl ServerArgs {
    /// What the TLS flags say, as nats-server reads them: `--tls=false` turns TLS off;
    /// otherwise any TLS flag replaces the configuration file's certificate settings with the
    /// flags' (`--tlscert` and `--tlskey` required). `None`: no TLS flag was given.
    fn tls_override(&self) -> Result<Option<Option<TlsOptions>>, CliError> {
        if self.tls == Some(false) {
            return Ok(Some(None));
        }
        let any = self.tls.is_some()
            || self.tlsverify.is_some()
            || self.tlscert.is_some()
            || self.tlskey.is_some()
            || self.tlscacert.is_some();
        if !any {
            return Ok(None);
        }
        let cert = self.tlscert.clone().ok_or_else(|| {
            CliError::InvalidFlag("TLS Server certificate must be present and valid".into())
        })?;
        let key = self.tlskey.clone().ok_or_else(|| {
            CliError::InvalidFlag("TLS Server private key must be present and valid".into())
        })?;
        Ok(Some(Some(TlsOptions {
            cert_file: cert,
            key_file: key,
            ca_file: self.tlscacert.clone(),
            verify: self.tlsverify.unwrap_or(false),
            timeout: crate::tls::DEFAULT_TLS_TIMEOUT,
            allow_non_tls: false,
        })))
    }
}

/// Runs the server with these flags until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn run(args: ServerArgs) -> Result<(), CliError> {
    if args.version {
        println!(
            "natrium-server: v{} (nats-server {} protocol)",
            env!("CARGO_PKG_VERSION"),
            crate::VERSION
        );
        return Ok(());
    }
    if let Some(spec) = &args.signal {
        crate::signal::send(spec)?;
        return Ok(());
    }
    let Resolved { options, log_file } = args.resolve()?;
    logging::init(options.logging, log_file.as_deref())?;
    tracing::info!("Starting natrium-server");
    tracing::info!("  Version:  {}", env!("CARGO_PKG_VERSION"));
    let signals = crate::signal::Signals::install().map_err(CliError::Signals)?;
    let server = Server::start(options).await?;
    tracing::info!("  ID:       {}", server.server_id());
    signals
        .serve(&server, || args.resolve().map(|r| r.options))
        .await
        .map_err(CliError::Signals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    #[command(disable_version_flag = true)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn parse(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        let argv = normalize_args(
            std::iter::once("natrium-server")
                .chain(args.iter().copied())
                .map(String::from),
        );
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn random_and_default_ports() {
        assert_eq!(parse(&["-p", "-1"]).unwrap().to_options().unwrap().port, 0);
        assert_eq!(
            parse(&["-p", "0"]).unwrap().to_options().unwrap().port,
            4222
        );
        assert_eq!(
            parse(&["--port", "5000"])
                .unwrap()
                .to_options()
                .unwrap()
                .port,
            5000
        );
        assert!(parse(&["-p", "70000"]).unwrap().to_options().is_err());
    }

    #[test]
    fn go_style_flags_are_accepted() {
        let a = parse(&["-port", "-1", "-addr", "127.0.0.1", "-DV", "-sd", "/tmp/x"]).unwrap();
        assert_eq!(a.port, Some(-1));
        assert_eq!(a.addr.as_deref(), Some("127.0.0.1"));
        assert!(a.debug && a.trace);
        assert_eq!(a.store_dir, Some(PathBuf::from("/tmp/x")));
        let a = parse(&["-D", "-V", "--net", "localhost"]).unwrap();
        assert!(a.debug && a.trace);
        assert_eq!(a.addr.as_deref(), Some("localhost"));
    }

    #[test]
    fn auth_flags() {
        let o = parse(&["--user", "u", "--pass", "p"])
            .unwrap()
            .to_options()
            .unwrap();
        assert_eq!(o.auth, Auth::user("u", "p"));
        let o = parse(&["--auth", "t"]).unwrap().to_options().unwrap();
        assert_eq!(o.auth, Auth::Token("t".into()));
        assert!(parse(&["--user", "u"]).unwrap().to_options().is_err());
    }

    #[test]
    fn unknown_flags_and_https_monitoring_fail_clearly() {
        assert!(parse(&["--cluster", "x"]).is_err());
        let err = parse(&["-ms", "8222"]).unwrap().to_options().unwrap_err();
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }

    #[test]
    fn tls_flags_follow_nats_server() {
        let o = parse(&["--tls", "--tlscert", "c.pem", "--tlskey", "k.pem"])
            .unwrap()
            .to_options()
            .unwrap();
        let tls = o.tls.expect("tls");
        assert_eq!(
            (tls.cert_file.to_str(), tls.key_file.to_str(), tls.verify),
            (Some("c.pem"), Some("k.pem"), false)
        );
        assert_eq!(o.auth_timeout, std::time::Duration::from_secs(3));

        // --tlsverify implies TLS; Go-style single-dash flags work too.
        let o = parse(&[
            "-tlsverify",
            "-tlscert",
            "c.pem",
            "-tlskey=k.pem",
            "-tlscacert",
            "ca.pem",
        ])
        .unwrap()
        .to_options()
        .unwrap();
        let tls = o.tls.expect("tls");
        assert!(tls.verify);
        assert_eq!(tls.ca_file, Some(PathBuf::from("ca.pem")));

        // Any TLS flag needs the certificate and key on the command line.
        let err = parse(&["--tlsverify"]).unwrap().to_options().unwrap_err();
        assert_eq!(
            err.to_string(),
            "TLS Server certificate must be present and valid"
        );
        let err = parse(&["--tls", "--tlscert", "c.pem"])
            .unwrap()
            .to_options()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "TLS Server private key must be present and valid"
        );
        assert!(parse(&[]).unwrap().to_options().unwrap().tls.is_none());
    }

    #[test]
    fn tls_flags_override_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            "tls { cert_file: file.pem, key_file: file-key.pem, timeout: 5 }\n",
        )
        .unwrap();
        let conf = conf.to_str().unwrap();
        let o = parse(&["-c", conf]).unwrap().to_options().unwrap();
        assert_eq!(
            o.tls.as_ref().map(|t| t.cert_file.clone()),
            Some("file.pem".into())
        );
        assert_eq!(o.auth_timeout, std::time::Duration::from_secs(6));
        let o = parse(&["-c", conf, "--tlscert", "c.pem", "--tlskey", "k.pem"])
            .unwrap()
            .to_options()
            .unwrap();
        let tls = o.tls.expect("tls");
        assert_eq!(tls.cert_file, PathBuf::from("c.pem"));
        assert_eq!(tls.timeout, std::time::Duration::from_secs(5));
        let o = parse(&["-c", conf, "--tls=false"])
            .unwrap()
            .to_options()
            .unwrap();
        assert!(o.tls.is_none());
        assert_eq!(o.auth_timeout, std::time::Duration::from_secs(2));
    }

    #[test]
    fn log_flags() {
        let level = |args: &[&str]| parse(args).unwrap().to_options().unwrap().logging;
        assert_eq!(level(&[]), LogLevel::default());
        assert!(level(&[]).logtime);
        assert!(!level(&["-T=false"]).logtime);
        assert!(!level(&["--logtime=false"]).logtime);
        assert!(level(&["-T"]).logtime);
        let l = level(&["-DV"]);
        assert!(l.debug && l.trace && l.logtime);

        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(&conf, "logtime: false\ntrace: true\n").unwrap();
        let conf = conf.to_str().unwrap();
        let l = level(&["-c", conf]);
        assert!(!l.logtime && l.trace && !l.debug);
        assert!(level(&["-c", conf, "-T=true"]).logtime);
    }

    #[test]
    fn monitoring_port() {
        let port = |args: &[&str]| parse(args).unwrap().to_options().unwrap().http_port;
        assert_eq!(port(&["-m", "8222"]), Some(8222));
        assert_eq!(port(&["--http_port", "-1"]), Some(0));
        assert_eq!(port(&["-http_port", "8223"]), Some(8223));
        assert_eq!(port(&["-m", "0"]), None);
        assert_eq!(port(&[]), None);
        assert!(parse(&["-m", "70000"]).unwrap().to_options().is_err());
    }
}
