//! Protocol behaviour seen on the wire by a raw client: verbose, pedantic, echo, headers,
//! auto-unsubscribe, no responders, errors that keep the connection.

mod common;

use common::{BOUND, Raw, connect, start, start_default};
use futures::StreamExt;
use natrium_server::ServerOptions;
use tokio::time::timeout;

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;
const QUIET_HEADERS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

#[tokio::test]
async fn verbose_acknowledges_each_operation_with_ok() {
    let server = start_default().await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n")
        .await;
    raw.expect_line("+OK").await; // CONNECT
    raw.expect_line("+OK").await; // SUB
    raw.expect_line("+OK").await; // PUB, before the message it delivers
    raw.expect_line("MSG foo 1 2").await;
    assert_eq!(raw.payload(2).await, b"hi");
    raw.expect_line("+OK").await; // UNSUB
    raw.expect_line("PONG").await; // PING gets only PONG
    server.shutdown().await;
}

#[tokio::test]
async fn connect_without_fields_keeps_verbose_and_pedantic_on() {
    let server = start_default().await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("CONNECT {}\r\nSUB > 1\r\nPUB foo.* 0\r\n\r\nPING\r\n")
        .await;
    // Bytes as nats-server 2.9.10 sends them.
    for line in [
        "+OK",
        "+OK",
        "-ERR 'Invalid Publish Subject'",
        "+OK",
        "MSG foo.* 1 0",
        "",
        "PONG",
    ] {
        raw.expect_line(line).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn pedantic_complains_about_wildcard_publish_and_keeps_the_connection() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, r#"{"verbose":false,"pedantic":true}"#).await;
    raw.send("SUB > 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..bar 2\r\nhi\r\nPUB ok 2\r\nhi\r\nPING\r\n")
        .await;
    // Complained about, yet still routed (as nats-server does); `foo..bar` matches nothing.
    raw.expect_line("-ERR 'Invalid Publish Subject'").await;
    raw.expect_line("MSG foo.* 1 2").await;
    assert_eq!(raw.payload(2).await, b"hi");
    raw.expect_line("-ERR 'Invalid Publish Subject'").await;
    raw.expect_line("MSG ok 1 2").await;
    assert_eq!(raw.payload(2).await, b"hi");
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_sub_subject_is_refused_and_the_connection_stays() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send("SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo 3\r\nPUB foo 2\r\nok\r\nPING\r\n")
        .await;
    raw.expect_line("-ERR 'Invalid Subject'").await;
    raw.expect_line("-ERR 'Invalid Subject'").await;
    raw.expect_line("MSG foo 3 2").await;
    assert_eq!(raw.payload(2).await, b"ok");
    raw.expect_line("PONG").await;
    assert_eq!(server.stats().subscriptions, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn echo_false_suppresses_own_messages_only() {
    let server = start_default().await;
    let mut me = Raw::handshake(
        &server,
        r#"{"verbose":false,"pedantic":false,"echo":false}"#,
    )
    .await;
    let mut other = Raw::handshake(&server, QUIET).await;
    other.send("SUB foo 9\r\nPING\r\n").await;
    other.expect_line("PONG").await;
    me.send("SUB foo 1\r\nPUB foo 4\r\nself\r\nPING\r\n").await;
    me.expect_line("PONG").await; // nothing before the PONG: no echo
    other.expect_line("MSG foo 9 4").await;
    assert_eq!(other.payload(4).await, b"self");
    server.shutdown().await;
}

#[tokio::test]
async fn echo_false_with_the_official_client() {
    let server = start_default().await;
    let me = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(server.client_url())
        .await
        .unwrap();
    let mut own = me.subscribe("news").await.unwrap();
    let other = connect(&server).await;
    let mut theirs = other.subscribe("news").await.unwrap();
    other.flush().await.unwrap();
    me.publish("news", "mine".into()).await.unwrap();
    other.publish("news", "theirs".into()).await.unwrap();
    other.flush().await.unwrap();
    me.flush().await.unwrap();
    let first = timeout(BOUND, own.next()).await.unwrap().unwrap();
    assert_eq!(
        &first.payload[..],
        b"theirs",
        "own message must not come back"
    );
    // The other connection (echo on) gets both.
    let mut both = Vec::new();
    for _ in 0..2 {
        both.push(
            timeout(BOUND, theirs.next())
                .await
                .unwrap()
                .unwrap()
                .payload
                .to_vec(),
        );
    }
    both.sort();
    assert_eq!(both, [b"mine".to_vec(), b"theirs".to_vec()]);
    server.shutdown().await;
}

#[tokio::test]
async fn headers_reach_header_clients_as_hmsg_and_others_stripped() {
    let server = start_default().await;
    let mut plain = Raw::handshake(&server, QUIET).await;
    plain.send("SUB foo 1\r\nPING\r\n").await;
    plain.expect_line("PONG").await;
    let mut hdr = Raw::handshake(&server, QUIET_HEADERS).await;
    hdr.send("SUB foo 2\r\nHPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\nPING\r\n")
        .await;
    hdr.expect_line("HMSG foo 2 18 23").await;
    assert_eq!(hdr.payload(23).await, b"NATS/1.0\r\nA: b\r\n\r\nhello");
    hdr.expect_line("PONG").await;
    plain.send("PING\r\n").await;
    plain.expect_line("MSG foo 1 5").await;
    assert_eq!(plain.payload(5).await, b"hello");
    plain.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn hpub_without_headers_in_connect_closes() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send("HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").await;
    assert_eq!(raw.read_to_eof().await, "");
    server.shutdown().await;
}

#[tokio::test]
async fn multi_valued_headers_round_trip_with_the_official_client() {
    let server = start_default().await;
    let c = connect(&server).await;
    let mut sub = c.subscribe("h").await.unwrap();
    c.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.append("X-Tag", "one");
    headers.append("X-Tag", "two");
    headers.insert("Trace", "abc");
    c.publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    let msg = timeout(BOUND, sub.next()).await.unwrap().unwrap();
    let got = msg.headers.expect("headers");
    let tags: Vec<&str> = got.get_all("X-Tag").map(|v| v.as_str()).collect();
    assert_eq!(tags, ["one", "two"]);
    assert_eq!(got.get("Trace").map(|v| v.as_str()), Some("abc"));
    assert_eq!(&msg.payload[..], b"body");
    server.shutdown().await;
}

#[tokio::test]
async fn unsub_with_max_stops_after_max_deliveries() {
    let server = start_default().await;
    let mut sub = Raw::handshake(&server, QUIET).await;
    sub.send("SUB foo 1\r\nUNSUB 1 2\r\nPING\r\n").await;
    sub.expect_line("PONG").await;
    let mut publisher = Raw::handshake(&server, QUIET).await;
    publisher
        .send("PUB foo 1\r\n1\r\nPUB foo 1\r\n2\r\nPUB foo 1\r\n3\r\nPING\r\n")
        .await;
    publisher.expect_line("PONG").await;
    sub.send("PING\r\n").await;
    for n in ["1", "2"] {
        sub.expect_line("MSG foo 1 1").await;
        assert_eq!(sub.payload(1).await, n.as_bytes());
    }
    sub.expect_line("PONG").await;
    assert_eq!(server.stats().subscriptions, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn unsub_max_already_reached_removes_at_once() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send(
        "SUB foo 1\r\nPUB foo 1\r\n1\r\nPUB foo 1\r\n2\r\nUNSUB 1 1\r\nPUB foo 1\r\n3\r\nPING\r\n",
    )
    .await;
    for n in ["1", "2"] {
        raw.expect_line("MSG foo 1 1").await;
        assert_eq!(raw.payload(1).await, n.as_bytes());
    }
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_after_with_the_official_client() {
    let server = start_default().await;
    let c = connect(&server).await;
    let mut sub = c.subscribe("tick").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    c.flush().await.unwrap();
    for i in 0..5 {
        c.publish("tick", i.to_string().into()).await.unwrap();
    }
    c.flush().await.unwrap();
    let mut got = Vec::new();
    while let Some(msg) = timeout(BOUND, sub.next()).await.expect("ends within bound") {
        got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
    }
    assert_eq!(got, ["0", "1", "2"]);
    assert_eq!(server.stats().subscriptions, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_status_has_nats_server_bytes() {
    let server = start_default().await;
    let mut raw = Raw::handshake(
        &server,
        r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#,
    )
    .await;
    raw.send("SUB _INBOX.* 7\r\nPUB nobody _INBOX.x 3\r\nask\r\nPING\r\n")
        .await;
    raw.expect_line("HMSG _INBOX.x 7 16 16").await;
    assert_eq!(raw.payload(16).await, b"NATS/1.0 503\r\n\r\n");
    raw.expect_line("PONG").await;
    // Without no_responders, silence.
    let mut quiet = Raw::handshake(&server, QUIET_HEADERS).await;
    quiet
        .send("SUB _INBOX.a 1\r\nPUB nobody _INBOX.a 3\r\nask\r\nPING\r\n")
        .await;
    quiet.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn no_responders_without_headers_is_refused() {
    let server = start_default().await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("CONNECT {\"verbose\":false,\"no_responders\":true}\r\n")
        .await;
    assert_eq!(
        raw.read_to_eof().await,
        "-ERR 'no responders requires headers support'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_operation_is_an_error_that_closes() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, QUIET).await;
    raw.send("FOO bar\r\n").await;
    assert_eq!(
        raw.read_to_eof().await,
        "-ERR 'Unknown Protocol Operation'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_connect_json_closes_without_error_text() {
    let server = start_default().await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("CONNECT {\"verbose\":false\r\n").await;
    assert_eq!(raw.read_to_eof().await, "");
    server.shutdown().await;
}

#[tokio::test]
async fn ops_before_connect_work_without_auth() {
    let server = start_default().await;
    let (mut raw, _) = Raw::connect(&server).await;
    raw.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n").await;
    raw.expect_line("+OK").await;
    raw.expect_line("+OK").await;
    raw.expect_line("MSG foo 1 2").await;
    assert_eq!(raw.payload(2).await, b"hi");
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_stats_are_tracked_per_connection() {
    let server = start(ServerOptions::ephemeral()).await;
    let mut raw = Raw::handshake(
        &server,
        r#"{"verbose":false,"pedantic":false,"name":"probe","lang":"raw","version":"9"}"#,
    )
    .await;
    raw.send("SUB a.b 1\r\nPUB a.b 3\r\nabc\r\nPING\r\n").await;
    raw.expect_line("MSG a.b 1 3").await;
    raw.payload(3).await;
    raw.expect_line("PONG").await;
    let clients = server.clients();
    assert_eq!(clients.len(), 1);
    let c = &clients[0];
    assert_eq!(
        (c.name.as_str(), c.lang.as_str(), c.version.as_str()),
        ("probe", "raw", "9")
    );
    assert_eq!(
        (c.in_msgs, c.in_bytes, c.out_msgs, c.out_bytes),
        (1, 3, 1, 3)
    );
    assert_eq!(c.subscriptions, ["a.b"]);
    server.shutdown().await;
}

#[tokio::test]
async fn size_fields_are_echoed_as_written() {
    let server = start_default().await;
    let mut raw = Raw::handshake(&server, QUIET_HEADERS).await;
    raw.send(
        "SUB foo 1\r\nPUB foo 002\r\nhi\r\nHPUB foo 012 0014\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
    )
    .await;
    raw.expect_line("MSG foo 1 002").await;
    assert_eq!(raw.payload(2).await, b"hi");
    raw.expect_line("HMSG foo 1 012 0014").await;
    assert_eq!(raw.payload(14).await, b"NATS/1.0\r\n\r\nhi");
    raw.expect_line("PONG").await;
    server.shutdown().await;
}
