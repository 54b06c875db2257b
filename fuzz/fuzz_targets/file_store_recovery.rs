//! File store recovery: whatever bytes are on disk, opening a stream's store gives an error
//! or a consistent store (every counted message loads, sequences ascend, nothing beyond
//! `last_seq`), loads give the right message or `Corrupt`, never a wrong one, and a store
//! that opened takes a new message and opens again with it.
//!
//! Input: `[mode] ...`, mode % 3 picks how the store dir is filled:
//! 0. raw bytes as the active block `00000001.blk` (bit 3: prefixed with the block magic);
//! 1. records encoded by the target with valid lengths and checksums from fuzzer-chosen
//!    fields (kinds, flags, sequences, lengths), in one or two blocks (the first sealed);
//! 2. a real store written through the API (small blocks, so sealed blocks and index files
//!    exist), then damaged at fuzzer-chosen places: each message that still loads must be
//!    the one written.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use natrium_store::{FileStore, FileStoreConfig, MessageStore, StoreError, StoreLimits, SyncPolicy};

const MAGIC: &[u8] = b"NATRBLK1";

fn config() -> FileStoreConfig {
    FileStoreConfig {
        block_size: 256,
        sync: SyncPolicy::Interval(std::time::Duration::from_secs(3600)),
        cache_bytes: 64 * 1024,
    }
}

/// A message as written: subject, headers, payload.
type Written = (Vec<u8>, Option<Vec<u8>>, Vec<u8>);

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }
    fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = v << 8 | u64::from(self.u8());
        }
        v
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One record in the block format, with a correct checksum; lengths from the input.
fn record(input: &mut Bytes<'_>) -> Vec<u8> {
    let kind = input.u8() % 6;
    let flags = input.u8() % 8;
    let seq = match input.u8() % 4 {
        0 => u64::from(input.u8()),
        1 => input.u64(),
        _ => u64::from(input.u8() % 8) + 1,
    };
    let time = input.u64() as i64;
    let deadline = input.u64() as i64;
    let subject = input.take(usize::from(input.0.first().copied().unwrap_or(0) % 12));
    let headers_len = usize::from(input.u8() % 16);
    let headers = input.take(headers_len);
    let payload = { let n = usize::from(input.u8() % 32); input.take(n) };
    let mut rec = Vec::new();
    let body_len = 40 + subject.len() + headers.len() + payload.len();
    // Sometimes a wrong length, so length checks are reached with a valid checksum.
    let len = match input.u8() % 8 {
        0 => input.u8().into(),
        _ => body_len as u32,
    };
    rec.extend_from_slice(&len.to_le_bytes());
    rec.push(kind);
    rec.push(flags);
    rec.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    rec.extend_from_slice(&seq.to_le_bytes());
    rec.extend_from_slice(&time.to_le_bytes());
    rec.extend_from_slice(&deadline.to_le_bytes());
    let hl = if input.u8() % 8 == 0 { u32::from(input.u8()) } else { headers.len() as u32 };
    rec.extend_from_slice(&hl.to_le_bytes());
    rec.extend_from_slice(&subject);
    rec.extend_from_slice(&headers);
    rec.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&rec);
    rec.extend_from_slice(&crc.to_le_bytes());
    rec
}

