//! The parent's scheduler: one event loop that hands out batches, turns replies into records,
//! and replaces workers that crash, hang or talk nonsense, charging only the file at fault.
//!
//! Threads: a *dispatcher* takes jobs from the shared queue when the loop asks for them (so the
//! loop itself never blocks on discovery); one *listener* per worker turns its replies into
//! events; the loop waits on those events with the nearest timeout deadline. The run starts
//! with the first worker that connected; each one still starting is waited for by the thread
//! that goes on to listen to it, and joins when it connects. The batches are sized for every
//! worker, connected or not, so the first does not take the others' share.
//!
//! Work: each worker has at most two batches outstanding, so it never waits for the parent
//! between batches; idle workers are served first; [`crate::batching`] sizes the batches.
//!
//! Faults: a worker that dies, sends an undecodable or impossible reply, or shows no progress
//! for the timeout is killed and reaped, and a replacement started. What it held is settled by
//! [`crate::attribution`], so that only the guilty file pays.
//!
//! A worker is settled only once everything it sent has been read: one that is timed out or
//! whose pipe broke is killed first, and settled when its listener, having drained its
//! channel, reports it gone. Otherwise a reply still in flight could make an innocent file
//! look like the one the worker was on.
//!
//! A worker stuck in an uninterruptible read (a stalled NFS or FUSE server) does not die of
//! SIGKILL until the read ends, and keeps its channel open: it is settled [`GRACE`] after it
//! was killed, and left to the kernel — a reaper thread takes it when it dies, nothing waits for
//! it, and the summary counts it (`workers_left`). Its listener is a thread of its own, not of
//! the run, so it cannot hold the run's end either.

use std::collections::VecDeque;
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use reader_core::{Emitter, ErrorKind, FileError, FileJob, FileResult, Jobs, RunError, Worker};

use crate::attribution::{InFlight, attribute};
use crate::batching::{Batcher, MAX_BATCH, OUTSTANDING};
use crate::process::{GRACE, Process, Starting, WorkerError, Workers};
use crate::protocol::{self, Batch, PathBytes, Reply, WireError, WireOutcome};
use crate::{ProcStats, Settings};

/// Without a timeout, how long finished results may wait in a worker.
const PROGRESS_EVERY: Duration = Duration::from_millis(20);
/// Attempts at starting a replacement before its slot is given up.
const START_ATTEMPTS: usize = 3;

enum Event {
    /// Jobs from the shared queue, as asked.
    Jobs(Vec<FileJob>),
    /// The shared queue is closed and drained.
    Exhausted,
    /// A worker's message.
    Reply {
        slot: usize,
        generation: u64,
        reply: Result<Reply, WireError>,
    },
    /// A worker's channel closed: it died or was killed.
    Gone { slot: usize, generation: u64 },
    /// A worker that was still starting when the run began connected (its listener is the
    /// thread that waited for it), or failed to.
    Connected {
        slot: usize,
        process: Result<Process, WorkerError>,
    },
}

/// One worker and what it holds.
struct Slot {
    generation: u64,
    process: Process,
    inflight: VecDeque<InFlight>,
    last_progress: Instant,
    /// The file the worker said it has been on for a while: its batch and place there.
    reading: Option<(u64, usize)>,
    /// Killed (when), and waiting for its listener to drain what it sent before it is settled.
    doomed: Option<(Failure, Instant)>,
}

impl Slot {
    fn new(generation: u64, process: Process) -> Slot {
        Slot {
            generation,
            process,
            inflight: VecDeque::new(),
            last_progress: Instant::now(),
            reading: None,
            doomed: None,
        }
    }
}

/// Why a worker is being replaced.
enum Failure {
    Died,
    Timeout(Duration),
    Garbled(String),
}

