//! Operator mode: JWTs minted at test time (operator → account → user), `resolver: MEMORY`
//! with `resolver_preload`, `.creds` logins with async-nats, claims enforced (expiry,
//! revocation, permissions, signing keys, bearer tokens, limits), and the refusals compared
//! with the reference nats-server on the wire.

mod common;
use natrium_test_support::jwt::{account_claims, creds, jwt, now, user_claims};
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{BOUND, Raw};
use futures::StreamExt;
use natrium_server::{Server, config};
use nkeys::KeyPair;
use serde_json::{Value, json};
use tokio::io::BufReader;

/// An operator with its accounts; writes the server configuration.
struct Setup {
    operator: KeyPair,
    dir: tempfile::TempDir,
    accounts: Vec<(String, String)>,
    /// More configuration lines (e.g. `system_account`).
    extra: String,
}

impl Setup {
    fn new() -> Self {
        Setup {
            operator: KeyPair::new_operator(),
            dir: tempfile::tempdir().unwrap(),
            accounts: Vec::new(),
            extra: String::new(),
        }
    }

    /// Adds an account JWT signed by the operator; returns the account's key pair.
    fn account(&mut self, extra: Value) -> KeyPair {
        let account = KeyPair::new_account();
        let token = jwt(
            &self.operator,
            &account.public_key(),
            account_claims(extra),
            json!({}),
        );
        self.accounts.push((account.public_key(), token));
        account
    }

    /// The configuration text (without `listen`), with the operator JWT inline.
    fn conf(&self) -> String {
        self.conf_with_operator(false)
    }

    /// The configuration text; the operator JWT inline or named by its file.
    fn conf_with_operator(&self, by_file: bool) -> String {
        let operator_jwt = jwt(
            &self.operator,
            &self.operator.public_key(),
            json!({"type": "operator", "version": 2}),
            json!({}),
        );
        std::fs::write(self.dir.path().join("op.jwt"), &operator_jwt).unwrap();
        let mut preload = String::new();
        for (key, token) in &self.accounts {
            preload.push_str(&format!("  {key}: \"{token}\"\n"));
        }
        let operator = if by_file {
            "op.jwt".to_string()
        } else {
            operator_jwt
        };
        format!(
            "operator: {operator}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n{}",
            self.extra
        )
    }

    async fn start(&self) -> Server {
        let path = self.dir.path().join("server.conf");
        // The operator by file, as nsc setups name it.
        let conf = self.conf_with_operator(true);
        std::fs::write(
            &path,
            format!("listen: 127.0.0.1:-1\nhttp_port: -1\n{conf}"),
        )
        .unwrap();
        let opts = config::load(&path).expect("valid configuration").options;
        Server::start(opts).await.expect("server starts")
    }
}

/// A user of `account`: its key pair and JWT.
fn user(account: &KeyPair, extra: Value, registered: Value) -> (KeyPair, String) {
    let user = KeyPair::new_user();
    let token = jwt(account, &user.public_key(), user_claims(extra), registered);
    (user, token)
}

/// Connects with a `.creds` file on disk, as applications do.
async fn connect(
    server: &Server,
    token: &str,
    user: &KeyPair,
) -> Result<async_nats::Client, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.creds");
    std::fs::write(&path, creds(token, user)).unwrap();
    let options = async_nats::ConnectOptions::with_credentials_file(&path)
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(BOUND, options.connect(server.client_url()))
        .await
        .expect("connect within bound")
        .map_err(|e| e.to_string())
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("a message within bound")
        .expect("subscription open")
}

