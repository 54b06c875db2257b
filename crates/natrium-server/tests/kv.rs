//! Key-Value buckets through async-nats' `kv::Store`, run against natrium-server and the
//! newest nats-server alike: each scenario is one function called once per server.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use common::BOUND;
use common::js_target::{Kind, Suite, Target};
use futures::StreamExt;
use natrium_test_support::port::{port_of, restartable_port};
use tokio::time::timeout;

/// The Key-Value scenarios.
const SUITE: Suite = Suite {
    name: "kv",
    bound: Duration::from_secs(30),
};

/// Starts `kind` for the Key-Value suite.
async fn start(kind: Kind, dir: &Path, port: u16) -> Option<Target> {
    common::js_target::start(kind, dir, port, SUITE.name).await
}

async fn bucket(js: &jetstream::Context, config: kv::Config) -> kv::Store {
    js.create_key_value(config).await.expect("bucket created")
}

fn config(name: &str, history: i64) -> kv::Config {
    kv::Config {
        bucket: name.into(),
        history,
        ..Default::default()
    }
}

/// `kv::Store::status` reads the stream info cached when the store was opened, so a test
/// that wants current numbers opens the bucket again.
async fn fresh_status(js: &jetstream::Context, name: &str) -> kv::bucket::Status {
    let kv = js.get_key_value(name).await.expect("bucket");
    kv.status().await.expect("status")
}

async fn next_entry(watch: &mut kv::Watch) -> kv::Entry {
    timeout(BOUND, watch.next())
        .await
        .expect("entry within bound")
        .expect("watch open")
        .expect("entry")
}

both!(
    SUITE,
    put_get_create_update_check_revisions_natrium,
    put_get_create_update_check_revisions_latest,
    put_get_create_update_check_revisions
);
async fn put_get_create_update_check_revisions(js: jetstream::Context) {
    let kv = bucket(&js, config("CFG", 5)).await;
    assert_eq!(kv.put("a", "1".into()).await.unwrap(), 1);
    assert_eq!(kv.get("a").await.unwrap(), Some(Bytes::from("1")));
    assert_eq!(kv.get("missing").await.unwrap(), None);
    let err = kv.create("a", "x".into()).await.expect_err("a exists");
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists, "{err}");
    assert_eq!(kv.create("b", "2".into()).await.unwrap(), 2);
    assert_eq!(kv.update("a", "3".into(), 1).await.unwrap(), 3);
    let err = kv
        .update("a", "4".into(), 1)
        .await
        .expect_err("stale revision");
    assert!(err.to_string().contains("wrong last sequence: 3"), "{err}");
    let entry = kv.entry("a").await.unwrap().expect("entry");
    assert_eq!(entry.revision, 3);
    assert_eq!(entry.operation, kv::Operation::Put);
    assert_eq!(entry.value, Bytes::from("3"));
    let old = kv.entry_for_revision("a", 1).await.unwrap().expect("old");
    assert_eq!(old.value, Bytes::from("1"));
    // A deleted key can be created again.
    kv.delete("b").await.unwrap();
    assert_eq!(kv.get("b").await.unwrap(), None);
    assert_eq!(kv.create("b", "5".into()).await.unwrap(), 5);
    let status = fresh_status(&js, "CFG").await;
    assert_eq!(status.bucket(), "CFG");
    assert_eq!(status.values(), 5, "every revision and marker is a value");
    assert_eq!(status.history(), 5);
}

