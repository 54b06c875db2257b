//! `/accstatz` on natrium-server and on the newest nats-server, started from the same
//! configuration file: the same traffic in account A (two clients, the busy one closed
//! afterwards)
//! must give the same document, with the server id, the time and the subscription count
//! (nats-server adds its system imports) masked.

mod common;

use common::transcript::{Kind, Running, WAIT, connect_user, write_config};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::timeout;

const CONFIG: &str = r#"
accounts {
  A { users = [{user: a, password: a}] }
  B { users = [{user: b, password: b}] }
}
"#;

async fn get(server: &Running, path: &str) -> Value {
    let url = format!("{}{path}", server.monitor());
    timeout(WAIT, async {
        reqwest::get(url).await?.json::<Value>().await
    })
    .await
    .expect("a reply within bound")
    .expect("JSON")
}

/// Masks what differs between two servers, and drops the system account nats-server has.
fn masked(mut doc: Value) -> Value {
    doc["server_id"] = json!("<id>");
    doc["now"] = json!("<time>");
    if let Some(accounts) = doc["account_statz"].as_array_mut() {
        accounts.retain(|a| a["acc"] != "$SYS");
        for a in accounts.iter_mut() {
            a["num_subscriptions"] = json!("<n>");
        }
    }
    doc
}

async fn script(server: &Running, kind: Kind) -> Vec<Value> {
    let url = server.url();
    // One connection publishes to its own subscription (echo is on), and closes later; the
    // other stays open, idle.
    let worker = connect_user(&url, ("a", "a")).await;
    let idle = connect_user(&url, ("a", "a")).await;
    idle.flush().await.unwrap();
    let mut sub = worker.subscribe("x").await.unwrap();
    worker.flush().await.unwrap();
    for _ in 0..10 {
        worker.publish("x", "12345".into()).await.unwrap();
    }
    worker.flush().await.unwrap();
    for _ in 0..10 {
        timeout(WAIT, sub.next())
            .await
            .unwrap_or_else(|_| panic!("{kind:?}: a message within bound"))
            .expect("subscription open");
    }
    let mut docs = vec![masked(get(server, "/accstatz").await)];
    // A closed connection's traffic still counts for its account.
    drop(sub);
    worker.drain().await.unwrap();
    let gone = async {
        loop {
            let doc = get(server, "/accstatz").await;
            if doc["account_statz"][0]["conns"] == 1 {
                return doc;
            }
            tokio::task::yield_now().await;
        }
    };
    docs.push(masked(
        timeout(WAIT, gone).await.expect("the close is seen"),
    ));
    let mut unused = masked(get(server, "/accstatz?unused=1").await);
    // Both list every account, in their own order.
    if let Some(accounts) = unused["account_statz"].as_array_mut() {
        accounts.sort_by_key(|a| a["acc"].as_str().unwrap_or_default().to_owned());
    }
    docs.push(unused);
    let bad = reqwest::get(format!("{}/accstatz?unused=maybe", server.monitor()))
        .await
        .expect("a reply");
    docs.push(json!({
        "status": bad.status().as_u16(),
        "body": bad.text().await.unwrap(),
    }));
    docs
}

#[tokio::test]
async fn accstatz_counts_each_accounts_traffic_as_nats_server() {
    let mut runs = Vec::new();
    for kind in [Kind::Natrium, Kind::Latest] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), "accounts.conf", CONFIG);
        let Some(server) = Running::start(kind, &config, "/accstatz").await else {
            return;
        };
        runs.push(script(&server, kind).await);
        server.shutdown().await;
    }
    let (natrium, latest) = (&runs[0], &runs[1]);
    let a = &latest[1]["account_statz"][0];
    assert_eq!(a["acc"], "A");
    assert_eq!(a["sent"]["msgs"], 10, "{a}");
    assert_eq!(a["received"]["bytes"], 50, "{a}");
    assert_eq!(latest[3]["status"], 400);
    for (i, (ours, theirs)) in natrium.iter().zip(latest).enumerate() {
        assert_eq!(
            ours, theirs,
            "document {i}: natrium-server (left) vs nats-server"
        );
    }
}
