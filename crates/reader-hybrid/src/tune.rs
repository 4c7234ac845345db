//! How the hybrid sizes its paths for the tree in front of it: one probe of the page cache
//! ([`CacheProbe`]), and the rules that turn its answer into the async path's lanes, the pool's
//! threads and the number of size look-ups at once ([`tune`]).
//!
//! Not cached, the device decides the speed: the async path reads through io_uring
//! ([`Runtime::IoUring`], tokio's blocking pool where the kernel refuses it) with
//! [`RING_IN_FLIGHT`] files in flight, the pool runs at least [`COLD_POOL_THREADS`] threads
//! and [`COLD_SIZERS`] threads look up sizes at once. Cached, the cores decide: the pool keeps
//! [`defaults::threads`], the async path runs only [`warm_in_flight`] lanes (they and the
//! runtime's threads compete with the pool for the cores) and its hops read up to
//! [`WARM_FILES_PER_HOP`] files each. Settings the caller gave are kept as they are.
//!
//! The measurements behind each rule are in docs/experiments/2026-11-26-hybrid-routing-probe-sizes.md.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use reader_async::{AsyncReader, RING_IN_FLIGHT, Runtime};
use reader_core::{FileJob, defaults, read_from_cache};
use reader_threads::ThreadedReader;
use serde::Serialize;

/// Files whose cache state is probed.
pub(crate) const PROBES: usize = 8;

/// Threads looking up sizes at once when the tree is not cached: enough to keep the device as
/// busy as the async path's reads do.
pub(crate) const COLD_SIZERS: usize = 16;

/// Threads of the pool at least when the tree is not cached: on a cold tree a pool thread
/// waits for the device, and more of them keep it busier.
pub(crate) const COLD_POOL_THREADS: usize = 16;

/// Files a hop of the async path may read before it returns to the runtime, when the tree is
/// cached: a cached small file takes microseconds, less than the hop's two thread hand-offs.
pub(crate) const WARM_FILES_PER_HOP: usize = 256;

/// Files in flight on the async path when the tree is cached: two per core; the lanes read
/// cached files on the runtime's threads (a worker a core), which compete with the pool for
/// the cores.
pub(crate) fn warm_in_flight() -> usize {
    defaults::cores() * 2
}

/// The cache state of the first discovered files, probed without I/O: one byte of each read
/// with `preadv2(RWF_NOWAIT)`, which answers from the page cache or not at all. The byte is
/// the last the job will read: a file read front to back is cached to its
/// end only if all of it is, while its first page may be all that an earlier look at it
/// (a file manager, a duplicate search's prefix) brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheProbe {
    /// Files probed.
    pub probed: usize,
    /// Probed files whose last page to read was in the page cache.
    pub cached: usize,
    /// Microseconds the probe took.
    pub cost_us: u64,
}

impl CacheProbe {
    /// Probes up to [`PROBES`] files spread over `batch`.
    pub(crate) fn of(batch: &[FileJob]) -> CacheProbe {
        CacheProbe::of_some(batch, PROBES)
    }

    /// Probes up to `files` files spread over `batch`.
    pub(crate) fn of_some(batch: &[FileJob], files: usize) -> CacheProbe {
        let started = Instant::now();
        let step = batch.len().div_ceil(files.max(1)).max(1);
        let answers: Vec<bool> = batch.iter().step_by(step).filter_map(is_cached).collect();
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

    /// The share of probed files that were cached; 1 when nothing could be told.
    pub fn cached_share(&self) -> f64 {
        if self.probed == 0 {
            1.0
        } else {
            self.cached as f64 / self.probed as f64
        }
    }
}

/// Whether the last byte `job` will read — the end of the file, or of its byte range — is in
/// the page cache, found out without doing any I/O; `None` if that cannot be told.
pub(crate) fn is_cached(job: &FileJob) -> Option<bool> {
    // Discovery said this is a regular file; O_NONBLOCK keeps a swapped-in FIFO from blocking.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&job.path)
        .ok()?;
    let len = file.metadata().ok()?.len();
    let end = job.part.as_ref().map_or(len, |part| part.end.min(len));
    // An empty file (or range) has no page to be cached or not: it says nothing.
    probe(&file, end.checked_sub(1)?)
}

/// Whether the byte at `offset` of the open `file` is in the page cache, asked without I/O;
/// `None` if that cannot be told. Asking can start the kernel's read-ahead of the pages there
/// (a refused read still counts as one), so a second look at the same place may find it
/// cached.
pub(crate) fn probe(file: &File, offset: u64) -> Option<bool> {
    match read_from_cache(file, &mut [0; 1], Some(offset)) {
        Ok(_) => Some(true),
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => Some(false),
        Err(_) => None,
    }
}

/// What the caller set, and so the probe must not change.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) lanes: AsyncReader,
    pub(crate) pool: ThreadedReader,
    /// The files in flight were set by the caller.
    pub(crate) fixed_lanes: bool,
    /// The pool's threads were set by the caller.
    pub(crate) fixed_pool: bool,
}

