//! # reader-async
//!
//! The async model: one async runtime — tokio by default, async-std selectable — and a
//! semaphore bounding the files in flight, with results streaming out as files complete.
//! Discovery runs on its own thread (reader-core's [`pipeline`]) and feeds a shared queue.
//!
//! ## What it really does, and what it costs
//!
//! Neither runtime has asynchronous file I/O on Linux: `tokio::fs` and `async_std::fs` run every
//! operation (open, metadata, each read, close) as a closure on a pool of blocking threads and
//! hand the result back to a task — two thread hand-offs per operation. A reader built the
//! obvious way (one task per file, `tokio::fs::File` read in chunks) pays several hand-offs per
//! file and is three to five times slower than plain threads on a warm cache.
//!
//! So this crate keeps the model — a runtime, a semaphore, tasks, streaming results — and makes
//! the hand-offs rare: `in_flight` tasks ("lanes") each send one *hop* at a time to the
//! runtime's blocking pool, and a hop takes its share of the queue — what waits divided by the
//! lanes, at most [`AsyncReader::files_per_hop`] — and opens, reads (in fixed-size chunks
//! through reader-core's counter, with the lane's reused buffer) and counts those files one
//! after another. Many small files thus go 16 to a hop; a few large ones go one to a lane and
//! are read side by side; the last batches are small, so the lanes end together. A hop that has
//! read its share goes on with jobs already waiting, up to that many files, before it returns
//! to the runtime; and lanes start as jobs wait for them, so a few files start a few lanes.
//! Every hop holds a semaphore permit while it runs, so at most `in_flight` files are open at once — never more than `RLIMIT_NOFILE` allows
//! ([`defaults::clamp_to_fds`]). On a cold cache this puts `in_flight` reads before the device at
//! once, which is what decides speed there.
//!
//! The honest summary: on Linux this is a thread pool driven by an async runtime. It earns its
//! place where many reads must be in flight at once (a cold cache, network file systems) and
//! as a component of programs that are async already; on a warm cache plain threads do the same
//! work with fewer threads. The figures below, measured on the project's 2-core machine, show it.
//!
//! ## What was measured
//!
//! On the project's 2-core machine, with the default 50 files in flight, on three trees —
//! *small*: 20,000 files of 256 B–2 KiB; *medium*: 2,000 files of 16–256 KiB; *mixed*: 1,000
//! files of mixed sizes — warm (page cache filled by a first run) and cold (caches dropped
//! before each run). Files per second, median of 5 warm or 3 cold runs, release build, all
//! designs interleaved in each round. The machine was shared with other builds while measuring:
//! single runs varied by ±30 %, so differences under about 15 % mean nothing.
//!
//! | design | small warm | small cold | medium warm | medium cold | mixed warm | mixed cold |
//! |---|---|---|---|---|---|---|
//! | `reader-threads` (3 threads), for reference | 139k | 17.9k | 26.8k | 3.2k | 26.8k | 4.4k |
//! | tokio, 1 file a hop | 83k | 21.7k | 21.6k | 3.6k | 17.3k | 5.2k |
//! | **tokio, 16 files a hop** (kept) | 126k | 32.0k | 23.0k | 4.0k | 26.0k | 4.5k |
//! | tokio, 64 files a hop | 130k | 29.8k | 23.4k | 3.8k | 22.4k | 3.2k |
//! | tokio multi-threaded runtime, 16 a hop | 112k | 29.0k | 18.2k | 4.4k | 24.3k | 3.2k |
//! | async-std, 1 file a hop | 89k | 29.6k | 22.4k | 4.6k | 23.6k | 6.2k |
//! | **async-std, 16 files a hop** (kept) | 108k | 37.0k | 19.9k | 3.9k | 24.9k | 5.7k |
//! | async-std, 64 files a hop | 105k | 38.8k | 23.3k | 4.2k | 28.6k | 4.2k |
//!
//! The designs above took fixed batches; the kept design takes guided ones (at most 16),
//! which measured the same on these trees within the noise, and lets 100 files of 2 GiB be read
//! side by side instead of 16 to a lane (peak RSS 31 MiB with `--jobs 100`).
//!
//! The kept design against the other readers, from one run of 7 warm / 3 cold rounds
//! interleaved (median; ratios are speed against `reader-threads`; load average 7–17 from
//! other builds, so the absolute figures are low and noisy, the ratios less so):
//!
//! | reader | small warm | small cold | medium warm | medium cold |
//! |---|---|---|---|---|
//! | `reader-seq` | 74k (0.94×) | 6.9k (0.53×) | 11.0k (0.80×) | 1.9k (0.63×) |
//! | `reader-threads` | 78k (1×) | 12.9k (1×) | 13.6k (1×) | 2.9k (1×) |
//! | `reader-async`, tokio | 71k (0.91×) | 37.2k (2.9×) | 13.9k (1.02×) | 4.7k (1.6×) |
//! | `reader-async`, async-std | 71k (0.91×) | 33.3k (2.6×) | 15.5k (1.14×) | 4.6k (1.6×) |
//!
//! A second such run minutes later gave, against `reader-threads`: small warm 0.75× (tokio)
//! and 1.17× (async-std), medium warm 1.22× and 1.01×, small cold 1.9× and 1.4×, medium cold
//! 1.2× and 1.2×. Warm, the two runtimes and threads trade places from run to run; cold, the
//! async model is ahead in every run.
//!
//! What the figures say:
//!
//! - A hand-off to the blocking pool costs a few microseconds, about as much as reading a
//!   small warm file. One hop per file makes tokio 40 % slower than threads on small files;
//!   16 files a hop brings it within about 10 %. More than 16 gains nothing measurable and
//!   leaves lanes idle at the end of a run, when the last batches are uneven.
//! - On a cold cache the async model wins: 50 reads in flight keep the (virtual) disk busier
//!   than 3 threads do: 1.2–3× faster on small and medium files, across the runs.
//! - tokio's blocking pool, left alone, grows towards its 512-thread limit because a hop often
//!   finds no thread idle at the instant it is sent: with one file a hop that cost another 40 %
//!   on small warm files (48k files/s against 83k). The blocking entry points cap it at one
//!   thread a lane.
//! - A multi-threaded tokio runtime is slower than a current-thread one here: the lanes only
//!   wait, and more runtime threads only compete with the readers for two cores.
//! - For the record, the naive design — one task a file, `tokio::fs` with a hop per operation —
//!   measured 72k files/s warm and 36k cold on 20,000 files of 1 KiB, against 370k and 71k for
//!   batched blocking reads (the project's issue, on a quiet machine).
//!
//! ## Runtimes
//!
//! [`Runtime::Tokio`] is the default. [`Runtime::AsyncStd`] is kept as the second, selectable
//! runtime (`--runtime async-std`) for comparison; note that **async-std is discontinued
//! upstream in favour of smol**, so new code should not pick it. Both are compiled in.
//!
//! ## Per-file timeout
//!
//! With [`AsyncReader::timeout`] (`--timeout SECS`), a file whose read has not finished when its
//! deadline passes is reported as `timeout` ([`ErrorKind::Timeout`](reader_core::ErrorKind)) and
//! the run goes on. A blocking read cannot be cancelled: its hop is abandoned (its late result
//! is dropped), it keeps its descriptor until the read really ends, and a spare permit replaces
//! it (up to as many spares as lanes, at least 64, within the open-files limit; past that many
//! stuck reads at once the lanes wait for one to end). The run does not wait for abandoned
//! reads at the end: on tokio the lanes run on a runtime of the reader's own, even under the
//! async API, which is shut down without waiting; async-std's blocking threads never hold up
//! the process's exit.
//!
//! ## Fault injection for tests
//!
//! Testing a timeout needs a read that hangs, and FIFOs and devices are never opened. When the
//! environment variable `READER_ASYNC_STALL` is set to `<milliseconds>:<pattern>`, every read of
//! a path containing `<pattern>` first sleeps that long in its blocking thread. It exists only
//! for tests of this crate; leave it unset.
//!
//! ## Examples
//!
//! From async code, inside a tokio runtime (the callback runs in the caller's task; nothing
//! blocks the caller's worker threads):
//!
//! ```
//! use reader_async::AsyncReader;
//! use reader_core::{Record, Walk};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "one two\n")?;
//! std::fs::write(dir.path().join("b.txt"), "three\n")?;
//! let runtime = tokio::runtime::Runtime::new()?;
//! let words = runtime.block_on(async {
//!     let mut words = 0;
//!     AsyncReader::new()
//!         .max_in_flight(64)
//!         .read(&Walk::new([dir.path()]), |record| {
//!             if let Record::File(file) = record {
//!                 words += file.outcome.map_or(0, |c| c.words);
//!             }
//!         })
//!         .await?;
//!     Ok::<_, reader_core::StartError>(words)
//! })?;
//! assert_eq!(words, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From blocking code (what the `reader-async` binary does), here on async-std:
//!
//! ```
//! use reader_async::{AsyncReader, Runtime};
//! use reader_core::{Record, Walk};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "one\ntwo\n")?;
//! let mut lines = 0;
//! AsyncReader::new()
//!     .runtime(Runtime::AsyncStd)
//!     .read_blocking(&Walk::new([dir.path()]), |record| {
//!         if let Record::File(file) = record {
//!             lines += file.outcome.map_or(0, |c| c.lines);
//!         }
//!     })?;
//! assert_eq!(lines, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod exec;
mod lane;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::{Emitter, Jobs, Record, RunInfo, StartError, Walk, pipeline};

