//! The values that cross the store's API: limits, messages, state, purge requests.

use std::time::Duration;

use bytes::Bytes;

/// What a full stream does with a new message (nats-server's `discard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discard {
    /// Remove the oldest messages to make room (the default).
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// The stream's limits; the store enforces them on every `store()` and on `set_limits()`.
///
/// A message's size, for `max_bytes` and [`StoreState::bytes`], follows nats-server so that
/// STREAM.INFO reports the same numbers: the memory store counts
/// `subject + headers + payload + 16`, the file store `22 + subject + payload + 8`, plus
/// `4 + headers` when the message has headers (observed on nats-server 2.15.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLimits {
    /// Maximum number of messages; -1 or 0 is unlimited.
    pub max_msgs: i64,
    /// Maximum total size of messages; -1 or 0 is unlimited.
    pub max_bytes: i64,
    /// Maximum age of a message; zero is unlimited. Enforced by `expire()`.
    pub max_age: Duration,
    /// Maximum messages per subject; -1 or 0 is unlimited.
    pub max_msgs_per_subject: i64,
    /// What to do when `max_msgs` or `max_bytes` is reached.
    pub discard: Discard,
    /// With [`Discard::New`], refuse a message whose subject is at `max_msgs_per_subject`
    /// instead of removing that subject's oldest message.
    pub discard_new_per_subject: bool,
}

impl Default for StoreLimits {
    /// No limits, discard old (nats-server's defaults).
    fn default() -> Self {
        StoreLimits {
            max_msgs: -1,
            max_bytes: -1,
            max_age: Duration::ZERO,
            max_msgs_per_subject: -1,
            discard: Discard::Old,
            discard_new_per_subject: false,
        }
    }
}

impl StoreLimits {
    pub(crate) fn max_msgs(&self) -> Option<u64> {
        positive(self.max_msgs)
    }

    pub(crate) fn max_bytes(&self) -> Option<u64> {
        positive(self.max_bytes)
    }

    pub(crate) fn max_per_subject(&self) -> Option<u64> {
        positive(self.max_msgs_per_subject)
    }
}

fn positive(limit: i64) -> Option<u64> {
    u64::try_from(limit).ok().filter(|&n| n > 0)
}

/// One stored message as loaded back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its stream sequence (from 1).
    pub seq: u64,
    /// The subject it was published on.
    pub subject: Bytes,
    /// The header block as the client sent it (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
    /// When it was stored, unix nanoseconds.
    pub time: i64,
}

/// The stream's state as STREAM.INFO reports it.
///
/// A new store has `first_seq == last_seq == 0`. When every message is gone (purge, limits,
/// removal), `first_seq == last_seq + 1` and `last_seq`/`last_time` keep the last message's,
/// as nats-server reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreState {
    /// Messages stored.
    pub msgs: u64,
    /// Their total size (see [`StoreLimits`] for the rule).
    pub bytes: u64,
    /// The first stored sequence.
    pub first_seq: u64,
    /// Its time, unix nanoseconds; 0 when empty.
    pub first_time: i64,
    /// The last sequence ever assigned (it survives removal of that message).
    pub last_seq: u64,
    /// The time of the last message stored; 0 when none ever was.
    pub last_time: i64,
    /// Sequences between `first_seq` and `last_seq` that no longer hold a message.
    pub num_deleted: u64,
    /// Distinct subjects with at least one message.
    pub num_subjects: u64,
}

/// One subject's share of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubjectState {
    /// Messages on this subject.
    pub msgs: u64,
    /// The first of them.
    pub first_seq: u64,
    /// The last of them.
    pub last_seq: u64,
}

/// A purge as STREAM.PURGE asks for it. Every field empty purges everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeRequest {
    /// Only messages whose subject matches this filter (`None`, `""` or `">"`: all).
    pub filter: Option<String>,
    /// Remove (matching) messages with a sequence below this one. Without a filter and past
    /// the last sequence, the stream then continues at this sequence (nats-server's compact).
    pub seq: Option<u64>,
    /// Keep this many of the newest matching messages (counted over all matching subjects
    /// together, as nats-server 2.15 does).
    pub keep: Option<u64>,
}
