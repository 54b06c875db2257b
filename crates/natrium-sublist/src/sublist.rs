//! The thread-safe subject index with its match cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use natrium_wire::{SubjectKind, check_subscribe_subject, is_routable_subject};
use parking_lot::RwLock;

use crate::admission::Doorkeeper;
use crate::cache::{Cache, Evicted};
use crate::error::{InvalidSubject, InvalidSubjectReason};
use crate::matches::Matches;
use crate::stats::SublistStats;
use crate::trie::Node;

/// How many match results the cache keeps by default (as nats-server).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// The subject index: which subscriptions does a published subject reach?
///
/// Share it as `Arc<Sublist<T>>`; every method takes `&self`. `T` identifies a
/// subscription (for example a connection id and subscription id); it is cloned into
/// match results, so keep it cheap to clone.
///
/// Lookups are answered from a bounded cache of shared results under a read lock; a miss
/// walks the trie under a read lock, and a subject's result is cached from its second miss
/// on, so one-off subjects do not churn the cache. Inserting or removing takes the write
/// lock and drops exactly the cached results the change could alter, so a result is never
/// stale. For the hottest path, publishers can put a [`LocalMatchCache`] in front.
///
/// [`LocalMatchCache`]: crate::LocalMatchCache
#[derive(Debug)]
pub struct Sublist<T> {
    /// Lock order: `trie` before `cache`, always.
    trie: RwLock<Trie<T>>,
    /// `None` when caching is disabled.
    cache: Option<RwLock<Cache<T>>>,
    /// Keeps one-off subjects out of the cache.
    doorkeeper: Doorkeeper,
    /// Bumped after every change, for callers keeping their own result caches.
    generation: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    /// Shared answer for subjects that cannot match anything.
    empty: Arc<Matches<T>>,
}

#[derive(Debug)]
struct Trie<T> {
    root: Node<T>,
    count: usize,
    inserts: u64,
    removes: u64,
}

impl<T: Clone + PartialEq + Send + Sync> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq + Send + Sync> Sublist<T> {
    /// An empty index with a cache of [`DEFAULT_CACHE_CAPACITY`] results.
    pub fn new() -> Self {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty index caching at most `capacity` results; `0` disables the cache.
    pub fn with_cache_capacity(capacity: usize) -> Self {
        Self {
            trie: RwLock::new(Trie {
                root: Node::default(),
                count: 0,
                inserts: 0,
                removes: 0,
            }),
            cache: (capacity > 0).then(|| RwLock::new(Cache::new(capacity))),
            doorkeeper: Doorkeeper::new(capacity),
            generation: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            empty: Arc::new(Matches::empty()),
        }
    }

    /// Subscribes `sub` to `subject` (wildcards allowed), optionally in queue group `queue`.
    ///
    /// The same value may be inserted under several subjects, or twice under one; each
    /// insertion is a separate entry that [`Sublist::remove`] takes away one at a time.
    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sub: T,
    ) -> Result<(), InvalidSubject> {
        let kind = check_subscribe_subject(subject)
            .map_err(|e| InvalidSubject::new(subject, InvalidSubjectReason::from(e)))?;
        if queue.is_some_and(<[u8]>::is_empty) {
            return Err(InvalidSubject::new(
                subject,
                InvalidSubjectReason::EmptyQueueName,
            ));
        }
        let mut trie = self.trie.write();
        trie.root.insert(subject, queue, sub);
        trie.count += 1;
        trie.inserts += 1;
        let stale = self.invalidate(subject, kind);
        drop(trie);
        drop(stale);
        Ok(())
    }

    /// Removes one entry equal to `sub` inserted under `subject` and `queue`.
    ///
    /// Returns whether such an entry existed.
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, sub: &T) -> bool {
        let Ok(kind) = check_subscribe_subject(subject) else {
            return false;
        };
        let mut trie = self.trie.write();
        if !trie.root.remove(subject, queue, sub) {
            return false;
        }
        trie.count -= 1;
        trie.removes += 1;
        let stale = self.invalidate(subject, kind);
        drop(trie);
        drop(stale);
        true
    }

    /// Drops cached results a change on `filter` could alter and bumps the generation.
    /// Called with the trie write-locked, so no lookup can cache an older answer meanwhile.
    fn invalidate(&self, filter: &[u8], kind: SubjectKind) -> Evicted<T> {
        let stale = match &self.cache {
            Some(cache) => cache.write().invalidate(filter, kind),
            None => Vec::new(),
        };
        self.generation.fetch_add(1, Ordering::Release);
        stale
    }

    /// Who receives a message published on the literal `subject`.
    ///
    /// An empty subject or one with empty tokens matches nothing. Tokens are compared
    /// literally, so `*` or `>` in a published subject are ordinary tokens.
    pub fn matches(&self, subject: &[u8]) -> Arc<Matches<T>> {
        if let Some(cache) = &self.cache
            && let Some(hit) = cache.read().get(subject)
        {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(hit);
        }
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        if !is_routable_subject(subject) {
            return Arc::clone(&self.empty);
        }
        // Hold the read lock until the result is cached, so no change can slip in between
        // computing it and storing it.
        let trie = self.trie.read();
        let mut result = Matches::empty();
        trie.root.collect(subject, &mut result);
        let result = Arc::new(result);
        let evicted = match &self.cache {
            Some(cache) if self.doorkeeper.admit(subject) => {
                cache.write().insert(subject, Arc::clone(&result))
            }
            _ => Vec::new(),
        };
        drop(trie);
        drop(evicted);
        result
    }

    /// The number of subscriptions (entries) in the index.
    pub fn count(&self) -> usize {
        self.trie.read().count
    }

    /// A counter that changes after every successful insert or remove.
    ///
    /// Callers keeping their own per-connection result cache may reuse a result for as long
    /// as the generation is unchanged, provided they read the generation *before* calling
    /// [`Sublist::matches`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A snapshot of the counters, as nats-server's `/subsz` reports them.
    pub fn stats(&self) -> SublistStats {
        let (num_subscriptions, num_inserts, num_removes) = {
            let trie = self.trie.read();
            (trie.count, trie.inserts, trie.removes)
        };
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let num_matches = hits + self.cache_misses.load(Ordering::Relaxed);
        let mut stats = SublistStats {
            num_subscriptions: saturating_u32(num_subscriptions),
            num_inserts,
            num_removes,
            num_matches,
            cache_hit_rate: if num_matches > 0 {
                hits as f64 / num_matches as f64
            } else {
                0.0
            },
            ..SublistStats::default()
        };
        if let Some(cache) = &self.cache {
            let cache = cache.read();
            let (mut total, mut max) = (0usize, 0usize);
            for result in cache.values() {
                total += result.fanout();
                max = max.max(result.fanout());
            }
            stats.num_cache = saturating_u32(cache.len());
            stats.max_fanout = saturating_u32(max);
            if cache.len() > 0 {
                stats.avg_fanout = total as f64 / cache.len() as f64;
            }
        }
        stats
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "sublist_tests.rs"]
mod tests;
