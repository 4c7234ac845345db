//! The per-file time limit of the models that read on their own threads (threads, the
//! sequential reader, the hybrid's pool and splitter): [`timed_pool`], a pool of reading
//! threads watched by the thread that runs it, and [`StuckRead`], the count of reads given up
//! on that have not ended yet.
//!
//! A read that waits on a stalled server cannot be cancelled: the thread in it sleeps in the
//! kernel, and one waiting for a FUSE or NFS answer its server has already taken does not even
//! die of SIGKILL until the answer comes. So the reading threads of a timed pool are never
//! joined: each is started on its own (not scoped), and while it reads a file its emitter
//! sits in a slot it shares with the pool's watcher. When the file passes its deadline the
//! watcher takes the emitter back, reports the file as `timeout`, marks the thread abandoned
//! (should its read ever end, the result is dropped and the thread ends) and starts a
//! replacement that goes on with the same emitter. The pool ends when its live threads have
//! drained the queue; the abandoned ones hold no sender of records, so the run's output
//! closes without them.
//!
//! What the kernel allows: a thread stuck in an uninterruptible read keeps its process from
//! being reaped until the read ends. The process can write its summary, close its output and
//! exit — its other threads are gone and nothing waits for it — but its parent sees it end
//! only once the read returns: when the server answers, or when the mount is aborted
//! (`umount -f`, `echo 1 > /sys/fs/fuse/connections/N/abort`; a lazy unmount does not). Only a
//! read in another process (reader-proc) leaves the reader itself free to be reaped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::record::{FileError, RunError};
use crate::record::{FileResult, Worker};
use crate::schedule::emit::Emitter;
use crate::schedule::queue::Jobs;
use crate::sync::lock;
use crate::walk::FileJob;

/// Reads given up on after their time limit, in this process, that have not ended yet.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// The reads of this process given up on after their time limit that have not ended yet:
/// each keeps a thread in the kernel, and the process cannot be reaped before they end.
pub fn stuck_reads() -> usize {
    STUCK.load(Ordering::Acquire)
}

/// A read given up on after its time limit, counted in [`stuck_reads`] until this is dropped
/// — by whatever holds on to the read, once it has ended.
#[derive(Debug)]
pub struct StuckRead(());

impl StuckRead {
    /// Counts one more read given up on.
    pub fn begin() -> StuckRead {
        STUCK.fetch_add(1, Ordering::AcqRel);
        StuckRead(())
    }
}

