//! Subject index benchmarks: cached and uncached lookups, inserts and removes.
//!
//! Run briefly with `cargo bench -p natrium-sublist -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use natrium_sublist::{LocalMatchCache, Sublist};

/// 10,000 literal subscriptions `bench.<a>.<b>.<c>` plus a spread of wildcard ones.
fn populated(cache_capacity: usize) -> Sublist<u64> {
    let index = Sublist::with_cache_capacity(cache_capacity);
    let mut id = 0;
    for a in 0..10 {
        for b in 0..10 {
            for c in 0..100 {
                index
                    .insert(format!("bench.{a}.{b}.{c}").as_bytes(), None, id)
                    .expect("valid subject");
                id += 1;
            }
            index
                .insert(format!("bench.{a}.{b}.*").as_bytes(), None, id)
                .expect("valid subject");
            id += 1;
        }
        index
            .insert(format!("bench.{a}.>").as_bytes(), Some(b"workers"), id)
            .expect("valid subject");
        id += 1;
    }
    index
        .insert(b"bench.*.*.7", None, id)
        .expect("valid subject");
    index
}

/// Distinct literal subjects, many more than the default cache holds.
fn distinct_subjects() -> Vec<Vec<u8>> {
    (0..10_000)
        .map(|i| format!("bench.{}.{}.{}", i % 10, (i / 10) % 10, i / 100).into_bytes())
        .collect()
}

fn lookups(c: &mut Criterion) {
    let cached = populated(natrium_sublist::DEFAULT_CACHE_CAPACITY);
    c.bench_function("match/cache_hit", |b| {
        b.iter(|| black_box(cached.matches(black_box(b"bench.3.4.7"))))
    });

    let mut local = LocalMatchCache::default();
    c.bench_function("match/local_cache_hit", |b| {
        b.iter(|| black_box(local.matches(&cached, black_box(b"bench.3.4.7")).len()))
    });

    let subjects = distinct_subjects();
    let mut i = 0;
    c.bench_function("match/cache_miss_10k_subjects", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(cached.matches(&subjects[i]))
        })
    });

    // Each subject twice in a row: the second miss admits it, so every pair pays a cache
    // insert and, the cache being full, its share of evictions.
    let mut i = 0;
    c.bench_function("match/cache_churn_pair_of_misses", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(cached.matches(&subjects[i]));
            black_box(cached.matches(&subjects[i]))
        })
    });

    let uncached = populated(0);
    let mut i = 0;
    c.bench_function("match/no_cache", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(uncached.matches(&subjects[i]))
        })
    });
}

/// Two threads looking up the same subject at once: the shared cache's lock word, hit
/// counter and result reference count bounce between cores; the local cache touches none.
fn contended(c: &mut Criterion) {
    const THREADS: usize = 2;
    let index = populated(natrium_sublist::DEFAULT_CACHE_CAPACITY);
    let run = |iters: u64, lookup: &(dyn Fn(&mut LocalMatchCache<u64>) -> usize + Sync)| {
        let start = Barrier::new(THREADS);
        thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let mut local = LocalMatchCache::default();
                        start.wait();
                        let began = Instant::now();
                        for _ in 0..iters {
                            black_box(lookup(&mut local));
                        }
                        began.elapsed()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("bench thread"))
                .max()
                .unwrap_or_default()
        })
    };
    c.bench_function("match/contended_2_threads/shared_cache", |b| {
        b.iter_custom(|iters| run(iters, &|_| index.matches(black_box(b"bench.3.4.7")).len()))
    });
    c.bench_function("match/contended_2_threads/local_cache", |b| {
        b.iter_custom(|iters| {
            run(iters, &|local| {
                local.matches(&index, black_box(b"bench.3.4.7")).len()
            })
        })
    });
}

fn changes(c: &mut Criterion) {
    let index = populated(natrium_sublist::DEFAULT_CACHE_CAPACITY);
    // Fill the cache (a subject is cached on its second miss) so invalidation has work.
    for subject in distinct_subjects().iter().take(1024) {
        index.matches(subject);
        index.matches(subject);
    }
    assert_eq!(index.stats().num_cache, 1024);
    c.bench_function("insert_remove/literal", |b| {
        b.iter(|| {
            index
                .insert(b"bench.5.5.new", None, u64::MAX)
                .expect("valid");
            assert!(index.remove(b"bench.5.5.new", None, &u64::MAX));
        })
    });
    c.bench_function("insert_remove/wildcard", |b| {
        b.iter(|| {
            index
                .insert(b"bench.5.*.new", None, u64::MAX)
                .expect("valid");
            assert!(index.remove(b"bench.5.*.new", None, &u64::MAX));
        })
    });
}

criterion_group!(benches, lookups, contended, changes);
criterion_main!(benches);
