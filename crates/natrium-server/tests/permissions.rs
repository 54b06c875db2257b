//! Per-user publish/subscribe permissions: exact `-ERR` bytes (as nats-server 2.9 sends them),
//! the connection staying open, refused messages going nowhere, and the official client's view.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Raw, start};
use futures::{FutureExt, StreamExt};
use natrium_server::{Auth, Permissions, ServerOptions, SubjectPermission, User};

const BOUND: Duration = Duration::from_secs(5);

/// User `a` as in the reference check (see the module doc), user `open` unrestricted.
fn options() -> ServerOptions {
    let a = User::new("a", "a").with_permissions(Permissions {
        publish: Some(SubjectPermission::allow(["foo.>", "bar"]).deny(["foo.secret"])),
        subscribe: Some(SubjectPermission::allow(["foo.*", "q.> grp"]).deny(["foo.bar"])),
        ..Permissions::default()
    });
    ServerOptions {
        auth: Auth::Users(vec![a, User::new("open", "o")]),
        ..ServerOptions::ephemeral()
    }
}

/// Reads lines up to PONG, returning the non-MSG lines in order and the MSG lines as a set.
async fn until_pong(raw: &mut Raw) -> (Vec<String>, BTreeSet<String>) {
    let (mut other, mut msgs) = (Vec::new(), BTreeSet::new());
    loop {
        let line = raw.line().await;
        if line == "PONG" {
            return (other, msgs);
        }
        if line.starts_with("MSG ") {
            raw.line().await; // payload
            msgs.insert(line);
        } else {
            other.push(line);
        }
    }
}

