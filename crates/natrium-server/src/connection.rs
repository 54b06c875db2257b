//! One client connection: INFO, the read loop that parses and dispatches client operations,
//! and the writer task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::client::{Client, CloseReason};
use crate::server::Shared;

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
    let client = Arc::new(Client::new(
        cid,
        peer,
        shared.opts.max_pending,
        shared.shutdown.child_token(),
    ));
    shared
        .counters
        .total_connections
        .fetch_add(1, Ordering::Relaxed);
    shared.clients.lock().insert(cid, client.clone());

    let (mut reader, mut writer) = stream.into_split();
    client
        .outbound
        .send_now(&shared.info.line_for(cid, &peer.ip().to_string()));

    let writer_client = client.clone();
    let deadline = shared.opts.write_deadline;
    let writer_task = shared.tasks.spawn(async move {
        let _ = writer_client
            .outbound
            .run_writer(&mut writer, deadline)
            .await;
    });

    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            _ = client.kill.cancelled() => {
                client.set_close_reason(CloseReason::ServerShutdown);
                break;
            }
            n = reader.read(&mut buf) => match n {
                Ok(0) | Err(_) => {
                    client.set_close_reason(CloseReason::ClientClosed);
                    break;
                }
                Ok(_) => {}
            },
        }
    }
    client.outbound.close();
    let _ = writer_task.await;
    shared.clients.lock().remove(&cid);
}
