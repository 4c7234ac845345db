//! The scheduling itself: up to `in_flight` async tasks ("lanes"), each sending one *hop* at a
//! time to the runtime's blocking pool. A run starts with one lane; a hop that takes its jobs
//! and sees more waiting starts a lane for each, up to `in_flight`, so a few files never cost
//! fifty blocking threads (one file: 3.5 ms → 1.8 ms from start to exit).
//!
//! A hop takes its share of core's queue (at most `files_per_hop` jobs, fewer when few wait:
//! guided scheduling) and opens, reads and counts them one after another with the lane's reused
//! buffer; its results go out through the lane's [`Emitter`] as each file completes. A hop that
//! has read its share goes on with jobs already waiting, up to `files_per_hop` files, and
//! returns to the runtime when none wait: on a cached tree a hop's two thread hand-offs cost
//! more than reading a small file.
//!
//! A semaphore permit is held by every hop for as long as it runs, so no more files are open
//! than there are permits. With a per-file timeout, the lane watches the file its hop is reading:
//! when the deadline passes, the file is reported as `timeout`, the hop is abandoned (a blocking
//! read cannot be cancelled; its late result is dropped) and the lane goes on with a new buffer
//! and the rest of the batch. The abandoned hop keeps its permit until its read really ends; a
//! spare permit replaces it (up to as many spares as lanes, at least 64, while the descriptor
//! limit leaves room), so a stuck file costs the run neither its concurrency nor its end. Past
//! that many reads stuck at once, the lanes wait for one of them to end: the bound on open
//! files wins. An abandoned hop holds no sender of records, so
//! the run's output closes without waiting for it.

use std::collections::VecDeque;
use std::future::Future;
use std::mem;
use std::path::{Path, PathBuf};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use reader_core::pipeline::abandoned;
use reader_core::{
    Emitter, ErrorKind, FileError, FileJob, FileResult, Jobs, Worker, defaults, read_job,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::exec::Exec;

/// How a run is scheduled: what the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) in_flight: usize,
    pub(crate) files_per_hop: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
    /// Set when nobody wants the results any more: lanes stop taking jobs.
    pub(crate) cancelled: Arc<AtomicBool>,
}

/// The environment variable of the fault injection hook (see the crate docs).
pub const STALL_VAR: &str = "READER_ASYNC_STALL";

/// Test-only fault injection: sleep before reading any path that contains `pattern`.
#[derive(Debug, Clone)]
struct Stall {
    pattern: String,
    delay: Duration,
}

impl Stall {
    /// `READER_ASYNC_STALL=<milliseconds>:<substring of the path>`, if set and well-formed.
    fn from_env() -> Option<Stall> {
        let value = std::env::var(STALL_VAR).ok()?;
        let parsed = value.split_once(':').and_then(|(ms, pattern)| {
            let ms: u64 = ms.trim().parse().ok()?;
            (!pattern.is_empty()).then(|| Stall {
                pattern: pattern.to_string(),
                delay: Duration::from_millis(ms),
            })
        });
        if parsed.is_none() {
            tracing::warn!("{STALL_VAR}={value:?} ignored: expected <milliseconds>:<pattern>");
        }
        parsed
    }

    fn before_reading(&self, path: &Path) {
        if path.to_string_lossy().contains(&self.pattern) {
            std::thread::sleep(self.delay);
        }
    }
}

/// A lane's task, once spawned: resolves when the lane has ended.
type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts lane number `index` with its emitter and returns its task.
type SpawnLane = Box<dyn Fn(&Arc<Shared>, usize, Emitter) -> Running + Send + Sync>;

/// What every lane shares.
struct Shared {
    jobs: Jobs,
    plan: Plan,
    /// Lanes started so far; more start only while jobs wait (see [`Shared::grow`]).
    started: AtomicUsize,
    spawn_lane: SpawnLane,
    /// Lanes started and not yet awaited by [`drive`].
    running: Mutex<Vec<Running>>,
    permits: Arc<Semaphore>,
    /// Hops abandoned after a timeout whose read has not ended yet.
    stuck: AtomicUsize,
    /// How many stuck hops may be replaced by a fresh permit: descriptors left beyond `in_flight`.
    spare: usize,
    stall: Option<Stall>,
}

impl Shared {
    /// Starts another lane for every job that waits, up to `in_flight` lanes in all: a run
    /// starts with one lane, and a tree of a few files never pays for fifty.
    fn grow(self: &Arc<Self>, out: &Emitter) {
        let lanes = self.plan.in_flight.max(1);
        let mut wanted = self.jobs.queued();
        while wanted > 0 {
            let started = self.started.load(Ordering::Acquire);
            if started >= lanes {
                break;
            }
            if self
                .started
                .compare_exchange(started, started + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let lane = (self.spawn_lane)(self, started, out.clone());
                lock(&self.running).push(lane);
                wanted -= 1;
            }
        }
    }

