//! # reader-core
//!
//! The engine every concurrent file reader shares — everything that is not a concurrency
//! model: discovery ([`Walk`]), reading one file ([`read_job`], [`read_file`]) apart from
//! the work done on its bytes ([`Work`]: counting with the streaming [`Counter`], or your
//! own), the records and errors a run reports, the job queue ([`Jobs`]) and the
//! record channel ([`Emitter`]), the per-file time limit of the models that read on threads of
//! their own ([`timed_pool`], [`stuck_reads`]) and the walk's limit on directory listings
//! ([`Walk::timeout`], [`stuck_listings`]), defaults derived from
//! the machine, and the sequential baseline ([`SequentialReader`]).
//!
//! A model implements [`Schedule`] — how the files of a run are read — and [`read`] does the
//! rest: discovery beside the schedule, every record to the caller's [`Sink`] as it completes,
//! the totals in a [`Summary`], and the promise that every discovered entry is reported once,
//! whatever the schedule does. The command line, output formats and progress bar live in
//! `reader-cli`; this crate pulls in none of them.
//!
//! ```
//! use reader_core::{Counts, Record, Schedule, SequentialReader, Walk};
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "hello world\n")?;
//! let mut total = Counts::default();
//! let finished = SequentialReader::new().read(&Walk::new([dir.path()]), |record| {
//!     if let Record::File(file) = record {
//!         total += file.outcome.expect("readable");
//!     }
//! })?;
//! assert_eq!(total, Counts { bytes: 12, lines: 1, words: 2 });
//! assert_eq!(finished.summary.counts(), total);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// The crate's `unsafe` is kept in three files, each allowing it: `sys.rs` (every system call),
// `read/mapped.rs` (mappings under a read lease) and `work/count.rs` (the SIMD kernels).
#![deny(unsafe_code)]

pub mod defaults;
mod duplicates;
pub mod faults;
mod read;
mod record;
mod schedule;
mod sync;
mod sys;
pub mod units;
mod walk;
mod work;

pub use read::extent;
pub use record::names;

pub use duplicates::{DuplicateGroup, DuplicateSearch, Duplicates, Member};
pub use read::extent::PSEUDO_FILE_LIMIT;
pub use read::file_size;
pub use read::{
    CACHED_READ_LIMIT, HandOff, RangedFile, ReadUnless, count_file, count_sized, read_cached,
    read_file, read_from_cache, read_job, read_unless_larger,
};
pub use read::{MAP_FROM, size_is_trusted};
pub use record::{ErrorKind, FileError, ModelError, RunError, StartError, panic_message};
pub use record::{FileResult, Record, SkipReason, Skipped, Summary, Worker};
pub use schedule::SequentialReader;
pub use schedule::{
    Concurrency, Feed, Finished, Schedule, Sink, Stats, pool, read, read_jobs, spawn_schedule,
};
pub use schedule::{Emitter, Tally};
pub use schedule::{JobSender, Jobs};
pub use schedule::{StuckRead, stuck_reads, timed_pool};
pub use sync::lock;
pub use walk::stuck_listings;
pub use walk::{Discovered, Entries, FileJob, Walk};
pub use walk::{Part, Shard, key_hash};
pub use work::{
    Algorithm, Algorithms, Blake3, Blake3File, Blake3Range, Blake3RangeFile, Blake3Subtree, Digest,
    Sha256, Sha256File, TreeDigest, Xxh3, Xxh3File,
};
pub use work::{Count, CountRange, FileWork, JoinRanges, Length, ReadOnly, Work};
pub use work::{Counter, Counts, Edges, Kernel, RangeCounts, is_space};
pub use work::{CustomWork, Output};
pub use work::{Measure, MeasureFile, MeasureRangeFile, MeasureRanges, Measured, MeasuredRange};
