//! A bounded cache of match results, keyed by published subject.

use std::sync::Arc;

use natrium_wire::{SubjectKind, subject_matches};

use crate::SubjectMap;
use crate::matches::Matches;

/// Results taken out of the cache, for the caller to drop after releasing its lock:
/// freeing hundreds of results can take longer than every cache hit waiting on that lock.
pub(crate) type Evicted<T> = Vec<Arc<Matches<T>>>;

/// Cached results; the caller keeps it consistent with the trie by calling
/// [`Cache::invalidate`] for every inserted or removed subscription subject.
#[derive(Debug)]
pub(crate) struct Cache<T> {
    results: SubjectMap<Arc<Matches<T>>>,
    capacity: usize,
}

impl<T> Cache<T> {
    /// A cache holding at most `capacity` results.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            results: SubjectMap::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.results.len()
    }

    #[inline]
    pub(crate) fn get(&self, subject: &[u8]) -> Option<&Arc<Matches<T>>> {
        self.results.get(subject)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Matches<T>>> {
        self.results.values()
    }

    /// Stores a result, first dropping a quarter of the entries when full.
    ///
    /// Dropping a batch (in the map's arbitrary order) rather than one entry keeps the
    /// amortised cost of eviction low when many distinct subjects stream past.
    pub(crate) fn insert(&mut self, subject: &[u8], result: Arc<Matches<T>>) -> Evicted<T> {
        let evicted = self.make_room_for(subject);
        self.results.insert(subject.to_vec(), result);
        evicted
    }

    fn make_room_for(&mut self, subject: &[u8]) -> Evicted<T> {
        if self.results.len() < self.capacity || self.results.contains_key(subject) {
            return Vec::new();
        }
        let batch = (self.capacity / 4).max(1);
        self.results
            .extract_if(|_, _| true)
            .take(batch)
            .map(|(_, result)| result)
            .collect()
    }

    /// Forgets every result that a change of subscriptions on `filter` could alter.
    ///
    /// A literal filter matches only the identical subject: one lookup. A wildcard filter
    /// is tested against every cached subject.
    pub(crate) fn invalidate(&mut self, filter: &[u8], kind: SubjectKind) -> Evicted<T> {
        match kind {
            SubjectKind::Literal => self.results.remove(filter).into_iter().collect(),
            SubjectKind::Wildcard => self
                .results
                .extract_if(|subject, _| subject_matches(filter, subject))
                .map(|(_, result)| result)
                .collect(),
        }
    }
}
