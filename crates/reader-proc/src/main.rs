//! `reader-proc`: reads every file of the PATHs with a pool of worker processes
//! (`reader-proc-worker`, found next to this program) and reports bytes, lines and words.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use reader_core::{RunInfo, cli};
use reader_proc::ProcReader;

/// Reads every file of the PATHs with a pool of worker processes and reports bytes, lines and
/// words. A worker that crashes or hangs costs the file it was on, never the run.
#[derive(Debug, Parser)]
#[command(name = "reader-proc", version, about)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,

    /// Kill and replace a worker that finishes no file for SECS (fractions allowed); the file
    /// it was on is retried once, then reported as `timeout` (default: no timeout).
    #[arg(long, value_name = "SECS", value_parser = cli::parse_timeout)]
    timeout: Option<Duration>,

    /// The worker program (default: $READER_PROC_WORKER, else reader-proc-worker next to this
    /// program).
    #[arg(long, value_name = "PATH")]
    worker: Option<PathBuf>,
}

fn main() -> ExitCode {
    let program = reader_core::app::program_name();
    if let Err(e) = reader_proc::signals::exit_on_signals(&program) {
        eprintln!("{program}: error: cannot set up signal handling: {e}");
        return ExitCode::from(2);
    }
    let cli: Cli = cli::parse();
    let mut reader = ProcReader::new().timeout(cli.timeout);
    if let Some(jobs) = cli.args.jobs {
        reader = reader.jobs(jobs);
    }
    if let Some(worker) = cli.worker {
        reader = reader.worker(worker);
    }
    reader_core::app::main("proc", &cli.args, |walk, on_record| {
        let stats = reader.read(walk, on_record)?;
        let mut info = RunInfo::jobs(stats.workers);
        for (key, value) in [
            ("workers_replaced", stats.replaced),
            ("files_retried", stats.retried),
            ("files_charged", stats.charged),
        ] {
            info.extra.insert(key.into(), value.into());
        }
        Ok(info)
    })
}
