//! Lame-duck mode: leave gracefully so clients move to other servers without a burst.
//!
//! As nats-server 2.9: stop accepting, tell every client with an `INFO` carrying
//! `"ldm":true` (clients then prefer other servers of their pool), wait the grace period, then
//! close the clients one by one spread over the rest of `lame_duck_duration` (at most one
//! second apart). The caller shuts the server down afterwards.
//!
//! Unlike nats-server, durations shorter than 30 s are accepted (useful in tests).

use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, CloseReason};
use crate::state::Shared;

/// Runs lame-duck mode until every client present at its start has been closed (or the server
/// is shut down meanwhile).
pub(crate) async fn run(shared: &Shared) {
    if shared.lame_duck.is_cancelled() {
        return;
    }
    tracing::info!("Entering lame duck mode, stop accepting new clients");
    // Stops the accept loop, which drops the listener.
    shared.lame_duck.cancel();

    let clients: Vec<Arc<Client>> = shared.clients.lock().values().cloned().collect();
    let advertised = shared.live.read().advertised();
    for client in &clients {
        let line = shared
            .info
            .ldm_line_for(client.cid, &client.addr.ip().to_string(), &advertised);
        client.outbound.send_now(&line);
    }

    let grace = shared.opts.lame_duck_grace_period;
    tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        _ = tokio::time::sleep(grace) => {}
    }
    if clients.is_empty() {
        return;
    }
    tracing::info!("Closing existing clients");
    let interval = close_interval(
        shared.opts.lame_duck_duration.saturating_sub(grace),
        clients.len(),
    );
    for (i, client) in clients.iter().enumerate() {
        if i > 0 {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        client.set_close_reason(CloseReason::ServerShutdown);
        client.outbound.close();
        client.kill.cancel();
    }
}

/// Time between two closes: the remaining duration (at least 1 s) spread over the clients,
/// capped at one second (nats-server's rule).
fn close_interval(remaining: Duration, clients: usize) -> Duration {
    let remaining = if remaining.is_zero() {
        Duration::from_secs(1)
    } else {
        remaining
    };
    let n = u32::try_from(clients.max(1)).unwrap_or(u32::MAX);
    (remaining / n).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_are_spread_and_capped_at_one_second() {
        assert_eq!(
            close_interval(Duration::from_secs(110), 10),
            Duration::from_secs(1)
        );
        assert_eq!(
            close_interval(Duration::from_millis(400), 4),
            Duration::from_millis(100)
        );
        assert_eq!(
            close_interval(Duration::ZERO, 2),
            Duration::from_millis(500)
        );
    }
}