/// The paths as this run will use them.
#[derive(Debug, Clone)]
pub(crate) struct Tuned {
    pub(crate) lanes: AsyncReader,
    pub(crate) pool: ThreadedReader,
    /// Threads looking up sizes at once.
    pub(crate) sizers: usize,
}

/// The paths for a tree the probe describes (see the module docs).
pub(crate) fn tune(settings: &Settings, probe: &CacheProbe) -> Tuned {
    tune_for(settings, probe.cold())
}

/// The paths for a tree that is `cold` (not cached) or cached.
pub(crate) fn tune_for(settings: &Settings, cold: bool) -> Tuned {
    let lanes = if cold {
        // The device decides: the async path reads through io_uring, many files in flight
        // and no thread blocked in a read (tokio's blocking pool where io_uring is refused).
        let lanes = settings.lanes.clone().runtime(Runtime::IoUring);
        if settings.fixed_lanes {
            lanes
        } else {
            lanes.max_in_flight(defaults::clamp_to_fds(RING_IN_FLIGHT))
        }
    } else if settings.fixed_lanes {
        settings.lanes.clone()
    } else {
        let lanes = settings.lanes.in_flight().min(warm_in_flight());
        settings
            .lanes
            .clone()
            .max_in_flight(lanes)
            .files_per_hop(WARM_FILES_PER_HOP)
    };
    let pool = if settings.fixed_pool || !cold {
        settings.pool.clone()
    } else {
        // On a cold tree a pool thread spends its time waiting for the device, and more of
        // them put more reads before it; as many as the async path leaves descriptors for.
        let room = defaults::fds_beyond(lanes.in_flight() + 1).max(1);
        let threads = settings.pool.threads().max(COLD_POOL_THREADS).min(room);
        settings.pool.clone().jobs(threads)
    };
    fit_address_space(Tuned {
        lanes,
        pool,
        sizers: if cold { COLD_SIZERS } else { 1 },
    })
}

/// A share of `1 / parts` of the reading threads a limit on address space (`ulimit -v`) leaves
/// room for ([`defaults::clamp_to_address_space`]), at least 1; `usize::MAX` without a limit.
pub(crate) fn address_space_share(parts: usize) -> usize {
    match defaults::clamp_to_address_space(usize::MAX) {
        usize::MAX => usize::MAX,
        room => (room / parts.max(1)).max(1),
    }
}

/// Under a limit on address space every path's threads share what it leaves, each clamped on
/// its own would take it all: half to the async path's blocking reads, a quarter to the pool,
/// an eighth to the size lookups (and an eighth to the splitter, see `HybridReader`).
fn fit_address_space(mut tuned: Tuned) -> Tuned {
    let half = address_space_share(2);
    if half == usize::MAX {
        return tuned;
    }
    let (lanes, threads) = (tuned.lanes.in_flight(), tuned.pool.threads());
    tuned.lanes = tuned.lanes.max_in_flight(lanes.min(half));
    tuned.pool = tuned.pool.jobs(threads.min(address_space_share(4)));
    tuned.sizers = tuned.sizers.min(address_space_share(8));
    tuned
}

