//! The records a run produces — one per discovered entry — and the summary that closes it.
//!
//! A record's JSON, both ways, is the `json` module's (docs/CONTRACT.md): its field names are a
//! contract; a path that is not UTF-8 is written losslessly (see [`crate::record::names`]).

mod error;
mod json;
pub mod names;

pub use error::{ErrorKind, FileError, ModelError, RunError, StartError, panic_message};

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::walk::FileJob;
use crate::walk::Part;
use crate::work::Counts;
use crate::work::Output;
use crate::work::{Blake3Range, Blake3Subtree, Digest};
use crate::work::{Measured, MeasuredRange};

/// Who read a file: shown as `thread-2`, `task-7`, `pid-4242`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Worker {
    /// The caller's own thread (the sequential reader).
    Main,
    /// An OS thread of a pool, by index.
    Thread(u32),
    /// An async task slot, by index.
    Task(u32),
    /// A worker process, by pid.
    Process(u32),
    /// Several threads reading byte ranges of one file.
    Split(u32),
}

impl fmt::Display for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Worker::Main => f.write_str("main"),
            Worker::Thread(i) => write!(f, "thread-{i}"),
            Worker::Task(i) => write!(f, "task-{i}"),
            Worker::Process(pid) => write!(f, "pid-{pid}"),
            Worker::Split(n) => write!(f, "split-{n}"),
        }
    }
}

impl std::str::FromStr for Worker {
    type Err = String;

    /// The inverse of `Display`: `main`, `thread-2`, `task-7`, `pid-4242`, `split-4`.
    fn from_str(text: &str) -> Result<Worker, String> {
        if text == "main" {
            return Ok(Worker::Main);
        }
        let invalid =
            || format!("'{text}' is not a worker (main, thread-N, task-N, pid-N, split-N)");
        let (kind, number) = text.rsplit_once('-').ok_or_else(invalid)?;
        let number: u32 = number.parse().map_err(|_| invalid())?;
        match kind {
            "thread" => Ok(Worker::Thread(number)),
            "task" => Ok(Worker::Task(number)),
            "pid" => Ok(Worker::Process(number)),
            "split" => Ok(Worker::Split(number)),
            _ => Err(invalid()),
        }
    }
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileResult {
    /// The path as discovered.
    pub path: PathBuf,
    /// Its counts, or why it could not be read.
    pub outcome: Result<Counts, FileError>,
    /// Its digests ([`FileJob::digests`]), in the order of [`Algorithm::ALL`](crate::Algorithm::ALL);
    /// none when it was not read, or when none were asked for.
    pub digests: Vec<Digest>,
    /// What the walk's own work made of it ([`Walk::work`](crate::Walk::work)), if it has one
    /// and the file was read.
    pub output: Option<Output>,
    /// Time spent reading it.
    pub elapsed: Duration,
    /// Who read it.
    pub worker: Worker,
    /// The byte range of the file this result is for, when the file is split over shards
    /// ([`FileJob::part`]), with what the read found at its edges; `None`: the whole file.
    pub part: Option<Part>,
    /// The subtrees of BLAKE3's tree that this part holds, in order, each by its chaining
    /// value ([`Blake3Range::subtrees`](crate::Blake3Range::subtrees)): what `reader-merge`
    /// joins into the whole file's BLAKE3. Only for a part read with BLAKE3 asked for (and
    /// empty when its range held no byte); `None` otherwise.
    pub blake3_subtrees: Option<Vec<Blake3Subtree>>,
}

impl FileResult {
    /// The result of reading `job`: its path (moved, not copied) and part, with `outcome`.
    pub fn of(
        job: FileJob,
        outcome: Result<Counts, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        FileResult {
            path: job.path,
            outcome,
            digests: Vec::new(),
            output: None,
            elapsed,
            worker,
            part: job.part,
            blake3_subtrees: None,
        }
    }

    /// The result of reading `job` with [`Measure`](crate::Measure): its counts and its
    /// digests.
    pub fn measured(
        job: FileJob,
        outcome: Result<Measured, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        match outcome {
            Ok(Measured {
                counts,
                digests,
                output,
            }) => FileResult {
                digests,
                output,
                ..FileResult::of(job, Ok(counts), elapsed, worker)
            },
            Err(err) => FileResult::of(job, Err(err), elapsed, worker),
        }
    }

    /// The result of reading the byte range of `job` ([`FileJob::part`]) with
    /// [`MeasureRanges`](crate::MeasureRanges): the range's counts, what joining it to its
    /// neighbours needs (its edges, in the part), and its BLAKE3 subtrees when BLAKE3 was
    /// asked for ([`FileResult::blake3_subtrees`]).
    pub fn measured_range(
        job: FileJob,
        outcome: Result<MeasuredRange, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        let mut part = job.part;
        let (outcome, blake3_subtrees) = match outcome {
            Ok(range) => {
                if let Some(part) = &mut part {
                    part.edges = range.counts.edges();
                }
                let subtrees = range.blake3().map(Blake3Range::subtrees);
                (Ok(range.counts.counts()), subtrees)
            }
            Err(err) => (Err(err), None),
        };
        FileResult {
            part,
            blake3_subtrees,
            ..FileResult::of(job, outcome, elapsed, worker)
        }
    }

