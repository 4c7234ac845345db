//! Reading one large file as several byte ranges at once: one open descriptor, positioned
//! reads from several threads, each range counted (and hashed, with BLAKE3) on its own and the
//! ranges joined in order by reader-core's [`MeasureRanges`], so a word or a line that spans
//! two ranges counts once. A file whose digests cannot be joined (SHA-256, XXH3) is read front
//! to back on one thread; the routers do not send such files here.
//!
//! The ranges are handed out one at a time (a shared counter), so a thread that the machine
//! slows down reads fewer of them and the others finish the file. Where the kernel grants a
//! read lease on the file ([`RangedFile::mapped`]), each range is counted through a mapping of it, without
//! a copy, under the one lease held until every range is done (on one cached 1 GiB file,
//! 81.6 → 57.5 ms: docs/experiments/2026-12-02-large-files-mapped.md). Each thread reads through
//! one buffer of its own, kept from file to file, and maps at most a window of 8 MiB at once:
//! a split file costs `threads × (buffer + window)` of memory, whatever its size.
//!
//! A file whose size may lie — on FUSE, NFS or another file system whose content lives
//! elsewhere ([`size_is_trusted`](reader_core::size_is_trusted)) — is read as one range: reads
//! in flight at once past what its server holds can come back as zeros, counted as content.
//!
//! With a per-file time limit the splitter reads on a thread of a
//! [`timed_pool`](reader_core::timed_pool) of one: a file whose ranges are not all read in time
//! is reported as `timeout`, and a new splitter, with buffers of its own, goes on with the next.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use reader_core::{
    Concurrency, Emitter, FileError, FileJob, FileResult, HandOff, JobSender, Jobs, JoinRanges,
    Measure, MeasureRanges, Measured, MeasuredRange, RangedFile, RunError, Schedule, Worker,
    faults, timed_pool,
};

/// Bytes of a range handed to one thread at a time: large enough that each read streams for a
/// while (the kernel reads ahead within it), small enough that the last ranges balance the
/// threads at the end of a file.
pub(crate) const RANGE: u64 = 16 << 20;

/// The splitter's queue as the paths that find huge files hold it: each hands a file over,
/// unread ([`SplitQueue::hand_off`]), until the run closes the queue once no path can find
/// more.
#[derive(Clone)]
pub(crate) struct SplitQueue(Arc<Mutex<Option<JobSender>>>);

impl SplitQueue {
    pub(crate) fn new(sender: JobSender) -> SplitQueue {
        SplitQueue(Arc::new(Mutex::new(Some(sender))))
    }

    /// What a path calls with a huge file it found: the file goes to the splitter's queue,
    /// at once (a path may hold the only one for a while).
    pub(crate) fn hand_off(&self) -> HandOff {
        let queue = self.clone();
        Arc::new(move |job| {
            if let Some(sender) = queue.lock().as_mut() {
                sender.push(job);
                sender.flush();
            }
        })
    }

    /// Closes the queue: the splitter drains what it was given, and ends.
    pub(crate) fn close(&self) {
        if let Some(sender) = self.lock().take() {
            sender.close();
        }
    }

    /// The sender, whatever a path that panicked holding it left.
    fn lock(&self) -> MutexGuard<'_, Option<JobSender>> {
        reader_core::lock(&self.0)
    }
}

/// The split path as a schedule: every file of its queue read as ranges in parallel, by
/// `threads` threads.
#[derive(Debug, Clone)]
pub(crate) struct SplitReader {
    pub(crate) threads: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
}

impl Schedule for SplitReader {
    type Stats = Concurrency;

    fn strategy(&self) -> &'static str {
        "split"
    }

    fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<Concurrency, RunError> {
        if let Some(limit) = self.timeout {
            let (threads, buffer_size) = (self.threads, self.buffer_size);
            timed_pool(1, limit, jobs, out, move |_| {
                let mut splitter = Splitter::new(threads, buffer_size);
                let worker = Worker::Split(u32::try_from(threads).unwrap_or(u32::MAX));
                (worker, move |job: &FileJob| splitter.read(job.clone()))
            })?;
            return Ok(Concurrency(self.threads));
        }
        let mut splitter = Splitter::new(self.threads, self.buffer_size);
        while let Some(job) = jobs.next(&mut out) {
            out.emit(splitter.read(job));
        }
        Ok(Concurrency(self.threads))
    }
}

