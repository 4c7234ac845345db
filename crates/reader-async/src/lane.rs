//! The scheduling itself: up to `in_flight` async tasks ("lanes"), each sending one *hop* at a
//! time to the runtime's blocking pool.
//!
//! A run starts with one lane. A hop that takes its jobs and sees more waiting asks [`drive`]
//! for a lane for each, up to `in_flight`, over a channel that `drive` owns and answers by
//! spawning them: a few files never cost fifty blocking threads.
//!
//! A hop takes its share of core's queue (at most `files_per_hop` jobs, fewer when few wait:
//! guided scheduling, [`Jobs::share`]) and opens, reads and counts them one after another with
//! the lane's reused buffer; its results go out through the lane's [`Emitter`] as each file
//! completes. A hop that has read its share goes on with jobs already waiting, up to
//! `files_per_hop` files, and returns to the runtime when none wait: on a cached tree a hop's
//! two thread hand-offs cost more than reading a small file.
//!
//! A semaphore permit is held by every hop for as long as it runs, so no more files are open
//! than there are permits. With a per-file timeout, the lane watches its hop (see
//! [`crate::timeout`]).

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::mem;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use reader_core::{Emitter, FileError, FileJob, FileResult, Jobs, Worker, read_job};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::exec::Exec;
use crate::timeout::{self, Spares, TimedOut, Watched};

/// How a run is scheduled: what the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) in_flight: usize,
    pub(crate) files_per_hop: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
}

/// A request to [`drive`]: start lane number `.0`, sending its records with `.1`.
type LaneRequest = (usize, Emitter);

/// What every lane shares.
pub(crate) struct Shared {
    jobs: Jobs,
    plan: Plan,
    /// Lanes started so far; more start only while jobs wait (see [`Shared::grow`]).
    started: AtomicUsize,
    /// Where a hop asks for another lane.
    start_lane: UnboundedSender<LaneRequest>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) spares: Spares,
}

impl Shared {
    /// Asks for another lane for every job that waits, up to `in_flight` lanes in all: a run
    /// starts with one lane, and a tree of a few files never pays for fifty.
    fn grow(&self, out: &Emitter) {
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
                // Refused only once `drive` has returned, when no lane is wanted any more.
                let _ = self.start_lane.send((started, out.clone()));
                wanted -= 1;
            }
        }
    }

    fn batch_size(&self) -> usize {
        self.jobs
            .share(self.plan.in_flight, self.plan.files_per_hop)
    }
}

/// The file a hop is reading now, for the watchdog.
pub(crate) struct Current {
    pub(crate) started: Instant,
    /// Kept only when there is a timeout to report.
    pub(crate) path: Option<PathBuf>,
}

/// The state a lane shares with the hop it has sent to the blocking pool.
pub(crate) struct SlotState {
    /// The lane's emitter; it sits here whenever a file is being read, so that a lane that
    /// abandons the hop can take it back.
    pub(crate) out: Option<Emitter>,
    /// Jobs of this batch not started yet.
    pub(crate) pending: VecDeque<FileJob>,
    pub(crate) current: Option<Current>,
    /// The lane gave up on this hop: its late result is dropped.
    pub(crate) abandoned: bool,
    /// A spare permit replaced this hop's: the hop must not give its own back.
    pub(crate) replaced: bool,
}

pub(crate) struct Slot(Mutex<SlotState>);

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

    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every field stays meaningful whatever panicked while the lock was held.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a hop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HopEnd {
    /// It read a batch; there may be more.
    More,
    /// The queue is closed and drained (or the run was stopped).
    Done,
    /// Its lane gave up on it after a timeout.
    Abandoned,
}

