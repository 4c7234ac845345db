//! # reader-hybrid
//!
//! The hybrid model: every file goes where it is read best, by its size. reader-core's
//! [`RoutePolicy`] decides:
//!
//! * files below the threshold (default 10 KiB) → the **async path**
//!   ([`reader_async::AsyncReader::schedule`]): many files in flight at once, which is what
//!   decides speed when the data is not cached;
//! * files from the threshold up → the **thread pool**
//!   ([`reader_threads::ThreadedReader::schedule`]): few threads, little overhead per byte;
//! * files from `split_at` up (default 64 MiB) → **split**: read as 16 MiB byte ranges by
//!   several threads at once with positioned reads on one descriptor, the ranges' counts joined
//!   exactly by [`RangeCounts::join`](reader_core::RangeCounts::join); one record per file.
//!
//! The three paths run at the same time, each on its own queue, fed by one router that takes
//! discovery's jobs as they come; neither waits for the other, and their records go out as one
//! stream. The async path and the splitter start when the first file goes their way, so a tree
//! without small files starts no runtime. Every discovered entry yields exactly one record:
//! what a path left unread, had it stopped, is reported as `worker_crashed`.
//!
//! Sizes are looked up by the router, not by discovery, relative to each file's directory, and
//! the paths then read without the `fstat` a reader otherwise does after opening
//! ([`count_sized`](reader_core::count_sized)): one `stat` a file in all, as for the other
//! readers. On a cold tree a `stat` is a read of the inode from the device, and the router then
//! runs [`COLD_SIZERS`] of them at once. Done one at a time during the walk, they took longer than
//! reading the 20,000 small files themselves (measured: 549 ms against 324 ms for
//! reader-async, which looks up no size).
//!
//! Before the paths start, the router probes whether the first files are in the page cache
//! ([`CacheProbe`]: a `preadv2(RWF_NOWAIT)` of one byte, which never does I/O). Not cached, the
//! device decides the speed: the async path keeps [`defaults::in_flight`] reads in flight and
//! the pool runs at least [`COLD_POOL_THREADS`] threads. Cached, the cores decide: the pool
//! keeps [`defaults::threads`], the async path runs only [`warm_in_flight`] lanes (every lane is
//! a blocking thread competing with the pool for the cores) and its hops read up to
//! [`WARM_FILES_PER_HOP`] files each.
//!
//! What it costs, measured on 2 cores: on a cached tree of 1,000 mixed files the routing (the
//! router's look-ups and hand-offs) makes the hybrid 10–15 % slower than reader-threads alone,
//! which reads everything with the fewest threads; not cached, on 20,000 small files, it is 2.7
//! times as fast as reader-threads with 2 jobs, and on one cached 1 GiB file, which only
//! splitting spreads over both cores, twice as fast as reader-threads.
//!
//! With [`Threshold::Auto`] the threshold is chosen at start-up from the tree's own sizes and
//! the same measurement (see [`auto`]).
//!
//! Memory stays bounded by buffers, never by file sizes: one [`BUFFER_SIZE`] buffer per pool
//! thread, per async lane and per thread reading a split file.
//!
//! ```
//! use reader_core::{Record, Walk};
//! use reader_hybrid::{HybridReader, Threshold};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("small.txt"), "one two\n")?;
//! std::fs::write(dir.path().join("large.txt"), "word ".repeat(10_000))?;
//! let mut words = 0;
//! let routes = HybridReader::new()
//!     .threshold(Threshold::Fixed(1024))
//!     .read(&Walk::new([dir.path()]), |record| {
//!         if let Record::File(file) = record {
//!             words += file.outcome.map_or(0, |c| c.words);
//!         }
//!     })?;
//! assert_eq!(words, 10_002);
//! assert_eq!((routes.async_path.files, routes.threads.files), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod auto;
mod sizes;
mod split;

use std::panic::{self, AssertUnwindSafe};
use std::thread;

