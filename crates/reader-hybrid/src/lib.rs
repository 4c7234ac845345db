//! # reader-hybrid
//!
//! The hybrid model: every file goes where it is read best, by its size. reader-core's
//! [`RoutePolicy`] decides:
//!
//! * files below the threshold (default 10 KiB) → the **async path**
//!   ([`reader_async::AsyncReader`]; on a cold tree its io_uring runtime): many files in
//!   flight at once, which is what decides speed when the data is not cached;
//! * files from the threshold up → the **thread pool** ([`reader_threads::ThreadedReader`]):
//!   few threads, little overhead per byte;
//! * files from `split_at` up (default 64 MiB) → **split**: read as 16 MiB byte ranges by
//!   several threads at once with positioned reads on one descriptor, the ranges' counts joined
//!   exactly by [`RangeCounts::join`](reader_core::RangeCounts::join); one record per file.
//!
//! The three paths run at the same time, each a [`Schedule`] over a queue of its own, fed by
//! one router that takes discovery's jobs as they come; neither waits for the other, and their
//! records go out as one stream. The async path and the splitter start when the first file
//! goes their way, so a tree without small files starts no runtime. Every discovered entry
//! yields exactly one record: what a path left unread, had it stopped, is reported as
//! `worker_crashed`.
//!
//! Sizes are looked up by the router, not by discovery, relative to each file's directory, and
//! the paths then read without the `fstat` a reader otherwise does after opening
//! ([`count_sized`](reader_core::count_sized)): one `stat` a file in all, as for the other
//! readers. On a cold tree a `stat` is a read of the inode from the device, so the router then
//! runs many of them at once.
//!
//! On a cached tree, unless the caller set the threshold or the split size, no file is routed
//! by size: the cores decide there, the thread pool reads every kind of file as well as any
//! path, and the size look-up would be a second name lookup a file. So every file goes to the
//! pool with its size unknown, and the summary says so (`"routing": "pool"`); this made the
//! hybrid tie `reader-threads` on every cached fixture, where routing by size cost it 10–20 %
//! (BENCHMARKS.md, "reader-hybrid"). Huge files are still split: a pool thread that opens a
//! file as large as the split size hands it, unread, to the splitter
//! ([`ThreadedReader::hand_off_from`]); without a per-file timeout only (with one, the pool
//! reads it through a mapping).
//!
//! On a cold tree, unless the caller set the threshold or the split size, no size is looked
//! up either where io_uring is to be had: every file goes to the async path, whose rings keep
//! 256 opens and reads before the device at once (the router's size look-ups, 16 threads
//! waiting on inodes, were what held the hybrid back on cold trees of many mid-size files),
//! and a file the rings find as large as the split size is handed to the splitter
//! ([`AsyncReader::hand_off_from`]); the summary says `"routing": "ring"`. Where io_uring is
//! refused, a cold tree is routed by size as before.
//!
//! Before the paths start, the router probes whether the first files are in the page cache
//! ([`CacheProbe`]: a `preadv2(RWF_NOWAIT)` of one byte, which never does I/O), and sizes the
//! paths by the answer: many reads in flight when the device decides the speed, few threads
//! when the cores do. A tree can be half cached, so where the routing is the pool's or the
//! rings' the router looks again every 1,024 files, at a few of the files it is about to
//! send, and turns the rest of the tree the other way when most of them disagree with the
//! routing in force; the summary lists each turn (`"revised"`, `"revisions"`, [`Revision`]).
//! On a tree whose first half was cached and second half not, that made the hybrid 3.3×
//! faster (BENCHMARKS.md, "reader-hybrid", "A half-cached tree"). With [`Threshold::Auto`]
//! the threshold is chosen from the tree's own sizes and the same probe: a quantile of the
//! first sizes, low when cached, high when not.
//! What the routing costs and gains, measured, is in
//! the project's BENCHMARKS.md ("reader-hybrid").
//!
//! With a per-file time limit ([`HybridReader::timeout`], `--timeout TIME`) every path keeps
//! it: the async path as [`AsyncReader::timeout`] does, the pool and the splitter as
//! reader-core's [`timed_pool`](reader_core::timed_pool) — a file not read in time is reported
//! as `timeout`, the thread or hop stuck in it is left to the read, and the run goes on and
//! ends without it (a thread stuck in an uninterruptible read still keeps the process from
//! being reaped until that read ends; see reader-threads).
//!
//! Memory stays bounded by buffers, never by file sizes: one [`BUFFER_SIZE`] buffer per pool
//! thread, per async lane and per thread reading a split file.
//!
//! ```
//! use reader_core::{Record, Schedule, Walk};
//! use reader_hybrid::{HybridReader, Threshold};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("small.txt"), "one two\n")?;
//! std::fs::write(dir.path().join("large.txt"), "word ".repeat(10_000))?;
//! let mut words = 0;
//! let finished = HybridReader::new()
//!     .threshold(Threshold::Fixed(1024))
//!     .read(&Walk::new([dir.path()]), |record| {
//!         if let Record::File(file) = record {
//!             words += file.outcome.map_or(0, |c| c.words);
//!         }
//!     })?;
//! assert_eq!(words, 10_002);
//! let routes = finished.stats.expect("the run finished").routes;
//! assert_eq!((routes.async_path.files, routes.threads.files), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

