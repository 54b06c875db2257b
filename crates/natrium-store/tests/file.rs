//! The file store: nats-server behaviours, persistence across reopen, erase, block rotation,
//! and bounded memory.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{fill, limits, purge, reference_behaviours};
use natrium_store::{
    FileStore, FileStoreConfig, MessageStore, PurgeRequest, StoreError, StoreLimits, StoreState,
    StoredMessage, SubjectState, SyncPolicy,
};
use tempfile::TempDir;

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, FileStoreConfig::default(), limits()).unwrap()
}

fn small_blocks() -> FileStoreConfig {
    FileStoreConfig {
        block_size: 1024,
        ..FileStoreConfig::default()
    }
}

fn block_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".blk"))
        .collect();
    names.sort();
    names
}

#[test]
fn file_store_behaves_as_nats_server() {
    let mut dirs = Vec::new();
    reference_behaviours(&mut |l| {
        let dir = TempDir::new().unwrap();
        let store = FileStore::open(dir.path(), FileStoreConfig::default(), l).unwrap();
        dirs.push(dir);
        Box::new(store) as Box<dyn MessageStore>
    });
}

/// A file store that is flushed, dropped and reopened after every operation, so every
/// answer comes from what the disk holds.
struct Reopening {
    dir: TempDir,
    limits: StoreLimits,
    store: FileStore,
}

impl Reopening {
    fn new(limits: StoreLimits) -> Self {
        let dir = TempDir::new().unwrap();
        let store = FileStore::open(dir.path(), small_blocks(), limits.clone()).unwrap();
        Reopening { dir, limits, store }
    }

    fn reopened<T>(&mut self, result: T) -> T {
        self.store.flush().unwrap();
        self.store = FileStore::open(self.dir.path(), small_blocks(), self.limits.clone()).unwrap();
        result
    }
}

impl MessageStore for Reopening {
    fn store(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError> {
        let r = self.store.store(subject, headers, payload, time, ttl);
        self.reopened(r)
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        self.store.flush()
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        self.store.sync()
    }
    fn load(&mut self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        self.store.load(seq)
    }
    fn load_next(
        &mut self,
        start: u64,
        filter: &[u8],
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.store.load_next(start, filter)
    }
    fn load_last(&mut self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError> {
        self.store.load_last(filter)
    }
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        let r = self.store.remove(seq, erase);
        self.reopened(r)
    }
    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        let r = self.store.purge(req);
        self.reopened(r)
    }
    fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        let r = self.store.expire(now);
        self.reopened(r)
    }
    fn set_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError> {
        self.limits = limits.clone();
        let r = self.store.set_limits(limits);
        self.reopened(r)
    }
    fn state(&self) -> StoreState {
        self.store.state()
    }
    fn bytes(&self) -> u64 {
        self.store.bytes()
    }
    fn message_size(&self, subject: usize, headers: Option<usize>, payload: usize) -> u64 {
        self.store.message_size(subject, headers, payload)
    }
    fn subjects(&self, filter: &[u8]) -> BTreeMap<String, SubjectState> {
        self.store.subjects(filter)
    }
    fn num_pending(&mut self, start: u64, filter: &[u8], last_per_subject: bool) -> u64 {
        self.store.num_pending(start, filter, last_per_subject)
    }
    fn deleted(&self) -> Vec<u64> {
        self.store.deleted()
    }
    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Box::new(self.store).destroy()
    }
}

#[test]
fn file_store_behaves_as_nats_server_across_reopens() {
    reference_behaviours(&mut |l| Box::new(Reopening::new(l)) as Box<dyn MessageStore>);
}

#[test]
fn sizes_follow_nats_servers_file_rule() {
    // Observed: subject "file.a" + "hello" = 41 bytes; with an 18-byte header 63.
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    assert_eq!(s.message_size(6, None, 5), 41, "told before storing");
    assert_eq!(s.message_size(6, Some(18), 5), 63);
    s.store(b"file.a", None, b"hello", 1, None).unwrap();
    assert_eq!(s.state().bytes, 41);
    s.store(
        b"file.b",
        Some(b"NATS/1.0\r\nX: y\r\n\r\n"),
        b"hello",
        2,
        None,
    )
    .unwrap();
    assert_eq!(s.state().bytes, 104);
}

