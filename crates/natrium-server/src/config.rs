//! Server options from a nats-server configuration file (`-c`).

use std::path::Path;

use crate::cli::CliError;
use crate::options::ServerOptions;

/// Reads the options a configuration file sets, on top of the defaults.
pub(crate) fn load(_path: &Path) -> Result<ServerOptions, CliError> {
    Err(CliError::NotSupported(
        "the configuration file (-c/--config)",
    ))
}
