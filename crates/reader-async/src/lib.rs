//! # reader-async
//!
//! The async model: one async runtime — tokio by default, async-std or io_uring selectable —
//! and a bound on the files in flight, with results streaming out as files complete. It
//! is reader-core's [`Schedule`]: discovery runs beside it and feeds the shared queue.
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
//! the hand-offs rare: up to `in_flight` tasks ("lanes") each send one *hop* at a time to the
//! runtime's blocking pool, and a hop takes its share of the queue — what waits divided by the
//! lanes, at most [`AsyncReader::files_per_hop`] — and opens, reads (in fixed-size chunks
//! through reader-core's counter, with the lane's reused buffer) and counts those files one
//! after another. Many small files thus go 16 to a hop; a few large ones go one to a lane and
//! are read side by side; the last batches are small, so the lanes end together. A hop that has
//! read its share goes on with jobs already waiting, up to that many files, before it returns
//! to the runtime; and lanes start as jobs wait for them, so a few files start a few lanes.
//! Every hop holds a semaphore permit while it runs, so at most `in_flight` files are open at
//! once — never more than `RLIMIT_NOFILE` allows ([`defaults::clamp_to_fds`]). On a cold cache
//! this puts `in_flight` reads before the device at once, which is what decides speed there.
//!
//! A hop is needed only for a read that may wait. Before it sends one, a lane reads on the
//! runtime's own threads (a worker a core) every file the kernel serves from its caches without
//! waiting — `openat2` with `RESOLVE_CACHED`, `preadv2` with `RWF_NOWAIT`, the probe io_uring
//! makes before it hands a request to a worker ([`reader_core::read_cached`],
//! [`AsyncReader::inline_reads`]) — and sends only the first file it declines, with the rest of
//! its batch, to the blocking pool. A cached tree is read without a hand-off, at about the
//! speed of plain threads; a cold one costs a refused system call a batch, and its reads stay
//! in flight side by side. While discovery is behind, one lane's hop waits for it and the other
//! lanes wait for that lane, not each on a blocking thread of its own.
//!
//! The honest summary: on Linux a read that may wait still runs on a thread pool driven by an
//! async runtime. It earns its place where many reads must be in flight at once (a cold cache,
//! network file systems) and as a component of programs that are async already. The
//! measurements behind these choices are in the project's `BENCHMARKS.md` ("reader-async: hops,
//! lanes and runtimes", "Async without the hop tax").
//!
//! ## Runtimes
//!
//! [`Runtime::Tokio`] is the default. [`Runtime::AsyncStd`] is kept as the second, selectable
//! runtime (`--runtime async-std`) for comparison; note that **async-std is discontinued
//! upstream in favour of smol**, so new code should not pick it. It is the `async-std` feature
//! and io_uring the `io-uring` feature, both on by default (and with `cli`); tokio is always
//! there. A reader set to a runtime its build left out reads on tokio, and its stats say why
//! ([`AsyncStats::fallback`]).
//!
//! [`Runtime::IoUring`] (`--runtime io-uring`) is asynchronous file I/O for real: no runtime
//! and no blocking pool, but a ring a core (the `io-uring` crate, tokio-rs's low-level
//! interface), each with its share of [`RING_IN_FLIGHT`] files in flight, opened and read as
//! io_uring operations and counted on the ring's thread as each read completes. It keeps many
//! files in flight only while the kernel makes operations wait (a cold tree), and a few,
//! whose buffers stay in the core's cache, once they complete as they are submitted (a cached
//! one). Files off the local file systems (FUSE, NFS), byte ranges, files large enough to map
//! and pseudo-files go to a thread with reader-core's [`read_job`](reader_core::read_job). Where
//! the kernel refuses io_uring (too old, `kernel.io_uring_disabled`, a seccomp filter such as
//! a container's), the run falls back to tokio and says why in [`AsyncStats::fallback`] (the
//! binary also says it in one line on stderr); [`io_uring_refusal`] asks beforehand. The
//! measurements are in `BENCHMARKS.md` ("io_uring").
//!
//! Both runtimes fail badly when the system refuses them a thread (`ulimit -u`, a cgroup's
//! `pids.max`). tokio panics when its blocking pool has no thread and cannot start one: the
//! reader starts the pool's first thread itself, turning that panic into an error, and keeps
//! its threads to the end of the run, after which a refusal only queues the work. async-std's
//! executor panics, and its blocking pool retries for ever at full CPU (smol-rs/blocking#79):
//! when the room for threads is tight (under 4,096 more, as [`defaults::task_headroom`]
//! tells), the reader first makes sure a core's worth of threads plus one a lane can start,
//! and otherwise fails with one line, every file reported as not read. That check cannot hold
//! the threads: should something else take the last of them in between, async-std can still
//! spin — one more reason not to pick it.
//!
//! ## Per-file timeout
//!
//! With [`AsyncReader::timeout`] (`--timeout TIME`), a file whose read has not finished when its
//! deadline passes is reported as `timeout` ([`ErrorKind::Timeout`](reader_core::ErrorKind)) and
//! the run goes on. A blocking read cannot be cancelled: its hop is abandoned (its late result
//! is dropped), it keeps its descriptor until the read really ends, and a spare permit replaces
//! it (up to as many spares as lanes, at least 64, within the open-files limit; past that many
//! stuck reads at once the lanes wait for one to end). The run does not wait for abandoned
//! reads at the end: on tokio the lanes run on a runtime of the reader's own, even under the
//! async API, which is shut down without waiting; async-std's blocking threads never hold up
//! the process's exit. An abandoned hop counts among the process's stuck reads
//! ([`reader_core::stuck_reads`], the summary's `stuck_reads`) until its read ends: one stuck in
//! an uninterruptible read (a stalled NFS or FUSE server) keeps the process from being reaped
//! until then, although it has written everything, closed its output and exited.
//!
//! ## Examples
//!
//! From async code, inside a tokio runtime (the sink runs in the caller's task; nothing
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
//! use reader_core::{Record, Schedule, Walk};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "one\ntwo\n")?;
//! let mut lines = 0;
//! let finished = AsyncReader::new()
//!     .runtime(Runtime::AsyncStd)
//!     .read_blocking(&Walk::new([dir.path()]), |record| {
//!         if let Record::File(file) = record {
//!             lines += file.outcome.map_or(0, |c| c.lines);
//!         }
//!     })?;
//! assert_eq!(lines, 2);
//! assert_eq!(finished.stats.map(|s| s.runtime), Some(Runtime::AsyncStd));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod exec;
mod lane;
mod timeout;
#[cfg(feature = "io-uring")]
mod uring;

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::{
    Emitter, Finished, HandOff, Jobs, Record, RunError, Schedule, Sink, StartError, Stats, Summary,
    Walk,
};
use serde::Serialize;