#[test]
fn messages_state_and_subjects_survive_reopen() {
    let dir = TempDir::new().unwrap();
    let mut s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    fill(&mut s, "r", 50);
    s.store(b"r.h", Some(b"NATS/1.0\r\nA: b\r\n\r\n"), b"", 99, None)
        .unwrap();
    s.remove(7, false).unwrap();
    s.purge(&purge(Some("r.b"), Some(20), None)).unwrap();
    s.flush().unwrap();
    let before: Vec<_> = (0..=52).map(|q| s.load(q).unwrap()).collect();
    let state = s.state();
    let subjects = s.subjects(b">");
    let deleted = s.deleted();
    drop(s);
    let mut s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    assert_eq!(s.state(), state);
    assert_eq!(s.subjects(b">"), subjects);
    assert_eq!(s.deleted(), deleted);
    let after: Vec<_> = (0..=52).map(|q| s.load(q).unwrap()).collect();
    assert_eq!(after, before);
    let h = s.load(51).unwrap().unwrap();
    assert_eq!(h.headers.as_deref(), Some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]));
    assert_eq!(h.payload.len(), 0);
    assert!(block_files(dir.path()).len() > 1, "small blocks rotate");
}

#[test]
fn purge_and_compact_positions_survive_reopen() {
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    fill(&mut s, "p", 6);
    s.purge(&purge(None, None, None)).unwrap();
    s.flush().unwrap();
    drop(s);
    let mut s = open(dir.path());
    assert_eq!(
        (s.state().first_seq, s.state().last_seq, s.state().last_time),
        (7, 6, 6)
    );
    s.purge(&purge(None, Some(100), None)).unwrap();
    s.flush().unwrap();
    drop(s);
    let mut s = open(dir.path());
    assert_eq!((s.state().first_seq, s.state().last_seq), (100, 99));
    assert_eq!(s.store(b"p.a", None, b"x", 7, None).unwrap(), 100);
}

#[test]
fn dropping_a_store_flushes_what_it_buffered() {
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    fill(&mut s, "u", 3);
    s.flush().unwrap();
    fill(&mut s, "u", 2);
    drop(s);
    let mut s = open(dir.path());
    assert_eq!(s.state().msgs, 5);
    assert_eq!(&s.load(5).unwrap().unwrap().payload[..], b"x");
}