use reader_async::AsyncReader;
use reader_core::defaults::{self, BUFFER_SIZE};
use reader_core::pipeline::{self, JobSender, abandoned};
use reader_core::{
    Emitter, FileJob, Jobs, Record, Route, RoutePolicy, RunInfo, StartError, Walk, Worker,
};
use reader_threads::ThreadedReader;
use serde_json::json;

use crate::auto::{AutoThreshold, Choice};
use crate::sizes::look_up_sizes;
use crate::split::Splitter;

/// Jobs the router takes from discovery's queue at once.
const ROUTE_BATCH: usize = 256;

/// Jobs the router takes first, to probe the cache with and to start the paths on.
const FIRST_BATCH: usize = 32;

/// Threads looking up sizes at once when the tree is not cached: enough to keep the device as
/// busy as the async path's reads do.
pub const COLD_SIZERS: usize = 16;

/// Threads of the pool at least when the tree is not cached. Measured cold (caches dropped,
/// hyperfine, 5 runs): 2,000 files of 16–256 KiB took 334 ms with the 3 threads of a warm
/// pool and 234 ms with 16; 1,000 mixed files 121 and 113 ms.
pub const COLD_POOL_THREADS: usize = 16;

/// How the async/threads threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// Files smaller than this many bytes go to the async path.
    Fixed(u64),
    /// Chosen at start-up from the tree and a short measurement (see [`auto`]).
    Auto,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::Fixed(RoutePolicy::DEFAULT_THRESHOLD)
    }
}

/// Parses `--threshold`: `auto` or a size with units (`10KiB`, `64k`, `1MB`, `4096`).
///
/// ```
/// use reader_hybrid::{Threshold, parse_threshold};
/// assert_eq!(parse_threshold("auto"), Ok(Threshold::Auto));
/// assert_eq!(parse_threshold("64k"), Ok(Threshold::Fixed(65_536)));
/// assert!(parse_threshold("abc").is_err());
/// ```
pub fn parse_threshold(text: &str) -> Result<Threshold, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        Ok(Threshold::Auto)
    } else {
        reader_core::parse_size(text).map(Threshold::Fixed)
    }
}

/// Files and bytes that went one way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteCount {
    /// Files read (or failed) on this path.
    pub files: u64,
    /// Bytes read on this path.
    pub bytes: u64,
}

/// How many files and bytes went each way, and the threshold the run used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Routes {
    /// Small files, read by the async path.
    pub async_path: RouteCount,
    /// Files read whole by the thread pool.
    pub threads: RouteCount,
    /// Large files read as ranges in parallel.
    pub split: RouteCount,
    /// The settings the run used.
    pub used: Used,
}

/// The settings a run used, decided at its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    /// The async/threads threshold in bytes at the end of routing (the chosen one, with
    /// [`Threshold::Auto`], once the sample was complete).
    pub threshold: u64,
    /// What [`Threshold::Auto`] found, if it chose.
    pub auto: Option<Choice>,
    /// Files in flight on the async path.
    pub in_flight: usize,
    /// Threads of the pool.
    pub pool_threads: usize,
    /// What the cache probe of the first files found.
    pub probe: CacheProbe,
}

/// The cache state of the first discovered files, probed without I/O ([`auto::is_cached`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheProbe {
    /// Files probed.
    pub probed: usize,
    /// Probed files whose first page was in the page cache.
    pub cached: usize,
    /// Microseconds the probe took.
    pub cost_us: u64,
}