use crate::exec::{AsyncStd, Tokio};
pub use crate::lane::STALL_VAR;
use crate::lane::{Plan, drive, spare_slots};

/// Files a hop reads before handing back to its lane, by default: measured best (see the crate
/// docs); large enough to make hand-offs rare, small enough to balance the lanes at the end.
pub const FILES_PER_HOP: usize = 16;

/// Records queued between the reading threads and an async caller.
const RECORD_CHANNEL: usize = 1024;

/// The async runtime a reader runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Runtime {
    /// tokio (the default).
    #[default]
    Tokio,
    /// async-std: discontinued upstream in favour of smol; kept for comparison.
    #[value(name = "async-std")]
    AsyncStd,
}

impl Runtime {
    /// The name used on the command line and in the summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The async reader; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct AsyncReader {
    runtime: Runtime,
    in_flight: usize,
    files_per_hop: usize,
    buffer_size: usize,
    timeout: Option<Duration>,
}

impl Default for AsyncReader {
    fn default() -> Self {
        AsyncReader {
            runtime: Runtime::Tokio,
            in_flight: defaults::in_flight(),
            files_per_hop: FILES_PER_HOP,
            buffer_size: BUFFER_SIZE,
            timeout: None,
        }
    }
}

impl AsyncReader {
    /// A reader on tokio with [`defaults::in_flight`] files in flight, [`FILES_PER_HOP`] and
    /// [`BUFFER_SIZE`] buffers, without timeout.
    pub fn new() -> AsyncReader {
        AsyncReader::default()
    }

