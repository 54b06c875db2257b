//! The in-memory index both stores share: one compact slot per sequence from the first
//! stored message to the last, per-subject state, TTL deadlines, and every limit rule.
//!
//! A store adds only where a message's bytes live (`M`: the bytes themselves in memory, a
//! block and offset in the file store), so both stores answer every question identically.
//!
//! Each slot links to the next sequence on the same subject, so removing a subject's first
//! message (what `max_msgs_per_subject`, KV history and work queues do all the time) finds
//! the subject's new first message without scanning the stream. A removed slot keeps its
//! link, so the chain stays walkable; removed slots leave the front as soon as they reach it.
//!
//! A slot is 16 bytes in the file store: the link is a distance (a chain step longer than
//! 2^32 - 2 sequences falls back to a scan), and times are not kept: a message's time is
//! only needed for the first one (`first_time`, `max_age`), which the store reads back.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::subjects::{SubjectTable, is_all, is_literal};
use crate::{PurgeRequest, StoreError, StoreLimits, StoreState, SubjectState};

/// The subject id of a removed slot.
const DELETED: u32 = u32::MAX;

/// The highest sequence a store accepts (a purge to a higher one is refused, a record
/// claiming one is corrupt), so `last + 1` can never overflow.
pub(crate) const MAX_SEQ: u64 = 1 << 62;

/// How many slots `next_match` scans before it turns to the subject table.
const NEARBY: u64 = 256;

/// A link too long for a slot: the next sequence on the subject is found by a scan.
const FAR: u32 = u32::MAX;

/// One sequence. 16 bytes in the file store.
#[derive(Debug)]
pub(crate) struct Slot<M> {
    subject: u32,
    size: u32,
    /// How far ahead the next sequence appended on the same subject is; 0 if none yet.
    next: u32,
    pub meta: M,
}

impl<M> Slot<M> {
    fn is_live(&self) -> bool {
        self.subject != DELETED
    }
}

/// Sizes as nats-server counts them; see [`StoreLimits`].
pub(crate) type SizeRule = fn(subject: usize, headers: Option<usize>, payload: usize) -> u64;

#[derive(Debug)]
pub(crate) struct Index<M> {
    /// The sequence of `slots[0]`.
    base: u64,
    /// Sequences `base..=last`; the front is live whenever `msgs > 0`, empty otherwise.
    slots: VecDeque<Slot<M>>,
    first: u64,
    last: u64,
    last_time: i64,
    msgs: u64,
    bytes: u64,
    subjects: SubjectTable,
    /// (deadline, seq) of messages stored with a TTL; entries of removed messages linger
    /// until their deadline and are skipped then.
    ttls: BTreeSet<(i64, u64)>,
    /// Sequences removed one by one (not by `compact`) since the owner last cleared it; the
    /// file store writes tombstones for those still above `first`.
    pub removed: Vec<u64>,
    pub limits: StoreLimits,
    size_rule: SizeRule,
}

impl<M: Default> Index<M> {
    pub fn new(limits: StoreLimits, size_rule: SizeRule) -> Self {
        Index {
            base: 0,
            slots: VecDeque::new(),
            first: 0,
            last: 0,
            last_time: 0,
            msgs: 0,
            bytes: 0,
            subjects: SubjectTable::default(),
            ttls: BTreeSet::new(),
            removed: Vec::new(),
            limits,
            size_rule,
        }
    }

    pub fn size_of(&self, subject: usize, headers: Option<usize>, payload: usize) -> u64 {
        (self.size_rule)(subject, headers, payload)
    }

    pub fn last_seq(&self) -> u64 {
        self.last
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The state, except `first_time` (0), which the store fills in from [`front`](Self::front).
    pub fn state(&self) -> StoreState {
        StoreState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first,
            first_time: 0,
            last_seq: self.last,
            last_time: self.last_time,
            num_deleted: if self.msgs == 0 {
                0
            } else {
                self.last - self.first + 1 - self.msgs
            },
            num_subjects: self.subjects.len() as u64,
        }
    }

    /// The first stored message, if any.
    pub fn front(&self) -> Option<(u64, &M)> {
        self.slots
            .front()
            .filter(|s| s.is_live())
            .map(|s| (self.base, &s.meta))
    }

