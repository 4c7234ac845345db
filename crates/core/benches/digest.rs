//! One core's speed for each work the readers can do on a file's bytes, on in-memory data fed
//! in the readers' chunks: `cargo bench -p reader-core --bench digest`. Counting alone, each
//! digest with the counting every reader does in the same pass ([`Measure`]), and each digest
//! alone. With the read-only reference's time, this gives the limit of a digest on a cached
//! tree: reference + bytes ÷ (cores × this speed) (BENCHMARKS.md, "Digests").

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reader_core::{Algorithm, Algorithms, Blake3, FileWork, Measure, Sha256, Work, Xxh3};

/// Input size of every case.
const LEN: usize = 16 << 20;
/// Chunk size the works are fed with: the readers' buffer.
const CHUNK: usize = reader_core::defaults::BUFFER_SIZE;

/// `data` fed to a fresh state of `work` in the readers' chunks.
fn fed<W: Work>(work: &W, data: &[u8]) -> W::Output {
    let mut state = work.start();
    data.chunks(CHUNK).for_each(|chunk| state.update(chunk));
    state.finish()
}

fn digests(c: &mut Criterion) {
    // Bytes of every value, as in binary files and compressed text.
    let data: Vec<u8> = (0..LEN as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    let mut group = c.benchmark_group("work");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("count", |b| {
        b.iter(|| fed(&Measure::new(Algorithms::NONE), black_box(&data)))
    });
    for algorithm in Algorithm::ALL {
        let work = Measure::new(algorithm.into());
        group.bench_function(format!("count+{algorithm}"), |b| {
            b.iter(|| fed(&work, black_box(&data)))
        });
    }
    group.bench_function("count+sha256+blake3", |b| {
        let work = Measure::new("sha256,blake3".parse().unwrap_or_default());
        b.iter(|| fed(&work, black_box(&data)))
    });
    group.bench_function("blake3", |b| b.iter(|| fed(&Blake3, black_box(&data))));
    group.bench_function("sha256", |b| b.iter(|| fed(&Sha256, black_box(&data))));
    group.bench_function("xxh3", |b| b.iter(|| fed(&Xxh3, black_box(&data))));
    group.finish();
}

/// The same works on files of 256 B–2 KiB, as in the `small` fixture: a fresh state for each,
/// so a digest's set-up and finish count, and BLAKE3 cannot hash several 1 KiB chunks of one
/// file at once (its SIMD speed on large inputs).
fn small_files(c: &mut Criterion) {
    let data: Vec<u8> = (0..LEN as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    let mut files = Vec::new();
    let (mut at, mut seed) = (0, 7u64);
    while at + 2048 <= data.len() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let len = 256 + (seed >> 33) as usize % 1793;
        files.push(&data[at..at + len]);
        at += len;
    }
    let bytes: usize = files.iter().map(|f| f.len()).sum();
    let mut group = c.benchmark_group("small files");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.measurement_time(Duration::from_secs(3));
    for (name, digests) in [
        ("count", Algorithms::NONE),
        ("count+blake3", Algorithm::Blake3.into()),
        ("count+sha256", Algorithm::Sha256.into()),
        ("count+xxh3", Algorithm::Xxh3.into()),
    ] {
        let work = Measure::new(digests);
        group.bench_function(name, |b| {
            b.iter(|| {
                for file in &files {
                    black_box(fed(&work, black_box(file)));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, digests, small_files);
criterion_main!(benches);