impl CacheProbe {
    /// Probes up to [`auto::PROBES`] files spread over `batch`.
    pub fn of(batch: &[FileJob]) -> CacheProbe {
        let started = std::time::Instant::now();
        let step = batch.len().div_ceil(auto::PROBES).max(1);
        let answers: Vec<bool> = batch
            .iter()
            .step_by(step)
            .filter_map(|job| auto::is_cached(&job.path))
            .collect();
        CacheProbe {
            probed: answers.len(),
            cached: answers.iter().filter(|&&c| c).count(),
            cost_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// Most probed files were not cached: the device, not the cores, will decide the speed.
    /// With no answer (nothing probed, a file system without `RWF_NOWAIT`), not cold.
    pub fn cold(&self) -> bool {
        self.cached * 2 < self.probed
    }
}

impl Routes {
    /// Counts one record on the path that read it (known by its worker). Records no path read
    /// (entries that failed during discovery, skipped entries) count nowhere.
    pub fn count(&mut self, record: &Record) {
        let Record::File(file) = record else {
            return;
        };
        let route = match file.worker {
            Worker::Task(_) => &mut self.async_path,
            Worker::Thread(_) => &mut self.threads,
            Worker::Split(_) => &mut self.split,
            _ => return,
        };
        route.files += 1;
        route.bytes += file.outcome.as_ref().map_or(0, |c| c.bytes);
    }

    /// The `"routes"` object of the summary: `{"async":{"files":…,"bytes":…},"threads":…,"split":…}`.
    pub fn to_json(&self) -> serde_json::Value {
        let one = |r: &RouteCount| json!({ "files": r.files, "bytes": r.bytes });
        json!({
            Route::Async.as_str(): one(&self.async_path),
            Route::Threads.as_str(): one(&self.threads),
            Route::Split.as_str(): one(&self.split),
        })
    }
}

/// The hybrid reader; a builder that takes and returns `self`.
#[derive(Debug, Clone)]
pub struct HybridReader {
    pool: ThreadedReader,
    lanes: AsyncReader,
    /// The files in flight were set by the caller: the cache probe does not change them.
    fixed_lanes: bool,
    /// The pool's threads were set by the caller: the cache probe does not change them.
    fixed_jobs: bool,
    threshold: Threshold,
    split_at: u64,
    split_threads: usize,
    buffer_size: usize,
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
            pool: ThreadedReader::new(),
            lanes: AsyncReader::new(),
            fixed_lanes: false,
            fixed_jobs: false,
            threshold: Threshold::default(),
            split_at: RoutePolicy::DEFAULT_SPLIT_AT,
            split_threads: defaults::threads(),
            buffer_size: BUFFER_SIZE,
        }
        .fit_descriptors()
    }

    /// Threads of the pool, and threads reading the ranges of a split file (at least 1).
    /// Without it, the pool has [`defaults::threads`] threads when the tree is cached and at
    /// least [`COLD_POOL_THREADS`] when it is not (see [`CacheProbe`]).
    pub fn jobs(mut self, threads: usize) -> HybridReader {
        self.pool = self.pool.jobs(threads);
        self.fixed_jobs = true;
        self.split_threads = threads.clamp(1, 4096);
        self.fit_descriptors()
    }

    /// Files in flight on the async path (at least 1).
    /// Without it, the async path keeps [`defaults::in_flight`] files in flight when the tree
    /// is not cached and [`warm_in_flight`] when it is (see [`CacheProbe`]).
    pub fn in_flight(mut self, files: usize) -> HybridReader {
        self.lanes = self.lanes.max_in_flight(files);
        self.fixed_lanes = true;
        self.fit_descriptors()
    }

    /// The async/threads threshold.
    pub fn threshold(mut self, threshold: Threshold) -> HybridReader {
        self.threshold = threshold;
        self
    }

    /// Files of at least this many bytes are split into ranges read in parallel.
    pub fn split_at(mut self, bytes: u64) -> HybridReader {
        self.split_at = bytes;
        self
    }

    /// The chunk size of each read, on every path (at least 1 byte).
    pub fn buffer_size(mut self, bytes: usize) -> HybridReader {
        self.buffer_size = bytes.max(1);
        self.pool = self.pool.buffer_size(bytes);
        self.lanes = self.lanes.buffer_size(bytes);
        self
    }

    /// Threads of the pool.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    /// Files in flight on the async path when the tree is not cached (or when set).
    pub fn files_in_flight(&self) -> usize {
        self.lanes.in_flight()
    }

