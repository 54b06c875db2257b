//! The file store: an append-only log of checksummed records in block files, replayed into
//! the shared index on open.
//!
//! # On-disk format (version 1)
//!
//! A store owns one directory. Its blocks are `<id>.blk` (id: 8 decimal digits, ascending;
//! the highest is the active block that takes new records). Other files are left alone.
//!
//! A block starts with the 8 bytes `NATRBLK1`, followed by records. Every record, all
//! integers little-endian:
//!
//! ```text
//! offset  size  field
//!      0     4  len         the whole record, this field and the checksum included
//!      4     1  kind        1 message, 2 tombstone, 3 erased message, 4 purge marker
//!      5     1  flags       bit 0: has headers, bit 1: has a TTL deadline
//!      6     2  subject_len
//!      8     8  seq         message/erased: its sequence; tombstone: the removed one;
//!                           marker: the stream's new first sequence
//!     16     8  time        message/erased: store time; marker: the stream's last time
//!     24     8  deadline    TTL expiry (unix ns) when flags bit 1 is set
//!     32     4  headers_len
//!     36     …  subject, headers, payload (payload_len = len - 40 - subject - headers)
//!  len-4     4  crc32c      of bytes 0..len-4
//! ```
//!
//! Opening replays every record in order: messages are appended to the index, tombstones
//! remove, markers compact (a purge, or messages removed from the front by limits), erased
//! records (a removal that overwrote the message bytes with zeros) only advance the
//! sequence.
//!
//! A sealed block also gets an index file, `<id>.idx` (see `block_index`): the same facts
//! without the payloads, a few bytes per record, kept in memory while the block is active
//! so that sealing it reads nothing back. Opening reads it instead of the block when
//! it matches the block (length, modification time, last record's checksum, its own
//! checksum); otherwise the block is replayed and its index written again. The active block
//! is always replayed. Erasing a record in a sealed block removes that block's index. A
//! sealed block's index is written only once the block is on disk (below).
//!
//! # Writes
//!
//! [`MessageStore::store`] encodes into an in-memory buffer (no syscall per message);
//! [`MessageStore::flush`] hands the buffer to the OS in one `write` (and fsyncs under
//! [`SyncPolicy::Always`]). Removals are buffered the same way. A marker is written once
//! per flush when the first sequence moved. The server calls [`MessageStore::sync`] on its
//! sync interval.
//!
//! A full block is closed without waiting for the disk: a background thread fsyncs it
//! (`block_sync`). From the moment it is closed until that fsync is done and its index written, the
//! block has a marker file, `<id>.sealing`, whose name reaches the disk (the directory is
//! fsynced when the next block is created) before any record of the next block can. A sync
//! waits for the closed blocks' fsyncs too.
//!
//! # Recovery: what happens to bad bytes
//!
//! - In the active (last) block, the first record that is cut short or fails its checksum,
//!   and everything after it, is a torn write: it is truncated away with a warning.
//! - The same holds for a closed block that still has its sealing marker: the machine
//!   stopped before its fsync was done. (The next block starts with a message or a marker
//!   past its sequences, so the blocks after it replay as before; a tombstone there for a
//!   lost message finds nothing to remove.)
//! - In any other block, bad bytes cannot come from a crash (it was on disk before its
//!   marker went), so [`StoreError::Corrupt`] names the file and offset and the store does
//!   not open: silently dropping a tombstone there would bring a removed message back. A
//!   block that does not start as ours is never truncated.
//! - A load re-checks the checksum and the sequence, so bytes that rot after opening give
//!   [`StoreError::Corrupt`], never a wrong message. The same holds for a sealed block read
//!   through its index: damage inside it shows on load, not on open.
//! - After a failed write (a full disk), the store drops what was buffered, truncates the
//!   half-written bytes and re-reads its files, so memory never claims more than the disk
//!   holds; the next write tries again.
//!
//! # Memory
//!
//! Per message the index keeps 16 bytes (subject id, size, subject chain link, offset in its
//! block; the block follows from the sequence); payloads, and the first message's time, are
//! read back with `pread`, payloads through a small bounded chunk cache.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::block_index::{self, BlockId, Fact};
use crate::block_sync::{self, SealDone};
use crate::index::{Index, MAX_SEQ};
use crate::memory::deadline;
use crate::{
    MessageStore, PurgeRequest, StoreError, StoreLimits, StoreState, StoredMessage, SubjectState,
};

const MAGIC: &[u8; 8] = b"NATRBLK1";
const HEADER: usize = 36;
const OVERHEAD: usize = HEADER + 4;

const KIND_MESSAGE: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
const KIND_ERASED: u8 = 3;
const KIND_MARKER: u8 = 4;

const FLAG_HEADERS: u8 = 1;
const FLAG_DEADLINE: u8 = 2;

/// The largest run of missing sequences recovery fills in. Only lost records make gaps
/// (blocks are dropped from the front only), so a larger one means forged bytes; filling it
/// would take 32 bytes per sequence.
const MAX_GAP: u64 = 1 << 24;

/// Bytes read at once on a cache miss.
const CHUNK: usize = 64 * 1024;

/// nats-server's `fileStoreMsgSize`.
fn file_size(subject: usize, headers: Option<usize>, payload: usize) -> u64 {
    let headers = headers.map_or(0, |h| h + 4);
    (22 + subject + headers + payload + 8) as u64
}

/// When written records reach the disk itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync on every [`MessageStore::flush`].
    Always,
    /// The server calls [`MessageStore::sync`] at this interval (nats-server's `sync_interval`,
    /// default 2 minutes); the store itself only fsyncs a block when it closes it.
    Interval(Duration),
}

/// How a [`FileStore`] lays out and writes its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// A block is closed and a new one started once it holds this many bytes.
    pub block_size: u64,
    /// When writes are fsynced.
    pub sync: SyncPolicy,
    /// Upper bound of the read cache, in bytes (at least one 64 KiB chunk is kept).
    pub cache_bytes: usize,
}

