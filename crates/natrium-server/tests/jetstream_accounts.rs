//! JetStream per account, on natrium-server and on the newest nats-server started from the
//! same configuration file: accounts configured with `jetstream` get their own streams
//! (the same stream name in two accounts never meets), account limits are enforced with
//! nats-server's errors, an account without JetStream gets nats-server's "not enabled"
//! answer on every API endpoint, an account importing another's `$JS.API.>` uses that
//! JetStream, and `/jsz` counts the accounts. Then, on natrium-server:
//! each account's streams come back from its own directory after a restart, and a reload
//! gives JetStream to an account and takes it from another.
//!
//! Without the reference binary the comparison is skipped with a warning (a failure under
//! env `CI`), as in the other reference suites.

mod common;

use std::path::Path;

use async_nats::jetstream::{self, kv, stream};
use common::transcript::{Kind, Running, Transcript, WAIT, ask, connect_user, write_config};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::timeout;

/// The configuration both servers run; `{store}` is the store directory.
const CONFIG: &str = r#"
jetstream { store_dir: "{store}" }
accounts {
  A {
    jetstream: enabled, users = [{user: a, password: a}]
    exports: [{service: "$JS.API.>"}]
  }
  B { jetstream: true, users = [{user: b, password: b}] }
  C {
    jetstream: {
      max_mem: 1M, max_file: 20000, max_streams: 3, max_consumers: 1,
      store_max_stream_bytes: 15000, max_ack_pending: 7
    }
    users = [{user: c, password: c}]
  }
  D { jetstream: { max_bytes_required: true }, users = [{user: d, password: d}] }
  E { users = [{user: e, password: e}] }
  F { users = [{user: f, password: f}], imports: [{service: {account: A, subject: "$JS.API.>"}}] }
  G {
    users = [{user: g, password: g}]
    imports: [{service: {account: A, subject: "$JS.API.>"}, to: "JS.A.API.>"}]
  }
}
"#;

/// What an account without JetStream asks: every API endpoint, with empty bodies.
const API_SUBJECTS: &[&str] = &[
    "$JS.API.INFO",
    "$JS.API.STREAM.CREATE.X",
    "$JS.API.STREAM.UPDATE.X",
    "$JS.API.STREAM.INFO.X",
    "$JS.API.STREAM.DELETE.X",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.PURGE.X",
    "$JS.API.STREAM.MSG.GET.X",
    "$JS.API.STREAM.MSG.DELETE.X",
    "$JS.API.CONSUMER.CREATE.X.Y",
    "$JS.API.CONSUMER.DURABLE.CREATE.X.Y",
    "$JS.API.CONSUMER.INFO.X.Y",
    "$JS.API.CONSUMER.DELETE.X.Y",
    "$JS.API.CONSUMER.PAUSE.X.Y",
    "$JS.API.CONSUMER.NAMES.X",
    "$JS.API.CONSUMER.LIST.X",
    // Nobody serves these without the stream or consumer: no responders.
    "$JS.API.DIRECT.GET.X",
    "$JS.API.CONSUMER.MSG.NEXT.X.Y",
];

async fn start(kind: Kind, dir: &Path) -> Option<Running> {
    let config = write_config(dir, "accounts.conf", CONFIG);
    Running::start(kind, &config, "JetStream accounts").await
}

fn user(name: &'static str) -> (&'static str, &'static str) {
    (name, name)
}

