//! A JetStream domain (`jetstream { domain: hub }`) on natrium-server and on the newest
//! nats-server, started from the same configuration file: the same script runs on both and
//! what each answered (JSON with per-server fields masked, the domain kept) must agree.
//!
//! The script covers the API on `$JS.hub.API.*` and `$JS.API.*`, the subjects the domain
//! prefix maps (and those it leaves alone), who sees a mapped request, a user with publish
//! permissions (they apply to the mapped subject, as in nats-server), the `domain` in the INFO
//! line, pub acks, account and stream info, a consumer advisory, `/jsz` and `/varz`; then
//! async-nats (`jetstream::with_domain`) and nats.py (`nc.jetstream(domain=...)`) run a
//! stream, a pull consumer and a key-value bucket through the domain. Bad domain names must
//! stop both servers with the same text, and a reload may not change the domain.
//!
//! Without the reference binary the comparisons are skipped with a warning (a failure under
//! env `CI`), as in the other reference suites.

mod common;

use std::path::Path;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, kv, stream};
use futures::StreamExt;
use natrium_server::{Server, ServerOptions};
use natrium_test_support::reference::latest_binary_or_skip;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::time::timeout;

use common::transcript::{Kind, Running, Transcript, WAIT, ask, connect_user, mask, write_config};

/// The configuration both servers run; `{store}` is the store directory.
const CONFIG: &str = r#"
jetstream { store_dir: "{store}", domain: hub }
authorization {
  users: [
    { user: admin, password: s3cret }
    {
      user: scoped, password: s3cret
      permissions: {
        publish: ["$JS.hub.API.>", "$JS.API.STREAM.NAMES"]
        subscribe: ["_INBOX.>"]
      }
    }
  ]
}
"#;

const ADMIN: (&str, &str) = ("admin", "s3cret");
const SCOPED: (&str, &str) = ("scoped", "s3cret");

/// Starts `kind` from [`CONFIG`] in `dir`; `None` when the reference is missing locally.
async fn start(kind: Kind, dir: &Path) -> Option<Running> {
    let config = write_config(dir, "domain.conf", CONFIG);
    Running::start(kind, &config, "JetStream domain").await
}

/// The raw reply text of a publish (pub acks are compared byte for byte).
async fn ack_text(client: &async_nats::Client, subject: &str, headers: &[(&str, &str)]) -> Value {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, *v);
    }
    let msg = timeout(
        WAIT,
        client.request_with_headers(subject.to_owned(), map, "x".into()),
    )
    .await
    .expect("ack within bound")
    .expect("acknowledged");
    json!(String::from_utf8_lossy(&msg.payload))
}