impl Default for FileStoreConfig {
    /// 8 MiB blocks (nats-server's default for limits streams), sync every 2 minutes, 1 MiB
    /// read cache.
    fn default() -> Self {
        FileStoreConfig {
            block_size: 8 * 1024 * 1024,
            sync: SyncPolicy::Interval(Duration::from_secs(120)),
            cache_bytes: 1024 * 1024,
        }
    }
}

/// Where a message's record is: block id and offset in that block. The index keeps only the
/// offset; the block follows from the sequence (blocks hold ascending sequence ranges).
#[derive(Debug, Default, Clone, Copy)]
struct Loc {
    block: u32,
    offset: u32,
}

// The per-message memory the module documentation promises.
const _: () = assert!(std::mem::size_of::<crate::index::Slot<u32>>() == 16);

/// One block file.
#[derive(Debug)]
struct Block {
    id: u32,
    path: PathBuf,
    /// Shared with the block-sync thread (see `block_sync`).
    file: Arc<File>,
    /// Bytes in the file (records in `pending` come after).
    len: u64,
    /// The highest sequence any record in it refers to; the block is dropped once the
    /// stream's first sequence passes it.
    max_ref: u64,
    /// No message in it has a lower sequence, and every message in later blocks a higher
    /// one (the last sequence + 1 when the block was started).
    first_seq: u64,
    /// Whether it holds a message or erased record (an empty active block needs no new one).
    has_messages: bool,
}

/// A decoded record, borrowing its bytes.
struct Record<'a> {
    kind: u8,
    seq: u64,
    time: i64,
    deadline: Option<i64>,
    subject: &'a [u8],
    headers: Option<&'a [u8]>,
    payload: &'a [u8],
}

impl Record<'_> {
    /// What replay needs of it, at `offset` in its block, `len` bytes long.
    fn fact(&self, offset: u32, len: usize) -> Fact<'_> {
        Fact {
            kind: self.kind,
            flags: flags(self.headers.is_some(), self.deadline.is_some()),
            seq: self.seq,
            time: self.time,
            deadline: self.deadline,
            subject: self.subject,
            offset,
            len: len as u32,
        }
    }
}

/// A record's flags byte.
fn flags(headers: bool, deadline: bool) -> u8 {
    let mut flags = 0;
    if headers {
        flags |= FLAG_HEADERS;
    }
    if deadline {
        flags |= FLAG_DEADLINE;
    }
    flags
}

/// Why bytes are not a record.
enum Bad {
    /// Fewer bytes than the record says it has.
    Short,
    /// Wrong length, checksum or kind.
    Invalid(&'static str),
}

/// Decodes the record at the start of `buf`; returns it and its length.
fn decode(buf: &[u8]) -> Result<(Record<'_>, usize), Bad> {
    if buf.len() < 4 {
        return Err(Bad::Short);
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    if len < OVERHEAD {
        return Err(Bad::Invalid("record length too small"));
    }
    if buf.len() < len {
        return Err(Bad::Short);
    }
    let body = &buf[..len - 4];
    let crc = u32::from_le_bytes(buf[len - 4..len].try_into().expect("4 bytes"));
    if crc32c::crc32c(body) != crc {
        return Err(Bad::Invalid("checksum mismatch"));
    }
    let kind = body[4];
    let flags = body[5];
    let subject_len = u16::from_le_bytes([body[6], body[7]]) as usize;
    let seq = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let time = i64::from_le_bytes(body[16..24].try_into().expect("8 bytes"));
    let deadline = i64::from_le_bytes(body[24..32].try_into().expect("8 bytes"));
    let headers_len = u32::from_le_bytes(body[32..36].try_into().expect("4 bytes")) as usize;
    if !(KIND_MESSAGE..=KIND_MARKER).contains(&kind) {
        return Err(Bad::Invalid("unknown record kind"));
    }
    let rest = &body[HEADER..];
    if subject_len + headers_len > rest.len() {
        return Err(Bad::Invalid("field lengths exceed the record"));
    }
    let (subject, rest) = rest.split_at(subject_len);
    let (headers, payload) = rest.split_at(headers_len);
    let record = Record {
        kind,
        seq,
        time,
        deadline: (flags & FLAG_DEADLINE != 0).then_some(deadline),
        subject,
        headers: (flags & FLAG_HEADERS != 0).then_some(headers),
        payload,
    };
    Ok((record, len))
}

/// Appends one record to `out`.
fn encode(out: &mut Vec<u8>, kind: u8, seq: u64, time: i64, message: Option<MessageParts<'_>>) {
    let start = out.len();
    let (subject, headers, payload, deadline) = message
        .map_or((&[][..], None, &[][..], None), |m| {
            (m.subject, m.headers, m.payload, m.deadline)
        });
    let headers_len = headers.map_or(0, <[u8]>::len);
    let len = OVERHEAD + subject.len() + headers_len + payload.len();
    let flags = flags(headers.is_some(), deadline.is_some());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&deadline.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(headers_len as u32).to_le_bytes());
    out.extend_from_slice(subject);
    out.extend_from_slice(headers.unwrap_or(&[]));
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Where message `seq`, at `offset` in its block, is: the last block starting at or before it.
fn locate(blocks: &[Block], seq: u64, offset: u32) -> Loc {
    let after = blocks.partition_point(|b| b.first_seq <= seq);
    let block = after.checked_sub(1).map_or(u32::MAX, |i| blocks[i].id);
    Loc { block, offset }
}

/// The time in the header of message `seq`'s record at `loc` (written or still in `pending`).
fn record_time(
    dir: &Path,
    blocks: &[Block],
    pending: &[u8],
    seq: u64,
    loc: Loc,
) -> Result<i64, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        path: block_path(dir, loc.block),
        offset: u64::from(loc.offset),
        reason: reason.to_owned(),
    };
    let pos = blocks
        .binary_search_by_key(&loc.block, |b| b.id)
        .map_err(|_| corrupt("block missing"))?;
    let block = &blocks[pos];
    let offset = u64::from(loc.offset);
    let mut head = [0u8; 24];
    if pos + 1 == blocks.len() && offset >= block.len {
        let from = (offset - block.len) as usize;
        let bytes = pending
            .get(from..from + head.len())
            .ok_or_else(|| corrupt("offset past the written records"))?;
        head.copy_from_slice(bytes);
    } else {
        block
            .file
            .read_exact_at(&mut head, offset)
            .map_err(|e| StoreError::io(&block.path, e))?;
    }
    let kind = head[4];
    let record_seq = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
    if kind != KIND_MESSAGE || record_seq != seq {
        return Err(corrupt("record is not the indexed message"));
    }
    Ok(i64::from_le_bytes(
        head[16..24].try_into().expect("8 bytes"),
    ))
}

