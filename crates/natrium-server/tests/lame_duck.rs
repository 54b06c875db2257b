//! Lame-duck mode on the embedded server: the `"ldm":true` INFO, the official client's
//! `LameDuckMode` event and its move to another server, and the server stopping afterwards.

mod common;

use std::time::Duration;

use common::{Raw, start};
use futures::StreamExt;
use natrium_server::ServerOptions;

const BOUND: Duration = Duration::from_secs(10);

fn lame_duck_options() -> ServerOptions {
    ServerOptions {
        lame_duck_grace_period: Duration::from_millis(100),
        lame_duck_duration: Duration::from_millis(600),
        ..ServerOptions::ephemeral()
    }
}

#[tokio::test]
async fn clients_get_an_ldm_info_then_are_closed_and_the_server_stops() {
    let server = start(lame_duck_options()).await;
    let mut raw = Raw::handshake(&server, r#"{"verbose":false}"#).await;
    raw.send("PING\r\n").await;
    raw.expect_line("PONG").await;
    let addr = server.addr();

    let observe = async {
        let info = raw.line().await;
        assert!(info.starts_with("INFO {"), "{info}");
        assert!(
            info.ends_with(r#""client_ip":"127.0.0.1","ldm":true} "#),
            "{info}"
        );
        // Closed by the server after the grace period.
        assert_eq!(raw.read_to_eof().await, "");
    };
    tokio::time::timeout(BOUND, async { tokio::join!(server.lame_duck(), observe) })
        .await
        .expect("lame duck mode ends within the bound");
    // The server has stopped: nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn official_client_moves_to_the_other_server() {
    let leaving = start(lame_duck_options()).await;
    let staying = start(ServerOptions::ephemeral()).await;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .retain_servers_order()
        .event_callback(move |event| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect([leaving.client_url(), staying.client_url()].as_slice())
        .await
        .expect("connects to the first server");
    let mut sub = client.subscribe("work").await.expect("subscribe");
    client.flush().await.expect("flush");
    assert_eq!(leaving.stats().connections, 1);

    let publisher = async_nats::connect(staying.client_url())
        .await
        .expect("connects");

    let follow = async {
        let mut saw_ldm = false;
        loop {
            match events.recv().await.expect("events open") {
                async_nats::Event::LameDuckMode => saw_ldm = true,
                async_nats::Event::Connected if saw_ldm => break,
                _ => {}
            }
        }
        // The PONG comes after the re-sent subscriptions, so the other server has them.
        client.flush().await.expect("flush after reconnect");
        publisher
            .publish("work", "after".into())
            .await
            .expect("queued");
        publisher.flush().await.expect("flush");
        let msg = sub.next().await.expect("subscription survives reconnect");
        assert_eq!(&msg.payload[..], b"after");
    };
    tokio::time::timeout(BOUND, async { tokio::join!(leaving.lame_duck(), follow) })
        .await
        .expect("client moved within the bound");
    assert_eq!(staying.stats().connections, 2);
    staying.shutdown().await;
}
