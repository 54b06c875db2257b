//! Connecting to a NATS server with the official client, with errors that name the URL.

use std::time::Duration;

use anyhow::Context as _;

/// How long a connection attempt may take before the command gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection options shared by every command: a client name and a bounded connect time.
pub fn options(name: &str) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(CONNECT_TIMEOUT)
}

/// Connects to `url` with `options`; the error says which server could not be reached.
pub async fn connect_with(
    url: &str,
    options: async_nats::ConnectOptions,
) -> anyhow::Result<async_nats::Client> {
    options
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS server at {url}"))
}

/// Connects to `url` with the default options and the given client name.
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    connect_with(url, options(name)).await
}
