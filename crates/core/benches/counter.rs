//! Throughput of the streaming counter on in-memory data: `cargo bench -p reader-core`.
//!
//! The target is at least 4 GB/s on one core; the counting rule's plain oracle
//! (reader-testkit's) is measured beside it as the reference the vectorised kernel has to beat.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reader_core::Counter;

/// Text like the benchmark fixtures: words of 2–11 letters, lines of 3–14 words.
fn text(len: usize) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        for w in 0..3 + next() % 12 {
            if w > 0 {
                out.push(b' ');
            }
            out.extend((0..2 + next() % 10).map(|_| b'a' + (next() % 26) as u8));
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

fn counter(c: &mut Criterion) {
    let data = text(8 << 20);
    let mut group = c.benchmark_group("count 8 MiB of text");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("counter, 256 KiB chunks", |b| {
        b.iter(|| {
            let mut counter = Counter::new();
            for chunk in black_box(&data).chunks(256 * 1024) {
                counter.update(chunk);
            }
            counter.counts()
        })
    });
    group.bench_function("plain oracle", |b| {
        b.iter(|| reader_testkit::oracle(black_box(&data)))
    });
    group.finish();
}

criterion_group!(benches, counter);
criterion_main!(benches);
