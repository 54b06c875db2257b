//! The file store keeps payloads on disk: resident memory grows with the message count
//! (a compact index entry each), not with payload bytes. Alone in its own test binary so
//! no other test moves the process's memory.

use natrium_store::{FileStore, FileStoreConfig, MessageStore, StoreLimits};
use tempfile::TempDir;

/// Resident set size of this process in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn payloads_are_not_kept_in_memory() {
    const MESSAGES: u64 = 100_000;
    const PAYLOAD: usize = 1024;
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(
        dir.path(),
        FileStoreConfig::default(),
        StoreLimits::default(),
    )
    .unwrap();
    let payload = vec![b'p'; PAYLOAD];
    let before = rss();
    for i in 0..MESSAGES {
        store
            .store(b"rss.subject", None, &payload, i as i64, None)
            .unwrap();
        if i % 100 == 99 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
    let written = MESSAGES * PAYLOAD as u64;
    let grown = rss().saturating_sub(before);
    // ~100 MiB of payload; the index needs ~16 bytes per message (~1.6 MiB).
    assert!(
        grown < written / 8,
        "RSS grew {grown} bytes for {written} payload bytes"
    );
    for seq in 1..=MESSAGES {
        assert_eq!(store.load(seq).unwrap().unwrap().payload.len(), PAYLOAD);
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < written / 8,
        "after reading everything back RSS grew {grown} bytes"
    );
    drop(store);
    let before_reopen = rss();
    let store = FileStore::open(
        dir.path(),
        FileStoreConfig::default(),
        StoreLimits::default(),
    )
    .unwrap();
    assert_eq!(store.state().msgs, MESSAGES);
    let grown = rss().saturating_sub(before_reopen);
    assert!(grown < written / 8, "recovery grew RSS by {grown} bytes");
}