    /// The record of an entry that failed before any reader got to it (discovery could not
    /// look at it): no time spent, no worker.
    pub fn failed(err: FileError) -> FileResult {
        FileResult {
            path: err.path().to_path_buf(),
            outcome: Err(err),
            digests: Vec::new(),
            output: None,
            elapsed: Duration::ZERO,
            worker: Worker::Main,
            part: None,
            blake3_subtrees: None,
        }
    }

    /// The record of a file that no reader is left to read: `worker_crashed`, with the
    /// message `not read: {why}`.
    pub fn abandoned(job: FileJob, why: &str) -> FileResult {
        let part = job.part;
        FileResult {
            digests: Vec::new(),
            output: None,
            part,
            ..FileResult::failed(FileError::not_read(job.path, why))
        }
    }
}

/// Why an entry was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A named pipe: opening one can block forever.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A block device.
    BlockDevice,
    /// A character device (`/dev/zero` never ends).
    CharDevice,
    /// A symbolic link, not followed without `--follow`.
    Symlink,
    /// A regular file smaller than the walk's minimum size (`--min-size`).
    TooSmall,
    /// A regular file larger than the walk's maximum size (`--max-size`).
    TooLarge,
}

impl SkipReason {
    /// The stable name used in JSON and CSV output.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::BlockDevice => "block_device",
            SkipReason::CharDevice => "char_device",
            SkipReason::Symlink => "symlink",
            SkipReason::TooSmall => "too_small",
            SkipReason::TooLarge => "too_large",
        }
    }
}

/// An entry that was discovered but deliberately not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path as discovered.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: SkipReason,
}

/// One line of output: every discovered entry yields exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A file that was read, or failed.
    File(FileResult),
    /// An entry that was not read.
    Skipped(Skipped),
}

/// The totals of a run, as its records reached the sink: what the summary line reports.
///
/// `files = ok + failed`; `skipped` counts the entries not read; `bytes`, `lines` and `words`
/// sum the files read. The byte ranges of files split over shards count as files, and
/// `parts` says how many of them are such ranges (only `reader-merge` can total their words
/// exactly, by joining them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The concurrency model: `sequential`, `threads`, `async`, `hybrid`, `proc`.
    pub strategy: &'static str,
    /// Threads, processes or files in flight ([`Stats::jobs`](crate::Stats::jobs)).
    pub jobs: usize,
    /// Files attempted: `ok + failed`.
    pub files: u64,
    /// Files read.
    pub ok: u64,
    /// Files that failed.
    pub failed: u64,
    /// Entries not read.
    pub skipped: u64,
    /// Bytes read, over every file read.
    pub bytes: u64,
    /// Lines, over every file read.
    pub lines: u64,
    /// Words, over every file read.
    pub words: u64,
    /// Wall time of the whole run, in milliseconds.
    pub elapsed_ms: f64,
    /// Reads given up on after the per-file timeout that had not ended when the run did
    /// ([`stuck_reads`](crate::stuck_reads)): each holds a thread in the kernel, and the
    /// process cannot be reaped before they end. Not written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub stuck_reads: u64,
    /// Directory listings given up on after the time limit, or made ahead of the walk, that had
    /// not ended a moment after the run did ([`stuck_listings`](crate::stuck_listings)): each
    /// holds a thread in the kernel, and the process cannot be reaped before they end. Not
    /// written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub stuck_listings: u64,
    /// How many of `files` are byte ranges of files split over shards (`--shard-split`). Not
    /// written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub parts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    /// A summary of nothing yet, for a run of `strategy`.
    pub fn new(strategy: &'static str) -> Summary {
        Summary {
            strategy,
            ..Summary::default()
        }
    }

    /// Counts one record.
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::File(file) => {
                self.files += 1;
                self.parts += u64::from(file.part.is_some());
                match &file.outcome {
                    Ok(counts) => {
                        self.ok += 1;
                        self.bytes += counts.bytes;
                        self.lines += counts.lines;
                        self.words += counts.words;
                    }
                    Err(_) => self.failed += 1,
                }
            }
            Record::Skipped(_) => self.skipped += 1,
        }
    }

    /// The totals of the files read.
    pub fn counts(&self) -> Counts {
        Counts {
            bytes: self.bytes,
            lines: self.lines,
            words: self.words,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_read_back_as_they_are_shown() {
        for worker in [
            Worker::Main,
            Worker::Thread(2),
            Worker::Task(0),
            Worker::Process(4242),
            Worker::Split(4),
        ] {
            assert_eq!(worker.to_string().parse::<Worker>(), Ok(worker));
        }
        for bad in ["", "thread", "thread-", "thread-x", "fiber-1", "main-1"] {
            assert!(bad.parse::<Worker>().is_err(), "{bad}");
        }
    }
}