/// The threads and buffers that read split files; the buffers are allocated on the first split
/// file and reused.
#[derive(Debug)]
pub(crate) struct Splitter {
    buffers: Vec<Vec<u8>>,
    threads: usize,
    buffer_size: usize,
}

impl Splitter {
    pub(crate) fn new(threads: usize, buffer_size: usize) -> Splitter {
        Splitter {
            buffers: Vec::new(),
            threads: threads.max(1),
            buffer_size: buffer_size.max(1),
        }
    }

    /// Reads `job` as ranges in parallel and returns its one record. A panic while reading
    /// costs this file only (`worker_crashed`).
    pub(crate) fn read(&mut self, job: FileJob) -> FileResult {
        let started = Instant::now();
        if self.buffers.is_empty() {
            self.buffers = vec![vec![0; self.buffer_size]; self.threads];
        }
        let Some(work) = Measure::of(&job).ranges() else {
            return reader_core::read_job(job, &mut self.buffers[0], Worker::Split(1));
        };
        let mut used = 1;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            faults::before_read(&job.path);
            let mut file = RangedFile::open(&job.path, job.max_bytes)?;
            let size = file.size();
            // A size that may lie (FUSE, NFS) is read as one range, front to back.
            let ranges = if reader_core::size_is_trusted(file.file()) {
                ranges(size)
            } else {
                1
            };
            used = self.threads.min(ranges);
            // A cached file is counted through mappings, under a lease held until every range
            // is counted; a cold one with reads, which keep the device busier than the page
            // faults of a mapping. Asked of its middle: the router's probe of its start may
            // have started the read-ahead there.
            if crate::tune::probe(file.file(), size / 2) == Some(true) {
                file = file.mapped();
            }
            let buffers = &mut self.buffers[..used];
            let read = ranges_of(&file, ranges, buffers, work)?;
            // It grew past its limit while its last range was read.
            file.ended_at(read.counts.bytes)?;
            Ok(read)
        }))
        .unwrap_or_else(|payload| {
            // The buffers may be lent to threads that unwound: start afresh next time.
            self.buffers.clear();
            Err(FileError::panicked(&job.path, payload.as_ref()))
        });
        let worker = Worker::Split(u32::try_from(used).unwrap_or(u32::MAX));
        let elapsed = started.elapsed();
        FileResult::measured(job, outcome, elapsed, worker)
    }
}

