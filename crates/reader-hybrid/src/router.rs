//! The router's rule over a run: [`RoutePolicy`] by each file's size, with
//! `--threshold auto` handing over from the default threshold to its choice once the sample
//! is complete. Pure: it says where each job goes; [`crate::paths`] sends it there.

use std::str::FromStr;

use reader_core::FileJob;

use crate::auto::{AutoThreshold, Choice};
use crate::route::{Route, RoutePolicy};
use crate::tune::CacheProbe;

/// How the async/threads threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// Files smaller than this many bytes go to the async path.
    Fixed(u64),
    /// Chosen at start-up from the tree's first sizes and whether it is cached.
    Auto,
}

impl Threshold {
    /// `fixed` or `auto`: how the summary names it.
    pub(crate) fn mode(self) -> &'static str {
        match self {
            Threshold::Fixed(_) => "fixed",
            Threshold::Auto => "auto",
        }
    }
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

/// Where the jobs of a run go.
#[derive(Debug)]
pub(crate) struct Router {
    policy: RoutePolicy,
    /// The choice being made, with `--threshold auto`.
    auto: Option<AutoThreshold>,
    chosen: Option<Choice>,
    routed: usize,
}

impl Router {
    /// A router with `threshold` (the default until the choice, if `auto`), splitting from
    /// `split_at`; `probe` is the cache state `auto` chooses by.
    pub(crate) fn new(threshold: Threshold, split_at: u64, probe: CacheProbe) -> Router {
        let (threshold, auto) = match threshold {
            Threshold::Fixed(bytes) => (bytes, None),
            Threshold::Auto => (
                RoutePolicy::DEFAULT_THRESHOLD,
                Some(AutoThreshold::new(probe)),
            ),
        };
        Router {
            policy: RoutePolicy {
                threshold,
                split_at,
            },
            auto,
            chosen: None,
            routed: 0,
        }
    }

    /// Where each job of `batch` (sizes looked up) goes, in order. A file whose size could not
    /// be looked up goes to the pool, which says why it cannot be read. A byte range (of a file
    /// split over shards, or the prefix a duplicate search compares) goes to the pool, which
    /// reads ranges where they are (the async path would hand each to a thread of its own),
    /// and never to the splitter: it is one range. Nor
    /// does a file whose digests cannot be joined from ranges (SHA-256, XXH3): the pool reads
    /// it whole, on one thread.
    pub(crate) fn route(
        &mut self,
        batch: Vec<FileJob>,
    ) -> impl Iterator<Item = (Route, FileJob)> + use<> {
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
        let policy = self.policy;
        batch.into_iter().map(move |job| {
            let whole = |route| match route {
                Route::Split => Route::Threads,
                route => route,
            };
            let route = match (job.part, job.size) {
                (Some(_), _) => Route::Threads,
                (None, Some(size)) if !job.joins_ranges() => whole(policy.route(size)),
                (None, Some(size)) => policy.route(size),
                (None, None) => Route::Threads,
            };
            (route, job)
        })
    }

    /// The threshold in force at the end, and what `auto` chose. A tree smaller than the
    /// sample ended before the choice: it was all routed with the default, and the choice is
    /// only reported.
    pub(crate) fn finish(self) -> (u64, Option<Choice>) {
        let Router {
            policy,
            auto,
            chosen,
            routed,
        } = self;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auto::SAMPLE;

    fn jobs(sizes: impl IntoIterator<Item = Option<u64>>) -> Vec<FileJob> {
        sizes
            .into_iter()
            .map(|size| FileJob::new("f", size))
            .collect()
    }

    fn routes(router: &mut Router, sizes: impl IntoIterator<Item = Option<u64>>) -> Vec<Route> {
        router.route(jobs(sizes)).map(|(route, _)| route).collect()
    }

    #[test]
    fn a_file_whose_digests_cannot_join_is_never_split() {
        let mut router = Router::new(Threshold::Fixed(100), 1000, CacheProbe::default());
        let routed = |router: &mut Router, digests: &str| {
            let mut job = FileJob::new("f", Some(5000));
            job.digests = digests.parse().expect("names");
            router
                .route(vec![job])
                .map(|(route, _)| route)
                .collect::<Vec<_>>()
        };
        assert_eq!(routed(&mut router, "blake3"), [Route::Split]);
        assert_eq!(routed(&mut router, "sha256"), [Route::Threads]);
        assert_eq!(routed(&mut router, "blake3,xxh3"), [Route::Threads]);
    }

    #[test]
    fn sizes_decide_and_unknown_sizes_go_to_the_pool() {
        let mut router = Router::new(Threshold::Fixed(100), 1000, CacheProbe::default());
        assert_eq!(
            routes(
                &mut router,
                [Some(0), Some(99), Some(100), Some(1000), None]
            ),
            [
                Route::Async,
                Route::Async,
                Route::Threads,
                Route::Split,
                Route::Threads
            ]
        );
        assert_eq!(router.finish(), (100, None));
    }

    #[test]
    fn auto_hands_over_from_the_default_once_the_sample_is_complete() {
        let cached = CacheProbe {
            probed: 8,
            cached: 8,
            cost_us: 0,
        };
        let mut router = Router::new(Threshold::Auto, u64::MAX, cached);
        // Before the choice: the default 10 KiB threshold.
        let small = (0..SAMPLE as u64 - 1).map(|_| Some(100));
        assert!(
            routes(&mut router, small)
                .iter()
                .all(|&r| r == Route::Async)
        );
        // The batch that completes the sample is routed by the choice: cached, all to the pool.
        assert_eq!(
            routes(&mut router, [Some(100), Some(100)]),
            [Route::Threads; 2]
        );
        let (threshold, choice) = router.finish();
        let choice = choice.expect("chosen");
        assert_eq!((threshold, choice.threshold), (0, 0));
        assert_eq!(choice.routed_before, SAMPLE - 1);
    }

    #[test]
    fn a_tree_smaller_than_the_sample_reports_the_choice_it_would_have_made() {
        let mut router = Router::new(Threshold::Auto, u64::MAX, CacheProbe::default());
        let _ = routes(&mut router, [Some(5), Some(50)]);
        let (threshold, choice) = router.finish();
        assert_eq!(threshold, RoutePolicy::DEFAULT_THRESHOLD);
        assert_eq!(choice.map(|c| (c.sampled, c.routed_before)), Some((2, 2)));
    }

    #[test]
    fn thresholds_parse_with_units_or_auto() {
        assert_eq!("AUTO".parse(), Ok(Threshold::Auto));
        assert_eq!("10KiB".parse(), Ok(Threshold::Fixed(10_240)));
        assert_eq!("0".parse(), Ok(Threshold::Fixed(0)));
        assert!("ten".parse::<Threshold>().is_err());
    }
}
