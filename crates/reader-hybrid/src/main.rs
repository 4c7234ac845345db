//! `reader-hybrid`: reads every file of the PATHs, small ones on an async runtime, larger ones
//! with a thread pool and huge ones as ranges in parallel, and reports bytes, lines and words.

use std::process::ExitCode;

use clap::Parser;
use reader_core::{RoutePolicy, cli, parse_size};
use reader_hybrid::{HybridReader, Threshold, parse_threshold};

/// Reads every file of the PATHs — small ones on an async runtime, larger ones with a thread
/// pool, huge ones as byte ranges in parallel — and reports bytes, lines and words.
#[derive(Debug, Parser)]
#[command(name = "reader-hybrid", version, about)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,

    /// Files smaller than SIZE go to the async path, the others to the thread pool (10KiB, 64k,
    /// 1MB, plain bytes); `auto` chooses from the tree's sizes and whether it is cached.
    #[arg(long, value_name = "SIZE|auto", default_value = "10KiB", value_parser = parse_threshold)]
    threshold: Threshold,

    /// Files in flight on the async path (default: derived from the machine, fewer when the
    /// files are found cached).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=4096))]
    in_flight: Option<u16>,

    /// Files of at least SIZE are read as byte ranges by several threads at once.
    #[arg(long, value_name = "SIZE", default_value_t = RoutePolicy::DEFAULT_SPLIT_AT, value_parser = parse_size)]
    split_at: u64,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    let mut reader = HybridReader::new()
        .threshold(cli.threshold)
        .split_at(cli.split_at);
    if let Some(threads) = cli.args.jobs {
        reader = reader.jobs(threads);
    }
    if let Some(files) = cli.in_flight {
        reader = reader.in_flight(usize::from(files));
    }
    reader_core::app::main("hybrid", &cli.args, |walk, on_record| {
        let routes = reader.read(walk, on_record)?;
        Ok(reader.run_info(&routes))
    })
}
