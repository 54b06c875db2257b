//! Store benchmarks: appends of small messages with a flush every 100, and sequential loads.
//!
//! Run briefly with `cargo bench -p natrium-store -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use natrium_store::{FileStore, FileStoreConfig, MemoryStore, MessageStore, StoreLimits};
use tempfile::TempDir;

const BATCH: u64 = 1_000;

/// Appends `BATCH` messages of `size` bytes, flushing every 100 as the server does per read.
fn append(store: &mut dyn MessageStore, payload: &[u8]) {
    for i in 0..BATCH {
        store
            .store(b"bench.orders.eu", None, payload, i as i64, None)
            .unwrap();
        if i % 100 == 99 {
            store.flush().unwrap();
        }
    }
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH));
    for size in [16usize, 128] {
        let payload = vec![b'x'; size];
        group.bench_function(format!("memory/{size}B"), |b| {
            b.iter_batched_ref(
                || MemoryStore::new(StoreLimits::default()),
                |store| append(store, &payload),
                BatchSize::SmallInput,
            )
        });
        // One store for all iterations (as a stream lives): measures the steady append path.
        let dir = TempDir::new().unwrap();
        let mut file = FileStore::open(
            dir.path(),
            FileStoreConfig::default(),
            StoreLimits::default(),
        )
        .unwrap();
        group.bench_function(format!("file/{size}B"), |b| {
            b.iter(|| append(&mut file, &payload))
        });
    }
    group.finish();
}

fn loads(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_sequential");
    group.throughput(Throughput::Elements(BATCH));
    let mut memory = MemoryStore::new(StoreLimits::default());
    append(&mut memory, &[b'x'; 128]);
    group.bench_function("memory/128B", |b| {
        b.iter(|| {
            for seq in 1..=BATCH {
                black_box(memory.load(seq).unwrap());
            }
        })
    });
    let dir = TempDir::new().unwrap();
    let mut file = FileStore::open(
        dir.path(),
        FileStoreConfig::default(),
        StoreLimits::default(),
    )
    .unwrap();
    append(&mut file, &[b'x'; 128]);
    file.flush().unwrap();
    group.bench_function("file/128B", |b| {
        b.iter(|| {
            for seq in 1..=BATCH {
                black_box(file.load(seq).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, appends, loads);
criterion_main!(benches);
