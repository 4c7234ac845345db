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
//! ```
//! use reader_core::{Record, Walk};
//! use reader_threads::ThreadedReader;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "one two\n")?;
//! std::fs::write(dir.path().join("b.txt"), "three\n")?;
//! let mut words = 0;
//! ThreadedReader::new().jobs(8).read(&Walk::new([dir.path()]), |record| {
//!     if let Record::File(file) = record {
//!         words += file.outcome.map_or(0, |c| c.words);
//!     }
//! })?;
//! assert_eq!(words, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

// The README's Rust example is compiled with this crate's doctests, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

use std::thread;

use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::{Emitter, Jobs, Record, StartError, Walk, Worker, pipeline, read_job};

/// A pool of reader threads; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct ThreadedReader {
    jobs: usize,
    buffer_size: usize,
}

impl Default for ThreadedReader {
    fn default() -> Self {
        ThreadedReader {
            jobs: defaults::threads(),
            buffer_size: BUFFER_SIZE,
        }
    }
}

impl ThreadedReader {
    /// A pool of [`defaults::threads`] threads with [`BUFFER_SIZE`] buffers.
    pub fn new() -> ThreadedReader {
        ThreadedReader::default()
    }

    /// The number of threads, at least 1; never more than the open-files limit allows, since
    /// each thread holds one file open.
    pub fn jobs(mut self, threads: usize) -> ThreadedReader {
        self.jobs = defaults::clamp_to_fds(threads);
        self
    }

    /// The chunk size of each read (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> ThreadedReader {
        self.buffer_size = bytes.max(1);
        self
    }

    /// The number of threads the pool runs.
    pub fn threads(&self) -> usize {
        self.jobs
    }

    /// Discovers and reads everything `walk` names, handing each record to `on_record` on the
    /// calling thread as soon as it is known. Fails only if a PATH does not exist.
    pub fn read(&self, walk: &Walk, on_record: impl FnMut(Record)) -> Result<(), StartError> {
        walk.check()?;
        pipeline::run(walk, |jobs, out| self.schedule(&jobs, out), on_record);
        Ok(())
    }

    /// Runs the pool over an existing job queue until it is closed and drained; for models
    /// that build on this one (the hybrid). The calling thread is one of the pool.
    pub fn schedule(&self, jobs: &Jobs, out: Emitter) {
        thread::scope(|scope| {
            for index in 1..self.jobs {
                let (jobs, out) = (jobs.clone(), out.clone());
                let spawned = thread::Builder::new()
                    .name(format!("reader-{index}"))
                    .spawn_scoped(scope, move || self.work(index, &jobs, out));
                if spawned.is_err() {
                    // The system would not give us another thread: read with those we have.
                    break;
                }
            }
            self.work(0, jobs, out);
        });
    }

    fn work(&self, index: usize, jobs: &Jobs, mut out: Emitter) {
        let worker = Worker::Thread(u32::try_from(index).unwrap_or(u32::MAX));
        let mut buf = vec![0; self.buffer_size];
        while let Some(job) = jobs.next(&mut out) {
            out.emit(read_job(&job, &mut buf, worker));
        }
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