    /// The async reader for this run: as configured when the caller set the files in flight
    /// or the tree is not cached; otherwise with at most [`warm_in_flight`] lanes, since
    /// cached reads need cores, not reads in flight, and every extra lane is a blocking
    /// thread competing for them, and with hops of up to [`WARM_FILES_PER_HOP`] files.
    fn lanes_for(&self, probe: &CacheProbe) -> AsyncReader {
        if self.fixed_lanes || probe.cold() {
            self.lanes.clone()
        } else {
            let lanes = self.lanes.in_flight().min(warm_in_flight());
            self.lanes
                .clone()
                .max_in_flight(lanes)
                .files_per_hop(WARM_FILES_PER_HOP)
        }
    }

    /// The thread pool for this run: as configured when the caller set the threads or the tree
    /// is cached; otherwise with at least [`COLD_POOL_THREADS`], as many as the descriptors
    /// left by the async path allow: on a cold tree a pool thread spends its time waiting for
    /// the device, and more of them put more reads before it.
    fn pool_for(&self, probe: &CacheProbe, lanes: usize) -> ThreadedReader {
        if self.fixed_jobs || !probe.cold() {
            return self.pool.clone();
        }
        let room = defaults::fd_budget().saturating_sub(lanes + 1).max(1);
        let threads = self.pool.threads().max(COLD_POOL_THREADS).min(room);
        self.pool.clone().jobs(threads)
    }

    /// Every path holds files open at once: the pool one per thread, the async path one per
    /// lane, the splitter one. Keep their sum within the descriptor budget, halving the
    /// larger share first.
    fn fit_descriptors(mut self) -> HybridReader {
        let budget = defaults::fd_budget();
        let (mut threads, mut lanes) = (self.pool.threads(), self.lanes.in_flight());
        while threads + lanes + 1 > budget && threads + lanes > 2 {
            if lanes >= threads {
                lanes = (lanes / 2).max(1);
            } else {
                threads = (threads / 2).max(1);
            }
        }
        self.pool = self.pool.jobs(threads);
        self.lanes = self.lanes.max_in_flight(lanes);
        self
    }

    /// What this reader tells a run's summary, given the routes it took.
    pub fn run_info(&self, routes: &Routes) -> RunInfo {
        let used = &routes.used;
        let mut info = RunInfo::jobs(used.pool_threads);
        let extra = &mut info.extra;
        extra.insert("routes".into(), routes.to_json());
        extra.insert("threshold".into(), used.threshold.into());
        extra.insert(
            "threshold_mode".into(),
            match self.threshold {
                Threshold::Fixed(_) => "fixed",
                Threshold::Auto => "auto",
            }
            .into(),
        );
        if let Some(choice) = &used.auto {
            extra.insert("auto".into(), choice.to_json());
        }
        extra.insert("split_at".into(), self.split_at.into());
        extra.insert("in_flight".into(), used.in_flight.into());
        extra.insert(
            "cache_probe".into(),
            json!({
                "probed": used.probe.probed,
                "cached": used.probe.cached,
                "cost_us": used.probe.cost_us,
            }),
        );
        info
    }

    /// Discovers and reads everything `walk` names (asking discovery for sizes), handing each
    /// record to `on_record` on the calling thread as soon as it is known, and returns how many
    /// files and bytes went each way. Fails only if a PATH does not exist or the async runtime
    /// cannot start.
    pub fn read(
        &self,
        walk: &Walk,
        mut on_record: impl FnMut(Record),
    ) -> Result<Routes, StartError> {
        walk.check()?;
        let mut routes = Routes::default();
        let used = pipeline::run(
            walk,
            |jobs, out| self.schedule(&jobs, out),
            |record| {
                routes.count(&record);
                on_record(record);
            },
        );
        routes.used =
            used.ok_or_else(|| StartError::Spawn("the hybrid router panicked".into()))??;
        Ok(routes)
    }