#[derive(Clone, Copy)]
struct MessageParts<'a> {
    subject: &'a [u8],
    headers: Option<&'a [u8]>,
    payload: &'a [u8],
    deadline: Option<i64>,
}

/// Recently read chunks of block files, oldest first.
#[derive(Debug)]
struct ReadCache {
    chunks: VecDeque<(u32, u64, Vec<u8>)>,
    max_chunks: usize,
    /// Block and offset of the last miss: a miss below it means a reader walking backwards
    /// (the server rebuilding its deduplication window), which gets the chunk that ends at
    /// the record instead of the one starting there.
    last_miss: Option<(u32, u64)>,
}

impl ReadCache {
    fn find(&self, block: u32, offset: u64, len: usize) -> Option<&[u8]> {
        self.chunks.iter().find_map(|(b, start, data)| {
            let end = start + data.len() as u64;
            (*b == block && *start <= offset && offset + len as u64 <= end).then(|| {
                let from = (offset - start) as usize;
                &data[from..from + len]
            })
        })
    }

    fn forget_block(&mut self, block: u32) {
        self.chunks.retain(|(b, _, _)| *b != block);
    }
}

/// A closed block whose fsync runs in the background (see `block_sync`). Its sealing marker
/// is on disk before any record of the next block can be, and goes only once the fsync is
/// done and the index written: so a block without the marker is on disk, and only blocks
/// with it can have lost their tail to a machine crash.
#[derive(Debug)]
struct Seal {
    id: u32,
    /// Its index, kept while it was active; `None` to read the block back for it (a record
    /// in it was rewritten since).
    index: Option<block_index::Writer>,
    done: SealDone,
}

/// A stream kept in block files (`storage: file`). See the module documentation for the
/// format and the recovery rules.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    cfg: FileStoreConfig,
    index: Index<u32>,
    /// Ascending ids; the last is active. Never empty.
    blocks: Vec<Block>,
    /// Encoded records not yet written to the active block.
    pending: Vec<u8>,
    /// The active block's index, kept as records are appended so that sealing the block
    /// needs no read-back; `None` once a record in it was rewritten in place (then sealing
    /// reads the block).
    active_index: Option<block_index::Writer>,
    /// Closed blocks whose fsync has not been seen done yet, oldest first.
    seals: Vec<Seal>,
    /// The first sequence the records on disk (plus `pending`) already imply.
    marked_first: u64,
    cache: ReadCache,
    /// Set while the store must not write: until recovery finished, after `destroy`, and
    /// when going back to the state on disk after a failed write failed too.
    closed: bool,
    /// The last write failure, until a write succeeds again (the server's health check
    /// reports it).
    write_error: Option<String>,
    /// A write failure not yet reported by [`MessageStore::flush`]: records buffered before
    /// it were dropped, so the acknowledgements waiting for the next flush must fail.
    unreported: Option<Failure>,
}

/// A failed write, kept to be reported again (an `io::Error` can't be cloned).
#[derive(Debug, Clone)]
struct Failure {
    path: PathBuf,
    os_code: Option<i32>,
    kind: std::io::ErrorKind,
    text: String,
}

impl Failure {
    fn of(error: &StoreError) -> Option<Failure> {
        match error {
            StoreError::Io { path, source } => Some(Failure {
                path: path.clone(),
                os_code: source.raw_os_error(),
                kind: source.kind(),
                text: source.to_string(),
            }),
            _ => None,
        }
    }

    fn to_error(&self) -> StoreError {
        let source = match self.os_code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(self.kind, self.text.clone()),
        };
        StoreError::io(&self.path, source)
    }
}

fn block_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.blk"))
}

fn index_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.idx"))
}

/// A closed block's "not yet on disk" marker: it exists from the moment the block is closed
/// until its fsync is done (see [`Seal`]).
fn sealing_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.sealing"))
}

/// Removes a block's sealing marker, if it has one.
fn remove_sealing(dir: &Path, id: u32) {
    let path = sealing_path(dir, id);
    if let Err(e) = fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(marker = ?path, error = %e, "could not remove a block's sealing marker");
    }
}

/// What a block index must match: the block's length, modification time and last 4 bytes.
/// `None` for a file too short to hold a record.
fn identify(file: &File) -> std::io::Result<Option<BlockId>> {
    let meta = file.metadata()?;
    let len = meta.len();
    if len < (MAGIC.len() + OVERHEAD) as u64 {
        return Ok(None);
    }
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let mut tail = [0u8; 4];
    file.read_exact_at(&mut tail, len - 4)?;
    Ok(Some(BlockId { len, mtime, tail }))
}

/// Writes the index of a sealed block, `len` bytes long, whose records `writer` holds (best
/// effort: without it the next open replays the block).
fn write_index(block: &Block, len: u64, writer: block_index::Writer) {
    let result = (|| {
        let Some(id) = identify(&block.file)? else {
            return Ok(());
        };
        if id.len != len {
            return Ok(());
        }
        let dir = block.path.parent().unwrap_or(Path::new("."));
        let path = index_path(dir, block.id);
        let temp = path.with_extension("idx.tmp");
        fs::write(&temp, writer.finish(id))?;
        fs::rename(&temp, &path)
    })();
    if let Err(e) = result {
        tracing::warn!(block = ?block.path, error = %e, "could not write the block's index; the next open replays it");
    }
}

