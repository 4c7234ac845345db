//! # reader-proc
//!
//! The process model: a pool of `reader-proc-worker` processes (one per core by default) that
//! the parent drives over `ipc-channel`. Paths go out in batches and counts come back in
//! batches, each message a serde type encoded with bincode 2 and sent as bytes; file contents
//! never cross the channel. Discovery, the counter and the output are reader-core's.
//!
//! Its reason to exist is isolation: a worker that crashes, hangs past the timeout, or sends
//! nonsense costs the file it was on, never the run. Every worker asks the kernel to kill it
//! when the parent dies, and the parent reaps every worker it starts — at the end of a run,
//! when the run is stopped, and (the binary) on SIGINT/SIGTERM, see [`signals`].
//!
//! ## How a failure is charged
//!
//! Each worker holds at most two batches; a batch holds about 4 ms of reading (by the time per
//! file measured so far, 1 to 256 files). When a worker dies (any signal, any exit), sends a
//! message that does not decode or does not fit, or finishes no file for the timeout
//! ([`ProcReader::timeout`], `--timeout TIME`), it is killed and, once everything it sent has
//! been read, replaced:
//!
//! * the batch it had not started goes back to the queue;
//! * the unanswered files of the batch it was on are retried once, in *careful* batches: the
//!   worker acknowledges the batch, then answers after every file;
//! * if a careful batch fails too, the first unanswered file is exactly the one its worker was
//!   on: that file alone is reported as `worker_crashed` or `timeout`, the others are retried;
//! * but a worker killed for the timeout on a file it had said it was stuck on (a watchdog
//!   thread of the worker names a file that takes longer than the progress interval, every
//!   file before it answered) charges that file at once, as `timeout`: a retry would stall as
//!   long again.
//!
//! A worker stuck in the kernel — in a read of a stalled NFS or FUSE server, which not even
//! SIGKILL ends — cannot be reaped: it is settled a second after it was killed, left to the
//! kernel (a thread reaps it should it die before the run ends, init after), and counted in the
//! summary (`workers_left`); the run never waits for it, and the reader exits and is reaped at
//! once. Only process isolation can do that: a thread of the reader's own stuck so would keep
//! the reader from being reaped until the read ended (see the other models). A file that
//! stalls so is charged within the timeout and a second. The walk, though, is reader-core's,
//! in the parent: a directory listing it gives up on after the timeout holds a thread of the
//! parent in the kernel, as it would in any model.
//!
//! So a file is charged only after two failures while it was being read. (A worker killed from
//! outside while on a careful retry charges that retry's file: the parent cannot tell such a
//! kill from a crash.) File contents never cross the channel: paths go out as bytes, counts come back.
//!
//! The worker's reads can be made to fail on purpose for tests, with reader-core's
//! fault injection (the `fault-injection` feature and its `READER_FAULTS` variable).
//!
//! The worker program is found, in this order, where [`ProcReader::worker`] says, where the
//! environment variable [`WORKER_ENV`] says, or next to the running executable.
//!
//! A [`ProcReader`] is the configuration; [`ProcReader::start`] starts its workers and gives
//! the [`ProcPool`] that reads, reader-core's [`Schedule`], so that a pool that cannot start
//! fails before anything is read:
//!
//! ```
//! use reader_proc::ProcReader;
//!
//! let dir = tempfile::tempdir()?;
//! let reader = ProcReader::new().jobs(2).worker(dir.path().join("no-such-worker"));
//! // Without its worker program the pool cannot start: an error, and nothing is read.
//! let err = reader.start().unwrap_err();
//! assert!(err.to_string().contains("no-such-worker"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the worker installed next to the program (as `cargo build` and `cargo install` put it):
//!
//! ```no_run
//! use reader_core::{Record, Schedule, Walk};
//! use reader_proc::ProcReader;
//!
//! let mut words = 0;
//! let finished = ProcReader::new().start()?.read(&Walk::new(["docs"]), |record| {
//!     if let Record::File(file) = record {
//!         words += file.outcome.map_or(0, |c| c.words);
//!     }
//! })?;
//! println!("{words} words with {} workers", finished.summary.jobs);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod attribution;
mod batching;
mod own;
mod process;
mod protocol;
mod schedule;
pub mod signals;
pub mod worker;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reader_core::{Emitter, Jobs, RunError, Schedule, StartError, Stats, defaults};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::own::Expected;
pub use crate::process::{ConnectFailure, WorkerError};
use crate::process::{Process, Workers};

/// The environment variable naming the worker program, when the builder does not.
pub const WORKER_ENV: &str = "READER_PROC_WORKER";

