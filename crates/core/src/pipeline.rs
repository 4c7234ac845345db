//! The plumbing every concurrent reader shares: discovery on its own thread feeding a bounded
//! job queue, a scheduler (the strategy) taking jobs from it, and records flowing back to the
//! caller's thread in small batches as they complete.
//!
//! A strategy only decides *how* jobs are scheduled: it receives [`Jobs`] and an [`Emitter`]
//! and reads until the queue is closed. The pipeline guarantees the rest: every discovered entry
//! becomes exactly one record, even if the strategy panics or stops early (what it left in the
//! queue is reported as `worker_crashed`), and the caller sees records while the run goes on.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::count::Counts;
use crate::discover::{Discovered, FileJob, Walk};
use crate::error::{ErrorKind, FileError};
use crate::read::{count_file, count_sized};
use crate::record::{FileResult, Record, Worker};

/// Jobs the queue holds before discovery waits for the readers (paths only: a few hundred KiB).
const QUEUE_CAPACITY: usize = 4096;
/// Jobs discovery hands over at once.
const PUSH_BATCH: usize = 32;
/// Records a worker gathers before sending them on.
const EMIT_BATCH: usize = 64;
/// The longest a finished record waits in a worker's batch while that worker is busy.
const EMIT_DELAY: Duration = Duration::from_millis(50);
/// Batches in flight to the caller before workers wait for it (backpressure on slow output).
const RECORD_CHANNEL: usize = 256;

struct QueueState {
    jobs: VecDeque<FileJob>,
    closed: bool,
    /// Workers waiting for a job: a notification costs a system call, so send none to nobody.
    idle: usize,
    /// Discovery is waiting for room.
    full: bool,
}

struct Queue {
    state: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // The state stays consistent whatever panicked while holding it: a VecDeque and a flag.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_all(&self, batch: &mut Vec<FileJob>) {
        if batch.is_empty() {
            return;
        }
        let mut state = self.lock();
        while state.jobs.len() >= QUEUE_CAPACITY && !state.closed {
            state.full = true;
            state = self
                .not_full
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
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

    fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
    }

    fn new() -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                closed: false,
                idle: 0,
                full: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        })
    }
}

/// A job queue of its own, outside [`run`]: the sending half and the [`Jobs`] that read it.
///
/// For schedulers that route the pipeline's jobs on to several sub-schedulers (the hybrid
/// sends each file to the thread pool or to the async path): each sub-scheduler reads its own
/// queue, and the queue behaves exactly like the pipeline's — bounded, closed when the sender
/// is closed or dropped, drained before [`Jobs::next`] returns `None`.
///
/// ```
/// use reader_core::{pipeline, read_job, Record, Walk, Worker};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a"), "one two\n")?;
/// let mut words = 0;
/// pipeline::run(&Walk::new([dir.path()]), |jobs, mut out| {
///     let (mut sender, sub_jobs) = pipeline::queue();
///     let mut worker_out = out.clone();
///     std::thread::scope(|s| {
///         s.spawn(move || {
///             let mut buf = vec![0; 4096];
///             while let Some(job) = sub_jobs.next(&mut worker_out) {
///                 worker_out.emit(read_job(&job, &mut buf, Worker::Thread(0)));
///             }
///         });
///         while let Some(job) = jobs.next(&mut out) {
///             sender.push(job);
///         }
///         sender.close();
///     });
/// }, |record| {
///     if let Record::File(file) = record {
///         words += file.outcome.map_or(0, |c| c.words);
///     }
/// });
/// assert_eq!(words, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn queue() -> (JobSender, Jobs) {
    let queue = Queue::new();
    let sender = JobSender {
        queue: Arc::clone(&queue),
        batch: Vec::with_capacity(PUSH_BATCH),
    };
    (sender, Jobs { queue })
}

/// The sending half of a [`queue`]. Jobs gather in a small batch and reach the queue when it
/// is full or on [`JobSender::flush`]; pushing waits while the queue is full (backpressure).
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

/// The shared queue of files to read. Clones are handles to the same queue, one per worker.
#[derive(Clone)]
pub struct Jobs {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

impl Jobs {
    /// The next job; waits while the queue is empty but open, and returns `None` once it is
    /// closed and drained. Before waiting, `out`'s pending records are sent, so nothing finished
    /// sits unreported while this worker idles.
    pub fn next(&self, out: &mut Emitter) -> Option<FileJob> {
        let mut batch = self.next_batch(1, out);
        batch.pop()
    }