both!(
    SUITE,
    delete_and_purge_leave_markers_natrium,
    delete_and_purge_leave_markers_latest,
    delete_and_purge_leave_markers
);
async fn delete_and_purge_leave_markers(js: jetstream::Context) {
    let kv = bucket(&js, config("MARK", 10)).await;
    for i in 0..3 {
        kv.put("k", format!("v{i}").into()).await.unwrap();
    }
    kv.put("other", "o".into()).await.unwrap();
    kv.delete("k").await.unwrap();
    let entry = kv.entry("k").await.unwrap().expect("marker is an entry");
    assert_eq!(entry.operation, kv::Operation::Delete);
    let history: Vec<_> = kv
        .history("k")
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let ops: Vec<_> = history.iter().map(|e| e.operation).collect();
    assert_eq!(
        ops,
        [
            kv::Operation::Put,
            kv::Operation::Put,
            kv::Operation::Put,
            kv::Operation::Delete
        ]
    );
    kv.purge("k").await.unwrap();
    let history: Vec<_> = kv
        .history("k")
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert_eq!(history.len(), 1, "the purge rolls the key up to its marker");
    assert_eq!(history[0].operation, kv::Operation::Purge);
    assert_eq!(kv.get("k").await.unwrap(), None);
    assert_eq!(fresh_status(&js, "MARK").await.values(), 2);
    let keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
    assert_eq!(keys, ["other"]);
    // Revision-checked delete.
    let err = kv
        .delete_expect_revision("other", Some(1))
        .await
        .expect_err("stale");
    assert!(err.to_string().contains("wrong last sequence"), "{err}");
    kv.delete_expect_revision("other", Some(4)).await.unwrap();
}

