//! Counters the services expose on `GET /v1/stats`, so a reader can see what core NATS'
//! at-most-once delivery did: what the report service published versus what savers saved.

use std::sync::atomic::{AtomicU64, Ordering};

/// The report service's counters.
#[derive(Debug, Default)]
pub struct ReportStats {
    /// Reports the NATS server accepted (published and flushed).
    pub published: AtomicU64,
    /// Requests refused with 400 (bad JSON, missing or empty fields).
    pub rejected: AtomicU64,
    /// Requests answered 503 because NATS was unreachable.
    pub unavailable: AtomicU64,
    /// JetStream mode: reports whose message id the stream had already stored (a client
    /// retry with the same `Idempotency-Key`); answered 200, stored once.
    pub duplicates: AtomicU64,
}

/// The saver's counters.
#[derive(Debug, Default)]
pub struct SaverStats {
    /// Messages handed to a save handler.
    pub received: AtomicU64,
    /// Messages committed to the database.
    pub saved: AtomicU64,
    /// Messages that could not be decoded or saved (logged, then dropped).
    pub failed: AtomicU64,
}

/// A point-in-time copy of [`ReportStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReportSnapshot {
    /// See [`ReportStats::published`].
    pub published: u64,
    /// See [`ReportStats::rejected`].
    pub rejected: u64,
    /// See [`ReportStats::unavailable`].
    pub unavailable: u64,
    /// See [`ReportStats::duplicates`].
    pub duplicates: u64,
}

/// A point-in-time copy of [`SaverStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SaverSnapshot {
    /// See [`SaverStats::received`].
    pub received: u64,
    /// See [`SaverStats::saved`].
    pub saved: u64,
    /// See [`SaverStats::failed`].
    pub failed: u64,
}

impl ReportStats {
    /// Reads the counters.
    pub fn snapshot(&self) -> ReportSnapshot {
        ReportSnapshot {
            published: self.published.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
        }
    }
}

impl SaverStats {
    /// Reads the counters.
    pub fn snapshot(&self) -> SaverSnapshot {
        SaverSnapshot {
            received: self.received.load(Ordering::Relaxed),
            saved: self.saved.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
