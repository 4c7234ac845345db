//! Throughput of the streaming counter on in-memory data: `cargo bench -p reader-core`.
//!
//! The dispatched counter is measured as the readers use it, and every kernel this CPU can run
//! on its own. Beside them: a plain `memchr` line count (lines only, the speed to match) and
//! the counting rule's plain oracle (reader-testkit's).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reader_core::{Counter, Kernel};

/// Input size of every case.
const LEN: usize = 8 << 20;
/// Chunk size the counter is fed with, as the readers' buffer.
const CHUNK: usize = 256 * 1024;

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

/// `data` counted by the dispatched counter, in chunks as a reader feeds it.
fn count_in_chunks(data: &[u8]) -> reader_core::Counts {
    let mut counter = Counter::new();
    for chunk in data.chunks(CHUNK) {
        counter.update(chunk);
    }
    counter.counts()
}

/// `data` counted with `kernel` alone, in chunks.
fn kernel_in_chunks(kernel: Kernel, data: &[u8]) -> reader_core::Counts {
    let mut counter = Counter::new();
    for chunk in data.chunks(CHUNK) {
        counter.update_with(kernel, chunk);
    }
    counter.counts()
}

fn counter(c: &mut Criterion) {
    let data = text(LEN);
    let mut group = c.benchmark_group("count 8 MiB of text");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("counter, 256 KiB chunks", |b| {
        b.iter(|| count_in_chunks(black_box(&data)))
    });
    for kernel in Kernel::available() {
        group.bench_function(format!("{kernel:?} kernel, 256 KiB chunks"), |b| {
            b.iter(|| kernel_in_chunks(kernel, black_box(&data)))
        });
    }
    group.bench_function("memchr line count", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&data)).count())
    });
    group.bench_function("plain oracle", |b| {
        b.iter(|| reader_testkit::oracle(black_box(&data)))
    });
    group.finish();
}

/// Inputs that are all or half whitespace: every byte a word boundary or a line.
fn dense(c: &mut Criterion) {
    let cases: [(&str, Vec<u8>); 3] = [
        ("all spaces", vec![b' '; LEN]),
        ("all newlines", vec![b'\n'; LEN]),
        ("\"a a a …\"", b"a ".repeat(LEN / 2)),
    ];
    let mut group = c.benchmark_group("count 8 MiB of dense whitespace");
    group.throughput(Throughput::Bytes(LEN as u64));
    for (name, data) in &cases {
        group.bench_function(format!("counter, {name}"), |b| {
            b.iter(|| count_in_chunks(black_box(data)))
        });
        for kernel in Kernel::available() {
            group.bench_function(format!("{kernel:?} kernel, {name}"), |b| {
                b.iter(|| kernel_in_chunks(kernel, black_box(data)))
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter, dense
}
criterion_main!(benches);