#[cfg(feature = "async-std")]
use crate::exec::AsyncStd;
use crate::exec::Tokio;
use crate::lane::{Plan, drive};

/// Files a hop reads before handing back to its lane, by default: large enough to make
/// hand-offs rare, small enough to balance the lanes at the end (BENCHMARKS.md, "reader-async").
const FILES_PER_HOP: usize = 16;

/// Files in flight on io_uring by default: enough to keep a cold tree's opens and reads before
/// the device, bounded by their buffers (12 MiB), and fewer than the 256 requests the block
/// layer queues for a device (`nr_requests`). At 256, cold `seed-mixed` (whose large files
/// each read ahead up to 1 MiB at once) took 1.10× as long as at 96–192, while cold `small`
/// and `/usr/include` moved within 3 % from 128 to 256
/// (docs/experiments/2026-12-07-rings-in-flight.md).
pub const RING_IN_FLIGHT: usize = 192;

/// Records queued between the reading threads and an async caller.
const RECORD_CHANNEL: usize = 1024;

/// The async runtime a reader runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Runtime {
    /// tokio (the default).
    #[default]
    #[serde(rename = "tokio")]
    Tokio,
    /// async-std: discontinued upstream in favour of smol; kept for comparison.
    #[serde(rename = "async-std")]
    AsyncStd,
    /// io_uring: opens, looks and reads as operations of a ring, many files in flight on each
    /// of a few threads, no runtime's blocking pool. Where the kernel refuses io_uring the run
    /// falls back to tokio, and its stats say why ([`AsyncStats::fallback`]).
    #[serde(rename = "io-uring")]
    IoUring,
}

