//! The object store through async-nats, on natrium-server and the newest nats-server alike:
//! objects of 0 B to 100 MiB, info, list, delete, links, watch, seal, metadata updates, and
//! the SHA-256 digest checked by the test itself, including after a restart.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, object_store};
use base64::Engine as _;
use common::BOUND;
use common::js_target::{Kind, Suite, Target, context};
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

/// The object store scenarios.
const SUITE: Suite = Suite {
    name: "object store",
    bound: Duration::from_secs(60),
};

/// Starts `kind` storing in `dir` on a free port; `None` when the reference binary is
/// missing locally.
async fn start(kind: Kind, dir: &Path) -> Option<Target> {
    common::js_target::start(kind, dir, 0, SUITE.name).await
}

/// Deterministic bytes that do not compress (seeded pseudo-random).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fastrand::Rng::with_seed(seed).fill(&mut bytes);
    bytes
}

/// The digest as the clients write it in object info.
fn digest(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(sum)
    )
}

async fn read_all(bucket: &object_store::ObjectStore, name: &str) -> Vec<u8> {
    let mut object = bucket.get(name).await.expect("get");
    let mut out = Vec::new();
    object.read_to_end(&mut out).await.expect("read");
    out
}

async fn put(
    bucket: &object_store::ObjectStore,
    name: &str,
    bytes: &[u8],
) -> object_store::ObjectInfo {
    bucket.put(name, &mut &bytes[..]).await.expect("put")
}

async fn bucket(js: &jetstream::Context, name: &str) -> object_store::ObjectStore {
    js.create_object_store(object_store::Config {
        bucket: name.into(),
        ..Default::default()
    })
    .await
    .expect("bucket")
}

both!(
    SUITE,
    sizes_round_trip_natrium,
    sizes_round_trip_latest,
    sizes_round_trip
);
async fn sizes_round_trip(js: jetstream::Context) {
    let bucket = bucket(&js, "SIZES").await;
    const CHUNK: usize = 128 * 1024;
    let sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * 1024 * 1024 + 7];
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = data(size, i as u64 + 1);
        let name = format!("obj-{size}");
        let info = put(&bucket, &name, &bytes).await;
        assert_eq!(info.size, size);
        assert_eq!(info.chunks, size.div_ceil(CHUNK));
        assert_eq!(info.digest.as_deref(), Some(digest(&bytes).as_str()));
        let back = read_all(&bucket, &name).await;
        assert!(back == bytes, "{name} round-trips");
        let info = bucket.info(&name).await.unwrap();
        assert_eq!(info.size, size);
        assert!(!info.deleted);
    }
    let mut names: Vec<String> = bucket
        .list()
        .await
        .unwrap()
        .map(|info| info.unwrap().name)
        .collect()
        .await;
    names.sort();
    let mut expected: Vec<String> = sizes.iter().map(|s| format!("obj-{s}")).collect();
    expected.sort();
    assert_eq!(names, expected);
    // Replacing an object drops the old chunks.
    put(&bucket, "obj-1", b"new").await;
    assert_eq!(read_all(&bucket, "obj-1").await, b"new");
}