#[tokio::test]
async fn violations_get_nats_server_errors_and_the_connection_stays_open() {
    let server = start(options()).await;
    let mut raw = Raw::handshake(&server, r#"{"user":"a","pass":"a","verbose":false}"#).await;
    raw.send(
        "PUB foo.secret 1\r\nx\r\nPUB zzz 1\r\nx\r\nSUB foo.bar 1\r\nSUB foo.* 2\r\n\
         SUB foo.> 3\r\nSUB q.a 4\r\nSUB q.a grp 5\r\nSUB q.a other 6\r\nSUB foo.x 8\r\n\
         PUB foo.x 1\r\ny\r\nPING\r\n",
    )
    .await;
    let (errors, msgs) = until_pong(&mut raw).await;
    assert_eq!(
        errors,
        [
            r#"-ERR 'Permissions Violation for Publish to "foo.secret"'"#,
            r#"-ERR 'Permissions Violation for Publish to "zzz"'"#,
            r#"-ERR 'Permissions Violation for Subscription to "foo.bar"'"#,
            r#"-ERR 'Permissions Violation for Subscription to "q.a"'"#,
            r#"-ERR 'Permissions Violation for Subscription to "q.a" using queue "other"'"#,
        ]
    );
    // `foo.>` is allowed by `foo.*` (the subscription's `>` is matched as a token).
    let expected: BTreeSet<String> = ["MSG foo.x 2 1", "MSG foo.x 3 1", "MSG foo.x 8 1"]
        .map(String::from)
        .into();
    assert_eq!(msgs, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_messages_reach_nobody_and_denied_subjects_skip_wildcard_subscriptions() {
    let server = start(options()).await;
    let mut watcher =
        Raw::handshake(&server, r#"{"user":"open","pass":"o","verbose":false}"#).await;
    watcher.send("SUB > 1\r\nPING\r\n").await;
    watcher.expect_line("PONG").await;

    let mut a = Raw::handshake(&server, r#"{"user":"a","pass":"a","verbose":false}"#).await;
    // `foo.*` is allowed, but `foo.bar` is denied: it must not arrive through the wildcard.
    a.send("SUB foo.* 2\r\nPING\r\n").await;
    a.expect_line("PONG").await;
    // In verbose mode a refused publish gets the -ERR instead of +OK.
    a.send("CONNECT {\"user\":\"a\",\"pass\":\"a\",\"verbose\":true}\r\n")
        .await;
    a.expect_line("+OK").await;
    a.send("PUB zzz 2\r\nno\r\nPUB bar 3\r\nyes\r\nPING\r\n")
        .await;
    a.expect_line(r#"-ERR 'Permissions Violation for Publish to "zzz"'"#)
        .await;
    a.expect_line("+OK").await;
    a.expect_line("PONG").await;

    let mut open = Raw::handshake(&server, r#"{"user":"open","pass":"o","verbose":false}"#).await;
    open.send("PUB foo.bar 6\r\ndenied\r\nPUB foo.baz 2\r\nok\r\nPING\r\n")
        .await;
    open.expect_line("PONG").await;
    a.send("PING\r\n").await;
    // Only foo.baz reaches `a`'s wildcard subscription.
    a.expect_line("MSG foo.baz 2 2").await;
    a.expect_line("ok").await;
    a.expect_line("PONG").await;

    // The watcher saw the allowed publish, never the refused one.
    watcher.send("PING\r\n").await;
    let (other, msgs) = until_pong(&mut watcher).await;
    assert!(other.is_empty(), "{other:?}");
    let expected: BTreeSet<String> = ["MSG bar 1 3", "MSG foo.bar 1 6", "MSG foo.baz 1 2"]
        .map(String::from)
        .into();
    assert_eq!(msgs, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn official_client_sees_permission_errors_and_no_messages() {
    let server = start(options()).await;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .event_callback(move |event| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(server.client_url())
        .await
        .expect("connects");
    let observer = async_nats::ConnectOptions::with_user_and_password("open".into(), "o".into())
        .connect(server.client_url())
        .await
        .expect("connects");
    let mut seen = observer.subscribe(">").await.expect("subscribe");
    observer.flush().await.expect("flush");

    client
        .publish("foo.secret", "x".into())
        .await
        .expect("queued");
    client.publish("foo.ok", "y".into()).await.expect("queued");
    client.flush().await.expect("flush");
    let denied = tokio::time::timeout(BOUND, async {
        loop {
            match events.recv().await {
                Some(async_nats::Event::ServerError(e)) => return e.to_string(),
                Some(_) => continue,
                None => panic!("event channel closed"),
            }
        }
    })
    .await
    .expect("a server error event");
    assert!(
        denied.contains(r#"Permissions Violation for Publish to "foo.secret""#),
        "{denied}"
    );
    // Publishes are ordered: the first message the observer sees is the allowed one.
    let first = tokio::time::timeout(BOUND, seen.next())
        .await
        .expect("a message")
        .expect("subscription open");
    assert_eq!(first.subject.as_str(), "foo.ok");

    let mut sub = client.subscribe("foo.bar").await.expect("queued");
    client.flush().await.expect("flush");
    let refused = tokio::time::timeout(BOUND, async {
        loop {
            if let Some(async_nats::Event::ServerError(e)) = events.recv().await {
                return e.to_string();
            }
        }
    })
    .await
    .expect("a server error event");
    assert!(
        refused.contains(r#"Permissions Violation for Subscription to "foo.bar""#),
        "{refused}"
    );
    // The connection is still usable, and the refused subscription gets nothing: a message
    // published after it reaches an allowed subscription, so the refused one was not sent.
    let mut allowed = client.subscribe("foo.baz").await.expect("queued");
    client.flush().await.expect("still connected");
    observer
        .publish("foo.bar", "z".into())
        .await
        .expect("queued");
    observer
        .publish("foo.baz", "w".into())
        .await
        .expect("queued");
    observer.flush().await.expect("flush");
    let later = tokio::time::timeout(BOUND, allowed.next())
        .await
        .expect("a message")
        .expect("subscription open");
    assert_eq!(later.subject.as_str(), "foo.baz");
    assert!(
        sub.next().now_or_never().is_none(),
        "a refused subscription received a message"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn config_file_users_permissions_bcrypt_and_no_auth_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:-1\nno_auth_user: guest\nauthorization {{\n  users = [\n    \
             {{user: admin, password: \"{hash}\"}}\n    \
             {{user: guest, password: g, permissions: {{publish: \"pub.>\", subscribe: {{deny: [\"secret.>\"]}}}}}}\n  ]\n}}\n"
        ),
    )
    .expect("write config");
    let opts = natrium_server::config::load(&path).expect("valid").options;
    let server = start(opts).await;
    // bcrypt-hashed password.
    let mut admin =
        Raw::handshake(&server, r#"{"user":"admin","pass":"pw","verbose":false}"#).await;
    admin.send("PUB any 0\r\n\r\nPING\r\n").await;
    admin.expect_line("PONG").await;
    // No credentials: the guest, with the guest's permissions.
    let mut guest = Raw::handshake(&server, r#"{"verbose":false}"#).await;
    guest
        .send("PUB any 0\r\n\r\nPUB pub.x 0\r\n\r\nSUB secret.a 1\r\nSUB public 2\r\nPING\r\n")
        .await;
    guest
        .expect_line(r#"-ERR 'Permissions Violation for Publish to "any"'"#)
        .await;
    guest
        .expect_line(r#"-ERR 'Permissions Violation for Subscription to "secret.a"'"#)
        .await;
    guest.expect_line("PONG").await;
    server.shutdown().await;
}

#[test]
fn invalid_permission_subjects_are_config_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(
        &path,
        "authorization { users = [ {user: a, password: b, permissions: {publish: \"a..b\"}} ] }\n",
    )
    .expect("write config");
    let err = natrium_server::config::load(&path).unwrap_err().to_string();
    assert!(err.contains("invalid subject \"a..b\""), "{err}");
}

/// Waits for the next server error a client reports.
async fn next_server_error(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<async_nats::Event>,
) -> String {
    tokio::time::timeout(BOUND, async {
        loop {
            match events.recv().await {
                Some(async_nats::Event::ServerError(e)) => return e.to_string(),
                Some(_) => continue,
                None => panic!("event channel closed"),
            }
        }
    })
    .await
    .expect("a server error event")
}

#[tokio::test]
async fn allow_responses_lets_a_publish_denied_responder_answer_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(
        &path,
        "listen: 127.0.0.1:-1\nauthorization {\n  users = [\n    \
         {user: svc, password: s, permissions: {publish: {deny: \">\"}, allow_responses: true}}\n    \
         {user: app, password: a}\n  ]\n}\n",
    )
    .expect("write config");
    let opts = natrium_server::config::load(&path).expect("valid").options;
    let server = start(opts).await;

    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let svc = async_nats::ConnectOptions::with_user_and_password("svc".into(), "s".into())
        .event_callback(move |event| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(server.client_url())
        .await
        .expect("responder connects");
    let app = async_nats::ConnectOptions::with_user_and_password("app".into(), "a".into())
        .connect(server.client_url())
        .await
        .expect("requester connects");

    // The official request/reply path works.
    let mut requests = svc.subscribe("svc.echo").await.expect("subscribe");
    svc.flush().await.expect("flush");
    let responder = tokio::spawn(async move {
        let req = requests.next().await.expect("a request");
        let reply = req.reply.clone().expect("a reply subject");
        svc.publish(reply.clone(), req.payload.clone())
            .await
            .expect("queued");
        (svc, requests, reply)
    });
    let answer = tokio::time::timeout(BOUND, app.request("svc.echo", "ping".into()))
        .await
        .expect("reply within bound")
        .expect("a reply, not a permissions error");
    assert_eq!(&answer.payload[..], b"ping");
    let (svc, mut requests, first_reply) = responder.await.expect("responder task");

    // A second response to the same request is refused (max 1), and so is an inbox it never
    // received a request for.
    svc.publish(first_reply.clone(), "again".into())
        .await
        .expect("queued");
    let err = next_server_error(&mut events).await;
    assert!(
        err.contains(&format!(
            "Permissions Violation for Publish to \"{first_reply}\""
        )),
        "{err}"
    );
    svc.publish("_INBOX.never.received", "x".into())
        .await
        .expect("queued");
    let err = next_server_error(&mut events).await;
    assert!(
        err.contains("Permissions Violation for Publish to \"_INBOX.never.received\""),
        "{err}"
    );

    // What reached the requester: a manual inbox sees the answer to a fresh request and
    // nothing from the refused publishes.
    let mut inbox = app.subscribe("_INBOX.manual.>").await.expect("subscribe");
    app.flush().await.expect("flush");
    app.publish_with_reply("svc.echo", "_INBOX.manual.1", "one".into())
        .await
        .expect("queued");
    let req = tokio::time::timeout(BOUND, requests.next())
        .await
        .expect("request within bound")
        .expect("a request");
    assert_eq!(req.reply.as_deref(), Some("_INBOX.manual.1"));
    svc.publish("_INBOX.manual.1", "first".into())
        .await
        .expect("queued");
    svc.publish("_INBOX.manual.1", "second".into())
        .await
        .expect("queued");
    let err = next_server_error(&mut events).await;
    assert!(
        err.contains("Permissions Violation for Publish to \"_INBOX.manual.1\""),
        "{err}"
    );
    // The responder still has its connection; answering another request works.
    app.publish_with_reply("svc.echo", "_INBOX.manual.2", "two".into())
        .await
        .expect("queued");
    let req = tokio::time::timeout(BOUND, requests.next())
        .await
        .expect("request within bound")
        .expect("a request");
    assert_eq!(req.reply.as_deref(), Some("_INBOX.manual.2"));
    svc.publish("_INBOX.manual.2", "third".into())
        .await
        .expect("queued");
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(BOUND, inbox.next())
            .await
            .expect("message within bound")
            .expect("message");
        got.push(format!(
            "{} {}",
            msg.subject,
            String::from_utf8_lossy(&msg.payload)
        ));
    }
    assert_eq!(got, ["_INBOX.manual.1 first", "_INBOX.manual.2 third"]);
    server.shutdown().await;
}

use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

/// A raw client on `addr`: INFO read, CONNECT sent, PONG received.
async fn raw_login(addr: std::net::SocketAddr, user: &str, pass: &str) -> Raw {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (r, w) = stream.into_split();
    let mut raw = Raw {
        reader: tokio::io::BufReader::new(r),
        writer: w,
    };
    raw.line().await; // INFO
    raw.send(&format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{pass}\",\"verbose\":false}}\r\nPING\r\n"
    ))
    .await;
    raw.expect_line("PONG").await;
    raw
}

/// Sends `ops` and a PING; returns every line up to the PONG.
async fn exchange(raw: &mut Raw, ops: &str) -> Vec<String> {
    raw.send(&format!("{ops}PING\r\n")).await;
    let mut lines = Vec::new();
    loop {
        let line = raw.line().await;
        if line == "PONG" {
            return lines;
        }
        lines.push(line);
    }
}

/// The allow_responses session on one server, as the two clients saw it.
async fn responses_session(addr: std::net::SocketAddr) -> Vec<Vec<String>> {
    let mut svc = raw_login(addr, "svc", "s").await;
    let mut app = raw_login(addr, "app", "a").await;
    vec![
        exchange(&mut svc, "SUB svc.echo 1\r\n").await,
        exchange(&mut app, "SUB _INBOX.x.> 9\r\nPUB svc.echo _INBOX.x.1 2\r\nhi\r\n").await,
        exchange(&mut svc, "").await,
        exchange(
            &mut svc,
            "PUB _INBOX.x.1 1\r\na\r\nPUB _INBOX.x.1 1\r\nb\r\nPUB _INBOX.x.2 1\r\nc\r\nPUB foo 1\r\nd\r\n",
        )
        .await,
        exchange(&mut app, "").await,
    ]
}

#[tokio::test]
async fn allow_responses_matches_nats_server_on_the_wire() {
    let Some(bin) = reference::reference_binary_or_skip("allow_responses differential") else {
        return;
    };
    let users = "authorization {\n  users = [\n    \
         {user: svc, password: s, permissions: {publish: {deny: \">\"}, allow_responses: {max: 1, expires: \"1m\"}}}\n    \
         {user: app, password: a}\n  ]\n}\n";
    let reference = ServerCommand::new(&bin)
        .config(users)
        .start()
        .await
        .expect("reference starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{users}")).expect("write config");
    let server = start(natrium_server::config::load(&path).expect("valid").options).await;

    let theirs = responses_session(reference.addr()).await;
    let ours = responses_session(server.addr()).await;
    assert_eq!(ours, theirs);
    // And what that is: one answer through, the rest refused.
    assert_eq!(
        ours[4],
        ["MSG _INBOX.x.1 9 1", "a"],
        "the requester got exactly one response"
    );
    assert_eq!(ours[3].len(), 3, "{:?}", ours[3]);
    reference.shutdown().await;
    server.shutdown().await;
}