impl Runtime {
    /// The name used on the command line and in the summary.
    pub const fn as_str(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::IoUring => "io-uring",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Runtime {
    type Err = String;

    /// `tokio`, `async-std` or `io-uring`.
    ///
    /// ```
    /// use reader_async::Runtime;
    /// assert_eq!("async-std".parse(), Ok(Runtime::AsyncStd));
    /// assert!("smol".parse::<Runtime>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Runtime, String> {
        match text {
            "tokio" => Ok(Runtime::Tokio),
            "async-std" => Ok(Runtime::AsyncStd),
            "io-uring" => Ok(Runtime::IoUring),
            other => Err(format!(
                "unknown runtime '{other}' (tokio, async-std or io-uring)"
            )),
        }
    }
}

/// The async reader; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct AsyncReader {
    runtime: Runtime,
    /// Files in flight as set; `None`: the runtime's default.
    in_flight: Option<usize>,
    files_per_hop: usize,
    buffer_size: usize,
    timeout: Option<Duration>,
    inline: bool,
    #[cfg(feature = "io-uring")]
    large: Option<uring::LargeFiles>,
}

impl Default for AsyncReader {
    fn default() -> Self {
        AsyncReader {
            runtime: Runtime::Tokio,
            in_flight: None,
            files_per_hop: FILES_PER_HOP,
            buffer_size: BUFFER_SIZE,
            timeout: None,
            inline: true,
            #[cfg(feature = "io-uring")]
            large: None,
        }
    }
}

/// What an async run tells the summary: its runtime and hop size (and its files in flight,
/// the summary's `jobs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsyncStats {
    /// Files in flight at most.
    #[serde(skip)]
    pub in_flight: usize,
    /// The runtime it ran on.
    pub runtime: Runtime,
    /// Files a hop read at most.
    pub files_per_hop: usize,
    /// Files read on the runtime's threads, served from the kernel's caches without waiting
    /// (see [`AsyncReader::inline_reads`]); the others went to the blocking pool.
    pub inline_files: usize,
    /// What the io_uring runtime did, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_uring: Option<RingStats>,
    /// Why the runtime asked for could not run, when the run fell back to tokio (io_uring
    /// refused by the kernel, its settings or a seccomp filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// What the io_uring runtime did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RingStats {
    /// Ring threads, one ring each.
    pub rings: usize,
    /// Files read through the rings.
    pub ring_files: usize,
    /// Files the rings left to a thread of their own: byte ranges (shards' parts), files large
    /// enough to be mapped, pseudo-files, reads the kernel would not queue.
    pub thread_files: usize,
    /// Files handed off, unread, as large ([`AsyncReader::hand_off_from`]).
    pub handed_off: usize,
}