    /// The runtime to run on.
    pub fn runtime(mut self, runtime: Runtime) -> AsyncReader {
        self.runtime = runtime;
        self
    }

    /// The most files open and being read at once, at least 1; never more than the open-files
    /// limit allows.
    pub fn max_in_flight(mut self, files: usize) -> AsyncReader {
        self.in_flight = defaults::clamp_to_fds(files);
        self
    }

    /// How many files one blocking hop may read in turn, at most (at least 1). One is one
    /// hand-off to the blocking pool per file; more make hand-offs rarer. A hop takes fewer when
    /// few files wait in the queue (its share: what waits divided by the lanes). It does not
    /// change how many files are open at once.
    pub fn files_per_hop(mut self, files: usize) -> AsyncReader {
        self.files_per_hop = files.max(1);
        self
    }

    /// The chunk size of each read (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> AsyncReader {
        self.buffer_size = bytes.max(1);
        self
    }

    /// Report a file whose read takes longer than `limit` as `timeout` and go on; `None` (the
    /// default) waits for every read.
    pub fn timeout(mut self, limit: Option<Duration>) -> AsyncReader {
        self.timeout = limit;
        self
    }

    /// The runtime this reader runs on.
    pub fn runtime_kind(&self) -> Runtime {
        self.runtime
    }

    /// The most files in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// What this reader tells a run's summary: its files in flight, its runtime and hop size.
    pub fn run_info(&self) -> RunInfo {
        let mut info = RunInfo::jobs(self.in_flight);
        info.extra
            .insert("runtime".into(), self.runtime.as_str().into());
        info.extra
            .insert("files_per_hop".into(), self.files_per_hop.into());
        info
    }

    /// The tokio runtime of the blocking entry points. The lanes only wait, so one thread
    /// drives them all (measured faster than a multi-threaded runtime here); the reads run on
    /// its blocking pool, capped at one thread a lane, plus the spares for abandoned reads when
    /// there is a timeout. Left alone, tokio grows the pool towards 512 threads, since a hop
    /// often finds no thread idle at the instant it is sent.
    fn tokio_runtime(&self) -> Result<tokio::runtime::Runtime, StartError> {
        let spares = if self.timeout.is_some() {
            spare_slots(self.in_flight)
        } else {
            0
        };
        tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(self.in_flight + spares)
            .enable_time()
            .thread_name("reader-async")
            .build()
            .map_err(|e| StartError::Spawn(format!("tokio runtime: {e}")))
    }

    fn plan(&self, cancelled: Arc<AtomicBool>) -> Plan {
        Plan {
            in_flight: self.in_flight,
            files_per_hop: self.files_per_hop,
            buffer_size: self.buffer_size,
            timeout: self.timeout,
            cancelled,
        }
    }

    /// Discovers and reads everything `walk` names from async code, handing each record to
    /// `on_record` in the calling task as soon as it is known. Fails only if a PATH does not
    /// exist, or if the reader is set to tokio and not awaited inside a tokio runtime.
    ///
    /// The run starts from the caller's runtime (one of its blocking threads runs discovery and
    /// the lanes, and records come back over a channel), but on tokio the lanes and their reads
    /// run on a small runtime of the reader's own, the one measured best, which is shut down at
    /// the end without waiting for abandoned reads: the caller's runtime is never left holding
    /// a stuck read, nor needs its timer enabled. On async-std everything runs on its global
    /// executor and blocking pool. Dropping the future stops the run at the next hop.
    pub async fn read(
        &self,
        walk: &Walk,
        mut on_record: impl FnMut(Record),
    ) -> Result<(), StartError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(RECORD_CHANNEL);
        let cancelled = Arc::new(AtomicBool::new(false));
        let plan = self.plan(Arc::clone(&cancelled));
        let (reader, walk) = (self.clone(), walk.clone());
        let run = move || {
            reader.run_blocking(&walk, plan, |record| {
                if tx.blocking_send(record).is_err() {
                    cancelled.store(true, Ordering::Relaxed);
                }
            })
        };
        let done = match self.runtime {
            Runtime::Tokio => {
                let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                    StartError::Invalid(
                        "AsyncReader::read on tokio must be awaited inside a tokio runtime \
                         (or choose Runtime::AsyncStd)"
                            .into(),
                    )
                })?;
                let run = handle.spawn_blocking(run);
                while let Some(record) = rx.recv().await {
                    on_record(record);
                }
                run.await.ok()
            }
            Runtime::AsyncStd => {
                let run = async_std::task::spawn_blocking(run);
                while let Some(record) = rx.recv().await {
                    on_record(record);
                }
                Some(run.await)
            }
        };
        done.unwrap_or_else(|| Err(StartError::Spawn("the reading thread panicked".into())))
    }

    /// Discovers and reads everything `walk` names from blocking code, on a runtime of its own
    /// that it shuts down at the end without waiting for abandoned reads. Each record goes to
    /// `on_record` on the calling thread as soon as it is known. Fails only if a PATH does not
    /// exist or the runtime cannot start.
    pub fn read_blocking(
        &self,
        walk: &Walk,
        on_record: impl FnMut(Record),
    ) -> Result<(), StartError> {
        self.run_blocking(walk, self.plan(Arc::new(AtomicBool::new(false))), on_record)
    }

    fn run_blocking(
        &self,
        walk: &Walk,
        plan: Plan,
        on_record: impl FnMut(Record),
    ) -> Result<(), StartError> {
        walk.check()?;
        match self.runtime {
            Runtime::Tokio => {
                let runtime = self.tokio_runtime()?;
                let exec = Tokio(runtime.handle().clone());
                pipeline::run(
                    walk,
                    |jobs, out| runtime.block_on(drive(exec, plan, jobs, out)),
                    on_record,
                );
                runtime.shutdown_background();
            }
            Runtime::AsyncStd => {
                pipeline::run(
                    walk,
                    |jobs, out| async_std::task::block_on(drive(AsyncStd, plan, jobs, out)),
                    on_record,
                );
            }
        }
        Ok(())
    }

    /// Reads an existing job queue until it is closed and drained, sending records to `out`;
    /// for models that build on this one (the hybrid). Blocks the calling thread, which drives
    /// a runtime of its own (shut down at the end without waiting for abandoned reads).
    pub fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<(), StartError> {
        let plan = self.plan(Arc::new(AtomicBool::new(false)));
        match self.runtime {
            Runtime::Tokio => {
                let runtime = self.tokio_runtime()?;
                let exec = Tokio(runtime.handle().clone());
                runtime.block_on(drive(exec, plan, jobs.clone(), out));
                runtime.shutdown_background();
            }
            Runtime::AsyncStd => {
                async_std::task::block_on(drive(AsyncStd, plan, jobs.clone(), out));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AsyncReader>();
        assert_send_sync::<Runtime>();
    }

    #[test]
    fn settings_are_clamped() {
        let reader = AsyncReader::new().max_in_flight(0).files_per_hop(0);
        assert_eq!(reader.in_flight(), 1);
        assert_eq!(reader.files_per_hop, 1);
    }
}
