//! A process killed with SIGKILL loses nothing that `flush()` had acknowledged.
//!
//! The test runs itself as a child process (same binary, same test, an environment variable
//! set) that appends and flushes in a loop and reports each acknowledged sequence; the
//! parent kills it mid-stream and reopens the store.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use natrium_store::{FileStore, FileStoreConfig, MessageStore, StoreLimits};
use tempfile::TempDir;

const CHILD_DIR: &str = "NATRIUM_STORE_CRASH_DIR";
const TEST_NAME: &str = "flushed_messages_survive_kill_9";

fn payload(seq: u64) -> Vec<u8> {
    format!("payload of message {seq}")
        .repeat((seq % 5) as usize + 1)
        .into_bytes()
}

fn config() -> FileStoreConfig {
    FileStoreConfig {
        block_size: 64 * 1024,
        ..FileStoreConfig::default()
    }
}

/// The child: appends batches of 100, flushes each and prints what was acknowledged. It
/// stops by itself after a bounded number of batches if nobody kills it.
fn child(dir: &Path) {
    let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
    for _ in 0..100_000 {
        let mut last = 0;
        for _ in 0..100 {
            let seq = store.state().last_seq + 1;
            last = store
                .store(b"crash.test", None, &payload(seq), seq as i64, None)
                .unwrap();
        }
        store.flush().unwrap();
        println!("flushed {last}");
    }
}

#[test]
fn flushed_messages_survive_kill_9() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child(Path::new(&dir));
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let mut acknowledged = 0u64;
    let mut batches = 0;
    while batches < 50 {
        let line = lines.next().expect("child exited early").unwrap();
        if let Some(seq) = line.strip_prefix("flushed ") {
            acknowledged = seq.parse().unwrap();
            batches += 1;
        }
    }
    // The child is still appending: the kill lands somewhere inside a batch or a write.
    proc.kill().unwrap();
    proc.wait().unwrap();

    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    let state = store.state();
    assert!(
        state.last_seq >= acknowledged,
        "{} < {acknowledged}",
        state.last_seq
    );
    assert_eq!(state.msgs, state.last_seq, "no holes");
    for seq in 1..=state.last_seq {
        let m = store.load(seq).unwrap().unwrap();
        assert_eq!(m.payload, payload(seq), "seq {seq}");
    }
}