    /// How many jobs wait in the queue now: a hint for sizing batches (guided scheduling takes
    /// a share of what waits, so that the last batches are small and end together).
    pub fn queued(&self) -> usize {
        self.queue.lock().jobs.len()
    }

    /// Up to `max` jobs at once (at least one unless the queue is closed and drained); waits
    /// and flushes like [`Jobs::next`].
    pub fn next_batch(&self, max: usize, out: &mut Emitter) -> Vec<FileJob> {
        let mut state = self.queue.lock();
        if state.jobs.is_empty() && !state.closed {
            drop(state);
            out.flush();
            state = self.queue.lock();
        }
        loop {
            if !state.jobs.is_empty() {
                return self.take(state, max);
            }
            if state.closed {
                return Vec::new();
            }
            state.idle += 1;
            state = self
                .queue
                .not_empty
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }

    /// Up to `max` jobs that wait in the queue now, without waiting for more: empty when none
    /// wait. For a worker that would rather go on than return to its scheduler.
    pub fn try_batch(&self, max: usize) -> Vec<FileJob> {
        let state = self.queue.lock();
        if state.jobs.is_empty() {
            return Vec::new();
        }
        self.take(state, max)
    }

    fn take(&self, mut state: MutexGuard<'_, QueueState>, max: usize) -> Vec<FileJob> {
        let take = max.max(1).min(state.jobs.len());
        let batch: Vec<FileJob> = state.jobs.drain(..take).collect();
        // Wake a waiting discovery only once half the queue is free, not at every job.
        let wake_discovery = state.full && state.jobs.len() <= QUEUE_CAPACITY / 2;
        if wake_discovery {
            state.full = false;
        }
        drop(state);
        if wake_discovery {
            self.queue.not_full.notify_one();
        }
        batch
    }
}

/// Where a worker sends its records: they gather in a small batch that goes to the caller when
/// it is full, when it is old, when the worker is about to wait for work, or when the emitter
/// is dropped (even by a panic). Clone one per worker.
pub struct Emitter {
    tx: SyncSender<Vec<Record>>,
    batch: Vec<Record>,
    oldest: Instant,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("pending", &self.batch.len())
            .finish()
    }
}

impl Clone for Emitter {
    fn clone(&self) -> Self {
        Emitter::new(self.tx.clone())
    }
}

impl Emitter {
    fn new(tx: SyncSender<Vec<Record>>) -> Emitter {
        Emitter {
            tx,
            batch: Vec::with_capacity(EMIT_BATCH),
            oldest: Instant::now(),
        }
    }

    /// Sends one file's result on its way.
    pub fn emit(&mut self, result: FileResult) {
        self.record(Record::File(result));
    }

    /// Sends one record on its way.
    pub fn record(&mut self, record: Record) {
        if self.batch.is_empty() {
            self.oldest = Instant::now();
        }
        self.batch.push(record);
        if self.batch.len() >= EMIT_BATCH || self.oldest.elapsed() >= EMIT_DELAY {
            self.flush();
        }
    }

    /// Sends what is pending now.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(EMIT_BATCH));
            // The receiver lives until every emitter is gone; an error means the caller is
            // unwinding, and then there is nobody left to tell.
            let _ = self.tx.send(batch);
        }
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Reads one job with the calling thread's buffer and times it: with [`count_sized`] when the
/// job's size is known, else with [`count_file`]. A panic inside the read is caught and becomes
/// this file's `worker_crashed` error, so one bad file costs only itself.
pub fn read_job(job: &FileJob, buf: &mut [u8], worker: Worker) -> FileResult {
    let started = Instant::now();
    // A size looked up since discovery spares the `fstat`; a size of 0 says nothing (`/proc`).
    let read = || match job.size {
        Some(size) if size > 0 => count_sized(&job.path, size, buf),
        _ => count_file(&job.path, buf),
    };
    let outcome = panic::catch_unwind(AssertUnwindSafe(read))
        .unwrap_or_else(|payload| Err(panicked(&job.path, payload.as_ref())));
    FileResult {
        path: job.path.clone(),
        outcome,
        elapsed: started.elapsed(),
        worker,
    }
}

/// The error for a file whose reader panicked.
pub fn panicked(path: &Path, payload: &(dyn std::any::Any + Send)) -> FileError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    FileError::new(
        ErrorKind::WorkerCrashed,
        path,
        format!("reader panicked: {what}"),
    )
}

