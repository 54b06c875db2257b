//! Accounts: isolated subject spaces, users and `no_auth_user` in accounts, stream and
//! service exports/imports, nkey users. Real servers from configuration files, async-nats
//! clients.

mod common;

use std::time::Duration;

use common::{BOUND, Raw};
use futures::StreamExt;
use natrium_server::{Server, config};

/// Starts a server from configuration text (written to a file, as the binary reads it).
async fn start_with(conf: &str) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).expect("write config");
    let opts = config::load(&path).expect("valid configuration").options;
    Server::start(opts).await.expect("server starts")
}

/// The error loading configuration text gives.
fn load_error(conf: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf).expect("write config");
    config::load(&path).expect_err("refused").to_string()
}

async fn login(server: &Server, user: &str, password: &str) -> async_nats::Client {
    let connect = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(server.client_url());
    tokio::time::timeout(BOUND, connect)
        .await
        .expect("connect within bound")
        .expect("connect")
}

async fn next_msg(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("a message within bound")
        .expect("subscription open")
}

const TWO_ACCOUNTS: &str = "accounts {\n  A { users: [{user: a, password: a}, {user: a2, password: a2}] }\n  \
    B { users: [{user: b, password: b}] }\n}\nauthorization { users: [{user: g, password: g}] }\n";

#[tokio::test]
async fn the_same_subject_in_two_accounts_never_crosses() {
    let server = start_with(TWO_ACCOUNTS).await;
    let a = login(&server, "a", "a").await;
    let b = login(&server, "b", "b").await;
    let global = login(&server, "g", "g").await;
    let mut a_sub = a.subscribe("orders").await.unwrap();
    let mut b_sub = b.subscribe("orders").await.unwrap();
    let mut g_sub = global.subscribe("orders").await.unwrap();
    for c in [&a, &b, &global] {
        c.flush().await.unwrap();
    }
    a.publish("orders", "from A".into()).await.unwrap();
    a.flush().await.unwrap();
    // A's message is delivered (or not) before the server answers A's flush; B's and the
    // global account's own messages that follow must then be the first they see.
    b.publish("orders", "from B".into()).await.unwrap();
    global.publish("orders", "from G".into()).await.unwrap();
    assert_eq!(next_msg(&mut a_sub).await.payload, "from A");
    assert_eq!(next_msg(&mut b_sub).await.payload, "from B");
    assert_eq!(next_msg(&mut g_sub).await.payload, "from G");
    // A second user of A shares A's subjects.
    let a2 = login(&server, "a2", "a2").await;
    a2.publish("orders", "from A2".into()).await.unwrap();
    assert_eq!(next_msg(&mut a_sub).await.payload, "from A2");
    let clients = server.clients();
    let accounts: Vec<&str> = clients.iter().map(|c| c.account.as_str()).collect();
    assert_eq!(accounts, ["A", "B", "$G", "A"]);
    server.shutdown().await;
}

#[tokio::test]
async fn no_auth_user_lands_in_its_account() {
    let server = start_with(&format!("{TWO_ACCOUNTS}no_auth_user: a2\n")).await;
    let anonymous = common::connect(&server).await;
    let mut sub = anonymous.subscribe("orders").await.unwrap();
    anonymous.flush().await.unwrap();
    let b = login(&server, "b", "b").await;
    b.publish("orders", "from B".into()).await.unwrap();
    b.flush().await.unwrap();
    let a = login(&server, "a", "a").await;
    a.publish("orders", "from A".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "from A");
    assert_eq!(server.clients()[0].account, "A");
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_export_appears_under_the_import_prefix() {
    let server = start_with(
        "accounts {\n  A { users: [{user: a, password: a}], exports: [{stream: \"orders.>\"}] }\n  \
         B { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: \"orders.>\"}, prefix: shop}] }\n  \
         C { users: [{user: c, password: c}], imports: [{stream: {account: A, subject: \"orders.*\"}, to: \"new.$1\"}] }\n}\n",
    )
    .await;
    let a = login(&server, "a", "a").await;
    let b = login(&server, "b", "b").await;
    let c = login(&server, "c", "c").await;
    let mut prefixed = b.subscribe("shop.orders.>").await.unwrap();
    let mut unprefixed = b.subscribe("orders.>").await.unwrap();
    let mut mapped = c.subscribe("new.*").await.unwrap();
    b.flush().await.unwrap();
    c.flush().await.unwrap();
    a.publish("orders.42", "hello".into()).await.unwrap();
    a.flush().await.unwrap();
    let m = next_msg(&mut prefixed).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("shop.orders.42", &b"hello"[..])
    );
    let m = next_msg(&mut mapped).await;
    assert_eq!(m.subject.as_str(), "new.42");
    // Only the prefixed subject carries the import: B's own `orders.>` stays B's.
    b.publish("orders.mine", "B's own".into()).await.unwrap();
    assert_eq!(next_msg(&mut unprefixed).await.payload, "B's own");
    // Nothing flows back from importer to exporter.
    let mut a_sub = a.subscribe("shop.>").await.unwrap();
    a.flush().await.unwrap();
    b.publish("shop.orders.1", "back?".into()).await.unwrap();
    b.flush().await.unwrap();
    a.publish("shop.x", "A's own".into()).await.unwrap();
    assert_eq!(next_msg(&mut a_sub).await.payload, "A's own");
    server.shutdown().await;
}