/// Opens the store and checks it is consistent; `written` (when known) is what each
/// sequence may hold, and with `exact` the store must hold exactly those messages.
/// Returns whether it opened.
fn check(dir: &Path, written: Option<&BTreeMap<u64, Written>>, exact: bool) -> bool {
    let mut store = match FileStore::open(dir, config(), StoreLimits::default()) {
        Ok(store) => store,
        Err(StoreError::Corrupt { .. } | StoreError::Io { .. } | StoreError::SequenceExhausted) => {
            return false;
        }
        Err(e) => panic!("open failed with an unexpected error: {e}"),
    };
    let state = store.state();
    assert!(state.msgs == 0 || state.first_seq <= state.last_seq, "{state:?}");
    let mut next = state.first_seq;
    let mut seen = 0u64;
    let mut complete = true;
    loop {
        match store.load_next(next, b"") {
            Ok(Some(msg)) => {
                assert!(msg.seq >= next, "load_next({next}) gave {}", msg.seq);
                assert!(msg.seq <= state.last_seq, "{} beyond last_seq {state:?}", msg.seq);
                seen += 1;
                assert!(seen <= state.msgs, "more messages than counted: {state:?}");
                if let Some(written) = written {
                    let want = written.get(&msg.seq).unwrap_or_else(|| panic!("seq {} never written", msg.seq));
                    assert_eq!(&msg.subject[..], &want.0[..], "subject of {}", msg.seq);
                    assert_eq!(msg.headers.as_deref(), want.1.as_deref(), "headers of {}", msg.seq);
                    assert_eq!(&msg.payload[..], &want.2[..], "payload of {}", msg.seq);
                }
                match store.load(msg.seq) {
                    Ok(Some(again)) => assert_eq!(again, msg),
                    Ok(None) => panic!("load_next found {} but load did not", msg.seq),
                    Err(StoreError::Corrupt { .. }) => {}
                    Err(e) => panic!("load: {e}"),
                }
                let Some(after) = msg.seq.checked_add(1) else { break };
                next = after;
            }
            Ok(None) => break,
            // Damage inside a sealed block shows on load.
            Err(StoreError::Corrupt { .. }) => {
                complete = false;
                break;
            }
            Err(e) => panic!("load_next: {e}"),
        }
    }
    if complete {
        assert_eq!(seen, state.msgs, "messages counted but not found: {state:?}");
    }
    if exact {
        assert!(complete, "an undamaged store fails a load");
        assert_eq!(seen, written.map_or(0, |w| w.len() as u64), "messages of an undamaged store");
    }
    // A store that opened keeps working: a new message survives a reopen.
    if !complete || state.last_seq >= u64::MAX / 2 {
        return true;
    }
    let seq = match store.store(b"after.open", None, b"new", 1, None) {
        Ok(seq) => seq,
        Err(_) => return true,
    };
    if store.flush().is_err() {
        return true;
    }
    drop(store);
    let mut store = FileStore::open(dir, config(), StoreLimits::default())
        .unwrap_or_else(|e| panic!("store that opened and took seq {seq} does not reopen: {e}"));
    match store.load(seq) {
        Ok(Some(msg)) => assert_eq!((&msg.subject[..], &msg.payload[..]), (&b"after.open"[..], &b"new"[..])),
        other => panic!("seq {seq} written after open, then {other:?}"),
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let tmp = tempfile::Builder::new().prefix("natrium-fuzz-store").tempdir().unwrap();
    let dir = tmp.path();
    let mut input = Bytes(rest);
    match mode % 3 {
        0 => {
            let mut block = Vec::new();
            if mode & 8 != 0 {
                block.extend_from_slice(MAGIC);
            }
            block.extend_from_slice(rest);
            std::fs::write(dir.join("00000001.blk"), block).unwrap();
            check(dir, None, false);
        }
        1 => {
            let mut blocks = vec![MAGIC.to_vec()];
            while !input.is_empty() {
                if input.u8() % 16 == 0 && blocks.len() < 3 {
                    blocks.push(MAGIC.to_vec());
                }
                let rec = record(&mut input);
                blocks.last_mut().unwrap().extend_from_slice(&rec);
            }
            for (i, block) in blocks.iter().enumerate() {
                std::fs::write(dir.join(format!("{:08}.blk", i + 1)), block).unwrap();
            }
            check(dir, None, false);
        }
        _ => {
            // What the store holds, and everything it ever held: after damage, a removal
            // may be lost with the bytes that recorded it, but a sequence never holds a
            // message that was not stored under it.
            let mut written = BTreeMap::new();
            let mut ever = BTreeMap::new();
            {
                let mut store = FileStore::open(dir, config(), StoreLimits::default()).unwrap();
                let count = input.u8() % 24;
                for i in 0..count {
                    let subject = format!("s.{}", input.u8() % 4).into_bytes();
                    let headers = (input.u8() % 4 == 0).then(|| b"NATS/1.0\r\nk: v\r\n\r\n".to_vec());
                    let payload = { let n = usize::from(input.u8() % 48); input.take(n) };
                    let seq = store.store(&subject, headers.as_deref(), &payload, i64::from(i) + 1, None).unwrap();
                    written.insert(seq, (subject.clone(), headers.clone(), payload.clone()));
                    ever.insert(seq, (subject, headers, payload));
                    match input.u8() % 8 {
                        0 => store.flush().unwrap(),
                        1 => {
                            let victim = u64::from(input.u8()) % seq + 1;
                            if store.remove(victim, input.u8() % 2 == 0).unwrap() {
                                written.remove(&victim);
                            }
                        }
                        _ => {}
                    }
                }
                store.sync().unwrap();
            }
            // Clean: opens with exactly what was written.
            assert!(check(dir, Some(&written), true), "an undamaged store does not open");
            // The check stored one more message, right after the last sequence used.
            let next = ever.keys().next_back().map_or(1, |s| s + 1);
            ever.insert(next, (b"after.open".to_vec(), None, b"new".to_vec()));
            let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            if files.is_empty() {
                return;
            }
            while !input.is_empty() {
                let file = &files[usize::from(input.u8()) % files.len()];
                // A file removed by an earlier step stays removed.
                let Ok(mut bytes) = std::fs::read(file) else { continue };
                let at = (input.u8() as usize) << 8 | input.u8() as usize;
                match input.u8() % 4 {
                    0 => bytes.truncate(at % (bytes.len() + 1)),
                    1 => {
                        let value = input.u8();
                        let i = at % bytes.len().max(1);
                        if let Some(b) = bytes.get_mut(i) {
                            *b ^= value.max(1);
                        }
                    }
                    2 => bytes.extend({ let n = usize::from(input.u8() % 64); input.take(n) }),
                    _ => {
                        let _ = std::fs::remove_file(file);
                        continue;
                    }
                }
                std::fs::write(file, bytes).unwrap();
            }
            check(dir, Some(&ever), false);
        }
    }
});
