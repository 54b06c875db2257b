//! Finding and starting Debian's reference `nats-server` for tests that compare against it.
//!
//! Include it from a test file with `#[path = "support/reference.rs"] mod reference;`.
//!
//! The binary is looked up in env `NATS_SERVER_BIN`, then `nats-server` on `PATH`, then
//! `/usr/sbin/nats-server`. [`reference_binary_or_skip`] applies the team rule for a missing
//! reference: fail when `CI` is set, otherwise warn loudly and let the caller return.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a reference server may take to print "Server is ready".
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds the reference `nats-server` binary, if installed.
pub fn reference_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nats-server");
        debian.is_file().then_some(debian)
    })
}

/// Returns the reference binary, or `None` after a loud warning when it is absent locally.
///
/// # Panics
/// When the binary is absent and env `CI` is set: CI must run the reference suites.
pub fn reference_binary_or_skip(suite: &str) -> Option<PathBuf> {
    if let Some(bin) = reference_binary() {
        return Some(bin);
    }
    let message = format!(
        "the reference nats-server was not found (env NATS_SERVER_BIN, PATH, /usr/sbin/nats-server); \
         install it with `apt-get install -y nats-server` to run the {suite} suite"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    // Once per test binary, and straight to stderr: libtest captures `eprintln!` of passing
    // tests, and a skipped suite must not go unnoticed.
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        let bar = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! WARNING: SKIPPED: {message}\n{bar}\n"
        );
    });
    None
}

/// A running reference `nats-server`, killed when dropped.
pub struct ReferenceServer {
    child: Child,
    addr: SocketAddr,
    // Kept alive for the lifetime of the process, which reads it at start only, but a
    // config reload would need it.
    _config: tempfile::NamedTempFile,
}

impl ReferenceServer {
    /// Starts `bin` on a free 127.0.0.1 port with `config` (nats-server config file syntax,
    /// without `listen`, which is added here) and waits until it is ready.
    pub async fn start(bin: &Path, config: &str) -> Result<Self, String> {
        // A free port can be taken by someone else between probing and binding: retry.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::start_once(bin, config).await {
                Ok(server) => return Ok(server),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    async fn start_once(bin: &Path, config: &str) -> Result<Self, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut file = tempfile::Builder::new()
            .suffix(".conf")
            .tempfile()
            .map_err(|e| format!("temp config: {e}"))?;
        let text = format!("listen: \"127.0.0.1:{port}\"\n{config}");
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("write config: {e}"))?;

        let mut child = Command::new(bin)
            .arg("-c")
            .arg(file.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let mut lines = BufReader::new(stderr).lines();

        let mut log = String::new();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                log.push_str(&line);
                log.push('\n');
                if line.contains("Server is ready") {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            return Err(format!(
                "reference nats-server did not become ready; config:\n{text}\nlog:\n{log}"
            ));
        }
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            addr,
            _config: file,
        })
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Stops the server and waits for the process to exit.
    pub async fn shutdown(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