/// Runs the pool over `jobs` until the queue is closed and every file is reported.
pub(crate) fn run(
    workers: Workers,
    jobs: &Jobs,
    out: Emitter,
    settings: &Settings,
) -> Result<ProcStats, RunError> {
    thread::scope(|scope| {
        // Both channels end inside the scope, so a dispatcher still holding jobs when the loop
        // stops finds nobody to send them to and reports them instead.
        let (events_tx, events) = mpsc::channel();
        let (asks, asked) = mpsc::channel();
        let (dispatch_jobs, dispatch_events, dispatch_out) =
            (jobs.clone(), events_tx.clone(), out.clone());
        thread::Builder::new()
            .name("dispatcher".into())
            .spawn_scoped(scope, move || {
                dispatch(&dispatch_jobs, &asked, &dispatch_events, dispatch_out)
            })
            .map_err(|source| RunError::Spawn {
                what: "the dispatcher thread".into(),
                source,
            })?;
        let mut central = Central {
            settings,
            jobs,
            events_tx,
            asks: Some(asks),
            slots: Vec::new(),
            connecting: 0,
            fresh: VecDeque::new(),
            suspects: VecDeque::new(),
            asked_for_jobs: false,
            exhausted: false,
            batcher: Batcher::default(),
            start_error: None,
            out,
            stats: ProcStats::default(),
        };
        for process in workers.ready {
            central.slots.push(None);
            let index = central.slots.len() - 1;
            central.install(index, 0, process);
        }
        for starting in workers.starting {
            central.slots.push(None);
            let index = central.slots.len() - 1;
            central.wait_for_connection(index, starting);
        }
        central.stats.workers = central.live();
        let gave_up = central.run(&events);
        central.stats.left = crate::process::unreaped() as u64;
        match gave_up {
            None => Ok(central.stats.clone()),
            Some(why) => Err(RunError::Model(why.into())),
        }
    })
}

/// Takes jobs from the shared queue whenever the loop asks, so that the loop never waits on
/// discovery itself. Jobs it cannot hand over are reported, never dropped.
fn dispatch(jobs: &Jobs, asked: &Receiver<usize>, events: &Sender<Event>, mut out: Emitter) {
    while let Ok(want) = asked.recv() {
        let batch = jobs.next_batch(want, &mut out);
        if batch.is_empty() {
            let _ = events.send(Event::Exhausted);
            return;
        }
        if let Err(mpsc::SendError(Event::Jobs(batch))) = events.send(Event::Jobs(batch)) {
            for job in batch {
                out.emit(FileResult::abandoned(job, POOL_STOPPED));
            }
            return;
        }
    }
}

/// Forwards one worker's replies to the loop until its channel closes.
fn listen(
    replies: ipc_channel::ipc::IpcBytesReceiver,
    slot: usize,
    generation: u64,
    events: &Sender<Event>,
) {
    while let Ok(bytes) = replies.recv() {
        let reply = protocol::decode::<Reply>(&bytes, "reply");
        let garbled = reply.is_err();
        let sent = events.send(Event::Reply {
            slot,
            generation,
            reply,
        });
        if garbled || sent.is_err() {
            return;
        }
    }
    let _ = events.send(Event::Gone { slot, generation });
}

/// The slots, in the order they are given batches, each as often as it has room: `holding`
/// says how many batches each holds (`None`: no worker there, or one being killed). Every idle
/// worker gets one before any gets its second, so that none waits while another holds two; a
/// worker holds at most [`OUTSTANDING`].
fn hand_out_order(holding: &[Option<usize>]) -> Vec<usize> {
    let mut holding = holding.to_vec();
    let mut order = Vec::new();
    for held in 0..OUTSTANDING {
        for (index, slot) in holding.iter_mut().enumerate() {
            if *slot == Some(held) {
                *slot = Some(held + 1);
                order.push(index);
            }
        }
    }
    order
}

