//! How much work goes to a worker at once: a batch holds about [`BATCH_TIME`] of reading, by
//! a running average of the time per file measured so far — small files travel by the
//! hundred, large ones one at a time — and batches shrink as the backlog does, so the end of a
//! run is shared evenly. Suspects go first, a few at a time, in careful batches.

use std::collections::VecDeque;
use std::time::Duration;

use reader_core::FileJob;

use crate::attribution::InFlight;

/// The most files in one batch.
pub(crate) const MAX_BATCH: usize = 256;
/// About how long one batch should keep a worker busy: long enough that the parent's replies
/// and refills (a few context switches each) are rare, short enough that the end of a run is
/// shared evenly.
const BATCH_TIME: Duration = Duration::from_millis(4);
/// The time per file assumed before any was measured.
const FIRST_GUESS_PER_FILE: Duration = Duration::from_micros(100);
/// The most suspects in one careful batch.
const CAREFUL_BATCH: usize = 16;
/// Batches a worker holds at once: one it reads, one waiting.
pub(crate) const OUTSTANDING: usize = 2;

/// Makes batches out of what waits, and learns how long a file takes.
#[derive(Debug)]
pub(crate) struct Batcher {
    /// Running average of the time a worker takes per file.
    per_file: Duration,
    /// Whether `per_file` is measured yet, or still the guess.
    measured: bool,
    next_id: u64,
}

impl Default for Batcher {
    fn default() -> Self {
        Batcher {
            per_file: FIRST_GUESS_PER_FILE,
            measured: false,
            next_id: 0,
        }
    }
}

impl Batcher {
    /// The next batch for one of `live` workers: suspects first, carefully; else fresh jobs,
    /// about [`BATCH_TIME`] of them, at most a fair share of what waits. `None` if nothing waits.
    pub(crate) fn take(
        &mut self,
        suspects: &mut VecDeque<FileJob>,
        fresh: &mut VecDeque<FileJob>,
        live: usize,
    ) -> Option<InFlight> {
        let (careful, jobs) = if !suspects.is_empty() {
            let n = suspects.len().min(CAREFUL_BATCH);
            (true, suspects.drain(..n).collect())
        } else if !fresh.is_empty() {
            let by_time = BATCH_TIME.as_nanos() / self.per_file.as_nanos().max(1);
            let n = fresh
                .len()
                .div_ceil(live.max(1) * OUTSTANDING)
                .min(usize::try_from(by_time).unwrap_or(MAX_BATCH))
                .clamp(1, MAX_BATCH);
            (false, fresh.drain(..n).collect())
        } else {
            return None;
        };
        self.next_id += 1;
        Some(InFlight {
            id: self.next_id,
            careful,
            jobs,
            done: 0,
            started: false,
        })
    }

    /// Takes note of a reply's files that took `spent` in all. The first measurement replaces
    /// the guess outright: a guess ten times off would otherwise take a dozen replies to fade.
    pub(crate) fn observe(&mut self, files: usize, spent: Duration) {
        if let Some(this) = u32::try_from(files)
            .ok()
            .filter(|&n| n > 0)
            .map(|n| spent / n)
        {
            self.per_file = if self.measured {
                (self.per_file * 3 + this) / 4
            } else {
                this
            };
            self.measured = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(n: usize) -> VecDeque<FileJob> {
        (0..n)
            .map(|i| FileJob::new(format!("f{i}"), None))
            .collect()
    }

    #[test]
    fn batches_hold_a_few_milliseconds_of_reading_and_a_fair_share() {
        let mut batcher = Batcher::default();
        let (mut suspects, mut fresh) = (VecDeque::new(), waiting(10_000));
        // 100 µs a file at first: 40 files fill 4 ms.
        let first = batcher.take(&mut suspects, &mut fresh, 2).expect("a batch");
        assert_eq!((first.jobs.len(), first.careful, first.id), (40, false, 1));
        // Fast files: as many as fit, at most MAX_BATCH.
        for _ in 0..20 {
            batcher.observe(100, Duration::from_micros(100));
        }
        assert_eq!(
            batcher
                .take(&mut suspects, &mut fresh, 2)
                .map(|b| b.jobs.len()),
            Some(MAX_BATCH)
        );
        // Slow files: one at a time.
        for _ in 0..20 {
            batcher.observe(1, Duration::from_millis(50));
        }
        assert_eq!(
            batcher
                .take(&mut suspects, &mut fresh, 2)
                .map(|b| b.jobs.len()),
            Some(1)
        );
    }

    #[test]
    fn the_first_measurement_replaces_the_guess() {
        let mut batcher = Batcher::default();
        let (mut suspects, mut fresh) = (VecDeque::new(), waiting(10_000));
        // 15 µs a file, measured once: the next batch is as large as a batch gets, not the
        // guess's 40 files nudged a quarter of the way.
        batcher.observe(40, Duration::from_micros(600));
        let next = batcher.take(&mut suspects, &mut fresh, 2).expect("a batch");
        assert_eq!(next.jobs.len(), MAX_BATCH);
        // Later measurements are averaged in.
        batcher.observe(1, Duration::from_millis(4));
        let next = batcher.take(&mut suspects, &mut fresh, 2).expect("a batch");
        assert!(
            next.jobs.len() < MAX_BATCH && next.jobs.len() > 1,
            "{}",
            next.jobs.len()
        );
    }

    #[test]
    fn the_last_batches_are_shared_out_and_suspects_go_first_carefully() {
        let mut batcher = Batcher::default();
        for _ in 0..20 {
            batcher.observe(100, Duration::from_micros(100));
        }
        let (mut suspects, mut fresh) = (waiting(20), waiting(12));
        let careful = batcher.take(&mut suspects, &mut fresh, 3).expect("a batch");
        assert!(careful.careful);
        assert_eq!((careful.jobs.len(), suspects.len()), (16, 4));
        let _ = batcher.take(&mut suspects, &mut fresh, 3);
        // 12 left for 3 workers holding 2 batches each: 2 a batch.
        assert_eq!(
            batcher
                .take(&mut suspects, &mut fresh, 3)
                .map(|b| b.jobs.len()),
            Some(2)
        );
        assert!(
            batcher
                .take(&mut VecDeque::new(), &mut VecDeque::new(), 3)
                .is_none()
        );
    }
}