    /// The sequence `link` points to from `seq` on subject `id` (0: none).
    fn chain_next(&self, seq: u64, link: u32, id: u32) -> u64 {
        match link {
            0 => 0,
            FAR => (seq + 1..=self.last)
                .find(|&s| self.slot(s).is_some_and(|slot| slot.subject == id))
                .unwrap_or(0),
            distance => seq + u64::from(distance),
        }
    }

    fn slot(&self, seq: u64) -> Option<&Slot<M>> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.slots.get(i)
    }

    fn slot_mut(&mut self, seq: u64) -> Option<&mut Slot<M>> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(i)
    }

    /// The live slot of `seq`.
    pub fn get(&self, seq: u64) -> Option<&Slot<M>> {
        self.slot(seq).filter(|s| s.is_live())
    }

    /// The subject of a live slot.
    pub fn subject_of(&self, slot: &Slot<M>) -> &[u8] {
        &self.subjects.get(slot.subject).name
    }

    /// Refuses a message that [`crate::Discard::New`] limits do not admit (as nats-server: a
    /// message that will replace its subject's oldest under `max_msgs_per_subject` is admitted
    /// even at `max_msgs`/`max_bytes`).
    pub fn check_new(&self, subject: &[u8], size: u64) -> Result<(), StoreError> {
        if self.last >= MAX_SEQ {
            return Err(StoreError::SequenceExhausted);
        }
        let limits = &self.limits;
        let subject_msgs = self
            .subjects
            .id(subject)
            .map_or(0, |id| self.subjects.get(id).msgs);
        let replaces = limits
            .max_per_subject()
            .is_some_and(|max| subject_msgs >= max);
        if replaces && limits.discard_new_per_subject && limits.discard == crate::Discard::New {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        if limits.discard == crate::Discard::New && !replaces {
            if limits.max_msgs().is_some_and(|max| self.msgs >= max) {
                return Err(StoreError::MaxMessages);
            }
            if limits
                .max_bytes()
                .is_some_and(|max| self.bytes + size > max)
            {
                return Err(StoreError::MaxBytes);
            }
        }
        Ok(())
    }

    /// Adds a message at `seq` (> last; a gap becomes removed slots). No limits are applied.
    pub fn append(
        &mut self,
        seq: u64,
        subject: &[u8],
        size: u64,
        time: i64,
        deadline: Option<i64>,
        meta: M,
    ) {
        debug_assert!(seq > self.last);
        if self.slots.is_empty() {
            self.base = seq;
            self.first = seq;
        } else {
            while self.base + (self.slots.len() as u64) < seq {
                self.slots.push_back(Slot {
                    subject: DELETED,
                    size: 0,
                    next: 0,
                    meta: M::default(),
                });
            }
        }
        let id = self.subjects.intern(subject);
        let entry = self.subjects.get_mut(id);
        let previous = entry.last;
        entry.msgs += 1;
        entry.last = seq;
        if entry.msgs == 1 {
            entry.first = seq;
        } else if let Some(prev) = self.slot_mut(previous) {
            prev.next = u32::try_from(seq - previous)
                .ok()
                .filter(|&d| d != FAR)
                .unwrap_or(FAR);
        }
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        self.slots.push_back(Slot {
            subject: id,
            size,
            next: 0,
            meta,
        });
        self.msgs += 1;
        self.bytes += u64::from(size);
        self.last = seq;
        self.last_time = time;
        if let Some(deadline) = deadline {
            self.ttls.insert((deadline, seq));
        }
    }

    /// Applies discard-old limits after a message on `subject` was appended.
    pub fn enforce_after_store(&mut self, subject: &[u8]) {
        if let (Some(max), Some(id)) = (self.limits.max_per_subject(), self.subjects.id(subject)) {
            while self.subjects.get(id).msgs > max {
                let first = self.subjects.get(id).first;
                self.remove(first);
            }
        }
        self.enforce_totals();
    }

    /// Applies every limit to the whole stream (after a limits change or recovery).
    pub fn enforce_all(&mut self) {
        if let Some(max) = self.limits.max_per_subject() {
            for id in self.subjects.matching(b">") {
                while self.subjects.get(id).msgs > max {
                    let first = self.subjects.get(id).first;
                    self.remove(first);
                }
            }
        }
        self.enforce_totals();
    }

    fn enforce_totals(&mut self) {
        let max_msgs = self.limits.max_msgs().unwrap_or(u64::MAX);
        let max_bytes = self.limits.max_bytes().unwrap_or(u64::MAX);
        while self.msgs > 0 && (self.msgs > max_msgs || self.bytes > max_bytes) {
            self.remove(self.first);
        }
    }

    /// Removes a live message and records it in `removed`; returns its meta.
    pub fn remove(&mut self, seq: u64) -> Option<M> {
        let meta = self.unlink(seq)?;
        self.removed.push(seq);
        self.trim_front();
        Some(meta)
    }

    /// Marks `seq` removed and updates the counts and its subject; leaves the front alone.
    fn unlink(&mut self, seq: u64) -> Option<M> {
        let slot = self.slot_mut(seq).filter(|s| s.is_live())?;
        let id = std::mem::replace(&mut slot.subject, DELETED);
        let size = u64::from(slot.size);
        let next = slot.next;
        let meta = std::mem::take(&mut slot.meta);
        self.msgs -= 1;
        self.bytes -= size;
        let entry = self.subjects.get_mut(id);
        entry.msgs -= 1;
        let (msgs, first, last) = (entry.msgs, entry.first, entry.last);
        if msgs == 0 {
            self.subjects.release(id);
            return Some(meta);
        }
        let mut new_first = first;
        if first == seq {
            let next = self.chain_next(seq, next, id);
            new_first = self.next_live_in_chain(next, id);
            self.subjects.get_mut(id).first = new_first;
        }
        if last == seq {
            let new_last = if msgs == 1 {
                new_first
            } else {
                self.previous_on_subject(seq, id, new_first)
            };
            self.subjects.get_mut(id).last = new_last;
        }
        Some(meta)
    }

    /// Follows subject `id`'s chain from `seq` to its first live slot.
    fn next_live_in_chain(&self, mut seq: u64, id: u32) -> u64 {
        while let Some(slot) = self.slot(seq) {
            if slot.is_live() {
                return seq;
            }
            seq = self.chain_next(seq, slot.next, id);
        }
        debug_assert!(false, "subject chain ended without a live message");
        0
    }

    /// The live sequence before `seq` on subject `id`, not below `floor` (its first).
    fn previous_on_subject(&self, seq: u64, id: u32, floor: u64) -> u64 {
        (floor..seq)
            .rev()
            .find(|&s| self.slot(s).is_some_and(|slot| slot.subject == id))
            .unwrap_or(floor)
    }

    /// Drops removed slots from the front and moves `first`.
    fn trim_front(&mut self) {
        while self.slots.front().is_some_and(|s| !s.is_live()) {
            self.slots.pop_front();
            self.base += 1;
        }
        if self.slots.is_empty() {
            self.base = self.last + 1;
            self.first = self.last + 1;
        } else {
            self.first = self.base;
        }
    }

    /// Records that `seq` was assigned and is already gone (an erased record met on
    /// recovery): it moves `last_seq` like a message, but nothing is stored.
    pub fn append_removed(&mut self, seq: u64, time: i64) {
        debug_assert!(seq > self.last);
        if self.slots.is_empty() {
            self.base = seq + 1;
            self.first = seq + 1;
        } else {
            while self.base + (self.slots.len() as u64) <= seq {
                self.slots.push_back(Slot {
                    subject: DELETED,
                    size: 0,
                    next: 0,
                    meta: M::default(),
                });
            }
        }
        self.last = seq;
        self.last_time = time;
    }

    pub fn first_seq(&self) -> u64 {
        self.first
    }

    pub fn last_time(&self) -> i64 {
        self.last_time
    }

    pub fn msgs(&self) -> u64 {
        self.msgs
    }

    /// Removes every message below `below` without recording each; past the last sequence
    /// the stream continues at `below` (nats-server's compact). When nothing is below and
    /// `below` is not past the end, nothing changes (a new stream stays at 0/0, as in
    /// nats-server). Returns how many went.
    pub fn compact(&mut self, below: u64) -> u64 {
        let beyond = below > self.last + 1;
        if !beyond && (self.msgs == 0 || below <= self.first) {
            return 0;
        }
        let before = self.msgs;
        let end = below.min(self.last + 1);
        let mut seq = self.base.max(1);
        while seq < end && self.msgs > 0 {
            self.unlink(seq);
            seq += 1;
        }
        if beyond {
            self.last = below - 1;
        }
        self.trim_front();
        before - self.msgs
    }

    /// Removes every message; the stream continues after the last sequence (a new stream
    /// then reports first 1, last 0, as nats-server does).
    pub fn purge_all(&mut self) -> u64 {
        let purged = self.compact(self.last + 1);
        self.slots.clear();
        self.base = self.last + 1;
        self.first = self.last + 1;
        purged
    }

    /// Replays a purge marker: the stream's first sequence was `first` (file store recovery).
    pub fn apply_marker(&mut self, first: u64, last_time: i64) {
        self.compact(first);
        if self.msgs == 0 {
            self.base = self.last + 1;
            self.first = self.last + 1;
        }
        self.last_time = last_time;
    }

    pub fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        if req.seq.is_some_and(|s| s > 0) && req.keep.is_some_and(|k| k > 0) {
            return Err(StoreError::PurgeArguments);
        }
        if req.seq.is_some_and(|s| s > MAX_SEQ) {
            return Err(StoreError::PurgeArguments);
        }
        let filter = req.filter.as_deref().unwrap_or("").as_bytes();
        let below = req.seq.filter(|&s| s > 0);
        let keep = req.keep.filter(|&k| k > 0);
        if is_all(filter) {
            return Ok(match keep {
                Some(keep) if keep >= self.msgs => 0,
                Some(keep) => {
                    // Everything below the keep-th newest live message goes.
                    let mut live = 0;
                    let mut seq = self.last;
                    while live < keep {
                        if self.get(seq).is_some() {
                            live += 1;
                        }
                        seq -= 1;
                    }
                    self.compact(seq + 1)
                }
                None => match below {
                    Some(below) => self.compact(below),
                    None => self.purge_all(),
                },
            });
        }
        let ids = self.subjects.matching(filter);
        let before = self.msgs;
        if let Some(keep) = keep {
            let total: u64 = ids.iter().map(|&id| self.subjects.get(id).msgs).sum();
            let mut to_remove = total.saturating_sub(keep);
            let wanted: BTreeSet<u32> = ids.into_iter().collect();
            let mut seq = self.first;
            while to_remove > 0 && seq <= self.last {
                if self.get(seq).is_some_and(|s| wanted.contains(&s.subject)) {
                    self.remove(seq);
                    to_remove -= 1;
                }
                seq += 1;
            }
        } else {
            let below = below.unwrap_or(u64::MAX);
            for id in ids {
                // Each removal of a subject's first moves `first` along its chain.
                while self.subjects.get(id).msgs > 0 && self.subjects.get(id).first < below {
                    let first = self.subjects.get(id).first;
                    self.remove(first);
                }
            }
        }
        Ok(before - self.msgs)
    }

    /// Removes messages past `max_age` or their TTL at `now`; returns how many. `time_of`
    /// gives the time of a stored message (the first ones are asked).
    pub fn expire(
        &mut self,
        now: i64,
        mut time_of: impl FnMut(u64, &M) -> Result<i64, StoreError>,
    ) -> Result<u64, StoreError> {
        let before = self.msgs;
        let max_age = i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX);
        if max_age > 0 {
            let cutoff = now.saturating_sub(max_age);
            while let Some((seq, meta)) = self.front() {
                if time_of(seq, meta)? > cutoff {
                    break;
                }
                self.remove(seq);
            }
        }
        while let Some(&(deadline, seq)) = self.ttls.first() {
            if deadline > now {
                break;
            }
            self.ttls.pop_first();
            self.remove(seq);
        }
        Ok(before - self.msgs)
    }

    /// The first live sequence `>= start` whose subject matches `filter`.
    pub fn next_match(&self, start: u64, filter: &[u8]) -> Option<u64> {
        if self.msgs == 0 {
            return None;
        }
        let start = start.max(self.first);
        if start > self.last {
            return None;
        }
        if is_all(filter) {
            return (start..=self.last).find(|&s| self.get(s).is_some());
        }
        // A consumer asks this once per message and the next match is usually close: look
        // at the next few slots before visiting every subject.
        if self.last - start < NEARBY || !is_literal(filter) {
            let end = self.last.min(start.saturating_add(NEARBY));
            let found = (start..=end).find(|&s| {
                self.get(s).is_some_and(|slot| {
                    natrium_wire::subject_matches(filter, self.subject_of(slot))
                })
            });
            if found.is_some() || end == self.last {
                return found;
            }
            return self.next_match_by_subject(end + 1, filter);
        }
        self.next_match_by_subject(start, filter)
    }

    /// [`next_match`](Self::next_match) through the subject table.
    fn next_match_by_subject(&self, start: u64, filter: &[u8]) -> Option<u64> {
        let ids = self.subjects.matching(filter);
        let entries = ids.iter().map(|&id| self.subjects.get(id));
        if entries.clone().all(|e| e.first >= start || e.last < start) {
            return entries.filter(|e| e.first >= start).map(|e| e.first).min();
        }
        let end = entries.map(|e| e.last).max()?;
        let wanted: BTreeSet<u32> = ids.into_iter().collect();
        (start..=end).find(|&s| {
            self.get(s)
                .is_some_and(|slot| wanted.contains(&slot.subject))
        })
    }

    /// The last live sequence whose subject matches `filter`.
    pub fn last_match(&self, filter: &[u8]) -> Option<u64> {
        if self.msgs == 0 {
            return None;
        }
        if is_all(filter) {
            return (self.first..=self.last)
                .rev()
                .find(|&s| self.get(s).is_some());
        }
        self.subjects
            .matching(filter)
            .into_iter()
            .map(|id| self.subjects.get(id).last)
            .max()
    }

    pub fn subjects(&self, filter: &[u8]) -> BTreeMap<String, SubjectState> {
        self.subjects
            .matching(filter)
            .into_iter()
            .map(|id| {
                let entry = self.subjects.get(id);
                (
                    String::from_utf8_lossy(&entry.name).into_owned(),
                    entry.state(),
                )
            })
            .collect()
    }

    pub fn num_pending(&self, start: u64, filter: &[u8], last_per_subject: bool) -> u64 {
        if self.msgs == 0 || start > self.last {
            return 0;
        }
        let start = start.max(self.first);
        if last_per_subject {
            return self
                .subjects
                .matching(filter)
                .into_iter()
                .filter(|&id| self.subjects.get(id).last >= start)
                .count() as u64;
        }
        if is_all(filter) {
            if self.msgs == self.last + 1 - self.first {
                // No holes (the usual case): every sequence from `start` on is live.
                return self.last + 1 - start;
            }
            // Count the shorter side of `start`.
            let live = |range: std::ops::Range<u64>| {
                range.filter(|&s| self.get(s).is_some()).count() as u64
            };
            return if start - self.first < self.last + 1 - start {
                self.msgs - live(self.first..start)
            } else {
                live(start..self.last + 1)
            };
        }
        // A consumer asks after each delivery, near the end of a stream that may hold many
        // subjects (a KV bucket with one per key): walk the few sequences left when that is
        // cheaper than visiting every subject.
        if !is_literal(filter) && self.last + 1 - start <= self.subjects.len() as u64 {
            return (start..=self.last)
                .filter(|&s| {
                    self.get(s).is_some_and(|slot| {
                        natrium_wire::subject_matches(filter, self.subject_of(slot))
                    })
                })
                .count() as u64;
        }
        self.subjects
            .matching(filter)
            .into_iter()
            .map(|id| {
                let entry = self.subjects.get(id);
                if entry.first >= start {
                    entry.msgs
                } else if entry.last < start {
                    0
                } else {
                    // Walk the subject's chain up to `start`.
                    let mut before = 0;
                    let mut seq = entry.first;
                    while seq != 0 && seq < start {
                        let Some(slot) = self.slot(seq) else { break };
                        if slot.is_live() {
                            before += 1;
                        }
                        seq = self.chain_next(seq, slot.next, id);
                    }
                    entry.msgs - before
                }
            })
            .sum()
    }

    pub fn deleted(&self) -> Vec<u64> {
        if self.msgs == 0 {
            return Vec::new();
        }
        (self.first..=self.last)
            .filter(|&s| self.get(s).is_none())
            .collect()
    }
}
