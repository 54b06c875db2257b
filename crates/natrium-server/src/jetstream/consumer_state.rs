//! A consumer's durable state and the log it is kept in.
//!
//! [`Saved`] is what a restart needs: positions, the unacknowledged deliveries, the start
//! list and the messages out of deliveries. Its collections change only through its methods,
//! which journal each change, so a save appends just what changed since the last one.
//!
//! On disk (`obs/<name>/state.log`) the state is a sequence of records, each
//! `len: u32 | crc32c(body): u32 | body`, all integers little-endian. The first record is a
//! snapshot of the whole state; each following one is a delta: the positions as they are
//! now, then the changes to the collections in order. A save appends one record with one
//! `write`, so acknowledgements confirmed after a save survive `kill -9`. When the log
//! outgrows its snapshot it is compacted: a new snapshot is written beside it and renamed
//! over it. A torn or damaged tail is where recovery stops (the state before it is complete
//! and consistent, and nothing in the tail was confirmed); a damaged snapshot means the
//! consumer starts over from the stream's first message. The older `state.json` (the whole
//! state as JSON) is read when there is no log, and replaced by one at the first save.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio::time::Instant;

/// The log's file name in the consumer's directory.
pub(crate) const LOG_FILE: &str = "state.log";
/// The state as earlier versions wrote it (read once, then replaced by the log).
pub(crate) const JSON_FILE: &str = "state.json";
/// Compaction happens only past this size (and past a few times the snapshot's size).
const COMPACT_MIN: u64 = 1 << 20;
/// A record longer than this is damage, not data.
const MAX_RECORD: usize = 1 << 30;

const SNAPSHOT: u8 = 1;
const DELTA: u8 = 2;

const OP_SET: u8 = 1;
const OP_REMOVE: u8 = 2;
const OP_EXHAUSTED: u8 = 3;
const OP_START_POP: u8 = 4;
const OP_START_PUSH: u8 = 5;

/// One delivered, unacknowledged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct Pending {
    /// Consumer sequence of its last delivery.
    pub dseq: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// When it was last delivered, unix ns.
    pub time: i64,
    /// When it is due for redelivery; not kept on disk (restarted from now).
    #[serde(skip)]
    pub deadline: Option<Instant>,
}

/// A change to the collections of [`Saved`], as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set(u64, Pending),
    Remove(u64),
    Exhausted(u64),
    StartPop,
    StartPush(u64),
}

/// What is kept on disk of a consumer's progress.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Saved {
    pub next_sseq: u64,
    pub dseq: u64,
    pub delivered_sseq: u64,
    pub ack_floor: (u64, u64),
    pending: BTreeMap<u64, Pending>,
    /// Start positions left over from `last_per_subject`.
    #[serde(default)]
    start_list: VecDeque<u64>,
    /// Messages past `max_deliver`, above the ack floor.
    #[serde(default)]
    exhausted: BTreeSet<u64>,
    /// Changes since the last save; kept only when the state is saved at all.
    #[serde(skip)]
    journal: Vec<Op>,
    #[serde(skip)]
    journaled: bool,
}

impl Saved {
    /// A fresh state at these positions.
    pub(crate) fn new(next_sseq: u64, floor_sseq: u64, start_list: VecDeque<u64>) -> Saved {
        Saved {
            next_sseq,
            delivered_sseq: floor_sseq,
            ack_floor: (0, floor_sseq),
            start_list,
            ..Saved::default()
        }
    }

    /// Keeps a journal of changes from now on (the state is saved to a log).
    pub(crate) fn journal_changes(&mut self) {
        self.journaled = true;
    }

    fn record(&mut self, op: Op) {
        if self.journaled {
            self.journal.push(op);
        }
    }

    pub(crate) fn pending(&self) -> &BTreeMap<u64, Pending> {
        &self.pending
    }

    /// The redelivery deadline of a pending message, to change (not kept on disk).
    pub(crate) fn deadline_mut(&mut self, sseq: u64) -> Option<&mut Option<Instant>> {
        self.pending.get_mut(&sseq).map(|p| &mut p.deadline)
    }

    pub(crate) fn insert_pending(&mut self, sseq: u64, p: Pending) {
        self.pending.insert(sseq, p);
        self.record(Op::Set(sseq, p));
    }

    pub(crate) fn remove_pending(&mut self, sseq: u64) -> Option<Pending> {
        let p = self.pending.remove(&sseq)?;
        self.record(Op::Remove(sseq));
        Some(p)
    }

    pub(crate) fn start_list(&self) -> &VecDeque<u64> {
        &self.start_list
    }

