//! A lock-free, per-connection cache of match results in front of a shared [`Sublist`].

use std::sync::Arc;

use crate::cache::Cache;
use crate::matches::Matches;
use crate::sublist::Sublist;

/// How many results a [`LocalMatchCache`] keeps by default.
pub const DEFAULT_LOCAL_CACHE_CAPACITY: usize = 128;

/// Match results remembered by one publisher (for example one client connection).
///
/// A hit costs one atomic load (the index's generation) and one hash lookup: no lock and no
/// reference-count traffic on results other threads share. Any change to the index empties
/// this cache on its next use, so it never returns a stale result; the shared cache inside
/// the [`Sublist`] then answers until this one is warm again.
#[derive(Debug)]
pub struct LocalMatchCache<T> {
    generation: u64,
    results: Cache<T>,
}

impl<T> Default for LocalMatchCache<T> {
    fn default() -> Self {
        Self::new(DEFAULT_LOCAL_CACHE_CAPACITY)
    }
}

impl<T> LocalMatchCache<T> {
    /// A cache holding at most `capacity` results (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            generation: 0,
            results: Cache::new(capacity.max(1)),
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
        self.results
            .get_or_insert_with(subject, || index.matches(subject))
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
            assert!(local.results.len() <= 8);
        }
    }
}