/// Logs in on a raw connection with `token`, signing the INFO nonce with `signer` (or not
/// at all); returns the connection after the CONNECT was sent.
async fn raw_login(addr: std::net::SocketAddr, token: &str, signer: Option<&KeyPair>) -> Raw {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, w) = stream.into_split();
    let mut raw = Raw {
        reader: BufReader::new(r),
        writer: w,
    };
    let info = raw.line().await;
    let info: Value = serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap();
    let nonce = info["nonce"].as_str().expect("operator mode sends a nonce");
    let sig = signer.map(|k| URL_SAFE_NO_PAD.encode(k.sign(nonce.as_bytes()).unwrap()));
    let connect = json!({"verbose": false, "pedantic": false, "jwt": token, "sig": sig});
    raw.send(&format!("CONNECT {connect}\r\nPING\r\n")).await;
    raw
}

#[tokio::test]
async fn creds_users_talk_inside_their_account_and_accounts_stay_apart() {
    let mut setup = Setup::new();
    let a = setup.account(json!({}));
    let b = setup.account(json!({}));
    let server = setup.start().await;
    let (ua, ta) = user(&a, json!({}), json!({}));
    let (ua2, ta2) = user(&a, json!({}), json!({}));
    let (ub, tb) = user(&b, json!({}), json!({}));
    let ca = connect(&server, &ta, &ua).await.expect("A's user logs in");
    let ca2 = connect(&server, &ta2, &ua2)
        .await
        .expect("A's second user logs in");
    let cb = connect(&server, &tb, &ub).await.expect("B's user logs in");
    let mut sa = ca.subscribe("events").await.unwrap();
    let mut sb = cb.subscribe("events").await.unwrap();
    ca.flush().await.unwrap();
    cb.flush().await.unwrap();
    ca2.publish("events", "from A".into()).await.unwrap();
    ca2.flush().await.unwrap();
    cb.publish("events", "from B".into()).await.unwrap();
    assert_eq!(next(&mut sa).await.payload, "from A");
    assert_eq!(next(&mut sb).await.payload, "from B");
    let accounts: Vec<String> = server.clients().into_iter().map(|c| c.account).collect();
    assert_eq!(accounts, [a.public_key(), a.public_key(), b.public_key()]);
    let monitor = server.monitor_addr().expect("monitoring on");
    let list: Value = reqwest::get(format!("http://{monitor}/accountz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["accounts"],
        json!(["$G", a.public_key(), b.public_key(), "$SYS"])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_exports_and_imports_connect_accounts() {
    let mut setup = Setup::new();
    let a = setup.account(json!({
        "exports": [{"subject": "svc.>", "type": "service"}, {"subject": "feed.>", "type": "stream"}]
    }));
    let b = setup.account(json!({
        "imports": [
            {"subject": "svc.>", "account": a.public_key(), "type": "service", "local_subject": "ask.>"},
            {"subject": "feed.>", "account": a.public_key(), "type": "stream", "to": "fromA"}
        ]
    }));
    let server = setup.start().await;
    let (ua, ta) = user(&a, json!({}), json!({}));
    let (ub, tb) = user(&b, json!({}), json!({}));
    let ca = connect(&server, &ta, &ua).await.unwrap();
    let cb = connect(&server, &tb, &ub).await.unwrap();
    let mut requests = ca.subscribe("svc.>").await.unwrap();
    ca.flush().await.unwrap();
    let mut feed = cb.subscribe("fromA.feed.>").await.unwrap();
    cb.flush().await.unwrap();
    let responder = tokio::spawn({
        let ca = ca.clone();
        async move {
            let req = requests.next().await.unwrap();
            ca.publish(
                req.reply.unwrap(),
                format!("answer to {}", req.subject).into(),
            )
            .await
            .unwrap();
            ca.flush().await.unwrap();
        }
    });
    let answer = cb.request("ask.time", "?".into()).await.expect("answered");
    assert_eq!(answer.payload, "answer to svc.time");
    responder.await.unwrap();
    ca.publish("feed.news", "extra".into()).await.unwrap();
    assert_eq!(next(&mut feed).await.subject.as_str(), "fromA.feed.news");
    server.shutdown().await;
}

#[tokio::test]
async fn user_permissions_and_limits_from_the_jwt_are_enforced() {
    let mut setup = Setup::new();
    let a = setup.account(json!({}));
    let server = setup.start().await;
    let (u, t) = user(
        &a,
        json!({"pub": {"allow": ["ok.>"]}, "sub": {"deny": ["secret"]}, "subs": 2, "payload": 8}),
        json!({}),
    );
    let mut raw = raw_login(server.addr(), &t, Some(&u)).await;
    raw.expect_line("PONG").await;
    raw.send("PUB no 0\r\n\r\nSUB secret 1\r\nSUB a 2\r\nSUB b 3\r\nSUB c 4\r\nPING\r\n")
        .await;
    raw.expect_line(r#"-ERR 'Permissions Violation for Publish to "no"'"#)
        .await;
    raw.expect_line(r#"-ERR 'Permissions Violation for Subscription to "secret"'"#)
        .await;
    raw.expect_line("-ERR 'maximum subscriptions exceeded'")
        .await;
    raw.expect_line("PONG").await;
    raw.send("PUB ok.x 9\r\n123456789\r\n").await;
    raw.expect_line("-ERR 'Maximum Payload Violation'").await;
    server.shutdown().await;
}

#[tokio::test]
async fn signing_keys_and_bearer_tokens_are_honoured() {
    let mut setup = Setup::new();
    let signer = KeyPair::new_account();
    let a = setup.account(json!({"signing_keys": [signer.public_key()]}));
    let server = setup.start().await;
    // Signed by the account's signing key, naming the account.
    let (u, t) = user(
        &signer,
        json!({"issuer_account": a.public_key()}),
        json!({}),
    );
    connect(&server, &t, &u)
        .await
        .expect("signing key accepted");
    // A key the account does not list.
    let stranger = KeyPair::new_account();
    let (u, t) = user(
        &stranger,
        json!({"issuer_account": a.public_key()}),
        json!({}),
    );
    assert!(connect(&server, &t, &u).await.is_err());
    // A bearer token needs no nonce signature.
    let (_, t) = user(&a, json!({"bearer_token": true}), json!({}));
    let mut raw = raw_login(server.addr(), &t, None).await;
    raw.expect_line("PONG").await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_account_connection_limit_refuses_one_more() {
    let mut setup = Setup::new();
    let a = setup.account(
        json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
        "exports": -1, "wildcards": true, "conn": 1, "leaf": -1}}),
    );
    let server = setup.start().await;
    let (u, t) = user(&a, json!({}), json!({}));
    let mut first = raw_login(server.addr(), &t, Some(&u)).await;
    first.expect_line("PONG").await;
    let mut second = raw_login(server.addr(), &t, Some(&u)).await;
    second
        .expect_line("-ERR 'maximum account active connections exceeded'")
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_user_whose_jwt_expires_while_connected_is_disconnected() {
    let mut setup = Setup::new();
    let a = setup.account(json!({}));
    let server = setup.start().await;
    // JWT times are in whole seconds: this one lapses within two.
    let (u, t) = user(&a, json!({}), json!({"exp": now() + 2}));
    let mut raw = raw_login(server.addr(), &t, Some(&u)).await;
    raw.expect_line("PONG").await;
    let line = tokio::time::timeout(Duration::from_secs(4), raw.line())
        .await
        .expect("disconnected when the JWT expires");
    assert_eq!(line, "-ERR 'User Authentication Expired'");
    server.shutdown().await;
}

/// Refusals nats-server answers with `Authorization Violation`: the same bytes from both.
#[tokio::test]
async fn bad_jwts_are_refused_as_nats_server_refuses_them() {
    let mut setup = Setup::new();
    let a = setup.account(json!({}));
    let revoked = KeyPair::new_user();
    // Revocations apply to JWTs issued at or before the time given.
    let r = setup.account(json!({"revocations": {revoked.public_key(): now() + 60}}));
    let rogue_operator = KeyPair::new_operator();
    let unknown = KeyPair::new_account();
    let _ = jwt(
        &rogue_operator,
        &unknown.public_key(),
        account_claims(json!({})),
        json!({}),
    );
    let (expired_user, expired) = user(&a, json!({}), json!({"exp": now() - 10}));
    let revoked_token = jwt(&r, &revoked.public_key(), user_claims(json!({})), json!({}));
    let (unknown_user, unknown_token) = user(&unknown, json!({}), json!({}));
    let (good_user, good) = user(&a, json!({}), json!({}));
    let other = KeyPair::new_user();
    let cases: Vec<(&str, String, Option<&KeyPair>)> = vec![
        ("expired", expired, Some(&expired_user)),
        ("revoked", revoked_token, Some(&revoked)),
        ("unknown account", unknown_token, Some(&unknown_user)),
        ("wrong signer", good.clone(), Some(&other)),
        ("no signature", good.clone(), None),
        (
            "garbage",
            "eyJhbGciOi.garbage.x".to_string(),
            Some(&good_user),
        ),
    ];
    let natrium = setup.start().await;
    let bin = reference::reference_binary_or_skip("operator");
    let reference = match &bin {
        Some(bin) => Some(
            ServerCommand::new(bin)
                .config(setup.conf())
                .start()
                .await
                .unwrap(),
        ),
        None => None,
    };
    for (what, token, signer) in &cases {
        let mut ours = raw_login(natrium.addr(), token, *signer).await;
        ours.expect_line("-ERR 'Authorization Violation'").await;
        let rest = ours.read_to_eof().await;
        assert_eq!(rest, "", "{what}: closed after the error");
        if let Some(reference) = &reference {
            let mut theirs = raw_login(reference.addr(), token, *signer).await;
            let line = theirs.line().await;
            assert_eq!(line, "-ERR 'Authorization Violation'", "{what}: reference");
        }
    }
    // INFO in operator mode: the same fields (values differ per server).
    let keys = |addr| async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut lines = BufReader::new(stream);
        let mut info = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut info)
            .await
            .unwrap();
        let info: Value = serde_json::from_str(info.trim_start_matches("INFO ").trim()).unwrap();
        let mut keys: Vec<String> = info.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, info["auth_required"].clone())
    };
    let (ours, auth) = keys(natrium.addr()).await;
    assert_eq!(auth, json!(true));
    assert!(ours.contains(&"nonce".to_string()), "{ours:?}");
    if let Some(reference) = &reference {
        let (theirs, _) = keys(reference.addr()).await;
        assert_eq!(ours, theirs);
    }
    // The good one, for contrast: both admit it.
    let mut ours = raw_login(natrium.addr(), &good, Some(&good_user)).await;
    ours.expect_line("PONG").await;
    if let Some(reference) = reference {
        let mut theirs = raw_login(reference.addr(), &good, Some(&good_user)).await;
        theirs.expect_line("PONG").await;
        reference.shutdown().await;
    }
    natrium.shutdown().await;
}

#[test]
fn untrusted_accounts_and_other_resolvers_are_refused_at_load() {
    let mut setup = Setup::new();
    setup.account(json!({}));
    // An account signed by another operator.
    let rogue = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let token = jwt(
        &rogue,
        &account.public_key(),
        account_claims(json!({})),
        json!({}),
    );
    setup.accounts.push((account.public_key(), token));
    let path = setup.dir.path().join("bad.conf");
    std::fs::write(&path, setup.conf()).unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    assert!(err.contains("not by a trusted operator"), "{err}");
    assert!(err.contains("bad.conf:1:1"), "{err}");

    std::fs::write(&path, "operator: op.jwt\nresolver: {type: full, dir: x}\n").unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("only `resolver: MEMORY` is supported yet"),
        "{err}"
    );
}

