//! Fault attribution, the process model's reason to exist: when a worker fails, which of the
//! files it held pays for it. A pure function over the batches the worker held.
//!
//! * a batch it had not started goes back to the queue untouched (`fresh`; a careful one stays
//!   careful);
//! * the unanswered files of the batch it was on become *suspects*, retried once in careful
//!   batches, where the worker acknowledges the batch and answers after every file;
//! * when a careful batch the worker had acknowledged fails too, its first unanswered file is
//!   exactly the one the worker was on: that file alone is charged; the rest are retried again.
//!   (A careful batch sent to a worker that had already died, unnoticed, is never acknowledged,
//!   so nothing in it is charged.)
//!
//! So a file is charged only after two failures while it was being read — except a file the
//! worker was killed on for the timeout after it had said it was stuck on it (the worker's
//! watchdog names a file that takes longer than the progress interval): that one is charged at
//! once, since a retry would only stall as long again; the files before it whose results were
//! lost with the worker are read again, and the rest of its batch goes back as it was.

use std::collections::VecDeque;

use reader_core::FileJob;

/// A batch a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InFlight {
    pub(crate) id: u64,
    pub(crate) careful: bool,
    pub(crate) jobs: Vec<FileJob>,
    /// Files answered so far (the worker answers in order).
    pub(crate) done: usize,
    /// The worker has replied to this batch (a careful batch is acknowledged before its first
    /// file), so it was reading it.
    pub(crate) started: bool,
}

/// What becomes of the files a failed worker held.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Attribution {
    /// The file the worker was on when it failed for the second time: reported as the failure.
    pub(crate) charged: Option<FileJob>,
    /// Files to retry in careful batches.
    pub(crate) suspects: Vec<FileJob>,
    /// Files to hand out again as if new.
    pub(crate) fresh: Vec<FileJob>,
    /// Files retried because of this failure for the first time.
    pub(crate) retried: u64,
    /// The charged file was named by the worker: charged on the first failure.
    pub(crate) charged_at_once: bool,
}

/// Settles the batches a failed worker `held`, the one it was on first. `stuck_on`: the batch
/// and the place in it of the file the worker said it was stuck on, when it was killed for it.
pub(crate) fn attribute(held: VecDeque<InFlight>, stuck_on: Option<(u64, usize)>) -> Attribution {
    let mut held = held.into_iter();
    let mut settled = Attribution::default();
    if let Some(current) = held.next() {
        let named = stuck_on
            .filter(|&(batch, at)| batch == current.id && at >= current.done)
            .map(|(_, at)| at);
        let done = current.done;
        let mut unanswered = current.jobs.into_iter().skip(done);
        if let Some(at) = named {
            // Read by the worker, their results lost with it: read again.
            settled.fresh.extend(unanswered.by_ref().take(at - done));
            settled.retried = (at - done) as u64;
            settled.charged = unanswered.next();
            settled.charged_at_once = true;
            if current.careful {
                settled.suspects.extend(unanswered);
            } else {
                settled.fresh.extend(unanswered);
            }
        } else if current.careful {
            if current.started {
                settled.charged = unanswered.next();
            }
            settled.suspects.extend(unanswered);
        } else {
            settled.suspects.extend(unanswered);
            settled.retried = settled.suspects.len() as u64;
        }
    }
    for untouched in held {
        if untouched.careful {
            settled.suspects.extend(untouched.jobs);
        } else {
            settled.fresh.extend(untouched.jobs);
        }
    }
    settled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(names: &[&str], careful: bool, done: usize, started: bool) -> InFlight {
        InFlight {
            id: 0,
            careful,
            jobs: names.iter().map(|n| FileJob::new(n, None)).collect(),
            done,
            started,
        }
    }

    fn names(jobs: &[FileJob]) -> Vec<String> {
        jobs.iter().map(|j| j.path.display().to_string()).collect()
    }

    #[test]
    fn a_first_failure_charges_nobody_and_retries_the_unanswered_carefully() {
        let held = VecDeque::from([
            batch(&["a", "b", "c", "d"], false, 1, true),
            batch(&["e", "f"], false, 0, false),
        ]);
        let settled = attribute(held, None);
        assert_eq!(settled.charged, None);
        assert_eq!(names(&settled.suspects), ["b", "c", "d"]);
        assert_eq!(names(&settled.fresh), ["e", "f"]);
        assert_eq!(settled.retried, 3);
    }

    #[test]
    fn a_second_failure_charges_the_file_the_worker_was_on() {
        let held = VecDeque::from([
            batch(&["b", "c", "d"], true, 1, true),
            batch(&["x"], true, 0, false),
        ]);
        let settled = attribute(held, None);
        assert_eq!(settled.charged.map(|j| j.path), Some("c".into()));
        assert_eq!(names(&settled.suspects), ["d", "x"]);
        assert!(settled.fresh.is_empty());
        assert_eq!(settled.retried, 0, "already counted when first retried");
    }

    #[test]
    fn a_careful_batch_never_acknowledged_charges_nothing() {
        let settled = attribute(VecDeque::from([batch(&["b", "c"], true, 0, false)]), None);
        assert_eq!(settled.charged, None);
        assert_eq!(names(&settled.suspects), ["b", "c"]);
    }

    #[test]
    fn a_file_the_worker_said_it_was_stuck_on_is_charged_at_once() {
        let held = VecDeque::from([
            batch(&["a", "b", "c", "d"], false, 1, true),
            batch(&["e"], false, 0, false),
        ]);
        let settled = attribute(held.clone(), Some((0, 1)));
        assert_eq!(settled.charged.map(|j| j.path), Some("b".into()));
        assert!(settled.charged_at_once && settled.suspects.is_empty());
        assert_eq!(names(&settled.fresh), ["c", "d", "e"]);
        // Named after a file read whose result was lost with the worker: that one is read again.
        let settled = attribute(held.clone(), Some((0, 2)));
        assert_eq!(settled.charged.map(|j| j.path), Some("c".into()));
        assert_eq!(names(&settled.fresh), ["b", "d", "e"]);
        assert_eq!(settled.retried, 1);
        // Named in another batch, or before files answered since: the usual retry.
        for stale in [Some((1, 1)), Some((0, 0))] {
            let settled = attribute(held.clone(), stale);
            assert_eq!(settled.charged, None);
            assert_eq!(names(&settled.suspects), ["b", "c", "d"]);
        }
    }

    #[test]
    fn a_worker_holding_nothing_settles_nothing() {
        assert_eq!(attribute(VecDeque::new(), None), Attribution::default());
    }
}