/// The raw-API script, as the admin user, then as the user allowed only the domain's API.
async fn raw_script(server: &Running) -> Transcript {
    let mut t = Transcript::new();
    let url = server.url();
    let nc = connect_user(&url, ADMIN).await;
    t.record("info line domain", json!(nc.server_info().domain));
    t.record(
        "account info by domain",
        ask(&nc, "$JS.hub.API.INFO", &[], "").await,
    );
    t.record(
        "account info plain",
        ask(&nc, "$JS.API.INFO", &[], "").await,
    );
    t.record(
        "stream create by domain",
        ask(
            &nc,
            "$JS.hub.API.STREAM.CREATE.S",
            &[],
            r#"{"name":"S","subjects":["s.>"],"storage":"file"}"#,
        )
        .await,
    );
    t.record("pub ack", ack_text(&nc, "s.a", &[]).await);
    t.record(
        "pub ack with id",
        ack_text(&nc, "s.b", &[("Nats-Msg-Id", "m1")]).await,
    );
    t.record(
        "duplicate ack",
        ack_text(&nc, "s.b", &[("Nats-Msg-Id", "m1")]).await,
    );
    t.record(
        "error ack",
        ask(&nc, "s.c", &[("Nats-Expected-Last-Sequence", "9")], "x").await,
    );
    t.record(
        "stream info",
        ask(&nc, "$JS.hub.API.STREAM.INFO.S", &[], "").await,
    );
    t.record(
        "stream names",
        ask(&nc, "$JS.hub.API.STREAM.NAMES", &[], "").await,
    );
    t.record(
        "stream list",
        ask(&nc, "$JS.hub.API.STREAM.LIST", &[], "").await,
    );
    t.record(
        "stream update",
        ask(
            &nc,
            "$JS.hub.API.STREAM.UPDATE.S",
            &[],
            r#"{"name":"S","subjects":["s.>","t"],"storage":"file","allow_direct":true}"#,
        )
        .await,
    );
    t.record(
        "stream info plain",
        ask(&nc, "$JS.API.STREAM.INFO.S", &[], "").await,
    );
    t.record(
        "message get",
        ask(&nc, "$JS.hub.API.STREAM.MSG.GET.S", &[], r#"{"seq":1}"#).await,
    );
    t.record(
        "direct get",
        ask(&nc, "$JS.hub.API.DIRECT.GET.S", &[], r#"{"seq":1}"#).await,
    );
    let mut advisories = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.>")
        .await
        .unwrap();
    nc.flush().await.unwrap();
    t.record(
        "consumer create",
        ask(
            &nc,
            "$JS.hub.API.CONSUMER.CREATE.S.C",
            &[],
            r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
        )
        .await,
    );
    let advisory = timeout(WAIT, advisories.next())
        .await
        .expect("the advisory within bound")
        .expect("subscription open");
    let mut advisory: Value = serde_json::from_slice(&advisory.payload).expect("JSON");
    advisory["id"] = json!("<id>");
    mask(&mut advisory);
    t.record("consumer created advisory", advisory);
    // A pull through the domain's prefix reaches the consumer's own subscriber.
    let inbox = nc.new_inbox();
    let mut pulled = nc.subscribe(inbox.clone()).await.unwrap();
    nc.publish_with_reply(
        "$JS.hub.API.CONSUMER.MSG.NEXT.S.C",
        inbox,
        r#"{"batch":1,"no_wait":true}"#.into(),
    )
    .await
    .unwrap();
    let msg = timeout(WAIT, pulled.next())
        .await
        .expect("a pulled message within bound")
        .expect("subscription open");
    let reply = msg.reply.as_deref().unwrap_or_default();
    t.record(
        "pulled",
        json!({
            "subject": msg.subject.as_str(),
            "payload": String::from_utf8_lossy(&msg.payload),
            "ack subject starts": reply.starts_with("$JS.ACK.S.C.1.1.1."),
        }),
    );
    t.record(
        "consumer info",
        ask(&nc, "$JS.hub.API.CONSUMER.INFO.S.C", &[], "").await,
    );
    // What the prefix does not map, and other domains, reach nobody.
    for subject in [
        "$JS.hub.API.FOO",
        "$JS.hub.API.INFO.X",
        "$JS.hub.API.STREAM",
        "$JS.edge.API.INFO",
    ] {
        t.record(subject, ask(&nc, subject, &[], "").await);
    }
    t.record("who sees what", who_sees_what(&nc).await);
    nc.drain().await.ok();

    // Permissions apply to the mapped subject: the user may publish `$JS.hub.API.>` and
    // `$JS.API.STREAM.NAMES` only.
    let scoped = connect_user(&url, SCOPED).await;
    t.record(
        "scoped: allowed once mapped",
        ask(&scoped, "$JS.hub.API.STREAM.NAMES", &[], "").await,
    );
    scoped.drain().await.ok();
    t.record(
        "scoped: refused once mapped",
        denied(&url, "$JS.hub.API.INFO").await,
    );
    t.record("scoped: plain API", denied(&url, "$JS.API.INFO").await);
    t.record(
        "scoped: unmapped under the prefix",
        denied_or_not(&url, "$JS.hub.API.FOO").await,
    );

    let http = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{}{path}", server.monitor());
        let http = http.clone();
        async move {
            timeout(WAIT, async {
                http.get(url).send().await?.json::<Value>().await
            })
            .await
            .expect("monitoring within bound")
            .expect("monitoring answers JSON")
        }
    };
    let jsz = get("/jsz").await;
    t.record("jsz config domain", jsz["config"]["domain"].clone());
    let varz = get("/varz").await;
    t.record(
        "varz jetstream config domain",
        varz["jetstream"]["config"]["domain"].clone(),
    );
    t
}

/// Which subjects a subscriber on `$JS.hub.API.>` and one on `$JS.API.>` see while a mapped
/// and an unmapped request go out (each ends at its own marker).
async fn who_sees_what(nc: &async_nats::Client) -> Value {
    let mut domain = nc.subscribe("$JS.hub.API.>").await.unwrap();
    let mut plain = nc.subscribe("$JS.API.>").await.unwrap();
    nc.flush().await.unwrap();
    let inbox = nc.new_inbox();
    nc.publish_with_reply("$JS.hub.API.STREAM.NAMES", inbox, "".into())
        .await
        .unwrap();
    nc.publish("$JS.hub.API.FOO", "".into()).await.unwrap();
    nc.publish("$JS.hub.API.END", "".into()).await.unwrap();
    nc.publish("$JS.API.END.MARK", "".into()).await.unwrap();
    let mut seen = json!({});
    for (name, sub, end) in [
        ("$JS.hub.API.>", &mut domain, "$JS.hub.API.END"),
        ("$JS.API.>", &mut plain, "$JS.API.END.MARK"),
    ] {
        let mut subjects = Vec::new();
        loop {
            let msg = timeout(WAIT, sub.next())
                .await
                .expect("the marker within bound")
                .expect("subscription open");
            if msg.subject.as_str() == end {
                break;
            }
            subjects.push(msg.subject.to_string());
        }
        seen[name] = json!(subjects);
    }
    seen
}

/// The error the scoped user gets for publishing to `subject`.
async fn denied(url: &str, subject: &str) -> Value {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let nc = async_nats::ConnectOptions::with_user_and_password(SCOPED.0.into(), SCOPED.1.into())
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(url)
        .await
        .expect("connect");
    nc.publish(subject.to_owned(), "".into()).await.unwrap();
    nc.flush().await.unwrap();
    let error = timeout(WAIT, rx.recv())
        .await
        .expect("the violation within bound")
        .expect("event channel open");
    json!(error)
}

/// Whether the scoped user may publish to `subject`: a request to it gets "no responders"
/// (nobody serves it) when allowed, and the violation when not.
async fn denied_or_not(url: &str, subject: &str) -> Value {
    let scoped = connect_user(url, SCOPED).await;
    let answer = ask(&scoped, subject, &[], "").await;
    scoped.drain().await.ok();
    answer
}

/// Runs [`raw_script`] on both servers; `None` when the reference is missing locally.
async fn both_transcripts() -> Option<(Transcript, Transcript)> {
    let mut out = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let server = start(kind, dir.path()).await?;
        out.push(
            timeout(Duration::from_secs(60), raw_script(&server))
                .await
                .unwrap_or_else(|_| panic!("{kind:?}: the script within bound")),
        );
        server.shutdown().await;
    }
    let latest = out.pop()?;
    let natrium = out.pop()?;
    Some((natrium, latest))
}

