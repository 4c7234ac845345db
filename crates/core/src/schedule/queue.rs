//! The job queue a schedule reads: bounded, shared by many readers, closed by its one sender,
//! stopped with the whole run — and the keeper of "nothing is lost".
//!
//! Every queue is given an [`Emitter`] for its leftovers when it is made. Once its last
//! reading handle ([`Jobs`]) is gone — the schedule returned, failed or panicked — whatever the
//! queue still holds, and whatever is pushed to it afterwards, is reported as not read, with
//! the reason, through that emitter. So a schedule never has to drain a queue itself, a sender
//! never waits on a queue that nobody reads, and every discovered file becomes one record. The
//! emitter is let go as soon as no leftover can arise any more — the queue is closed, and
//! drained or without readers — so that a reader stuck for ever (a read that never returns,
//! abandoned after a timeout) does not keep the run's output open.
//!
//! A run can be stopped (its sink has seen enough, see [`Sink`](crate::Sink)): then every
//! queue of the run returns no more jobs, drops what it holds, and wakes whoever waits on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use crate::record::FileResult;
use crate::schedule::emit::Emitter;
use crate::sync::lock;
use crate::walk::{Discovered, Entries, FileJob};

/// Jobs a queue holds before its sender waits for the readers (paths only: a few hundred KiB).
const QUEUE_CAPACITY: usize = 4096;
/// Jobs a sender hands over at once.
pub(super) const PUSH_BATCH: usize = 32;
/// Why leftovers were not read, unless the schedule says otherwise.
const STOPPED_EARLY: &str = "the reader stopped before reaching it";

/// What the queues of one run share: whether the run was stopped, and the queues to wake.
#[derive(Debug, Default)]
pub(super) struct RunState {
    stopped: AtomicBool,
    queues: Mutex<Vec<Weak<Queue>>>,
}

impl RunState {
    pub(super) fn new() -> Arc<RunState> {
        Arc::new(RunState::default())
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Stops the run: no queue hands out another job, what they hold is dropped, and
    /// everyone waiting is woken. A closed queue lets its leftovers emitter go now — nothing
    /// will be reported any more — even while a reader stuck for ever still holds it.
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        for queue in lock(&self.queues).iter().filter_map(Weak::upgrade) {
            // Whoever holds the leftovers now is emitting into the channel the caller of
            // `stop` drains: do not wait for it (it lets the emitter go itself once closed).
            let leftovers = queue.leftovers.try_lock().ok();
            let mut state = queue.lock();
            state.jobs.clear();
            let closed = state.closed;
            drop(state);
            if let Some(mut leftovers) = leftovers
                && closed
            {
                leftovers.out = None;
            }
            queue.not_empty.notify_all();
            queue.not_full.notify_all();
        }
    }
}

struct QueueState {
    jobs: VecDeque<FileJob>,
    closed: bool,
    /// No reading handle is left: what arrives is reported as not read at once.
    orphaned: bool,
    /// Readers waiting for a job: a notification costs a system call, so send none to nobody.
    idle: usize,
    /// The sender is waiting for room.
    full: bool,
}

/// Where a queue reports what no reader will take, and why.
struct Leftovers {
    out: Option<Emitter>,
    why: String,
}

#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
    /// Always locked before `state` when both are needed.
    leftovers: Mutex<Leftovers>,
    run: Arc<RunState>,
}

impl std::fmt::Debug for QueueState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueState")
            .field("jobs", &self.jobs.len())
            .field("closed", &self.closed)
            .field("orphaned", &self.orphaned)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Leftovers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leftovers").field("why", &self.why).finish()
    }
}