/// A result for a file that no worker is left to read.
pub fn abandoned(job: FileJob, why: &str) -> FileResult {
    FileResult {
        outcome: Err(FileError::new(ErrorKind::WorkerCrashed, &job.path, why)),
        path: job.path,
        elapsed: Duration::ZERO,
        worker: Worker::Main,
    }
}

/// Runs a whole read: discovery on one thread, `schedule` on another, and `on_record` on the
/// caller's thread for every record as it arrives. Returns what `schedule` returned, or `None`
/// if it panicked (its unread jobs are then reported as failed, never lost).
///
/// ```
/// use reader_core::{pipeline, read_job, Record, Walk, Worker};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a"), "one two\n")?;
/// let mut words = 0;
/// pipeline::run(&Walk::new([dir.path()]), |jobs, mut out| {
///     let mut buf = vec![0; 4096];
///     while let Some(job) = jobs.next(&mut out) {
///         out.emit(read_job(&job, &mut buf, Worker::Main));
///     }
/// }, |record| {
///     if let Record::File(file) = record {
///         words += file.outcome.map_or(0, |c| c.words);
///     }
/// });
/// assert_eq!(words, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run<S, T>(walk: &Walk, schedule: S, mut on_record: impl FnMut(Record)) -> Option<T>
where
    S: FnOnce(Jobs, Emitter) -> T + Send,
    T: Send,
{
    let queue = Queue::new();
    let (tx, rx) = mpsc::sync_channel::<Vec<Record>>(RECORD_CHANNEL);
    thread::scope(|scope| {
        let discovery_queue = Arc::clone(&queue);
        let mut discovery_out = Emitter::new(tx.clone());
        thread::Builder::new()
            .name("discovery".into())
            .spawn_scoped(scope, move || {
                let mut batch = Vec::with_capacity(PUSH_BATCH);
                let _ = walk.run(|entry| {
                    match entry {
                        Discovered::File(job) => {
                            batch.push(job);
                            if batch.len() >= PUSH_BATCH {
                                discovery_queue.push_all(&mut batch);
                            }
                        }
                        Discovered::Skipped(skipped) => {
                            discovery_out.record(Record::Skipped(skipped))
                        }
                        Discovered::Failed(err) => discovery_out.emit(FileResult {
                            path: err.path().to_path_buf(),
                            outcome: Err(err),
                            elapsed: Duration::ZERO,
                            worker: Worker::Main,
                        }),
                    }
                    ControlFlow::Continue(())
                });
                discovery_queue.push_all(&mut batch);
                discovery_queue.close();
            })
            .expect("spawning the discovery thread");
        let jobs = Jobs {
            queue: Arc::clone(&queue),
        };
        let out = Emitter::new(tx);
        let scheduler = thread::Builder::new()
            .name("scheduler".into())
            .spawn_scoped(scope, move || {
                let mut leftovers = out.clone();
                let result = panic::catch_unwind(AssertUnwindSafe(|| schedule(jobs.clone(), out)));
                // Whatever the strategy left unread, finished or not, is reported, never lost;
                // this also keeps discovery from waiting on a queue nobody drains.
                loop {
                    let batch = jobs.next_batch(usize::MAX, &mut leftovers);
                    if batch.is_empty() {
                        break;
                    }
                    for job in batch {
                        leftovers.emit(abandoned(
                            job,
                            "not read: the reader stopped before reaching it",
                        ));
                    }
                }
                result.ok()
            })
            .expect("spawning the scheduler thread");
        for batch in rx {
            for record in batch {
                on_record(record);
            }
        }
        scheduler.join().ok().flatten()
    })
}

