//! Parser and encoder throughput: PUB at several payload sizes, a SUB/PING mix, and MSG encoding
//! (sizes in decimal, and copied as the publisher wrote them).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use natrium_wire::{ClientOp, Limits, encode_msg, encode_msg_sized, parse};

/// How many operations each benchmark buffer holds.
const OPS: usize = 1000;

/// Parses every operation in `buf`, returning how many there were.
fn parse_all(buf: &[u8], limits: &Limits) -> usize {
    let mut at = 0;
    let mut count = 0;
    while let Ok(Some((op, used))) = parse(&buf[at..], limits) {
        black_box(op);
        at += used;
        count += 1;
    }
    count
}

fn pub_buffer(payload_len: usize) -> Vec<u8> {
    let payload = vec![b'x'; payload_len];
    let size = payload_len.to_string();
    let mut buf = Vec::new();
    for _ in 0..OPS {
        ClientOp::Pub {
            subject: b"bench.subject.foo",
            reply: None,
            size: size.as_bytes(),
            payload: &payload,
        }
        .encode(&mut buf);
    }
    buf
}

fn bench_parse(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(OPS as u64));
    for (name, len) in [
        ("pub_0b", 0),
        ("pub_16b", 16),
        ("pub_1kib", 1024),
        ("pub_16kib", 16 * 1024),
    ] {
        let buf = pub_buffer(len);
        assert_eq!(parse_all(&buf, &limits), OPS);
        group.bench_function(name, |b| b.iter(|| parse_all(black_box(&buf), &limits)));
    }
    let mut mixed = Vec::new();
    for i in 0..OPS {
        if i % 2 == 0 {
            ClientOp::Sub {
                subject: b"orders.*.created",
                queue: Some(b"workers"),
                sid: b"42",
            }
            .encode(&mut mixed);
        } else {
            ClientOp::Ping.encode(&mut mixed);
        }
    }
    assert_eq!(parse_all(&mixed, &limits), OPS);
    group.bench_function("sub_ping_mix", |b| {
        b.iter(|| parse_all(black_box(&mixed), &limits))
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let payload = [b'x'; 16];
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(OPS as u64));
    let mut out = Vec::with_capacity(OPS * 64);
    group.bench_function("msg_16b", |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..OPS {
                encode_msg(
                    &mut out,
                    b"bench.subject.foo",
                    b"1",
                    Some(b"_INBOX.abc"),
                    black_box(&payload),
                );
            }
            out.len()
        })
    });
    // What the server does for a client's PUB: the size field is copied as written.
    group.bench_function("msg_16b_as_written", |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..OPS {
                encode_msg_sized(
                    &mut out,
                    b"bench.subject.foo",
                    b"1",
                    Some(b"_INBOX.abc"),
                    black_box(b"16"),
                    black_box(&payload),
                );
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_encode);
criterion_main!(benches);
