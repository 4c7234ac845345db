//! The plan of a run, decided once the cache probe of the first files has answered: how the
//! files are routed ([`Routing`]), how each path is sized, and which paths hand the huge
//! files they find to the splitter. Pure: what the kernel allows (io_uring) is an argument,
//! so every decision is a unit test; [`crate::HybridReader`]'s loop carries the plan out.
//!
//! On a cached tree, unless the caller set the threshold or the split size, no file is routed
//! by size: the cores decide there, the thread pool reads every kind of file as well as any
//! path, and the size look-up would be a second name lookup a file. So every file goes to the
//! pool with its size unknown, and the summary says so (`"routing": "pool"`); this made the
//! hybrid tie `reader-threads` on every cached fixture, where routing by size cost it 10–20 %
//! (docs/experiments/2026-11-26-hybrid-routing-probe-sizes.md). Huge files are still split: a
//! pool thread that opens a file as large as the split size hands it, unread, to the splitter
//! ([`ThreadedReader::hand_off_from`]); without a per-file timeout only (with one, the pool
//! reads it through a mapping).
//!
//! On a cold tree, unless the caller set the threshold or the split size, no size is looked
//! up either where io_uring is to be had: every file goes to the async path, whose rings keep
//! 192 opens and reads before the device at once (the router's size look-ups, 16 threads
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
//! routing in force; the summary lists each turn (`"revised"`, `"revisions"`, [`Revision`](crate::Revision)).
//! On a tree whose first half was cached and second half not, that made the hybrid 3.3×
//! faster (docs/experiments/2026-12-03-half-cached-tree.md). With
//! [`Threshold::Auto`](crate::Threshold::Auto) the threshold is chosen from the tree's own sizes and the same probe: a quantile of the
//! first sizes, low when cached, high when not.
//! What the routing costs and gains, measured, is in
//! docs/experiments/2026-11-26-hybrid-routing-probe-sizes.md.

use reader_async::{AsyncReader, Runtime};
use reader_threads::ThreadedReader;
use serde::Serialize;

use crate::tune::{CacheProbe, Settings, fit_descriptors, tune, tune_for};

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

/// What the caller of a run set, beside the paths' own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    /// The threshold or the split size was set: route by size whatever the cache holds.
    pub(crate) routing: bool,
    /// A per-file time limit: the pool then reads a huge file itself, through a mapping.
    pub(crate) timeout: bool,
}

/// A run's plan: see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// How files are routed at the start.
    pub(crate) routing: Routing,
    /// The thread pool as the run uses it.
    pub(crate) pool: ThreadedReader,
    /// The async path as the run uses it.
    pub(crate) lanes: AsyncReader,
    /// The async path's files in flight as the probe tuned it, whichever path stands by.
    pub(crate) tuned_in_flight: usize,
    /// Threads looking up sizes at once (with [`Routing::Sizes`]).
    pub(crate) sizers: usize,
    /// Whether the routing is revised as the run goes, between the pool and the rings (the
    /// path the first routing leaves idle stands by, tuned for the other cache state), and
    /// the paths, not the router, find the huge files.
    pub(crate) revisable: bool,
    /// Whether the pool hands the huge files it opens to the splitter.
    pub(crate) pool_hands_off: bool,
    /// Whether a revision may turn the rest of the tree to the rings.
    pub(crate) rings_allowed: bool,
}