/// The script: the same stream in two accounts, the limits of C and D, and E without
/// JetStream.
async fn script(server: &Running) -> Transcript {
    let mut t = Transcript::new();
    let url = server.url();
    let create_orders = r#"{"name":"ORDERS","subjects":["orders.>"]}"#;

    let a = connect_user(&url, user("a")).await;
    let b = connect_user(&url, user("b")).await;
    t.record(
        "A creates ORDERS",
        ask(&a, "$JS.API.STREAM.CREATE.ORDERS", &[], create_orders).await,
    );
    t.record(
        "B creates ORDERS on the same subjects",
        ask(&b, "$JS.API.STREAM.CREATE.ORDERS", &[], create_orders).await,
    );
    t.record("A publishes", ask(&a, "orders.1", &[], "a").await);
    t.record("B publishes", ask(&b, "orders.1", &[], "b1").await);
    t.record("B publishes again", ask(&b, "orders.2", &[], "b2").await);
    t.record(
        "A's ORDERS",
        ask(&a, "$JS.API.STREAM.INFO.ORDERS", &[], "").await,
    );
    t.record(
        "B's ORDERS",
        ask(&b, "$JS.API.STREAM.INFO.ORDERS", &[], "").await,
    );
    t.record(
        "B's first message",
        ask(&b, "$JS.API.STREAM.MSG.GET.ORDERS", &[], r#"{"seq":1}"#).await,
    );
    t.record("A's account", ask(&a, "$JS.API.INFO", &[], "").await);
    // F imports A's JetStream API as its own; G under another prefix, keeping its own
    // (absent) JetStream on `$JS.API`.
    let f = connect_user(&url, user("f")).await;
    t.record(
        "F lists A's streams",
        ask(&f, "$JS.API.STREAM.NAMES", &[], "").await,
    );
    t.record("F's account is A's", ask(&f, "$JS.API.INFO", &[], "").await);
    let g = connect_user(&url, user("g")).await;
    t.record(
        "G lists A's streams under its prefix",
        ask(&g, "JS.A.API.STREAM.NAMES", &[], "").await,
    );
    t.record("G's own account", ask(&g, "$JS.API.INFO", &[], "").await);

    let c = connect_user(&url, user("c")).await;
    for (label, name, body) in [
        (
            "C: max_bytes over the account's",
            "B",
            r#"{"name":"B","subjects":["b"],"max_bytes":30000}"#,
        ),
        (
            "C: max_bytes over the stream limit",
            "B",
            r#"{"name":"B","subjects":["b"],"max_bytes":16000}"#,
        ),
        (
            "C: unlimited stream",
            "S",
            r#"{"name":"S","subjects":["s"]}"#,
        ),
        (
            "C: reserving 10000",
            "S2",
            r#"{"name":"S2","subjects":["s2"],"max_bytes":10000}"#,
        ),
        (
            "C: reserving past the limit",
            "S3",
            r#"{"name":"S3","subjects":["s3"],"max_bytes":15000}"#,
        ),
        (
            "C: memory stream",
            "M",
            r#"{"name":"M","subjects":["m"],"storage":"memory"}"#,
        ),
        (
            "C: a fourth stream",
            "S4",
            r#"{"name":"S4","subjects":["s4"],"max_bytes":100}"#,
        ),
    ] {
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        t.record(label, ask(&c, &subject, &[], body).await);
    }
    // Storage fills up to the account's 20000 bytes, then the next message is refused.
    let payload = "x".repeat(1000);
    let mut accepted = 0;
    let refusal = loop {
        let ack = ask(&c, "s", &[], &payload).await;
        if ack.get("error").is_some() || accepted > 40 {
            break ack;
        }
        accepted += 1;
    };
    t.record("C: messages accepted", json!(accepted));
    t.record("C: the refusal", refusal);
    t.record("C's account", ask(&c, "$JS.API.INFO", &[], "").await);
    let consumer = |name: &str, extra: &str| {
        format!(
            r#"{{"stream_name":"S","config":{{"durable_name":"{name}","ack_policy":"explicit"{extra}}}}}"#
        )
    };
    t.record(
        "C: first consumer",
        ask(&c, "$JS.API.CONSUMER.CREATE.S.c1", &[], &consumer("c1", "")).await,
    );
    t.record(
        "C: second consumer",
        ask(&c, "$JS.API.CONSUMER.CREATE.S.c2", &[], &consumer("c2", "")).await,
    );
    t.record(
        "C: max_ack_pending over the account's",
        ask(
            &c,
            "$JS.API.CONSUMER.CREATE.S.c1",
            &[],
            &consumer("c1", r#","max_ack_pending":100"#),
        )
        .await,
    );

    let d = connect_user(&url, user("d")).await;
    t.record(
        "D: no max_bytes",
        ask(
            &d,
            "$JS.API.STREAM.CREATE.S",
            &[],
            r#"{"name":"S","subjects":["s"]}"#,
        )
        .await,
    );
    t.record(
        "D: with max_bytes",
        ask(
            &d,
            "$JS.API.STREAM.CREATE.S",
            &[],
            r#"{"name":"S","subjects":["s"],"max_bytes":1000}"#,
        )
        .await,
    );

    let e = connect_user(&url, user("e")).await;
    for subject in API_SUBJECTS {
        t.record(&format!("E: {subject}"), ask(&e, subject, &[], "").await);
    }
    t.record(
        "E: unpin",
        ask(&e, "$JS.API.CONSUMER.UNPIN.X.Y", &[], r#"{"group":"g"}"#).await,
    );
    t.record(
        "E publishes to A's subject",
        ask(&e, "orders.1", &[], "e").await,
    );

    let http = reqwest::Client::new();
    let jsz: Value = timeout(WAIT, async {
        http.get(format!("{}/jsz?accounts=true", server.monitor()))
            .send()
            .await?
            .json::<Value>()
            .await
    })
    .await
    .expect("/jsz within bound")
    .expect("/jsz");
    let names: Vec<&Value> = jsz["account_details"]
        .as_array()
        .expect("account details")
        .iter()
        .map(|a| &a["name"])
        .collect();
    t.record(
        "jsz",
        json!({
            "accounts": jsz["accounts"],
            "total": jsz["total"],
            "streams": jsz["streams"],
            "consumers": jsz["consumers"],
            "messages": jsz["messages"],
            "reserved_storage": jsz["reserved_storage"],
            "account names": names,
        }),
    );
    for acc in ["A", "E"] {
        let accountz: Value = timeout(WAIT, async {
            http.get(format!("{}/accountz?acc={acc}", server.monitor()))
                .send()
                .await?
                .json::<Value>()
                .await
        })
        .await
        .expect("/accountz within bound")
        .expect("/accountz");
        t.record(
            &format!("accountz {acc} jetstream_enabled"),
            accountz["account_detail"]["jetstream_enabled"].clone(),
        );
    }
    t
}

#[tokio::test]
async fn accounts_have_their_own_jetstream_as_in_nats_server() {
    let mut transcripts = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let Some(server) = start(kind, dir.path()).await else {
            return;
        };
        transcripts.push(script(&server).await);
        server.shutdown().await;
    }
    let (natrium, latest) = (&transcripts[0], &transcripts[1]);
    // What the reference shows, so the script checks something.
    assert_eq!(
        latest.get("A publishes"),
        &json!({"stream": "ORDERS", "seq": 1})
    );
    assert_eq!(
        latest.get("B publishes again"),
        &json!({"stream": "ORDERS", "seq": 2})
    );
    assert_eq!(latest.get("A's ORDERS")["state"]["messages"], 1);
    assert_eq!(latest.get("B's ORDERS")["state"]["messages"], 2);
    assert_eq!(
        latest.get("F lists A's streams")["streams"],
        json!(["ORDERS"])
    );
    assert_eq!(latest.get("G's own account")["error"]["err_code"], 10039);
    assert_eq!(latest.get("C: a fourth stream")["error"]["err_code"], 10027);
    assert_eq!(latest.get("C: the refusal")["error"]["err_code"], 10002);
    assert_eq!(latest.get("C: second consumer")["error"]["err_code"], 10026);
    assert_eq!(latest.get("D: no max_bytes")["error"]["err_code"], 10113);
    assert_eq!(latest.get("E: $JS.API.INFO")["error"]["err_code"], 10039);
    assert_eq!(
        latest.get("E: $JS.API.DIRECT.GET.X"),
        &json!("no responders")
    );
    assert_eq!(
        latest.get("E publishes to A's subject"),
        &json!("no responders")
    );
    natrium.assert_same(latest, "natrium-server", "nats-server");
}

/// natrium-server from [`CONFIG`] with `extra` appended, on free ports.
async fn start_natrium(dir: &Path, extra: &str) -> natrium_server::Server {
    let config = write_config(dir, "accounts.conf", &format!("{CONFIG}\n{extra}"));
    match Running::natrium(&config).await {
        Running::Natrium(server) => server,
        Running::Latest { .. } => unreachable!("started natrium-server"),
    }
}

async fn js_of(server: &natrium_server::Server, name: &'static str) -> jetstream::Context {
    jetstream::new(connect_user(&server.client_url(), user(name)).await)
}

#[tokio::test]
async fn each_account_recovers_its_own_streams_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_natrium(dir.path(), "").await;
    for (name, count) in [("a", 1), ("b", 3)] {
        let js = js_of(&server, name).await;
        js.create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
        for i in 0..count {
            js.publish(format!("orders.{i}"), name.into())
                .await
                .expect("published")
                .await
                .expect("acknowledged");
        }
        let store = js
            .create_key_value(kv::Config {
                bucket: "settings".into(),
                ..Default::default()
            })
            .await
            .expect("bucket created");
        store.put("owner", name.into()).await.expect("put");
    }
    let store = dir.path().join("store").join("jetstream");
    for account in ["A", "B"] {
        assert!(
            store
                .join(account)
                .join("streams")
                .join("ORDERS")
                .join("meta.json")
                .is_file(),
            "account {account}'s stream in its own directory"
        );
    }
    server.shutdown().await;

    let server = start_natrium(dir.path(), "").await;
    for (name, count) in [("a", 1u64), ("b", 3)] {
        let js = js_of(&server, name).await;
        let mut orders = js.get_stream("ORDERS").await.expect("recovered");
        let info = orders.info().await.expect("info");
        assert_eq!(info.state.messages, count, "account {name}'s own messages");
        let first = orders.get_raw_message(1).await.expect("first message");
        assert_eq!(&first.payload[..], name.as_bytes());
        let settings = js
            .get_key_value("settings")
            .await
            .expect("bucket recovered");
        let owner = settings.get("owner").await.expect("get").expect("a value");
        assert_eq!(&owner[..], name.as_bytes(), "account {name}'s own bucket");
    }
    // E has no JetStream: the client sees nats-server's error.
    let e = js_of(&server, "e").await;
    let err = e.query_account().await.expect_err("no JetStream for E");
    assert!(err.to_string().contains("not enabled for account"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_reload_gives_and_takes_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_natrium(dir.path(), "").await;
    let a = js_of(&server, "a").await;
    a.create_stream(stream::Config {
        name: "KEPT".into(),
        subjects: vec!["kept".into()],
        ..Default::default()
    })
    .await
    .expect("stream created");
    a.publish("kept", "1".into())
        .await
        .expect("published")
        .await
        .expect("acknowledged");

    // E gains JetStream; A loses it.
    let reloaded = CONFIG
        .replace("E { users", "E { jetstream: enabled, users")
        .replace(
            "jetstream: enabled, users = [{user: a,",
            "users = [{user: a,",
        );
    assert_eq!(
        reloaded.matches("jetstream: enabled").count(),
        1,
        "{reloaded}"
    );
    let path = write_config(dir.path(), "reloaded.conf", &reloaded);
    let file = natrium_server::config::load(&path).expect("the new configuration loads");
    server.reload(&file.options);

    let e = js_of(&server, "e").await;
    e.create_stream(stream::Config {
        name: "NEW".into(),
        subjects: vec!["new".into()],
        ..Default::default()
    })
    .await
    .expect("E has JetStream now");
    let err = a.query_account().await.expect_err("A has no JetStream now");
    assert!(err.to_string().contains("not enabled for account"), "{err}");
    let nc = connect_user(&server.client_url(), user("a")).await;
    let ack = nc.request("kept", "2".into()).await;
    assert!(ack.is_err(), "no stream takes A's messages: {ack:?}");

    // Giving it back brings the stream back, messages included.
    let path = write_config(dir.path(), "again.conf", CONFIG);
    let file = natrium_server::config::load(&path).expect("the configuration loads");
    server.reload(&file.options);
    let mut kept = a.get_stream("KEPT").await.expect("A's stream is back");
    assert_eq!(kept.info().await.expect("info").state.messages, 1);
    let mut names = a.stream_names();
    let mut all = Vec::new();
    while let Some(name) = timeout(WAIT, names.next()).await.expect("names in time") {
        all.push(name.expect("a name"));
    }
    assert_eq!(all, ["KEPT"]);
    server.shutdown().await;
}

/// The `jetstream` of account A in `conf`, or the load error's text.
fn account_jetstream(conf: &str) -> Result<Option<natrium_server::JetStreamLimits>, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let file = natrium_server::config::load(&path).map_err(|e| e.to_string())?;
    let a = file.options.accounts.iter().find(|a| a.name == "A");
    Ok(a.expect("account A").jetstream)
}

#[test]
fn an_accounts_jetstream_is_read_with_nats_servers_words_aliases_and_errors() {
    use natrium_server::JetStreamLimits;
    let unlimited = Some(JetStreamLimits::default());
    for word in ["enabled", "enable", "ENABLED", "true"] {
        let conf = format!("accounts {{ A {{ jetstream: {word} }} }}");
        assert_eq!(account_jetstream(&conf), Ok(unlimited), "{word}");
    }
    for word in ["disabled", "disable", "false"] {
        let conf = format!("accounts {{ A {{ jetstream: {word} }} }}");
        assert_eq!(account_jetstream(&conf), Ok(None), "{word}");
    }
    assert_eq!(account_jetstream("accounts { A { } }"), Ok(None));
    let conf = "accounts { A { jetstream: { mem: 1M, disk: \"2GB\", streams: 3, consumers: 4, \
                max_ack_pending: 5, mem_max_stream_bytes: 6, disk_max_stream_bytes: 7, \
                max_bytes_required: true, cluster_traffic: owner } } }";
    assert_eq!(
        account_jetstream(conf),
        Ok(Some(JetStreamLimits {
            max_memory: 1_000_000,
            max_store: 2 * 1024 * 1024 * 1024,
            max_streams: 3,
            max_consumers: 4,
            max_ack_pending: 5,
            memory_max_stream_bytes: 6,
            store_max_stream_bytes: 7,
            max_bytes_required: true,
        }))
    );
    for (conf, expected) in [
        (
            "accounts {\n  A { jetstream: maybe }\n}\n",
            "Expected 'enabled' or 'disabled' for string value, got 'maybe'",
        ),
        (
            "accounts {\n  A { jetstream: { max_mem: lots } }\n}\n",
            "Expected a parseable size for \"max_mem\"",
        ),
        (
            "accounts {\n  A { jetstream: { max_bytes_required: 1 } }\n}\n",
            "Expected a parseable bool for \"max_bytes_required\"",
        ),
        (
            "accounts {\n  A { jetstream: { bogus: 1 } }\n}\n",
            "unknown field \"bogus\"",
        ),
        (
            "accounts {\n  A { jetstream: [1] }\n}\n",
            "Expected map, bool or string to define JetStream",
        ),
    ] {
        let err = account_jetstream(conf).expect_err(conf);
        assert!(err.contains(expected), "{conf}\n{err}");
        assert!(
            err.contains("server.conf:2:"),
            "names the file and line: {err}"
        );
    }
}

/// Connects with the `.creds` of `user`, whose JWT is `token`.
async fn connect_creds(url: &str, token: &str, user: &nkeys::KeyPair) -> async_nats::Client {
    let creds = natrium_test_support::jwt::creds(token, user);
    let options = async_nats::ConnectOptions::with_credentials(&creds).expect("valid creds");
    timeout(WAIT, options.connect(url))
        .await
        .expect("connect within bound")
        .expect("connect")
}

#[tokio::test]
async fn an_account_jwt_with_jetstream_limits_gets_jetstream_as_in_nats_server() {
    use natrium_test_support::jwt::{account_claims, jwt, operator_conf, user_claims};
    use nkeys::KeyPair;

    let operator = KeyPair::new_operator();
    let with = KeyPair::new_account();
    let without = KeyPair::new_account();
    // nats-server runs JetStream in operator mode only with a system account.
    let system = KeyPair::new_account();
    let limits = json!({"limits": {
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": -1, "disk_storage": 100000, "streams": 1, "consumer": -1,
    }});
    let accounts = [
        (
            with.public_key(),
            jwt(
                &operator,
                &with.public_key(),
                account_claims(limits),
                json!({}),
            ),
        ),
        (
            without.public_key(),
            jwt(
                &operator,
                &without.public_key(),
                account_claims(json!({})),
                json!({}),
            ),
        ),
        (
            system.public_key(),
            jwt(
                &operator,
                &system.public_key(),
                account_claims(json!({})),
                json!({}),
            ),
        ),
    ];
    let users: Vec<(KeyPair, String)> = [&with, &without]
        .into_iter()
        .map(|account| {
            let user = KeyPair::new_user();
            let token = jwt(
                account,
                &user.public_key(),
                user_claims(json!({})),
                json!({}),
            );
            (user, token)
        })
        .collect();
    let conf = format!(
        "jetstream {{ store_dir: \"{{store}}\" }}\nsystem_account: {}\n{}",
        system.public_key(),
        operator_conf(&operator, &accounts)
    );

    let mut transcripts = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), "operator.conf", &conf);
        let Some(server) = Running::start(kind, &config, "JetStream in operator mode").await else {
            return;
        };
        let mut t = Transcript::new();
        let url = server.url();
        let nc = connect_creds(&url, &users[0].1, &users[0].0).await;
        t.record(
            "first stream",
            ask(
                &nc,
                "$JS.API.STREAM.CREATE.S",
                &[],
                r#"{"name":"S","subjects":["s"],"max_bytes":1000}"#,
            )
            .await,
        );
        t.record(
            "second stream",
            ask(
                &nc,
                "$JS.API.STREAM.CREATE.T",
                &[],
                r#"{"name":"T","subjects":["t"]}"#,
            )
            .await,
        );
        t.record("publish", ask(&nc, "s", &[], "x").await);
        let mut info = ask(&nc, "$JS.API.INFO", &[], "").await;
        // The tiers nats-server adds for JWT accounts are not modelled.
        if let Some(info) = info.as_object_mut() {
            info.remove("tiers");
        }
        t.record("account info", info);
        let other = connect_creds(&url, &users[1].1, &users[1].0).await;
        t.record(
            "an account without JetStream",
            ask(&other, "$JS.API.INFO", &[], "").await,
        );
        transcripts.push(t);
        server.shutdown().await;
    }
    let (natrium, latest) = (&transcripts[0], &transcripts[1]);
    assert_eq!(latest.get("second stream")["error"]["err_code"], 10027);
    assert_eq!(latest.get("account info")["limits"]["max_storage"], 100000);
    assert_eq!(
        latest.get("an account without JetStream")["error"]["err_code"],
        10039
    );
    natrium.assert_same(latest, "natrium-server", "nats-server");
}