#[tokio::test]
async fn the_domain_api_answers_as_on_nats_server() {
    let Some((natrium, latest)) = both_transcripts().await else {
        return;
    };
    // The reference shows the script reaches what it is about.
    assert_eq!(latest.get("info line domain"), &json!("hub"));
    assert_eq!(latest.get("account info by domain")["domain"], "hub");
    assert_eq!(
        latest.get("pub ack"),
        &json!(r#"{"stream":"S","domain":"hub","seq":1}"#)
    );
    assert_eq!(
        latest.get("duplicate ack"),
        &json!(r#"{"stream":"S","domain":"hub","seq":2,"duplicate": true}"#)
    );
    assert_eq!(latest.get("stream info")["domain"], "hub");
    assert_eq!(latest.get("stream create by domain")["did_create"], true);
    assert_eq!(latest.get("pulled")["subject"], "s.a");
    assert_eq!(latest.get("consumer created advisory")["domain"], "hub");
    assert_eq!(latest.get("$JS.hub.API.FOO"), &json!("no responders"));
    assert_eq!(latest.get("jsz config domain"), &json!("hub"));
    assert_eq!(latest.get("scoped: allowed once mapped")["total"], 1);
    assert!(
        latest
            .get("scoped: refused once mapped")
            .to_string()
            .contains("$JS.API.INFO"),
        "{}",
        latest.get("scoped: refused once mapped")
    );
    for ((label, ours), (_, theirs)) in natrium.0.iter().zip(&latest.0) {
        assert_eq!(
            ours,
            theirs,
            "{label}: natrium-server (left) and nats-server (right) differ\n{}\n{}",
            serde_json::to_string_pretty(ours).unwrap(),
            serde_json::to_string_pretty(theirs).unwrap()
        );
    }
    assert_eq!(natrium.0.len(), latest.0.len());
}

/// The async-nats workflow through `jetstream::with_domain`: what it observed.
async fn async_nats_workflow(url: &str) -> Value {
    let client = connect_user(url, ADMIN).await;
    let js = jetstream::with_domain(client, "hub");
    let account = js.query_account().await.expect("account info");
    let stream = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
    let ack = js
        .publish("orders.1", "first".into())
        .await
        .expect("published")
        .await
        .expect("acknowledged");
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("WORKER".into()),
            ..Default::default()
        })
        .await
        .expect("consumer created");
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch");
    let msg = timeout(WAIT, batch.next())
        .await
        .expect("a fetched message within bound")
        .expect("one message")
        .expect("no error");
    msg.ack().await.expect("acked");
    let kv = js
        .create_key_value(kv::Config {
            bucket: "CFG".into(),
            ..Default::default()
        })
        .await
        .expect("bucket created");
    let revision = kv.put("colour", "blue".into()).await.expect("put");
    let value = kv.get("colour").await.expect("get");
    let status = kv.status().await.expect("status");
    json!({
        "account domain": account.domain,
        "ack": {"stream": ack.stream, "seq": ack.sequence, "domain": ack.domain},
        "fetched": {"subject": msg.subject.as_str(), "payload": String::from_utf8_lossy(&msg.payload)},
        "kv revision": revision,
        "kv value": value.map(|v| String::from_utf8_lossy(&v).into_owned()),
        "kv messages": status.values(),
    })
}

