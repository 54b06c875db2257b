//! One client connection, read top to bottom: this file accepts it (INFO, TLS, the
//! connection limit), runs it and drains its outbound buffer to the socket (the writer task);
//! `read` is the read loop, which parses and dispatches client operations; `deliver` routes
//! a published message to the subscriptions it matches, into their outbound buffers.
//!
//! The read loop parses every complete operation in the read buffer (one *batch*), delivers
//! messages straight into subscribers' outbound buffers, then wakes each touched writer once
//! and adds the batch's counts to the shared counters once.

pub(crate) mod deliver;
mod imports;
mod read;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use natrium_wire::encode_err;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::client::{Client, CloseReason};
use crate::outbound::WriteError;
use crate::state::Shared;
use read::Connection;

/// nats-server's text for a client over `max_connections`, inside `-ERR '...'`.
const ERR_MAX_CONNECTIONS: &str = "maximum connections exceeded";

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
    let client = Arc::new(Client::new(
        cid,
        peer,
        shared.opts.max_pending,
        shared.shutdown.child_token(),
    ));
    // One snapshot of the reloadable settings for both what INFO announces and the TLS used.
    let live = shared.live.read().clone();
    let advertised = live.advertised();
    let nonce = advertised.nonce_required.then(new_nonce);
    let info = shared
        .info
        .line_for(cid, &peer.ip().to_string(), &advertised, nonce.as_deref());
    if let Some(nonce) = nonce {
        let _ = client.nonce.set(nonce.into());
    }
    let admitted = {
        let mut clients = shared.clients.lock();
        if clients.len() >= shared.opts.max_connections {
            false
        } else {
            clients.insert(cid, client.clone());
            true
        }
    };
    if !admitted {
        // INFO, then the -ERR, in plaintext even when TLS is on (as nats-server does).
        client.outbound.send_now(&info);
        let (_, writer) = stream.into_split();
        refuse(shared, client, writer).await;
        return;
    }
    shared
        .counters
        .total_connections
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!("{client} - Client connection created");
    match live.tls.clone() {
        // The plain TCP path: the socket's own halves, no wrapper and no lock.
        None => {
            client.outbound.send_now(&info);
            let (reader, writer) = stream.into_split();
            run(shared, client, reader, writer).await;
        }
        // Boxed: the handshake state is large, and inline it would enlarge every plain
        // connection's task too.
        Some(tls) => Box::pin(serve_tls(shared, client, stream, info, tls)).await,
    }
}

/// A fresh nonce for INFO: 11 random bytes in unpadded URL-safe base64 (15 characters), as
/// nats-server makes them.
fn new_nonce() -> String {
    use base64::Engine as _;
    let bytes: [u8; 11] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Upgrades an admitted connection to TLS (after INFO) and runs it.
async fn serve_tls(
    shared: Arc<Shared>,
    client: Arc<Client>,
    stream: TcpStream,
    info: Vec<u8>,
    tls: crate::tls::LiveTls,
) {
    match crate::tls::upgrade(shared.opts.write_deadline, &client, stream, &info, tls).await {
        Ok(crate::tls::Upgraded::Tls(tls)) => {
            let (reader, writer) = tokio::io::split(*tls);
            run(shared, client, reader, writer).await;
        }
        // `allow_non_tls` and a plaintext client: INFO is already sent.
        Ok(crate::tls::Upgraded::Plain(stream)) => {
            let (reader, writer) = stream.into_split();
            run(shared, client, reader, writer).await;
        }
        Err(reason) => {
            client.set_close_reason(reason);
            client.outbound.close();
            shared.closed.record(&client);
            shared.forget_client(&client);
            log_closed(&client, reason);
        }
    }
}

/// Sends a client refused at max_connections its -ERR and closes the connection.
async fn refuse(shared: Arc<Shared>, client: Arc<Client>, writer: OwnedWriteHalf) {
    if shared.rate_limited_log.allow(ERR_MAX_CONNECTIONS) {
        tracing::error!("{client} - {ERR_MAX_CONNECTIONS}");
    }
    send_err(&client, ERR_MAX_CONNECTIONS);
    client.set_close_reason(CloseReason::MaxConnectionsExceeded);
    client.outbound.close();
    shared.closed.record(&client);
    write_loop(shared, client, writer).await;
}

/// Runs an admitted connection over `reader`/`writer` (the TCP socket's halves, or a TLS
/// stream's) until it closes. INFO is already queued or sent.
async fn run<R, W>(shared: Arc<Shared>, client: Arc<Client>, reader: R, writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writer_task = shared
        .tasks
        .spawn(write_loop(shared.clone(), client.clone(), writer));
    let mut conn = Connection::new(shared.clone(), client.clone());
    let reason = conn.read_loop(reader).await;
    client.set_close_reason(reason);
    // Stop taking messages, let the writer flush what is queued (an -ERR, typically).
    client.outbound.close();
    // Recorded while its subscriptions are still listed, as nats-server shows them.
    shared.closed.record(&client);
    conn.forget_subscriptions();
    shared.forget_client(&client);
    if conn.connected {
        crate::system::client_disconnected(&shared, &client, reason);
    }
    let _ = writer_task.await;
    log_closed(&client, reason);
}

fn log_closed(client: &Client, reason: CloseReason) {
    tracing::debug!(
        "{} - Client connection closed: {}",
        client,
        client.close_reason().unwrap_or(reason)
    );
}

fn send_err(client: &Client, message: &str) {
    let mut line = Vec::with_capacity(message.len() + 9);
    encode_err(&mut line, message);
    client.outbound.send_now(&line);
}

/// Drains the outbound buffer to the socket until the connection is closed or killed.
async fn write_loop<W>(shared: Arc<Shared>, client: Arc<Client>, mut writer: W)
where
    W: AsyncWrite + Unpin,
{
    let result = tokio::select! {
        _ = client.kill.cancelled() => Ok(()),
        r = client.outbound.run_writer(&mut writer, shared.opts.write_deadline) => r,
    };
    match result {
        Ok(()) => {
            let _ = writer.shutdown().await;
        }
        Err(WriteError::Deadline) => {
            if client.set_close_reason(CloseReason::SlowConsumerWriteDeadline) {
                shared.count_slow_consumer(&client);
                tracing::warn!(
                    "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                    client,
                    shared.opts.write_deadline
                );
            }
        }
        Err(WriteError::Io(e)) => {
            client.set_close_reason(CloseReason::ReadError);
            tracing::debug!("{} - write error: {e}", client);
        }
    }
    // Whatever ended the writer ends the reader too.
    client.kill.cancel();
}