    /// Routes an existing job queue to the three paths until it is
    /// closed and drained, and returns what it used. The calling thread is the router.
    pub fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<Used, StartError> {
        let (to_async, async_jobs) = pipeline::queue();
        let (to_pool, pool_jobs) = pipeline::queue();
        let (to_split, split_jobs) = pipeline::queue();
        let mut started = Ok(());
        let threshold = thread::scope(|scope| {
            let mut router = Router::new(self, [to_async, to_pool, to_split]);
            // The pool and the async path are sized by whether the tree is cached: probe the
            // first files. A small first batch gets the readers going sooner.
            let mut first = jobs.next_batch(FIRST_BATCH, &mut out);
            let probe = CacheProbe::of(&first);
            let lanes_reader = self.lanes_for(&probe);
            let in_flight = lanes_reader.in_flight();
            let pool_reader = self.pool_for(&probe, in_flight);
            let pool_threads = pool_reader.threads();
            let pool_out = out.clone();
            let pool = spawn_path(scope, "hybrid-pool", &pool_jobs, out.clone(), move |jobs| {
                pool_reader.schedule(jobs, pool_out);
                Ok(())
            });
            let sizers = if probe.cold() { COLD_SIZERS } else { 1 };
            look_up_sizes(&mut first, sizers);
            router.route(first);
            let (mut lanes, mut splitter) = (None, None);
            loop {
                // A path starts when the first file goes its way (its queue keeps the file
                // until then): a tree without small or without huge files never starts it.
                if lanes.is_none() && router.sent(Route::Async) {
                    let (reader, lanes_out) = (lanes_reader.clone(), out.clone());
                    lanes = Some(spawn_path(
                        scope,
                        "hybrid-async",
                        &async_jobs,
                        out.clone(),
                        move |jobs| reader.schedule(jobs, lanes_out),
                    ));
                }
                if splitter.is_none() && router.sent(Route::Split) {
                    let mut split_out = out.clone();
                    splitter = Some(spawn_path(
                        scope,
                        "hybrid-split",
                        &split_jobs,
                        out.clone(),
                        move |jobs| {
                            let mut splitter = Splitter::new(self.split_threads, self.buffer_size);
                            while let Some(job) = jobs.next(&mut split_out) {
                                split_out.emit(splitter.read(&job));
                            }
                            Ok(())
                        },
                    ));
                }
                let mut batch = jobs.next_batch(ROUTE_BATCH, &mut out);
                if batch.is_empty() {
                    break;
                }
                look_up_sizes(&mut batch, sizers);
                router.route(batch);
            }
            let (threshold, auto) = router.finish();
            for path in [lanes, Some(pool), splitter].into_iter().flatten() {
                if let Ok(Err(err)) = path.join() {
                    started = Err(err);
                }
            }
            Used {
                threshold,
                auto,
                in_flight,
                pool_threads,
                probe,
            }
        });
        started.map(|()| threshold)
    }
}

/// The router's state over a run: the policy (with the `auto` choice while it is being made)
/// and the three paths' queues, async, pool and split, in [`Route`] order.
struct Router {
    policy: RoutePolicy,
    auto: Option<AutoThreshold>,
    chosen: Option<Choice>,
    routed: usize,
    senders: [JobSender; 3],
    sent: [bool; 3],
}

impl Router {
    fn new(reader: &HybridReader, senders: [JobSender; 3]) -> Router {
        let (threshold, auto) = match reader.threshold {
            Threshold::Fixed(bytes) => (bytes, None),
            Threshold::Auto => (RoutePolicy::DEFAULT_THRESHOLD, Some(AutoThreshold::new())),
        };
        Router {
            policy: RoutePolicy {
                threshold,
                split_at: reader.split_at,
            },
            auto,
            chosen: None,
            routed: 0,
            senders,
            sent: [false; 3],
        }
    }

    fn index(route: Route) -> usize {
        match route {
            Route::Async => 0,
            Route::Threads => 1,
            Route::Split => 2,
        }
    }

    /// Pushes every job of `batch` (sizes looked up) to its path's queue.
    fn route(&mut self, batch: Vec<FileJob>) {
        if let Some(chooser) = &mut self.auto
            && let Some(choice) = chooser.observe(&batch)
        {
            self.policy.threshold = choice.threshold;
            self.chosen = Some(Choice {
                routed_before: self.routed,
                ..choice
            });
            self.auto = None;
        }
        self.routed += batch.len();
        for job in batch {
            // A file whose size could not be looked up goes to the pool, which says why.
            let route = job
                .size
                .map_or(Route::Threads, |size| self.policy.route(size));
            let path = Router::index(route);
            self.sent[path] = true;
            self.senders[path].push(job);
        }
        for sender in &mut self.senders {
            sender.flush();
        }
    }

