//! Which looked-up subjects are worth a place in the match cache.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Admits a subject to the cache only on its second miss within a short while.
///
/// A stream of one-off subjects (reply inboxes, per-entity subjects) would otherwise cost
/// an insert plus an eviction per lookup and push out results that are reused. This
/// remembers a hash per slot of recently missed subjects, lock-free; a collision merely
/// delays or grants one admission, it never affects a result.
#[derive(Debug)]
pub(crate) struct Doorkeeper {
    hasher: hashbrown::DefaultHashBuilder,
    seen: Box<[AtomicU64]>,
}

impl Doorkeeper {
    /// A doorkeeper sized for a cache of `capacity` results.
    pub(crate) fn new(capacity: usize) -> Self {
        let slots = capacity.saturating_mul(4).next_power_of_two().max(16);
        Self {
            hasher: hashbrown::DefaultHashBuilder::default(),
            seen: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether `subject`, which just missed the cache, should be cached now.
    #[inline]
    pub(crate) fn admit(&self, subject: &[u8]) -> bool {
        let hash = self.hasher.hash_one(subject);
        // The length is a power of two, so masking picks a slot.
        let slot = &self.seen[hash as usize & (self.seen.len() - 1)];
        if slot.load(Ordering::Relaxed) == hash {
            return true;
        }
        slot.store(hash, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_on_the_second_miss() {
        let doorkeeper = Doorkeeper::new(8);
        assert!(!doorkeeper.admit(b"a.b"));
        assert!(doorkeeper.admit(b"a.b"));
        assert!(!doorkeeper.admit(b"c.d"));
    }
}
