//! Several threads insert, remove and look up at once; afterwards the index is consistent.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::thread;

use natrium_sublist::{LocalMatchCache, Sublist};

const THREADS: u32 = 4;
const ROUNDS: u32 = 2_000;

/// Each thread owns its ids; it keeps the even ones and removes the odd ones again.
fn worker(index: &Sublist<u32>, thread: u32) {
    let mut local = LocalMatchCache::new(16);
    for round in 0..ROUNDS {
        let id = thread * ROUNDS + round;
        let subject = format!("t.{}.{}", round % 7, round % 5);
        index.insert(subject.as_bytes(), None, id).expect("valid");
        let wildcard = format!("t.{}.*", round % 7);
        index
            .insert(wildcard.as_bytes(), Some(b"q"), id)
            .expect("valid");

        // Our own subscriptions are visible to our own lookup straight away.
        let seen = index.matches(subject.as_bytes());
        assert!(seen.plain.contains(&id), "thread {thread} lost {id}");
        let group = seen.queue(b"q").expect("group present");
        assert!(group.members.contains(&id));
        let seen_locally = local.matches(index, subject.as_bytes());
        assert!(seen_locally.plain.contains(&id), "local cache lost {id}");

        if id % 2 == 1 {
            assert!(index.remove(subject.as_bytes(), None, &id));
            assert!(index.remove(wildcard.as_bytes(), Some(b"q"), &id));
            let after = index.matches(subject.as_bytes());
            assert!(!after.plain.contains(&id), "stale result for {id}");
            assert!(after.queue(b"q").is_none_or(|g| !g.members.contains(&id)));
            let after_locally = local.matches(index, subject.as_bytes());
            assert!(
                !after_locally.plain.contains(&id),
                "stale local result for {id}"
            );
        }
    }
}

#[test]
fn concurrent_changes_leave_a_consistent_index() {
    let index = Arc::new(Sublist::with_cache_capacity(64));
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let index = Arc::clone(&index);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                worker(&index, thread);
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker panicked");
    }

    let kept: BTreeSet<u32> = (0..THREADS * ROUNDS).filter(|id| id % 2 == 0).collect();
    assert_eq!(index.count(), kept.len() * 2);
    let mut plain = BTreeSet::new();
    let mut queued = BTreeSet::new();
    for a in 0..7 {
        for b in 0..5 {
            let result = index.matches(format!("t.{a}.{b}").as_bytes());
            for id in &result.plain {
                assert!(plain.insert(*id), "{id} matched twice");
            }
            if let Some(group) = result.queue(b"q") {
                queued.extend(group.members.iter().copied());
            }
        }
    }
    assert_eq!(plain, kept);
    assert_eq!(queued, kept);
}

#[test]
fn index_and_local_caches_can_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shareable::<Sublist<Arc<String>>>();
    movable::<LocalMatchCache<Arc<String>>>();
}