/// Every path holds files open at once: the pool one per thread, the async path one per lane,
/// the splitter one. Keeps their sum within the descriptor budget, halving the larger share
/// first; returns the threads and lanes that fit.
pub(crate) fn fit_descriptors(threads: usize, lanes: usize) -> (usize, usize) {
    let budget = defaults::fd_budget();
    let (mut threads, mut lanes) = (threads, lanes);
    while threads + lanes + 1 > budget && threads + lanes > 2 {
        if lanes >= threads {
            lanes = (lanes / 2).max(1);
        } else {
            threads = (threads / 2).max(1);
        }
    }
    (threads, lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(fixed: bool) -> Settings {
        Settings {
            lanes: AsyncReader::new().max_in_flight(50),
            pool: ThreadedReader::new().jobs(3),
            fixed_lanes: fixed,
            fixed_pool: fixed,
        }
    }

    fn probe(probed: usize, cached: usize) -> CacheProbe {
        CacheProbe {
            probed,
            cached,
            cost_us: 0,
        }
    }

    #[test]
    fn a_cold_tree_gets_many_reads_in_flight_and_a_cached_one_few() {
        let cold = tune(&settings(false), &probe(8, 1));
        assert_eq!(
            cold.lanes.in_flight(),
            defaults::clamp_to_fds(RING_IN_FLIGHT).min(address_space_share(2))
        );
        assert_eq!(
            cold.pool.threads(),
            COLD_POOL_THREADS.min(defaults::fds_beyond(cold.lanes.in_flight() + 1))
        );
        assert_eq!(cold.sizers, COLD_SIZERS);
        let warm = tune(&settings(false), &probe(8, 8));
        assert_eq!(warm.lanes.in_flight(), 50.min(warm_in_flight()));
        assert_eq!((warm.pool.threads(), warm.sizers), (3, 1));
    }

    #[test]
    fn what_the_caller_set_is_kept_and_no_answer_is_not_cold() {
        let cold = tune(&settings(true), &probe(8, 0));
        assert_eq!((cold.lanes.in_flight(), cold.pool.threads()), (50, 3));
        assert!(!probe(0, 0).cold());
        assert_eq!(probe(0, 0).cached_share(), 1.0);
        assert!(probe(3, 1).cold() && !probe(2, 1).cold());
    }

    #[test]
    fn descriptors_are_shared_between_the_paths() {
        let (threads, lanes) = fit_descriptors(4096, 4096);
        assert!(threads + lanes < defaults::fd_budget().max(3));
        assert!(threads >= 1 && lanes >= 1);
        assert_eq!(fit_descriptors(3, 4), (3, 4));
    }

    #[test]
    fn a_file_just_written_is_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "hello").expect("write");
        assert_eq!(is_cached(&FileJob::new(&path, None)), Some(true));
        assert_eq!(
            is_cached(&FileJob::new(dir.path().join("gone"), None)),
            None
        );
        let jobs = vec![FileJob::new(path, None); 20];
        let probe = CacheProbe::of(&jobs);
        assert_eq!((probe.probed, probe.cached), (7, 7));
    }

    #[test]
    fn a_file_is_cached_where_its_read_ends() {
        use reader_core::{Edges, Part};
        use reader_testkit::cache::{self, Pages};
        let dir = cache::tempdir();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 8 * 4096]).expect("write");
        let whole = FileJob::new(&path, None);
        let head = FileJob {
            part: Some(Part {
                index: 1,
                parts: 3,
                start: 0,
                end: 4096,
                file_size: 8 * 4096,
                edges: Edges::default(),
            }),
            ..whole.clone()
        };
        // Only its first page cached, as a look at its head leaves it: the file as a whole is
        // not, its first 4 KiB are.
        if cache::cache_only(&path, Pages::First).is_err() {
            eprintln!("skipped: this file system keeps every page (tmpfs?)");
            return;
        }
        assert_eq!(is_cached(&head), Some(true));
        assert_eq!(is_cached(&whole), Some(false));
        cache::cache_only(&path, Pages::AllButFirst).expect("cache");
        assert_eq!(is_cached(&whole), Some(true));
    }
}