// The README's Rust examples are compiled with this crate's doctests (it depends on the other
// models they use), so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

mod auto;
mod paths;
mod revise;
mod router;
mod sizes;
mod split;
mod tune;

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use reader_async::{AsyncReader, Runtime};
use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::units::{bytes as human_bytes, grouped};
use reader_core::{
    Emitter, FileJob, HandOff, JobSender, Jobs, Route, RoutePolicy, RunError, Schedule, Stats,
    spawn_schedule,
};
use reader_threads::ThreadedReader;
use serde::Serialize;

pub use crate::auto::Choice;
use crate::paths::{Paths, Tallies};
use crate::revise::Reviser;
pub use crate::revise::Revision;
use crate::router::Router;
use crate::sizes::look_up_sizes;
use crate::split::SplitReader;
pub use crate::tune::CacheProbe;
use crate::tune::{Settings, fit_descriptors, tune, tune_for};

/// Jobs the router takes from discovery's queue at once.
const ROUTE_BATCH: usize = 256;

/// Jobs the router takes first, to probe the cache with and to start the paths on.
const FIRST_BATCH: usize = 32;

/// How the async/threads threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// Files smaller than this many bytes go to the async path.
    Fixed(u64),
    /// Chosen at start-up from the tree's first sizes and whether it is cached.
    Auto,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::Fixed(RoutePolicy::DEFAULT_THRESHOLD)
    }
}

impl FromStr for Threshold {
    type Err = String;

    /// `auto` or a size with units (`10KiB`, `64k`, `1MB`, `4096`).
    ///
    /// ```
    /// use reader_hybrid::Threshold;
    /// assert_eq!("auto".parse(), Ok(Threshold::Auto));
    /// assert_eq!("64k".parse(), Ok(Threshold::Fixed(65_536)));
    /// assert!("abc".parse::<Threshold>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Threshold, String> {
        if text.trim().eq_ignore_ascii_case("auto") {
            Ok(Threshold::Auto)
        } else {
            reader_core::units::parse_size(text).map(Threshold::Fixed)
        }
    }
}

/// Files and bytes that went one way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RouteCount {
    /// Files read (or failed) on this path.
    pub files: u64,
    /// Bytes read on this path.
    pub bytes: u64,
}

/// How many files and bytes went each way (the summary's `"routes"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Routes {
    /// Small files, read by the async path.
    #[serde(rename = "async")]
    pub async_path: RouteCount,
    /// Files read whole by the thread pool.
    pub threads: RouteCount,
    /// Large files read as ranges in parallel.
    pub split: RouteCount,
}

impl Routes {
    fn of(tallies: &Tallies) -> Routes {
        let count = |tally: &reader_core::Tally| RouteCount {
            files: tally.files(),
            bytes: tally.bytes(),
        };
        Routes {
            async_path: count(&tallies.async_path),
            threads: count(&tallies.pool),
            split: count(&tallies.split),
        }
    }
}

