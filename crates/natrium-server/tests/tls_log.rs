//! What natrium-server logs about TLS handshakes, in nats-server 2.9.10's words (observed on
//! the reference server with `-D`):
//!
//! ```text
//! [DBG] 127.0.0.1:53078 - cid:4 - Client connection created
//! [DBG] 127.0.0.1:53078 - cid:4 - Starting TLS client connection handshake
//! [ERR] 127.0.0.1:53078 - cid:4 - TLS handshake error: tls: first record does not look like a TLS handshake
//! [DBG] 127.0.0.1:53078 - cid:4 - Client connection closed: TLS Handshake Failure
//! [ERR] 127.0.0.1:53084 - cid:6 - TLS handshake error: read tcp 127.0.0.1:14222->127.0.0.1:53084: i/o timeout
//! [ERR] 127.0.0.1:53084 - cid:6 - TLS handshake timeout
//! [ERR] 127.0.0.1:53690 - cid:4 - TLS handshake error: tls: client didn't provide a certificate
//! [ERR] 127.0.0.1:40206 - cid:4 - TLS handshake error: tls: failed to verify client certificate: x509: certificate signed by unknown authority
//! [DBG] 127.0.0.1:53092 - cid:7 - TLS handshake complete
//! [DBG] 127.0.0.1:53092 - cid:7 - TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256
//! ```
//!
//! One test in its own binary: it installs the process-wide logger.

use natrium_test_support::certs;
mod common;

use std::path::Path;
use std::time::Duration;

use common::BOUND;
use natrium_server::logging::{self, LogLevel};
use natrium_server::{Server, ServerOptions, TlsOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The log lines about connection `local_port`'s peer, without the `[pid] time ` prefix.
fn lines_for(log: &Path, peer: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("] {peer} - cid:")))
        .map(|l| {
            let tag = l.find(" [").map_or(l, |i| &l[i + 1..]);
            // Drop the cid, which depends on test order.
            let mut parts = tag.splitn(2, " - cid:");
            let head = parts.next().unwrap_or_default();
            let rest = parts.next().unwrap_or_default();
            let rest = rest.split_once(" - ").map_or(rest, |(_, r)| r);
            format!("{head} - {rest}")
        })
        .collect()
}

/// Waits until the connection from `peer` has a "closed" line (its last one).
async fn closed_lines(log: &Path, peer: &str) -> Vec<String> {
    tokio::time::timeout(BOUND, async {
        loop {
            let lines = lines_for(log, peer);
            if lines.iter().any(|l| l.contains("Client connection closed")) {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no close logged for {peer}: {:?}", lines_for(log, peer)))
}

/// Connects over plain TCP, reads INFO, sends `send`, reads until the server closes.
async fn plain(server: &Server, send: &[u8]) -> String {
    let stream = TcpStream::connect(server.addr()).await.expect("connect");
    let peer = stream.local_addr().expect("local addr").to_string();
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    reader.read_line(&mut info).await.expect("INFO");
    reader.get_mut().write_all(send).await.expect("send");
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, reader.read_to_end(&mut rest))
        .await
        .expect("closed within bound")
        .expect("clean close");
    peer
}

#[tokio::test]
async fn tls_handshakes_are_logged_as_nats_server_logs_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let level = LogLevel {
        debug: true,
        ..LogLevel::default()
    };
    logging::init(level, Some(&log)).expect("logger");
    let certs = certs::Certs::generate();
    let mut tls = TlsOptions::new(&certs.server_cert, &certs.server_key).verify_clients(&certs.ca);
    tls.timeout = Duration::from_millis(300);
    let server = Server::start(ServerOptions {
        tls: Some(tls),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect("server starts");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("[INF] TLS required for client connections\n"),
        "{text}"
    );

    let peer = plain(&server, b"CONNECT {}\r\nPING\r\n").await;
    assert_eq!(
        closed_lines(&log, &peer).await,
        [
            format!("[DBG] {peer} - Client connection created"),
            format!("[DBG] {peer} - Starting TLS client connection handshake"),
            format!(
                "[ERR] {peer} - TLS handshake error: tls: first record does not look like a TLS handshake"
            ),
            format!("[DBG] {peer} - Client connection closed: TLS Handshake Failure"),
        ]
    );

    let peer = plain(&server, b"").await;
    let server_addr = server.addr();
    assert_eq!(
        closed_lines(&log, &peer).await,
        [
            format!("[DBG] {peer} - Client connection created"),
            format!("[DBG] {peer} - Starting TLS client connection handshake"),
            format!(
                "[ERR] {peer} - TLS handshake error: read tcp {server_addr}->{peer}: i/o timeout"
            ),
            format!("[ERR] {peer} - TLS handshake timeout"),
            format!("[DBG] {peer} - Client connection closed: TLS Handshake Failure"),
        ]
    );

    // A TLS client without a certificate.
    let no_cert = tokio::time::timeout(
        BOUND,
        async_nats::ConnectOptions::new()
            .add_root_certificates(certs.ca.clone())
            .require_tls(true)
            .connect(server.client_url()),
    )
    .await
    .expect("connect attempt within bound");
    assert!(no_cert.is_err());
    let text = std::fs::read_to_string(&log).expect("log");
    let refused = tokio::time::timeout(BOUND, async {
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("TLS handshake error: tls: client didn't provide a certificate") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "{text}");

    // A client certificate from another CA.
    let rogue = tokio::time::timeout(
        BOUND,
        async_nats::ConnectOptions::new()
            .add_root_certificates(certs.ca.clone())
            .add_client_certificate(certs.rogue_cert.clone(), certs.rogue_key.clone())
            .require_tls(true)
            .connect(server.client_url()),
    )
    .await
    .expect("connect attempt within bound");
    assert!(rogue.is_err());
    let unknown = "TLS handshake error: tls: failed to verify client certificate: \
                   x509: certificate signed by unknown authority";
    let logged = tokio::time::timeout(BOUND, async {
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(unknown) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        logged.is_ok(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // A verified client.
    let client = tokio::time::timeout(
        BOUND,
        async_nats::ConnectOptions::new()
            .add_root_certificates(certs.ca.clone())
            .add_client_certificate(certs.client_cert.clone(), certs.client_key.clone())
            .require_tls(true)
            .connect(server.client_url()),
    )
    .await
    .expect("connect within bound")
    .expect("verified client connects");
    client.flush().await.expect("flush");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains(" - TLS handshake complete\n"), "{text}");
    assert!(
        text.contains(" - TLS version 1.3, cipher suite TLS_AES_"),
        "{text}"
    );
    server.shutdown().await;
}
