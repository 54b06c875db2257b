//! The trait every store implements; the server holds one `Box<dyn MessageStore>` per stream.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{PurgeRequest, StoreError, StoreLimits, StoreState, StoredMessage, SubjectState};

/// A stream's messages. Sequences start at 1; 0 means "none". Times are unix nanoseconds.
///
/// Filters are NATS subjects with `*`/`>` wildcards; `""` and `">"` mean every subject.
pub trait MessageStore: Send {
    /// Appends a message and returns its sequence. Buffered in the file store (no syscall per
    /// message; see [`flush`](Self::flush)). Enforces the limits: with [`Discard::Old`]
    /// the oldest messages (per subject for `max_msgs_per_subject`) are removed, with
    /// [`Discard::New`] the message is refused with [`StoreError::MaxMessages`],
    /// [`StoreError::MaxBytes`] or [`StoreError::MaxMsgsPerSubject`]. `ttl` is the message's
    /// own expiry, applied by [`expire`](Self::expire) like `max_age`.
    ///
    /// [`Discard::Old`]: crate::Discard::Old
    /// [`Discard::New`]: crate::Discard::New
    fn store(
        &mut self,
        subject: &[u8],
        headers: Option<&[u8]>,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError>;

    /// Hands every buffered record to the OS in one write and fsyncs when the sync policy is
    /// `Always`. Once it returns `Ok`, the messages survive a kill -9 of the process. The
    /// server calls it once per read batch, before it sends the acks.
    fn flush(&mut self) -> Result<(), StoreError>;

    /// Flushes and fsyncs everything written (on the sync interval and at shutdown).
    fn sync(&mut self) -> Result<(), StoreError>;

    /// The last write failure, while writes still fail (what nats-server's health check
    /// calls the stream's write error). A store that fails a write goes back to what its
    /// files hold, so later writes may succeed again (after disk space is freed); the first
    /// one that does clears this.
    fn write_error(&self) -> Option<String> {
        None
    }

    /// The message with this sequence, if it is stored.
    fn load(&mut self, seq: u64) -> Result<Option<StoredMessage>, StoreError>;

    /// The first message with a sequence `>= start` whose subject matches `filter`.
    fn load_next(&mut self, start: u64, filter: &[u8])
    -> Result<Option<StoredMessage>, StoreError>;

    /// The last message whose subject matches `filter`.
    fn load_last(&mut self, filter: &[u8]) -> Result<Option<StoredMessage>, StoreError>;

    /// Removes one message; `erase` also overwrites its bytes on disk. `Ok(false)` if it was
    /// not stored.
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError>;

    /// nats-server's purge, compact and purge-with-filter; returns how many messages went.
    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError>;

    /// Removes the messages older than `max_age` or past their TTL at `now`; returns how many.
    fn expire(&mut self, now: i64) -> Result<u64, StoreError>;

    /// Replaces the limits (stream update) and enforces them at once (discard-old style:
    /// messages over the new limits are removed whatever `discard` says).
    fn set_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError>;

    /// The stream's state.
    fn state(&self) -> StoreState;

    /// Bytes stored, as [`StoreState::bytes`] counts them, without the rest of the state
    /// (the publish path asks after every message).
    fn bytes(&self) -> u64;

    /// The bytes a message of these sizes takes in this store, as [`Self::bytes`] counts
    /// them (account limits are checked with it before the message is stored).
    fn message_size(&self, subject: usize, headers: Option<usize>, payload: usize) -> u64;

    /// Per-subject state of every subject matching `filter` (STREAM.INFO `subjects_filter`).
    fn subjects(&self, filter: &[u8]) -> BTreeMap<String, SubjectState>;

    /// How many messages with a sequence `>= start` match `filter`; with `last_per_subject`,
    /// only the last message of each subject counts (and only if it is `>= start`).
    fn num_pending(&mut self, start: u64, filter: &[u8], last_per_subject: bool) -> u64;

    /// The sequences between `first_seq` and `last_seq` that hold no message
    /// (STREAM.INFO `deleted_details`), ascending.
    fn deleted(&self) -> Vec<u64>;

    /// Deletes the store and its files (stream delete).
    fn destroy(self: Box<Self>) -> Result<(), StoreError>;
}