/// Sum of the counts of the records that were read.
pub fn total(records: &[Record]) -> Counts {
    records
        .iter()
        .filter_map(|r| match r {
            Record::File(f) => f.outcome.as_ref().ok().copied(),
            Record::Skipped(_) => None,
        })
        .fold(Counts::default(), |a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..n {
            fs::write(dir.path().join(format!("f{i}")), "a b\n").expect("write");
        }
        dir
    }

    #[test]
    fn queued_counts_what_waits() {
        let (mut sender, jobs) = queue();
        assert_eq!(jobs.queued(), 0);
        for i in 0..5 {
            sender.push(FileJob {
                path: format!("f{i}").into(),
                size: None,
            });
        }
        sender.flush();
        assert_eq!(jobs.queued(), 5);
        let (tx, _rx) = mpsc::sync_channel(1);
        let mut out = Emitter::new(tx);
        assert_eq!(jobs.next_batch(2, &mut out).len(), 2);
        assert_eq!(jobs.queued(), 3);
    }

    #[test]
    fn every_file_once_through_several_workers() {
        let dir = tree(500);
        let mut records = Vec::new();
        run(
            &Walk::new([dir.path()]),
            |jobs, out| {
                thread::scope(|s| {
                    for i in 0..3 {
                        let (jobs, mut out) = (jobs.clone(), out.clone());
                        s.spawn(move || {
                            let mut buf = vec![0; 64];
                            while let Some(job) = jobs.next(&mut out) {
                                out.emit(read_job(&job, &mut buf, Worker::Thread(i)));
                            }
                        });
                    }
                });
            },
            |r| records.push(r),
        );
        assert_eq!(records.len(), 500);
        assert_eq!(
            total(&records),
            Counts {
                bytes: 2000,
                lines: 500,
                words: 1000
            }
        );
    }

    #[test]
    fn a_strategy_that_panics_loses_nothing() {
        let dir = tree(300);
        let mut records = Vec::new();
        let outcome = run(
            &Walk::new([dir.path()]),
            |jobs, mut out| {
                let mut buf = vec![0; 64];
                for _ in 0..10 {
                    if let Some(job) = jobs.next(&mut out) {
                        out.emit(read_job(&job, &mut buf, Worker::Main));
                    }
                }
                panic!("strategy gave up");
            },
            |r| records.push(r),
        );
        assert!(outcome.is_none());
        assert_eq!(records.len(), 300);
        let crashed = records
            .iter()
            .filter(|r| matches!(r, Record::File(f) if f.outcome.as_ref().is_err_and(|e| e.kind() == ErrorKind::WorkerCrashed)))
            .count();
        assert_eq!(crashed, 290);
    }

    #[test]
    fn a_standalone_queue_carries_more_than_its_capacity_to_several_readers() {
        let dir = tree(1);
        let file = dir.path().join("f0");
        let total_jobs = QUEUE_CAPACITY * 2 + 7;
        let mut records = Vec::new();
        run(
            &Walk::new([dir.path()]),
            |jobs, mut out| {
                let (mut sender, sub_jobs) = queue();
                thread::scope(|s| {
                    for i in 0..2 {
                        let (sub_jobs, mut out) = (sub_jobs.clone(), out.clone());
                        s.spawn(move || {
                            let mut buf = vec![0; 64];
                            while let Some(job) = sub_jobs.next(&mut out) {
                                out.emit(read_job(&job, &mut buf, Worker::Thread(i)));
                            }
                        });
                    }
                    // The pipeline's own job, then thousands more: pushing waits for room.
                    while let Some(job) = jobs.next(&mut out) {
                        sender.push(job);
                    }
                    for _ in 1..total_jobs {
                        sender.push(FileJob {
                            path: file.clone(),
                            size: None,
                        });
                    }
                    sender.flush();
                    sender.close();
                });
            },
            |r| records.push(r),
        );
        assert_eq!(records.len(), total_jobs);
        assert_eq!(total(&records).words, 2 * total_jobs as u64);
    }

    #[test]
    fn dropping_the_sender_closes_the_queue_with_its_pending_jobs() {
        let (mut sender, jobs) = queue();
        let caught = panic::catch_unwind(AssertUnwindSafe(move || {
            sender.push(FileJob {
                path: "kept".into(),
                size: Some(1),
            });
            panic!("router died");
        }));
        assert!(caught.is_err());
        let (tx, _rx) = mpsc::sync_channel(1);
        let mut out = Emitter::new(tx);
        let batch = jobs.next_batch(usize::MAX, &mut out);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].path, Path::new("kept"));
        assert!(jobs.next(&mut out).is_none(), "closed and drained");
    }

    #[test]
    fn a_panic_while_reading_costs_one_file() {
        let err = panicked(Path::new("p"), &"boom");
        assert_eq!(err.kind(), ErrorKind::WorkerCrashed);
        assert_eq!(err.to_string(), "p: reader panicked: boom");
    }
}