    pub(crate) fn pop_start(&mut self) -> Option<u64> {
        let sseq = self.start_list.pop_front()?;
        self.record(Op::StartPop);
        Some(sseq)
    }

    pub(crate) fn push_start(&mut self, sseq: u64) {
        self.start_list.push_front(sseq);
        self.record(Op::StartPush(sseq));
    }

    pub(crate) fn exhausted(&self) -> &BTreeSet<u64> {
        &self.exhausted
    }

    /// `sseq` ran out of deliveries: no longer pending, never delivered again.
    pub(crate) fn exhaust(&mut self, sseq: u64) {
        self.remove_pending(sseq);
        self.exhausted.insert(sseq);
        self.record(Op::Exhausted(sseq));
    }

    /// Moves the ack floor up to just before the oldest unacknowledged delivery.
    pub(crate) fn update_ack_floor(&mut self) {
        match self.pending.iter().next() {
            None => self.ack_floor = (self.dseq, self.delivered_sseq),
            Some((&sseq, p)) => {
                let floor = (p.dseq.saturating_sub(1), sseq.saturating_sub(1));
                if floor > self.ack_floor {
                    self.ack_floor = floor;
                }
            }
        }
        self.forget_below_floor();
    }

    /// Exhausted messages at or below the ack floor need no remembering (recomputed on
    /// replay, so it is not journaled).
    fn forget_below_floor(&mut self) {
        let floor = self.ack_floor.1;
        self.exhausted.retain(|&seq| seq > floor);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Set(sseq, p) => {
                self.pending.insert(sseq, p);
            }
            Op::Remove(sseq) => {
                self.pending.remove(&sseq);
            }
            Op::Exhausted(sseq) => {
                self.exhausted.insert(sseq);
            }
            Op::StartPop => {
                self.start_list.pop_front();
            }
            Op::StartPush(sseq) => self.start_list.push_front(sseq),
        }
    }

    fn encode_positions(&self, out: &mut Vec<u8>) {
        for n in [
            self.next_sseq,
            self.dseq,
            self.delivered_sseq,
            self.ack_floor.0,
            self.ack_floor.1,
        ] {
            put(out, n);
        }
    }

    /// The whole state as a snapshot record's body.
    fn encode_snapshot(&self, out: &mut Vec<u8>) {
        out.push(SNAPSHOT);
        self.encode_positions(out);
        put(out, self.pending.len() as u64);
        for (&sseq, p) in &self.pending {
            put_pending(out, sseq, p);
        }
        put(out, self.start_list.len() as u64);
        for &sseq in &self.start_list {
            put(out, sseq);
        }
        put(out, self.exhausted.len() as u64);
        for &sseq in &self.exhausted {
            put(out, sseq);
        }
    }

    /// The changes since the last save as a delta record's body.
    fn encode_delta(&self, out: &mut Vec<u8>) {
        out.push(DELTA);
        self.encode_positions(out);
        for op in &self.journal {
            match *op {
                Op::Set(sseq, p) => {
                    out.push(OP_SET);
                    put_pending(out, sseq, &p);
                }
                Op::Remove(sseq) => {
                    out.push(OP_REMOVE);
                    put(out, sseq);
                }
                Op::Exhausted(sseq) => {
                    out.push(OP_EXHAUSTED);
                    put(out, sseq);
                }
                Op::StartPop => out.push(OP_START_POP),
                Op::StartPush(sseq) => {
                    out.push(OP_START_PUSH);
                    put(out, sseq);
                }
            }
        }
    }

    fn decode_positions(r: &mut Reader<'_>, s: &mut Saved) -> Option<()> {
        s.next_sseq = r.u64()?;
        s.dseq = r.u64()?;
        s.delivered_sseq = r.u64()?;
        s.ack_floor = (r.u64()?, r.u64()?);
        Some(())
    }

    fn decode_snapshot(body: &[u8]) -> Option<Saved> {
        let mut r = Reader(body);
        if r.u8()? != SNAPSHOT {
            return None;
        }
        let mut s = Saved::default();
        Saved::decode_positions(&mut r, &mut s)?;
        for _ in 0..r.u64()? {
            let (sseq, p) = r.pending()?;
            s.pending.insert(sseq, p);
        }
        for _ in 0..r.u64()? {
            s.start_list.push_back(r.u64()?);
        }
        for _ in 0..r.u64()? {
            s.exhausted.insert(r.u64()?);
        }
        r.0.is_empty().then_some(s)
    }

    /// Applies a delta record; `None` (and nothing applied) when it does not decode.
    fn apply_delta(&mut self, body: &[u8]) -> Option<()> {
        let mut r = Reader(body);
        if r.u8()? != DELTA {
            return None;
        }
        let mut positions = Saved::default();
        Saved::decode_positions(&mut r, &mut positions)?;
        let mut ops = Vec::new();
        while !r.0.is_empty() {
            ops.push(match r.u8()? {
                OP_SET => {
                    let (sseq, p) = r.pending()?;
                    Op::Set(sseq, p)
                }
                OP_REMOVE => Op::Remove(r.u64()?),
                OP_EXHAUSTED => Op::Exhausted(r.u64()?),
                OP_START_POP => Op::StartPop,
                OP_START_PUSH => Op::StartPush(r.u64()?),
                _ => return None,
            });
        }
        for op in ops {
            self.apply(op);
        }
        self.next_sseq = positions.next_sseq;
        self.dseq = positions.dseq;
        self.delivered_sseq = positions.delivered_sseq;
        self.ack_floor = positions.ack_floor;
        self.forget_below_floor();
        Some(())
    }
}