/// Indexes a block that was just sealed by reading its records back (when a record in it was
/// rewritten in place, so the index kept while appending is out of date).
fn index_sealed(block: &Block) {
    let data = match fs::read(&block.path) {
        Ok(data) => data,
        Err(e) => {
            tracing::warn!(block = ?block.path, error = %e, "could not read a sealed block to index it");
            return;
        }
    };
    let mut writer = block_index::Writer::default();
    let mut at = MAGIC.len();
    while at < data.len() {
        let Ok((record, len)) = decode(&data[at..]) else {
            return;
        };
        writer.push(&record.fact(at as u32, len));
        at += len;
    }
    write_index(block, data.len() as u64, writer);
}

/// Removes a block's index file, if it has one.
fn remove_index(dir: &Path, id: u32) {
    let path = index_path(dir, id);
    if let Err(e) = fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(index = ?path, error = %e, "could not remove a block index");
    }
}

impl FileStore {
    /// Opens (or creates) the store in `dir`, replays its blocks and applies `limits`.
    pub fn open(
        dir: &Path,
        cfg: FileStoreConfig,
        limits: StoreLimits,
    ) -> Result<FileStore, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".blk")) else {
                continue;
            };
            match stem.parse::<u32>() {
                Ok(id) if stem.len() == 8 => ids.push(id),
                _ => tracing::warn!(file = ?entry.path(), "ignoring a file that is not a block"),
            }
        }
        ids.sort_unstable();
        let mut store = FileStore {
            dir: dir.to_path_buf(),
            cache: ReadCache {
                chunks: VecDeque::new(),
                max_chunks: (cfg.cache_bytes / CHUNK).max(1),
                last_miss: None,
            },
            cfg,
            index: Index::new(limits, file_size),
            blocks: Vec::new(),
            pending: Vec::new(),
            active_index: None,
            seals: Vec::new(),
            marked_first: 0,
            // Until replay succeeds: a store dropped half-open must write nothing.
            closed: true,
            write_error: None,
            unreported: None,
        };
        let count = ids.len();
        for (i, id) in ids.into_iter().enumerate() {
            store.replay_block(id, i + 1 == count)?;
        }
        if store.blocks.is_empty() {
            store.new_block(1)?;
        }
        store.closed = false;
        store.index.removed.clear();
        store.marked_first = store.index.first_seq();
        // The limits may be stricter than when the records were written.
        store.index.enforce_all();
        store.after_removals();
        store.flush_pending()?;
        tracing::debug!(dir = ?store.dir, state = ?store.index.state(), "file store opened");
        Ok(store)
    }

    /// Replays one block: a sealed block from its index file when that matches the block,
    /// else from its records (and then writes its index). A bad tail of the last block is
    /// truncated.
    fn replay_block(&mut self, id: u32, last: bool) -> Result<(), StoreError> {
        let path = block_path(&self.dir, id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut block = Block {
            id,
            path,
            file: Arc::new(file),
            len: 0,
            max_ref: 0,
            first_seq: self.index.last_seq() + 1,
            has_messages: false,
        };
        if !last && self.replay_from_index(&mut block)? {
            // An index is written only once its block is on disk.
            remove_sealing(&self.dir, id);
            self.blocks.push(block);
            return Ok(());
        }
        let data = fs::read(&block.path).map_err(|e| StoreError::io(&block.path, e))?;
        block.len = data.len() as u64;
        let mut writer = block_index::Writer::default();
        let mut failure = None;
        if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            failure = Some((0, "not a natrium block (bad magic)"));
        } else {
            let mut good = MAGIC.len();
            while good < data.len() {
                let (record, len) = match decode(&data[good..]) {
                    Ok(ok) => ok,
                    Err(Bad::Short) => {
                        failure = Some((good, "record cut short"));
                        break;
                    }
                    Err(Bad::Invalid(reason)) => {
                        failure = Some((good, reason));
                        break;
                    }
                };
                let Ok(offset) = u32::try_from(good) else {
                    failure = Some((good, "record past 4 GiB in a block"));
                    break;
                };
                let fact = record.fact(offset, len);
                if let Err(reason) = self.apply(&fact, &mut block) {
                    failure = Some((good, reason));
                    break;
                }
                writer.push(&fact);
                good += len;
            }
        }
        // A closed block whose fsync had not finished may have lost its tail to a machine
        // crash, as the active block may.
        let sealing = !last && sealing_path(&self.dir, id).exists();
        if let Some((offset, reason)) = failure {
            let foreign = offset == 0 && !MAGIC.starts_with(&data);
            if !last && (!sealing || foreign) {
                return Err(StoreError::Corrupt {
                    path: block.path,
                    offset: offset as u64,
                    reason: reason.to_owned(),
                });
            }
            if last {
                tracing::warn!(
                    block = ?block.path, offset, dropped = data.len() - offset, reason,
                    "truncating a torn or corrupt tail of the active block"
                );
            } else {
                tracing::warn!(
                    block = ?block.path, offset, dropped = data.len() - offset, reason,
                    "truncating the torn tail of a block closed just before the machine stopped (its fsync had not finished)"
                );
            }
            let keep = offset;
            block
                .file
                .set_len(keep as u64)
                .map_err(|e| StoreError::io(&block.path, e))?;
            if keep == 0 {
                block
                    .file
                    .write_all_at(MAGIC, 0)
                    .map_err(|e| StoreError::io(&block.path, e))?;
                block.len = MAGIC.len() as u64;
            } else {
                block.len = keep as u64;
            }
            block
                .file
                .sync_all()
                .map_err(|e| StoreError::io(&block.path, e))?;
        } else if sealing {
            // Its records may be only in the page cache still (the process stopped, not the
            // machine): on disk before the marker goes.
            block
                .file
                .sync_data()
                .map_err(|e| StoreError::io(&block.path, e))?;
        }
        if last {
            // Exactly the records kept.
            self.active_index = Some(writer);
        } else {
            write_index(&block, block.len, writer);
            remove_sealing(&self.dir, id);
        }
        self.blocks.push(block);
        Ok(())
    }

    /// Applies one replayed record (read from the block or from its index) to the index.
    fn apply(&mut self, record: &Fact<'_>, block: &mut Block) -> Result<(), &'static str> {
        if record.seq > MAX_SEQ {
            return Err("sequence out of range");
        }
        match record.kind {
            KIND_MESSAGE | KIND_ERASED => {
                if record.seq <= self.index.last_seq() {
                    return Err("message sequence out of order");
                }
                if self.index.msgs() > 0 && record.seq - self.index.last_seq() > MAX_GAP {
                    return Err("sequence gap too large");
                }
                if record.kind == KIND_MESSAGE {
                    // nats-server's size from the record length: 22 + subject + headers
                    // (+ 4 when present) + payload + 8, where the record has 40 + the same.
                    let headers = if record.flags & FLAG_HEADERS != 0 {
                        4
                    } else {
                        0
                    };
                    let size = (u64::from(record.len) + headers)
                        .checked_sub(10)
                        .ok_or("record length too small")?;
                    self.index.append(
                        record.seq,
                        record.subject,
                        size,
                        record.time,
                        record.deadline,
                        record.offset,
                    );
                } else {
                    self.index.append_removed(record.seq, record.time);
                }
                block.has_messages = true;
                block.max_ref = block.max_ref.max(record.seq);
            }
            KIND_TOMBSTONE => {
                // With nothing stored yet, a tombstone has nothing to remove: the message
                // it removed was in a block deleted since (below the first sequence).
                if self.index.msgs() == 0 {
                    return Ok(());
                }
                if record.seq > self.index.last_seq() {
                    return Err("tombstone for a sequence not yet stored");
                }
                self.index.remove(record.seq);
                block.max_ref = block.max_ref.max(record.seq);
            }
            _ => {
                self.index.apply_marker(record.seq, record.time);
            }
        }
        Ok(())
    }

    /// Replays a sealed block from its index file; `false` when there is none that matches.
    fn replay_from_index(&mut self, block: &mut Block) -> Result<bool, StoreError> {
        let index_path = index_path(&self.dir, block.id);
        let bytes = match fs::read(&index_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                tracing::warn!(index = ?index_path, error = %e, "cannot read a block index; replaying the block");
                return Ok(false);
            }
        };
        let Some(id) = identify(&block.file).map_err(|e| StoreError::io(&block.path, e))? else {
            return Ok(false);
        };
        let facts = match block_index::read(&bytes, id) {
            Ok(facts) => facts,
            Err(reason) => {
                tracing::warn!(index = ?index_path, reason, "ignoring a block index that does not match its block");
                return Ok(false);
            }
        };
        block.len = id.len;
        for fact in &facts {
            self.apply(fact, block)
                .map_err(|reason| StoreError::Corrupt {
                    path: block.path.clone(),
                    offset: u64::from(fact.offset),
                    reason: reason.to_owned(),
                })?;
        }
        Ok(true)
    }

    /// Creates block `id` with its magic and makes it active.
    fn new_block(&mut self, id: u32) -> Result<(), StoreError> {
        let path = block_path(&self.dir, id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        if let Err(e) = file.write_all_at(MAGIC, 0) {
            // A block without its magic would read as corrupt on the next open.
            let _ = fs::remove_file(&path);
            return Err(StoreError::io(&path, e));
        }
        self.blocks.push(Block {
            id,
            path,
            file: Arc::new(file),
            len: MAGIC.len() as u64,
            max_ref: 0,
            first_seq: self.index.last_seq() + 1,
            has_messages: false,
        });
        self.active_index = Some(block_index::Writer::default());
        // The new file's name must survive a crash too.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(&self.dir, e))?;
        Ok(())
    }

    fn active(&self) -> &Block {
        self.blocks
            .last()
            .expect("a file store always has an active block")
    }

    fn active_mut(&mut self) -> &mut Block {
        self.blocks
            .last_mut()
            .expect("a file store always has an active block")
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// After an I/O error: the store goes back to what its files hold (dropping buffered and
    /// half-written records), so that memory never claims more than the disk has, and keeps
    /// working; a full disk that gets space again takes writes again. Other errors pass.
    /// With `report_later`, the next [`MessageStore::flush`] fails too, for the
    /// acknowledgements waiting on records that were dropped.
    fn failed(&mut self, error: StoreError, report_later: bool) -> StoreError {
        let Some(failure) = Failure::of(&error) else {
            return error;
        };
        tracing::error!(dir = ?self.dir, %error, "JetStream store write failed; returning to the state on disk");
        self.write_error = Some(error.to_string());
        if report_later {
            self.unreported = Some(failure);
        }
        self.reload();
        error
    }

    /// Re-reads the store from its files; on failure the store stays closed.
    fn reload(&mut self) {
        let active = self.active();
        // Bytes of a write that stopped half-way must not be replayed.
        let truncated = active
            .file
            .set_len(active.len)
            .map_err(|e| StoreError::io(&active.path, e));
        self.closed = true;
        let limits = self.index.limits.clone();
        let fresh = truncated.and_then(|()| FileStore::open(&self.dir, self.cfg.clone(), limits));
        match fresh {
            Ok(mut fresh) => {
                fresh.write_error = self.write_error.take();
                fresh.unreported = self.unreported.take();
                // The old store is closed: dropping it writes nothing.
                *self = fresh;
            }
            Err(e) => {
                tracing::error!(dir = ?self.dir, error = %e, "could not re-read the store; it is closed until reopened");
            }
        }
    }

    /// Writes tombstones for removed messages still inside the stream and notes whether the
    /// first sequence moved (a marker goes out with the next flush).
    fn after_removals(&mut self) {
        let first = self.index.first_seq();
        let removed = std::mem::take(&mut self.index.removed);
        for &seq in &removed {
            if seq >= first {
                self.append_record(KIND_TOMBSTONE, seq, 0, None);
                let block = self.active_mut();
                block.max_ref = block.max_ref.max(seq);
            }
        }
        let mut removed = removed;
        removed.clear();
        self.index.removed = removed;
    }

    /// Closes the active block and starts the next one; the closed block's fsync runs in
    /// the background (see [`Seal`]).
    fn rotate(&mut self) -> Result<(), StoreError> {
        let before = self.active().len;
        self.write_pending()?;
        self.close_and_start_next().inspect_err(|_| {
            // The batch's records just written wait for acknowledgements that now fail:
            // going back to the disk (see `failed`) must drop them too.
            self.active_mut().len = before;
        })
    }

    /// [`FileStore::rotate`] once the pending records are written.
    fn close_and_start_next(&mut self) -> Result<(), StoreError> {
        let index = self.active_index.take();
        let block = self.active();
        let next = block.id.checked_add(1).ok_or_else(|| StoreError::Corrupt {
            path: block.path.clone(),
            offset: 0,
            reason: "block ids exhausted".to_owned(),
        })?;
        // `new_block`'s directory fsync puts the marker's name on disk before any record of
        // the next block can be.
        let marker = sealing_path(&self.dir, block.id);
        File::create(&marker).map_err(|e| StoreError::io(&marker, e))?;
        let seal = Seal {
            id: block.id,
            index,
            done: block_sync::seal(&block.file),
        };
        self.seals.push(seal);
        self.new_block(next)
    }

    /// Indexes each closed block whose fsync is done and removes its sealing marker; with
    /// `wait`, fsyncs the others here first (a sync leaves every closed block on disk).
    fn finish_seals(&mut self, wait: bool) -> Result<(), StoreError> {
        let mut i = 0;
        while i < self.seals.len() {
            let seal = &self.seals[i];
            let Ok(pos) = self.blocks.binary_search_by_key(&seal.id, |b| b.id) else {
                // Deleted since (below the first sequence).
                self.seals.remove(i);
                continue;
            };
            let block = &self.blocks[pos];
            match seal.done.get() {
                Some(Ok(())) => {}
                Some(Err(text)) => {
                    tracing::warn!(block = ?block.path, error = %text, "the background fsync of a closed block failed; trying again");
                    block
                        .file
                        .sync_data()
                        .map_err(|e| StoreError::io(&block.path, e))?;
                }
                None if wait => block
                    .file
                    .sync_data()
                    .map_err(|e| StoreError::io(&block.path, e))?,
                None => {
                    i += 1;
                    continue;
                }
            }
            let seal = self.seals.remove(i);
            let block = &self.blocks[pos];
            match seal.index {
                Some(writer) => write_index(block, block.len, writer),
                None => index_sealed(block),
            }
            remove_sealing(&self.dir, seal.id);
        }
        Ok(())
    }

    /// One write of everything buffered.
    fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let block = self
            .blocks
            .last_mut()
            .expect("a file store always has an active block");
        let result = block.file.write_all_at(&pending, block.len);
        match result {
            Ok(()) => {
                block.len += pending.len() as u64;
                let mut pending = pending;
                pending.clear();
                self.pending = pending;
                self.write_error = None;
                Ok(())
            }
            Err(e) => Err(StoreError::io(&block.path, e)),
        }
    }

    /// Drops blocks wholly below the first sequence; when the stream is empty, starts a
    /// fresh block first so no purged bytes stay on disk.
    fn drop_old_blocks(&mut self) -> Result<(), StoreError> {
        let first = self.index.first_seq();
        if self.index.msgs() == 0 && self.active().has_messages {
            self.rotate()?;
            // The new block must carry the sequence state before the old ones go.
            self.write_marker(first)?;
        }
        let dropping = self.blocks.len() > 1 && self.blocks[0].max_ref < first;
        if dropping && !self.active().has_messages {
            // The sequence state may live only in the blocks about to go (a marker there):
            // the active block, which holds no message to imply it, must carry it first.
            self.write_marker(first)?;
        }
        while self.blocks.len() > 1 && self.blocks[0].max_ref < first {
            let block = self.blocks.remove(0);
            self.cache.forget_block(block.id);
            remove_index(&self.dir, block.id);
            remove_sealing(&self.dir, block.id);
            fs::remove_file(&block.path).map_err(|e| StoreError::io(&block.path, e))?;
            tracing::debug!(block = ?block.path, "removed a block below the first sequence");
        }
        Ok(())
    }

    /// Writes a marker of the sequence state (`first`, the last time) to the active block
    /// and syncs it, so the state survives the blocks before it being deleted.
    fn write_marker(&mut self, first: u64) -> Result<(), StoreError> {
        self.append_record(KIND_MARKER, first, self.index.last_time(), None);
        self.write_pending()?;
        let block = self.active();
        block
            .file
            .sync_data()
            .map_err(|e| StoreError::io(&block.path, e))
    }

    /// Where message `seq`, at `offset` in its block, is. (A block id that is not there makes
    /// the read report the block missing.)
    fn locate(&self, seq: u64, offset: u32) -> Loc {
        locate(&self.blocks, seq, offset)
    }

    /// The time of message `seq` (at `offset`), read from its record's header.
    fn time_of(&self, seq: u64, offset: u32) -> Result<i64, StoreError> {
        let loc = self.locate(seq, offset);
        record_time(&self.dir, &self.blocks, &self.pending, seq, loc)
    }

    /// The record bytes of the message at `loc`, checked.
    fn read_message(&mut self, seq: u64, loc: Loc) -> Result<StoredMessage, StoreError> {
        let pos = self
            .blocks
            .binary_search_by_key(&loc.block, |b| b.id)
            .map_err(|_| StoreError::Corrupt {
                path: block_path(&self.dir, loc.block),
                offset: u64::from(loc.offset),
                reason: "block missing".to_owned(),
            })?;
        let block = &self.blocks[pos];
        let offset = u64::from(loc.offset);
        let corrupt = |reason: &str| StoreError::Corrupt {
            path: block.path.clone(),
            offset,
            reason: reason.to_owned(),
        };
        let in_pending = pos + 1 == self.blocks.len() && offset >= block.len;
        let owned;
        // A record larger than a cache chunk, read on its own (see below).
        let mut large: Option<Bytes> = None;
        let bytes: &[u8] = if in_pending {
            self.pending
                .get((offset - block.len) as usize..)
                .ok_or_else(|| corrupt("offset past the written records"))?
        } else {
            let available = block.len.saturating_sub(offset) as usize;
            let mut head = [0u8; 4];
            let len = match self.cache.find(loc.block, offset, 4) {
                Some(b) => u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize,
                None => {
                    block
                        .file
                        .read_exact_at(&mut head, offset)
                        .map_err(|e| StoreError::io(&block.path, e))?;
                    u32::from_le_bytes(head) as usize
                }
            };
            if len > available || len < OVERHEAD {
                return Err(corrupt("record length out of range"));
            }
            let cached = self.cache.find(loc.block, offset, len).is_some();
            if len > CHUNK && !cached {
                // Not cached: it would push out many small records' chunks for one read,
                // and read on its own its bytes become the message's without a copy.
                let mut data = vec![0u8; len];
                block
                    .file
                    .read_exact_at(&mut data, offset)
                    .map_err(|e| StoreError::io(&block.path, e))?;
                large = Some(Bytes::from(data));
                large.as_deref().unwrap_or_default()
            } else {
                if !cached {
                    let backwards = self
                        .cache
                        .last_miss
                        .is_some_and(|(b, o)| b == loc.block && o > offset);
                    self.cache.last_miss = Some((loc.block, offset));
                    let (start, size) = if backwards {
                        let end = offset + len as u64;
                        let start = end.saturating_sub(CHUNK.max(len) as u64);
                        (start, (end - start) as usize)
                    } else {
                        (offset, len.max(CHUNK.min(available)))
                    };
                    let mut data = vec![0u8; size];
                    block
                        .file
                        .read_exact_at(&mut data, start)
                        .map_err(|e| StoreError::io(&block.path, e))?;
                    if self.cache.chunks.len() >= self.cache.max_chunks {
                        self.cache.chunks.pop_front();
                    }
                    self.cache.chunks.push_back((loc.block, start, data));
                }
                owned = self
                    .cache
                    .find(loc.block, offset, len)
                    .expect("just cached");
                owned
            }
        };
        let (record, used) = match decode(bytes) {
            Ok(ok) => ok,
            Err(Bad::Short) => return Err(corrupt("record cut short")),
            Err(Bad::Invalid(reason)) => return Err(corrupt(reason)),
        };
        if record.kind != KIND_MESSAGE || record.seq != seq {
            return Err(corrupt("record is not the indexed message"));
        }
        // One copy of the record (unless read on its own), its fields slices of it: one
        // allocation per message read, and nothing keeps the cache's chunk alive.
        let copy = match &large {
            Some(record) => record.slice(..used),
            None => Bytes::copy_from_slice(&bytes[..used]),
        };
        let base = bytes.as_ptr() as usize;
        let part = |field: &[u8]| {
            if field.is_empty() {
                return Bytes::new();
            }
            let from = field.as_ptr() as usize - base;
            copy.slice(from..from + field.len())
        };
        Ok(StoredMessage {
            seq,
            subject: part(record.subject),
            headers: record.headers.map(part),
            payload: part(record.payload),
            time: record.time,
        })
    }

    fn load_seq(&mut self, seq: Option<u64>) -> Result<Option<StoredMessage>, StoreError> {
        let Some(seq) = seq else { return Ok(None) };
        let Some(offset) = self.index.get(seq).map(|slot| slot.meta) else {
            return Ok(None);
        };
        let loc = self.locate(seq, offset);
        self.read_message(seq, loc).map(Some)
    }

    /// Overwrites a removed message's record with an erased one of the same length.
    fn erase(&mut self, seq: u64, loc: Loc) -> Result<(), StoreError> {
        self.write_pending()?;
        let pos = self
            .blocks
            .binary_search_by_key(&loc.block, |b| b.id)
            .map_err(|_| StoreError::Corrupt {
                path: block_path(&self.dir, loc.block),
                offset: u64::from(loc.offset),
                reason: "block missing".to_owned(),
            })?;
        let block = &self.blocks[pos];
        let offset = u64::from(loc.offset);
        let mut head = [0u8; HEADER];
        block
            .file
            .read_exact_at(&mut head, offset)
            .map_err(|e| StoreError::io(&block.path, e))?;
        let len = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes")) as usize;
        let time = i64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
        // Same length, zeroed contents: an empty subject/headers and a zero payload.
        let mut record = Vec::with_capacity(len);
        let zeros = vec![0u8; len - OVERHEAD];
        encode(
            &mut record,
            KIND_ERASED,
            seq,
            time,
            Some(MessageParts {
                subject: &[],
                headers: None,
                payload: &zeros,
                deadline: None,
            }),
        );
        block
            .file
            .write_all_at(&record, offset)
            .map_err(|e| StoreError::io(&block.path, e))?;
        self.cache.forget_block(loc.block);
        if pos + 1 < self.blocks.len() {
            // The index lists the record as a message; a stale index is never read.
            remove_index(&self.dir, loc.block);
            if let Some(seal) = self.seals.iter_mut().find(|s| s.id == loc.block) {
                seal.index = None;
            }
        } else {
            self.active_index = None;
        }
        Ok(())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the store's directory.
    fn remove_files(&self) -> Result<(), StoreError> {
        fs::remove_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))
    }
}

