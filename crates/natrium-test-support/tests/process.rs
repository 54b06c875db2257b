//! The server process helper against the real reference `nats-server`: it is ready when
//! `start` returns, listens where it says, is gone once killed, and a server that cannot
//! start is reported with what it logged.

use std::time::Duration;

use natrium_test_support::process::{ServerCommand, StartError};
use natrium_test_support::reference::reference_binary_or_skip;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Upper bound for anything a test waits for.
const BOUND: Duration = Duration::from_secs(10);

/// The first line the server sends a new client.
async fn info_line(port: u16) -> String {
    let stream = tokio::time::timeout(BOUND, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect within bound")
        .expect("server accepts clients");
    let mut line = String::new();
    tokio::time::timeout(BOUND, BufReader::new(stream).read_line(&mut line))
        .await
        .expect("INFO within bound")
        .expect("read INFO");
    line
}

#[tokio::test]
async fn a_started_server_accepts_clients_on_its_port_at_once() {
    let Some(bin) = reference_binary_or_skip("test-support process") else {
        return;
    };
    let server = ServerCommand::new(&bin).start().await.expect("starts");
    assert_eq!(
        server.client_url(),
        format!("nats://127.0.0.1:{}", server.port())
    );
    assert_eq!(server.addr().port(), server.port());
    let info = info_line(server.port()).await;
    assert!(info.starts_with("INFO {"), "{info}");
    assert!(
        info.contains(&format!("\"port\":{}", server.port())),
        "{info}"
    );
    assert_eq!(server.log_lines("Server is ready").len(), 1);
    assert_eq!(server.monitor_url(), None);
    server.shutdown().await;
}

#[tokio::test]
async fn a_config_file_is_written_with_listen_and_http_lines_first() {
    let Some(bin) = reference_binary_or_skip("test-support process") else {
        return;
    };
    let server = ServerCommand::new(&bin)
        .config("server_name: \"support-test\"\n")
        .monitor()
        .start()
        .await
        .expect("starts");
    let info = info_line(server.port()).await;
    assert!(info.contains("\"server_name\":\"support-test\""), "{info}");

    let http_port = server.http_port().expect("monitored");
    assert_eq!(
        server.monitor_url(),
        Some(format!("http://127.0.0.1:{http_port}"))
    );
    let mut http = TcpStream::connect(("127.0.0.1", http_port))
        .await
        .expect("monitoring port");
    http.write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    tokio::time::timeout(BOUND, http.read_to_string(&mut response))
        .await
        .expect("response within bound")
        .expect("read response");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(
        response.contains("\"server_name\": \"support-test\""),
        "{response}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_killed_server_no_longer_accepts_clients() {
    let Some(bin) = reference_binary_or_skip("test-support process") else {
        return;
    };
    let mut server = ServerCommand::new(&bin).start().await.expect("starts");
    let port = server.port();
    server.kill().await;
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert!(refused.is_err(), "port {port} still accepts clients");
}

#[tokio::test]
async fn a_server_restarted_on_its_port_serves_from_its_store() {
    let Some(bin) = reference_binary_or_skip("test-support process") else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let mut first = ServerCommand::new(&bin)
        .jetstream(store.path())
        .start()
        .await
        .expect("starts");
    let port = first.port();
    first.kill().await;
    let second = ServerCommand::new(&bin)
        .jetstream(store.path())
        .port(port)
        .start()
        .await
        .expect("restarts on the same port");
    assert_eq!(second.port(), port);
    let info = info_line(port).await;
    assert!(info.contains("\"jetstream\":true"), "{info}");
    second.shutdown().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_is_reported_with_its_log() {
    let Some(bin) = reference_binary_or_skip("test-support process") else {
        return;
    };
    let error = ServerCommand::new(&bin)
        .config("this is { not a config\n")
        .start()
        .await
        .expect_err("a broken config file fails");
    let StartError::NotReady { log, config, .. } = &error else {
        panic!("expected NotReady, got {error}");
    };
    assert!(config.contains("this is { not a config"), "{config}");
    assert!(!log.is_empty(), "nats-server says why it stopped");
    assert!(
        error.to_string().contains("did not become ready"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_binary_is_a_spawn_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-server");
    let error = ServerCommand::new(&missing)
        .start()
        .await
        .expect_err("nothing to run");
    assert!(
        matches!(&error, StartError::Spawn { bin, .. } if *bin == missing),
        "{error}"
    );
}