#[tokio::test]
async fn a_domain_maps_the_api_in_every_account_as_in_nats_server() {
    let conf = CONFIG.replace(
        "jetstream { store_dir: \"{store}\" }",
        "jetstream { store_dir: \"{store}\", domain: hub }",
    );
    assert_ne!(conf, CONFIG);
    let mut transcripts = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), "domain.conf", &conf);
        let Some(server) = Running::start(kind, &config, "JetStream domain in accounts").await
        else {
            return;
        };
        let url = server.url();
        let mut t = Transcript::new();
        let a = connect_user(&url, user("a")).await;
        t.record(
            "A creates a stream through the domain",
            ask(
                &a,
                "$JS.hub.API.STREAM.CREATE.S",
                &[],
                r#"{"name":"S","subjects":["s"]}"#,
            )
            .await,
        );
        t.record("A's ack names the domain", ask(&a, "s", &[], "x").await);
        for (name, subject) in [
            ("b", "$JS.hub.API.STREAM.NAMES"),
            ("e", "$JS.hub.API.INFO"),
            ("f", "$JS.hub.API.STREAM.NAMES"),
            ("g", "$JS.hub.API.INFO"),
            ("g", "JS.A.API.STREAM.NAMES"),
        ] {
            let nc = connect_user(&url, user(name)).await;
            t.record(
                &format!("{name}: {subject}"),
                ask(&nc, subject, &[], "").await,
            );
        }
        transcripts.push(t);
        server.shutdown().await;
    }
    let (natrium, latest) = (&transcripts[0], &transcripts[1]);
    assert_eq!(
        latest.get("A's ack names the domain"),
        &json!({"stream": "S", "domain": "hub", "seq": 1})
    );
    natrium.assert_same(latest, "natrium-server", "nats-server");
}
