//! Recovery: torn tails, flipped bytes and garbage in block files give an error or a
//! truncated, consistent store; never a panic and never a wrong message. Block index files
//! that are damaged, cut short or stale are ignored: the store is the same as without them.
//!
//! A sealed block whose index matches is not read at open, so the block-damage properties
//! run without index files; with them, damage inside a sealed block shows when a message
//! is loaded (an error, never a wrong message).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use natrium_store::{
    FileStore, FileStoreConfig, MessageStore, PurgeRequest, StoreError, StoreLimits, StoredMessage,
};
use proptest::prelude::*;
use tempfile::TempDir;

fn config() -> FileStoreConfig {
    FileStoreConfig {
        block_size: 4096,
        cache_bytes: 0,
        ..FileStoreConfig::default()
    }
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    paths
}

fn blocks(dir: &Path) -> Vec<PathBuf> {
    files(dir, "blk")
}

fn indexes(dir: &Path) -> Vec<PathBuf> {
    files(dir, "idx")
}

/// Removes the block index files, so that opening replays every block.
fn remove_indexes(dir: &Path) {
    for path in indexes(dir) {
        fs::remove_file(path).unwrap();
    }
}

/// Writes a store with removals, an erase and a filtered purge over several blocks; returns
/// every message ever stored by sequence.
fn build(dir: &Path, seed: u64) -> BTreeMap<u64, StoredMessage> {
    let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
    let mut all = BTreeMap::new();
    let mut x = seed;
    for i in 0..120u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let subject = format!("r.{}", x % 5);
        let payload: Vec<u8> = (0..(x >> 40) % 120)
            .map(|j| (j as u8) ^ (i as u8))
            .collect();
        let headers = x
            .is_multiple_of(7)
            .then_some(&b"NATS/1.0\r\nK: v\r\n\r\n"[..]);
        let seq = store
            .store(subject.as_bytes(), headers, &payload, i as i64, None)
            .unwrap();
        all.insert(seq, store.load(seq).unwrap().unwrap());
        if i % 17 == 5 {
            store.remove(seq - 3, i % 2 == 0).unwrap();
        }
        if i % 10 == 9 {
            store.flush().unwrap();
        }
    }
    store
        .purge(&PurgeRequest {
            filter: Some("r.1".into()),
            seq: Some(40),
            keep: None,
        })
        .unwrap();
    store.flush().unwrap();
    all
}

/// Opens the damaged store; checks it is consistent and every message is the one stored.
fn verify(dir: &Path, all: &BTreeMap<u64, StoredMessage>) -> Result<(), TestCaseError> {
    let mut store = match FileStore::open(dir, config(), StoreLimits::default()) {
        Ok(store) => store,
        Err(StoreError::Corrupt { path, .. }) => {
            prop_assert!(path.starts_with(dir));
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
    };
    let st = store.state();
    let mut loaded = Vec::new();
    for seq in st.first_seq.saturating_sub(1)..=st.last_seq + 1 {
        if let Some(m) = store.load(seq).unwrap() {
            prop_assert_eq!(Some(&m), all.get(&seq), "seq {}", seq);
            loaded.push(m);
        }
    }
    prop_assert_eq!(st.msgs, loaded.len() as u64);
    if let Some(first) = loaded.first() {
        prop_assert_eq!((st.first_seq, st.first_time), (first.seq, first.time));
        prop_assert_eq!(st.num_deleted, st.last_seq - st.first_seq + 1 - st.msgs);
    }
    let mut subjects: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for m in &loaded {
        let e = subjects
            .entry(String::from_utf8(m.subject.to_vec()).unwrap())
            .or_insert((0, m.seq, 0));
        e.0 += 1;
        e.2 = m.seq;
    }
    let got: BTreeMap<String, (u64, u64, u64)> = store
        .subjects(b">")
        .into_iter()
        .map(|(k, v)| (k, (v.msgs, v.first_seq, v.last_seq)))
        .collect();
    prop_assert_eq!(got, subjects);
    // The store takes new messages after recovery, and keeps them across another reopen.
    let seq = store.store(b"r.new", None, b"after", 1_000, None).unwrap();
    prop_assert!(seq > st.last_seq);
    store.flush().unwrap();
    drop(store);
    let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
    prop_assert_eq!(&store.load(seq).unwrap().unwrap().payload[..], b"after");
    prop_assert_eq!(store.state().msgs, st.msgs + 1);
    Ok(())
}

#[derive(Debug, Clone)]
enum Damage {
    Truncate {
        block: usize,
        at: f64,
    },
    Flip {
        block: usize,
        at: f64,
        mask: u8,
    },
    AppendGarbage {
        bytes: Vec<u8>,
    },
    Overwrite {
        block: usize,
        at: f64,
        bytes: Vec<u8>,
    },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0.0..1.0).prop_map(|(block, at)| Damage::Truncate { block, at }),
        (any::<usize>(), 0.0..1.0, 1..=255u8).prop_map(|(block, at, mask)| Damage::Flip {
            block,
            at,
            mask
        }),
        prop::collection::vec(any::<u8>(), 1..200)
            .prop_map(|bytes| Damage::AppendGarbage { bytes }),
        (
            any::<usize>(),
            0.0..1.0,
            prop::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(|(block, at, bytes)| Damage::Overwrite { block, at, bytes }),
    ]
}

