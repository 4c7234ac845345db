//! The frame every reader binary runs in: validate the PATHs (exit 2 with one line if one is
//! missing), set up the report, run the strategy, write the summary, return the exit status.

use std::process::ExitCode;

use crate::cli::Args;
use crate::discover::Walk;
use crate::error::StartError;
use crate::record::Record;
use crate::report::Report;

/// What a strategy tells the frame after its run.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The concurrency it used (threads, processes, files in flight).
    pub jobs: usize,
    /// Model-specific figures for the summary.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RunInfo {
    /// A run with `jobs` concurrency and nothing else to say.
    pub fn jobs(jobs: usize) -> RunInfo {
        RunInfo {
            jobs,
            extra: serde_json::Map::new(),
        }
    }
}

/// The name this binary was started as (`reader-threads`…), for messages.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "reader".into())
}

/// Runs one reader binary: `run` gets the discovery the arguments ask for and a callback for
/// every record, and returns what it used. Prints a one-line error and returns status 2 if the
/// run cannot start.
pub fn main<F>(strategy: &str, args: &Args, run: F) -> ExitCode
where
    F: FnOnce(&Walk, &mut dyn FnMut(Record)) -> Result<RunInfo, StartError>,
{
    let program = program_name();
    let walk = args.walk();
    if let Err(err) = walk.check() {
        return start_failed(&program, &err);
    }
    let mut report = Report::new(&program, strategy, args);
    match run(&walk, &mut |record| report.record(record)) {
        Ok(info) => report.finish(info.jobs, info.extra),
        Err(err) => start_failed(&program, &err),
    }
}

/// Prints `program: error: …` on stderr and gives exit status 2.
pub fn start_failed(program: &str, err: &StartError) -> ExitCode {
    eprintln!("{program}: error: {err}");
    ExitCode::from(2)
}
