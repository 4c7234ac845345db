//! `reader-async`: reads every file of the PATHs with an async runtime (tokio or async-std) and
//! a bounded number of files in flight, and reports bytes, lines and words.

use std::process::ExitCode;

use reader_async::{AsyncReader, Runtime};
use reader_cli::{Binary, Uses, apply};

const BINARY: Binary = Binary {
    name: "reader-async",
    about: "Reads every file of the PATHs with an async runtime and a bounded number of files in \
            flight, and reports bytes, lines and words.",
    uses: &[
        Uses::Counter,
        Uses::io_uring(reader_async::io_uring_refusal),
    ],
};

/// The async model's own flags.
#[derive(Debug, clap::Args)]
struct Flags {
    /// The async runtime: tokio, async-std (discontinued upstream in favour of smol; kept for
    /// comparison) or io-uring (reads as io_uring operations; where the kernel refuses
    /// io_uring, says so on stderr and runs on tokio).
    #[arg(long, value_name = "RUNTIME", default_value = "tokio")]
    runtime: Runtime,
}

fn main() -> ExitCode {
    reader_async::cap_blocking_pool();
    reader_cli::main(BINARY, |args, flags: &Flags| {
        if flags.runtime == Runtime::IoUring
            && let Some(why) = reader_async::io_uring_refusal()
        {
            eprintln!("{}: {why}; reading on tokio instead", BINARY.name);
        }
        let reader = AsyncReader::new().runtime(flags.runtime);
        let reader = reader.timeout(args.timeout);
        Ok(apply(reader, args.jobs, AsyncReader::max_in_flight))
    })
}