impl Stats for AsyncStats {
    fn jobs(&self) -> usize {
        self.in_flight
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        if let Some(rings) = self.io_uring {
            return vec![(
                "runtime",
                format!(
                    "io-uring, {} files in flight on {} rings; {} files read through io_uring, {} on threads",
                    self.in_flight, rings.rings, rings.ring_files, rings.thread_files
                ),
            )];
        }
        let mut lines = self
            .fallback
            .iter()
            .map(|why| ("fallback", format!("{why}; tokio ran instead")))
            .collect::<Vec<_>>();
        lines.extend([
            (
                "runtime",
                format!(
                    "{}, {} files in flight, up to {} files a hop",
                    self.runtime, self.in_flight, self.files_per_hop
                ),
            ),
            (
                "inline",
                format!(
                    "{} files read from the page cache on the runtime's threads",
                    self.inline_files
                ),
            ),
        ]);
        lines
    }
}

impl AsyncReader {
    /// A reader on tokio with [`defaults::in_flight`] files in flight, 16 files a hop and
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
    /// limit allows, nor than a limit on address space leaves room for
    /// ([`defaults::clamp_readers`]: each may hold a blocking thread).
    pub fn max_in_flight(mut self, files: usize) -> AsyncReader {
        self.in_flight = Some(defaults::clamp_readers(files));
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

    /// Whether a lane first reads on the runtime's threads the files the kernel serves from its
    /// caches without waiting (on by default): `openat2` with `RESOLVE_CACHED`, then `preadv2`
    /// with `RWF_NOWAIT` ([`reader_core::read_cached`]), as io_uring tries a request inline.
    /// Only what they decline — data not cached, a file system that cannot tell (FUSE, NFS,
    /// procfs), files over [`reader_core::CACHED_READ_LIMIT`] — goes to the blocking pool. On a
    /// cached tree that removes the hops' hand-offs; on a cold one it costs a refused system
    /// call a batch. Off, every file goes through the blocking pool, as the model did before.
    pub fn inline_reads(mut self, on: bool) -> AsyncReader {
        self.inline = on;
        self
    }

    /// On the io_uring runtime, files found to hold at least `bytes` — their size known, or
    /// told when the ring looks at a file that runs past 1 MiB: none is looked up beforehand —
    /// are not read but handed to `to`, with their size, for a reader better at large files
    /// (the hybrid's splitter). The other runtimes read every file, and so does a build without
    /// the `io-uring` feature.
    pub fn hand_off_from(self, bytes: u64, to: HandOff) -> AsyncReader {
        #[cfg(feature = "io-uring")]
        return AsyncReader {
            large: Some(uring::LargeFiles { from: bytes, to }),
            ..self
        };
        #[cfg(not(feature = "io-uring"))]
        {
            let _ = (bytes, to);
            self
        }
    }

    /// The runtime it is set to (a run on io_uring may still fall back to tokio).
    pub fn chosen_runtime(&self) -> Runtime {
        self.runtime
    }

    /// The most files in flight.
    ///
    /// By default [`defaults::in_flight`] on tokio and async-std, whose files in flight may
    /// each hold a blocking thread, and [`RING_IN_FLIGHT`] on io_uring, where they are only
    /// buffers (always within the open-files limit).
    pub fn in_flight(&self) -> usize {
        match (self.in_flight, self.runtime) {
            (Some(files), _) => files,
            (None, Runtime::IoUring) => defaults::clamp_to_fds(RING_IN_FLIGHT),
            (None, _) => defaults::in_flight(),
        }
    }

    /// The tokio runtime of a run. With inline reads the lanes read cached files themselves, so
    /// the runtime has a worker thread a core (one where threads are tight, see
    /// [`tight_on_threads`]); without, the lanes only wait, and one thread
    /// drives them all (measured faster than a multi-threaded runtime then). The reads that may
    /// wait run on its blocking pool, capped at one thread a lane, plus the spares for abandoned
    /// reads when there is a timeout. Left alone, tokio grows the pool towards 512 threads,
    /// since a hop often finds no thread idle at the instant it is sent.
    ///
    /// Its blocking threads are kept for the whole run, once started (see
    /// `exec::first_blocking_thread`).
    fn tokio_runtime(&self) -> Result<tokio::runtime::Runtime, RunError> {
        let spares = if self.timeout.is_some() {
            timeout::spare_slots(self.in_flight())
        } else {
            0
        };
        let build = |mut builder: tokio::runtime::Builder| {
            builder
                .max_blocking_threads(self.in_flight() + spares)
                .thread_keep_alive(Duration::from_secs(24 * 3600))
                .enable_time()
                .thread_name("reader-async")
                .build()
                .map_err(|source| RunError::Spawn {
                    what: "the tokio runtime".into(),
                    source,
                })
        };
        // tokio panics, and may hang, when the system refuses it a worker thread (`ulimit -u`):
        // where threads are tight, one thread drives the lanes and reads what is cached.
        if self.inline && !tight_on_threads() {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(defaults::cores());
            build(builder)
        } else {
            build(tokio::runtime::Builder::new_current_thread())
        }
    }

    fn plan(&self) -> Plan {
        Plan {
            in_flight: self.in_flight(),
            files_per_hop: self.files_per_hop,
            buffer_size: self.buffer_size,
            timeout: self.timeout,
            inline: self.inline,
            threads: defaults::cores(),
        }
    }

    fn stats(&self, inline_files: usize) -> AsyncStats {
        AsyncStats {
            in_flight: self.in_flight(),
            runtime: self.runtime,
            files_per_hop: self.files_per_hop,
            inline_files,
            io_uring: None,
            fallback: None,
        }
    }

    /// Discovers and reads everything `walk` names from async code, handing each record to
    /// `sink` in the calling task as soon as it is known. Fails only if a PATH does not exist,
    /// or if the reader is set to tokio and not awaited inside a tokio runtime.
    ///
    /// The run starts from the caller's runtime (one of its blocking threads runs discovery and
    /// the lanes, and records come back over a channel), but on tokio the lanes and their reads
    /// run on a small runtime of the reader's own, the one measured best, which is shut down at
    /// the end without waiting for abandoned reads: the caller's runtime is never left holding
    /// a stuck read, nor needs its timer enabled. On async-std everything runs on its global
    /// executor and blocking pool. Dropping the future stops the run: no more files are
    /// discovered or started.
    pub async fn read<K: Sink>(
        &self,
        walk: &Walk,
        mut sink: K,
    ) -> Result<Finished<AsyncStats>, StartError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(RECORD_CHANNEL);
        let (reader, walk) = (self.clone(), walk.clone());
        let run = move || reader.read_blocking(&walk, Forward(tx));
        // What reached `sink`, which may stop before the reading side notices.
        let mut taken = Summary::new(self.strategy());
        let mut stopped = false;
        let mut take = |record: Record| {
            taken.add(&record);
            stopped = sink.record(record).is_break();
            stopped
        };
        // The reading side runs on a blocking thread of the caller's runtime, or on a thread of
        // its own for the rings, which need no executor; either way it is started here, and
        // its records are taken as they come.
        type Done = Pin<Box<dyn Future<Output = Option<RunResult>> + Send>>;
        let done: Done = match self.runtime {
            Runtime::Tokio => {
                let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                    StartError::Invalid(
                        "AsyncReader::read on tokio must be awaited inside a tokio runtime \
                         (or choose Runtime::AsyncStd)"
                            .into(),
                    )
                })?;
                let run = handle.spawn_blocking(run);
                Box::pin(async move { run.await.ok() })
            }
            #[cfg(feature = "async-std")]
            Runtime::AsyncStd => {
                let run = async_std::task::spawn_blocking(run);
                Box::pin(async move { Some(run.await) })
            }
            #[cfg(not(feature = "async-std"))]
            Runtime::AsyncStd => return Err(StartError::Invalid(WITHOUT_ASYNC_STD.into())),
            Runtime::IoUring => {
                let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name("reader-async".into())
                    .spawn(move || {
                        let _ = done_tx.send(run());
                    })
                    .map_err(|source| StartError::Spawn {
                        what: "the async reader's thread".into(),
                        source,
                    })?;
                Box::pin(async move { done_rx.await.ok() })
            }
        };
        while let Some(record) = rx.recv().await {
            if take(record) {
                break;
            }
        }
        drop(rx);
        let done = done.await;
        let mut finished = match done {
            Some(result) => result?,
            // The reading thread died once records may have reached the sink: the run ends
            // with what it took, and the error.
            None => Finished {
                summary: Summary::new(self.strategy()),
                stats: None,
                error: Some(RunError::Panicked {
                    what: "the async reader's thread".into(),
                    message: "it ended by a panic".into(),
                }),
                stopped: false,
            },
        };
        let Summary {
            jobs,
            elapsed_ms,
            stuck_reads,
            stuck_listings,
            ..
        } = finished.summary;
        finished.summary = Summary {
            jobs,
            elapsed_ms,
            stuck_reads,
            stuck_listings,
            ..taken
        };
        finished.stopped |= stopped;
        Ok(finished)
    }

    /// Discovers and reads everything `walk` names from blocking code, on a runtime of its own
    /// that it shuts down at the end without waiting for abandoned reads: [`Schedule::read`].
    pub fn read_blocking<K: Sink>(
        &self,
        walk: &Walk,
        sink: K,
    ) -> Result<Finished<AsyncStats>, StartError> {
        Schedule::read(self, walk, sink)
    }
}

