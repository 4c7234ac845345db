//! The sequential reader: discovery and reading on one thread, one buffer, the same counter.
//! The baseline every concurrent model is checked and timed against.
//!
//! With a per-file time limit ([`SequentialReader::timeout`]) the one thread that walks and
//! reads is a thread of a [`timed_pool`] of one, watched by the scheduler's: a read past its
//! limit is reported as `timeout`, and a new thread goes on with the walk where it was.

use std::time::Duration;

use crate::defaults::BUFFER_SIZE;
use crate::read::read_job;
use crate::record::RunError;
use crate::record::Worker;
use crate::schedule::deadline::timed_pool;
use crate::schedule::emit::Emitter;
use crate::schedule::queue::Jobs;
use crate::schedule::{Concurrency, Feed, Schedule};
use crate::walk::FileJob;

/// Reads every discovered file in turn, discovering and reading on the same thread.
///
/// ```
/// use reader_core::{Record, Schedule, SequentialReader, Walk};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one two\nthree\n")?;
/// let mut lines = 0;
/// SequentialReader::new().read(&Walk::new([dir.path()]), |record| {
///     if let Record::File(file) = record {
///         lines += file.outcome.map_or(0, |c| c.lines);
///     }
/// })?;
/// assert_eq!(lines, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SequentialReader {
    buffer_size: usize,
    timeout: Option<Duration>,
}

impl Default for SequentialReader {
    fn default() -> Self {
        SequentialReader {
            buffer_size: BUFFER_SIZE,
            timeout: None,
        }
    }
}

impl SequentialReader {
    /// A reader with the default buffer.
    pub fn new() -> SequentialReader {
        SequentialReader::default()
    }

    /// The chunk size of each read (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> SequentialReader {
        self.buffer_size = bytes.max(1);
        self
    }

    /// Report a file whose read takes longer than `limit` as `timeout` and go on with the next
    /// on a new thread; `None` (the default) waits for every read. With a limit the files are
    /// read, one at a time, on a thread that is not the scheduler's (`thread-N` in the
    /// records), since a read stuck in the kernel cannot be interrupted.
    pub fn timeout(mut self, limit: Option<Duration>) -> SequentialReader {
        self.timeout = limit;
        self
    }
}

impl Schedule for SequentialReader {
    type Stats = Concurrency;

    fn strategy(&self) -> &'static str {
        "sequential"
    }

    /// Discovery walks on as each file is asked for: one thread does everything.
    fn feed(&self) -> Feed {
        Feed::Inline
    }

    fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<Concurrency, RunError> {
        if let Some(limit) = self.timeout {
            let buffer_size = self.buffer_size;
            timed_pool(1, limit, jobs, out, move |index| {
                let worker = Worker::Thread(u32::try_from(index).unwrap_or(u32::MAX));
                let mut buf = vec![0; buffer_size];
                (worker, move |job: &FileJob| {
                    read_job(job.clone(), &mut buf, worker)
                })
            })?;
            return Ok(Concurrency(1));
        }
        let mut buf = vec![0; self.buffer_size];
        while let Some(job) = jobs.next(&mut out) {
            out.emit(read_job(job, &mut buf, Worker::Main));
        }
        Ok(Concurrency(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::walk::Walk;

    #[test]
    fn records_come_in_walk_order_with_skipped_entries_in_place() {
        let tree = reader_testkit::Tree::new();
        tree.file("a/1.txt", "one\n");
        tree.fifo("a/2.pipe");
        tree.file("a/3.txt", "three\n");
        let mut seen = Vec::new();
        let finished = SequentialReader::new()
            .read(&Walk::new([tree.path()]), |record| {
                seen.push(match record {
                    Record::File(f) => f.path,
                    Record::Skipped(s) => s.path,
                })
            })
            .expect("read");
        let mut walked: Vec<_> = Walk::new([tree.path()])
            .entries()
            .map(|e| match e {
                crate::Discovered::File(j) => j.path,
                crate::Discovered::Skipped(s) => s.path,
                crate::Discovered::Failed(e) => e.path().to_path_buf(),
            })
            .collect();
        assert_eq!(seen, walked);
        walked.sort();
        assert_eq!(walked.len(), 3);
        assert_eq!((finished.summary.ok, finished.summary.skipped), (2, 1));
        assert_eq!(finished.summary.jobs, 1);
    }
}