/// An operator setup with a system account (and its user's `.creds` login) for account JWT
/// updates.
struct WithSystem {
    setup: Setup,
    sys_user: (KeyPair, String),
}

impl WithSystem {
    fn new() -> Self {
        let mut setup = Setup::new();
        let sys = setup.account(json!({}));
        setup.extra = format!("system_account: {}\n", sys.public_key());
        let sys_user = user(&sys, json!({}), json!({}));
        WithSystem { setup, sys_user }
    }

    /// Starts the reference (the newest nats-server) with the same configuration, if found.
    async fn reference(&self) -> Option<natrium_test_support::process::ServerProcess> {
        let bin = reference::latest_binary_or_skip("operator updates")?;
        Some(
            ServerCommand::new(bin)
                .config(self.setup.conf())
                .start()
                .await
                .expect("reference starts"),
        )
    }
}

/// Logs in with `.creds` at `url` (natrium-server or the reference).
async fn connect_url(url: &str, token: &str, user: &KeyPair) -> async_nats::Client {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.creds");
    std::fs::write(&path, creds(token, user)).unwrap();
    let options = async_nats::ConnectOptions::with_credentials_file(&path)
        .await
        .unwrap();
    tokio::time::timeout(BOUND, options.connect(url))
        .await
        .expect("connect within bound")
        .expect("connect")
}

