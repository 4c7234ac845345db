//! The per-file time limit: a watchdog for each lane's hop, and the spare permits that replace
//! the hops it abandons.
//!
//! When the file a hop is reading passes its deadline, the lane reports it as `timeout`,
//! abandons the hop (a blocking read cannot be cancelled; its late result is dropped) and goes
//! on with a new buffer and the rest of the batch. The abandoned hop keeps its permit until its
//! read really ends; a spare permit replaces it (up to as many spares as lanes, at least 64,
//! while the descriptor limit leaves room), so a stuck file costs the run neither its
//! concurrency nor its end. Past that many reads stuck at once, the lanes wait for one of them
//! to end: the bound on open files wins. An abandoned hop holds no sender of records, so the
//! run's output closes without waiting for it.

use std::collections::VecDeque;
use std::future::Future;
use std::mem;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use reader_core::{Emitter, FileJob, StuckRead, defaults};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::exec::Exec;
use crate::lane::{HopEnd, Slot};

/// Abandoned hops replaced by a fresh permit at least, whatever the lanes.
const MIN_SPARES: usize = 64;

/// How many abandoned hops may be replaced by a fresh permit in a run with `in_flight` lanes:
/// as many again as there are lanes (at least [`MIN_SPARES`]), while the descriptor limit
/// leaves room.
pub(crate) fn spare_slots(in_flight: usize) -> usize {
    defaults::fds_beyond(in_flight).min(in_flight.max(MIN_SPARES))
}

/// The permits of a run's lanes and the spares that stand in for abandoned hops.
pub(crate) struct Spares {
    permits: Arc<Semaphore>,
    /// Hops abandoned after a timeout whose read has not ended yet.
    stuck: AtomicUsize,
    /// How many stuck hops may be replaced by a fresh permit.
    spare: usize,
}

impl Spares {
    pub(crate) fn new(permits: Arc<Semaphore>, in_flight: usize) -> Spares {
        Spares {
            permits,
            stuck: AtomicUsize::new(0),
            spare: spare_slots(in_flight),
        }
    }

    /// A hop is abandoned: it counts as stuck until its read ends, and its permit is replaced
    /// while spares last. Says whether it was.
    fn abandon(&self) -> bool {
        let replaced = self.stuck.fetch_add(1, Ordering::AcqRel) < self.spare;
        if replaced {
            self.permits.add_permits(1);
        }
        replaced
    }

    /// A hop has ended: an abandoned one is no longer stuck, and gives its permit back only if
    /// no spare replaced it.
    pub(crate) fn finish_hop(&self, slot: &Slot, permit: OwnedSemaphorePermit, end: HopEnd) {
        if end == HopEnd::Abandoned {
            self.stuck.fetch_sub(1, Ordering::AcqRel);
            if slot.lock().replaced {
                permit.forget();
            }
        }
    }
}

/// A file whose deadline passed, and what its lane takes back from the abandoned hop.
pub(crate) struct TimedOut {
    pub(crate) job: FileJob,
    pub(crate) elapsed: Duration,
    pub(crate) out: Option<Emitter>,
    pub(crate) pending: VecDeque<FileJob>,
}

/// How watching a hop ended.
pub(crate) enum Watched<T> {
    /// The hop returned (`None`: it panicked).
    Finished(Option<T>),
    /// The file it was on passed its deadline; the hop is abandoned.
    TimedOut(Box<TimedOut>),
}

/// Waits for `hop` while checking the deadline of the file it is reading. The timer is armed
/// once per hop and only fires for a hop that runs longer than `limit`.
pub(crate) async fn watch<E, T>(
    exec: &E,
    spares: &Spares,
    slot: &Arc<Slot>,
    hop: impl Future<Output = Option<T>>,
    limit: Duration,
) -> Watched<T>
where
    E: Exec,
{
    let mut hop = pin!(hop);
    loop {
        let wait = match &slot.lock().current {
            Some(current) => (current.started + limit).saturating_duration_since(Instant::now()),
            None => limit,
        };
        let mut alarm = pin!(exec.sleep(wait));
        let finished = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = hop.as_mut().poll(cx) {
                return Poll::Ready(Some(result));
            }
            alarm.as_mut().poll(cx).map(|()| None)
        })
        .await;
        if let Some(result) = finished {
            return Watched::Finished(result);
        }
        let mut state = slot.lock();
        let overdue = state
            .current
            .as_ref()
            .is_some_and(|c| c.started.elapsed() >= limit);
        if overdue && let Some(current) = state.current.take() {
            state.abandoned = true;
            state.stuck = Some(StuckRead::begin());
            state.replaced = spares.abandon();
            return Watched::TimedOut(Box::new(TimedOut {
                job: current.job.unwrap_or_else(|| FileJob::new("", None)),
                elapsed: current.started.elapsed(),
                out: state.out.take(),
                pending: mem::take(&mut state.pending),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_stand_in_for_abandoned_hops_up_to_their_number() {
        let permits = Arc::new(Semaphore::new(2));
        let spares = Spares {
            permits: Arc::clone(&permits),
            stuck: AtomicUsize::new(0),
            spare: 1,
        };
        assert!(spares.abandon(), "the first stuck hop is replaced");
        assert_eq!(permits.available_permits(), 3);
        assert!(!spares.abandon(), "no spare is left for the second");
        assert_eq!(permits.available_permits(), 3);
        assert_eq!(spare_slots(4), defaults::fds_beyond(4).min(MIN_SPARES));
    }
}
