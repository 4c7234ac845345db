//! The sequential reader: discovery and reading on the caller's thread, one buffer, the same
//! counter. The baseline every concurrent model is checked and timed against.

use std::ops::ControlFlow;
use std::time::Duration;

use crate::defaults::BUFFER_SIZE;
use crate::discover::{Discovered, Walk};
use crate::error::StartError;
use crate::pipeline::read_job;
use crate::record::{FileResult, Record, Worker};

/// Reads every discovered file in turn on the calling thread.
///
/// ```
/// use reader_core::{Record, SequentialReader, Walk};
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
}

impl Default for SequentialReader {
    fn default() -> Self {
        SequentialReader {
            buffer_size: BUFFER_SIZE,
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

    /// Discovers and reads everything `walk` names, handing each record to `on_record` as soon
    /// as it is known. Fails only if a PATH does not exist.
    pub fn read(&self, walk: &Walk, mut on_record: impl FnMut(Record)) -> Result<(), StartError> {
        walk.check()?;
        let mut buf = vec![0; self.buffer_size];
        let _ = walk.run(|entry| {
            let record = match entry {
                Discovered::File(job) => Record::File(read_job(&job, &mut buf, Worker::Main)),
                Discovered::Skipped(skipped) => Record::Skipped(skipped),
                Discovered::Failed(err) => Record::File(FileResult {
                    path: err.path().to_path_buf(),
                    outcome: Err(err),
                    elapsed: Duration::ZERO,
                    worker: Worker::Main,
                }),
            };
            on_record(record);
            ControlFlow::Continue(())
        });
        Ok(())
    }
}