/// Sends an account JWT update as the system user; returns the reply.
async fn claims_update(sys: &async_nats::Client, subject: String, token: String) -> Value {
    let reply = tokio::time::timeout(BOUND, sys.request(subject, token.into()))
        .await
        .expect("reply within bound")
        .expect("reply");
    serde_json::from_slice(&reply.payload).unwrap()
}

/// The reply without what differs per server (`server`).
fn without_server(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("server");
    v
}

/// Revokes `revoked` in account `a` through a claims update at `addr`; returns the reply
/// and what the revoked user's open connection got.
async fn revoke_through_update(
    addr: std::net::SocketAddr,
    setup: &WithSystem,
    a: &KeyPair,
    revoked: (&KeyPair, &str),
) -> (Value, String, String) {
    let url = format!("nats://{addr}");
    let (sys_key, sys_token) = &setup.sys_user;
    let sys = connect_url(&url, sys_token, sys_key).await;
    let mut raw = raw_login(addr, revoked.1, Some(revoked.0)).await;
    raw.expect_line("PONG").await;
    let update = jwt(
        &setup.setup.operator,
        &a.public_key(),
        account_claims(json!({"revocations": {revoked.0.public_key(): now()}})),
        json!({}),
    );
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", a.public_key());
    let reply = claims_update(&sys, subject, update).await;
    let error = raw.line().await;
    let rest = raw.read_to_eof().await;
    // A new login with the revoked JWT is refused too.
    let mut again = raw_login(addr, revoked.1, Some(revoked.0)).await;
    let refused = again.line().await;
    assert_eq!(rest, "", "closed after the error");
    (without_server(reply), error, refused)
}

