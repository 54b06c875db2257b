//! Limits and the errors that close a connection: payload, control line, connections,
//! subscriptions, stale connections, slow consumers.

mod common;

use std::time::Duration;

use common::{BOUND, Raw, connect, start};
use futures::StreamExt;
use natrium_server::ServerOptions;
use tokio::time::timeout;

const QUIET: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

#[tokio::test]
async fn payload_over_max_payload_is_refused_and_closes() {
    let server = start(ServerOptions {
        max_payload: 16,
        ..ServerOptions::ephemeral()
    })
    .await;
    let (_, info) = Raw::connect(&server).await;
    assert!(info.contains(r#""max_payload":16"#), "{info}");

    let mut exact = Raw::handshake(&server, QUIET).await;
    exact
        .send("SUB foo 1\r\nPUB foo 16\r\n0123456789abcdef\r\nPING\r\n")
        .await;
    exact.expect_line("MSG foo 1 16").await;
    assert_eq!(exact.payload(16).await, b"0123456789abcdef");
    exact.expect_line("PONG").await;

    let mut over = Raw::handshake(&server, QUIET).await;
    over.send("PUB foo 17\r\n").await;
    assert_eq!(
        over.read_to_eof().await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );

    // Headers count towards the limit.
    let mut headers = Raw::handshake(&server, QUIET).await;
    headers.send("HPUB foo 12 18\r\n").await;
    assert_eq!(
        headers.read_to_eof().await,
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn control_line_over_the_limit_closes() {
    let server = start(ServerOptions {
        max_control_line: 64,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut fits = Raw::handshake(&server, QUIET).await;
    let subject = "a".repeat(50);
    fits.send(&format!("SUB {subject} 1\r\nPING\r\n")).await;
    fits.expect_line("PONG").await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send(&format!("SUB {} 1\r\n", "a".repeat(80))).await;
    assert_eq!(
        raw.read_to_eof().await,
        "-ERR 'maximum control line exceeded'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_max_connections_are_refused() {
    let server = start(ServerOptions {
        max_connections: 1,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut first = Raw::handshake(&server, QUIET).await;
    let (mut second, _) = Raw::connect(&server).await;
    assert_eq!(
        second.read_to_eof().await,
        "-ERR 'maximum connections exceeded'\r\n"
    );
    first.send("SUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n").await;
    first.expect_line("MSG foo 1 1").await;
    first.payload(1).await;
    first.expect_line("PONG").await;
    assert_eq!(server.stats().connections, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn subscriptions_beyond_max_subscriptions_are_refused_and_the_connection_stays() {
    let server = start(ServerOptions {
        max_subscriptions: 1,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send("SUB foo 1\r\nSUB bar 2\r\nPUB foo 1\r\nx\r\nPUB bar 1\r\ny\r\nPING\r\n")
        .await;
    raw.expect_line("-ERR 'maximum subscriptions exceeded'")
        .await;
    raw.expect_line("MSG foo 1 1").await;
    assert_eq!(raw.payload(1).await, b"x");
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_that_ignores_pings_is_closed_as_stale() {
    let server = start(ServerOptions {
        ping_interval: Duration::from_millis(50),
        ping_max: 2,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.expect_line("PING").await;
    raw.expect_line("PING").await;
    assert_eq!(raw.read_to_eof().await, "-ERR 'Stale Connection'\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn client_that_answers_pings_stays_and_gets_an_rtt() {
    let server = start(ServerOptions {
        ping_interval: Duration::from_millis(20),
        ping_max: 1,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    for _ in 0..5 {
        raw.expect_line("PING").await;
        raw.send("PONG\r\n").await;
    }
    // Round trip so the last PONG was processed before looking at the RTT.
    raw.send("PING\r\n").await;
    loop {
        let line = raw.line().await;
        if line == "PONG" {
            break;
        }
        assert_eq!(line, "PING");
        raw.send("PONG\r\n").await;
    }
    assert!(server.clients()[0].rtt.is_some());
    server.shutdown().await;
}

/// A subscriber that never reads is cut off once its queued bytes exceed max_pending; it is
/// counted, another subscriber still gets every message, and the publisher never stalls.
#[tokio::test]
async fn slow_consumer_is_disconnected_without_disturbing_others() {
    const PAYLOAD: usize = 1024;
    let server = start(ServerOptions {
        max_pending: 256 * 1024,
        max_payload: PAYLOAD as u32,
        ..ServerOptions::ephemeral()
    })
    .await;

    // The slow one: a small receive buffer; subscribes, sees its PONG, then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let (r, w) = socket.connect(server.addr()).await.unwrap().into_split();
    let mut slow = Raw {
        reader: tokio::io::BufReader::new(r),
        writer: w,
    };
    assert!(slow.line().await.starts_with("INFO "));
    slow.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB data 1\r\nPING\r\n")
        .await;
    slow.expect_line("PONG").await;

    let good = connect(&server).await;
    let mut good_sub = good.subscribe("data").await.unwrap();
    good.flush().await.unwrap();
    let publisher = connect(&server).await;

    let receiver = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(msg) = good_sub.next().await {
            assert_eq!(msg.payload.len(), PAYLOAD);
            n += 1;
            if &msg.payload[..4] == b"last" {
                break;
            }
        }
        n
    });

    let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD]);
    let mut published = 0u64;
    // Publish in rounds until the slow consumer is cut off (bounded: 64 MiB in total).
    while server.stats().slow_consumers == 0 {
        assert!(published < 64 * 1024, "slow consumer never detected");
        for _ in 0..32 {
            publisher.publish("data", payload.clone()).await.unwrap();
            published += 1;
        }
        // The publisher is never stalled: each round trip completes within the bound.
        timeout(BOUND, publisher.flush())
            .await
            .expect("publisher not stalled")
            .unwrap();
    }
    let mut last = vec![b'x'; PAYLOAD];
    last[..4].copy_from_slice(b"last");
    publisher.publish("data", last.into()).await.unwrap();
    published += 1;
    publisher.flush().await.unwrap();

    let received = timeout(BOUND, receiver)
        .await
        .expect("good subscriber finishes")
        .unwrap();
    assert_eq!(received, published, "the good subscriber got every message");
    let stats = server.stats();
    assert_eq!(stats.slow_consumers, 1);
    assert_eq!(stats.connections, 2, "the slow consumer is gone");
    server.shutdown().await;
}

/// A subscriber whose socket stays full past write_deadline is cut off as a slow consumer,
/// even when max_pending is far away.
#[tokio::test]
async fn write_blocked_past_the_deadline_is_a_slow_consumer() {
    let server = start(ServerOptions {
        write_deadline: Duration::from_millis(100),
        // Far enough that only the deadline can trip.
        max_pending: 1 << 30,
        ..ServerOptions::ephemeral()
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let (r, w) = socket.connect(server.addr()).await.unwrap().into_split();
    let mut stuck = Raw {
        reader: tokio::io::BufReader::new(r),
        writer: w,
    };
    assert!(stuck.line().await.starts_with("INFO "));
    stuck
        .send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB data 1\r\nPING\r\n")
        .await;
    stuck.expect_line("PONG").await;

    let publisher = connect(&server).await;
    let payload = bytes::Bytes::from(vec![b'x'; 16 * 1024]);
    let mut published = 0u64;
    // Fill the socket until a write blocks past the deadline (bounded: 256 MiB).
    timeout(Duration::from_secs(30), async {
        while server.stats().slow_consumers == 0 {
            assert!(published < 16 * 1024, "write deadline never hit");
            for _ in 0..16 {
                publisher.publish("data", payload.clone()).await.unwrap();
                published += 1;
            }
            publisher.flush().await.unwrap();
        }
    })
    .await
    .expect("slow consumer detected within bound");
    assert_eq!(server.stats().slow_consumers, 1);
    // The cut-off connection is gone; the publisher is fine.
    timeout(BOUND, async {
        while server.stats().connections != 1 {
            publisher.flush().await.unwrap();
        }
    })
    .await
    .expect("stuck connection removed");
    server.shutdown().await;
}