/// What a hybrid run tells the summary: where the files went, and the settings it chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HybridStats {
    /// How many files and bytes went each way.
    pub routes: Routes,
    /// The async/threads threshold in bytes at the end of routing (the chosen one, with
    /// [`Threshold::Auto`], once the sample was complete).
    pub threshold: u64,
    /// `fixed` or `auto`.
    pub threshold_mode: &'static str,
    /// What [`Threshold::Auto`] found, if it chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto: Option<Choice>,
    /// Files from this size up were split.
    pub split_at: u64,
    /// Files in flight on the async path.
    pub in_flight: usize,
    /// Threads of the pool: the summary's `jobs`.
    #[serde(skip)]
    pub pool_threads: usize,
    /// What the cache probe of the first files found.
    pub cache_probe: CacheProbe,
    /// Whether files were routed at the start by their sizes, or all sent without a size
    /// look-up, the caller having set no routing: to the thread pool because the tree is
    /// cached, or through io_uring because it is not (see [`HybridReader`]).
    pub routing: Routing,
    /// How many times the routing changed during the run, the cache state having changed
    /// from one part of the tree to the next (see `revisions`).
    pub revised: usize,
    /// The first of those changes, in order: after how many files, to which routing, and what
    /// the look at the cache found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<Revision>,
    /// The runtime the async path ran on, if it ran: `io-uring` on a cold tree where the
    /// kernel allows it, else `tokio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_runtime: Option<Runtime>,
    /// Why the async path did not run on io_uring on a cold tree, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_fallback: Option<String>,
}

impl Stats for HybridStats {
    /// The pool's threads; the files in flight on the async path when only it read.
    fn jobs(&self) -> usize {
        if self.routing == Routing::Ring {
            self.in_flight
        } else {
            self.pool_threads
        }
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let route = |r: &RouteCount| {
            format!(
                "{} files ({})",
                grouped(r.files),
                human_bytes(r.bytes as f64)
            )
        };
        let r = &self.routes;
        let mut lines = vec![
            (
                "routing",
                if self.routing == Routing::Pool {
                    "the tree is cached: every file to the thread pool, sizes not looked up \
                     (a file the pool finds to be as large as the split size goes to the \
                     splitter)"
                        .to_string()
                } else if self.routing == Routing::Ring {
                    format!(
                        "the tree is not cached ({} of {} probed files were not): every file \
                         through io_uring, sizes not looked up (a file the rings find as large \
                         as the split size goes to the splitter)",
                        self.cache_probe.probed - self.cache_probe.cached,
                        self.cache_probe.probed
                    )
                } else if self.cache_probe.cold() {
                    format!(
                        "the tree is not cached ({} of {} probed files were not): by size, \
                         small files on the async path with many in flight",
                        self.cache_probe.probed - self.cache_probe.cached,
                        self.cache_probe.probed
                    )
                } else {
                    "by size, as the threshold or split size set asks".to_string()
                },
            ),
            (
                "routes",
                format!(
                    "async {}, threads {}, split {}",
                    route(&r.async_path),
                    route(&r.threads),
                    route(&r.split)
                ),
            ),
            (
                "threshold",
                format!(
                    "{} ({}); split from {}; {} files in flight on the async path, {} pool threads",
                    human_bytes(self.threshold as f64),
                    self.threshold_mode,
                    human_bytes(self.split_at as f64),
                    self.in_flight,
                    self.pool_threads
                ),
            ),
            (
                "cache probe",
                format!(
                    "{} of {} files cached ({} µs)",
                    self.cache_probe.cached, self.cache_probe.probed, self.cache_probe.cost_us
                ),
            ),
        ];
        if self.revised > 0 {
            let listed: Vec<String> = self
                .revisions
                .iter()
                .map(|revision| {
                    let (state, agreed, path) = match revision.routing {
                        Routing::Ring => (
                            "not cached",
                            revision.probed - revision.cached,
                            "the rest through io_uring",
                        ),
                        _ => ("cached", revision.cached, "the rest to the thread pool"),
                    };
                    format!(
                        "after {} files the tree was {state} ({agreed} of {} probed files \
                         were): {path}",
                        grouped(revision.after_files as u64),
                        revision.probed
                    )
                })
                .collect();
            let more = self.revised - self.revisions.len();
            let tail = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            lines.push(("revised", format!("{}{tail}", listed.join("; "))));
        }
        if let Some(runtime) = self.async_runtime {
            let why = self
                .async_fallback
                .as_ref()
                .map(|why| format!(" ({why})"))
                .unwrap_or_default();
            lines.push(("async path", format!("on {runtime}{why}")));
        }
        if let Some(auto) = &self.auto {
            lines.push((
                "auto",
                format!(
                    "chose {} from {} sizes, after {} files routed with the default",
                    human_bytes(auto.threshold as f64),
                    auto.sampled,
                    auto.routed_before
                ),
            ));
        }
        lines
    }
}