#[tokio::test]
async fn an_account_jwt_update_revokes_connected_users_as_nats_server_does() {
    let mut setup = WithSystem::new();
    let a = setup.setup.account(json!({}));
    let (revoked, revoked_token) = user(&a, json!({}), json!({"iat": now() - 5}));
    let server = setup.setup.start().await;
    let ours = revoke_through_update(server.addr(), &setup, &a, (&revoked, &revoked_token)).await;
    assert_eq!(
        ours.0,
        json!({"data": {"account": a.public_key(), "code": 200, "message": "jwt updated"}})
    );
    assert_eq!(ours.1, "-ERR 'User Authentication Revoked'");
    assert_eq!(ours.2, "-ERR 'Authorization Violation'");
    if let Some(reference) = setup.reference().await {
        let theirs =
            revoke_through_update(reference.addr(), &setup, &a, (&revoked, &revoked_token)).await;
        assert_eq!(ours, theirs);
        reference.shutdown().await;
    }
    server.shutdown().await;
}

/// Sends the refused and skipped updates at `url`; returns the replies.
async fn bad_updates(url: &str, setup: &WithSystem, a: &KeyPair, unknown: &KeyPair) -> Vec<Value> {
    let (sys_key, sys_token) = &setup.sys_user;
    let sys = connect_url(url, sys_token, sys_key).await;
    // nats-server loads a preloaded account when it is first used, and skips updates of
    // accounts not loaded yet: a client of A makes the comparison meaningful.
    let (a_user, a_token) = user(a, json!({}), json!({}));
    let _a = connect_url(url, &a_token, &a_user).await;
    let rogue = KeyPair::new_operator();
    let for_account = |key: &KeyPair, signer: &KeyPair| {
        jwt(
            signer,
            &key.public_key(),
            account_claims(json!({})),
            json!({}),
        )
    };
    let new_subject =
        |key: &KeyPair| format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", key.public_key());
    let old_subject = |key: &KeyPair| format!("$SYS.ACCOUNT.{}.CLAIMS.UPDATE", key.public_key());
    let op = &setup.setup.operator;
    let cases = [
        // An account the server does not have: nothing to update.
        (new_subject(unknown), for_account(unknown, op)),
        // The JWT is about another account than the subject names.
        (new_subject(a), for_account(unknown, op)),
        // Signed by an operator the server does not trust.
        (old_subject(a), for_account(a, &rogue)),
        // No JWT at all.
        (new_subject(a), String::new()),
    ];
    let mut replies = Vec::new();
    for (subject, token) in cases {
        replies.push(without_server(claims_update(&sys, subject, token).await));
    }
    replies
}