    /// Guided batches: a lane takes its share of what waits in the queue, at most
    /// `files_per_hop`. Many small files go 16 to a hop; a few large ones go one to a lane, so
    /// that they are read side by side and not one after another behind each other; and the
    /// last batches of a run are small, so that the lanes end together.
    fn batch_size(&self) -> usize {
        (self.jobs.queued() / self.plan.in_flight.max(1)).clamp(1, self.plan.files_per_hop)
    }
}

/// The file a hop is reading now, for the watchdog.
struct Current {
    started: Instant,
    /// Kept only when there is a timeout to report.
    path: Option<PathBuf>,
}

/// The state a lane shares with the hop it has sent to the blocking pool.
struct SlotState {
    /// The lane's emitter; it sits here whenever a file is being read, so that a lane that
    /// abandons the hop can take it back.
    out: Option<Emitter>,
    /// Jobs of this batch not started yet.
    pending: VecDeque<FileJob>,
    current: Option<Current>,
    /// The lane gave up on this hop: its late result is dropped.
    abandoned: bool,
    /// A spare permit replaced this hop's: the hop must not give its own back.
    replaced: bool,
}

struct Slot(Mutex<SlotState>);

impl Slot {
    fn new(out: Emitter, pending: VecDeque<FileJob>) -> Arc<Slot> {
        Arc::new(Slot(Mutex::new(SlotState {
            out: Some(out),
            pending,
            current: None,
            abandoned: false,
            replaced: false,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every field stays meaningful whatever panicked while the lock was held.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a hop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HopEnd {
    /// It read a batch; there may be more.
    More,
    /// The queue is closed and drained (or the run was cancelled).
    Done,
    /// Its lane gave up on it after a timeout.
    Abandoned,
}

/// Abandoned hops replaced by a fresh permit at least, whatever the lanes.
const MIN_SPARES: usize = 64;

/// How many abandoned hops may be replaced by a fresh permit in a run with `in_flight` lanes:
/// as many again as there are lanes (at least [`MIN_SPARES`]), while the descriptor limit
/// leaves room.
pub(crate) fn spare_slots(in_flight: usize) -> usize {
    defaults::fd_budget()
        .saturating_sub(in_flight)
        .min(in_flight.max(MIN_SPARES))
}

/// Runs up to `in_flight` lanes on `exec` over `jobs` until the queue is closed and drained.
pub(crate) async fn drive<E: Exec>(exec: E, plan: Plan, jobs: Jobs, out: Emitter) {
    let lanes = plan.in_flight.max(1);
    let spawn_lane: SpawnLane = Box::new(move |shared, index, out| {
        Box::pin(exec.spawn(lane(exec.clone(), Arc::clone(shared), index, out)))
    });
    let shared = Arc::new(Shared {
        jobs,
        permits: Arc::new(Semaphore::new(lanes)),
        stuck: AtomicUsize::new(0),
        spare: spare_slots(lanes),
        stall: Stall::from_env(),
        started: AtomicUsize::new(1),
        spawn_lane,
        running: Mutex::new(Vec::new()),
        plan,
    });
    let first = (shared.spawn_lane)(&shared, 0, out);
    lock(&shared.running).push(first);
    // A lane starts others before it ends, so once every lane seen has ended, none is left.
    loop {
        let running = mem::take(&mut *lock(&shared.running));
        if running.is_empty() {
            break;
        }
        for lane in running {
            lane.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One lane: hop after hop until the queue is drained.
async fn lane<E: Exec>(exec: E, shared: Arc<Shared>, index: usize, out: Emitter) {
    let worker = Worker::Task(u32::try_from(index).unwrap_or(u32::MAX));
    // Kept for reporting the jobs of a hop that died in our own code (never in a read: read_job
    // turns a panic into that file's error).
    let mut reserve = out.clone();
    let mut slot = Slot::new(out, VecDeque::new());
    let mut buf = vec![0; shared.plan.buffer_size];
    loop {
        let Ok(permit) = Arc::clone(&shared.permits).acquire_owned().await else {
            break;
        };
        let hop = {
            let (slot, shared) = (Arc::clone(&slot), Arc::clone(&shared));
            let mut buf = mem::take(&mut buf);
            exec.spawn_blocking(move || {
                let end = run_hop(&slot, &shared, &mut buf, worker);
                finish_hop(&slot, &shared, permit, end);
                (buf, end)
            })
        };
        let watched = match shared.plan.timeout {
            None => Watched::Finished(hop.await),
            Some(limit) => watch(&exec, &shared, &slot, hop, limit).await,
        };
        match watched {
            Watched::Finished(Some((back, HopEnd::More))) => buf = back,
            Watched::Finished(Some((_, HopEnd::Done | HopEnd::Abandoned))) => break,
            Watched::Finished(None) => {
                let mut state = slot.lock();
                let why = "not read: the async reader's hop failed";
                for job in state.pending.drain(..) {
                    reserve.emit(abandoned(job, why));
                }
                break;
            }
            Watched::TimedOut(timed_out) => {
                let TimedOut {
                    path,
                    elapsed,
                    out,
                    pending,
                } = timed_out;
                let mut out = out.unwrap_or_else(|| reserve.clone());
                let limit = shared.plan.timeout.unwrap_or_default();
                out.emit(FileResult {
                    outcome: Err(FileError::new(
                        ErrorKind::Timeout,
                        &path,
                        format!(
                            "no result after {:.3} s (--timeout {:.3} s); the read was abandoned",
                            elapsed.as_secs_f64(),
                            limit.as_secs_f64()
                        ),
                    )),
                    path,
                    elapsed,
                    worker,
                });
                slot = Slot::new(out, pending);
                // The old buffer is still being read into by the abandoned hop.
                buf = vec![0; shared.plan.buffer_size];
            }
        }
    }
}

/// The blocking side of a hop: take a batch unless one is pending, then read it file by file.
fn run_hop(slot: &Slot, shared: &Arc<Shared>, buf: &mut [u8], worker: Worker) -> HopEnd {
    let mut out = {
        let mut state = slot.lock();
        if state.pending.is_empty() {
            state.out.take()
        } else {
            None
        }
    };
    if let Some(emitter) = &mut out {
        // Flushes what this lane has finished before waiting for discovery.
        let batch = if shared.plan.cancelled.load(Ordering::Relaxed) {
            Vec::new()
        } else {
            shared.jobs.next_batch(shared.batch_size(), emitter)
        };
        if batch.is_empty() {
            slot.lock().out = out;
            return HopEnd::Done;
        }
        slot.lock().pending.extend(batch);
        shared.grow(emitter);
    } else {
        out = slot.lock().out.take();
    }
    let keep_path = shared.plan.timeout.is_some();
    let mut read = 0;
    loop {
        let job = {
            let mut state = slot.lock();
            if state.pending.is_empty() && read < shared.plan.files_per_hop {
                // Jobs that wait already are read on this hop: a round trip through the runtime
                // costs more than reading a small cached file.
                state
                    .pending
                    .extend(shared.jobs.try_batch(shared.batch_size()));
            }
            let Some(job) = state.pending.pop_front() else {
                state.out = out;
                return HopEnd::More;
            };
            read += 1;
            state.current = Some(Current {
                started: Instant::now(),
                path: keep_path.then(|| job.path.clone()),
            });
            state.out = out.take();
            job
        };
        if let Some(stall) = &shared.stall {
            stall.before_reading(&job.path);
        }
        let result = read_job(&job, buf, worker);
        {
            let mut state = slot.lock();
            if state.abandoned {
                // Already reported as `timeout`; the lane has moved on.
                return HopEnd::Abandoned;
            }
            state.current = None;
            out = state.out.take();
        }
        if let Some(emitter) = &mut out {
            emitter.emit(result);
        }
    }
}

/// Gives the hop's permit back, unless a spare permit already replaced it.
fn finish_hop(slot: &Slot, shared: &Shared, permit: OwnedSemaphorePermit, end: HopEnd) {
    if end == HopEnd::Abandoned {
        shared.stuck.fetch_sub(1, Ordering::AcqRel);
        if slot.lock().replaced {
            permit.forget();
        }
    }
}

/// A file whose deadline passed, and what its lane takes back from the abandoned hop.
struct TimedOut {
    path: PathBuf,
    elapsed: Duration,
    out: Option<Emitter>,
    pending: VecDeque<FileJob>,
}

enum Watched<T> {
    Finished(Option<T>),
    TimedOut(TimedOut),
}

/// Waits for `hop` while checking the deadline of the file it is reading. The timer is armed
/// once per hop and only fires for a hop that runs longer than `limit`.
async fn watch<E, T>(
    exec: &E,
    shared: &Shared,
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
            // Counted as stuck until its read ends; replaced while descriptors allow.
            if shared.stuck.fetch_add(1, Ordering::AcqRel) < shared.spare {
                state.replaced = true;
                shared.permits.add_permits(1);
            }
            return Watched::TimedOut(TimedOut {
                path: current.path.unwrap_or_default(),
                elapsed: current.started.elapsed(),
                out: state.out.take(),
                pending: mem::take(&mut state.pending),
            });
        }
    }
}
