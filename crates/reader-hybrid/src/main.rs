//! `reader-hybrid`: reads every file of the PATHs, small ones on an async runtime, larger ones
//! with a thread pool and huge ones as ranges in parallel, and reports bytes, lines and words.
#![forbid(unsafe_code)]

use reader_cli::{Binary, Uses, apply};
use reader_hybrid::{HybridReader, Threshold};

const BINARY: Binary = Binary {
    name: "reader-hybrid",
    about: "Reads every file of the PATHs — small ones on an async runtime, larger ones with a \
            thread pool, huge ones as byte ranges in parallel — and reports bytes, lines and words.",
    uses: &[
        Uses::Counter,
        Uses::io_uring(reader_async::io_uring_refusal),
    ],
};

/// The hybrid model's own flags.
#[derive(Debug, clap::Args)]
struct Flags {
    /// Files smaller than SIZE go to the async path, the others to the thread pool (10KiB, 64k,
    /// 1MB, plain bytes); `auto` chooses from the tree's sizes and whether it is cached.
    /// Default: 10KiB when the tree is not cached; on a cached tree, without this flag or
    /// --split-at, every file goes to the thread pool.
    #[arg(long, value_name = "SIZE|auto")]
    threshold: Option<Threshold>,

    /// Files in flight on the async path (default: derived from the machine, fewer when the
    /// files are found cached).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    in_flight: Option<usize>,

    /// Files of at least SIZE are read as byte ranges by several threads at once (default:
    /// 64MiB, when the tree is not cached or --threshold is given).
    #[arg(long, value_name = "SIZE", value_parser = reader_core::units::parse_size)]
    split_at: Option<u64>,
}

fn main() -> std::process::ExitCode {
    reader_cli::main(BINARY, |args, flags: &Flags| {
        let reader = HybridReader::new().timeout(args.timeout);
        let reader = apply(reader, flags.threshold, HybridReader::threshold);
        let reader = apply(reader, flags.split_at, HybridReader::split_at);
        let reader = apply(reader, args.jobs, HybridReader::jobs);
        Ok(apply(reader, flags.in_flight, HybridReader::in_flight))
    })
}