/// How many jobs to ask the dispatcher for, with `live` workers and `fresh` jobs not handed out
/// yet: enough for two rounds of full batches, asked for once fewer than one round wait, so
/// that the workers never wait for discovery between batches. `None`: enough wait.
fn jobs_to_ask_for(live: usize, fresh: usize) -> Option<usize> {
    let want = 2 * live * OUTSTANDING * MAX_BATCH;
    (fresh < want / 2).then_some(want)
}

/// When a worker must have shown progress — `timeout` after its last, while it holds batches
/// (`busy`) — or, once it was killed (at `killed`), when it is settled even if its channel is
/// still open ([`GRACE`] later). `None`: nothing to wait for.
fn deadline(
    killed: Option<Instant>,
    busy: bool,
    last_progress: Instant,
    timeout: Option<Duration>,
) -> Option<Instant> {
    match killed {
        Some(killed) => Some(killed + GRACE),
        None if !busy => None,
        None => timeout.map(|t| last_progress + t),
    }
}

/// Why files held by a pool that stopped were not read.
const POOL_STOPPED: &str = "the process pool stopped";

struct Central<'env> {
    settings: &'env Settings,
    /// The run's queue, to see whether the run was stopped.
    jobs: &'env Jobs,
    events_tx: Sender<Event>,
    /// Asks the dispatcher for jobs; dropped to let it go.
    asks: Option<Sender<usize>>,
    slots: Vec<Option<Slot>>,
    /// Workers started before the run that have not connected yet, each in an empty slot.
    connecting: usize,
    /// Jobs not yet given to a worker (new, or from a batch a failed worker had not started).
    fresh: VecDeque<FileJob>,
    /// Jobs held by a worker that failed while on their batch: retried once, carefully.
    suspects: VecDeque<FileJob>,
    asked_for_jobs: bool,
    exhausted: bool,
    batcher: Batcher,
    /// Why the last replacement could not be started.
    start_error: Option<WorkerError>,
    out: Emitter,
    stats: ProcStats,
}