impl Queue {
    fn new(run: &Arc<RunState>, leftovers: Emitter) -> Arc<Queue> {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                closed: false,
                orphaned: false,
                idle: 0,
                full: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            leftovers: Mutex::new(Leftovers {
                out: Some(leftovers),
                why: STOPPED_EARLY.into(),
            }),
            run: Arc::clone(run),
        });
        let mut queues = lock(&run.queues);
        queues.retain(|q| q.strong_count() > 0);
        queues.push(Arc::downgrade(&queue));
        drop(queues);
        queue
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        lock(&self.state)
    }

    fn wait<'a>(
        &self,
        condvar: &Condvar,
        state: MutexGuard<'a, QueueState>,
    ) -> MutexGuard<'a, QueueState> {
        condvar.wait(state).unwrap_or_else(PoisonError::into_inner)
    }

    fn push_all(&self, batch: &mut Vec<FileJob>) {
        if batch.is_empty() {
            return;
        }
        let mut state = self.lock();
        while state.jobs.len() >= QUEUE_CAPACITY
            && !state.closed
            && !state.orphaned
            && !self.run.is_stopped()
        {
            state.full = true;
            state = self.wait(&self.not_full, state);
        }
        if self.run.is_stopped() {
            batch.clear();
            return;
        }
        if state.orphaned {
            drop(state);
            self.abandon(batch.drain(..));
            return;
        }
        let (added, idle) = (batch.len(), state.idle);
        state.jobs.extend(batch.drain(..));
        drop(state);
        match idle {
            0 => {}
            1 => self.not_empty.notify_one(),
            _ if added == 1 => self.not_empty.notify_one(),
            _ => self.not_empty.notify_all(),
        }
    }

    /// Reports `jobs` as not read, through the leftovers emitter (unless the run was stopped:
    /// then nobody is listening).
    fn abandon(&self, jobs: impl Iterator<Item = FileJob>) {
        if self.run.is_stopped() {
            return;
        }
        let mut leftovers = lock(&self.leftovers);
        let Leftovers { out, why } = &mut *leftovers;
        if let Some(out) = out {
            for job in jobs {
                out.emit(FileResult::abandoned(job, why));
            }
        }
    }

    /// No more jobs will come. Once no reader is left either, the leftovers emitter goes.
    fn close(&self) {
        let mut leftovers = lock(&self.leftovers);
        let mut state = self.lock();
        state.closed = true;
        let spent = state.orphaned || state.jobs.is_empty() || self.run.is_stopped();
        drop(state);
        self.not_empty.notify_all();
        if spent {
            leftovers.out = None;
        }
    }

    /// The last reading handle is gone: what the queue holds is reported as not read, and so
    /// is everything pushed from now on.
    fn orphan(&self) {
        let mut leftovers = lock(&self.leftovers);
        let mut state = self.lock();
        state.orphaned = true;
        let jobs = std::mem::take(&mut state.jobs);
        let closed = state.closed;
        drop(state);
        self.not_full.notify_all();
        if !self.run.is_stopped() {
            let Leftovers { out, why } = &mut *leftovers;
            if let Some(out) = out {
                for job in jobs {
                    out.emit(FileResult::abandoned(job, why));
                }
            }
        }
        if closed {
            leftovers.out = None;
        }
    }
}

/// Makes a queue for a run: its sender and its first reading handle.
pub(super) fn queue(run: &Arc<RunState>, leftovers: Emitter) -> (JobSender, Jobs) {
    let queue = Queue::new(run, leftovers);
    let sender = JobSender {
        queue: Arc::clone(&queue),
        batch: Vec::with_capacity(PUSH_BATCH),
    };
    let jobs = Jobs {
        reading: Arc::new(Reading {
            source: Source::Queue(queue),
        }),
    };
    (sender, jobs)
}

/// A reading handle that discovers as it goes: each job is found by walking on, on the
/// reader's own thread (for a schedule that reads on one thread, see [`Feed::Inline`]).
///
/// [`Feed::Inline`]: crate::Feed::Inline
pub(super) fn inline(run: &Arc<RunState>, entries: Entries, leftovers: Emitter) -> Jobs {
    Jobs {
        reading: Arc::new(Reading {
            source: Source::Walk(Box::new(Mutex::new(InlineWalk {
                entries,
                run: Arc::clone(run),
                leftovers: Some(leftovers),
            }))),
        }),
    }
}

