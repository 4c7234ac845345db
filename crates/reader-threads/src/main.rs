//! `reader-threads`: reads every file of the PATHs with a pool of OS threads and reports
//! bytes, lines and words.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use reader_cli::{Binary, NoFlags, Uses};
use reader_threads::ThreadedReader;

const BINARY: Binary = Binary {
    name: "reader-threads",
    about: "Reads every file of the PATHs with a pool of OS threads and reports bytes, lines and words.",
    uses: &[Uses::Counter],
};

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, _: &NoFlags| {
        let mut reader = ThreadedReader::new().timeout(args.timeout);
        if let Some(threads) = args.jobs {
            reader = reader.jobs(threads);
        }
        Ok(reader)
    })
}