/// The worker program's file name.
pub const WORKER_NAME: &str = "reader-proc-worker";

/// Descriptors the parent holds per worker: two channel ends, and while it starts the
/// connection point and its accepted connection.
const FDS_PER_WORKER: usize = 4;

/// How long a starting worker may take to connect by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of worker processes; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct ProcReader {
    jobs: usize,
    worker: Option<PathBuf>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    expected: Expected,
}

impl Default for ProcReader {
    fn default() -> Self {
        ProcReader {
            jobs: defaults::clamp_to_fds_per(defaults::cores(), FDS_PER_WORKER),
            worker: None,
            timeout: None,
            connect_timeout: CONNECT_TIMEOUT,
            expected: Expected::NOTHING,
        }
    }
}

/// What a run of the pool did, beyond its records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcStats {
    /// Workers the run started with: the summary's `jobs`.
    #[serde(skip)]
    pub workers: usize,
    /// Workers killed and replaced during the run (crashed, hung or garbled).
    #[serde(rename = "workers_replaced")]
    pub replaced: u64,
    /// Files retried because the worker holding them failed.
    #[serde(rename = "files_retried")]
    pub retried: u64,
    /// Files charged with a worker's failure (`worker_crashed` or `timeout`).
    #[serde(rename = "files_charged")]
    pub charged: u64,
    /// Workers killed that had not died when the run ended — stuck in the kernel (state D),
    /// in a read that does not end: left to the kernel, not waited for.
    #[serde(rename = "workers_left")]
    pub left: u64,
}

impl Stats for ProcStats {
    fn jobs(&self) -> usize {
        self.workers
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let mut lines = vec![(
            "workers",
            format!(
                "{} started, {} replaced; {} files retried, {} charged with a worker's failure",
                self.workers, self.replaced, self.retried, self.charged
            ),
        )];
        if self.left > 0 {
            lines.push((
                "left",
                format!(
                    "{} killed workers had not died, stuck in the kernel: left to it, not waited for",
                    self.left
                ),
            ));
        }
        lines
    }
}

/// What the scheduler needs to start replacements and time workers out.
#[derive(Debug)]
pub(crate) struct Settings {
    pub program: PathBuf,
    pub timeout: Option<Duration>,
    pub connect_timeout: Duration,
    /// The work the workers must run, and how to decode its outputs.
    pub expected: Expected,
}

impl ProcReader {
    /// A pool of one worker per core, no per-file timeout.
    pub fn new() -> ProcReader {
        ProcReader::default()
    }

    /// The number of worker processes, at least 1; never more than the open-files limit
    /// allows, since the parent holds a few descriptors for each.
    pub fn jobs(mut self, workers: usize) -> ProcReader {
        self.jobs = defaults::clamp_to_fds_per(workers, FDS_PER_WORKER);
        self
    }

    /// The worker program to run (default: see [`ProcReader::worker_program`]).
    pub fn worker(mut self, program: impl Into<PathBuf>) -> ProcReader {
        self.worker = Some(program.into());
        self
    }

    /// Kill and replace a worker that finishes no file for this long; the file it was on is
    /// reported as `timeout` (at once when the worker had named it, else after one retry). Off
    /// (`None`) by default.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ProcReader {
        self.timeout = timeout;
        self
    }

    /// Reads with a worker program of your own that runs your own work
    /// ([`worker::main_with`]), whose output is a `T`: each file's record carries it
    /// ([`FileResult::output`](reader_core::FileResult::output)). A worker that runs another
    /// work (or none) is refused at the handshake.
    pub fn output<T: DeserializeOwned + Send + Sync + 'static>(mut self) -> ProcReader {
        self.expected = Expected::of::<T>();
        self
    }

    /// How long a starting worker may take to connect before it is killed (default
    /// [`CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> ProcReader {
        self.connect_timeout = timeout;
        self
    }

    /// The number of workers the pool starts.
    pub fn workers(&self) -> usize {
        self.jobs
    }

    /// The worker program this pool would run: the one given to [`ProcReader::worker`], else
    /// the one [`WORKER_ENV`] names, else [`WORKER_NAME`] next to the running executable.
    /// Fails with a one-line message if that file does not exist.
    pub fn worker_program(&self) -> Result<PathBuf, StartError> {
        let program = match (&self.worker, std::env::var_os(WORKER_ENV)) {
            (Some(path), _) => path.clone(),
            (None, Some(path)) if !path.is_empty() => PathBuf::from(path),
            (None, _) => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join(WORKER_NAME)))
                .ok_or_else(|| {
                    StartError::Invalid(format!(
                        "cannot tell where this program is, so not where {WORKER_NAME} is \
                         (name it with --worker PATH or {WORKER_ENV})"
                    ))
                })?,
        };
        if !program.is_file() {
            return Err(StartError::Invalid(format!(
                "worker program {} not found (name it with --worker PATH or {WORKER_ENV})",
                program.display()
            )));
        }
        Ok(program)
    }

    /// Starts the pool's workers: the pool reads with those that connect. Fails if the worker
    /// program is missing or no worker can start.
    pub fn start(&self) -> Result<ProcPool, StartError> {
        let pool = self.pool()?;
        pool.prepare()?;
        Ok(pool)
    }

    /// The pool, its workers not started yet: a run starts them while discovery already walks
    /// ([`Schedule::prepare`]), and fails as [`ProcReader::start`] would if none can start —
    /// before anything is reported. Fails now only if the worker program is missing. This is
    /// what the `reader-proc` binary runs: starting a worker takes about a millisecond, which
    /// the walk does not wait for, and reading begins as soon as the first has connected.
    pub fn pool(&self) -> Result<ProcPool, StartError> {
        Ok(ProcPool {
            settings: Settings {
                program: self.worker_program()?,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                expected: self.expected,
            },
            jobs: self.jobs,
            started: Mutex::new(Workers::default()),
        })
    }
}