/// The sending half of a queue. Jobs gather in a small batch and reach the queue when it is
/// full or on [`JobSender::flush`]; pushing waits while the queue is full (backpressure).
/// Closing — explicitly or by dropping the sender, even in a panic — sends what is pending and
/// lets the readers finish once they have drained the queue.
pub struct JobSender {
    queue: Arc<Queue>,
    batch: Vec<FileJob>,
}

impl std::fmt::Debug for JobSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSender")
            .field("pending", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl JobSender {
    /// Queues one job (sent on with the next full batch or [`JobSender::flush`]).
    pub fn push(&mut self, job: FileJob) {
        self.batch.push(job);
        if self.batch.len() >= PUSH_BATCH {
            self.queue.push_all(&mut self.batch);
        }
    }

    /// Sends the pending jobs to the queue now; waits while the queue is full.
    pub fn flush(&mut self) {
        self.queue.push_all(&mut self.batch);
    }

    /// Whether the run was stopped: pushing more is pointless.
    pub fn is_stopped(&self) -> bool {
        self.queue.run.is_stopped()
    }

    /// Sends the pending jobs and closes the queue: no more jobs will come.
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for JobSender {
    fn drop(&mut self) {
        self.queue.push_all(&mut self.batch);
        self.queue.close();
    }
}

/// What a reading handle reads from.
#[derive(Debug)]
enum Source {
    Queue(Arc<Queue>),
    Walk(Box<Mutex<InlineWalk>>),
}

/// Discovery on the reader's thread: the walk goes on each time a job is asked for.
struct InlineWalk {
    entries: Entries,
    run: Arc<RunState>,
    leftovers: Option<Emitter>,
}

impl std::fmt::Debug for InlineWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWalk").finish_non_exhaustive()
    }
}

impl InlineWalk {
    /// Walks on until `max` files are found or the walk ends; what is skipped or failed on the
    /// way goes to `out`, in walk order.
    fn take(&mut self, max: usize, out: &mut Emitter) -> Vec<FileJob> {
        let mut batch = Vec::new();
        while batch.len() < max.max(1) {
            if self.run.is_stopped() {
                // Nothing is reported after a stop: let the output close, even while a reader
                // stuck in a read holds this walk.
                self.leftovers = None;
                break;
            }
            match self.entries.next() {
                Some(Discovered::File(job)) => batch.push(job),
                Some(Discovered::Skipped(skipped)) => out.record(crate::Record::Skipped(skipped)),
                Some(Discovered::Failed(err)) => out.emit(FileResult::failed(err)),
                None => {
                    // The walk is over: nothing can be left over any more.
                    self.leftovers = None;
                    break;
                }
            }
        }
        batch
    }
}

/// The state behind every clone of one [`Jobs`]: when the last clone goes, the queue is
/// orphaned (see the module docs).
#[derive(Debug)]
struct Reading {
    source: Source,
}

impl Drop for Reading {
    fn drop(&mut self) {
        match &mut self.source {
            Source::Queue(queue) => queue.orphan(),
            Source::Walk(walk) => {
                let walk = walk.get_mut().unwrap_or_else(PoisonError::into_inner);
                if let Some(mut out) = walk.leftovers.take() {
                    // Everything the walk has not reached yet is reported as not read.
                    loop {
                        let batch = walk.take(PUSH_BATCH, &mut out);
                        if batch.is_empty() {
                            break;
                        }
                        for job in batch {
                            out.emit(FileResult::abandoned(job, STOPPED_EARLY));
                        }
                    }
                }
            }
        }
    }
}

