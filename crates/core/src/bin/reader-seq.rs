//! `reader-seq`: the sequential baseline — one thread, the same discovery, counter and output
//! as every concurrent reader.

use std::process::ExitCode;

use clap::Parser;
use reader_core::{RunInfo, SequentialReader, cli};

/// Reads every file of the PATHs one after another and reports bytes, lines and words.
#[derive(Debug, Parser)]
#[command(name = "reader-seq", version, about)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    reader_core::app::main("sequential", &cli.args, |walk, on_record| {
        SequentialReader::new().read(walk, on_record)?;
        Ok(RunInfo::jobs(1))
    })
}