#[tokio::test]
async fn refused_and_skipped_account_jwt_updates_answer_as_nats_server_does() {
    let mut setup = WithSystem::new();
    let a = setup.setup.account(json!({}));
    let server = setup.setup.start().await;
    let unknown = KeyPair::new_account();
    let ours = bad_updates(&server.client_url(), &setup, &a, &unknown).await;
    let key = a.public_key();
    assert_eq!(ours[0]["data"]["message"], "jwt update skipped");
    assert_eq!(
        ours[1],
        json!({"error": {"account": key, "code": 500,
            "description": "jwt update resulted in error - subject does not match jwt content"}})
    );
    assert_eq!(
        ours[2],
        json!({"error": {"account": key, "code": 500,
            "description": "jwt update resulted in error - account validation failed"}})
    );
    assert_eq!(
        ours[3],
        json!({"error": {"account": key, "code": 500,
            "description": "jwt update error - request body is empty"}})
    );
    if let Some(reference) = setup.reference().await {
        let theirs = bad_updates(&reference.client_url(), &setup, &a, &unknown).await;
        assert_eq!(ours, theirs);
        reference.shutdown().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_account_jwt_update_installs_new_imports_for_connected_clients() {
    let mut setup = WithSystem::new();
    let a = setup.setup.account(json!({
        "exports": [{"name": "svc", "subject": "svc.time", "type": "service"}],
    }));
    let b = setup.setup.account(json!({}));
    let server = setup.setup.start().await;
    let (sys_key, sys_token) = &setup.sys_user;
    let sys = connect(&server, sys_token, sys_key).await.unwrap();
    let (ua, ta) = user(&a, json!({}), json!({}));
    let (ub, tb) = user(&b, json!({}), json!({}));
    let responder = connect(&server, &ta, &ua).await.unwrap();
    let requester = connect(&server, &tb, &ub).await.unwrap();
    let mut requests = responder.subscribe("svc.time").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            if let Some(reply) = m.reply {
                responder.publish(reply, "noon".into()).await.unwrap();
            }
        }
    });
    let before = requester.request("svc.time", "".into()).await;
    assert!(before.is_err(), "no import yet");
    let update = jwt(
        &setup.setup.operator,
        &b.public_key(),
        account_claims(json!({"imports": [{"name": "time", "subject": "svc.time",
            "account": a.public_key(), "type": "service"}]})),
        json!({}),
    );
    let reply = claims_update(
        &sys,
        format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", b.public_key()),
        update,
    )
    .await;
    assert_eq!(reply["data"]["message"], "jwt updated", "{reply}");
    let answer = tokio::time::timeout(BOUND, requester.request("svc.time", "".into()))
        .await
        .expect("answer within bound")
        .expect("the import answers");
    assert_eq!(answer.payload, "noon");
    server.shutdown().await;
}