const SERVICE: &str = "accounts {\n  A { users: [{user: a, password: a}], exports: [{service: \"help.>\"}, \
     {service: \"feed\", response_type: stream}, {service: \"private\", accounts: [B]}] }\n  \
     B { users: [{user: b, password: b}], imports: [{service: {account: A, subject: \"help.>\"}, to: \"ask.>\"}, \
     {service: {account: A, subject: feed}}, {service: {account: A, subject: private}}] }\n}\n";

#[tokio::test]
async fn a_service_import_is_answered_across_accounts() {
    let server = start_with(SERVICE).await;
    let a = login(&server, "a", "a").await;
    let b = login(&server, "b", "b").await;
    let mut requests = a.subscribe("help.>").await.unwrap();
    a.flush().await.unwrap();
    let responder = tokio::spawn({
        let a = a.clone();
        async move {
            while let Some(req) = requests.next().await {
                let answer = format!(
                    "{} asked {}",
                    req.subject,
                    String::from_utf8_lossy(&req.payload)
                );
                a.publish(req.reply.expect("a reply subject"), answer.into())
                    .await
                    .unwrap();
            }
        }
    });
    let answer = tokio::time::timeout(BOUND, b.request("ask.me", "why".into()))
        .await
        .expect("answered within bound")
        .expect("answered");
    assert_eq!(answer.payload, "help.me asked why");
    let answer = b.request("ask.you", "how".into()).await.expect("answered");
    assert_eq!(answer.payload, "help.you asked how");
    // The service's subject in B is only the import's: A's own subject is not B's.
    let err = b.request("help.me", "direct".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    responder.abort();
    server.shutdown().await;
}

#[tokio::test]
async fn an_imported_request_nobody_answers_gets_no_responders() {
    let server = start_with(SERVICE).await;
    let b = login(&server, "b", "b").await;
    let err = b.request("ask.anyone", "hello?".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    server.shutdown().await;
}

#[tokio::test]
async fn singleton_services_pass_one_answer_and_stream_services_all() {
    let server = start_with(SERVICE).await;
    let a = login(&server, "a", "a").await;
    let b = login(&server, "b", "b").await;
    let mut help = a.subscribe("help.>").await.unwrap();
    let mut feed = a.subscribe("feed").await.unwrap();
    a.flush().await.unwrap();
    let mut inbox = b.subscribe("inbox.>").await.unwrap();
    b.flush().await.unwrap();

    // Singleton: the second answer to one request does not cross.
    b.publish_with_reply("ask.x", "inbox.1", "one".into())
        .await
        .unwrap();
    let req = next_msg(&mut help).await;
    let reply = req.reply.unwrap();
    assert!(reply.starts_with("_R_."), "{reply}");
    a.publish(reply.clone(), "first".into()).await.unwrap();
    a.publish(reply, "second".into()).await.unwrap();
    a.flush().await.unwrap();
    b.publish_with_reply("ask.y", "inbox.2", "two".into())
        .await
        .unwrap();
    let req = next_msg(&mut help).await;
    a.publish(req.reply.unwrap(), "third".into()).await.unwrap();
    let m = next_msg(&mut inbox).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("inbox.1", &b"first"[..])
    );
    let m = next_msg(&mut inbox).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("inbox.2", &b"third"[..])
    );

    // Stream: every answer crosses.
    b.publish_with_reply("feed", "inbox.3", "go".into())
        .await
        .unwrap();
    let req = next_msg(&mut feed).await;
    let reply = req.reply.unwrap();
    for part in ["p1", "p2", "p3"] {
        a.publish(reply.clone(), part.into()).await.unwrap();
    }
    for part in ["p1", "p2", "p3"] {
        let m = next_msg(&mut inbox).await;
        assert_eq!(
            (m.subject.as_str(), &m.payload[..]),
            ("inbox.3", part.as_bytes())
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn permissions_keep_working_inside_accounts() {
    let server = start_with(
        "accounts {\n  A {\n    users: [{user: a, password: a, permissions: {publish: \"allowed.>\"}}, {user: o, password: o}]\n    \
         default_permissions: {subscribe: {deny: \"secret\"}}\n  }\n}\n",
    )
    .await;
    let mut raw = Raw::handshake(&server, r#"{"user":"a","pass":"a","verbose":false}"#).await;
    raw.send("PUB other 0\r\n\r\nPUB allowed.x 0\r\n\r\nPING\r\n")
        .await;
    raw.expect_line(r#"-ERR 'Permissions Violation for Publish to "other"'"#)
        .await;
    raw.expect_line("PONG").await;
    // `o` has no permissions of its own: the account's defaults apply.
    let mut raw = Raw::handshake(&server, r#"{"user":"o","pass":"o","verbose":false}"#).await;
    raw.send("SUB secret 1\r\nPING\r\n").await;
    raw.expect_line(r#"-ERR 'Permissions Violation for Subscription to "secret"'"#)
        .await;
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn nkey_users_log_in_by_signing_the_nonce() {
    let key = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let server = start_with(&format!(
        "accounts {{ A {{ users: [{{nkey: {}}}, {{user: a, password: a}}] }} }}\n",
        key.public_key()
    ))
    .await;
    let a = login(&server, "a", "a").await;
    let mut sub = a.subscribe("hello").await.unwrap();
    a.flush().await.unwrap();
    let connect =
        async_nats::ConnectOptions::with_nkey(key.seed().unwrap()).connect(server.client_url());
    let n = tokio::time::timeout(BOUND, connect)
        .await
        .unwrap()
        .expect("nkey login");
    n.publish("hello", "signed".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "signed");

    // INFO carries a nonce; a signature by another key is refused as nats-server does.
    let (mut raw, info) = Raw::connect(&server).await;
    let info: serde_json::Value =
        serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap();
    let nonce = info["nonce"].as_str().expect("a nonce in INFO");
    assert_eq!(nonce.len(), 15, "{nonce}");
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(stranger.sign(nonce.as_bytes()).unwrap());
    raw.send(&format!(
        "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"verbose\":false}}\r\nPING\r\n",
        key.public_key()
    ))
    .await;
    raw.expect_line("-ERR 'Authorization Violation'").await;
    assert_eq!(raw.read_to_eof().await, "");
    // A stranger's own correct signature does not help either.
    let connect = async_nats::ConnectOptions::with_nkey(stranger.seed().unwrap())
        .connect(server.client_url());
    assert!(tokio::time::timeout(BOUND, connect).await.unwrap().is_err());
    server.shutdown().await;
}

#[test]
fn bad_accounts_are_refused_with_nats_server_texts_naming_the_file_and_line() {
    for (conf, expected) in [
        (
            "accounts {\n  A { users: [{user: a, password: a}] }\n  B { users: [{user: a, password: b}] }\n}\n",
            "Duplicate user \"a\" detected",
        ),
        (
            "accounts {\n  A { imports: [{stream: {account: X, subject: foo}}] }\n}\n",
            "\"X\" account not defined for stream import",
        ),
        (
            "accounts {\n  A { imports: [{stream: {account: B, subject: foo}}] }\n  B { }\n}\n",
            "Error adding stream import \"foo\": stream import not authorized",
        ),
        (
            "accounts {\n  A { imports: [{service: {account: B, subject: foo}}] }\n  \
             B { exports: [{service: foo, accounts: [C]}] }\n  C { }\n}\n",
            "Error adding service import \"foo\": service import not authorized",
        ),
        (
            "accounts {\n  A { imports: [{service: {account: B, subject: foo}}], exports: [{service: bar}] }\n  \
             B { exports: [{service: foo}], imports: [{service: {account: A, subject: bar}, to: foo}] }\n}\n",
            "Error adding service import \"bar\": import forms a cycle",
        ),
        (
            "accounts {\n  A { exports: [{service: foo, response_type: bogus}] }\n}\n",
            "Unknown response type: \"bogus\"",
        ),
        (
            "accounts {\n  A { bogus: 1 }\n}\n",
            "unknown field \"bogus\"",
        ),
        (
            "accounts {\n  \"$G\" { }\n}\n",
            "\"$G\" is a Reserved Account",
        ),
        (
            "accounts {\n  A: [ ]\n}\n",
            "Expected map entries for accounts",
        ),
        (
            "accounts {\n  A { users: [{nkey: UBAD}] }\n}\n",
            "Not a valid public nkey for a user",
        ),
        (
            "accounts {\n  A { exports: [{stream: \"foo.*\"}] }\n  \
             B { imports: [{stream: {account: A, subject: \"foo.*\"}, prefix: \"p.>\"}] }\n}\n",
            "Error adding stream import \"foo.*\": stream import prefix can not contain wildcard tokens",
        ),
        (
            "accounts {\n  A { exports: [{stream: \"foo.*\"}] }\n  \
             B { imports: [{stream: {account: A, subject: \"foo.*\"}, to: bar}] }\n}\n",
            "Error adding stream import \"foo.*\": failed to create mapping transform for stream \
             import subject from \"foo.*\" to \"bar\": invalid mapping destination: not using all of \
             the token wildcard(s) in bar",
        ),
        (
            "accounts {\n  A { exports: [{stream: \"foo.>\"}] }\n  B { imports: [{stream: {account: A}}] }\n}\n",
            "Expect an account name and a subject",
        ),
        (
            "accounts {\n  A { exports: [{stream: \"foo.>\", service: bar}] }\n}\n",
            "Detected service \"bar\" but already saw a stream",
        ),
        (
            "accounts {\n  A { users: [{user: a, password: a}] }\n}\nauthorization { token: abc }\n",
            "Can not have a token and a users array",
        ),
        (
            "accounts {\n  A { users: [{user: a, password: a}] }\n}\nno_auth_user: b\n",
            "no_auth_user: \"b\" not present as user or nkey in authorization block or account configuration",
        ),
    ] {
        let err = load_error(conf);
        assert!(err.contains(expected), "{conf}\n{err}");
        // The file, then a line:column position in it.
        let names_line = err.split("server.conf:").skip(1).any(|rest| {
            rest.split(':')
                .next()
                .is_some_and(|l| l.parse::<u32>().is_ok())
        });
        assert!(names_line, "names the file and line: {err}");
    }
}

#[tokio::test]
async fn accounts_from_the_library_api_are_checked_at_start() {
    let mut opts = natrium_server::ServerOptions::ephemeral();
    opts.accounts = vec![natrium_server::AccountOptions::new("A")];
    opts.auth =
        natrium_server::Auth::Users(vec![natrium_server::User::new("u", "p").in_account("Nope")]);
    let err = Server::start(opts).await.unwrap_err().to_string();
    assert_eq!(err, "user \"u\" names the unknown account \"Nope\"");
    let _ = Duration::ZERO;
}

/// Options from configuration text, as a reload reads them.
fn options(conf: &str) -> natrium_server::ServerOptions {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).expect("write config");
    config::load(&path).expect("valid configuration").options
}

#[tokio::test]
async fn reload_adds_and_removes_accounts_without_dropping_other_clients() {
    let server = start_with(TWO_ACCOUNTS).await;
    let b = login(&server, "b", "b").await;
    let mut sub = b.subscribe("orders").await.unwrap();
    b.flush().await.unwrap();
    let mut a = Raw::handshake(&server, r#"{"user":"a","pass":"a","verbose":false}"#).await;

    // A user added to B, and a new account N exporting a stream that B imports.
    let next = TWO_ACCOUNTS.replace(
        "{user: b, password: b}] }",
        "{user: b, password: b}, {user: c, password: c}], \
         imports: [{stream: {account: N, subject: news}}] }\n  \
         N { users: [{user: n, password: n}], exports: [{stream: news}] }",
    );
    server.reload(&options(&next));
    let c = login(&server, "c", "c").await;
    c.publish("orders", "from C".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "from C");
    let mut news = b.subscribe("news").await.unwrap();
    b.flush().await.unwrap();
    let n = login(&server, "n", "n").await;
    n.publish("news", "imported".into()).await.unwrap();
    assert_eq!(next_msg(&mut news).await.payload, "imported");

    // Account A removed: its client is closed, B's clients keep working.
    let without_a = next.replace(
        "A { users: [{user: a, password: a}, {user: a2, password: a2}] }",
        "",
    );
    server.reload(&options(&without_a));
    // The server closes A's connection (read_to_eof fails the test if it stays open).
    a.read_to_eof().await;
    b.publish("orders", "still B".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "still B");
    let refused = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(server.client_url());
    assert!(tokio::time::timeout(BOUND, refused).await.unwrap().is_err());

    // A bad reload (an import of an unknown account) changes nothing.
    let mut bad = options(&without_a);
    bad.accounts[0].imports.push(natrium_server::Import {
        kind: natrium_server::ImportKind::Stream,
        account: "X".into(),
        subject: "x".into(),
        to: None,
        prefix: None,
    });
    server.reload(&bad);
    let n_again = login(&server, "n", "n").await;
    n_again
        .publish("news", "still imported".into())
        .await
        .unwrap();
    assert_eq!(next_msg(&mut news).await.payload, "still imported");
    server.shutdown().await;
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let addr = server.monitor_addr().expect("monitoring on");
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

async fn get_json(server: &Server, path: &str) -> serde_json::Value {
    let (status, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

#[tokio::test]
async fn monitoring_shows_accounts_in_connz_accountz_and_metrics() {
    let server = start_with(&format!(
        "http_port: -1\n{}",
        SERVICE.replace(
            "B { users",
            "G2 { exports: [{stream: \"s.>\", accounts: [B]}] }\n  B { users"
        )
    ))
    .await;
    let a = login(&server, "a", "a").await;
    let _sub = a.subscribe("help.>").await.unwrap();
    a.flush().await.unwrap();
    let b = login(&server, "b", "b").await;
    b.flush().await.unwrap();

    let connz = get_json(&server, "/connz?auth=1").await;
    let accounts: Vec<&str> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["A", "B"]);
    // Without `auth`, nats-server shows no account.
    let connz = get_json(&server, "/connz").await;
    assert!(connz["connections"][0].get("account").is_none(), "{connz}");
    let only_b = get_json(&server, "/connz?acc=B&auth=1").await;
    assert_eq!(only_b["num_connections"], 1);
    assert_eq!(only_b["connections"][0]["authorized_user"], "b");

    let list = get_json(&server, "/accountz").await;
    assert_eq!(
        list["accounts"],
        serde_json::json!(["$G", "A", "G2", "B", "$SYS"])
    );
    let a_doc = get_json(&server, "/accountz?acc=A").await;
    let detail = &a_doc["account_detail"];
    assert_eq!(detail["account_name"], "A");
    assert_eq!(detail["client_connections"], 1);
    assert_eq!(detail["exports"][0]["subject"], "help.>");
    assert_eq!(detail["exports"][0]["type"], "service");
    assert_eq!(detail["exports"][0]["response_type"], "Singleton");
    assert_eq!(
        detail["exports"][2]["approved_accounts"],
        serde_json::json!(["B"])
    );
    let b_doc = get_json(&server, "/accountz?acc=B").await;
    let import = &b_doc["account_detail"]["imports"][0];
    assert_eq!(
        (
            import["subject"].as_str(),
            import["account"].as_str(),
            import["to"].as_str()
        ),
        (Some("help.>"), Some("A"), Some("ask.>"))
    );
    assert_eq!(import["local_subject"], "ask.>");
    let (status, body) = get(&server, "/accountz?acc=NOPE").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Account NOPE does not exist")
    );

    let (_, metrics) = get(&server, "/metrics").await;
    assert!(
        metrics.contains("natrium_server_account_connections{account=\"A\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("natrium_server_account_connections{account=\"$G\"} 0"),
        "{metrics}"
    );
    server.shutdown().await;
}
