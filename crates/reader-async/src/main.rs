//! `reader-async`: reads every file of the PATHs with an async runtime (tokio or async-std) and
//! a bounded number of files in flight, and reports bytes, lines and words.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use reader_async::{AsyncReader, Runtime};
use reader_core::{cli, defaults};

/// Reads every file of the PATHs with an async runtime and a bounded number of files in
/// flight, and reports bytes, lines and words.
#[derive(Debug, Parser)]
#[command(name = "reader-async", version, about)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,

    /// The async runtime (async-std is discontinued upstream in favour of smol; kept for
    /// comparison).
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    runtime: Runtime,

    /// Report a file whose read takes longer than SECS as `timeout` and go on (default: wait).
    #[arg(long, value_name = "SECS", value_parser = cli::parse_timeout)]
    timeout: Option<Duration>,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    let reader = AsyncReader::new()
        .runtime(cli.runtime)
        .max_in_flight(cli.args.jobs.unwrap_or_else(defaults::in_flight))
        .timeout(cli.timeout);
    reader_core::app::main("async", &cli.args, |walk, on_record| {
        reader.read_blocking(walk, on_record)?;
        Ok(reader.run_info())
    })
}