/// How many ranges a file of `size` bytes (at open time) is read as: at least one.
fn ranges(size: u64) -> usize {
    usize::try_from(size.div_ceil(RANGE))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Range `index` of `count`: the last one runs to the end of the file, however far that is now
/// — up to `most`, one byte past its limit ([`Extent::most`](reader_core::extent::Extent::most)) — so a file that grew since it
/// was opened is read to its end, as a whole-file read would.
fn bounds(index: usize, count: usize, most: u64) -> (u64, u64) {
    let start = index as u64 * RANGE;
    let end = if index + 1 == count {
        most.max(start)
    } else {
        start + RANGE
    };
    (start, end)
}

/// Reads `count` ranges of `file` with one thread per buffer (the caller's thread is one of
/// them), each into a range state of `work`, and joins them in order.
fn ranges_of(
    file: &RangedFile,
    count: usize,
    buffers: &mut [Vec<u8>],
    work: MeasureRanges,
) -> Result<Measured, FileError> {
    let most = file.most();
    let next = AtomicUsize::new(0);
    let take = |buf: &mut Vec<u8>| -> Result<Vec<(usize, MeasuredRange)>, FileError> {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= count {
                return Ok(done);
            }
            let (start, end) = bounds(index, count, most);
            match file.read(start, end, buf, &work) {
                Ok(range) => done.push((index, range)),
                Err(e) => {
                    // Stop the others at their next range: the file has failed.
                    next.store(count, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
    };
    let (first, others) = buffers.split_first_mut().expect("at least one buffer");
    let mut parts: Vec<(usize, MeasuredRange)> = Vec::with_capacity(count);
    thread::scope(|scope| {
        let helpers: Vec<_> = others
            .iter_mut()
            .filter_map(|buf| {
                thread::Builder::new()
                    .name("reader-split".into())
                    .spawn_scoped(scope, || take(buf))
                    .ok()
            })
            .collect();
        let mine = take(first);
        let mut failure = None;
        for result in std::iter::once(mine).chain(
            helpers
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| panic::resume_unwind(p))),
        ) {
            match result {
                Ok(done) => parts.extend(done),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(()), Err)
    })?;
    parts.sort_unstable_by_key(|&(index, _)| index);
    let ranges = parts.into_iter().map(|(_, range)| range).collect();
    let whole = work.join_all(ranges).unwrap_or_default();
    Ok(work.finish_joined(whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(path: &std::path::Path) -> FileJob {
        FileJob::new(path, None)
    }

    #[test]
    fn ranges_cover_the_file_and_the_last_runs_to_its_end() {
        assert_eq!(ranges(0), 1);
        assert_eq!(ranges(RANGE), 1);
        assert_eq!(ranges(RANGE + 1), 2);
        assert_eq!(bounds(0, 2, u64::MAX), (0, RANGE));
        assert_eq!(bounds(1, 2, u64::MAX), (RANGE, u64::MAX));
        // The last range stops one byte past the file's limit.
        assert_eq!(bounds(1, 2, RANGE + 11), (RANGE, RANGE + 11));
    }

    #[test]
    fn words_across_range_boundaries_count_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        // 7-byte words never line up with the 16 MiB ranges, so words span every boundary;
        // the last range is short and a CRLF is cut by the first boundary.
        let mut data = b"abcdef ".repeat((RANGE as usize * 3) / 7 + 5);
        data[RANGE as usize - 1] = b'\r';
        data[RANGE as usize] = b'\n';
        std::fs::write(&path, &data).expect("write");
        for threads in [1, 2, 3, 5] {
            let mut splitter = Splitter::new(threads, 4096);
            let result = splitter.read(job(&path));
            assert_eq!(
                result.outcome,
                Ok(reader_core::Counts::of(&data)),
                "{threads} threads"
            );
            assert_eq!(result.worker, Worker::Split(threads.min(4) as u32));
        }
    }

    #[test]
    fn a_split_file_has_the_blake3_of_the_whole_and_sha256_reads_it_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(RANGE as usize * 2 + 4097))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let mut splitter = Splitter::new(3, 1 << 16);
        for digests in ["blake3", "sha256"] {
            let mut job = job(&path);
            job.digests = digests.parse().expect("names");
            let result = splitter.read(job.clone());
            let expected =
                reader_core::read_file(&path, &mut [0; 4096], &Measure::new(job.digests))
                    .expect("read whole");
            assert_eq!(
                result.outcome,
                Ok(reader_core::Counts::of(&data)),
                "{digests}"
            );
            assert_eq!(result.digests, expected.digests, "{digests}");
            let threads = if digests == "blake3" { 3 } else { 1 };
            assert_eq!(result.worker, Worker::Split(threads), "{digests}");
        }
    }

    /// The sum of a file's bytes, as a work of one's own whose ranges join, or not.
    struct Sum;
    struct Summing(u64);

    impl reader_core::Work for Sum {
        type Output = u64;
        type File = Summing;
        fn start(&self) -> Summing {
            Summing(0)
        }
    }

    impl reader_core::FileWork for Summing {
        type Output = u64;
        fn update(&mut self, chunk: &[u8]) {
            self.0 += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        fn finish(self) -> u64 {
            self.0
        }
    }

    impl JoinRanges for Sum {
        type Range = u64;
        type RangeWork = Summing;
        fn start_range(&self, _start: u64, _end: u64) -> Summing {
            Summing(0)
        }
        fn join(&self, left: u64, right: u64) -> u64 {
            left + right
        }
        fn finish_joined(&self, whole: u64) -> u64 {
            whole
        }
    }

    #[test]
    fn a_work_of_ones_own_is_split_only_when_its_ranges_join() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(RANGE as usize * 2 + 999))
            .map(|i| (i % 253) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
        let mut splitter = Splitter::new(3, 1 << 16);
        for (work, threads) in [
            (reader_core::CustomWork::joinable(Sum), 3),
            (reader_core::CustomWork::new(Sum), 1),
        ] {
            let mut job = job(&path);
            job.work = Some(work);
            let result = splitter.read(job);
            let output = result.output.as_ref().and_then(|o| o.get::<u64>());
            assert_eq!(output, Some(&sum));
            assert_eq!(result.worker, Worker::Split(threads));
        }
    }

    #[test]
    fn a_missing_file_fails_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("gone");
        let result = Splitter::new(2, 64).read(job(&gone));
        let err = result.outcome.expect_err("missing");
        assert_eq!(err.kind(), reader_core::ErrorKind::NotFound);
        assert_eq!(err.path(), gone);
    }
}