/// The plan for a run whose first files `probe` found cached or not, with `settings` and what
/// the caller `asked`, where io_uring is (`io_uring`) or is not to be had.
///
/// Cached, the cores decide and the pool reads everything as well as any path; cold, the
/// rings of io_uring do. Either way no size is looked up (a second name lookup a file, and on
/// a cold tree a wait for its inode) unless the caller set the threshold or the split size
/// (docs/experiments/2026-12-02-io-uring-hybrid.md).
pub(crate) fn plan(settings: &Settings, probe: &CacheProbe, asked: Asked, io_uring: bool) -> Plan {
    let tuned = tune(settings, probe);
    let rings = tuned.lanes.chosen_runtime() == Runtime::IoUring && io_uring;
    let routing = match (asked.routing, probe.cold(), rings) {
        (true, _, _) | (false, true, false) => Routing::Sizes,
        (false, false, _) => Routing::Pool,
        (false, true, true) => Routing::Ring,
    };
    let revisable = routing != Routing::Sizes;
    let (mut pool, mut lanes) = match routing {
        Routing::Pool => (tuned.pool, tune_for(settings, true).lanes),
        Routing::Ring => (tune_for(settings, false).pool, tuned.lanes.clone()),
        Routing::Sizes => (tuned.pool, tuned.lanes.clone()),
    };
    if revisable {
        // After a turn both paths may hold files open at once.
        let (threads, in_flight) = fit_descriptors(pool.threads(), lanes.in_flight());
        if (threads, in_flight) != (pool.threads(), lanes.in_flight()) {
            pool = pool.jobs(threads);
            lanes = lanes.max_in_flight(in_flight);
        }
    }
    let rings_allowed = lanes.chosen_runtime() == Runtime::IoUring && io_uring;
    Plan {
        routing,
        pool,
        lanes,
        tuned_in_flight: tuned.lanes.in_flight(),
        sizers: tuned.sizers,
        revisable,
        pool_hands_off: revisable && !asked.timeout,
        rings_allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::{COLD_SIZERS, warm_in_flight};

    fn settings() -> Settings {
        Settings {
            lanes: AsyncReader::new().max_in_flight(50),
            pool: ThreadedReader::new().jobs(3),
            fixed_lanes: false,
            fixed_pool: false,
        }
    }

    fn probe(cached: usize) -> CacheProbe {
        CacheProbe {
            probed: 8,
            cached,
            cost_us: 0,
        }
    }

    const NOTHING: Asked = Asked {
        routing: false,
        timeout: false,
    };

    #[test]
    fn a_cached_tree_goes_to_the_pool_with_the_rings_standing_by() {
        let plan = plan(&settings(), &probe(8), NOTHING, true);
        assert_eq!(plan.routing, Routing::Pool);
        assert_eq!(plan.pool.threads(), 3);
        assert_eq!(plan.lanes.chosen_runtime(), Runtime::IoUring);
        assert_eq!(plan.tuned_in_flight, 50.min(warm_in_flight()));
        assert!(plan.revisable && plan.pool_hands_off && plan.rings_allowed);
    }

    #[test]
    fn a_cold_tree_goes_to_the_rings_with_the_warm_pool_standing_by() {
        let plan = plan(&settings(), &probe(1), NOTHING, true);
        assert_eq!(plan.routing, Routing::Ring);
        assert_eq!(plan.lanes.chosen_runtime(), Runtime::IoUring);
        assert!(
            plan.lanes.in_flight() > 50,
            "the rings keep many reads in flight"
        );
        assert_eq!(
            plan.pool.threads(),
            3,
            "the pool stands by for cached files"
        );
        assert!(plan.revisable && plan.rings_allowed);
    }

    #[test]
    fn without_io_uring_a_cold_tree_is_routed_by_size_and_never_revised() {
        let plan = plan(&settings(), &probe(0), NOTHING, false);
        assert_eq!(plan.routing, Routing::Sizes);
        assert_eq!(plan.sizers, COLD_SIZERS);
        assert!(!plan.revisable && !plan.pool_hands_off && !plan.rings_allowed);
        // Cached, the pool reads everything, and the rings are not to be turned to.
        let cached = super::plan(&settings(), &probe(8), NOTHING, false);
        assert_eq!(cached.routing, Routing::Pool);
        assert!(cached.revisable && !cached.rings_allowed);
    }

    #[test]
    fn what_the_caller_set_routes_by_size_and_a_timeout_keeps_huge_files_in_the_pool() {
        let asked = Asked {
            routing: true,
            timeout: false,
        };
        for cached in [0, 8] {
            let plan = plan(&settings(), &probe(cached), asked, true);
            assert_eq!(plan.routing, Routing::Sizes);
            assert!(!plan.revisable && !plan.pool_hands_off);
        }
        let timed = Asked {
            routing: false,
            timeout: true,
        };
        let plan = plan(&settings(), &probe(8), timed, true);
        assert!(plan.revisable && !plan.pool_hands_off);
    }

    #[test]
    fn the_routing_reads_as_the_summary_writes_it() {
        let names: Vec<String> = [Routing::Sizes, Routing::Pool, Routing::Ring]
            .iter()
            .map(|r| serde_json::to_string(r).expect("serialises"))
            .collect();
        assert_eq!(names, [r#""sizes""#, r#""pool""#, r#""ring""#]);
    }
}