/// An activation token: `exporter` lets `importer` import `subject`.
fn activation(exporter: &KeyPair, importer: &KeyPair, subject: &str, extra: Value) -> String {
    jwt(
        exporter,
        &importer.public_key(),
        json!({"type": "activation", "version": 2, "subject": subject, "kind": "service"}),
        extra,
    )
}

/// Which of B (valid token), C (no token), D (expired token) and E (a token for B) get an
/// answer from A's private service at `url` (`None`: the login was refused).
async fn private_service_answers(
    url: &str,
    a: &(KeyPair, String),
    importers: &[(KeyPair, String)],
) -> Vec<Option<bool>> {
    let responder = connect_url(url, &a.1, &a.0).await;
    let mut requests = responder.subscribe("priv.svc").await.unwrap();
    responder.flush().await.unwrap();
    let answering = tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            if let Some(reply) = m.reply {
                responder.publish(reply, "ok".into()).await.unwrap();
                responder.flush().await.unwrap();
            }
        }
    });
    let mut answered = Vec::new();
    for (key, token) in importers {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.creds");
        std::fs::write(&path, creds(token, key)).unwrap();
        let options = async_nats::ConnectOptions::with_credentials_file(&path)
            .await
            .unwrap();
        let Ok(client) = options.connect(url).await else {
            answered.push(None);
            continue;
        };
        let reply = tokio::time::timeout(BOUND, client.request("priv.svc", "".into()))
            .await
            .expect("an answer or no responders within bound");
        answered.push(Some(reply.is_ok()));
    }
    answering.abort();
    answered
}

#[tokio::test]
async fn private_exports_admit_only_importers_with_a_valid_activation_token() {
    let mut setup = Setup::new();
    let a = setup.account(json!({
        "exports": [{"name": "priv", "subject": "priv.svc", "type": "service", "token_req": true}],
    }));
    let keys: Vec<KeyPair> = (0..4).map(|_| KeyPair::new_account()).collect();
    let tokens = [
        Some(activation(&a, &keys[0], "priv.svc", json!({}))),
        None,
        Some(activation(
            &a,
            &keys[2],
            "priv.svc",
            json!({"exp": now() - 10}),
        )),
        Some(activation(&a, &keys[0], "priv.svc", json!({}))),
    ];
    for (key, token) in keys.iter().zip(&tokens) {
        let mut import = json!({"name": "priv", "subject": "priv.svc",
            "account": a.public_key(), "type": "service"});
        if let Some(token) = token {
            import["token"] = json!(token);
        }
        let claims = account_claims(json!({"imports": [import]}));
        let token = jwt(&setup.operator, &key.public_key(), claims, json!({}));
        setup.accounts.push((key.public_key(), token));
    }
    let a_user = user(&a, json!({}), json!({}));
    let importers: Vec<(KeyPair, String)> =
        keys.iter().map(|k| user(k, json!({}), json!({}))).collect();
    let server = setup.start().await;
    let ours = private_service_answers(&server.client_url(), &a_user, &importers).await;
    // B imports; C has no token, D an expired one: no import. E holds B's token, which
    // makes E's account JWT invalid: its users cannot log in.
    assert_eq!(ours, [Some(true), Some(false), Some(false), None]);
    if let Some(bin) = reference::latest_binary_or_skip("activation tokens") {
        let reference = ServerCommand::new(bin)
            .config(setup.conf())
            .start()
            .await
            .unwrap();
        let theirs = private_service_answers(&reference.client_url(), &a_user, &importers).await;
        assert_eq!(ours, theirs);
        reference.shutdown().await;
    }
    server.shutdown().await;
}

