//! # reader-core
//!
//! The engine every concurrent file reader shares — everything that is not a concurrency
//! model: discovery ([`Walk`]), reading one file ([`read_job`], [`read_file`]) apart from
//! the work done on its bytes ([`Work`]: counting with the streaming [`Counter`], or your
//! own), the records and errors a run reports, the job queue ([`Jobs`]) and the
//! record channel ([`Emitter`]), the per-file time limit of the models that read on threads of
//! their own ([`timed_pool`], [`stuck_reads`]) and the walk's limit on directory listings
//! ([`Walk::timeout`], [`stuck_listings`]), the hybrid's routing policy, defaults derived from
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

mod ahead;
mod count;
mod custom;
mod deadline;
pub mod defaults;
mod descend;
mod digest;
mod dirfd;
mod discover;
mod duplicates;
mod emit;
mod error;
pub mod extent;
pub mod faults;
mod ignores;
mod listing;
mod long;
mod mapped;
mod measure;
pub mod names;
mod patience;
mod queue;
mod read;
mod record;
mod route;
mod run;
mod sequential;
mod shard;
mod sync;
pub mod units;
mod work;

pub use count::{Counter, Counts, Edges, Kernel, RangeCounts, is_space};
pub use custom::{CustomWork, Output};
pub use deadline::{StuckRead, stuck_reads, timed_pool};
pub use digest::{
    Algorithm, Algorithms, Blake3, Blake3File, Blake3Range, Blake3RangeFile, Blake3Subtree, Digest,
    Sha256, Sha256File, TreeDigest, Xxh3, Xxh3File,
};
pub use dirfd::file_size;
pub use discover::{Discovered, Entries, FileJob, Walk};
pub use duplicates::{DuplicateGroup, DuplicateSearch, Duplicates, Member};
pub use emit::{Emitter, Tally};
pub use error::{ErrorKind, FileError, ModelError, RunError, StartError, panic_message};
pub use extent::PSEUDO_FILE_LIMIT;
pub use mapped::{Lease, MAP_FROM, size_is_trusted};
pub use measure::{Measure, MeasureFile, MeasureRangeFile, MeasureRanges, Measured, MeasuredRange};
pub use patience::stuck_listings;
pub use queue::{JobSender, Jobs};
pub use read::{
    CACHED_READ_LIMIT, HandOff, ReadUnless, count_file, count_sized, open_regular, read_cached,
    read_file, read_from_cache, read_job, read_range, read_unless_larger,
};
pub use record::{FileResult, Record, SkipReason, Skipped, Summary, Worker};
pub use route::{Route, RoutePolicy};
pub use run::{
    Concurrency, Feed, Finished, Schedule, Sink, Stats, pool, read, read_jobs, spawn_schedule,
};
pub use sequential::SequentialReader;
pub use shard::{Part, Shard, key_hash};
pub use sync::lock;
pub use work::{Count, CountRange, FileWork, JoinRanges, Length, ReadOnly, Work};