impl Central<'_> {
    /// Workers that can take batches.
    fn live(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.doomed.is_none())
            .count()
    }

    /// Runs the loop to the end of the queue; says why, if it had to give up first (no
    /// worker left and none could be started).
    fn run(&mut self, events: &Receiver<Event>) -> Option<String> {
        let mut gave_up = None;
        loop {
            if self.jobs.is_stopped() {
                // Nobody wants more results: what is held and not sent goes unread.
                self.fresh.clear();
                self.suspects.clear();
            }
            self.fill();
            // Workers still connecting are waited for, so that each is closed and reaped.
            if self.exhausted
                && self.fresh.is_empty()
                && self.suspects.is_empty()
                && self.slots.iter().flatten().all(|s| s.inflight.is_empty())
                && self.connecting == 0
            {
                break;
            }
            if self.slots.iter().all(Option::is_none) && self.connecting == 0 {
                // Killed by the signal thread, which is about to end the program.
                crate::signals::yield_to_signal();
                let why = match &self.start_error {
                    Some(err) => format!("no worker process is left ({err})"),
                    None => "no worker process is left (none could be started)".into(),
                };
                // What is still in the shared queue goes unread for the same reason.
                self.jobs.leftovers_because(&why);
                self.abandon_held(&why);
                gave_up = Some(why);
                break;
            }
            let event = match events.try_recv() {
                Ok(event) => Some(event),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    self.out.flush();
                    match self.next_deadline() {
                        Some(at) => events
                            .recv_timeout(at.saturating_duration_since(Instant::now()))
                            .ok(),
                        // The loop holds a sender itself, so this waits for an event.
                        None => events.recv().ok(),
                    }
                }
            };
            match event {
                Some(event) => self.handle(event),
                None => self.check_deadlines(),
            }
        }
        self.asks = None;
        let mut ending: Vec<_> = self.slots.iter_mut().filter_map(Option::take).collect();
        // Every worker is told first, so that they exit side by side, not one after another.
        for slot in &mut ending {
            slot.process.hang_up();
        }
        for slot in ending {
            slot.process.close();
        }
        gave_up
    }

    /// Gives every worker with room a batch, idle ones first, and asks for more jobs early.
    fn fill(&mut self) {
        let live = self.live();
        if live == 0 {
            return;
        }
        let holding: Vec<Option<usize>> = self
            .slots
            .iter()
            .map(|slot| {
                slot.as_ref()
                    .filter(|s| s.doomed.is_none())
                    .map(|s| s.inflight.len())
            })
            .collect();
        for index in hand_out_order(&holding) {
            // A send that found the pipe broken dooms the worker: it gets no second batch.
            let has_room = self.slots[index]
                .as_ref()
                .is_some_and(|s| s.doomed.is_none());
            if has_room && let Some(batch) = self.take_batch(live) {
                self.send(index, batch);
            }
        }
        if !self.exhausted
            && !self.asked_for_jobs
            && let Some(want) = jobs_to_ask_for(live, self.fresh.len())
            && let Some(asks) = &self.asks
        {
            self.asked_for_jobs = asks.send(want).is_ok();
        }
    }

    /// A batch for a worker, its share counting the workers still connecting.
    fn take_batch(&mut self, live: usize) -> Option<InFlight> {
        self.batcher
            .take(&mut self.suspects, &mut self.fresh, live + self.connecting)
    }

    fn progress_every(&self) -> Duration {
        match self.settings.timeout {
            Some(timeout) => PROGRESS_EVERY.min(timeout / 4),
            None => PROGRESS_EVERY,
        }
    }

    fn send(&mut self, index: usize, batch: InFlight) {
        let message = Batch {
            id: batch.id,
            careful: batch.careful,
            progress_every_us: u64::try_from(self.progress_every().as_micros()).unwrap_or(u64::MAX),
            paths: batch
                .jobs
                .iter()
                .map(|job| PathBytes(job.path.as_os_str().as_bytes().to_vec()))
                .collect(),
            parts: (0u32..)
                .zip(&batch.jobs)
                .filter_map(|(at, job)| Some((at, job.part?)))
                .collect(),
            // One run, one cap and one set of digests: every job of it carries the same.
            max_bytes: batch.jobs.first().and_then(|job| job.max_bytes),
            digests: batch
                .jobs
                .first()
                .map(|job| job.digests)
                .unwrap_or_default(),
            watch: self.settings.timeout.is_some(),
        };
        let Some(slot) = self.slots[index].as_mut() else {
            return;
        };
        if slot.inflight.is_empty() {
            slot.last_progress = Instant::now();
        }
        slot.inflight.push_back(batch);
        let sent = protocol::encode(&message)
            .map_err(|e| e.to_string())
            .and_then(|bytes| slot.process.send(&bytes).map_err(|e| e.to_string()));
        if sent.is_err() {
            // A broken pipe: the worker is gone; settle it once its listener says so.
            self.doom(index, Failure::Died);
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Jobs(jobs) => {
                self.asked_for_jobs = false;
                self.fresh.extend(jobs);
            }
            Event::Exhausted => {
                self.asked_for_jobs = false;
                self.exhausted = true;
                self.asks = None;
            }
            Event::Reply {
                slot,
                generation,
                reply,
            } => {
                if self.is_current(slot, generation) {
                    match reply {
                        Ok(reply) => self.accept(slot, reply),
                        // The listener stopped at the bad message: nothing else will come.
                        Err(e) => self.settle(slot, Failure::Garbled(e.to_string())),
                    }
                }
            }
            Event::Gone { slot, generation } => {
                if self.is_current(slot, generation) {
                    self.settle(slot, Failure::Died);
                }
            }
            Event::Connected { slot, process } => {
                self.connecting -= 1;
                match process {
                    Ok(process) => {
                        self.slots[slot] = Some(Slot::new(0, process));
                        self.stats.workers += 1;
                    }
                    Err(e) => self.start_error = Some(e),
                }
            }
        }
    }

    fn is_current(&self, index: usize, generation: u64) -> bool {
        self.slots
            .get(index)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.generation == generation)
    }

    /// Reports the files a reply answers; a reply that does not fit what the worker holds is
    /// a protocol error and costs the worker.
    fn accept(&mut self, index: usize, reply: Reply) {
        let Some(slot) = self.slots[index].as_mut() else {
            return;
        };
        let pid = slot.process.pid;
        let fits = slot.inflight.front().is_some_and(|b| {
            let done = b.done + reply.results.len();
            b.id == reply.batch
                && done <= b.jobs.len()
                && reply
                    .reading
                    .is_none_or(|on| (done..b.jobs.len()).contains(&(on.index as usize)))
        });
        if !fits {
            let why = format!("a reply that does not fit (batch {})", reply.batch);
            self.doom(index, Failure::Garbled(why));
            return;
        }
        let now = Instant::now();
        slot.reading = reply.reading.map(|on| (reply.batch, on.index as usize));
        // A file the worker has been on for a while has used that much of its time limit.
        slot.last_progress = match reply.reading {
            None => now,
            Some(on) => now
                .checked_sub(Duration::from_micros(on.for_us))
                .map_or(now, |started| started.max(slot.last_progress)),
        };
        let Some(batch) = slot.inflight.front_mut() else {
            return;
        };
        batch.started = true;
        let spent: u64 = reply.results.iter().map(|r| r.elapsed_us).sum();
        self.batcher
            .observe(reply.results.len(), Duration::from_micros(spent));
        for result in reply.results {
            let job = &mut batch.jobs[batch.done];
            let (path, mut part) = (std::mem::take(&mut job.path), job.part);
            batch.done += 1;
            let mut digests = Vec::new();
            let mut blake3_subtrees = None;
            let outcome = match result.outcome {
                WireOutcome::Counted(counts, of_file) => {
                    digests = of_file;
                    Ok(counts)
                }
                WireOutcome::CountedPart(counts, edges, subtrees) => {
                    if let Some(part) = &mut part {
                        part.edges = edges;
                    }
                    blake3_subtrees = subtrees;
                    Ok(counts)
                }
                WireOutcome::Failed { kind, message } => Err(FileError::new(kind, &path, message)),
            };
            // The worker's own work's output, decoded as the run said its type is.
            let decode = self.settings.expected.decode;
            let (outcome, output) = match (outcome, result.output.as_deref().map(decode)) {
                (Err(err), _) => (Err(err), None),
                (Ok(counts), None) => (Ok(counts), None),
                (Ok(counts), Some(Ok(output))) => (Ok(counts), Some(output)),
                (Ok(_), Some(Err(why))) => {
                    let why = format!("the worker's output cannot be read: {why}");
                    (
                        Err(FileError::new(ErrorKind::WorkerCrashed, &path, why)),
                        None,
                    )
                }
            };
            self.out.emit(FileResult {
                path,
                outcome,
                digests,
                output,
                elapsed: Duration::from_micros(result.elapsed_us),
                worker: Worker::Process(pid),
                part,
                blake3_subtrees,
            });
        }
        if batch.done == batch.jobs.len() {
            slot.inflight.pop_front();
        }
    }

    /// When a worker must have shown progress, or a killed one must be settled anyway.
    fn deadline(&self, slot: &Slot) -> Option<Instant> {
        deadline(
            slot.doomed.as_ref().map(|(_, killed)| *killed),
            !slot.inflight.is_empty(),
            slot.last_progress,
            self.settings.timeout,
        )
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|s| self.deadline(s))
            .min()
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        for index in 0..self.slots.len() {
            let Some(slot) = self.slots[index].as_ref() else {
                continue;
            };
            if self.deadline(slot).is_none_or(|at| now < at) {
                continue;
            }
            match (&slot.doomed, self.settings.timeout) {
                // Killed a while ago and its channel is still open: settle with what we have.
                (Some(_), _) => self.settle(index, Failure::Died),
                (None, Some(timeout)) => self.doom(index, Failure::Timeout(timeout)),
                (None, None) => {}
            }
        }
    }

    /// Kills the worker in `index` now; it is settled when its listener has read everything
    /// it sent and reports it gone (or [`GRACE`] later, if it cannot even die).
    fn doom(&mut self, index: usize, failure: Failure) {
        if let Some(slot) = self.slots[index].as_mut()
            && slot.doomed.is_none()
        {
            slot.process.signal_kill();
            slot.doomed = Some((failure, Instant::now()));
        }
    }

    /// Kills the worker in `index` (if that was not done yet), settles what it held, and
    /// starts a replacement. A worker doomed earlier is settled for the reason it was doomed.
    fn settle(&mut self, index: usize, failure: Failure) {
        let Some(mut slot) = self.slots[index].take() else {
            return;
        };
        let pid = slot.process.pid;
        let (failure, ending) = match slot.doomed.take() {
            // Killed a grace ago and not dead: stuck in the kernel, left to it.
            Some((doomed, killed)) if killed.elapsed() >= GRACE => (doomed, slot.process.give_up()),
            Some((doomed, _)) => (doomed, slot.process.kill()),
            None => (failure, slot.process.kill()),
        };
        drop(slot.process);
        self.stats.replaced += 1;
        // A worker killed for the timeout had said which file it was stuck on: that file is
        // charged now, without a retry that would stall as long again.
        let stuck_on = match (&failure, slot.reading) {
            (Failure::Timeout(_), Some((batch, at))) => Some((batch, at)),
            _ => None,
        };
        let settled = attribute(slot.inflight, stuck_on);
        let retried = if settled.charged_at_once {
            "not retried: the worker was on it alone"
        } else {
            "already retried once"
        };
        if let Some(culprit) = settled.charged {
            let err = match &failure {
                Failure::Died => FileError::crashed(
                    &culprit.path,
                    format!(
                        "the worker process (pid {pid}) died while reading it: it {ending} \
                         ({retried})"
                    ),
                ),
                Failure::Timeout(timeout) => FileError::timeout(
                    &culprit.path,
                    *timeout,
                    &format!("the worker process (pid {pid}) was killed ({retried})"),
                ),
                Failure::Garbled(why) => FileError::crashed(
                    &culprit.path,
                    format!(
                        "the worker process (pid {pid}) reading it sent {why}; it was killed \
                         ({retried})"
                    ),
                ),
            };
            self.stats.charged += 1;
            self.out.emit(FileResult::of(
                culprit,
                Err(err),
                Duration::ZERO,
                Worker::Process(pid),
            ));
        }
        self.stats.retried += settled.retried;
        self.suspects.extend(settled.suspects);
        self.fresh.extend(settled.fresh);
        self.replace(index, slot.generation + 1);
    }

    /// Starts a worker for slot `index`; after [`START_ATTEMPTS`] failures the slot stays empty.
    fn replace(&mut self, index: usize, generation: u64) {
        for _ in 0..START_ATTEMPTS {
            let settings = &self.settings;
            let work = settings.expected.name;
            match Process::start(&settings.program, settings.connect_timeout, work) {
                Ok(process) => {
                    self.install(index, generation, process);
                    return;
                }
                Err(e) => self.start_error = Some(e),
            }
        }
    }

    /// Puts a connected worker in slot `index` with a thread listening to it.
    fn install(&mut self, index: usize, generation: u64, mut process: Process) {
        let Some(replies) = process.replies.take() else {
            return;
        };
        let events = self.events_tx.clone();
        // Not a thread of the run: a worker stuck in the kernel never closes its channel.
        let listener = thread::Builder::new()
            .name(format!("listen-{}", process.pid))
            .spawn(move || listen(replies, index, generation, &events));
        match listener {
            Ok(_) => self.slots[index] = Some(Slot::new(generation, process)),
            Err(e) => self.start_error = Some(WorkerError::Thread(e)),
        }
    }

    /// Waits for a worker that is still starting on a thread that then listens to it, so the
    /// run reads with the others meanwhile; it joins slot `index` when it connects
    /// ([`Event::Connected`]).
    fn wait_for_connection(&mut self, index: usize, starting: Starting) {
        let events = self.events_tx.clone();
        let timeout = self.settings.connect_timeout;
        // Not a thread of the run either, for the same reason as a listener.
        let waiting = thread::Builder::new()
            .name("connect".into())
            .spawn(move || {
                let mut process = starting.connect(timeout);
                let replies = process.as_mut().ok().and_then(|p| p.replies.take());
                let connected = Event::Connected {
                    slot: index,
                    process,
                };
                // A run that has ended drops the worker with the event: killed and reaped.
                if events.send(connected).is_ok()
                    && let Some(replies) = replies
                {
                    listen(replies, index, 0, &events);
                }
            });
        match waiting {
            Ok(_) => self.connecting += 1,
            Err(e) => self.start_error = Some(WorkerError::Thread(e)),
        }
    }

    /// Reports every job the loop holds and has not sent — new ones and suspects — as not
    /// read, for `why`.
    fn abandon_held(&mut self, why: &str) {
        for job in self.fresh.drain(..).chain(self.suspects.drain(..)) {
            self.out.emit(FileResult::abandoned(job, why));
        }
    }
}

