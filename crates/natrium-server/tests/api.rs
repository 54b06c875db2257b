//! The embedding API: start, addresses, shutdown.

mod common;

use common::{BOUND, Raw, start_default};
use natrium_server::{Server, ServerOptions};

#[tokio::test]
async fn start_listens_and_sends_info_with_nats_server_fields() {
    let server = start_default().await;
    assert_eq!(
        server.client_url(),
        format!("nats://127.0.0.1:{}", server.addr().port())
    );
    let (_raw, info) = Raw::connect(&server).await;
    let json: serde_json::Value =
        serde_json::from_str(info.trim_start_matches("INFO ").trim_end()).expect("INFO json");
    assert_eq!(json["proto"], 1);
    assert_eq!(json["headers"], true);
    assert_eq!(json["max_payload"], 1048576);
    assert_eq!(json["port"], server.addr().port());
    assert_eq!(json["host"], "127.0.0.1");
    assert_eq!(json["client_ip"], "127.0.0.1");
    assert!(json["client_id"].as_u64().is_some());
    assert!(json.get("auth_required").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_clients_and_stops_listening() {
    let server = start_default().await;
    let addr = server.addr();
    let (mut raw, _) = Raw::connect(&server).await;
    tokio::time::timeout(BOUND, server.shutdown())
        .await
        .expect("shutdown within bound");
    assert_eq!(raw.read_to_eof().await, "");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // A second shutdown is harmless.
    server.shutdown().await;
}

#[tokio::test]
async fn binding_a_taken_port_is_a_clear_error() {
    let first = start_default().await;
    let err = Server::start(ServerOptions {
        port: first.addr().port(),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect_err("port is taken");
    assert!(err.to_string().contains("can't listen"), "{err}");
    first.shutdown().await;
}
