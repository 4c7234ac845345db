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
//! Before the paths start, the router probes whether the first files are in the page cache
//! ([`CacheProbe`]) and plans the run by the answer (`plan.rs`): cached, every file goes to
//! the pool with no size looked up (`"routing": "pool"`); cold, every file goes through
//! io_uring's rings (`"routing": "ring"`); by size when the caller set the threshold or the
//! split size, or io_uring is refused (`"routing": "sizes"`). A half-cached tree turns the
//! routing as it goes (`"revisions"`, [`Revision`]).
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
#![forbid(unsafe_code)]

// README's Rust examples compile as doctests of this crate, which has every model: they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

mod auto;
mod paths;
mod plan;
mod revise;
mod route;
mod router;
mod sizes;
mod split;
mod stats;
mod tune;

use std::time::Duration;

use reader_async::{AsyncReader, io_uring_refusal};
use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::{Emitter, FileJob, Jobs, RunError, Schedule, spawn_schedule};
use reader_threads::ThreadedReader;

pub use crate::auto::Choice;
use crate::paths::{Paths, Tallies};
pub use crate::plan::Routing;
use crate::plan::{Asked, Plan, plan};
use crate::revise::Reviser;
pub use crate::revise::Revision;
pub use crate::route::{Route, RoutePolicy};
use crate::router::Router;
pub use crate::router::Threshold;
use crate::sizes::look_up_sizes;
use crate::split::{SplitQueue, SplitReader};
pub use crate::stats::{HybridStats, RouteCount, Routes};
pub use crate::tune::CacheProbe;
use crate::tune::{Settings, fit_descriptors};

/// Jobs the router takes from discovery's queue at once.
const ROUTE_BATCH: usize = 256;

/// Jobs the router takes first, to probe the cache with and to start the paths on.
const FIRST_BATCH: usize = 32;

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

    /// Probes the first files, plans the run by what it found (`plan.rs`), and routes every
    /// job to its path until the queue is closed and drained. The calling thread routes.
    fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<HybridStats, RunError> {
        let first = jobs.next_batch(FIRST_BATCH, &mut out);
        let probe = CacheProbe::of(&first);
        let asked = Asked {
            routing: self.routing_set,
            timeout: self.timeout.is_some(),
        };
        let Plan {
            routing,
            mut pool,
            mut lanes,
            tuned_in_flight,
            sizers,
            revisable,
            pool_hands_off,
            rings_allowed,
        } = plan(&self.settings, &probe, asked, io_uring_refusal().is_none());
        let split = SplitReader {
            threads: self.split_threads.min(tune::address_space_share(8)),
            buffer_size: self.buffer_size,
            timeout: self.timeout,
        };
        let tallies = Tallies::default();
        let mut router = Router::new(self.threshold, self.split_at, probe);
        // Not routed by size, a huge file is found by the pool thread or the ring that opens
        // it, which hands it, unread, to a splitter of its own (`hand_off_from`).
        let (large, large_jobs) = (revisable)
            .then(|| jobs.sub_queue(out.clone().counting(&tallies.split)))
            .map(|(sender, large_jobs)| (SplitQueue::new(sender), large_jobs))
            .unzip();
        if let Some(large) = &large {
            if pool_hands_off {
                pool = pool.hand_off_from(self.split_at, large.hand_off());
            }
            lanes = lanes.hand_off_from(self.split_at, large.hand_off());
        }
        let mut reviser = revisable.then(|| Reviser::new(routing == Routing::Ring));
        let mut routing_now = routing;
        let (failure, lane_stats) = std::thread::scope(|scope| {
            let splitter = large_jobs.map(|large_jobs| {
                let out = out.clone().counting(&tallies.split);
                spawn_schedule(scope, "hybrid-split", &split, large_jobs, out)
            });
            let mut paths = Paths::new(scope, jobs, &out, (&lanes, &pool, &split), &tallies);
            if routing != Routing::Ring {
                paths.start_pool();
            }
            let mut batch = first;
            while !batch.is_empty() {
                let probe = |batch: &[FileJob]| CacheProbe::of_some(batch, revise::PROBES);
                if let Some(reviser) = &mut reviser
                    && let Some(cold) = reviser.observe(&batch, probe, || rings_allowed)
                {
                    routing_now = if cold { Routing::Ring } else { Routing::Pool };
                }
                if routing_now == Routing::Ring {
                    paths.send(batch.into_iter().map(|job| (Route::Async, job)));
                } else {
                    if routing_now == Routing::Sizes {
                        look_up_sizes(&mut batch, sizers);
                    }
                    paths.send(router.route(batch));
                }
                batch = jobs.next_batch(ROUTE_BATCH, &mut out);
            }
            let (failure, lane_stats) = paths.finish();
            // The paths have ended: no more hand-offs; the splitter drains what it was given.
            if let Some(large) = &large {
                large.close();
            }
            let split_failure = splitter.and_then(|running| match running {
                Ok(running) => running
                    .join()
                    .unwrap_or_else(|payload| {
                        Err(RunError::panicked("the splitter", payload.as_ref()))
                    })
                    .err(),
                Err(err) => Some(err),
            });
            (failure.or(split_failure), lane_stats)
        });
        if let Some(err) = failure {
            return Err(err);
        }
        let (threshold, auto) = router.finish();
        let (revised, revisions) = reviser.map(Reviser::finish).unwrap_or_default();
        Ok(HybridStats {
            routes: Routes::of(&tallies),
            threshold,
            threshold_mode: self.threshold.mode(),
            auto,
            split_at: self.split_at,
            in_flight: match lane_stats {
                Some(_) => lanes.in_flight(),
                None => tuned_in_flight,
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
}