    /// Whether any job has gone `route`'s way.
    fn sent(&self, route: Route) -> bool {
        self.sent[Router::index(route)]
    }

    /// Closes the three queues; returns the threshold in force at the end and what `auto`
    /// chose.
    fn finish(self) -> (u64, Option<Choice>) {
        let Router {
            policy,
            auto,
            chosen,
            routed,
            ..
        } = self;
        // A tree smaller than the sample ended before the choice: it was all routed with the
        // default, and the choice is only reported.
        let chosen = auto
            .and_then(AutoThreshold::finish)
            .map_or(chosen, |choice| {
                Some(Choice {
                    routed_before: routed,
                    ..choice
                })
            });
        (policy.threshold, chosen)
    }
}

/// Files a hop of the async path may read before it returns to the runtime, when the tree is
/// cached: a cached small file takes microseconds, less than the hop's two thread hand-offs.
/// Measured on 20,000 small files warm (interleaved runs, median): 16 files a hop took 88 ms,
/// 64 took 77 ms, 256 took 74 ms.
pub const WARM_FILES_PER_HOP: usize = 256;

/// Files in flight on the async path when the tree is cached: two per core (4 on 2 cores).
/// Measured on the mixed tree warm, in-process time, median of 15 runs each: 1, 2, 4 and 8
/// lanes took 14.7, 13.9, 13.5 and 15.4 ms, against 13.2 ms for reader-threads; every lane
/// is a blocking thread competing with the pool for the cores.
pub fn warm_in_flight() -> usize {
    defaults::cores() * 2
}

/// Starts one path on its own thread over its queue. Whatever it leaves unread — because it
/// failed to start or panicked — is drained and reported as `worker_crashed`, so the router is
/// never blocked on a full queue that nobody reads and nothing is lost.
fn spawn_path<'scope, 'env, F>(
    scope: &'scope thread::Scope<'scope, 'env>,
    name: &str,
    jobs: &'scope Jobs,
    mut leftovers: Emitter,
    path: F,
) -> thread::ScopedJoinHandle<'scope, Result<(), StartError>>
where
    F: FnOnce(&Jobs) -> Result<(), StartError> + Send + 'scope,
{
    let run = move || {
        let result = panic::catch_unwind(AssertUnwindSafe(|| path(jobs)))
            .unwrap_or_else(|_| Err(StartError::Spawn("a reading path panicked".into())));
        let why = match &result {
            Ok(()) => "not read: the reader stopped before reaching it".to_string(),
            Err(err) => format!("not read: {err}"),
        };
        loop {
            let batch: Vec<FileJob> = jobs.next_batch(usize::MAX, &mut leftovers);
            if batch.is_empty() {
                break;
            }
            for job in batch {
                leftovers.emit(abandoned(job, &why));
            }
        }
        result
    };
    thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, run)
        .expect("spawning a reading path's thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HybridReader>();
        assert_send_sync::<Routes>();
    }

    #[test]
    fn descriptors_are_shared_between_the_paths() {
        let reader = HybridReader::new().jobs(4096).in_flight(4096);
        assert!(reader.threads() + reader.files_in_flight() < defaults::fd_budget());
        assert!(reader.threads() >= 1 && reader.files_in_flight() >= 1);
    }

    #[test]
    fn thresholds_parse_with_units_or_auto() {
        assert_eq!(parse_threshold("AUTO"), Ok(Threshold::Auto));
        assert_eq!(parse_threshold("10KiB"), Ok(Threshold::Fixed(10_240)));
        assert_eq!(parse_threshold("0"), Ok(Threshold::Fixed(0)));
        assert!(parse_threshold("ten").is_err());
    }
}
