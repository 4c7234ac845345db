//! `reader-threads`: reads every file of the PATHs with a pool of OS threads and reports
//! bytes, lines and words.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use reader_cli::{Binary, NoFlags, Uses, apply};
use reader_threads::ThreadedReader;

const BINARY: Binary = Binary {
    name: "reader-threads",
    about: "Reads every file of the PATHs with a pool of OS threads and reports bytes, lines and words.",
    uses: &[Uses::Counter],
};

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, _: &NoFlags| {
        let reader = ThreadedReader::new().timeout(args.timeout);
        Ok(apply(reader, args.jobs, ThreadedReader::jobs))
    })
}