impl Drop for Central<'_> {
    /// Even if the loop panicked, nothing it held is lost: it is reported as not read.
    fn drop(&mut self) {
        self.abandon_held(POOL_STOPPED);
        let sent = self
            .slots
            .iter_mut()
            .filter_map(Option::take)
            .flat_map(|slot| {
                slot.inflight
                    .into_iter()
                    .flat_map(|b| b.jobs.into_iter().skip(b.done))
            });
        for job in sent.collect::<Vec<_>>() {
            self.out.emit(FileResult::abandoned(job, POOL_STOPPED));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_workers_get_a_batch_before_any_gets_its_second() {
        // Slot 1 is empty, slot 3 is being killed, slot 4 holds one batch already.
        let holding = [Some(0), None, Some(0), None, Some(1), Some(2)];
        assert_eq!(hand_out_order(&holding), [0, 2, 0, 2, 4]);
        assert_eq!(hand_out_order(&[Some(OUTSTANDING)]), [] as [usize; 0]);
        assert_eq!(hand_out_order(&[None, None]), [] as [usize; 0]);
    }

    #[test]
    fn jobs_are_asked_for_before_the_workers_run_out() {
        let round = OUTSTANDING * MAX_BATCH;
        // Two workers: two rounds of full batches are asked for once less than one waits.
        assert_eq!(jobs_to_ask_for(2, 0), Some(4 * round));
        assert_eq!(jobs_to_ask_for(2, 2 * round - 1), Some(4 * round));
        assert_eq!(jobs_to_ask_for(2, 2 * round), None);
        assert_eq!(jobs_to_ask_for(1, 2 * round), None);
        assert_eq!(jobs_to_ask_for(3, 2 * round), Some(6 * round));
    }

    #[test]
    fn a_busy_worker_has_until_the_timeout_and_a_killed_one_the_grace() {
        let now = Instant::now();
        let limit = Duration::from_secs(2);
        assert_eq!(deadline(None, true, now, Some(limit)), Some(now + limit));
        assert_eq!(
            deadline(None, false, now, Some(limit)),
            None,
            "idle: nothing to wait for"
        );
        assert_eq!(
            deadline(None, true, now, None),
            None,
            "no timeout: it may take its time"
        );
        let killed = now + Duration::from_secs(1);
        assert_eq!(
            deadline(Some(killed), true, now, Some(limit)),
            Some(killed + GRACE)
        );
        assert_eq!(
            deadline(Some(killed), false, now, None),
            Some(killed + GRACE)
        );
    }
}