both!(
    SUITE,
    delete_and_watch_natrium,
    delete_and_watch_latest,
    delete_and_watch
);
async fn delete_and_watch(js: jetstream::Context) {
    let bucket = bucket(&js, "DEL").await;
    let mut watch = bucket.watch().await.unwrap();
    put(&bucket, "a", &data(300_000, 7)).await;
    let seen = timeout(BOUND, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (seen.name.as_str(), seen.size, seen.deleted),
        ("a", 300_000, false)
    );
    bucket.delete("a").await.unwrap();
    let seen = timeout(BOUND, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(seen.deleted);
    assert_eq!(seen.size, 0);
    assert!(bucket.get("a").await.is_err(), "a deleted object is gone");
    // Info still answers, with the object marked deleted and emptied.
    let info = bucket.info("a").await.unwrap();
    assert!(info.deleted);
    assert_eq!((info.size, info.chunks), (0, 0));
    let empty: Vec<_> = bucket.list().await.unwrap().collect().await;
    assert!(empty.is_empty(), "list skips deleted objects");
    // The chunks are purged: only the delete marker's metadata is left.
    let mut stream = js.get_stream("OBJ_DEL").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    // History from the start.
    put(&bucket, "b", b"b").await;
    let mut history = bucket.watch_with_history().await.unwrap();
    let first = timeout(BOUND, history.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.name, "a");
    let second = timeout(BOUND, history.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.name, "b");
}

both!(SUITE, links_natrium, links_latest, links);
async fn links(js: jetstream::Context) {
    let bucket = bucket(&js, "LINKS").await;
    let other = self::bucket(&js, "OTHER").await;
    let bytes = data(200_000, 3);
    let info = put(&bucket, "target", &bytes).await;
    let link = bucket.add_link("alias", &info).await.unwrap();
    assert_eq!(
        link.options.unwrap().link.unwrap().name.as_deref(),
        Some("target")
    );
    assert_eq!(read_all(&bucket, "alias").await, bytes);
    let bucket_link = bucket.add_bucket_link("to-other", "OTHER").await.unwrap();
    let target = bucket_link.options.unwrap().link.unwrap();
    assert_eq!((target.bucket.as_str(), target.name), ("OTHER", None));
    put(&other, "there", b"x").await;
    // A link to a link is refused by the client.
    let alias = bucket.info("alias").await.unwrap();
    assert!(bucket.add_link("alias2", &alias).await.is_err());
}

both!(
    SUITE,
    seal_and_metadata_natrium,
    seal_and_metadata_latest,
    seal_and_metadata
);
async fn seal_and_metadata(js: jetstream::Context) {
    let mut bucket = bucket(&js, "META").await;
    let bytes = data(1000, 9);
    put(&bucket, "old", &bytes).await;
    let updated = bucket
        .update_metadata(
            "old",
            object_store::UpdateMetadata {
                name: "new".into(),
                description: Some("renamed".into()),
                metadata: [("k".to_owned(), "v".to_owned())].into(),
                headers: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "new");
    let info = bucket.info("new").await.unwrap();
    assert_eq!(info.description.as_deref(), Some("renamed"));
    assert_eq!(info.digest.as_deref(), Some(digest(&bytes).as_str()));
    assert!(bucket.info("old").await.is_err(), "the old name is gone");
    assert_eq!(read_all(&bucket, "new").await, bytes);
    bucket.seal().await.unwrap();
    let stream = js.get_stream("OBJ_META").await.unwrap();
    assert!(stream.cached_info().config.sealed);
    assert!(bucket.put("more", &mut &b"x"[..]).await.is_err(), "sealed");
    assert_eq!(read_all(&bucket, "new").await, bytes, "still readable");
}

/// A 100 MiB object written to a file-backed server reads back with the same digest after
/// the server restarts.
async fn large_object_survives_restart(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(target) = start(kind, dir.path()).await else {
        return;
    };
    let bytes = data(100 * 1024 * 1024, 42);
    let expected = digest(&bytes);
    let js = context(&target).await;
    let bucket = bucket(&js, "BIG").await;
    let info = timeout(Duration::from_secs(120), put(&bucket, "big", &bytes))
        .await
        .expect("put within bound");
    assert_eq!(info.digest.as_deref(), Some(expected.as_str()));
    target.shutdown().await;

    let target = start(kind, dir.path()).await.unwrap();
    let js = context(&target).await;
    let bucket = js.get_object_store("BIG").await.expect("bucket recovered");
    let info = bucket.info("big").await.unwrap();
    assert_eq!(info.size, bytes.len());
    assert_eq!(info.digest.as_deref(), Some(expected.as_str()));
    let back = timeout(Duration::from_secs(120), read_all(&bucket, "big"))
        .await
        .expect("get within bound");
    assert_eq!(back.len(), bytes.len());
    assert_eq!(digest(&back), expected);
    target.shutdown().await;
}

#[tokio::test]
async fn a_100_mib_object_survives_a_restart_natrium() {
    large_object_survives_restart(Kind::Natrium).await;
}

#[tokio::test]
async fn a_100_mib_object_survives_a_restart_latest() {
    large_object_survives_restart(Kind::Latest).await;
}