impl Drop for StuckRead {
    fn drop(&mut self) {
        STUCK.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a reading thread shares with the watcher while it reads a file.
#[derive(Debug, Default)]
struct SlotState {
    /// The thread's emitter, here while a file is being read (so that the watcher can take it).
    out: Option<Emitter>,
    /// The file being read, and since when.
    reading: Option<(FileJob, Instant)>,
    /// Who reads it, for the record of a timeout.
    worker: Option<Worker>,
    /// Given up on: its read's result is dropped, and the thread ends.
    abandoned: Option<StuckRead>,
}

#[derive(Debug, Default)]
struct Slot(Mutex<SlotState>);

/// What the watcher and its reading threads share.
struct Pool<M> {
    jobs: Jobs,
    reader: M,
    /// The live (not abandoned) threads' slots.
    live: Mutex<Vec<Arc<Slot>>>,
    /// A live thread ended.
    ended: Condvar,
}

/// Runs `threads` reading threads over `jobs` (at least one), giving each file at most
/// `limit`, and returns how many started; errs, with every job reported as not read, only if
/// none could.
///
/// `reader(index)` is called on each new reading thread — number `index`, a replacement
/// counting on from `threads` — and says who the thread is in the records and how it reads
/// one job (with a buffer of its own, say). A file that has not been read when its limit
/// passes is reported as `timeout`, its thread is abandoned to the read (see the module docs)
/// and a replacement goes on with the queue. If no replacement can be started and no reading
/// thread is left, the rest of the queue is reported as not read.
///
/// ```
/// use std::time::Duration;
/// use reader_core::{Concurrency, Emitter, Jobs, RunError, Schedule, Walk, Worker, read_job, timed_pool};
///
/// /// Two threads, each file within a second.
/// struct Timed;
/// impl Schedule for Timed {
///     type Stats = Concurrency;
///     fn strategy(&self) -> &'static str { "timed" }
///     fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
///         let threads = timed_pool(2, Duration::from_secs(1), jobs, out, |index| {
///             let worker = Worker::Thread(index as u32);
///             let mut buf = vec![0; 64 * 1024];
///             (worker, move |job: &reader_core::FileJob| read_job(job.clone(), &mut buf, worker))
///         })?;
///         Ok(Concurrency(threads))
///     }
/// }
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one two\n")?;
/// let finished = Timed.read(&Walk::new([dir.path()]), |_| {})?;
/// assert_eq!((finished.summary.ok, finished.summary.jobs), (1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn timed_pool<M, R>(
    threads: usize,
    limit: Duration,
    jobs: &Jobs,
    mut out: Emitter,
    reader: M,
) -> Result<usize, RunError>
where
    M: Fn(usize) -> (Worker, R) + Send + Sync + 'static,
    R: FnMut(&FileJob) -> FileResult,
{
    let pool = Arc::new(Pool {
        jobs: jobs.clone(),
        reader,
        live: Mutex::new(Vec::new()),
        ended: Condvar::new(),
    });
    let mut started = 0;
    let mut refused = None;
    for index in 0..threads.max(1) {
        match start(&pool, index, out.clone()) {
            Ok(()) => started += 1,
            Err(source) => {
                refused = Some(source);
                break;
            }
        }
    }
    if started == 0 {
        let err = RunError::Spawn {
            what: "a reading thread".into(),
            source: refused.unwrap_or_else(|| std::io::Error::other("none was asked for")),
        };
        jobs.leftovers_because(err.to_string());
        return Err(err);
    }
    let mut next = started;
    let mut live = lock(&pool.live);
    loop {
        let now = Instant::now();
        let mut overdue = Vec::new();
        let mut wake = now + limit;
        for slot in live.iter() {
            if let Some((_, since)) = &lock(&slot.0).reading {
                let deadline = *since + limit;
                if deadline <= now {
                    overdue.push(Arc::clone(slot));
                } else {
                    wake = wake.min(deadline);
                }
            }
        }
        for slot in overdue {
            let Some((job, worker, taken)) = abandon(&slot, limit) else {
                continue;
            };
            live.retain(|s| !Arc::ptr_eq(s, &slot));
            let (mut taken, elapsed) = taken;
            let timeout = FileError::timeout(&job.path, limit, "the read was abandoned");
            taken.emit(FileResult::of(job, Err(timeout), elapsed, worker));
            drop(live);
            let replaced = start(&pool, next, taken);
            next += 1;
            live = lock(&pool.live);
            if replaced.is_err() && live.is_empty() {
                drop(live);
                let why = "no thread could be started in place of one stuck in a read";
                while let Some(job) = jobs.next(&mut out) {
                    out.emit(FileResult::abandoned(job, why));
                }
                return Ok(started);
            }
        }
        if live.is_empty() {
            return Ok(started);
        }
        let wait = wake.saturating_duration_since(Instant::now());
        live = pool
            .ended
            .wait_timeout(live, wait)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// Gives up on the read in `slot` if it is still on: returns the file, who read it, its
/// emitter and how long it took so far.
fn abandon(slot: &Slot, limit: Duration) -> Option<(FileJob, Worker, (Emitter, Duration))> {
    let mut state = lock(&slot.0);
    let since = state.reading.as_ref()?.1;
    if since.elapsed() < limit {
        return None;
    }
    let (job, since) = state.reading.take()?;
    let out = state.out.take()?;
    state.abandoned = Some(StuckRead::begin());
    let worker = state.worker.unwrap_or(Worker::Main);
    Some((job, worker, (out, since.elapsed())))
}

/// Starts reading thread `index` with `out`, registered as live.
fn start<M, R>(pool: &Arc<Pool<M>>, index: usize, out: Emitter) -> std::io::Result<()>
where
    M: Fn(usize) -> (Worker, R) + Send + Sync + 'static,
    R: FnMut(&FileJob) -> FileResult,
{
    let slot = Arc::new(Slot::default());
    lock(&pool.live).push(Arc::clone(&slot));
    let thread_pool = Arc::clone(pool);
    let thread_slot = Arc::clone(&slot);
    let spawned = thread::Builder::new()
        .name(format!("reader-{index}"))
        .spawn(move || read_on(&thread_pool, &thread_slot, index, out));
    if let Err(err) = spawned {
        lock(&pool.live).retain(|s| !Arc::ptr_eq(s, &slot));
        return Err(err);
    }
    Ok(())
}

/// One reading thread: jobs from the queue until it is drained, each read with its emitter
/// left in the slot; ends at once if the watcher gave up on its read.
fn read_on<M, R>(pool: &Pool<M>, slot: &Arc<Slot>, index: usize, mut out: Emitter)
where
    M: Fn(usize) -> (Worker, R),
    R: FnMut(&FileJob) -> FileResult,
{
    let _ending = Ending { pool, slot };
    let (worker, mut read) = (pool.reader)(index);
    lock(&slot.0).worker = Some(worker);
    while let Some(job) = pool.jobs.next(&mut out) {
        {
            let mut state = lock(&slot.0);
            state.reading = Some((job.clone(), Instant::now()));
            state.out = Some(out);
        }
        let result = read(&job);
        let mut state = lock(&slot.0);
        if state.abandoned.is_some() {
            // Already reported as `timeout`; a replacement has this thread's emitter.
            return;
        }
        state.reading = None;
        let Some(back) = state.out.take() else {
            return;
        };
        drop(state);
        out = back;
        out.emit(result);
    }
}

/// Tells the watcher a reading thread has ended, however it ends; one that ends by a panic in
/// the middle of a file reports that file first, so that nothing is lost.
struct Ending<'a, M> {
    pool: &'a Pool<M>,
    slot: &'a Arc<Slot>,
}

impl<M> Drop for Ending<'_, M> {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.slot.0);
            if state.abandoned.is_none()
                && let (Some((job, since)), Some(mut out)) =
                    (state.reading.take(), state.out.take())
            {
                let crashed = FileError::crashed(&job.path, "the reading thread died");
                let worker = state.worker.unwrap_or(Worker::Main);
                out.emit(FileResult::of(job, Err(crashed), since.elapsed(), worker));
            }
        }
        let mut live = lock(&self.pool.live);
        let before = live.len();
        live.retain(|s| !Arc::ptr_eq(s, self.slot));
        if live.len() != before {
            self.pool.ended.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ErrorKind;
    use crate::record::Record;
    use crate::schedule::{Concurrency, Schedule};
    use crate::walk::Walk;

    /// A pool whose reads of files named `stuck*` never end (until the test is over).
    struct Stalling {
        threads: usize,
        release: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Schedule for Stalling {
        type Stats = Concurrency;
        fn strategy(&self) -> &'static str {
            "stalling"
        }
        fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
            let release = Arc::clone(&self.release);
            let threads = timed_pool(
                self.threads,
                Duration::from_millis(100),
                jobs,
                out,
                move |index| {
                    let release = Arc::clone(&release);
                    let worker = Worker::Thread(index as u32);
                    let mut buf = vec![0; 256];
                    (worker, move |job: &FileJob| {
                        let stuck = job
                            .path
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("stuck"));
                        if stuck {
                            let (done, wake) = &*release;
                            let mut done = lock(done);
                            while !*done {
                                done = wake.wait(done).unwrap_or_else(PoisonError::into_inner);
                            }
                        }
                        crate::read::read_job(job.clone(), &mut buf, worker)
                    })
                },
            )?;
            Ok(Concurrency(threads))
        }
    }

    #[test]
    fn a_read_past_its_limit_is_a_timeout_and_the_others_are_read() {
        let tree = reader_testkit::Tree::new();
        for i in 0..50 {
            tree.file(format!("f{i}.txt"), "two words\n");
        }
        for i in 0..3 {
            tree.file(format!("stuck{i}.txt"), "never\n");
        }
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        for threads in [1, 2] {
            let stalling = Stalling {
                threads,
                release: Arc::clone(&release),
            };
            let mut records = Vec::new();
            let started = Instant::now();
            let finished = stalling
                .read(&Walk::new([tree.path()]), |r| records.push(r))
                .expect("read");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(records.len(), 53, "{threads} threads");
            let timeouts = records
                .iter()
                .filter(|r| matches!(r, Record::File(f) if f.outcome.as_ref().is_err_and(|e| e.kind() == ErrorKind::Timeout)))
                .count();
            assert_eq!(timeouts, 3, "{threads} threads");
            assert_eq!((finished.summary.ok, finished.summary.failed), (50, 3));
            assert!(stuck_reads() >= 3);
        }
        let (done, wake) = &*release;
        *lock(done) = true;
        wake.notify_all();
    }
}