#[test]
fn stream_meta_is_saved_atomically_and_checked() {
    let dir = TempDir::new().unwrap();
    assert_eq!(FileStore::load_meta(dir.path()).unwrap(), None);
    let s = open(dir.path());
    s.save_meta(br#"{"name":"ORDERS"}"#).unwrap();
    s.save_meta(br#"{"name":"ORDERS","max_msgs":5}"#).unwrap();
    drop(s);
    assert_eq!(
        FileStore::load_meta(dir.path()).unwrap().as_deref(),
        Some(&br#"{"name":"ORDERS","max_msgs":5}"#[..])
    );
    // The blocks ignore the meta file, and a damaged meta file is an error, not a config.
    assert_eq!(open(dir.path()).state().msgs, 0);
    let path = dir.path().join("meta.inf");
    let mut data = fs::read(&path).unwrap();
    data[14] ^= 1;
    fs::write(&path, &data).unwrap();
    assert!(matches!(
        FileStore::load_meta(dir.path()),
        Err(StoreError::Corrupt { .. })
    ));
    fs::write(&path, &data[..5]).unwrap();
    assert!(matches!(
        FileStore::load_meta(dir.path()),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn blocks_below_the_first_sequence_are_deleted() {
    let dir = TempDir::new().unwrap();
    let mut s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    fill(&mut s, "d", 200);
    s.flush().unwrap();
    let many = block_files(dir.path()).len();
    assert!(many > 5, "{many} blocks");
    s.purge(&purge(None, Some(150), None)).unwrap();
    s.flush().unwrap();
    let fewer = block_files(dir.path()).len();
    assert!(fewer < many / 2, "{fewer} of {many} blocks left");
    s.purge(&purge(None, None, None)).unwrap();
    s.flush().unwrap();
    assert_eq!(block_files(dir.path()).len(), 1);
    // The one block left holds no purged message bytes.
    let size = fs::metadata(dir.path().join(&block_files(dir.path())[0]))
        .unwrap()
        .len();
    assert!(size < 100, "{size} bytes");
    drop(s);
    let s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    assert_eq!(
        (s.state().first_seq, s.state().last_seq, s.state().msgs),
        (201, 200, 0)
    );
}

#[test]
fn remove_with_erase_leaves_no_trace_of_the_payload_on_disk() {
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    s.store(b"e.a", None, b"keep-me", 1, None).unwrap();
    s.store(b"e.secret", None, b"TOP-SECRET-PAYLOAD", 2, None)
        .unwrap();
    s.store(b"e.a", None, b"keep-me-too", 3, None).unwrap();
    s.flush().unwrap();
    let contains = |needle: &[u8]| {
        block_files(dir.path()).iter().any(|f| {
            let data = fs::read(dir.path().join(f)).unwrap();
            data.windows(needle.len()).any(|w| w == needle)
        })
    };
    assert!(contains(b"TOP-SECRET-PAYLOAD"));
    assert!(s.remove(2, true).unwrap());
    s.flush().unwrap();
    assert!(!contains(b"TOP-SECRET-PAYLOAD"));
    assert!(!contains(b"e.secret"));
    assert_eq!(s.load(2).unwrap(), None);
    drop(s);
    let mut s = open(dir.path());
    assert_eq!(s.load(2).unwrap(), None);
    assert_eq!(s.deleted(), vec![2]);
    assert_eq!(&s.load(3).unwrap().unwrap().payload[..], b"keep-me-too");
}

#[test]
fn erasing_the_last_message_keeps_the_last_sequence_across_reopen() {
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    fill(&mut s, "e", 3);
    s.remove(3, true).unwrap();
    drop(s);
    let s = open(dir.path());
    assert_eq!((s.state().msgs, s.state().last_seq), (2, 3));
}

#[test]
fn stricter_limits_on_reopen_are_applied_and_persisted() {
    let dir = TempDir::new().unwrap();
    let mut s = open(dir.path());
    fill(&mut s, "l", 10);
    s.flush().unwrap();
    drop(s);
    let s = FileStore::open(
        dir.path(),
        FileStoreConfig::default(),
        StoreLimits {
            max_msgs: 3,
            ..limits()
        },
    )
    .unwrap();
    assert_eq!((s.state().first_seq, s.state().msgs), (8, 3));
    drop(s);
    let s = open(dir.path());
    assert_eq!((s.state().first_seq, s.state().msgs), (8, 3));
}

#[test]
fn sync_always_and_sync_work() {
    let dir = TempDir::new().unwrap();
    let cfg = FileStoreConfig {
        sync: SyncPolicy::Always,
        ..FileStoreConfig::default()
    };
    let mut s = FileStore::open(dir.path(), cfg, limits()).unwrap();
    fill(&mut s, "s", 5);
    s.flush().unwrap();
    s.sync().unwrap();
    assert_eq!(s.state().msgs, 5);
}

/// Under `sync: always` a flush returns only once the blocks closed since the last one are
/// on disk too (their sealing markers gone), not in the background.
#[test]
fn sync_always_flushes_closed_blocks_before_returning() {
    let dir = TempDir::new().unwrap();
    let cfg = FileStoreConfig {
        sync: SyncPolicy::Always,
        ..small_blocks()
    };
    let mut s = FileStore::open(dir.path(), cfg, limits()).unwrap();
    for i in 0..40u64 {
        s.store(b"s", None, &[i as u8; 300], i as i64, None)
            .unwrap();
        s.flush().unwrap();
        let markers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sealing")
            })
            .count();
        assert_eq!(markers, 0, "after message {i}");
    }
    assert!(block_files(dir.path()).len() > 5);
}

#[test]
fn destroy_removes_the_directory() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("stream");
    let mut s = FileStore::open(&path, FileStoreConfig::default(), limits()).unwrap();
    fill(&mut s, "x", 3);
    s.flush().unwrap();
    Box::new(s).destroy().unwrap();
    assert!(!path.exists());
}

#[test]
fn messages_read_backwards_and_forwards_across_blocks_are_the_ones_stored() {
    let dir = TempDir::new().unwrap();
    let mut store = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    let payload = |i: u64| format!("payload {i} ").repeat((i % 13) as usize + 1);
    for i in 1..=3000u64 {
        store
            .store(b"dir.x", None, payload(i).as_bytes(), i as i64, None)
            .unwrap();
    }
    store.flush().unwrap();
    drop(store);
    let mut store = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    for seq in (1..=3000u64).rev().chain(1..=3000) {
        let m = store.load(seq).unwrap().unwrap();
        assert_eq!((m.seq, &m.payload[..]), (seq, payload(seq).as_bytes()));
    }
}

/// One record as the file store writes it (no subject, headers or payload): what a test
/// needs to lay out a store directory by hand.
fn raw_record(kind: u8, seq: u64, time: i64) -> Vec<u8> {
    let mut rec = Vec::new();
    rec.extend_from_slice(&40u32.to_le_bytes());
    rec.push(kind);
    rec.push(0);
    rec.extend_from_slice(&0u16.to_le_bytes());
    rec.extend_from_slice(&seq.to_le_bytes());
    rec.extend_from_slice(&time.to_le_bytes());
    rec.extend_from_slice(&0i64.to_le_bytes());
    rec.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c::crc32c(&rec);
    rec.extend_from_slice(&crc.to_le_bytes());
    rec
}

/// Found by fuzz/file_store_recovery: a sealed block holding only the sequence state (a
/// marker) and an active block starting with a tombstone for an older message. The first
/// write deletes the sealed block; the tombstone then came first on reopen, before anything
/// was stored, and was taken for corruption: the active block was truncated and the message
/// written after the open was lost.
#[test]
fn a_message_written_after_old_blocks_are_deleted_survives_a_reopen() {
    const MARKER: u8 = 4;
    const TOMBSTONE: u8 = 2;
    let dir = TempDir::new().unwrap();
    let mut sealed = b"NATRBLK1".to_vec();
    sealed.extend(raw_record(MARKER, 1_000, 7));
    let mut active = b"NATRBLK1".to_vec();
    active.extend(raw_record(TOMBSTONE, 5, 0));
    fs::write(dir.path().join("00000001.blk"), sealed).unwrap();
    fs::write(dir.path().join("00000002.blk"), active).unwrap();
    let mut s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    assert_eq!((s.state().first_seq, s.state().last_seq), (1_000, 999));
    let seq = s.store(b"after", None, b"open", 8, None).unwrap();
    assert_eq!(seq, 1_000);
    s.flush().unwrap();
    drop(s);
    assert_eq!(
        block_files(dir.path()),
        ["00000002.blk"],
        "the sealed block went"
    );
    let mut s = FileStore::open(dir.path(), small_blocks(), limits()).unwrap();
    let state = s.state();
    assert_eq!(
        (state.first_seq, state.last_seq, state.msgs),
        (1_000, 1_000, 1)
    );
    assert_eq!(&s.load(1_000).unwrap().expect("kept").payload[..], b"open");
}

/// Records larger than a read-cache chunk (64 KiB) are read on their own; mixed with small
/// ones, in any order, every load is the message stored, and a flipped byte in a large one is
/// an error.
#[test]
fn large_and_small_records_load_intact_in_any_order() {
    let dir = TempDir::new().unwrap();
    let sizes = [200 * 1024, 10, 64 * 1024 + 1, 3, 128 * 1024, 70_000, 1];
    let payload =
        |i: usize, size: usize| -> Vec<u8> { (0..size).map(|j| (j * 31 + i * 7) as u8).collect() };
    {
        let mut store = open(dir.path());
        for (i, &size) in sizes.iter().enumerate() {
            store
                .store(b"big", None, &payload(i, size), i as i64, None)
                .unwrap();
        }
        store.flush().unwrap();
    }
    let mut store = open(dir.path());
    let order = [7u64, 1, 3, 2, 5, 4, 6, 1, 7, 3];
    assert_eq!(store.state().msgs, sizes.len() as u64);
    for seq in order {
        let i = (seq - 1) as usize;
        let message = store.load(seq).unwrap().unwrap();
        assert_eq!(message.seq, seq);
        assert_eq!(message.payload.as_ref(), payload(i, sizes[i]).as_slice());
    }
    drop(store);
    // Flip one payload byte of the 200 KiB record (the first, right after the magic) once
    // the store is open (opening would truncate it away as a torn tail).
    let mut store = open(dir.path());
    let block = dir.path().join(&block_files(dir.path())[0]);
    let mut bytes = fs::read(&block).unwrap();
    bytes[8 + 40 + 3 + 100_000] ^= 0xff;
    fs::write(&block, bytes).unwrap();
    assert!(matches!(store.load(1), Err(StoreError::Corrupt { .. })));
    assert_eq!(
        store.load(2).unwrap().unwrap().payload.as_ref(),
        payload(1, 10).as_slice()
    );
}

/// Large records (128 KiB object chunks, and more) and small ones, across many block seals:
/// after a reopen that reads the sealed blocks through their indexes, every message is
/// intact.
#[test]
fn large_records_across_sealed_blocks_survive_reopen() {
    let dir = TempDir::new().unwrap();
    let cfg = FileStoreConfig {
        block_size: 300 * 1024,
        ..FileStoreConfig::default()
    };
    let payload = |i: u64| -> Vec<u8> {
        let size = if i.is_multiple_of(3) {
            100
        } else {
            65_536 + (i as usize) * 1_000
        };
        (0..size).map(|j| (j as u64 * 13 + i) as u8).collect()
    };
    {
        let mut store = FileStore::open(dir.path(), cfg.clone(), limits()).unwrap();
        for i in 1..=40u64 {
            let headers = i
                .is_multiple_of(4)
                .then_some(&b"NATS/1.0\r\nK: v\r\n\r\n"[..]);
            let seq = store
                .store(b"obj.c", headers, &payload(i), i as i64, None)
                .unwrap();
            assert_eq!(seq, i);
            if i % 5 == 0 {
                store.flush().unwrap();
            }
        }
        store.sync().unwrap();
    }
    assert!(block_files(dir.path()).len() > 4);
    let mut store = FileStore::open(dir.path(), cfg, limits()).unwrap();
    assert_eq!(store.state().msgs, 40);
    for i in (1..=40u64).rev() {
        let message = store.load(i).unwrap().unwrap();
        assert_eq!(
            message.payload.as_ref(),
            payload(i).as_slice(),
            "message {i}"
        );
        assert_eq!(message.headers.is_some(), i.is_multiple_of(4));
    }
}
