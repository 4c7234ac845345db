//! `reader-async`: reads every file of the PATHs with an async runtime (tokio or async-std) and
//! a bounded number of files in flight, and reports bytes, lines and words.

use std::process::ExitCode;

use reader_async::{AsyncReader, Runtime};
use reader_cli::Binary;

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
}

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, flags: &Flags| {
        let mut reader = AsyncReader::new()
            .runtime(flags.runtime)
            .timeout(args.timeout);
        if let Some(files) = args.jobs {
            reader = reader.max_in_flight(files);
        }
        Ok(reader)
    })
}