fn put(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_pending(out: &mut Vec<u8>, sseq: u64, p: &Pending) {
    put(out, sseq);
    put(out, p.dseq);
    put(out, p.deliveries);
    out.extend_from_slice(&p.time.to_le_bytes());
}

/// Reads a record body front to back.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u64(&mut self) -> Option<u64> {
        let (n, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*n))
    }

    fn pending(&mut self) -> Option<(u64, Pending)> {
        let sseq = self.u64()?;
        let dseq = self.u64()?;
        let deliveries = self.u64()?;
        let (time, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        let time = i64::from_le_bytes(*time);
        Some((
            sseq,
            Pending {
                dseq,
                deliveries,
                time,
                deadline: None,
            },
        ))
    }
}

/// Splits the first record off `data`: its body and the rest, or `None` when it is
/// incomplete or its checksum does not match.
fn next_record(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let (crc, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_RECORD || rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    (crc32c::crc32c(body) == u32::from_le_bytes(*crc)).then_some((body, rest))
}

/// Frames `body` (already in `buf` after 8 reserved bytes) as a record.
fn frame(buf: &mut [u8]) {
    let (head, body) = buf.split_at_mut(8);
    head[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
    head[4..].copy_from_slice(&crc32c::crc32c(body).to_le_bytes());
}

/// What was found on disk.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No state yet: a new consumer.
    Nothing,
    /// The state (up to a damaged tail, if any).
    State(Saved),
    /// A state exists but can't be read.
    Damaged,
}

/// Reads a consumer's state from its directory: the log, or else an older `state.json`.
pub(crate) fn load(dir: &Path) -> Loaded {
    let log = dir.join(LOG_FILE);
    match std::fs::read(&log) {
        Ok(data) => return decode_log(&log, &data),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::error!("consumer state {}: {e}; starting over", log.display());
            return Loaded::Damaged;
        }
    }
    let json = dir.join(JSON_FILE);
    let bytes = match std::fs::read(&json) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Nothing,
        Err(e) => {
            tracing::error!("consumer state {}: {e}; starting over", json.display());
            return Loaded::Damaged;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(saved) => Loaded::State(saved),
        Err(e) => {
            tracing::error!(
                "consumer state {} is damaged: {e}; starting over",
                json.display()
            );
            Loaded::Damaged
        }
    }
}

fn decode_log(path: &Path, data: &[u8]) -> Loaded {
    let Some((mut saved, mut rest)) =
        next_record(data).and_then(|(body, rest)| Some((Saved::decode_snapshot(body)?, rest)))
    else {
        tracing::error!(
            "consumer state {} is damaged: no readable snapshot; starting over",
            path.display()
        );
        return Loaded::Damaged;
    };
    while let Some((body, after)) = next_record(rest) {
        if saved.apply_delta(body).is_none() {
            break;
        }
        rest = after;
    }
    if !rest.is_empty() {
        // A save that did not finish: nothing in it was confirmed.
        tracing::warn!(
            "consumer state {}: ignoring a damaged tail of {} bytes",
            path.display(),
            rest.len()
        );
    }
    Loaded::State(saved)
}

/// The open log of one consumer; one writer at a time (the caller's lock).
#[derive(Debug)]
pub(crate) struct StateLog {
    dir: PathBuf,
    /// fsync each write (`sync_interval: always`).
    sync_always: bool,
    /// Open for appending, after a snapshot; `None` until the first save (or after a
    /// failed write), when the next save writes a snapshot.
    file: Option<File>,
    len: u64,
    snapshot_len: u64,
    /// Written since the last fsync.
    unsynced: bool,
    buf: Vec<u8>,
}

