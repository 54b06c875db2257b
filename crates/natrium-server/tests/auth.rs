//! Authentication: token, one user, a list of users; violations and the auth timeout.

mod common;

use std::time::Duration;

use common::{Raw, start};
use natrium_server::{Auth, ServerOptions, User};

fn with_auth(auth: Auth) -> ServerOptions {
    ServerOptions {
        auth,
        ..ServerOptions::ephemeral()
    }
}

async fn expect_rejected(server: &natrium_server::Server, connect_json: &str) {
    let (mut raw, info) = Raw::connect(server).await;
    assert!(info.contains(r#""auth_required":true"#), "{info}");
    raw.send(&format!("CONNECT {connect_json}\r\n")).await;
    assert_eq!(
        raw.read_to_eof().await,
        "-ERR 'Authorization Violation'\r\n"
    );
}

#[tokio::test]
async fn token_auth() {
    let server = start(with_auth(Auth::Token("s3cr3t".into()))).await;
    let mut ok = Raw::handshake(&server, r#"{"verbose":false,"auth_token":"s3cr3t"}"#).await;
    ok.send("SUB a 1\r\nPUB a 1\r\nx\r\nPING\r\n").await;
    ok.expect_line("MSG a 1 1").await;
    expect_rejected(&server, r#"{"auth_token":"wrong"}"#).await;
    expect_rejected(&server, r#"{}"#).await;

    let client = async_nats::ConnectOptions::with_token("s3cr3t".into())
        .connect(server.client_url())
        .await
        .expect("official client authenticates with a token");
    client.flush().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn single_user_auth() {
    let server = start(with_auth(Auth::user("alice", "pw1"))).await;
    Raw::handshake(&server, r#"{"verbose":false,"user":"alice","pass":"pw1"}"#).await;
    expect_rejected(&server, r#"{"user":"alice","pass":"nope"}"#).await;
    expect_rejected(&server, r#"{"user":"bob","pass":"pw1"}"#).await;
    let client = async_nats::ConnectOptions::with_user_and_password("alice".into(), "pw1".into())
        .connect(server.client_url())
        .await
        .expect("official client authenticates");
    client.flush().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn user_list_auth() {
    let server = start(with_auth(Auth::Users(vec![
        User::new("a", "1"),
        User::new("b", "2"),
    ])))
    .await;
    let _a = Raw::handshake(&server, r#"{"verbose":false,"user":"a","pass":"1"}"#).await;
    let _b = Raw::handshake(&server, r#"{"verbose":false,"user":"b","pass":"2"}"#).await;
    expect_rejected(&server, r#"{"user":"a","pass":"2"}"#).await;
    let users: Vec<Option<String>> = server.clients().into_iter().map(|c| c.user).collect();
    assert!(
        users.contains(&Some("a".into())) && users.contains(&Some("b".into())),
        "{users:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn operations_before_connect_are_a_violation_when_auth_is_on() {
    let server = start(with_auth(Auth::Token("t".into()))).await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("PING\r\n").await;
    assert_eq!(
        raw.read_to_eof().await,
        "-ERR 'Authorization Violation'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_connect_within_auth_timeout_closes() {
    let server = start(ServerOptions {
        auth_timeout: Duration::from_millis(100),
        ..with_auth(Auth::Token("t".into()))
    })
    .await;
    let (mut raw, _) = Raw::connect(&server).await;
    assert_eq!(raw.read_to_eof().await, "-ERR 'Authentication Timeout'\r\n");
    server.shutdown().await;
}

/// With `no_auth_user`, INFO does not announce `auth_required` (clients without credentials
/// get in), as nats-server 2.9.10 sends it; a reload changes what new clients are told.
#[tokio::test]
async fn info_follows_no_auth_user_and_reloads() {
    let users = Auth::Users(vec![User::new("guest", "g"), User::new("a", "b")]);
    let mut opts = ServerOptions {
        no_auth_user: Some("guest".into()),
        ..with_auth(users)
    };
    let server = start(opts.clone()).await;
    let (mut raw, info) = Raw::connect(&server).await;
    assert!(!info.contains("auth_required"), "{info}");
    assert!(info.contains(r#""max_payload":1048576,"#), "{info}");
    raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    raw.expect_line("PONG").await;

    opts.no_auth_user = None;
    opts.max_payload = 4096;
    server.reload(&opts);
    let (_, info) = Raw::connect(&server).await;
    assert!(info.contains(r#""auth_required":true"#), "{info}");
    assert!(info.contains(r#""max_payload":4096,"#), "{info}");
    server.shutdown().await;
}
