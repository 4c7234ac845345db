//! The scheduling itself: up to `in_flight` async tasks ("lanes"), each sending one *hop* at a
//! time to the runtime's blocking pool.
//!
//! A run starts with one lane. A hop that takes its jobs and sees more waiting asks [`drive`]
//! for a lane for each, up to `in_flight`, over a channel that `drive` owns and answers by
//! spawning them: a few files never cost fifty blocking threads.
//!
//! A hop takes its share of core's queue (at most `files_per_hop` jobs, fewer when few wait:
//! guided scheduling, [`Jobs::guided`]) and opens, reads and counts them one after another with
//! the lane's reused buffer; its results go out through the lane's [`Emitter`] as each file
//! completes. A hop that has read its share goes on with jobs already waiting, up to
//! `files_per_hop` files, and returns to the runtime when none wait: on a cached tree a hop's
//! two thread hand-offs cost more than reading a small file.
//!
//! Before it sends a hop, a lane with [`Plan::inline`] takes a batch that waits and reads on
//! its runtime thread every file the kernel can serve from its caches without waiting
//! ([`read_cached`]); the first file it declines, and the rest of that batch, go to a hop. On a
//! cached tree no file leaves the runtime's threads, and no hop is sent but the ones that wait
//! for discovery; on a cold tree a lane's first look sends its batch to the blocking pool, so
//! the reads stay in flight side by side.
//!
//! A semaphore permit is held by every hop, and by a lane reading inline, for as long as it
//! runs, so no more files are open than there are permits. With a per-file timeout, the lane watches its hop (see
//! [`crate::timeout`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::mem;
use std::pin::Pin;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use reader_core::{
    Emitter, FileError, FileJob, FileResult, Jobs, StuckRead, Worker, read_cached, read_job,
};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::{Notify, Semaphore};

use crate::exec::Exec;
use crate::timeout::{self, Spares, TimedOut, Watched};

/// How a run is scheduled: what the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) in_flight: usize,
    pub(crate) files_per_hop: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
    /// Lanes read on the runtime's threads what the caches serve ([`read_cached`]).
    pub(crate) inline: bool,
    /// The runtime's threads that run the lanes.
    pub(crate) threads: usize,
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
    /// Files read inline, on the runtime's threads.
    inline: Arc<AtomicUsize>,
    /// With inline reads, one lane's hop waits for discovery, and the other lanes wait for it
    /// with [`await_jobs`] instead of each holding a blocking thread.
    waiting: AtomicBool,
    /// The waiting hop got jobs, or found the queue closed and drained.
    arrived: Notify,
    /// A hop found the queue closed and drained: the run is over.
    drained: AtomicBool,
}

impl Shared {
    /// The state of a run of `plan` over `jobs` that has started its first lane, and asks
    /// for more on `start_lane`.
    fn new(
        jobs: Jobs,
        plan: Plan,
        start_lane: UnboundedSender<LaneRequest>,
        inline: Arc<AtomicUsize>,
    ) -> Shared {
        let lanes = plan.in_flight.max(1);
        let permits = Arc::new(Semaphore::new(lanes));
        Shared {
            jobs,
            spares: Spares::new(Arc::clone(&permits), lanes),
            permits,
            started: AtomicUsize::new(1),
            start_lane,
            plan,
            inline,
            waiting: AtomicBool::new(false),
            arrived: Notify::new(),
            drained: AtomicBool::new(false),
        }
    }

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
            .guided(self.plan.in_flight, self.plan.files_per_hop)
    }
}

