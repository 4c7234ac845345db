//! The library API: the async entry point inside each runtime, the blocking one, and the
//! seam every model plugs into.

use std::fs;
use std::path::PathBuf;

use reader_async::{AsyncReader, Runtime};
use reader_core::{Counts, ErrorKind, Record, StartError, Walk};

/// A tree of `files` readable files, and their totals.
fn tree(files: usize) -> (tempfile::TempDir, Counts) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut total = Counts::default();
    for i in 0..files {
        let text = "alpha beta\n".repeat(i % 5 + 1);
        total += Counts::of(text.as_bytes());
        fs::write(dir.path().join(format!("f{i}")), text).expect("write");
    }
    (dir, total)
}

/// Sums what was read and collects the paths seen.
#[derive(Default)]
struct Tally {
    total: Counts,
    paths: Vec<PathBuf>,
    failed: usize,
}

impl Tally {
    fn add(&mut self, record: Record) {
        if let Record::File(file) = record {
            self.paths.push(file.path);
            match file.outcome {
                Ok(counts) => self.total += counts,
                Err(_) => self.failed += 1,
            }
        }
    }

    fn assert_complete(mut self, files: usize, total: Counts) {
        self.paths.sort();
        self.paths.dedup();
        assert_eq!(self.paths.len(), files, "every file exactly once");
        assert_eq!(self.failed, 0);
        assert_eq!(self.total, total);
    }
}

#[test]
fn async_read_inside_tokio_runtimes_of_both_flavours() {
    let (dir, total) = tree(500);
    let walk = Walk::new([dir.path()]);
    for multi in [false, true] {
        let runtime = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        let mut tally = Tally::default();
        runtime
            .block_on(
                AsyncReader::new()
                    .max_in_flight(8)
                    .read(&walk, |r| tally.add(r)),
            )
            .expect("read");
        tally.assert_complete(500, total);
    }
}

#[test]
fn async_read_inside_async_std() {
    let (dir, total) = tree(300);
    let walk = Walk::new([dir.path()]);
    let mut tally = Tally::default();
    async_std::task::block_on(
        AsyncReader::new()
            .runtime(Runtime::AsyncStd)
            .files_per_hop(1)
            .read(&walk, |r| tally.add(r)),
    )
    .expect("read");
    tally.assert_complete(300, total);
}