/// A pool of worker processes, reader-core's [`Schedule`]. A run uses the workers
/// [`ProcReader::start`] started, or starts them while discovery walks (a pool from
/// [`ProcReader::pool`], or a later run).
#[derive(Debug)]
pub struct ProcPool {
    settings: Settings,
    jobs: usize,
    started: Mutex<Workers>,
}

impl Schedule for ProcPool {
    type Stats = ProcStats;

    fn strategy(&self) -> &'static str {
        "proc"
    }

    /// Starts the workers unless some are waiting already (those of [`ProcReader::start`]),
    /// and waits for the first to connect: the others connect while the run reads.
    fn prepare(&self) -> Result<(), StartError> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        if started.is_empty() {
            *started = start_pool(&self.settings, self.jobs)?;
        }
        Ok(())
    }

    fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<ProcStats, RunError> {
        let started =
            std::mem::take(&mut *self.started.lock().unwrap_or_else(PoisonError::into_inner));
        let workers = if started.is_empty() {
            start_pool(&self.settings, self.jobs).map_err(|err| RunError::Model(Box::new(err)))?
        } else {
            started
        };
        schedule::run(workers, jobs, out, &self.settings)
    }
}

/// Starts `count` workers at once and waits for the first that connects; the others connect
/// while the run already reads ([`Workers::starting`]). Fails only if none connects.
fn start_pool(settings: &Settings, count: usize) -> Result<Workers, StartError> {
    let (program, connect_timeout) = (&settings.program, settings.connect_timeout);
    warm_up_ipc()?;
    let mut starting = VecDeque::with_capacity(count);
    let mut last_error = None;
    for _ in 0..count {
        match Process::spawn(program, settings.expected.name) {
            Ok(worker) => starting.push_back(worker),
            Err(e) => {
                // A program that cannot run once will not run the next time either.
                last_error = Some(e);
                break;
            }
        }
    }
    while let Some(worker) = starting.pop_front() {
        match worker.connect(connect_timeout) {
            Ok(process) => {
                return Ok(Workers {
                    ready: vec![process],
                    starting: starting.into(),
                });
            }
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        Some(e) => Err(StartError::Model(Box::new(e))),
        None => Err(StartError::Invalid("no worker was asked for".into())),
    }
}

/// One round trip over a channel of our own: ipc-channel sets up process-wide state on first
/// use and panics if it cannot (no descriptor left); better now, while descriptors are
/// plentiful, and as an error.
fn warm_up_ipc() -> Result<(), StartError> {
    let failed = |e: &dyn std::fmt::Display| {
        StartError::Model(format!("cannot use ipc-channel: {e}").into())
    };
    let (tx, rx) = ipc_channel::ipc::bytes_channel().map_err(|e| failed(&e))?;
    tx.send(b"warm-up").map_err(|e| failed(&e))?;
    rx.recv().map_err(|e| failed(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ProcReader>();
        assert_send_sync::<ProcPool>();
        assert_send_sync::<ProcStats>();
    }

    #[test]
    fn jobs_are_at_least_one() {
        assert_eq!(ProcReader::new().jobs(0).workers(), 1);
    }

    #[test]
    fn a_named_worker_that_does_not_exist_is_a_start_error() {
        let err = ProcReader::new()
            .worker("/nonexistent/reader-proc-worker")
            .worker_program()
            .expect_err("missing");
        assert!(err.to_string().contains("not found"), "{err}");
    }
}
