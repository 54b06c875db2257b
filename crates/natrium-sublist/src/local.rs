//! A lock-free, per-connection cache of match results in front of a shared [`Sublist`].

use std::sync::Arc;

use crate::SubjectMap;
use crate::matches::Matches;
use crate::sublist::Sublist;

/// How many results a [`LocalMatchCache`] keeps by default.
pub const DEFAULT_LOCAL_CACHE_CAPACITY: usize = 128;

/// Match results remembered by one publisher (for example one client connection), as
/// nats-server's per-client result cache.
///
/// A hit costs one atomic load (the index's generation) and, when the publisher repeats its
/// last subject, one byte comparison; otherwise one hash lookup. No lock and no counter that
/// other threads write is touched. Any change to the index (or asking about another index)
/// empties this cache on its next use, so it never returns a stale result. When full, it
/// starts over.
#[derive(Debug)]
pub struct LocalMatchCache<T> {
    /// The index the entries come from (its address): a connection may route in more than
    /// one (its own account's, and the global one for the server's internal publishes).
    index: usize,
    generation: u64,
    /// The most recent subject (its buffer is reused) and result: the common case of a
    /// publisher repeating one subject is a byte comparison.
    last_subject: Vec<u8>,
    last: Option<Arc<Matches<T>>>,
    results: SubjectMap<Arc<Matches<T>>>,
    capacity: usize,
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
            index: 0,
            generation: 0,
            last_subject: Vec::new(),
            last: None,
            results: SubjectMap::default(),
            capacity: capacity.max(1),
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
        let id = std::ptr::from_ref(index) as usize;
        if generation != self.generation || id != self.index {
            self.generation = generation;
            self.index = id;
            self.last = None;
            self.results.clear();
        }
        if self.last.is_none() || self.last_subject != subject {
            let found = match self.results.get(subject) {
                Some(m) => Arc::clone(m),
                None => {
                    if self.results.len() >= self.capacity {
                        self.results.clear();
                    }
                    let m = index.matches(subject);
                    self.results.insert(subject.to_vec(), Arc::clone(&m));
                    m
                }
            };
            self.last_subject.clear();
            self.last_subject.extend_from_slice(subject);
            self.last = Some(found);
        }
        // Always set by now; the fallback keeps this path free of panics.
        self.last.get_or_insert_with(|| index.matches(subject))
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
        assert_eq!(local.matches(&index, b"a.c").plain, [1]);
        assert!(
            Arc::ptr_eq(&first, local.matches(&index, b"a.b")),
            "kept in the map"
        );

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
    fn another_index_is_not_answered_from_the_first_ones_results() {
        let one = Sublist::new();
        let two = Sublist::new();
        one.insert(b"a", None, 1).unwrap();
        two.insert(b"a", None, 2).unwrap();
        // Same generation in both: only the index's identity tells them apart.
        assert_eq!(one.generation(), two.generation());
        let mut local = LocalMatchCache::default();
        assert_eq!(local.matches(&one, b"a").plain, [1]);
        assert_eq!(local.matches(&two, b"a").plain, [2]);
        assert_eq!(local.matches(&one, b"a").plain, [1]);
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
    }
}
