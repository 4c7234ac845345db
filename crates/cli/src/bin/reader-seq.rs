//! `reader-seq`: the sequential baseline — one thread, the same discovery, counter and output
//! as every concurrent reader.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use reader_cli::{Binary, NoFlags, Uses};
use reader_core::SequentialReader;

const BINARY: Binary = Binary {
    name: "reader-seq",
    about: "Reads every file of the PATHs one after another and reports bytes, lines and words.",
    uses: &[Uses::Counter],
};

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, _: &NoFlags| {
        Ok(SequentialReader::new().timeout(args.timeout))
    })
}