fn apply(dir: &Path, damage: &Damage) {
    let paths = blocks(dir);
    let pick = |i: usize| &paths[i % paths.len()];
    let offset = |path: &Path, at: f64| (fs::metadata(path).unwrap().len() as f64 * at) as u64;
    match damage {
        Damage::Truncate { block, at } => {
            let path = pick(*block);
            OpenOptions::new()
                .write(true)
                .open(path)
                .unwrap()
                .set_len(offset(path, *at))
                .unwrap();
        }
        Damage::Flip { block, at, mask } => {
            let path = pick(*block);
            let mut data = fs::read(path).unwrap();
            let i = (offset(path, *at) as usize).min(data.len() - 1);
            data[i] ^= mask;
            fs::write(path, data).unwrap();
        }
        Damage::AppendGarbage { bytes } => {
            let path = paths.last().unwrap();
            OpenOptions::new()
                .append(true)
                .open(path)
                .unwrap()
                .write_all(bytes)
                .unwrap();
        }
        Damage::Overwrite { block, at, bytes } => {
            let path = pick(*block);
            let mut data = fs::read(path).unwrap();
            let start = offset(path, *at) as usize;
            for (i, b) in bytes.iter().enumerate() {
                if let Some(slot) = data.get_mut(start + i) {
                    *slot = *b;
                }
            }
            fs::write(path, data).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn damaged_blocks_give_an_error_or_a_consistent_store(seed in any::<u64>(), damages in prop::collection::vec(damage(), 1..4)) {
        let dir = TempDir::new().unwrap();
        let all = build(dir.path(), seed);
        remove_indexes(dir.path());
        for d in &damages {
            apply(dir.path(), d);
        }
        verify(dir.path(), &all)?;
    }

    #[test]
    fn damaged_blocks_with_their_indexes_never_give_a_wrong_message(seed in any::<u64>(), damages in prop::collection::vec(damage(), 1..4)) {
        let dir = TempDir::new().unwrap();
        let all = build(dir.path(), seed);
        prop_assert!(!indexes(dir.path()).is_empty());
        for d in &damages {
            apply(dir.path(), d);
        }
        let mut store = match FileStore::open(dir.path(), config(), StoreLimits::default()) {
            Ok(store) => store,
            Err(StoreError::Corrupt { .. }) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
        };
        let st = store.state();
        for seq in st.first_seq..=st.last_seq {
            match store.load(seq) {
                Ok(Some(m)) => prop_assert_eq!(Some(&m), all.get(&seq), "seq {}", seq),
                Ok(None) | Err(StoreError::Corrupt { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
            }
        }
    }

    #[test]
    fn damaged_cut_or_stale_indexes_are_ignored(seed in any::<u64>(), damages in prop::collection::vec(index_damage(), 1..4)) {
        let dir = TempDir::new().unwrap();
        let all = build(dir.path(), seed);
        let stale = stale_indexes(dir.path());
        let expected = snapshot_without_indexes(dir.path());
        for d in &damages {
            apply_to_index(dir.path(), d, &stale);
        }
        let got = snapshot(dir.path());
        prop_assert_eq!(got, expected);
        verify(dir.path(), &all)?;
        // The ignored indexes were written again, and they describe the same store.
        prop_assert!(!indexes(dir.path()).is_empty());
        prop_assert_eq!(snapshot(dir.path()), snapshot_without_indexes(dir.path()));
    }
}

/// Every index file in `dir` with its bytes, by file name.
fn index_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    indexes(dir)
        .into_iter()
        .map(|path| (path.file_name().unwrap().into(), fs::read(&path).unwrap()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A block's index is kept while records are appended (sealing reads nothing back): it
    /// must be byte for byte the index that replaying the block writes.
    #[test]
    fn indexes_kept_while_appending_equal_the_replayed_ones(seed in any::<u64>()) {
        let dir = TempDir::new().unwrap();
        build(dir.path(), seed);
        // Messages with TTL deadlines and headers, past a few more seals.
        let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        for i in 0..80u64 {
            let ttl = (i % 3 == 0).then(|| std::time::Duration::from_secs(3600 + i));
            let headers = (i % 2 == 0).then_some(&b"NATS/1.0\r\nK: v\r\n\r\n"[..]);
            let seq = store
                .store(format!("t.{}", i % 4).as_bytes(), headers, &[i as u8; 90], now + i as i64, ttl)
                .unwrap();
            if i % 9 == 4 {
                store.remove(seq - 1, false).unwrap();
            }
            if i % 5 == 0 {
                store.flush().unwrap();
            }
        }
        store.flush().unwrap();
        drop(store);
        let kept = index_bytes(dir.path());
        prop_assert!(kept.len() >= 4, "only {} sealed blocks indexed", kept.len());
        remove_indexes(dir.path());
        drop(FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap());
        let replayed = index_bytes(dir.path());
        for (name, bytes) in &kept {
            prop_assert_eq!(Some(bytes), replayed.get(name), "index {:?} differs", name);
        }
    }
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_record_is_truncated() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    store.store(b"t.a", None, b"first", 1, None).unwrap();
    store.flush().unwrap();
    let good = fs::metadata(&blocks(dir.path())[0]).unwrap().len();
    store
        .store(b"t.a", Some(b"NATS/1.0\r\n\r\n"), b"second", 2, None)
        .unwrap();
    store.flush().unwrap();
    drop(store);
    let path = blocks(dir.path())[0].clone();
    let full = fs::read(&path).unwrap();
    for cut in good..full.len() as u64 {
        fs::write(&path, &full[..cut as usize]).unwrap();
        let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
        assert_eq!(store.state().msgs, 1, "cut at {cut}");
        assert_eq!(&store.load(1).unwrap().unwrap().payload[..], b"first");
        assert_eq!(store.load(2).unwrap(), None);
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            good,
            "the torn bytes are gone"
        );
    }
}

#[test]
fn a_bad_record_in_an_older_block_is_reported_with_path_and_offset() {
    let dir = TempDir::new().unwrap();
    build(dir.path(), 7);
    remove_indexes(dir.path());
    let paths = blocks(dir.path());
    assert!(paths.len() > 2);
    let mut data = fs::read(&paths[1]).unwrap();
    data[20] ^= 0xff;
    fs::write(&paths[1], data).unwrap();
    match FileStore::open(dir.path(), config(), StoreLimits::default()) {
        Err(StoreError::Corrupt { path, offset, .. }) => {
            assert_eq!(path, paths[1]);
            assert_eq!(offset, 8, "the first record after the magic");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn bytes_rotting_after_open_give_an_error_not_a_wrong_message() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    store.store(b"rot.a", None, b"precious", 1, None).unwrap();
    store.flush().unwrap();
    let path = blocks(dir.path())[0].clone();
    let mut data = fs::read(&path).unwrap();
    let at = data.windows(8).position(|w| w == b"precious").unwrap();
    data[at] = b'P';
    fs::write(&path, data).unwrap();
    assert!(matches!(store.load(1), Err(StoreError::Corrupt { .. })));
}

#[test]
fn a_block_that_is_not_ours_is_refused_unless_it_is_the_torn_last_one() {
    let dir = TempDir::new().unwrap();
    build(dir.path(), 3);
    remove_indexes(dir.path());
    let paths = blocks(dir.path());
    fs::write(&paths[0], b"hello, I am not a block").unwrap();
    assert!(matches!(
        FileStore::open(dir.path(), config(), StoreLimits::default()),
        Err(StoreError::Corrupt { offset: 0, .. })
    ));
}

/// Everything a reader of the store sees: state, subjects and every message (or error).
type Snapshot = (String, String, Vec<String>);

fn snapshot(dir: &Path) -> Snapshot {
    let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
    let st = store.state();
    let messages = (st.first_seq..=st.last_seq)
        .map(|seq| format!("{:?}", store.load(seq)))
        .collect();
    (
        format!("{st:?}"),
        format!("{:?}", store.subjects(b">")),
        messages,
    )
}

/// The snapshot of a copy of the store without its index files.
fn snapshot_without_indexes(dir: &Path) -> Snapshot {
    let copy = TempDir::new().unwrap();
    for path in blocks(dir) {
        fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    snapshot(copy.path())
}

/// Index files from before some messages in sealed blocks were erased (their records then
/// differ from what the indexes say), by file name.
fn stale_indexes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let before: Vec<(PathBuf, Vec<u8>)> = indexes(dir)
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
    let st = store.state();
    let mut seq = st.first_seq;
    while seq < st.last_seq / 2 {
        store.remove(seq, true).unwrap();
        seq += 7;
    }
    store.flush().unwrap();
    before
}

#[derive(Debug, Clone)]
enum IndexDamage {
    Truncate {
        index: usize,
        at: f64,
    },
    Flip {
        index: usize,
        at: f64,
        mask: u8,
    },
    Overwrite {
        index: usize,
        at: f64,
        bytes: Vec<u8>,
    },
    /// Another block's index in its place.
    Swap {
        index: usize,
        other: usize,
    },
    /// The index from before messages in its block were erased.
    Stale {
        index: usize,
    },
    Remove {
        index: usize,
    },
}

fn index_damage() -> impl Strategy<Value = IndexDamage> {
    prop_oneof![
        (any::<usize>(), 0.0..1.0).prop_map(|(index, at)| IndexDamage::Truncate { index, at }),
        (any::<usize>(), 0.0..1.0, 1..=255u8).prop_map(|(index, at, mask)| IndexDamage::Flip {
            index,
            at,
            mask
        }),
        (
            any::<usize>(),
            0.0..1.0,
            prop::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(index, at, bytes)| IndexDamage::Overwrite { index, at, bytes }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(index, other)| IndexDamage::Swap { index, other }),
        any::<usize>().prop_map(|index| IndexDamage::Stale { index }),
        any::<usize>().prop_map(|index| IndexDamage::Remove { index }),
    ]
}

fn apply_to_index(dir: &Path, damage: &IndexDamage, stale: &[(PathBuf, Vec<u8>)]) {
    let paths = indexes(dir);
    if paths.is_empty() {
        return;
    }
    let pick = |i: usize| &paths[i % paths.len()];
    let at = |data: &[u8], at: f64| ((data.len() as f64 * at) as usize).min(data.len() - 1);
    match damage {
        IndexDamage::Truncate { index, at: cut } => {
            let data = fs::read(pick(*index)).unwrap();
            let cut = (data.len() as f64 * cut) as usize;
            fs::write(pick(*index), &data[..cut]).unwrap();
        }
        IndexDamage::Flip {
            index,
            at: where_,
            mask,
        } => {
            let mut data = fs::read(pick(*index)).unwrap();
            if data.is_empty() {
                return;
            }
            let i = at(&data, *where_);
            data[i] ^= mask;
            fs::write(pick(*index), data).unwrap();
        }
        IndexDamage::Overwrite {
            index,
            at: where_,
            bytes,
        } => {
            let mut data = fs::read(pick(*index)).unwrap();
            if data.is_empty() {
                return;
            }
            let start = at(&data, *where_);
            for (i, b) in bytes.iter().enumerate() {
                if let Some(slot) = data.get_mut(start + i) {
                    *slot = *b;
                }
            }
            fs::write(pick(*index), data).unwrap();
        }
        IndexDamage::Swap { index, other } => {
            let data = fs::read(pick(*other)).unwrap();
            fs::write(pick(*index), data).unwrap();
        }
        IndexDamage::Stale { index } => {
            if let Some((path, bytes)) = stale.get(index % stale.len().max(1)) {
                fs::write(path, bytes).unwrap();
            }
        }
        IndexDamage::Remove { index } => {
            fs::remove_file(pick(*index)).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A machine crash while a closed block's background fsync ran leaves its sealing marker,
    /// no index and any prefix of its bytes: the store opens without it (never `Corrupt`),
    /// every message it still has is the one stored, and the marker is gone.
    #[test]
    fn a_closed_block_cut_before_its_fsync_finished_loses_only_its_tail(
        seed in any::<u64>(),
        which in 0usize..64,
        keep in 0.0f64..1.0,
    ) {
        let dir = TempDir::new().unwrap();
        let all = build(dir.path(), seed);
        let paths = blocks(dir.path());
        prop_assume!(paths.len() > 2);
        let path = &paths[which % (paths.len() - 1)];
        fs::File::create(path.with_extension("sealing")).unwrap();
        let _ = fs::remove_file(path.with_extension("idx"));
        let len = fs::metadata(path).unwrap().len();
        let cut = (len as f64 * keep) as u64;
        OpenOptions::new().write(true).open(path).unwrap().set_len(cut).unwrap();
        let opened = FileStore::open(dir.path(), config(), StoreLimits::default());
        prop_assert!(opened.is_ok(), "{:?}", opened.err());
        drop(opened);
        prop_assert!(!path.with_extension("sealing").exists());
        verify(dir.path(), &all)?;
    }
}

/// The sealing marker of a closed block stays until the block's background fsync is done
/// and its index written; a sync waits for that.
#[test]
fn a_closed_block_has_its_sealing_marker_until_it_is_on_disk() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    for i in 0..200u64 {
        store
            .store(b"m", None, &[i as u8; 100], i as i64, None)
            .unwrap();
        if i % 10 == 9 {
            store.flush().unwrap();
        }
    }
    let paths = blocks(dir.path());
    let closed = &paths[..paths.len() - 1];
    assert!(closed.len() >= 3, "only {} closed blocks", closed.len());
    for path in closed {
        let marker = path.with_extension("sealing").exists();
        let index = path.with_extension("idx").exists();
        assert!(marker != index, "{path:?}: marker {marker}, index {index}");
    }
    store.sync().unwrap();
    for path in closed {
        assert!(!path.with_extension("sealing").exists(), "{path:?}");
        assert!(path.with_extension("idx").exists(), "{path:?}");
    }
    // A block with no marker is on disk: bad bytes in it are not a torn tail.
    drop(store);
    remove_indexes(dir.path());
    let mut data = fs::read(&closed[1]).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    fs::write(&closed[1], data).unwrap();
    assert!(matches!(
        FileStore::open(dir.path(), config(), StoreLimits::default()),
        Err(StoreError::Corrupt { .. })
    ));
}

/// A torn closed block loses only its tail: the blocks after it are kept, and a tombstone
/// there for the lost message finds nothing to remove.
#[test]
fn a_torn_closed_block_keeps_the_blocks_after_it() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    let payload = [7u8; 1000];
    let put = |store: &mut FileStore| {
        let seq = store.store(b"t", None, &payload, 1, None).unwrap();
        store.flush().unwrap();
        seq
    };
    let mut seqs = Vec::new();
    while blocks(dir.path()).len() < 2 {
        seqs.push(put(&mut store));
    }
    // The message that started block 2 came right after the one that ended block 1.
    let end_of_first = seqs[seqs.len() - 2];
    store.remove(end_of_first, false).unwrap();
    store.flush().unwrap();
    let mut later = Vec::new();
    while blocks(dir.path()).len() < 3 {
        later.push(put(&mut store));
    }
    drop(store);
    let first = blocks(dir.path())[0].clone();
    fs::File::create(first.with_extension("sealing")).unwrap();
    fs::remove_file(first.with_extension("idx")).unwrap();
    let len = fs::metadata(&first).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let mut store = FileStore::open(dir.path(), config(), StoreLimits::default()).unwrap();
    assert_eq!(store.load(end_of_first).unwrap(), None);
    assert!(store.load(end_of_first - 1).unwrap().is_some());
    assert!(store.load(seqs[seqs.len() - 1]).unwrap().is_some());
    for seq in later {
        assert!(store.load(seq).unwrap().is_some(), "message {seq}");
    }
}
