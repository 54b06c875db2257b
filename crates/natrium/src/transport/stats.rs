//! Per-subscription counters, updated by the runner and read by observability.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one subscription.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionStats {
    received: AtomicU64,
    handled: AtomicU64,
    errors: AtomicU64,
    decode_errors: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    in_flight: AtomicU64,
    processing_nanos: AtomicU64,
    acks: AtomicU64,
    naks: AtomicU64,
    terms: AtomicU64,
    progress: AtomicU64,
    redeliveries: AtomicU64,
}

/// A copy of a subscription's counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Messages taken from the subscription.
    pub received: u64,
    /// Messages whose handler finished successfully.
    pub handled: u64,
    /// Failed attempts because the handler returned an error.
    pub errors: u64,
    /// Failed attempts because the payload could not be decoded.
    pub decode_errors: u64,
    /// Failed attempts because the handler panicked.
    pub panics: u64,
    /// Failed attempts because the handler timed out.
    pub timeouts: u64,
    /// Retries made.
    pub retries: u64,
    /// Messages published to the dead-letter subject.
    pub dead_lettered: u64,
    /// Messages being processed now.
    pub in_flight: u64,
    /// Total processing time (all attempts and backoff) of finished messages.
    pub processing_time: Duration,
    /// Durable routes: messages acknowledged (`+ACK`).
    pub acks: u64,
    /// Durable routes: messages negatively acknowledged (`-NAK`), to be redelivered.
    pub naks: u64,
    /// Durable routes: messages terminated (`+TERM`), never redelivered.
    pub terms: u64,
    /// Durable routes: `+WPI` (work in progress) signals sent for slow handlers.
    pub progress: u64,
    /// Durable routes: deliveries that were redeliveries.
    pub redeliveries: u64,
}

impl SubscriptionStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            received: get(&self.received),
            handled: get(&self.handled),
            errors: get(&self.errors),
            decode_errors: get(&self.decode_errors),
            panics: get(&self.panics),
            timeouts: get(&self.timeouts),
            retries: get(&self.retries),
            dead_lettered: get(&self.dead_lettered),
            in_flight: get(&self.in_flight),
            processing_time: Duration::from_nanos(get(&self.processing_nanos)),
            acks: get(&self.acks),
            naks: get(&self.naks),
            terms: get(&self.terms),
            progress: get(&self.progress),
            redeliveries: get(&self.redeliveries),
        }
    }

    /// Adds `n` to `counter`. `exclusive`: the caller is the counter's only writer (a
    /// runner handling one message at a time), so a plain load and store does the work of
    /// a locked read-modify-write at a fraction of its cost.
    pub(crate) fn add(counter: &AtomicU64, n: u64, exclusive: bool) {
        if exclusive {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn received(&self) -> &AtomicU64 {
        &self.received
    }
    pub(crate) fn handled(&self) -> &AtomicU64 {
        &self.handled
    }
    pub(crate) fn errors(&self) -> &AtomicU64 {
        &self.errors
    }
    pub(crate) fn decode_errors(&self) -> &AtomicU64 {
        &self.decode_errors
    }
    pub(crate) fn panics(&self) -> &AtomicU64 {
        &self.panics
    }
    pub(crate) fn timeouts(&self) -> &AtomicU64 {
        &self.timeouts
    }
    pub(crate) fn retries(&self) -> &AtomicU64 {
        &self.retries
    }
    pub(crate) fn dead_lettered(&self) -> &AtomicU64 {
        &self.dead_lettered
    }
    pub(crate) fn acks(&self) -> &AtomicU64 {
        &self.acks
    }
    pub(crate) fn naks(&self) -> &AtomicU64 {
        &self.naks
    }
    pub(crate) fn terms(&self) -> &AtomicU64 {
        &self.terms
    }
    pub(crate) fn progress(&self) -> &AtomicU64 {
        &self.progress
    }
    pub(crate) fn redeliveries(&self) -> &AtomicU64 {
        &self.redeliveries
    }

    /// A message starts processing.
    pub(crate) fn start(&self, exclusive: bool) {
        Self::add(&self.in_flight, 1, exclusive);
    }

    /// A message finished processing.
    pub(crate) fn finish(&self, exclusive: bool) {
        Self::add(&self.in_flight, u64::MAX, exclusive); // wrapping: minus one
    }

    /// Adds processing time.
    pub(crate) fn add_time(&self, took: Duration, exclusive: bool) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        Self::add(&self.processing_nanos, nanos, exclusive);
    }
}
