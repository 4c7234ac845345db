//! # reader-threads
//!
//! The threads model: a pool of OS threads pulling paths from one shared queue and reading
//! with plain blocking I/O, each thread with its own reused buffer. Discovery runs on its own
//! thread and feeds the queue while the pool reads, and results stream back to the caller as
//! they complete.
//!
//! A panic while reading one file costs that file only (it is reported as `worker_crashed`);
//! if the whole pool stopped, whatever it had not read would still be reported, never lost.
//!
//! With a per-file time limit ([`ThreadedReader::timeout`], `--timeout TIME`) the pool is
//! reader-core's [`timed_pool`]: a file not read within the limit is
//! reported as `timeout`, its thread is left to the read and a new one takes its place, and
//! the run ends without waiting for it. A thread stuck in an uninterruptible read (a stalled
//! NFS or FUSE server) still keeps the process from being reaped until that read ends: the
//! reader writes every record and its summary, closes its output and exits, but its parent
//! sees it end only then (aborting the mount ends the read; reader-proc, whose reads run in
//! worker processes, is the model that is reaped at once).
//!
//! It is reader-core's [`Schedule`] and nothing else; [`Schedule::read`] runs it.
//!
//! ```
//! use reader_core::{Record, Schedule, Walk};
//! use reader_threads::ThreadedReader;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "one two\n")?;
//! std::fs::write(dir.path().join("b.txt"), "three\n")?;
//! let mut words = 0;
//! let finished = ThreadedReader::new().jobs(8).read(&Walk::new([dir.path()]), |record| {
//!     if let Record::File(file) = record {
//!         words += file.outcome.map_or(0, |c| c.words);
//!     }
//! })?;
//! assert_eq!((words, finished.summary.jobs), (3, 8));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without its default `cli` feature the crate is the model alone: no command line, no output
//! formats (`reader-threads = { version = "…", default-features = false }`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::{
    Concurrency, Emitter, FileJob, Jobs, ReadUnless, RunError, Schedule, Worker, read_job,
    read_unless_larger, timed_pool,
};

pub use reader_core::HandOff;

/// Files of at least `from` bytes go to `to`, unread.
#[derive(Clone)]
struct LargeFiles {
    from: u64,
    to: HandOff,
}

impl fmt::Debug for LargeFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LargeFiles")
            .field("from", &self.from)
            .finish()
    }
}

/// A pool of reader threads; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct ThreadedReader {
    jobs: usize,
    buffer_size: usize,
    timeout: Option<Duration>,
    large: Option<LargeFiles>,
}

impl Default for ThreadedReader {
    fn default() -> Self {
        ThreadedReader {
            jobs: defaults::threads(),
            buffer_size: BUFFER_SIZE,
            timeout: None,
            large: None,
        }
    }
}

impl ThreadedReader {
    /// A pool of [`defaults::threads`] threads with [`BUFFER_SIZE`] buffers.
    pub fn new() -> ThreadedReader {
        ThreadedReader::default()
    }

    /// The number of threads, at least 1; never more than the open-files limit allows, since
    /// each thread holds one file open, nor than a limit on address space leaves room for
    /// ([`defaults::clamp_readers`]).
    pub fn jobs(mut self, threads: usize) -> ThreadedReader {
        self.jobs = defaults::clamp_readers(threads);
        self
    }

    /// The chunk size of each read (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> ThreadedReader {
        self.buffer_size = bytes.max(1);
        self
    }

    /// Report a file whose read takes longer than `limit` as `timeout` and go on with a new
    /// thread in place of the one stuck in it; `None` (the default) waits for every read.
    pub fn timeout(mut self, limit: Option<Duration>) -> ThreadedReader {
        self.timeout = limit;
        self
    }

    /// Files found to hold at least `bytes` (their size known, or seen when they are opened:
    /// none is looked up beforehand) when no other file waits in the queue are not read but
    /// handed to `to`, with their size, for a reader better at one large file — the hybrid's
    /// splitter. With other files waiting, the pool's threads have work anyway and read it
    /// themselves. Without a per-file timeout only: with one, every file is read here.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use reader_core::{Record, Schedule, Walk};
    /// use reader_threads::ThreadedReader;
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("large.txt"), "word ".repeat(1000))?;
    /// let handed = Arc::new(Mutex::new(Vec::new()));
    /// let to = Arc::clone(&handed);
    /// let pool = ThreadedReader::new()
    ///     .hand_off_from(1024, Arc::new(move |job| to.lock().unwrap().push(job)));
    /// let mut read = 0;
    /// pool.read(&Walk::new([dir.path()]), |record| {
    ///     if let Record::File(_) = record {
    ///         read += 1;
    ///     }
    /// })?;
    /// // Alone in the queue, and at least 1 KiB: handed off, unread.
    /// assert_eq!(read, 0);
    /// assert_eq!(handed.lock().unwrap()[0].size, Some(5000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hand_off_from(mut self, bytes: u64, to: HandOff) -> ThreadedReader {
        self.large = Some(LargeFiles { from: bytes, to });
        self
    }

    /// The number of threads the pool runs.
    pub fn threads(&self) -> usize {
        self.jobs
    }

    fn work(&self, index: usize, jobs: &Jobs, mut out: Emitter) {
        let worker = Worker::Thread(u32::try_from(index).unwrap_or(u32::MAX));
        let mut buf = vec![0; self.buffer_size];
        loop {
            // A share of what waits at a time; few waiting go one to a thread.
            let batch = jobs.next_guided(self.jobs, defaults::FILES_PER_TAKE, &mut out);
            if batch.is_empty() {
                return;
            }
            let mut left = batch.len();
            for job in batch {
                left -= 1;
                match &self.large {
                    None => out.emit(read_job(job, &mut buf, worker)),
                    Some(large) => match read_unless_larger(job, large.from, &mut buf, worker) {
                        ReadUnless::Read(result) => out.emit(result),
                        // With other files waiting the pool's threads are busy anyway, and the
                        // file is read here (through a mapping): a hand-off pays only for a
                        // file left alone. Asked only of a large file: the lock costs a little.
                        ReadUnless::Larger(job) if left > 0 || jobs.queued() > 0 => {
                            out.emit(read_job(job, &mut buf, worker));
                        }
                        ReadUnless::Larger(job) => (large.to)(job),
                    },
                }
            }
        }
    }
}

impl Schedule for ThreadedReader {
    type Stats = Concurrency;

    fn strategy(&self) -> &'static str {
        "threads"
    }

    /// Runs the pool until the queue is closed and drained; the calling thread is one of the
    /// pool. When the system will not give it all its threads, it reads with those it has.
    fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
        if let Some(limit) = self.timeout {
            let buffer_size = self.buffer_size;
            let threads = timed_pool(self.jobs, limit, jobs, out, move |index| {
                let worker = Worker::Thread(u32::try_from(index).unwrap_or(u32::MAX));
                let mut buf = vec![0; buffer_size];
                (worker, move |job: &FileJob| {
                    read_job(job.clone(), &mut buf, worker)
                })
            })?;
            return Ok(Concurrency(threads));
        }
        let threads = reader_core::pool(self.jobs, jobs, out, |index, jobs, out| {
            self.work(index, jobs, out)
        });
        Ok(Concurrency(threads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ThreadedReader>();
    }

    #[test]
    fn jobs_are_clamped_to_at_least_one() {
        assert_eq!(ThreadedReader::new().jobs(0).threads(), 1);
    }
}
