//! Bytes stored over every stream, per storage type, kept as running totals so the publish
//! path can refuse a message once the server's `max_file_store` / `max_memory_store` is used
//! up, as nats-server does before it stores anything.
//!
//! Each stream reports the change of its own byte count after whatever changed it (see
//! `Stream::recount`), so the totals cost two atomic operations per message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::errors::ApiError;
use super::types::StorageType;

/// How often the server logs that a limit refuses messages (nats-server's throttle).
const ALERT_EVERY: Duration = Duration::from_secs(10);

/// The server's stored bytes and its limits.
#[derive(Debug)]
pub(crate) struct Usage {
    memory: AtomicU64,
    store: AtomicU64,
    max_memory: u64,
    max_store: u64,
    last_alert: Mutex<Option<Instant>>,
}

impl Usage {
    /// Empty totals under the server's limits (bytes; negative limits mean none).
    pub(crate) fn new(max_memory: i64, max_store: i64) -> Usage {
        let limit = |n: i64| u64::try_from(n).unwrap_or(u64::MAX);
        Usage {
            memory: AtomicU64::new(0),
            store: AtomicU64::new(0),
            max_memory: limit(max_memory),
            max_store: limit(max_store),
            last_alert: Mutex::new(None),
        }
    }

    fn total(&self, storage: StorageType) -> &AtomicU64 {
        match storage {
            StorageType::Memory => &self.memory,
            StorageType::File => &self.store,
        }
    }

    /// A stream of `storage` went from `before` to `after` bytes.
    pub(crate) fn changed(&self, storage: StorageType, before: u64, after: u64) {
        let total = self.total(storage);
        if after >= before {
            total.fetch_add(after - before, Ordering::Relaxed);
        } else {
            total.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Bytes stored in memory and in files.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.memory.load(Ordering::Relaxed),
            self.store.load(Ordering::Relaxed),
        )
    }

    /// The error for a message to a `storage` stream when the server is already past its
    /// limit for that storage ("insufficient resources"), logged at most every 10 s.
    pub(crate) fn refuse(&self, storage: StorageType) -> Option<ApiError> {
        let max = match storage {
            StorageType::Memory => self.max_memory,
            StorageType::File => self.max_store,
        };
        if self.total(storage).load(Ordering::Relaxed) <= max {
            return None;
        }
        let mut last = self.last_alert.lock();
        if last.is_none_or(|at| at.elapsed() > ALERT_EVERY) {
            let kind = match storage {
                StorageType::Memory => "memory",
                StorageType::File => "file",
            };
            tracing::error!("JetStream {kind} resource limits exceeded for server");
            *last = Some(Instant::now());
        }
        Some(ApiError::insufficient_resources())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_only_once_the_total_is_past_the_limit() {
        let usage = Usage::new(100, 1_000);
        usage.changed(StorageType::File, 0, 1_000);
        assert!(usage.refuse(StorageType::File).is_none(), "at the limit");
        usage.changed(StorageType::File, 0, 1);
        let refused = usage.refuse(StorageType::File).expect("past the limit");
        assert_eq!(refused.err_code, 10023);
        assert!(usage.refuse(StorageType::Memory).is_none(), "per storage");
        usage.changed(StorageType::File, 1_001, 10);
        assert!(usage.refuse(StorageType::File).is_none(), "freed");
        assert_eq!(usage.totals(), (0, 10));
        assert!(Usage::new(-1, -1).refuse(StorageType::File).is_none());
    }
}
