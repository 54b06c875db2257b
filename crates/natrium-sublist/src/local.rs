//! A lock-free, per-connection cache of match results in front of a shared [`Sublist`].

use std::sync::Arc;

use hashbrown::hash_map::EntryRef;

use crate::SubjectMap;
use crate::admission::Doorkeeper;
use crate::matches::Matches;
use crate::sublist::Sublist;

/// How many results a [`LocalMatchCache`] keeps by default.
pub const DEFAULT_LOCAL_CACHE_CAPACITY: usize = 128;

/// Match results remembered by one publisher (for example one client connection).
///
/// A hit costs one atomic load (the index's generation) and one hash lookup: no lock and no
/// reference-count traffic on results other threads share. Any change to the index empties
/// this cache on its next use, so it never returns a stale result; the shared cache inside
/// the [`Sublist`] then answers until this one is warm again. Like the shared cache, it
/// keeps a subject from its second miss on, so one-off subjects (replies) do not churn it.
#[derive(Debug)]
pub struct LocalMatchCache<T> {
    generation: u64,
    results: SubjectMap<Arc<Matches<T>>>,
    capacity: usize,
    doorkeeper: Doorkeeper,
    /// The latest result not admitted to `results`, held so it can be lent out.
    uncached: Option<Arc<Matches<T>>>,
}

impl<T> Default for LocalMatchCache<T> {
    fn default() -> Self {
        Self::new(DEFAULT_LOCAL_CACHE_CAPACITY)
    }
}

impl<T> LocalMatchCache<T> {
    /// A cache holding at most `capacity` results (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            generation: 0,
            results: SubjectMap::with_capacity(capacity),
            capacity,
            doorkeeper: Doorkeeper::new(capacity),
            uncached: None,
        }
    }

    /// Who receives a message published on `subject`, answered from this cache when the
    /// index has not changed since the result was stored.
    pub fn matches(&mut self, index: &Sublist<T>, subject: &[u8]) -> &Arc<Matches<T>>
    where
        T: Clone + PartialEq + Send + Sync,
    {
        // Read the generation before looking up, so a change racing with the lookup leaves
        // a result tagged with the older generation, which the next call discards.
        let generation = index.generation();
        if generation != self.generation {
            self.results.clear();
            self.generation = generation;
        }
        if self.results.len() >= self.capacity {
            // Checked before the lookup so a hit needs one probe; the rare batch dropped
            // just before a hit costs that hit a trip to the shared index.
            let mut batch = (self.capacity / 4).max(1);
            self.results.retain(|_, _| {
                if batch == 0 {
                    return true;
                }
                batch -= 1;
                false
            });
        }
        match self.results.entry_ref(subject) {
            EntryRef::Occupied(hit) => hit.into_mut(),
            EntryRef::Vacant(slot) => {
                let result = index.matches(subject);
                if self.doorkeeper.admit(subject) {
                    slot.insert(result)
                } else {
                    self.uncached.insert(result)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_return_the_same_result_until_the_index_changes() {
        let index = Sublist::new();
        index.insert(b"a.*", None, 1).unwrap();
        let mut local = LocalMatchCache::default();
        assert_eq!(local.matches(&index, b"a.b").plain, [1]);
        assert!(local.results.is_empty(), "kept from the second miss on");
        let first = Arc::clone(local.matches(&index, b"a.b"));
        assert_eq!(first.plain, [1]);
        assert!(Arc::ptr_eq(&first, local.matches(&index, b"a.b")));

        index.insert(b"x.y", None, 2).unwrap();
        assert_eq!(local.matches(&index, b"a.b").plain, [1]);
        index.insert(b"a.>", None, 3).unwrap();
        let mut ids = local.matches(&index, b"a.b").plain.clone();
        ids.sort_unstable();
        assert_eq!(ids, [1, 3]);
        assert!(index.remove(b"a.*", None, &1));
        assert_eq!(local.matches(&index, b"a.b").plain, [3]);
    }

    #[test]
    fn stays_bounded() {
        let index = Sublist::new();
        index.insert(b">", None, 0).unwrap();
        let mut local = LocalMatchCache::new(8);
        for i in 0..100 {
            let subject = format!("s.{i}");
            assert_eq!(local.matches(&index, subject.as_bytes()).plain, [0]);
            assert_eq!(local.matches(&index, subject.as_bytes()).plain, [0]);
            assert!(local.results.len() <= 8);
        }
        assert!(local.results.len() >= 6, "evicts a quarter at a time");
    }
}
