//! `reader-threads`: reads every file of the PATHs with a pool of OS threads and reports
//! bytes, lines and words.

use std::process::ExitCode;

use clap::Parser;
use reader_core::{RunInfo, cli, defaults};
use reader_threads::ThreadedReader;

/// Reads every file of the PATHs with a pool of OS threads and reports bytes, lines and words.
#[derive(Debug, Parser)]
#[command(name = "reader-threads", version, about)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    let reader = ThreadedReader::new().jobs(cli.args.jobs.unwrap_or_else(defaults::threads));
    reader_core::app::main("threads", &cli.args, |walk, on_record| {
        reader.read(walk, on_record)?;
        Ok(RunInfo::jobs(reader.threads()))
    })
}
