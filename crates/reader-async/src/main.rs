//! `reader-async`: reads every file of the PATHs with an async runtime (tokio or async-std) and
//! a bounded number of files in flight, and reports bytes, lines and words.

use std::process::ExitCode;
use std::time::Duration;

use reader_async::{AsyncReader, Runtime};
use reader_cli::Binary;
use reader_core::units::parse_timeout;

const BINARY: Binary = Binary {
    name: "reader-async",
    about: "Reads every file of the PATHs with an async runtime and a bounded number of files in \
            flight, and reports bytes, lines and words.",
};

/// The async model's own flags.
#[derive(Debug, clap::Args)]
struct Flags {
    /// The async runtime: tokio or async-std (async-std is discontinued upstream in favour of
    /// smol; kept for comparison).
    #[arg(long, value_name = "RUNTIME", default_value = "tokio")]
    runtime: Runtime,

    /// Report a file whose read takes longer than TIME (2, 2s, 500ms) as `timeout` and go on
    /// (default: wait).
    #[arg(long, value_name = "TIME", value_parser = parse_timeout)]
    timeout: Option<Duration>,
}

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, flags: &Flags| {
        let mut reader = AsyncReader::new()
            .runtime(flags.runtime)
            .timeout(flags.timeout);
        if let Some(files) = args.jobs {
            reader = reader.max_in_flight(files);
        }
        Ok(reader)
    })
}
