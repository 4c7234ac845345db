//! # reader-cli
//!
//! The command-line front end of the concurrent file readers, apart from the engine
//! (`reader-core`) so that a program embedding a reader compiles none of it: the shared
//! arguments ([`Args`], a clap struct each binary flattens), the three output formats (a
//! summary for people, JSON Lines, CSV), the progress bar and `-v` log lines, what the process
//! used (CPU, peak memory, threads), and the frame every binary runs in ([`main`]), which maps
//! every way a run can end to the exit status of docs/CONTRACT.md.
//!
//! Every binary's command line also answers `--version` (the version, the git revision it
//! was built from and what it can use on this machine: [`Uses`]) and `--generate` (its man
//! page, or a shell's completion script: [`Generate`]).
//!
//! It also holds `reader-seq`, the sequential baseline: one thread, the same discovery,
//! counter and output as every concurrent reader.
//!
//! A reader binary is its description, its own flags, and a builder:
//!
//! ```no_run
//! use reader_cli::{Binary, NoFlags, Uses};
//! use reader_core::SequentialReader;
//!
//! const BINARY: Binary = Binary {
//!     name: "reader-seq",
//!     about: "Reads every file of the PATHs one after another.",
//!     uses: &[Uses::Counter],
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     reader_cli::main(BINARY, |_, _: &NoFlags| Ok(SequentialReader::new()))
//! }
//! ```
#![deny(missing_docs)]

mod app;
mod args;
mod check;
mod destination;
mod duplicates;
mod generate;
mod manual;
pub mod merge;
mod output;
mod report;
mod resources;
pub mod sums;
mod version;
mod views;

pub use app::{Binary, NoFlags, apply, main, program_name};
pub use args::{Args, Format, ProgressMode, ShardArg};
pub use generate::Generate;
pub use report::Report;
pub use resources::Resources;
pub use version::{REVISION, Uses, VERSION};
pub use views::{GroupBy, SortKey};
