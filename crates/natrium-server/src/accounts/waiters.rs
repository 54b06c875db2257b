//! Waiting for a listener: the server's own subscribers' owners (a push consumer whose deliver
//! subject nobody listens to yet) ask to be woken when a client subscribes to a subject that
//! reaches theirs, as nats-server's interest callbacks wake a push consumer, instead of
//! polling for it. async-nats subscribes to an ordered consumer's deliver subject right after
//! creating the consumer, so every object store get waits on this.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// A subject waited on and whom to wake.
type Waiter = (Box<[u8]>, Weak<Notify>);

/// One account's owners waiting for a listener, each woken once.
#[derive(Default)]
pub(crate) struct InterestWaiters {
    /// Whether `waiting` may be non-empty (a subscription then takes no lock).
    any: AtomicBool,
    waiting: Mutex<Vec<Waiter>>,
}

impl InterestWaiters {
    /// Wakes `wake` (once) when a subscription that matches `subject` is added.
    pub(crate) fn wait(&self, subject: &[u8], wake: Weak<Notify>) {
        let mut waiting = self.waiting.lock();
        waiting.retain(|(_, w)| w.strong_count() > 0);
        if !waiting
            .iter()
            .any(|(s, w)| **s == *subject && w.ptr_eq(&wake))
        {
            waiting.push((subject.into(), wake));
        }
        self.any.store(true, Ordering::Release);
    }

    /// A subscription to `filter` was added: wakes those waiting on a subject it matches.
    pub(crate) fn subscribed(&self, filter: &[u8]) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut woken: Vec<Arc<Notify>> = Vec::new();
        {
            let mut waiting = self.waiting.lock();
            waiting.retain(|(subject, wake)| {
                if !natrium_wire::subject_matches(filter, subject) {
                    return wake.strong_count() > 0;
                }
                woken.extend(wake.upgrade());
                false
            });
            self.any.store(!waiting.is_empty(), Ordering::Release);
        }
        for wake in woken {
            wake.notify_one();
        }
    }
}

impl std::fmt::Debug for InterestWaiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterestWaiters")
            .field("waiting", &self.waiting.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    fn woken(wake: &Notify) -> bool {
        wake.notified().now_or_never().is_some()
    }

    #[test]
    fn a_matching_subscription_wakes_once_and_others_do_not() {
        let waiters = InterestWaiters::default();
        let wake = Arc::new(Notify::new());
        waiters.wait(b"_INBOX.abc", Arc::downgrade(&wake));
        waiters.wait(b"_INBOX.abc", Arc::downgrade(&wake));
        waiters.subscribed(b"_INBOX.other");
        assert!(!woken(&wake));
        waiters.subscribed(b"_INBOX.*");
        assert!(woken(&wake));
        // Woken once: a later subscription finds nobody waiting.
        waiters.subscribed(b"_INBOX.abc");
        assert!(!woken(&wake));
        assert!(waiters.waiting.lock().is_empty());
    }

    #[test]
    fn a_gone_waiter_is_dropped() {
        let waiters = InterestWaiters::default();
        let wake = Arc::new(Notify::new());
        waiters.wait(b"a.b", Arc::downgrade(&wake));
        drop(wake);
        waiters.subscribed(b"x");
        assert!(waiters.waiting.lock().is_empty());
    }
}
