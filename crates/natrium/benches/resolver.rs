//! A discovery lookup through the cached [`Resolver`] versus a bare `HashMap` read: the
//! resolver's pick must cost no more than a map read (plus the round-robin counter and the
//! endpoint's clone, which the baseline does too).
//!
//! Run: `cargo bench -p natrium --bench resolver`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use natrium::registry::{MemoryRegistry, Pick, Registrar, Resolver, ServiceInstance};

const INSTANCES: usize = 8;

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = MemoryRegistry::new();
    let mut endpoints = Vec::new();
    for i in 0..INSTANCES {
        let endpoint = format!("http://10.0.0.{i}:8000");
        endpoints.push(endpoint.clone());
        let instance = ServiceInstance {
            id: format!("report-{i}"),
            name: "report".into(),
            endpoints: vec![endpoint, format!("nats://10.0.0.{i}:4222?service=report")],
            ..Default::default()
        };
        runtime.block_on(registry.register(&instance)).unwrap();
    }
    let resolver = runtime
        .block_on(Resolver::new(&registry, "report", Pick::RoundRobin))
        .unwrap();
    let random = runtime
        .block_on(Resolver::new(&registry, "report", Pick::Random))
        .unwrap();
    let map: HashMap<String, Vec<String>> = [("http".to_owned(), endpoints)].into();
    let next = AtomicUsize::new(0);

    let mut group = c.benchmark_group("discovery lookup");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("HashMap get + index + clone (baseline)", |b| {
        b.iter(|| {
            let list = map.get(black_box("http")).unwrap();
            let i = next.fetch_add(1, Ordering::Relaxed);
            black_box(list[i % list.len()].clone())
        })
    });
    group.bench_function("Resolver::endpoint round-robin", |b| {
        b.iter(|| black_box(resolver.endpoint(black_box("http")).unwrap()))
    });
    group.bench_function("Resolver::endpoint random", |b| {
        b.iter(|| black_box(random.endpoint(black_box("http")).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
