//! Bytes stored over every stream, per storage type, kept as running totals so the publish
//! path can refuse a message before it stores anything, as nats-server does: once the
//! server's `max_file_store` / `max_memory_store` is used up, or when the message would take
//! its account past the account's limit.
//!
//! Each stream reports the change of its own byte count after whatever changed it (see
//! `Stream::recount`) to its account's usage, which adds it to the server's, so the totals
//! cost a few atomic operations per message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::errors::ApiError;
use super::types::StorageType;

/// How often the server logs that a limit refuses messages (nats-server's throttle).
const ALERT_EVERY: Duration = Duration::from_secs(10);

/// Stored bytes and their limits: the server's, or one account's (which adds to the
/// server's).
#[derive(Debug)]
pub(crate) struct Usage {
    memory: AtomicU64,
    store: AtomicU64,
    max_memory: AtomicU64,
    max_store: AtomicU64,
    /// The server's usage, when this is an account's.
    server: Option<Arc<Usage>>,
    last_alert: Mutex<Option<Instant>>,
}

/// A limit in bytes as the totals compare it: negative means none.
fn limit(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Usage {
    /// Empty totals under the server's limits (bytes; negative limits mean none).
    pub(crate) fn new(max_memory: i64, max_store: i64) -> Usage {
        Usage {
            memory: AtomicU64::new(0),
            store: AtomicU64::new(0),
            max_memory: AtomicU64::new(limit(max_memory)),
            max_store: AtomicU64::new(limit(max_store)),
            server: None,
            last_alert: Mutex::new(None),
        }
    }

    /// Empty totals of one account under its limits, added to `server`'s.
    pub(crate) fn account(server: Arc<Usage>, max_memory: i64, max_store: i64) -> Usage {
        Usage {
            server: Some(server),
            ..Usage::new(max_memory, max_store)
        }
    }

    /// New limits (an account's, after a reload).
    pub(crate) fn set_limits(&self, max_memory: i64, max_store: i64) {
        self.max_memory.store(limit(max_memory), Ordering::Relaxed);
        self.max_store.store(limit(max_store), Ordering::Relaxed);
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
        if let Some(server) = &self.server {
            server.changed(storage, before, after);
        }
    }

    /// Bytes stored in memory and in files.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.memory.load(Ordering::Relaxed),
            self.store.load(Ordering::Relaxed),
        )
    }

    fn max(&self, storage: StorageType) -> u64 {
        match storage {
            StorageType::Memory => self.max_memory.load(Ordering::Relaxed),
            StorageType::File => self.max_store.load(Ordering::Relaxed),
        }
    }

    /// The error for a message of `size` stored bytes to a `storage` stream: when it would
    /// take the account past its limit ("resource limits exceeded for account"), or when
    /// the server is already past its own ("insufficient resources", logged at most every
    /// 10 s).
    pub(crate) fn refuse(&self, storage: StorageType, size: u64) -> Option<ApiError> {
        if let Some(server) = &self.server {
            let total = self.total(storage).load(Ordering::Relaxed);
            if total.saturating_add(size) > self.max(storage) {
                return Some(ApiError::account_resources_exceeded());
            }
            return server.refuse(storage, size);
        }
        if self.total(storage).load(Ordering::Relaxed) <= self.max(storage) {
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
        assert!(
            usage.refuse(StorageType::File, 50).is_none(),
            "at the limit"
        );
        usage.changed(StorageType::File, 0, 1);
        let refused = usage.refuse(StorageType::File, 50).expect("past the limit");
        assert_eq!(refused.err_code, 10023);
        assert!(
            usage.refuse(StorageType::Memory, 50).is_none(),
            "per storage"
        );
        usage.changed(StorageType::File, 1_001, 10);
        assert!(usage.refuse(StorageType::File, 50).is_none(), "freed");
        assert_eq!(usage.totals(), (0, 10));
        assert!(Usage::new(-1, -1).refuse(StorageType::File, 50).is_none());
    }

    #[test]
    fn an_account_refuses_a_message_that_would_pass_its_limit_and_adds_to_the_server() {
        let server = Arc::new(Usage::new(-1, 10_000));
        let account = Usage::account(server.clone(), -1, 1_000);
        account.changed(StorageType::File, 0, 900);
        assert_eq!(server.totals(), (0, 900), "added to the server's totals");
        assert!(
            account.refuse(StorageType::File, 100).is_none(),
            "up to the limit"
        );
        let refused = account
            .refuse(StorageType::File, 101)
            .expect("would pass it");
        assert_eq!(refused.err_code, 10002);
        account.set_limits(-1, 2_000);
        assert!(
            account.refuse(StorageType::File, 101).is_none(),
            "new limits apply"
        );
        server.changed(StorageType::File, 0, 10_000);
        let refused = account
            .refuse(StorageType::File, 1)
            .expect("server past its limit");
        assert_eq!(refused.err_code, 10023);
    }
}