/// What the reading side of [`AsyncReader::read`] returns.
type RunResult = Result<Finished<AsyncStats>, StartError>;

/// The reading side of the async API: records go to the caller's task; a caller that is gone
/// stops the run.
struct Forward(tokio::sync::mpsc::Sender<Record>);

impl Sink for Forward {
    fn record(&mut self, record: Record) -> ControlFlow<()> {
        match self.0.blocking_send(record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

impl Schedule for AsyncReader {
    type Stats = AsyncStats;

    fn strategy(&self) -> &'static str {
        "async"
    }

    /// Blocks the calling thread, which drives the runtime until the queue is drained; on
    /// tokio a runtime of its own, shut down at the end without waiting for abandoned reads.
    fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<AsyncStats, RunError> {
        let inline = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&inline);
        match self.runtime {
            Runtime::Tokio => {
                let runtime = self.tokio_runtime()?;
                exec::first_blocking_thread(&runtime)?;
                let exec = Tokio(runtime.handle().clone());
                runtime.block_on(drive(exec, self.plan(), jobs.clone(), out, counted));
                runtime.shutdown_background();
            }
            #[cfg(feature = "async-std")]
            Runtime::AsyncStd => {
                // Its executor starts a thread a core, and its blocking pool grows to about a
                // thread a lane; refused one, the executor panics and the pool spins for ever
                // (smol-rs/blocking#79).
                if tight_on_threads() {
                    let threads = defaults::cores() + 2 + self.in_flight();
                    reserve_threads(threads, "the async-std runtime's threads")?;
                }
                async_std::task::block_on(drive(AsyncStd, self.plan(), jobs.clone(), out, counted));
            }
            #[cfg(not(feature = "async-std"))]
            Runtime::AsyncStd => return self.on_tokio(jobs, out, WITHOUT_ASYNC_STD.into()),
            Runtime::IoUring => return self.schedule_rings(jobs, out),
        }
        Ok(self.stats(inline.load(Ordering::Relaxed)))
    }
}

impl AsyncReader {
    /// The io_uring runtime's schedule: the rings, or tokio where they cannot run.
    fn schedule_rings(&self, jobs: &Jobs, out: Emitter) -> Result<AsyncStats, RunError> {
        match io_uring_refusal() {
            Some(why) => self.on_tokio(jobs, out, why),
            #[cfg(feature = "io-uring")]
            None => self.run_rings(jobs, out),
            #[cfg(not(feature = "io-uring"))]
            None => self.on_tokio(jobs, out, WITHOUT_IO_URING.into()),
        }
    }