/// The hybrid reader; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct HybridReader {
    settings: Settings,
    threshold: Threshold,
    split_at: u64,
    split_threads: usize,
    buffer_size: usize,
    timeout: Option<Duration>,
    /// The caller set the threshold or the split size: route by size even when cached.
    routing_set: bool,
}

impl Default for HybridReader {
    fn default() -> Self {
        HybridReader::new()
    }
}

impl HybridReader {
    /// A reader with [`defaults::threads`] pool threads (also reading split files),
    /// [`defaults::in_flight`] async files in flight, the default 10 KiB threshold and splits
    /// from [`RoutePolicy::DEFAULT_SPLIT_AT`]; all within the open-files limit.
    pub fn new() -> HybridReader {
        HybridReader {
            settings: Settings {
                lanes: AsyncReader::new(),
                pool: ThreadedReader::new(),
                fixed_lanes: false,
                fixed_pool: false,
            },
            threshold: Threshold::default(),
            split_at: RoutePolicy::DEFAULT_SPLIT_AT,
            split_threads: defaults::threads(),
            buffer_size: BUFFER_SIZE,
            timeout: None,
            routing_set: false,
        }
        .fit_descriptors()
    }

    /// Threads of the pool, and threads reading the ranges of a split file (at least 1).
    /// Without it, the pool has [`defaults::threads`] threads when the tree is cached and more
    /// when it is not (see [`CacheProbe`]).
    pub fn jobs(mut self, threads: usize) -> HybridReader {
        self.settings.pool = self.settings.pool.jobs(threads);
        self.settings.fixed_pool = true;
        self.split_threads = threads.clamp(1, 4096);
        self.fit_descriptors()
    }

    /// Files in flight on the async path (at least 1). Without it, the async path keeps
    /// [`defaults::in_flight`] files in flight when the tree is not cached and two a core when
    /// it is (see [`CacheProbe`]).
    pub fn in_flight(mut self, files: usize) -> HybridReader {
        self.settings.lanes = self.settings.lanes.max_in_flight(files);
        self.settings.fixed_lanes = true;
        self.fit_descriptors()
    }

    /// The async/threads threshold. Setting it (or [`HybridReader::split_at`]) routes by size
    /// on a cached tree too.
    pub fn threshold(mut self, threshold: Threshold) -> HybridReader {
        self.threshold = threshold;
        self.routing_set = true;
        self
    }

    /// Files of at least this many bytes are split into ranges read in parallel. Setting it
    /// (or [`HybridReader::threshold`]) routes by size on a cached tree too.
    pub fn split_at(mut self, bytes: u64) -> HybridReader {
        self.split_at = bytes;
        self.routing_set = true;
        self
    }

    /// The chunk size of each read, on every path (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> HybridReader {
        self.buffer_size = bytes.max(1);
        self.settings.pool = self.settings.pool.buffer_size(bytes);
        self.settings.lanes = self.settings.lanes.buffer_size(bytes);
        self
    }

    /// Report a file whose read takes longer than `limit` as `timeout`, on every path, and go
    /// on without it; `None` (the default) waits for every read.
    pub fn timeout(mut self, limit: Option<Duration>) -> HybridReader {
        self.timeout = limit;
        self.settings.pool = self.settings.pool.timeout(limit);
        self.settings.lanes = self.settings.lanes.timeout(limit);
        self
    }

    /// Threads of the pool (when the tree is cached, or when set).
    pub fn threads(&self) -> usize {
        self.settings.pool.threads()
    }

    /// Files in flight on the async path when the tree is not cached (or when set).
    pub fn files_in_flight(&self) -> usize {
        self.settings.lanes.in_flight()
    }

    fn fit_descriptors(mut self) -> HybridReader {
        let (threads, lanes) = fit_descriptors(self.threads(), self.files_in_flight());
        self.settings.pool = self.settings.pool.jobs(threads);
        self.settings.lanes = self.settings.lanes.max_in_flight(lanes);
        self
    }
}

