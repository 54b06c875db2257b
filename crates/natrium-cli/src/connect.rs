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

/// How long the server may take to answer a round trip.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Flushes `client` and waits until the server has processed everything sent before.
///
/// async-nats' `flush` only hands the bytes to the kernel; it does not wait for the server. A
/// client dropped right after it can lose unsent bytes, and a subscription may not be live yet.
/// A request to a subject nobody serves is answered by the server itself ("no responders")
/// only after it has handled every earlier operation on this connection, so its answer is the
/// confirmation.
pub async fn round_trip(client: &async_nats::Client) -> anyhow::Result<()> {
    client.flush().await.context("cannot flush to the server")?;
    let subject = format!("_NATRIUM.confirm.{}", nuid::next());
    let request = async_nats::Request::new().timeout(Some(ROUND_TRIP_TIMEOUT));
    match client.send_request(subject, request).await {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(err) => Err(err).context("the server did not answer a round trip"),
    }
}
