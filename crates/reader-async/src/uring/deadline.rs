//! Time on a ring thread: how long it may sleep ([`RingThread::wait_limit`]), the reads it
//! finds slow and looks at, and the files past their per-file deadline, reported as
//! `timeout` while their operations are cancelled and their slots set aside.

use std::time::Duration;

use io_uring::opcode;
use reader_core::{FileError, FileResult, StuckRead, lock};

use super::ops::{Op, user_data};
use super::{Look, RingThread};

impl RingThread<'_> {
    /// How long the ring may sleep: until the next deadline, or a moment when the queue may
    /// have jobs for free slots; `None`: until a completion comes.
    pub(super) fn wait_limit(&self) -> Option<Duration> {
        let mut limit = None::<Duration>;
        if !self.drained && self.active < self.window && !self.free.is_empty() {
            limit = Some(QUEUE_LOOK);
        }
        let slow = self
            .slots
            .iter()
            .filter_map(|slot| slot.reading.as_ref())
            .filter(|reading| reading.stat == Look::Not && !reading.abandoned)
            .filter_map(|reading| reading.reading_since)
            .map(|since| SLOW_READ.saturating_sub(since.elapsed()))
            .min();
        if let Some(next) = slow {
            let next = next.max(Duration::from_millis(1));
            limit = Some(limit.map_or(next, |limit| limit.min(next)));
        }
        if let Some(timeout) = self.rings.timeout {
            let next = self
                .slots
                .iter()
                .filter_map(|slot| slot.reading.as_ref())
                .filter(|reading| !reading.abandoned)
                .map(|reading| timeout.saturating_sub(reading.started.elapsed()))
                .min();
            if let Some(next) = next {
                let next = next.max(Duration::from_millis(1));
                limit = Some(limit.map_or(next, |limit| limit.min(next)));
            }
        }
        limit
    }

    /// Looks at the files whose read is slow ([`SLOW_READ`]).
    pub(super) fn check_slow_reads(&mut self) {
        for slot in 0..self.slots.len() {
            let slow = self.slots[slot].reading.as_ref().is_some_and(|reading| {
                reading.stat == Look::Not
                    && !reading.abandoned
                    && reading.then.is_none()
                    && reading
                        .reading_since
                        .is_some_and(|since| since.elapsed() >= SLOW_READ)
            });
            if slow {
                self.look(slot);
            }
        }
    }

    /// Reports the files past their deadline as `timeout`, cancels what they have in flight
    /// and sets their slots aside until it has ended.
    pub(super) fn check_deadlines(&mut self) {
        let Some(limit) = self.rings.timeout else {
            return;
        };
        for slot in 0..self.slots.len() {
            let worker = self.worker(slot);
            let Some(reading) = self.slots[slot].reading.as_mut() else {
                continue;
            };
            if reading.abandoned || reading.started.elapsed() < limit {
                continue;
            }
            reading.abandoned = true;
            match &reading.hold {
                Some(hold) => *lock(hold) = Some(StuckRead::begin()),
                None => reading.stuck = Some(StuckRead::begin()),
            }
            let timeout = FileError::timeout(&reading.job.path, limit, "the read was abandoned");
            let result = FileResult::of(
                reading.job.clone(),
                Err(timeout),
                reading.started.elapsed(),
                worker,
            );
            let pending = reading.ops > 0;
            self.active -= 1;
            self.out.emit(result);
            if pending {
                self.cancel(slot);
            } else {
                self.settle_abandoned(slot);
            }
        }
    }

    /// Cancels whatever operation of `slot` is in flight.
    pub(super) fn cancel(&mut self, slot: usize) {
        for op in [Op::Open, Op::Stat, Op::Read] {
            let cancel = opcode::AsyncCancel::new(user_data(slot, op))
                .build()
                .user_data(user_data(slot, Op::Cancel));
            self.queue(cancel);
        }
    }

    /// An abandoned slot is free again once nothing of it is in flight.
    pub(super) fn settle_abandoned(&mut self, slot: usize) {
        let settled = self.slots[slot]
            .reading
            .as_ref()
            .is_some_and(|r| r.ops == 0 && !r.on_thread);
        if settled {
            self.close_fd(slot);
            self.slots[slot].reading = None;
            self.free.push(slot);
        }
    }
}

/// How long a ring thread with free slots sleeps before it looks at the queue again, when
/// discovery may bring more jobs.
pub(super) const QUEUE_LOOK: Duration = Duration::from_millis(2);

/// A read that has not come back after this long may be of what is no longer a regular file
/// (a FIFO waits for a writer): the ring looks at the file.
pub(super) const SLOW_READ: Duration = Duration::from_millis(50);