#[test]
fn tokio_reader_outside_a_tokio_runtime_says_so() {
    let (dir, _) = tree(1);
    let walk = Walk::new([dir.path()]);
    let err = async_std::task::block_on(AsyncReader::new().read(&walk, |_| {}))
        .expect_err("no tokio runtime here");
    assert!(matches!(err, StartError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[test]
fn a_missing_path_fails_before_anything_is_read() {
    let walk = Walk::new(["no/such/dir"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut records = 0;
    let err = runtime
        .block_on(AsyncReader::new().read(&walk, |_| records += 1))
        .expect_err("missing");
    assert!(matches!(err, StartError::Path { .. }), "{err}");
    let err = AsyncReader::new()
        .runtime(Runtime::AsyncStd)
        .read_blocking(&walk, |_| records += 1)
        .expect_err("missing");
    assert!(matches!(err, StartError::Path { .. }), "{err}");
    assert_eq!(records, 0);
}

#[test]
fn blocking_read_on_both_runtimes_with_small_buffers() {
    let (dir, total) = tree(200);
    fs::write(dir.path().join("long"), "x y ".repeat(10_000)).expect("write");
    let total = total + Counts::of("x y ".repeat(10_000).as_bytes());
    for runtime in [Runtime::Tokio, Runtime::AsyncStd] {
        let mut tally = Tally::default();
        AsyncReader::new()
            .runtime(runtime)
            .buffer_size(7)
            .files_per_hop(3)
            .read_blocking(&Walk::new([dir.path()]), |r| tally.add(r))
            .expect("read");
        tally.assert_complete(201, total);
    }
}

/// Through core's seam, as any model is run: every job read once, on either runtime, and the
/// model's figures in the result.
#[test]
fn the_seam_runs_it_like_any_model() {
    let (dir, total) = tree(400);
    let walk = Walk::new([dir.path()]);
    for runtime in [Runtime::Tokio, Runtime::AsyncStd] {
        let reader = AsyncReader::new().runtime(runtime).max_in_flight(4);
        let mut tally = Tally::default();
        let finished = reader_core::read(&walk, &reader, |r| tally.add(r)).expect("read");
        assert!(finished.error.is_none(), "{runtime}");
        let stats = finished.stats.expect("stats");
        assert_eq!((stats.runtime, finished.summary.jobs), (runtime, 4));
        assert_eq!(finished.summary.counts(), total);
        tally.assert_complete(400, total);
    }
}

/// Whether this kernel reads a just-written file without waiting (openat2 with
/// RESOLVE_CACHED, Linux 5.12): where it does not, nothing is read inline.
fn kernel_reads_cached_files() -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("probe");
    fs::write(&path, "cached\n").expect("write");
    let job = reader_core::FileJob::new(path, None);
    let cached = reader_core::read_cached(job, &mut [0; 64], reader_core::Worker::Task(0));
    if cached.is_err() {
        eprintln!("skipped: this kernel does not open files from its caches only (Linux < 5.12)");
    }
    cached.is_ok()
}

/// A tree just written is in the page cache: every file is read on the runtime's threads,
/// and with inline reads off none is, with the same results.
#[test]
fn cached_files_are_read_inline_unless_that_is_turned_off() {
    if !kernel_reads_cached_files() {
        return;
    }
    let (dir, total) = tree(300);
    let walk = Walk::new([dir.path()]);
    for runtime in [Runtime::Tokio, Runtime::AsyncStd] {
        for inline in [true, false] {
            let reader = AsyncReader::new().runtime(runtime).inline_reads(inline);
            let mut tally = Tally::default();
            let finished = reader.read_blocking(&walk, |r| tally.add(r)).expect("read");
            tally.assert_complete(300, total);
            let stats = finished.stats.expect("stats");
            let expected = if inline { 300 } else { 0 };
            assert_eq!(stats.inline_files, expected, "{runtime}, inline {inline}");
        }
    }
}

/// Unreadable files are reported with their kind and path, through the async entry point.
#[test]
fn errors_carry_their_kind_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("gone"), &link).expect("symlink");
    let walk = Walk::new([dir.path()]).follow_links(true);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut errors = Vec::new();
    runtime
        .block_on(AsyncReader::new().read(&walk, |r| {
            if let Record::File(file) = r
                && let Err(err) = file.outcome
            {
                errors.push(err);
            }
        }))
        .expect("read");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind(), ErrorKind::NotFound);
    assert_eq!(errors[0].path(), link);
}

/// With a timeout, the async API works in a tokio runtime without a timer: the lanes and their
/// watchdogs run on the reader's own runtime.
#[test]
fn a_timeout_needs_no_timer_in_the_callers_runtime() {
    let (dir, total) = tree(50);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime without timer");
    let mut tally = Tally::default();
    let reader = AsyncReader::new().timeout(Some(std::time::Duration::from_secs(30)));
    runtime
        .block_on(reader.read(&Walk::new([dir.path()]), |r| tally.add(r)))
        .expect("read");
    tally.assert_complete(50, total);
}

/// How many times the byte `b'a'` occurs in a file: a work of the test's own.
struct CountA;
struct SeenA(u64);

impl reader_core::Work for CountA {
    type Output = u64;
    type File = SeenA;
    fn start(&self) -> SeenA {
        SeenA(0)
    }
}

impl reader_core::FileWork for SeenA {
    type Output = u64;
    fn update(&mut self, chunk: &[u8]) {
        self.0 += chunk.iter().filter(|&&b| b == b'a').count() as u64;
    }
    fn finish(self) -> u64 {
        self.0
    }
}

#[test]
fn a_work_of_your_own_runs_on_every_file_in_every_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut expected = std::collections::HashMap::new();
    // Cached and small, past one buffer, and past what the rings read themselves.
    for (i, len) in [0usize, 1, 7, 70_000, 300_000, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let data: Vec<u8> = (0..len).map(|j| b"abca "[(j * 7 + i) % 5]).collect();
        let path = dir.path().join(format!("f{i}"));
        fs::write(&path, &data).expect("write");
        expected.insert(path, data.iter().filter(|&&b| b == b'a').count() as u64);
    }
    let walk = Walk::new([dir.path()]).work(reader_core::CustomWork::new(CountA));
    for runtime in [Runtime::Tokio, Runtime::AsyncStd, Runtime::IoUring] {
        let mut seen = std::collections::HashMap::new();
        AsyncReader::new()
            .runtime(runtime)
            .read_blocking(&walk, |record: Record| {
                if let Record::File(file) = record {
                    let output = file.output.as_ref().and_then(|o| o.get::<u64>()).copied();
                    seen.insert(file.path, output);
                }
            })
            .expect("run");
        for (path, count) in &expected {
            assert_eq!(
                seen.get(path),
                Some(&Some(*count)),
                "{runtime:?} {}",
                path.display()
            );
        }
        assert_eq!(seen.len(), expected.len(), "{runtime:?}");
    }
}