impl Schedule for HybridReader {
    type Stats = HybridStats;

    fn strategy(&self) -> &'static str {
        "hybrid"
    }

    /// Probes the first files, sizes the paths by what it found, and routes every job to its
    /// path until the queue is closed and drained. The calling thread is the router.
    fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<HybridStats, RunError> {
        let first = jobs.next_batch(FIRST_BATCH, &mut out);
        let probe = CacheProbe::of(&first);
        let tuned = tune(&self.settings, &probe);
        let split = SplitReader {
            threads: self.split_threads.min(tune::address_space_share(8)),
            buffer_size: self.buffer_size,
            timeout: self.timeout,
        };
        let tallies = Tallies::default();
        let mut router = Router::new(self.threshold, self.split_at, probe);
        // Cached, the cores decide and the pool reads everything as well as any path; cold,
        // the rings of io_uring do (where the kernel allows them). Either way no size is
        // looked up (a second name lookup a file, and on a cold tree a wait for its inode)
        // unless the caller set the threshold or the split size (BENCHMARKS.md,
        // "reader-hybrid", "io_uring, and a hybrid for any tree").
        let rings = tuned.lanes.chosen_runtime() == Runtime::IoUring
            && reader_async::io_uring_refusal().is_none();
        let routing = Routing::of(&probe, self.routing_set, rings);
        // Between the pool and the rings the routing is revised as the run goes (`revise.rs`):
        // the path the first routing leaves idle stands by, tuned for the other cache state.
        let revisable = routing != Routing::Sizes;
        let standby = revisable.then(|| tune_for(&self.settings, !probe.cold()));
        let sized = |batch: &mut Vec<FileJob>| {
            if routing == Routing::Sizes {
                look_up_sizes(batch, tuned.sizers);
            }
        };
        // Not routed by size, a huge file is found by the pool thread or the ring that opens
        // it, which hands it, unread, to a splitter of its own (`hand_off_from`).
        let large = revisable.then(|| jobs.sub_queue(out.clone().counting(&tallies.split)));
        let (large_tx, large_jobs) = match large {
            Some((tx, rx)) => (Some(Arc::new(Mutex::new(Some(tx)))), Some(rx)),
            None => (None, None),
        };
        let hand_off = |tx: &Arc<Mutex<Option<JobSender>>>| -> HandOff {
            let tx = Arc::clone(tx);
            Arc::new(move |job| {
                if let Some(tx) = lock(&tx).as_mut() {
                    tx.push(job);
                    tx.flush();
                }
            })
        };
        let (mut pool, mut lanes) = match (&standby, routing) {
            (Some(standby), Routing::Pool) => (tuned.pool.clone(), standby.lanes.clone()),
            (Some(standby), Routing::Ring) => (standby.pool.clone(), tuned.lanes.clone()),
            _ => (tuned.pool.clone(), tuned.lanes.clone()),
        };
        if standby.is_some() {
            // After a turn both paths may hold files open at once.
            let (threads, in_flight) = fit_descriptors(pool.threads(), lanes.in_flight());
            if (threads, in_flight) != (pool.threads(), lanes.in_flight()) {
                pool = pool.jobs(threads);
                lanes = lanes.max_in_flight(in_flight);
            }
        }
        if let Some(tx) = &large_tx {
            // With a time limit the pool reads a huge file itself, through a mapping.
            if self.timeout.is_none() {
                pool = pool.hand_off_from(self.split_at, hand_off(tx));
            }
            lanes = lanes.hand_off_from(self.split_at, hand_off(tx));
        }
        let rings_allowed = || {
            lanes.chosen_runtime() == Runtime::IoUring && reader_async::io_uring_refusal().is_none()
        };
        let mut reviser = revisable.then(|| Reviser::new(routing == Routing::Ring));
        let mut routing_now = routing;
        let (failure, lane_stats) = thread::scope(|scope| {
            let large = large_jobs.map(|large| {
                spawn_schedule(
                    scope,
                    "hybrid-split",
                    &split,
                    large,
                    out.clone().counting(&tallies.split),
                )
            });
            let readers = (&lanes, &pool, &split);
            let mut paths = Paths::new(scope, jobs, &out, readers, &tallies);
            let mut send = |paths: &mut Paths<'_, '_, _, _, _>, mut batch: Vec<FileJob>| {
                let probe = |batch: &[FileJob]| CacheProbe::of_some(batch, revise::PROBES);
                if let Some(reviser) = &mut reviser
                    && let Some(cold) = reviser.observe(&batch, probe, rings_allowed)
                {
                    routing_now = if cold { Routing::Ring } else { Routing::Pool };
                }
                if routing_now == Routing::Ring {
                    paths.send(batch.into_iter().map(|job| (Route::Async, job)));
                } else {
                    sized(&mut batch);
                    paths.send(router.route(batch));
                }
            };
            if routing != Routing::Ring {
                paths.start_pool();
            }
            send(&mut paths, first);
            loop {
                let batch = jobs.next_batch(ROUTE_BATCH, &mut out);
                if batch.is_empty() {
                    break;
                }
                send(&mut paths, batch);
            }
            let (failure, lane_stats) = paths.finish();
            // The pool has ended: no more hand-offs; the splitter drains what it was given.
            if let Some(tx) = large_tx.as_ref().and_then(|tx| lock(tx).take()) {
                tx.close();
            }
            let large = match large {
                Some(Ok(running)) => running
                    .join()
                    .unwrap_or_else(|payload| {
                        Err(RunError::panicked("the splitter", payload.as_ref()))
                    })
                    .err(),
                Some(Err(err)) => Some(err),
                None => None,
            };
            (failure.or(large), lane_stats)
        });
        if let Some(err) = failure {
            return Err(err);
        }
        let (threshold, auto) = router.finish();
        let (revised, revisions) = reviser.map(Reviser::finish).unwrap_or_default();
        let lanes_ran = lane_stats.is_some();
        Ok(HybridStats {
            routes: Routes::of(&tallies),
            threshold,
            threshold_mode: match self.threshold {
                Threshold::Fixed(_) => "fixed",
                Threshold::Auto => "auto",
            },
            auto,
            split_at: self.split_at,
            in_flight: if lanes_ran {
                lanes.in_flight()
            } else {
                tuned.lanes.in_flight()
            },
            pool_threads: pool.threads(),
            cache_probe: probe,
            routing,
            revised,
            revisions,
            async_runtime: lane_stats.as_ref().map(|stats| stats.runtime),
            async_fallback: lane_stats.and_then(|stats| stats.fallback),
        })
    }
}

