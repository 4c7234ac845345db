//! What a hybrid run tells its summary ([`HybridStats`]): where the files went, the settings
//! the probe chose, and the routing's turns, as JSON and as lines for people.

use reader_async::Runtime;
use reader_core::Stats;
use reader_core::units::{bytes as human_bytes, grouped};
use serde::Serialize;

use crate::auto::Choice;
use crate::paths::Tallies;
use crate::plan::Routing;
use crate::revise::Revision;
use crate::tune::CacheProbe;

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
    pub(crate) fn of(tallies: &Tallies) -> Routes {
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
    /// [`Threshold::Auto`](crate::Threshold::Auto), once the sample was complete).
    pub threshold: u64,
    /// `fixed` or `auto`.
    pub threshold_mode: &'static str,
    /// What [`Threshold::Auto`](crate::Threshold::Auto) found, if it chose.
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
    /// cached, or through io_uring because it is not (see [`HybridReader`](crate::HybridReader)).
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