    /// This run on tokio instead of the runtime it was set to, which cannot run (`why`).
    fn on_tokio(&self, jobs: &Jobs, out: Emitter, why: String) -> Result<AsyncStats, RunError> {
        let tokio = AsyncReader {
            runtime: Runtime::Tokio,
            ..self.clone()
        };
        let stats = tokio.schedule(jobs, out)?;
        Ok(AsyncStats {
            fallback: Some(why),
            ..stats
        })
    }

    /// The rings of the io_uring runtime, which the kernel allows.
    #[cfg(feature = "io-uring")]
    fn run_rings(&self, jobs: &Jobs, out: Emitter) -> Result<AsyncStats, RunError> {
        let in_flight = self.in_flight();
        let rings = uring::Rings {
            threads: defaults::cores().min(in_flight),
            in_flight,
            buffer_size: self.buffer_size,
            timeout: self.timeout,
            spares: if self.timeout.is_some() {
                timeout::spare_slots(in_flight)
            } else {
                0
            },
            large: self.large.clone(),
        };
        let tally = uring::run(&rings, jobs, &out)?;
        Ok(AsyncStats {
            io_uring: Some(RingStats {
                rings: rings.threads,
                ring_files: tally.ring_files,
                thread_files: tally.thread_files,
                handed_off: tally.handed_off,
            }),
            ..self.stats(0)
        })
    }
}

/// Why the io_uring runtime cannot run here, if it cannot (the kernel lacks io_uring or an
/// operation it needs, `kernel.io_uring_disabled` forbids it, a seccomp filter refuses it): a
/// reader set to [`Runtime::IoUring`] then runs on tokio, and its stats say why.
///
/// ```
/// if let Some(why) = reader_async::io_uring_refusal() {
///     eprintln!("{why}");
/// }
/// ```
pub fn io_uring_refusal() -> Option<String> {
    #[cfg(feature = "io-uring")]
    return uring::refusal();
    #[cfg(not(feature = "io-uring"))]
    Some(WITHOUT_IO_URING.into())
}

/// Why a reader set to io_uring runs on tokio in a build without the `io-uring` feature.
#[cfg(not(feature = "io-uring"))]
const WITHOUT_IO_URING: &str = "this reader-async was built without its io-uring feature";

/// Why a reader set to async-std runs on tokio in a build without the `async-std` feature.
#[cfg(not(feature = "async-std"))]
const WITHOUT_ASYNC_STD: &str = "this reader-async was built without its async-std feature";

#[cfg(feature = "async-std")]
/// The variable through which async-std's blocking pool (the `blocking` crate) takes its most
/// threads, 500 when unset.
const BLOCKING_MAX_THREADS: &str = "BLOCKING_MAX_THREADS";

#[cfg(feature = "async-std")]
/// Caps async-std's blocking pool at the threads a limit on address space (`ulimit -v`) or on
/// tasks (`ulimit -u`, a cgroup's `pids.max`: half of what it leaves, the rest being for the
/// executor and the reader's own threads) leaves room for. Left at 500, the pool spins for
/// ever once the system refuses it a thread (smol-rs/blocking#79) instead of waiting for one
/// of its own to be free. A value the user set is kept. Runs first in `main`, while this is the
/// only thread: the pool reads the variable when it starts.
///
/// Call it first thing in `main`, before any thread starts (`reader-async` does).
pub fn cap_blocking_pool() {
    const POOL_DEFAULT: usize = 500;
    if std::env::var_os(BLOCKING_MAX_THREADS).is_some() {
        return;
    }
    let tasks = reader_core::defaults::task_headroom().map_or(POOL_DEFAULT, |room| {
        usize::try_from(room / 2).unwrap_or(POOL_DEFAULT)
    });
    let room = reader_core::defaults::clamp_to_address_space(POOL_DEFAULT.min(tasks).max(1));
    if room < POOL_DEFAULT {
        // SAFETY: no other thread runs yet, so none reads the environment meanwhile.
        unsafe { std::env::set_var(BLOCKING_MAX_THREADS, room.to_string()) };
    }
}

/// Fewer threads than this may be started ([`defaults::task_headroom`]): async-std's threads
/// are made sure of before it starts.
const TIGHT_THREADS: u64 = 4096;

fn tight_on_threads() -> bool {
    defaults::task_headroom().is_some_and(|room| room < TIGHT_THREADS)
}

#[cfg(feature = "async-std")]
/// Makes sure the system gives this process `count` more threads now, by starting them and
/// letting them end: async-std, which panics or spins when it cannot start the threads it
/// needs, fails here instead, as an error, under a limit on threads (`ulimit -u`).
fn reserve_threads(count: usize, what: &str) -> Result<(), RunError> {
    let before = defaults::running_threads();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
    let mut started = Vec::with_capacity(count);
    let mut refused = None;
    for _ in 0..count {
        let wait = std::sync::Arc::clone(&wait);
        let spawned = std::thread::Builder::new()
            .name("reader-async-check".into())
            .spawn(move || {
                // Held until every thread asked for has started: they count at once.
                let _ = wait.lock().map(|rx| rx.recv());
            });
        match spawned {
            Ok(thread) => started.push(thread),
            Err(source) => {
                refused = Some(source);
                break;
            }
        }
    }
    drop(release);
    for thread in started {
        let _ = thread.join();
    }
    // A joined thread still counts against the limit until the kernel has released it, a
    // moment later: wait for that, or the runtime's first thread may be refused after all.
    for _ in 0..200 {
        if defaults::running_threads() <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    match refused {
        None => Ok(()),
        Some(source) => Err(RunError::Spawn {
            what: what.into(),
            source,
        }),
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
        assert_send_sync::<AsyncStats>();
    }

    #[test]
    fn settings_are_clamped() {
        let reader = AsyncReader::new().max_in_flight(0).files_per_hop(0);
        assert_eq!(reader.in_flight(), 1);
        assert_eq!(reader.files_per_hop, 1);
    }

    #[test]
    fn runtimes_round_trip_through_their_names() {
        for runtime in [Runtime::Tokio, Runtime::AsyncStd] {
            assert_eq!(runtime.to_string().parse(), Ok(runtime));
        }
    }

    /// A build without a runtime's feature reads on tokio when set to it, and says why
    /// (`.ci/run` runs this with `--no-default-features`).
    #[test]
    fn a_runtime_left_out_of_the_build_reads_on_tokio_and_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.txt"), "one two\n").expect("write");
        let walk = Walk::new([dir.path()]);
        for (runtime, built) in [
            (Runtime::IoUring, cfg!(feature = "io-uring")),
            (Runtime::AsyncStd, cfg!(feature = "async-std")),
        ] {
            let mut words = 0;
            let finished = AsyncReader::new()
                .runtime(runtime)
                .read_blocking(&walk, |record: Record| {
                    if let Record::File(file) = record {
                        words += file.outcome.map_or(0, |c| c.words);
                    }
                })
                .expect("starts");
            assert_eq!(words, 2, "{runtime}");
            let stats = finished.stats.expect("finished");
            if !built {
                let why = stats.fallback.expect("a fallback");
                assert!(why.contains("built without"), "{runtime}: {why}");
                assert_eq!(stats.runtime, Runtime::Tokio, "{runtime}");
            } else if runtime == Runtime::AsyncStd {
                assert_eq!((stats.runtime, stats.fallback), (Runtime::AsyncStd, None));
            }
        }
        assert_eq!(
            io_uring_refusal().is_some_and(|why| why.contains("built without")),
            !cfg!(feature = "io-uring")
        );
    }
}