/// How a run sends files to its paths, decided once the cache probe has answered; the
/// summary's `routing` (`"sizes"`, `"pool"`, `"ring"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// By size, looked up first (the caller set the threshold or the split size, or the tree
    /// is cold and io_uring is refused).
    Sizes,
    /// Cached: every file to the pool, sizes unknown.
    Pool,
    /// Cold with io_uring: every file to the async path's rings, sizes unknown.
    Ring,
}

impl Routing {
    fn of(probe: &CacheProbe, routing_set: bool, rings: bool) -> Routing {
        match (routing_set, probe.cold(), rings) {
            (true, _, _) | (false, true, false) => Routing::Sizes,
            (false, false, _) => Routing::Pool,
            (false, true, true) => Routing::Ring,
        }
    }
}

/// Locks `mutex`, whatever a thread that panicked holding it left (a queue's sender).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HybridReader>();
        assert_send_sync::<HybridStats>();
    }

    #[test]
    fn descriptors_are_shared_between_the_paths() {
        let reader = HybridReader::new().jobs(4096).in_flight(4096);
        assert!(reader.threads() + reader.files_in_flight() < defaults::fd_budget());
        assert!(reader.threads() >= 1 && reader.files_in_flight() >= 1);
    }

    #[test]
    fn thresholds_parse_with_units_or_auto() {
        assert_eq!("AUTO".parse(), Ok(Threshold::Auto));
        assert_eq!("10KiB".parse(), Ok(Threshold::Fixed(10_240)));
        assert_eq!("0".parse(), Ok(Threshold::Fixed(0)));
        assert!("ten".parse::<Threshold>().is_err());
    }
}