/// The queue of files a schedule reads. Clones are handles to the same queue, one per worker.
///
/// Readers take jobs with [`Jobs::next`] or [`Jobs::next_batch`], which wait while the queue
/// is empty but open, and see the end (`None`, an empty batch) once it is closed and drained,
/// or once the run was stopped. What is left when the last handle is dropped is reported as
/// not read: a schedule may stop early without losing a file.
#[derive(Debug, Clone)]
pub struct Jobs {
    reading: Arc<Reading>,
}

impl Jobs {
    /// The next job; waits while the queue is empty but open, and returns `None` once it is
    /// closed and drained. Before waiting, `out`'s pending records are sent, so nothing finished
    /// sits unreported while this worker idles.
    pub fn next(&self, out: &mut Emitter) -> Option<FileJob> {
        self.next_batch(1, out).pop()
    }

    /// Up to `max` jobs at once (at least one unless the queue is closed and drained); waits
    /// and flushes like [`Jobs::next`].
    pub fn next_batch(&self, max: usize, out: &mut Emitter) -> Vec<FileJob> {
        self.next_sized(out, |_| max)
    }

    /// [`Jobs::next_batch`] of one reader's guided batch of what waits when it takes them, as
    /// [`Jobs::guided`] sizes it, with the queue's lock taken once: the way a pool's thread
    /// takes its next files.
    pub fn next_guided(&self, parts: usize, max: usize, out: &mut Emitter) -> Vec<FileJob> {
        self.next_sized(out, |waiting| guided_batch(waiting, parts, max))
    }

    /// [`Jobs::next_batch`] of `size(waiting)` jobs, `waiting` the number in the queue once
    /// there are some (0 when discovery runs on the reader's thread).
    fn next_sized(&self, out: &mut Emitter, size: impl Fn(usize) -> usize) -> Vec<FileJob> {
        let queue = match &self.reading.source {
            Source::Queue(queue) => queue,
            Source::Walk(walk) => return lock(walk).take(size(0), out),
        };
        let mut state = queue.lock();
        if state.jobs.is_empty() && !state.closed {
            drop(state);
            out.flush();
            state = queue.lock();
        }
        loop {
            if queue.run.is_stopped() {
                return Vec::new();
            }
            if !state.jobs.is_empty() {
                let max = size(state.jobs.len());
                return take(queue, state, max);
            }
            if state.closed {
                return Vec::new();
            }
            state.idle += 1;
            state = queue.wait(&queue.not_empty, state);
            state.idle -= 1;
        }
    }

    /// Up to `max` jobs that wait in the queue now, without waiting for more: empty when none
    /// wait. For a worker that would rather go on than return to its scheduler.
    pub fn try_batch(&self, max: usize) -> Vec<FileJob> {
        let Source::Queue(queue) = &self.reading.source else {
            return Vec::new();
        };
        let state = queue.lock();
        if state.jobs.is_empty() || queue.run.is_stopped() {
            return Vec::new();
        }
        take(queue, state, max)
    }

    /// How many jobs wait in the queue now (0 when discovery runs on the reader's thread).
    pub fn queued(&self) -> usize {
        match &self.reading.source {
            Source::Queue(queue) => queue.lock().jobs.len(),
            Source::Walk(_) => 0,
        }
    }

    /// Guided scheduling: a batch size for one of `parts` readers that read this queue — its
    /// part of what waits now, at least 1 and at most `max`. Many waiting jobs go `max` at a
    /// time; few go one to a reader, so that they are read side by side; and the last batches
    /// of a run are small, so that the readers end together.
    ///
    /// ```
    /// # use reader_core::Jobs;
    /// fn batch(jobs: &Jobs) -> usize {
    ///     jobs.guided(4, 16) // a quarter of what waits, 1 to 16 jobs
    /// }
    /// ```
    pub fn guided(&self, parts: usize, max: usize) -> usize {
        guided_batch(self.queued(), parts, max)
    }