impl StateLog {
    pub(crate) fn new(dir: PathBuf, sync_always: bool) -> StateLog {
        StateLog {
            dir,
            sync_always,
            file: None,
            len: 0,
            snapshot_len: 0,
            unsynced: false,
            buf: Vec::new(),
        }
    }

    /// Encodes what `saved` changed since the last save (or all of it, when the log must
    /// be compacted or has no snapshot yet) and forgets the journal: call with the state
    /// locked, then [`StateLog::write`] without.
    pub(crate) fn take(&mut self, saved: &mut Saved) {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        let compact = self.len > COMPACT_MIN.max(self.snapshot_len.saturating_mul(4));
        if self.file.is_none() || compact {
            self.file = None;
            saved.encode_snapshot(&mut self.buf);
        } else {
            saved.encode_delta(&mut self.buf);
        }
        saved.journal.clear();
        frame(&mut self.buf);
    }

    /// Writes what [`StateLog::take`] encoded. On error the next save writes a snapshot.
    pub(crate) fn write(&mut self) -> std::io::Result<()> {
        let written = match &mut self.file {
            Some(file) => file.write_all(&self.buf).and_then(|()| {
                if self.sync_always {
                    file.sync_data()?;
                }
                Ok(())
            }),
            None => self.write_snapshot(),
        };
        match written {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                self.unsynced = !self.sync_always;
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(e)
            }
        }
    }

    /// A new log holding the snapshot in `buf`, renamed over the old one (and the older
    /// `state.json` removed: the log replaces it).
    fn write_snapshot(&mut self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join("state.log.new");
        let mut file = File::create(&tmp)?;
        file.write_all(&self.buf)?;
        if self.sync_always {
            file.sync_data()?;
        }
        std::fs::rename(&tmp, self.dir.join(LOG_FILE))?;
        if self.sync_always {
            File::open(&self.dir)?.sync_all()?;
        }
        match std::fs::remove_file(self.dir.join(JSON_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.file = Some(file);
        self.len = 0;
        self.snapshot_len = self.buf.len() as u64;
        Ok(())
    }

    /// fsyncs what was written since the last sync (the sync interval came round).
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        if let Some(file) = &self.file
            && self.unsynced
        {
            file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(dseq: u64, deliveries: u64) -> Pending {
        Pending {
            dseq,
            deliveries,
            time: 1_700_000_000_000_000_000 + dseq as i64,
            deadline: None,
        }
    }

    /// A state with some of everything, journaled.
    fn sample() -> Saved {
        let mut s = Saved::new(1, 0, VecDeque::from([7, 9, 12]));
        s.journal_changes();
        s
    }

    /// Delivers the next message (`sseq`) as the consumer does.
    fn deliver(s: &mut Saved, sseq: u64) {
        s.dseq += 1;
        s.delivered_sseq = s.delivered_sseq.max(sseq);
        s.next_sseq = s.next_sseq.max(sseq + 1);
        let deliveries = s.pending().get(&sseq).map_or(0, |p| p.deliveries) + 1;
        s.insert_pending(sseq, pending(s.dseq, deliveries));
    }

    fn ack(s: &mut Saved, sseq: u64) {
        s.remove_pending(sseq);
        s.update_ack_floor();
    }

    fn same(a: &Saved, b: &Saved) {
        assert_eq!(
            (a.next_sseq, a.dseq, a.delivered_sseq, a.ack_floor),
            (b.next_sseq, b.dseq, b.delivered_sseq, b.ack_floor)
        );
        assert_eq!(a.pending, b.pending);
        assert_eq!(a.start_list, b.start_list);
        assert_eq!(a.exhausted, b.exhausted);
    }

    fn saved_in(dir: &Path) -> Saved {
        match load(dir) {
            Loaded::State(s) => s,
            other => panic!("expected a state, got {other:?}"),
        }
    }

    fn save(log: &mut StateLog, s: &mut Saved) {
        log.take(s);
        log.write().expect("write");
    }

    #[test]
    fn deltas_replay_to_the_same_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = StateLog::new(dir.path().to_owned(), false);
        let mut s = sample();
        save(&mut log, &mut s);
        for sseq in 1..=20 {
            deliver(&mut s, sseq);
        }
        s.pop_start();
        save(&mut log, &mut s);
        for sseq in [2, 1, 5, 6, 7] {
            ack(&mut s, sseq);
        }
        deliver(&mut s, 3); // a redelivery
        s.exhaust(4);
        s.push_start(30);
        save(&mut log, &mut s);
        same(&saved_in(dir.path()), &s);
        assert!(
            log.len > 0,
            "the later saves appended to the first snapshot"
        );
    }

    #[test]
    fn a_torn_or_damaged_tail_is_ignored_and_the_state_before_it_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(LOG_FILE);
        let mut log = StateLog::new(dir.path().to_owned(), false);
        let mut s = sample();
        for sseq in 1..=10 {
            deliver(&mut s, sseq);
        }
        save(&mut log, &mut s);
        ack(&mut s, 1);
        ack(&mut s, 2);
        save(&mut log, &mut s);
        let confirmed = std::fs::read(&path).expect("read");
        let expected = saved_in(dir.path());
        ack(&mut s, 3);
        ack(&mut s, 4);
        deliver(&mut s, 11);
        save(&mut log, &mut s);
        let full = std::fs::read(&path).expect("read");
        assert!(full.len() > confirmed.len());
        // Every cut inside the last record, and every flipped byte of it.
        for cut in confirmed.len()..full.len() {
            std::fs::write(&path, &full[..cut]).expect("write");
            same(&saved_in(dir.path()), &expected);
        }
        for i in confirmed.len()..full.len() {
            let mut damaged = full.clone();
            damaged[i] ^= 0x40;
            std::fs::write(&path, &damaged).expect("write");
            same(&saved_in(dir.path()), &expected);
        }
        // The tail is dropped at the next save, which writes a new snapshot.
        std::fs::write(&path, &full[..full.len() - 3]).expect("write");
        let mut s = saved_in(dir.path());
        s.journal_changes();
        let mut log = StateLog::new(dir.path().to_owned(), false);
        ack(&mut s, 5);
        save(&mut log, &mut s);
        deliver(&mut s, 11);
        save(&mut log, &mut s);
        same(&saved_in(dir.path()), &s);
    }

    #[test]
    fn a_damaged_snapshot_is_reported_as_damaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(LOG_FILE);
        let mut log = StateLog::new(dir.path().to_owned(), false);
        let mut s = sample();
        deliver(&mut s, 1);
        save(&mut log, &mut s);
        let good = std::fs::read(&path).expect("read");
        for cut in 0..good.len() {
            std::fs::write(&path, &good[..cut]).expect("write");
            assert!(matches!(load(dir.path()), Loaded::Damaged), "cut at {cut}");
        }
        let mut damaged = good.clone();
        damaged[12] ^= 1;
        std::fs::write(&path, &damaged).expect("write");
        assert!(matches!(load(dir.path()), Loaded::Damaged));
    }

    #[test]
    fn state_json_is_read_and_replaced_by_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The format earlier versions wrote.
        let json = r#"{"next_sseq":11,"dseq":12,"delivered_sseq":10,"ack_floor":[8,8],
            "pending":{"9":{"dseq":9,"deliveries":1,"time":5},"10":{"dseq":12,"deliveries":3,"time":6}},
            "start_list":[],"exhausted":[]}"#;
        std::fs::write(dir.path().join(JSON_FILE), json).expect("write");
        let mut s = saved_in(dir.path());
        assert_eq!((s.next_sseq, s.dseq, s.ack_floor), (11, 12, (8, 8)));
        assert_eq!(s.pending()[&10].deliveries, 3);
        s.journal_changes();
        let mut log = StateLog::new(dir.path().to_owned(), false);
        ack(&mut s, 9);
        save(&mut log, &mut s);
        assert!(!dir.path().join(JSON_FILE).exists(), "state.json replaced");
        let back = saved_in(dir.path());
        same(&back, &s);
        assert_eq!(back.ack_floor, (11, 9));
    }

    #[test]
    fn the_log_is_compacted_when_it_outgrows_its_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(LOG_FILE);
        let mut log = StateLog::new(dir.path().to_owned(), false);
        let mut s = sample();
        save(&mut log, &mut s);
        let mut largest = 0;
        let mut compactions = 0;
        for sseq in 1..=100_000 {
            deliver(&mut s, sseq);
            ack(&mut s, sseq);
            if sseq % 100 == 0 {
                let before = log.len;
                save(&mut log, &mut s);
                if log.len < before {
                    compactions += 1;
                }
                largest = largest.max(std::fs::metadata(&path).expect("metadata").len());
            }
        }
        assert!(compactions >= 2, "{compactions} compactions");
        assert!(
            largest <= COMPACT_MIN + 64 * 1024,
            "the log stays small: {largest} bytes"
        );
        same(&saved_in(dir.path()), &s);
        assert!(!dir.path().join("state.log.new").exists());
    }
}