/// The file a hop is reading now, for the watchdog.
pub(crate) struct Current {
    pub(crate) started: Instant,
    /// Kept only when there is a timeout to report.
    pub(crate) job: Option<FileJob>,
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
    /// Counts the abandoned hop's read among the process's stuck ones until the hop ends (and
    /// drops the slot).
    pub(crate) stuck: Option<StuckRead>,
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
            stuck: None,
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

/// Runs up to `in_flight` lanes on `exec` over `jobs` until the queue is closed and drained;
/// counts in `inline` the files read on the runtime's threads.
pub(crate) async fn drive<E: Exec>(
    exec: E,
    plan: Plan,
    jobs: Jobs,
    out: Emitter,
    inline: Arc<AtomicUsize>,
) {
    let (start_lane, mut requests) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(jobs, plan, start_lane, inline));
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
        let mut waiter = false;
        if shared.plan.inline {
            if read_inline(&held.slot, &shared, worker) {
                // Whatever it declined waits in the slot, for a hop with this permit.
                if held.slot.lock().pending.is_empty() {
                    drop(permit);
                    // The lanes share the runtime's few threads: let the others read too.
                    exec.yield_now().await;
                    continue;
                }
            } else if shared.drained.load(Ordering::Acquire) {
                break;
            } else if shared.waiting.swap(true, Ordering::AcqRel) {
                // Another lane's hop waits for discovery: wait for its news without a thread.
                drop(permit);
                await_jobs(&shared, &held.slot).await;
                continue;
            } else {
                // This lane's hop waits for discovery, and leaves what it gets to be read here.
                waiter = true;
            }
        }
        let hop = {
            let (slot, shared) = (Arc::clone(&held.slot), Arc::clone(&shared));
            let mut buf = mem::take(&mut buf);
            exec.spawn_blocking(move || {
                // Wakes the lanes that wait for this hop however it ends, a panic included.
                let _news = waiter.then(|| News(Arc::clone(&shared)));
                let end = run_hop(&slot, &shared, &mut buf, worker, waiter);
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
            Watched::TimedOut(timed_out) => {
                let TimedOut {
                    job,
                    elapsed,
                    out,
                    pending,
                } = *timed_out;
                let mut out = out.unwrap_or_else(|| held.out.clone());
                let limit = shared.plan.timeout.unwrap_or_default();
                let timeout = FileError::timeout(&job.path, limit, "the read was abandoned");
                out.emit(FileResult::of(job, Err(timeout), elapsed, worker));
                held.slot = Slot::new(out, pending);
                // The old buffer is still being read into by the abandoned hop.
                buf = vec![0; shared.plan.buffer_size];
            }
        }
    }
}

/// A lane's look at its slot and the queue from its runtime thread: takes the jobs pending, or
/// else a batch that waits (never waiting for one), and reads what the caches serve; the first
/// file declined, and the rest, stay pending for a hop. False if there was nothing to take.
fn read_inline(slot: &Slot, shared: &Shared, worker: Worker) -> bool {
    thread_local! {
        /// The buffer of every inline read on this runtime thread: one a thread, not one a
        /// lane, so that it stays in the core's cache (measured: a lane's own buffer costs a
        /// third more on a cached tree of mid-sized files, with fifty lanes on two threads).
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buf| {
        buf.resize(shared.plan.buffer_size, 0);
        read_inline_with(slot, shared, buf, worker)
    })
}

fn read_inline_with(slot: &Slot, shared: &Shared, buf: &mut [u8], worker: Worker) -> bool {
    let mut state = slot.lock();
    let SlotState { out, pending, .. } = &mut *state;
    let Some(out) = out else {
        return false;
    };
    if pending.is_empty() {
        // The runtime's threads read these, not the lanes: their share of what waits.
        let batch = shared.jobs.try_batch(
            shared
                .jobs
                .guided(shared.plan.threads, shared.plan.files_per_hop),
        );
        if batch.is_empty() {
            return false;
        }
        pending.extend(batch);
        shared.grow(out);
    }
    let mut read = 0;
    while let Some(job) = pending.pop_front() {
        match read_cached(job, buf, worker) {
            Ok(result) => {
                out.emit(result);
                read += 1;
            }
            Err(declined) => {
                pending.push_front(declined);
                break;
            }
        }
    }
    shared.inline.fetch_add(read, Ordering::Relaxed);
    true
}

/// Waits, without a thread, until the lane whose hop waits for discovery has news: jobs, or
/// the end of the run. What this lane has finished is sent first.
async fn await_jobs(shared: &Shared, slot: &Slot) {
    if let Some(out) = slot.lock().out.as_mut() {
        out.flush();
    }
    let mut news = pin!(shared.arrived.notified());
    news.as_mut().enable();
    let waiting = shared.waiting.load(Ordering::Acquire);
    if waiting && shared.jobs.queued() == 0 && !shared.drained.load(Ordering::Acquire) {
        news.await;
    }
}

/// The hop that waits for discovery has news, when it is dropped at the hop's end: the lanes
/// that wait with [`await_jobs`] look again, and one of them may wait next.
struct News(Arc<Shared>);

impl Drop for News {
    fn drop(&mut self) {
        self.0.waiting.store(false, Ordering::Release);
        self.0.arrived.notify_waiters();
    }
}

/// The blocking side of a hop: take a batch unless one is pending, then read it file by file.
/// A `waiter`'s hop (inline reads) only waits for a batch and leaves it to its lane.
fn run_hop(slot: &Slot, shared: &Shared, buf: &mut [u8], worker: Worker, waiter: bool) -> HopEnd {
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
        let drained = batch.is_empty();
        if !drained {
            slot.lock().pending.extend(batch);
            shared.grow(emitter);
        }
        if waiter || drained {
            if drained {
                shared.drained.store(true, Ordering::Release);
            }
            slot.lock().out = out;
            return if drained { HopEnd::Done } else { HopEnd::More };
        }
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
                job: keep_path.then(|| job.clone()),
            });
            state.out = out.take();
            job
        };
        let result = read_job(job, buf, worker);
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use reader_core::{Concurrency, Record, RunError, Schedule, read_jobs};
    use tokio::sync::mpsc::UnboundedReceiver;

    use crate::exec::Tokio;

    /// A plan of `in_flight` lanes whose hops read `files_per_hop` files, without a timeout.
    fn plan(in_flight: usize, files_per_hop: usize, inline: bool) -> Plan {
        Plan {
            in_flight,
            files_per_hop,
            buffer_size: 4096,
            timeout: None,
            inline,
            threads: 2,
        }
    }

    /// `count` small files in a temporary folder.
    fn files(count: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = (0..count)
            .map(|i| {
                let path = dir.path().join(format!("f{i}"));
                std::fs::write(&path, "one two\n").expect("write");
                path
            })
            .collect();
        (dir, paths)
    }

    /// A model that runs `test` as its schedule: a way to get a run's queue and emitter.
    struct Within<F>(F);

    impl<F: Fn(&Jobs, Emitter) + Sync> Schedule for Within<F> {
        type Stats = Concurrency;
        fn strategy(&self) -> &'static str {
            "lane-test"
        }
        fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
            (self.0)(jobs, out);
            Ok(Concurrency(1))
        }
    }

    /// Runs `test` inside a run of no jobs of its own, with a queue of its own holding a job
    /// for each of `paths` (closed when `close`), the lanes' shared state of `plan` over that
    /// queue, and the lane requests it makes; returns the records of the run.
    fn with_shared(
        paths: &[PathBuf],
        close: bool,
        plan: Plan,
        test: impl Fn(&Shared, &mut UnboundedReceiver<LaneRequest>, Emitter) + Sync,
    ) -> Vec<Record> {
        let mut records = Vec::new();
        let within = Within(|jobs: &Jobs, out: Emitter| {
            let (mut sender, queue) = jobs.sub_queue(out.clone());
            for path in paths {
                sender.push(FileJob::new(path, None));
            }
            if close {
                sender.close();
            }
            let (start_lane, mut requests) = mpsc::unbounded_channel();
            let shared = Shared::new(queue, plan.clone(), start_lane, Arc::default());
            test(&shared, &mut requests, out);
        });
        read_jobs(Vec::new(), &within, |record| records.push(record)).expect("the run");
        records
    }

    /// The lanes a run's lane requests ask for, by number.
    fn requested(requests: &mut UnboundedReceiver<LaneRequest>) -> Vec<usize> {
        std::iter::from_fn(|| requests.try_recv().ok().map(|(index, _)| index)).collect()
    }

    /// The paths of the files read, each once.
    fn read_once(records: &[Record]) -> BTreeSet<PathBuf> {
        let mut read = BTreeSet::new();
        for record in records {
            let Record::File(file) = record else {
                panic!("only files: {record:?}");
            };
            assert!(file.outcome.is_ok(), "{file:?}");
            assert!(
                read.insert(file.path.clone()),
                "{} twice",
                file.path.display()
            );
        }
        read
    }

    #[test]
    fn a_lane_is_asked_for_each_waiting_job_up_to_in_flight() {
        let (_dir, paths) = files(10);
        with_shared(&paths, true, plan(4, 16, false), |shared, requests, out| {
            shared.grow(&out);
            assert_eq!(requested(requests), [1, 2, 3], "three more lanes make four");
            shared.grow(&out);
            assert_eq!(
                requested(requests),
                [] as [usize; 0],
                "never more than four"
            );
        });
        with_shared(
            &paths[..2],
            false,
            plan(50, 16, false),
            |shared, requests, out| {
                shared.grow(&out);
                assert_eq!(
                    requested(requests),
                    [1, 2],
                    "two files, two more lanes, not fifty"
                );
            },
        );
        with_shared(&[], false, plan(50, 16, false), |shared, requests, out| {
            shared.grow(&out);
            assert!(requested(requests).is_empty(), "nothing waits, no lane");
        });
    }

    #[test]
    fn a_hop_reads_at_most_files_per_hop_going_on_with_what_waits() {
        let (_dir, paths) = files(10);
        let records = with_shared(&paths, true, plan(4, 4, false), |shared, requests, out| {
            let slot = Slot::new(out, VecDeque::new());
            let mut buf = vec![0; 4096];
            let worker = Worker::Task(0);
            let mut left = Vec::new();
            loop {
                let end = run_hop(&slot, shared, &mut buf, worker, false);
                left.push((end, shared.jobs.queued()));
                if end == HopEnd::Done {
                    break;
                }
            }
            // Its share of 10 with 4 lanes is 2, but a hop goes on to 4 files while jobs wait.
            assert_eq!(
                left,
                [
                    (HopEnd::More, 6),
                    (HopEnd::More, 2),
                    (HopEnd::More, 0),
                    (HopEnd::Done, 0)
                ]
            );
            assert!(
                !requested(requests).is_empty(),
                "jobs waited: lanes were asked for"
            );
        });
        assert_eq!(read_once(&records), paths.into_iter().collect());
    }

    #[test]
    fn the_hop_that_waits_for_discovery_leaves_its_batch_to_its_lane() {
        let (_dir, paths) = files(8);
        let records = with_shared(&paths, true, plan(2, 16, true), |shared, _, out| {
            let slot = Slot::new(out, VecDeque::new());
            let end = run_hop(&slot, shared, &mut [0; 4096], Worker::Task(0), true);
            assert_eq!(end, HopEnd::More);
            assert_eq!(slot.lock().pending.len(), 4, "its share of 8 with 2 lanes");
            assert_eq!(shared.jobs.queued(), 4);
        });
        // It read none: the four it took wait in its slot for the lane (gone with it here),
        // and the four it left in the queue are reported as not read.
        let read = records
            .iter()
            .filter(|r| matches!(r, Record::File(f) if f.outcome.is_ok()))
            .count();
        assert_eq!((read, records.len()), (0, 4));
    }

    #[test]
    fn an_inline_look_takes_the_runtime_threads_share_and_never_waits() {
        let (_dir, paths) = files(16);
        with_shared(&paths, false, plan(8, 16, true), |shared, _, out| {
            let slot = Slot::new(out, VecDeque::new());
            let mut buf = [0; 4096];
            // 16 wait for 2 runtime threads: a look takes half, and reads what the caches
            // serve (all of it, just written, where the kernel can tell); the rest stays
            // pending, for a hop.
            assert!(read_inline_with(&slot, shared, &mut buf, Worker::Task(0)));
            let inline = shared.inline.load(Ordering::Relaxed);
            assert_eq!(inline + slot.lock().pending.len(), 8);
            assert_eq!(shared.jobs.queued(), 8);
        });
        // An open queue with nothing in it: the look returns at once rather than wait.
        with_shared(&[], false, plan(8, 16, true), |shared, requests, out| {
            let slot = Slot::new(out, VecDeque::new());
            assert!(!read_inline_with(
                &slot,
                shared,
                &mut [0; 4096],
                Worker::Task(0)
            ));
            assert!(requested(requests).is_empty());
        });
    }

    /// `drive` as a model of its own, on a tokio runtime of one thread.
    struct Lanes(Plan);

    impl Schedule for Lanes {
        type Stats = Concurrency;
        fn strategy(&self) -> &'static str {
            "lanes"
        }
        fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|source| RunError::Spawn {
                    what: "the test's runtime".into(),
                    source,
                })?;
            let exec = Tokio(runtime.handle().clone());
            let inline = Arc::default();
            runtime.block_on(drive(exec, self.0.clone(), jobs.clone(), out, inline));
            Ok(Concurrency(self.0.in_flight))
        }
    }

    #[test]
    fn lanes_read_every_file_once_with_at_most_in_flight_lanes() {
        let (_dir, paths) = files(300);
        for inline in [false, true] {
            let jobs = paths.iter().map(|p| FileJob::new(p, None)).collect();
            let mut records = Vec::new();
            read_jobs(jobs, &Lanes(plan(4, 3, inline)), |r| records.push(r)).expect("run");
            assert_eq!(read_once(&records).len(), 300, "inline: {inline}");
            let lanes: Vec<Worker> = records
                .iter()
                .filter_map(|r| match r {
                    Record::File(f) => Some(f.worker),
                    Record::Skipped(_) => None,
                })
                .collect();
            assert!(
                lanes.iter().all(|w| matches!(w, Worker::Task(0..4))),
                "inline: {inline}: {lanes:?}"
            );
        }
        let one = vec![FileJob::new(Path::new(&paths[0]), None)];
        let mut records = Vec::new();
        read_jobs(one, &Lanes(plan(50, 16, false)), |r| records.push(r)).expect("run");
        assert_eq!(read_once(&records).len(), 1);
    }
}