both!(
    SUITE,
    history_is_bounded_and_keys_skip_deleted_natrium,
    history_is_bounded_and_keys_skip_deleted_latest,
    history_is_bounded_and_keys_skip_deleted
);
async fn history_is_bounded_and_keys_skip_deleted(js: jetstream::Context) {
    let kv = bucket(&js, config("HIST", 3)).await;
    for i in 1..=5 {
        kv.put("h", format!("{i}").into()).await.unwrap();
    }
    for key in ["x.1", "x.2", "y"] {
        kv.put(key, "v".into()).await.unwrap();
    }
    kv.delete("y").await.unwrap();
    let history: Vec<_> = kv
        .history("h")
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let values: Vec<_> = history.iter().map(|e| e.value.clone()).collect();
    assert_eq!(
        values,
        [Bytes::from("3"), Bytes::from("4"), Bytes::from("5")]
    );
    assert_eq!(
        history.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    let mut keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
    keys.sort();
    assert_eq!(keys, ["h", "x.1", "x.2"]);
    let err = kv.history("nothing").await.map(|_| ());
    // Both servers answer an empty history as an empty stream of entries.
    if let Ok(()) = err {
        let none: Vec<_> = kv.history("nothing").await.unwrap().collect().await;
        assert!(none.is_empty());
    }
}

both!(
    SUITE,
    watch_delivers_initial_values_then_updates_natrium,
    watch_delivers_initial_values_then_updates_latest,
    watch_delivers_initial_values_then_updates
);
async fn watch_delivers_initial_values_then_updates(js: jetstream::Context) {
    let kv = bucket(&js, config("W", 5)).await;
    kv.put("a", "1".into()).await.unwrap();
    kv.put("a", "2".into()).await.unwrap();
    kv.put("b", "1".into()).await.unwrap();
    // watch_all only sees new updates.
    let mut new_only = kv.watch_all().await.unwrap();
    // watch_with_history: last per subject first; the last initial entry has pending 0.
    let mut watch = kv.watch_with_history(">").await.unwrap();
    let first = next_entry(&mut watch).await;
    assert_eq!((first.key.as_str(), first.revision), ("a", 2));
    assert_eq!(first.delta, 1);
    assert!(!first.seen_current);
    let second = next_entry(&mut watch).await;
    assert_eq!((second.key.as_str(), second.revision), ("b", 3));
    assert_eq!(second.delta, 0);
    assert!(second.seen_current, "pending 0 ends the initial data");
    kv.put("c", "new".into()).await.unwrap();
    let live = next_entry(&mut watch).await;
    assert_eq!((live.key.as_str(), live.revision), ("c", 4));
    let live = next_entry(&mut new_only).await;
    assert_eq!((live.key.as_str(), live.revision), ("c", 4));
    kv.delete("a").await.unwrap();
    let deleted = next_entry(&mut watch).await;
    assert_eq!(deleted.operation, kv::Operation::Delete);
    // From a revision: every revision from there on.
    let mut from = kv.watch_all_from_revision(2).await.unwrap();
    let revisions = [
        next_entry(&mut from).await.revision,
        next_entry(&mut from).await.revision,
        next_entry(&mut from).await.revision,
        next_entry(&mut from).await.revision,
    ];
    assert_eq!(revisions, [2, 3, 4, 5]);
    // An empty bucket's watch yields nothing initially, then live updates.
    let empty = bucket(&js, config("EMPTY", 1)).await;
    let mut watch = empty.watch_with_history(">").await.unwrap();
    empty.put("z", "1".into()).await.unwrap();
    let live = next_entry(&mut watch).await;
    assert_eq!((live.key.as_str(), live.revision), ("z", 1));
}

both!(
    SUITE,
    headers_only_watch_has_no_values_natrium,
    headers_only_watch_has_no_values_latest,
    headers_only_watch_has_no_values
);
async fn headers_only_watch_has_no_values(js: jetstream::Context) {
    let kv = bucket(&js, config("HO", 1)).await;
    kv.put("a", "a value".into()).await.unwrap();
    // keys() is a headers_only, last_per_subject consumer: check the messages it gets.
    let stream = js.get_stream("KV_HO").await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::push::OrderedConfig {
            deliver_subject: "ho.deliver".into(),
            headers_only: true,
            deliver_policy: jetstream::consumer::DeliverPolicy::LastPerSubject,
            filter_subject: "$KV.HO.>".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let msg = timeout(BOUND, messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(msg.payload.is_empty());
    let headers = msg.headers.as_ref().expect("headers");
    assert_eq!(headers.get("Nats-Msg-Size").map(|v| v.as_str()), Some("7"));
}

both!(
    SUITE,
    bucket_ttl_expires_values_natrium,
    bucket_ttl_expires_values_latest,
    bucket_ttl_expires_values
);
async fn bucket_ttl_expires_values(js: jetstream::Context) {
    let kv = bucket(
        &js,
        kv::Config {
            max_age: Duration::from_secs(1),
            ..config("TTL", 1)
        },
    )
    .await;
    assert_eq!(kv.status().await.unwrap().max_age(), Duration::from_secs(1));
    kv.put("a", "1".into()).await.unwrap();
    let mut watch = kv.watch_with_history(">").await.unwrap();
    assert_eq!(next_entry(&mut watch).await.revision, 1);
    // Expiry is a timer: poll the bucket until the value is gone, bounded.
    timeout(Duration::from_secs(5), async {
        while kv.get("a").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("value expires");
    assert_eq!(fresh_status(&js, "TTL").await.values(), 0);
}

both!(
    SUITE,
    per_key_ttl_and_marker_ttls_natrium,
    per_key_ttl_and_marker_ttls_latest,
    per_key_ttl_and_marker_ttls
);
async fn per_key_ttl_and_marker_ttls(js: jetstream::Context) {
    let kv = bucket(
        &js,
        kv::Config {
            limit_markers: Some(Duration::from_secs(1)),
            ..config("KTTL", 1)
        },
    )
    .await;
    let info = js
        .get_stream("KV_KTTL")
        .await
        .unwrap()
        .cached_info()
        .clone();
    assert!(info.config.allow_message_ttl);
    assert_eq!(
        info.config.subject_delete_marker_ttl,
        Some(Duration::from_secs(1))
    );
    let mut watch = kv.watch_all().await.unwrap();
    kv.create_with_ttl("short", "v".into(), Duration::from_secs(1))
        .await
        .unwrap();
    let put = next_entry(&mut watch).await;
    assert_eq!(put.operation, kv::Operation::Put);
    // The expiry leaves a marker the watcher sees as a purge.
    let marker = timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("marker within bound")
        .unwrap()
        .unwrap();
    assert_eq!(marker.key, "short");
    assert_eq!(marker.operation, kv::Operation::Purge);
    assert_eq!(kv.get("short").await.unwrap(), None);
    // nats-server 2.15's marker: reason, its own TTL in Go's format, and a subject rollup.
    let stream = js.get_stream("KV_KTTL").await.unwrap();
    let raw = stream
        .get_last_raw_message_by_subject("$KV.KTTL.short")
        .await
        .unwrap();
    let headers = raw.headers;
    assert_eq!(
        headers.get("Nats-Marker-Reason").unwrap().as_str(),
        "MaxAge"
    );
    assert_eq!(headers.get("Nats-TTL").unwrap().as_str(), "1s");
    assert_eq!(headers.get("Nats-Rollup").unwrap().as_str(), "sub");
    assert!(raw.payload.is_empty());
    // A purge marker with its own TTL.
    kv.put("p", "v".into()).await.unwrap();
    kv.purge_with_ttl("p", Duration::from_secs(1))
        .await
        .unwrap();
    timeout(Duration::from_secs(10), async {
        while kv.entry("p").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the purge marker expires");
}

both!(
    SUITE,
    reads_use_direct_get_natrium,
    reads_use_direct_get_latest,
    reads_use_direct_get
);
async fn reads_use_direct_get(js: jetstream::Context) {
    let kv = bucket(&js, config("DG", 1)).await;
    let info = js.get_stream("KV_DG").await.unwrap().cached_info().clone();
    assert!(info.config.allow_direct);
    assert!(info.config.allow_rollup);
    assert!(info.config.deny_delete);
    assert_eq!(info.config.subjects, ["$KV.DG.>"]);
    kv.put("k", "v".into()).await.unwrap();
    let client = js.client();
    let reply = timeout(
        BOUND,
        client.request("$JS.API.DIRECT.GET.KV_DG.$KV.DG.k", Bytes::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(reply.payload, Bytes::from("v"));
    let headers = reply.headers.expect("headers");
    assert_eq!(headers.get("Nats-Sequence").unwrap().as_str(), "1");
    assert_eq!(headers.get("Nats-Subject").unwrap().as_str(), "$KV.DG.k");
    assert_eq!(headers.get("Nats-Stream").unwrap().as_str(), "KV_DG");
}

/// A watcher keeps going across a restart of a file-backed server on the same port.
async fn watch_survives_restart(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(target) = start(kind, dir.path(), restartable_port()).await else {
        return;
    };
    let url = target.url();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url.clone())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let kv = bucket(&js, config("R", 1)).await;
    kv.put("before", "1".into()).await.unwrap();
    let mut watch = kv.watch_with_history(">").await.unwrap();
    assert_eq!(next_entry(&mut watch).await.key, "before");
    target.shutdown().await;
    let target = start(kind, dir.path(), port_of(&url)).await.unwrap();
    // The client reconnects by itself; a put succeeds once it has.
    let revision = timeout(Duration::from_secs(20), async {
        loop {
            match kv.put("after", "2".into()).await {
                Ok(revision) => return revision,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .expect("put after restart");
    assert_eq!(revision, 2, "the bucket survived the restart");
    let entry = timeout(Duration::from_secs(20), async {
        loop {
            // The lost connection surfaces as errors (missing heartbeats) while the
            // ordered consumer is recreated; the watch goes on after them.
            match watch.next().await.expect("watch open") {
                Ok(entry) if entry.key == "after" => return entry,
                _ => {}
            }
        }
    })
    .await
    .expect("the watch sees the put after the restart");
    assert_eq!(entry.revision, 2);
    target.shutdown().await;
}

#[tokio::test]
async fn a_watch_survives_a_restart_natrium() {
    watch_survives_restart(Kind::Natrium).await;
}

#[tokio::test]
async fn a_watch_survives_a_restart_latest() {
    watch_survives_restart(Kind::Latest).await;
}
