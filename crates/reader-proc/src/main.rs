//! `reader-proc`: reads every file of the PATHs with a pool of worker processes
//! (`reader-proc-worker`, found next to this program) and reports bytes, lines and words.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use reader_cli::{Binary, Uses, apply};
use reader_proc::ProcReader;

const BINARY: Binary = Binary {
    name: "reader-proc",
    about: "Reads every file of the PATHs with a pool of worker processes and reports bytes, \
            lines and words. A worker that crashes or hangs costs the file it was on, never the run.",
    uses: &[Uses::Counter],
};

/// The process model's own flags.
#[derive(Debug, clap::Args)]
struct Flags {
    /// The worker program (default: $READER_PROC_WORKER, else reader-proc-worker next to this
    /// program).
    #[arg(long, value_name = "PATH")]
    worker: Option<PathBuf>,
}

fn main() -> ExitCode {
    let program = reader_cli::program_name();
    if let Err(e) = reader_proc::signals::exit_on_signals(&program) {
        eprintln!("{program}: error: cannot set up signal handling: {e}");
        return ExitCode::from(2);
    }
    let status = reader_cli::main(BINARY, |args, flags: &Flags| {
        let reader = ProcReader::new().timeout(args.timeout);
        let reader = apply(reader, args.jobs, ProcReader::jobs);
        apply(reader, flags.worker.as_ref(), ProcReader::worker).pool()
    });
    reader_proc::signals::yield_to_signal();
    status
}