/// Lowers account `a`'s connection limit to one at `addr` while two of its users are
/// connected; returns the reply and what the older and the newer connection see.
async fn lower_limit(
    addr: std::net::SocketAddr,
    setup: &WithSystem,
    a: &KeyPair,
    users: &[(KeyPair, String)],
) -> (Value, String, String) {
    let (sys_key, sys_token) = &setup.sys_user;
    let sys = connect_url(&format!("nats://{addr}"), sys_token, sys_key).await;
    let mut older = raw_login(addr, &users[0].1, Some(&users[0].0)).await;
    older.expect_line("PONG").await;
    let mut newer = raw_login(addr, &users[1].1, Some(&users[1].0)).await;
    newer.expect_line("PONG").await;
    let mut limits = account_claims(json!({}));
    limits["limits"]["conn"] = json!(1);
    let update = jwt(&setup.setup.operator, &a.public_key(), limits, json!({}));
    let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", a.public_key());
    let reply = without_server(claims_update(&sys, subject, update).await);
    let newer_saw = newer.line().await;
    assert_eq!(newer.read_to_eof().await, "", "closed after the error");
    older.send("PING\r\n").await;
    let older_saw = older.line().await;
    (reply, older_saw, newer_saw)
}

#[tokio::test]
async fn lowering_the_connection_limit_closes_the_newest_clients_as_nats_server_does() {
    let mut setup = WithSystem::new();
    let a = setup.setup.account(json!({}));
    let users = [
        user(&a, json!({}), json!({})),
        user(&a, json!({}), json!({})),
    ];
    let server = setup.setup.start().await;
    let ours = lower_limit(server.addr(), &setup, &a, &users).await;
    assert_eq!(ours.0["data"]["message"], "jwt updated");
    assert_eq!(ours.1, "PONG");
    assert_eq!(ours.2, "-ERR 'maximum account active connections exceeded'");
    if let Some(reference) = setup.reference().await {
        let theirs = lower_limit(reference.addr(), &setup, &a, &users).await;
        assert_eq!(ours, theirs);
        reference.shutdown().await;
    }
    server.shutdown().await;
}

/// The CONNECT event of a `.creds` user of `a` at `url`, as the system user sees it.
async fn jwt_connect_event(
    url: &str,
    setup: &WithSystem,
    a: &KeyPair,
    u: &(KeyPair, String),
) -> Value {
    let (sys_key, sys_token) = &setup.sys_user;
    let sys = connect_url(url, sys_token, sys_key).await;
    let mut events = sys
        .subscribe(format!("$SYS.ACCOUNT.{}.CONNECT", a.public_key()))
        .await
        .unwrap();
    sys.flush().await.unwrap();
    let _client = connect_url(url, &u.1, &u.0).await;
    let event = next(&mut events).await;
    serde_json::from_slice(&event.payload).unwrap()
}

#[tokio::test]
async fn connect_events_of_jwt_users_carry_the_jwt_and_the_account_name_tag() {
    let mut setup = WithSystem::new();
    let a = setup.setup.account(json!({}));
    let u = user(&a, json!({}), json!({}));
    let server = setup.setup.start().await;
    let ours = jwt_connect_event(&server.client_url(), &setup, &a, &u).await;
    let client = &ours["client"];
    assert_eq!(client["acc"], a.public_key());
    assert_eq!(client["user"], u.0.public_key());
    assert_eq!(client["jwt"], u.1);
    assert_eq!(client["issuer_key"], a.public_key());
    assert_eq!(client["name_tag"], "test");
    if let Some(reference) = setup.reference().await {
        let theirs = jwt_connect_event(&reference.client_url(), &setup, &a, &u).await;
        let pick = |v: &Value| {
            let c = &v["client"];
            let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
            keys.sort();
            let keys: Vec<String> = keys.into_iter().cloned().collect();
            (
                keys,
                [
                    &c["acc"],
                    &c["user"],
                    &c["jwt"],
                    &c["issuer_key"],
                    &c["name_tag"],
                ]
                .map(Value::clone),
            )
        };
        assert_eq!(pick(&ours), pick(&theirs));
        reference.shutdown().await;
    }
    server.shutdown().await;
}
