//! The memory store: the shared index with each message's bytes in its slot.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use crate::index::Index;
use crate::{
    MessageStore, PurgeRequest, StoreError, StoreLimits, StoreState, StoredMessage, SubjectState,
};

/// nats-server's `memStoreMsgSize`.
fn memory_size(subject: usize, headers: Option<usize>, payload: usize) -> u64 {
    (subject + headers.unwrap_or(0) + payload + 16) as u64
}

/// A message's bytes; the subject lives once in the subject table.
#[derive(Debug, Default)]
struct Body {
    headers: Option<Bytes>,
    payload: Bytes,
    time: i64,
}

/// A stream kept in memory (`storage: memory`).
#[derive(Debug)]
pub struct MemoryStore {
    index: Index<Body>,
}

impl MemoryStore {
    /// An empty store with these limits.
    pub fn new(limits: StoreLimits) -> Self {
        MemoryStore {
            index: Index::new(limits, memory_size),
        }
    }

    fn message(&self, seq: u64) -> Option<StoredMessage> {
        let slot = self.index.get(seq)?;
        Some(StoredMessage {
            seq,
            subject: Bytes::copy_from_slice(self.index.subject_of(slot)),
            headers: slot.meta.headers.clone(),
            payload: slot.meta.payload.clone(),
            time: slot.meta.time,
        })
    }
}

impl MessageStore for MemoryStore {
    fn store(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError> {
        let size = self
            .index
            .size_of(subject.len(), headers.map(<[u8]>::len), payload.len());
        self.index.check_new(subject, size)?;
        let seq = self.index.last_seq() + 1;
        let body = Body {
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
            time,
        };
        self.index.append(
            seq,
            subject,
            size,
            time,
            ttl.map(|ttl| deadline(time, ttl)),
            body,
        );
        self.index.enforce_after_store(subject);
        self.index.removed.clear();
        Ok(seq)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn load(&mut self, seq: u64) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self.message(seq))
    }

    fn load_next(
        &mut self,
        start: u64,
        filter: &[u8],
    ) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self
            .index
            .next_match(start, filter)
            .and_then(|seq| self.message(seq)))
    }

    fn load_last(&mut self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self
            .index
            .last_match(filter)
            .and_then(|seq| self.message(seq)))
    }

    fn remove(&mut self, seq: u64, _erase: bool) -> Result<bool, StoreError> {
        let removed = self.index.remove(seq).is_some();
        self.index.removed.clear();
        Ok(removed)
    }

    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        let purged = self.index.purge(req);
        self.index.removed.clear();
        purged
    }

    fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        let expired = self.index.expire(now, |_, body| Ok(body.time));
        self.index.removed.clear();
        expired
    }

    fn set_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError> {
        self.index.limits = limits;
        self.index.enforce_all();
        self.index.removed.clear();
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.index.bytes()
    }

    fn message_size(&self, subject: usize, headers: Option<usize>, payload: usize) -> u64 {
        memory_size(subject, headers, payload)
    }

    fn state(&self) -> StoreState {
        let mut state = self.index.state();
        state.first_time = self.index.front().map_or(0, |(_, body)| body.time);
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

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// When a message stored at `time` with `ttl` expires.
pub(crate) fn deadline(time: i64, ttl: Duration) -> i64 {
    time.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX))
}
