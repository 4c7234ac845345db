//! # reader-core
//!
//! Everything the concurrent file readers share that is not a concurrency model: the result
//! types, discovery, the streaming counter, the size-routing policy, defaults derived from the
//! machine, the shared command line, the output sinks with progress and summary, and the
//! sequential baseline reader.
//!
//! A strategy crate (threads, async, hybrid, proc) decides only how files are scheduled; it
//! plugs into [`pipeline::run`] (or drives [`count_file`] itself) and reports [`Record`]s.
//!
//! ```
//! use reader_core::{Counts, Record, SequentialReader, Walk};
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "hello world\n")?;
//! let mut total = Counts::default();
//! SequentialReader::new().read(&Walk::new([dir.path()]), |record| {
//!     if let Record::File(file) = record {
//!         total += file.outcome.expect("readable");
//!     }
//! })?;
//! assert_eq!(total, Counts { bytes: 12, lines: 1, words: 2 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod app;
pub mod cli;
mod count;
pub mod defaults;
mod discover;
mod error;
pub mod pipeline;
mod read;
mod record;
mod report;
pub mod resources;
mod route;
mod sequential;

pub use app::RunInfo;
pub use count::{Counter, Counts, RangeCounts, is_space};
pub use discover::{Discovered, FileJob, Walk};
pub use error::{ErrorKind, FileError, StartError};
pub use pipeline::{Emitter, Jobs, read_job};
pub use read::{count_file, count_range, count_sized, open_regular};
pub use record::{FileResult, Record, Resources, SkipReason, Skipped, Summary, Worker};
pub use report::Report;
pub use route::{Route, RoutePolicy, parse_size};
pub use sequential::SequentialReader;