/// A lane's task, once spawned: resolves when the lane has ended.
type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs up to `in_flight` lanes on `exec` over `jobs` until the queue is closed and drained.
pub(crate) async fn drive<E: Exec>(exec: E, plan: Plan, jobs: Jobs, out: Emitter) {
    let lanes = plan.in_flight.max(1);
    let (start_lane, mut requests) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(lanes));
    let shared = Arc::new(Shared {
        jobs,
        spares: Spares::new(Arc::clone(&permits), lanes),
        permits,
        started: AtomicUsize::new(1),
        start_lane,
        plan,
    });
    let start = |(index, out): LaneRequest| -> Running {
        Box::pin(exec.spawn(lane(exec.clone(), Arc::clone(&shared), index, out)))
    };
    let mut running = vec![start((0, out))];
    poll_fn(|cx| {
        loop {
            while let Poll::Ready(Some(request)) = requests.poll_recv(cx) {
                running.push(start(request));
            }
            running.retain_mut(|lane| lane.as_mut().poll(cx).is_pending());
            if !running.is_empty() {
                return Poll::Pending;
            }
            // A lane that has just ended asked for its lanes before it did: look once more.
            match requests.try_recv() {
                Ok(request) => running.push(start(request)),
                Err(_) => return Poll::Ready(()),
            }
        }
    })
    .await;
}

/// The slot of a lane, and an emitter to report what it holds if the lane ends without
/// reading it: a hop or the lane itself died in our own code (never in a read: read_job
/// turns a panic into that file's error). Those jobs have left the queue, so the queue cannot.
struct Held {
    slot: Arc<Slot>,
    out: Emitter,
}

impl Drop for Held {
    fn drop(&mut self) {
        let pending: Vec<FileJob> = self.slot.lock().pending.drain(..).collect();
        for job in pending {
            self.out
                .emit(FileResult::abandoned(job, "the async reader's lane failed"));
        }
    }
}

/// One lane: hop after hop until the queue is drained.
async fn lane<E: Exec>(exec: E, shared: Arc<Shared>, index: usize, out: Emitter) {
    let worker = Worker::Task(u32::try_from(index).unwrap_or(u32::MAX));
    let mut held = Held {
        out: out.clone(),
        slot: Slot::new(out, VecDeque::new()),
    };
    let mut buf = vec![0; shared.plan.buffer_size];
    loop {
        let Ok(permit) = Arc::clone(&shared.permits).acquire_owned().await else {
            break;
        };
        let hop = {
            let (slot, shared) = (Arc::clone(&held.slot), Arc::clone(&shared));
            let mut buf = mem::take(&mut buf);
            exec.spawn_blocking(move || {
                let end = run_hop(&slot, &shared, &mut buf, worker);
                shared.spares.finish_hop(&slot, permit, end);
                (buf, end)
            })
        };
        let watched = match shared.plan.timeout {
            None => Watched::Finished(hop.await),
            Some(limit) => timeout::watch(&exec, &shared.spares, &held.slot, hop, limit).await,
        };
        match watched {
            Watched::Finished(Some((back, HopEnd::More))) => buf = back,
            // A hop that failed leaves its jobs to `held`.
            Watched::Finished(Some((_, HopEnd::Done | HopEnd::Abandoned)) | None) => break,
            Watched::TimedOut(TimedOut {
                path,
                elapsed,
                out,
                pending,
            }) => {
                let mut out = out.unwrap_or_else(|| held.out.clone());
                let limit = shared.plan.timeout.unwrap_or_default();
                out.emit(FileResult {
                    outcome: Err(FileError::timeout(&path, limit, "the read was abandoned")),
                    path,
                    elapsed,
                    worker,
                });
                held.slot = Slot::new(out, pending);
                // The old buffer is still being read into by the abandoned hop.
                buf = vec![0; shared.plan.buffer_size];
            }
        }
    }
}

/// The blocking side of a hop: take a batch unless one is pending, then read it file by file.
fn run_hop(slot: &Slot, shared: &Shared, buf: &mut [u8], worker: Worker) -> HopEnd {
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
        let batch = shared.jobs.next_batch(shared.batch_size(), emitter);
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