#[tokio::test]
async fn async_nats_with_domain_works_as_on_nats_server() {
    let mut seen = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let Some(server) = start(kind, dir.path()).await else {
            return;
        };
        let got = timeout(Duration::from_secs(60), async_nats_workflow(&server.url()))
            .await
            .unwrap_or_else(|_| panic!("{kind:?}: the workflow within bound"));
        assert_eq!(got["account domain"], "hub", "{kind:?}: {got}");
        assert_eq!(got["ack"]["domain"], "hub", "{kind:?}: {got}");
        assert_eq!(got["fetched"]["payload"], "first", "{kind:?}: {got}");
        assert_eq!(got["kv value"], "blue", "{kind:?}: {got}");
        seen.push(got);
        server.shutdown().await;
    }
    assert_eq!(
        seen[0], seen[1],
        "natrium-server (left), nats-server (right)"
    );
}

#[tokio::test]
async fn nats_py_with_a_domain_works_on_both_servers() {
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let Some(server) = start(kind, dir.path()).await else {
            return;
        };
        let url = server.url().replace("nats://", "nats://admin:s3cret@");
        let Some(python) = common::py::python_with_nats_py().await else {
            return;
        };
        // nats.py's `nc.jetstream(domain="hub")`.
        common::py::run_script(&python, "domain", &url).await;
        server.shutdown().await;
    }
}

/// The domain names nats-server refuses at startup, with its text.
const BAD_NAMES: &[&str] = &["\"hub.x\"", "\"a*\"", "\">\"", "\"a b\"", "\"a.\""];

#[tokio::test]
async fn bad_domain_names_stop_the_server_with_nats_server_texts() {
    let bin = latest_binary_or_skip("JetStream domain names");
    for name in BAD_NAMES {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bad.conf");
        std::fs::write(
            &config,
            format!(
                "jetstream {{ store_dir: \"{}\", domain: {name} }}\n",
                dir.path().join("store").display()
            ),
        )
        .unwrap();
        let file = natrium_server::config::load(&config).expect("the file parses");
        let opts = ServerOptions {
            host: "127.0.0.1".into(),
            port: 0,
            ..file.options
        };
        let ours = match Server::start(opts).await {
            Ok(server) => {
                server.shutdown().await;
                panic!("{name}: natrium-server started");
            }
            Err(e) => e.to_string(),
        };
        assert!(ours.starts_with("invalid domain name: "), "{name}: {ours}");
        let Some(bin) = &bin else {
            continue;
        };
        let out = timeout(
            WAIT,
            Command::new(bin)
                .arg("-c")
                .arg(&config)
                .args(["-a", "127.0.0.1", "-p", "-1"])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("nats-server exits within bound")
        .expect("nats-server runs");
        let theirs = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: nats-server started");
        assert_eq!(
            theirs.trim_end(),
            format!("nats-server: {ours}"),
            "{name}: natrium-server's text (right) must be nats-server's"
        );
    }
}

#[tokio::test]
async fn an_empty_domain_is_no_domain() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty.conf");
    std::fs::write(
        &config,
        format!(
            "jetstream {{ store_dir: \"{}\", domain: \"\" }}\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let file = natrium_server::config::load(&config).expect("the file parses");
    let server = common::start(ServerOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..file.options
    })
    .await;
    let nc = common::connect(&server).await;
    assert_eq!(nc.server_info().domain, None);
    let info = ask(&nc, "$JS.API.INFO", &[], "").await;
    assert!(info.get("domain").is_none(), "{info}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_reload_with_another_domain_changes_nothing() {
    // nats-server: "config reload not supported for JetStreamDomain: old=hub, new=edge",
    // and the rest of the reload is not applied either.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "domain.conf", CONFIG);
    let Running::Natrium(server) = Running::natrium(&config).await else {
        unreachable!("natrium-server");
    };
    let mut opts = server.options().clone();
    if let Some(js) = opts.jetstream.as_mut() {
        js.domain = Some("edge".into());
    }
    opts.max_payload = 1024;
    server.reload(&opts);
    let nc = connect_user(&server.client_url(), ADMIN).await;
    assert_eq!(nc.server_info().domain.as_deref(), Some("hub"));
    assert_eq!(nc.server_info().max_payload, 1024 * 1024);
    let info = ask(&nc, "$JS.hub.API.INFO", &[], "").await;
    assert_eq!(info["domain"], "hub", "{info}");
    server.shutdown().await;
}