    /// Whether the run was stopped (its output is gone): a reader holding jobs of its own
    /// drops them instead of reading them.
    pub fn is_stopped(&self) -> bool {
        match &self.reading.source {
            Source::Queue(queue) => queue.run.is_stopped(),
            Source::Walk(walk) => lock(walk).run.is_stopped(),
        }
    }

    /// A queue of this run for a part of a schedule (the hybrid's thread pool, its async path):
    /// its sender and its reading handle. It stops with the run, and what it is left holding
    /// when its readers are gone is reported through `leftovers` as not read.
    pub fn sub_queue(&self, leftovers: Emitter) -> (JobSender, Jobs) {
        let run = match &self.reading.source {
            Source::Queue(queue) => Arc::clone(&queue.run),
            Source::Walk(walk) => Arc::clone(&lock(walk).run),
        };
        queue(&run, leftovers)
    }

    /// Says why this queue's leftovers were not read (default: the reader stopped before
    /// reaching them), for a schedule that failed: `not read: {why}`.
    pub fn leftovers_because(&self, why: impl Into<String>) {
        match &self.reading.source {
            Source::Queue(queue) => lock(&queue.leftovers).why = why.into(),
            Source::Walk(_) => {}
        }
    }
}

/// One of `parts` readers' batch of `waiting` jobs: at least 1, at most `max`.
fn guided_batch(waiting: usize, parts: usize, max: usize) -> usize {
    (waiting / parts.max(1)).clamp(1, max.max(1))
}