impl Drop for FileStore {
    /// Hands buffered records to the OS and waits for the closed blocks' fsyncs (best
    /// effort; the server still calls `sync` at shutdown to have everything on disk).
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if let Err(e) = self.flush_pending().and_then(|()| self.finish_seals(true)) {
            tracing::warn!(dir = ?self.dir, error = %e, "flush on drop failed");
        }
    }
}

impl FileStore {
    fn store_message(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError> {
        if subject.len() > usize::from(u16::MAX) {
            return Err(StoreError::TooLarge(subject.len()));
        }
        let record_len = OVERHEAD + subject.len() + headers.map_or(0, <[u8]>::len) + payload.len();
        if record_len > (u32::MAX as usize) - MAGIC.len() {
            return Err(StoreError::TooLarge(record_len));
        }
        let size = file_size(subject.len(), headers.map(<[u8]>::len), payload.len());
        self.index.check_new(subject, size)?;
        let block = self.active();
        let end = block.len + self.pending.len() as u64;
        if block.has_messages
            && (end + record_len as u64 > self.cfg.block_size
                || end + record_len as u64 > u64::from(u32::MAX))
        {
            self.rotate()?;
        }
        let seq = self.index.last_seq() + 1;
        let deadline = ttl.map(|ttl| deadline(time, ttl));
        let block = self.active_mut();
        block.has_messages = true;
        block.max_ref = seq;
        let offset = self.append_record(
            KIND_MESSAGE,
            seq,
            time,
            Some(MessageParts {
                subject,
                headers,
                payload,
                deadline,
            }),
        );
        self.index
            .append(seq, subject, size, time, deadline, offset as u32);
        self.index.enforce_after_store(subject);
        if !self.index.removed.is_empty() {
            self.after_removals();
        }
        Ok(seq)
    }

    /// Encodes a record into `pending`, bound for the active block, and notes it in the
    /// active block's index; returns its offset in the block.
    fn append_record(
        &mut self,
        kind: u8,
        seq: u64,
        time: i64,
        message: Option<MessageParts<'_>>,
    ) -> u64 {
        let offset = self.active().len + self.pending.len() as u64;
        let start = self.pending.len();
        encode(&mut self.pending, kind, seq, time, message);
        let len = self.pending.len() - start;
        match (&mut self.active_index, u32::try_from(offset)) {
            (Some(writer), Ok(offset)) => writer.push(&Fact {
                kind,
                flags: message.map_or(0, |m| flags(m.headers.is_some(), m.deadline.is_some())),
                seq,
                time,
                deadline: message.and_then(|m| m.deadline),
                subject: message.map_or(&[][..], |m| m.subject),
                offset,
                len: len as u32,
            }),
            // Past 4 GiB a record cannot be indexed; sealing reads the block instead.
            _ => self.active_index = None,
        }
        offset
    }

    fn flush_pending(&mut self) -> Result<(), StoreError> {
        // Under `sync: always` a flush leaves every record on disk, those in a block
        // closed since the last flush too.
        self.finish_seals(self.cfg.sync == SyncPolicy::Always)?;
        let first = self.index.first_seq();
        if first != self.marked_first {
            self.append_record(KIND_MARKER, first, self.index.last_time(), None);
            self.marked_first = first;
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        self.write_pending()?;
        if self.cfg.sync == SyncPolicy::Always {
            let block = self.active();
            block
                .file
                .sync_data()
                .map_err(|e| StoreError::io(&block.path, e))?;
        }
        self.drop_old_blocks()
    }

    fn sync_all(&mut self) -> Result<(), StoreError> {
        self.flush_pending()?;
        self.finish_seals(true)?;
        let block = self.active();
        block
            .file
            .sync_data()
            .map_err(|e| StoreError::io(&block.path, e))
    }
}

impl MessageStore for FileStore {
    fn store(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError> {
        self.check_open()?;
        self.store_message(subject, headers, payload, time, ttl)
            .map_err(|e| self.failed(e, true))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.check_open()?;
        if let Some(failure) = self.unreported.take() {
            // Records buffered since the failure wait for acknowledgements that now fail.
            self.reload();
            return Err(failure.to_error());
        }
        self.flush_pending().map_err(|e| self.failed(e, false))
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.check_open()?;
        self.sync_all().map_err(|e| self.failed(e, true))
    }

    fn write_error(&self) -> Option<String> {
        self.write_error.clone()
    }

    fn load(&mut self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        self.load_seq(Some(seq))
    }

    fn load_next(
        &mut self,
        start: u64,
        filter: &[u8],
    ) -> Result<Option<StoredMessage>, StoreError> {
        let seq = self.index.next_match(start, filter);
        self.load_seq(seq)
    }

    fn load_last(&mut self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError> {
        let seq = self.index.last_match(filter);
        self.load_seq(seq)
    }

    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        self.check_open()?;
        let Some(offset) = self.index.remove(seq) else {
            return Ok(false);
        };
        let loc = self.locate(seq, offset);
        self.after_removals();
        if erase {
            self.erase(seq, loc).map_err(|e| self.failed(e, true))?;
        }
        Ok(true)
    }

    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        self.check_open()?;
        let purged = self.index.purge(req)?;
        self.after_removals();
        Ok(purged)
    }

    fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        self.check_open()?;
        let FileStore {
            index,
            dir,
            blocks,
            pending,
            ..
        } = self;
        let expired = index.expire(now, |seq, &offset| {
            record_time(dir, blocks, pending, seq, locate(blocks, seq, offset))
        });
        self.after_removals();
        expired
    }

    fn set_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError> {
        self.check_open()?;
        self.index.limits = limits;
        self.index.enforce_all();
        self.after_removals();
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.index.bytes()
    }

    fn message_size(&self, subject: usize, headers: Option<usize>, payload: usize) -> u64 {
        file_size(subject, headers, payload)
    }

    fn state(&self) -> StoreState {
        let mut state = self.index.state();
        if let Some((seq, &offset)) = self.index.front() {
            state.first_time = self.time_of(seq, offset).unwrap_or_else(|e| {
                tracing::warn!(dir = ?self.dir, error = %e, "reading the first message's time");
                0
            });
        }
        state
    }

    fn subjects(&self, filter: &[u8]) -> BTreeMap<String, SubjectState> {
        self.index.subjects(filter)
    }

    fn num_pending(&mut self, start: u64, filter: &[u8], last_per_subject: bool) -> u64 {
        self.index.num_pending(start, filter, last_per_subject)
    }

    fn deleted(&self) -> Vec<u64> {
        self.index.deleted()
    }

    fn destroy(mut self: Box<Self>) -> Result<(), StoreError> {
        // Nothing is flushed into a directory being removed.
        self.closed = true;
        self.remove_files()
    }
}
