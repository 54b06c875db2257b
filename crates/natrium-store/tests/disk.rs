//! The file store on a real full disk (a tiny tmpfs: needs root; under env `CI` a failed
//! mount fails the test, locally it warns and returns), and the block index at work.

use std::fs;
use std::path::Path;
use std::process::Command;

use natrium_store::{FileStore, FileStoreConfig, MessageStore, StoreError, StoreLimits};
use tempfile::TempDir;

/// A tmpfs of `size` on a fresh temporary directory, unmounted when dropped.
struct TinyDisk(TempDir);

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn tiny_disk_or_skip(size: &str) -> Option<TinyDisk> {
    let dir = TempDir::new().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir.path())
        .output()
        .map_err(|e| e.to_string())
        .and_then(|out| {
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
            }
        });
    match mounted {
        Ok(()) => Some(TinyDisk(dir)),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the full-disk tests (as root): mount -t tmpfs: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n!!! WARNING: SKIPPED a full-disk test: mount -t tmpfs: {why} (run as root)\n"
            );
            None
        }
    }
}

fn small_blocks() -> FileStoreConfig {
    FileStoreConfig {
        block_size: 16 * 1024,
        ..FileStoreConfig::default()
    }
}

fn is_full(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull)
}

#[test]
fn a_full_disk_fails_the_whole_batch_and_the_store_goes_on_once_space_is_freed() {
    // Small blocks: the disk fills while a new block is started (in `store`); blocks larger
    // than the disk: it fills in the batch's write (in `flush`).
    let paths: Vec<bool> = [16 * 1024, 8 * 1024 * 1024]
        .into_iter()
        .filter_map(full_disk_round)
        .collect();
    if paths.len() == 2 {
        assert!(!paths[1], "big blocks fail in flush");
    }
}

/// One round on a fresh tiny disk; returns whether the failure came from `store`.
fn full_disk_round(block_size: u64) -> Option<bool> {
    let disk = tiny_disk_or_skip("256k")?;
    let cfg = FileStoreConfig {
        block_size,
        ..FileStoreConfig::default()
    };
    let dir = disk.0.path().join("store");
    let filler = disk.0.path().join("filler");
    let mut store = FileStore::open(&dir, cfg.clone(), StoreLimits::default()).unwrap();
    fs::write(&filler, vec![0u8; 150 * 1024]).unwrap();
    let payload = vec![b'p'; 900];
    // Batches of 8 messages, flushed like the server does, until a batch fails.
    let mut durable = 0u64;
    let (failure, in_store) = 'fill: loop {
        let mut batch = Vec::new();
        for _ in 0..8 {
            match store.store(b"disk.x", None, &payload, 1, None) {
                Ok(seq) => batch.push(seq),
                // Starting a new block failed: earlier messages of the batch went too.
                Err(e) => break 'fill (e, true),
            }
        }
        match store.flush() {
            Ok(()) => durable = *batch.last().unwrap(),
            Err(e) => break (e, false),
        }
        assert!(durable < 10_000, "the disk never filled up");
    };
    assert!(is_full(&failure), "{failure}");
    if in_store {
        // The batch's flush still fails, so none of its acknowledgements go out.
        let err = store
            .flush()
            .expect_err("the batch's flush reports the failure");
        assert!(is_full(&err), "{err}");
    }
    assert!(store.write_error().is_some());
    let st = store.state();
    assert_eq!(
        (st.msgs, st.last_seq),
        (durable, durable),
        "back to what the disk holds"
    );

    fs::remove_file(&filler).unwrap();
    let seq = store.store(b"disk.x", None, b"after", 2, None).unwrap();
    store.flush().unwrap();
    assert_eq!(seq, durable + 1);
    assert_eq!(store.write_error(), None);
    drop(store);
    let mut store = FileStore::open(&dir, cfg, StoreLimits::default()).unwrap();
    assert_eq!(store.state().msgs, durable + 1);
    assert_eq!(&store.load(seq).unwrap().unwrap().payload[..], b"after");
    for s in 1..=durable {
        assert_eq!(store.load(s).unwrap().unwrap().payload, payload);
    }
    Some(in_store)
}

/// Sets a file's modification time back after the test changed it.
fn keep_mtime(path: &Path, change: impl FnOnce()) {
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    change();
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(mtime).unwrap();
}

#[test]
fn a_sealed_block_with_a_matching_index_is_not_read_at_open() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), small_blocks(), StoreLimits::default()).unwrap();
    let payload = vec![b'q'; 1000];
    for i in 0..40 {
        store.store(b"idx.a", None, &payload, i, None).unwrap();
    }
    store.flush().unwrap();
    drop(store);
    let first = dir.path().join("00000001.blk");
    assert!(
        dir.path().join("00000001.idx").exists(),
        "sealed blocks get an index"
    );
    // Damage a payload byte in the middle, keeping length, tail and mtime: only a reader of
    // the block would notice.
    keep_mtime(&first, || {
        let mut data = fs::read(&first).unwrap();
        data[2000] ^= 0xff;
        fs::write(&first, data).unwrap();
    });
    let mut store = FileStore::open(dir.path(), small_blocks(), StoreLimits::default())
        .expect("opened from the index, without reading the block");
    assert_eq!(store.state().msgs, 40);
    // The damage shows on load, as an error, never as a wrong message.
    assert!(matches!(store.load(2), Err(StoreError::Corrupt { .. })));
    drop(store);
    // Without the index, the block is replayed and the damage found at open.
    fs::remove_file(dir.path().join("00000001.idx")).unwrap();
    let err = FileStore::open(dir.path(), small_blocks(), StoreLimits::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref path, .. } if *path == first),
        "{err}"
    );
}
