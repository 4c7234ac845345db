//! `--threshold auto`: the async/threads threshold chosen from the tree itself.
//!
//! What decides which path reads a file faster is whether its data is in the page cache:
//!
//! * **not cached** — the device decides, and it is fastest with many reads in flight: the
//!   async path keeps dozens in flight, the thread pool a handful. Everything but the largest
//!   files goes to the async path.
//! * **cached** — reading is a memory copy plus counting, and the cores decide: the thread pool
//!   does that with the least overhead, while the async path pays hand-offs between threads.
//!   Only the smallest files go to the async path, where the pool would spend as long taking
//!   them from the queue as reading them.
//!
//! The method, in two steps that together cost well under a millisecond:
//!
//! 1. **Sizes.** The router already sees every file's size from discovery. The first
//!    [`SAMPLE`] sizes (or all of them, for a smaller tree) are the tree's size distribution;
//!    they are routed with the default threshold while they are gathered (the summary's
//!    `auto.routed_before`), so no reader waits for the choice.
//! 2. **A measurement of the cache**: the hybrid's one probe of the first files
//!    ([`CacheProbe`]): a few files have their first byte read with `preadv2(…, RWF_NOWAIT)`,
//!    which returns the byte if it is cached and fails with `EAGAIN`, *without any I/O*, if it
//!    is not. The share that succeeds says whether the tree is cached.
//!
//! Then the threshold is a quantile of the sampled sizes: [`COLD_QUANTILE`] when most probes
//! missed the cache, [`WARM_QUANTILE`] when most hit it (see [`choose`]). Until the sample is
//! complete the router uses the default threshold.
//!
//! The measurements behind the two quantiles are in docs/experiments/2026-11-26-threshold-auto.md.

use std::time::Instant;

use reader_core::FileJob;
use serde::Serialize;

use crate::tune::CacheProbe;

/// File sizes the choice is made from.
pub(crate) const SAMPLE: usize = 64;
/// Share of the sampled files sent to the async path when the tree is not cached.
pub(crate) const COLD_QUANTILE: f64 = 0.9;
/// Share of the sampled files sent to the async path when the tree is cached.
pub(crate) const WARM_QUANTILE: f64 = 0.0;

/// What `--threshold auto` found and chose (the summary's `"auto"` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The threshold chosen, in bytes (in force for the files routed after the choice).
    #[serde(rename = "chosen")]
    pub threshold: u64,
    /// File sizes it was chosen from.
    pub sampled: usize,
    /// Files probed for their cache state.
    pub probed: usize,
    /// Probed files whose first page was cached.
    pub cached: usize,
    /// Files routed with the default threshold while the sample was gathered (set by the
    /// router).
    pub routed_before: usize,
    /// Microseconds the router spent choosing (sorting the sample; the probe's cost is the
    /// summary's `cache_probe.cost_us`).
    pub cost_us: u64,
}

/// The threshold for a tree with these (sampled) sizes, given the share of probed files that
/// were cached: every file below the returned size goes to the async path.
pub(crate) fn choose(sizes: &[u64], cached_share: f64) -> u64 {
    let quantile = if cached_share >= 0.5 {
        WARM_QUANTILE
    } else {
        COLD_QUANTILE
    };
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    // The number of sampled files that should go async; the threshold lets exactly those
    // (and any of equal size) through.
    let below = (sorted.len() as f64 * quantile).round() as usize;
    match below.checked_sub(1).and_then(|i| sorted.get(i)) {
        Some(&largest_async) => largest_async + 1,
        None => 0,
    }
}

/// The router's side of the choice: gathers sizes and chooses once the sample is complete (or
/// the tree ended), by the cache state the hybrid's probe found.
#[derive(Debug)]
pub(crate) struct AutoThreshold {
    sizes: Vec<u64>,
    probe: CacheProbe,
}

impl AutoThreshold {
    pub(crate) fn new(probe: CacheProbe) -> AutoThreshold {
        AutoThreshold {
            sizes: Vec::with_capacity(SAMPLE),
            probe,
        }
    }

    /// Takes note of a batch of jobs; returns the choice once the sample is complete.
    pub(crate) fn observe(&mut self, batch: &[FileJob]) -> Option<Choice> {
        let room = SAMPLE.saturating_sub(self.sizes.len());
        self.sizes
            .extend(batch.iter().filter_map(|job| job.size).take(room));
        (self.sizes.len() >= SAMPLE).then(|| self.choose())
    }

    /// The choice from what was seen, when the tree ended before the sample was complete;
    /// `None` if it had no file.
    pub(crate) fn finish(self) -> Option<Choice> {
        (!self.sizes.is_empty()).then(|| self.choose())
    }

    fn choose(&self) -> Choice {
        let started = Instant::now();
        Choice {
            threshold: choose(&self.sizes, self.probe.cached_share()),
            sampled: self.sizes.len(),
            probed: self.probe.probed,
            cached: self.probe.cached,
            routed_before: 0,
            cost_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_the_sample() {
        let hundred: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(
            choose(&hundred, 0.0),
            90_001,
            "cold: the smallest 90 % go async"
        );
        assert_eq!(
            choose(&hundred, 1.0),
            0,
            "warm: everything to the thread pool"
        );
        assert_eq!(choose(&[], 0.0), 0);
        assert_eq!(choose(&[5], 0.0), 6);
        let sizes: Vec<u64> = (0..10).map(|i| 100 * (10 - i)).collect();
        assert_eq!(choose(&sizes, 0.2), 901);
        assert_eq!(choose(&sizes, 0.9), 0);
    }

    #[test]
    fn the_choice_waits_for_the_sample_and_follows_the_probe() {
        let job = |size| FileJob::new("f", Some(size));
        let cold = CacheProbe {
            probed: 8,
            cached: 1,
            cost_us: 0,
        };
        let mut auto = AutoThreshold::new(cold);
        let first: Vec<FileJob> = (1..SAMPLE as u64).map(job).collect();
        assert_eq!(auto.observe(&first), None);
        let choice = auto
            .observe(&[job(1000), job(2000)])
            .expect("sample complete");
        assert_eq!(
            (choice.sampled, choice.probed, choice.cached),
            (SAMPLE, 8, 1)
        );
        // Cold: the smallest 90 % of the sample go async.
        assert_eq!(choice.threshold, 59);
        let warm = CacheProbe { cached: 8, ..cold };
        let mut auto = AutoThreshold::new(warm);
        assert_eq!(auto.observe(&[job(5)]), None);
        assert_eq!(auto.finish().map(|c| c.threshold), Some(0));
        assert_eq!(AutoThreshold::new(warm).finish(), None);
    }
}
