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
//! 2. **A measurement of the cache.** [`PROBES`] files spread over that sample are opened and
//!    their first byte is read with `preadv2(…, RWF_NOWAIT)`, which returns the byte if it is
//!    cached and fails with `EAGAIN`, *without any I/O*, if it is not. The share that succeeds
//!    says whether the tree is cached.
//!
//! Then the threshold is a quantile of the sampled sizes: [`COLD_QUANTILE`] when most probes
//! missed the cache, [`WARM_QUANTILE`] when most hit it (see [`choose`]). Until the sample is
//! complete the router uses the default threshold.
//!
//! Measured on a 2-core machine shared with other work (medians of one hyperfine run each, so
//! read them as a direction, not a law), on a tree of 1,000 files (60 % of 100 B–1 KiB, 30 % of
//! 1–100 KiB, 10 % of 100 KiB–1 MiB): cold, thresholds of 2k, 10k, 32k, 100k (the 90th
//! percentile) and 2MiB took 179, 168, 166, 128 and 152 ms; warm, 0, 10k and 1GiB took 27.7,
//! 28.1 and 28.3 ms, all within noise — so warm the pool gets everything, the simplest choice.
//! The choice itself costs tens of microseconds (`auto.cost_us` in the summary).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use reader_core::FileJob;

/// File sizes the choice is made from.
pub const SAMPLE: usize = 64;
/// Files whose cache state is probed.
pub const PROBES: usize = 8;
/// Share of the sampled files sent to the async path when the tree is not cached.
pub const COLD_QUANTILE: f64 = 0.9;
/// Share of the sampled files sent to the async path when the tree is cached.
pub const WARM_QUANTILE: f64 = 0.0;

/// What `--threshold auto` found and chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The threshold chosen, in bytes (in force for the files routed after the choice).
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
    /// Microseconds the router spent choosing (probing and sorting): the cost of `auto`.
    pub cost_us: u64,
}

impl Choice {
    /// The `"auto"` object of the summary.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "chosen": self.threshold,
            "sampled": self.sampled,
            "probed": self.probed,
            "cached": self.cached,
            "routed_before": self.routed_before,
            "cost_us": self.cost_us,
        })
    }
}

/// The threshold for a tree with these (sampled) sizes, given the share of probed files that
/// were cached: every file below the returned size goes to the async path.
///
/// ```
/// use reader_hybrid::auto::choose;
/// let sizes: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
/// assert_eq!(choose(&sizes, 0.0), 90_001); // cold: the smallest 90 % go async
/// assert_eq!(choose(&sizes, 1.0), 0);      // warm: everything to the thread pool
/// ```
pub fn choose(sizes: &[u64], cached_share: f64) -> u64 {
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

/// The router's side of the choice: gathers sizes, probes the cache once the sample is
/// complete (or the tree ended), and chooses.
#[derive(Debug, Default)]
pub(crate) struct AutoThreshold {
    sizes: Vec<u64>,
    probes: Vec<std::path::PathBuf>,
}

impl AutoThreshold {
    pub(crate) fn new() -> AutoThreshold {
        AutoThreshold::default()
    }

    /// Takes note of a batch of jobs; returns the choice once the sample is complete.
    pub(crate) fn observe(&mut self, batch: &[FileJob]) -> Option<Choice> {
        for job in batch {
            if self.sizes.len() >= SAMPLE {
                break;
            }
            let Some(size) = job.size else { continue };
            // Spread the probes over the sample: every (SAMPLE / PROBES)th file.
            if self.sizes.len().is_multiple_of(SAMPLE / PROBES) && size > 0 {
                self.probes.push(job.path.clone());
            }
            self.sizes.push(size);
        }
        (self.sizes.len() >= SAMPLE).then(|| self.choose())
    }

    /// The choice from what was seen, when the tree ended before the sample was complete;
    /// `None` if it had no file.
    pub(crate) fn finish(self) -> Option<Choice> {
        (!self.sizes.is_empty()).then(|| self.choose())
    }

    fn choose(&self) -> Choice {
        let started = std::time::Instant::now();
        let probed: Vec<bool> = self.probes.iter().filter_map(|p| is_cached(p)).collect();
        let cached = probed.iter().filter(|&&c| c).count();
        // No answer at all (files gone, a file system without RWF_NOWAIT): assume cached.
        let share = if probed.is_empty() {
            1.0
        } else {
            cached as f64 / probed.len() as f64
        };
        Choice {
            threshold: choose(&self.sizes, share),
            sampled: self.sizes.len(),
            probed: probed.len(),
            cached,
            routed_before: 0,
            cost_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// Whether the first byte of the file at `path` is in the page cache, found out without doing
/// any I/O; `None` if that cannot be told.
pub fn is_cached(path: &Path) -> Option<bool> {
    // Discovery said this is a regular file; O_NONBLOCK keeps a swapped-in FIFO from blocking.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    // An empty file has no page to be cached or not: it says nothing.
    if file.metadata().ok()?.len() == 0 {
        return None;
    }
    probe(&file)
}

fn probe(file: &File) -> Option<bool> {
    let mut byte = [0u8; 1];
    let iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: `iov` describes one valid, writable byte that outlives the call; the descriptor is
    // open for its duration.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, 0, libc::RWF_NOWAIT) };
    if n >= 0 {
        return Some(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_the_sample() {
        assert_eq!(choose(&[], 0.0), 0);
        assert_eq!(choose(&[5], 0.0), 6);
        let sizes: Vec<u64> = (0..10).map(|i| 100 * (10 - i)).collect();
        assert_eq!(choose(&sizes, 0.2), 901);
        assert_eq!(choose(&sizes, 0.9), 0);
    }

    #[test]
    fn a_file_just_written_is_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "hello").expect("write");
        assert_eq!(is_cached(&path), Some(true));
        assert_eq!(is_cached(&dir.path().join("gone")), None);
    }

    #[test]
    fn the_choice_waits_for_the_sample() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "x").expect("write");
        let job = |size| FileJob {
            path: path.clone(),
            size: Some(size),
        };
        let mut auto = AutoThreshold::new();
        let first: Vec<FileJob> = (0..SAMPLE as u64 - 1).map(job).collect();
        assert_eq!(auto.observe(&first), None);
        let choice = auto.observe(&[job(7)]).expect("sample complete");
        assert_eq!(
            (choice.sampled, choice.probed, choice.cached),
            (SAMPLE, PROBES - 1, PROBES - 1)
        );
    }
}
