//! Delivery guarantees under load: every message a publisher got confirmed (PING/PONG)
//! reaches every subscriber, exactly once, and a subscriber that keeps reading is never cut
//! off as a slow consumer just because its producer is faster.

mod common;

use std::time::Duration;

use common::{BOUND, Raw, connect, start, start_default};
use futures::StreamExt;
use natrium_server::ServerOptions;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// Reads `MSG` frames from a raw subscriber until `expected` arrived; returns the count of
/// each publisher's messages (payloads are `<publisher>:<sequence>` padded to `size`).
async fn count_frames(raw: &mut Raw, expected: usize, publishers: usize) -> Vec<usize> {
    let mut per_publisher = vec![0usize; publishers];
    for _ in 0..expected {
        let line = raw.line().await;
        let size: usize = line
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a MSG line: {line:?}"));
        let payload = raw.payload(size).await;
        let publisher: usize = payload
            .split(|&b| b == b':')
            .next()
            .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())
            .expect("payload starts with the publisher's number");
        per_publisher[publisher] += 1;
    }
    per_publisher
}

/// Several publishers each send a burst, confirm it with PING/PONG and disconnect at once;
/// several subscribers must each get every message of every publisher. Repeated, because
/// a lost wake-up or a stale lookup shows up only in some interleavings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_bursts_reach_every_subscriber_even_when_publishers_leave_at_once() {
    const ROUNDS: usize = 20;
    const PUBLISHERS: usize = 3;
    const SUBSCRIBERS: usize = 3;
    const PER_PUBLISHER: usize = 500;
    const SIZE: usize = 1024;
    let server = start_default().await;
    for round in 0..ROUNDS {
        let subject = format!("delivery.{round}");
        let mut subscribers = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let mut raw = Raw::handshake(&server, QUIET).await;
            raw.send(&format!("SUB {subject} 1\r\nPING\r\n")).await;
            raw.expect_line("PONG").await;
            subscribers.push(tokio::spawn(async move {
                count_frames(&mut raw, PUBLISHERS * PER_PUBLISHER, PUBLISHERS).await
            }));
        }
        let mut publishers = Vec::new();
        for p in 0..PUBLISHERS {
            let mut raw = Raw::handshake(&server, QUIET).await;
            let subject = subject.clone();
            publishers.push(tokio::spawn(async move {
                let mut burst = Vec::with_capacity(PER_PUBLISHER * (SIZE + 32));
                for i in 0..PER_PUBLISHER {
                    let mut payload = format!("{p}:{i}:").into_bytes();
                    payload.resize(SIZE, b'.');
                    burst.extend_from_slice(format!("PUB {subject} {SIZE}\r\n").as_bytes());
                    burst.extend_from_slice(&payload);
                    burst.extend_from_slice(b"\r\n");
                }
                burst.extend_from_slice(b"PING\r\n");
                raw.send_bytes(&burst).await;
                raw.expect_line("PONG").await;
                // Leave at once: the server has confirmed the burst, so nothing may be lost.
            }));
        }
        for publisher in publishers {
            timeout(BOUND, publisher)
                .await
                .expect("publisher confirmed within bound")
                .expect("publisher task");
        }
        for (s, subscriber) in subscribers.into_iter().enumerate() {
            let counts = timeout(BOUND, subscriber)
                .await
                .unwrap_or_else(|_| panic!("round {round}: subscriber {s} incomplete"))
                .expect("subscriber task");
            assert_eq!(
                counts,
                vec![PER_PUBLISHER; PUBLISHERS],
                "round {round}: subscriber {s}"
            );
        }
    }
    assert_eq!(server.stats().slow_consumers, 0);
    server.shutdown().await;
}

/// A fast producer and a subscriber reading as fast as it can through a small max_pending:
/// the producer is held back briefly while the subscriber catches up, so everything
/// arrives and nobody is cut off (nats-server stalls producers the same way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_subscriber_is_never_cut_off_by_a_faster_producer() {
    const SIZE: usize = 16 * 1024;
    const COUNT: usize = 20_000;
    let server = start(ServerOptions {
        max_pending: 1024 * 1024,
        ..ServerOptions::ephemeral()
    })
    .await;
    let mut subscriber = Raw::handshake(&server, QUIET).await;
    subscriber.send("SUB big 1\r\nPING\r\n").await;
    subscriber.expect_line("PONG").await;
    let frame = format!("MSG big 1 {SIZE}\r\n").len() + SIZE + 2;
    let reader = tokio::spawn(async move {
        // Read as fast as possible, in large chunks, counting bytes.
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0usize;
        while total < COUNT * frame {
            match subscriber.reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });

    let publisher = connect(&server).await;
    let payload = bytes::Bytes::from(vec![b'x'; SIZE]);
    timeout(Duration::from_secs(60), async {
        for _ in 0..COUNT {
            publisher.publish("big", payload.clone()).await.unwrap();
        }
        publisher.flush().await.unwrap();
    })
    .await
    .expect("publishing completes within bound");
    let received = timeout(Duration::from_secs(60), reader)
        .await
        .expect("subscriber completes within bound")
        .unwrap();
    assert_eq!(
        (received / frame, server.stats().slow_consumers),
        (COUNT, 0),
        "every message delivered, no slow consumer"
    );
    // The publisher's connection is still healthy.
    let mut echo = publisher.subscribe("echo").await.unwrap();
    publisher.publish("echo", "ok".into()).await.unwrap();
    let msg = timeout(BOUND, echo.next()).await.expect("echo").unwrap();
    assert_eq!(&msg.payload[..], b"ok");
    server.shutdown().await;
}