fn take(queue: &Queue, mut state: MutexGuard<'_, QueueState>, max: usize) -> Vec<FileJob> {
    let take = max.max(1).min(state.jobs.len());
    let batch: Vec<FileJob> = state.jobs.drain(..take).collect();
    // Wake a waiting sender only once half the queue is free, not at every job.
    let wake_sender = state.full && state.jobs.len() <= QUEUE_CAPACITY / 2;
    if wake_sender {
        state.full = false;
    }
    // Closed and drained: nothing can be left over any more.
    let spent = state.closed && state.jobs.is_empty();
    drop(state);
    if wake_sender {
        queue.not_full.notify_one();
    }
    if spent {
        lock(&queue.leftovers).out = None;
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ErrorKind;
    use crate::record::Record;
    use crate::schedule::emit::channel;
    use std::path::Path;

    fn job(name: &str) -> FileJob {
        FileJob::new(name, None)
    }

    fn abandoned(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::File(f)
                    if f.outcome
                        .as_ref()
                        .is_err_and(|e| e.kind() == ErrorKind::WorkerCrashed) =>
                {
                    Some(f.path.display().to_string())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn queued_counts_what_waits_and_a_guided_batch_takes_a_part() {
        let run = RunState::new();
        let (out, _records) = channel();
        let (mut sender, jobs) = queue(&run, out.clone());
        assert_eq!(jobs.queued(), 0);
        for i in 0..40 {
            sender.push(job(&format!("f{i}")));
        }
        sender.flush();
        assert_eq!(jobs.queued(), 40);
        assert_eq!(jobs.guided(4, 16), 10);
        assert_eq!(jobs.guided(4, 8), 8);
        assert_eq!(jobs.guided(100, 8), 1);
        let mut out = out;
        assert_eq!(jobs.next_batch(2, &mut out).len(), 2);
        assert_eq!(jobs.queued(), 38);
        assert_eq!(
            jobs.next_guided(4, 16, &mut out).len(),
            9,
            "a quarter of 38"
        );
        assert_eq!(jobs.next_guided(4, 4, &mut out).len(), 4, "at most 4");
        assert_eq!(jobs.next_guided(100, 16, &mut out).len(), 1, "at least 1");
        assert_eq!(jobs.queued(), 24);
    }

    #[test]
    fn dropping_the_sender_closes_the_queue_with_its_pending_jobs() {
        let run = RunState::new();
        let (mut out, _records) = channel();
        let (mut sender, jobs) = queue(&run, out.clone());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            sender.push(job("kept"));
            panic!("router died");
        }));
        assert!(caught.is_err());
        let batch = jobs.next_batch(usize::MAX, &mut out);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].path, Path::new("kept"));
        assert!(jobs.next(&mut out).is_none(), "closed and drained");
    }

    #[test]
    fn what_no_reader_takes_is_reported_with_the_reason() {
        let run = RunState::new();
        let (out, records) = channel();
        let (mut sender, jobs) = queue(&run, out);
        sender.push(job("held"));
        sender.flush();
        jobs.leftovers_because("the pool could not start");
        drop(jobs);
        // Pushed after the readers went: reported by the pusher, never waiting.
        for i in 0..QUEUE_CAPACITY + 10 {
            sender.push(job(&format!("late{i}")));
        }
        drop(sender);
        let records = records.collect();
        assert_eq!(abandoned(&records).len(), QUEUE_CAPACITY + 11);
        let Record::File(first) = &records[0] else {
            panic!("a file record")
        };
        let err = first.outcome.as_ref().expect_err("not read");
        assert_eq!(err.to_string(), "held: not read: the pool could not start");
    }

    #[test]
    fn a_closed_and_drained_queue_lets_its_emitter_go_while_readers_remain() {
        let run = RunState::new();
        let (mut out, records) = channel();
        let (mut sender, jobs) = queue(&run, out.clone());
        sender.push(job("last"));
        sender.close();
        assert_eq!(jobs.next_batch(10, &mut out).len(), 1);
        drop(out);
        // `jobs` is still held, as a reader stuck for ever would hold it: the output ends.
        assert_eq!(records.collect(), Vec::new());
        drop(jobs);
    }

    #[test]
    fn a_stop_lets_the_output_close_while_a_stuck_reader_holds_queued_jobs() {
        for close_first in [true, false] {
            let run = RunState::new();
            let (out, records) = channel();
            let (mut sender, jobs) = queue(&run, out);
            for i in 0..10 {
                sender.push(job(&format!("f{i}")));
            }
            sender.flush();
            if close_first {
                sender.close();
                run.stop();
            } else {
                run.stop();
                sender.close();
            }
            // `jobs` stays alive, as an abandoned read would keep it: the output still ends.
            assert!(records.collect().is_empty());
            drop(jobs);
        }
    }

    #[test]
    fn a_stopped_inline_walk_lets_the_output_close_while_a_reader_holds_it() {
        let tree = reader_testkit::Tree::new();
        for i in 0..10 {
            tree.file(format!("f{i}"), "x\n");
        }
        let run = RunState::new();
        let (out, records) = channel();
        let walk = crate::walk::Walk::new([tree.path()]);
        let jobs = inline(&run, walk.entries(), out.clone());
        let mut reading = out;
        assert!(jobs.next(&mut reading).is_some());
        run.stop();
        assert!(jobs.next(&mut reading).is_none());
        drop(reading);
        // `jobs` stays alive, as a reader stuck in a read would keep it: the output still ends.
        assert!(records.collect().is_empty());
        drop(jobs);
    }

    #[test]
    fn a_stopped_run_hands_out_nothing_and_wakes_its_waiters() {
        let run = RunState::new();
        let (out, records) = channel();
        let (mut sender, jobs) = queue(&run, out.clone());
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut out = out.clone();
                jobs.next(&mut out)
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            run.stop();
            assert_eq!(waiter.join().ok().flatten(), None);
        });
        sender.push(job("after"));
        sender.flush();
        assert!(jobs.try_batch(10).is_empty());
        assert!(jobs.is_stopped() && sender.is_stopped());
        drop((sender, jobs, out));
        assert!(
            records.collect().is_empty(),
            "nothing reported after a stop"
        );
    }
}
