//! The io_uring runtime (`--runtime io-uring`): files opened and read as io_uring operations,
//! many in flight on each of a few threads, one ring a thread, no thread of ours blocked in a
//! read.
//!
//! Each ring thread owns a fixed set of *slots*, each with its reused buffer (allocated when
//! first used). A slot takes a job from the shared queue and walks it through `openat` →
//! `read`s of a buffer's length → `close`; a small file is one read. Every submission and
//! every reaping of completions is one `io_uring_enter` for all the slots of the thread, and
//! the counting runs on the ring thread as each read completes. On a cold tree the kernel
//! keeps every slot's open or read before the device at once — buffered reads wait on their
//! pages, opens that miss the dentry cache go to the kernel's io-wq workers.
//!
//! How many slots are busy is revised after every round ([`RingThread::adapt`]): all of the
//! thread's share while a quarter of its operations or more wait for the device, and back to
//! a few — as many as fit four buffers — once every operation completes as it is submitted (a
//! cached tree), where more files in flight only spread the copies over more memory than the
//! core's cache holds. The few files of a cached tree that must come from the device get a
//! slot each beside those.
//!
//! `statx` goes to an io-wq worker whatever the caches hold, so a file is looked at only when
//! something is odd by reader-core's rules ([`Extent`], applied in [`after_read`]): it is
//! empty, its data ends before or goes past the size the walk found, it runs past
//! [`LOOK_PAST`](steps::LOOK_PAST) (to map, a pseudo-file, a device), or its read is slow ([`SLOW_READ`](deadline::SLOW_READ)).
//! Files are opened with `O_NONBLOCK`, as reader-core opens them, so an entry that became a
//! FIFO after discovery cannot hold the open; its read waits for a writer, is found slow, and
//! `statx` fails it as `not_regular` (a directory fails as `is_directory`), with reader-core's
//! words, once the read is cancelled.
//!
//! What the ring does not read itself goes to a thread of its own with reader-core's
//! [`read_job`](reader_core::read_job), which has every rule for it: files off the local file systems (FUSE, NFS:
//! see [`LocalDir`]), byte ranges (shards' parts), files of [`MAP_FROM`] bytes or more (mapped
//! there), a file whose size says 0 but that has data (a pseudo-file, or one growing), an
//! open that fails as too long a path, a read that comes back `EAGAIN`, and the stalls the
//! fault-injection tests ask for. Such a file keeps its slot, so the files in flight stay
//! bounded; when it is done, an `eventfd` the ring is reading wakes the ring thread.
//!
//! With a per-file timeout, the ring thread wakes at the next deadline; a file past it is
//! reported as `timeout`, its operations are cancelled (`IORING_OP_ASYNC_CANCEL`) and its slot
//! is set aside until they end — counted in [`reader_core::stuck_reads`] meanwhile — while a
//! spare slot stands in for it. A read stuck where the kernel cannot cancel it keeps its slot
//! and, at the end of the run, its buffer, which is leaked rather than freed under the
//! kernel; a thread's read keeps its count until it ends.
//!
//! This file holds the ring thread's loop: slots taken from the queue, operations submitted
//! and completions reaped, files reported. Around it, one job a module:
//! - `ops`: the operations' `user_data`, whether io_uring can be used, how a ring is built;
//! - `steps`: what follows each completion of a file's operation (pure, unit-tested);
//! - `window`: how many files a ring thread keeps in flight;
//! - `offload`: the files handed to a thread of their own, and the `eventfd` that wakes the ring;
//! - `deadline`: how long the ring sleeps, slow reads, and per-file timeouts.

mod deadline;
mod offload;
mod ops;
mod steps;
mod window;

use std::ffi::CString;
use std::io;
use std::mem::{self, MaybeUninit};
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, squeue, types};
use reader_core::extent::{Extent, Size};
use reader_core::{
    Emitter, FileError, FileJob, FileResult, FileWork, HandOff, Jobs, JoinRanges, MAP_FROM,
    Measure, MeasureFile, MeasureRangeFile, RunError, StuckRead, Work, Worker, faults,
};

use self::offload::{LocalDir, Wake, wake};
pub(crate) use self::ops::refusal;
use self::ops::{Op, build_ring, decode, user_data};
use self::steps::{after_range_read, after_read, opened, read_error, stated};
use self::window::MIN_WINDOW;

/// Files of at least `from` bytes go to `to`, unread ([`crate::AsyncReader::hand_off_from`]).
#[derive(Clone)]
pub(crate) struct LargeFiles {
    pub(crate) from: u64,
    pub(crate) to: HandOff,
}

impl std::fmt::Debug for LargeFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeFiles")
            .field("from", &self.from)
            .finish()
    }
}

/// How the ring threads of a run are set up.
#[derive(Debug, Clone)]
pub(crate) struct Rings {
    /// Ring threads.
    pub(crate) threads: usize,
    /// Files in flight in all, shared out between the threads.
    pub(crate) in_flight: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
    /// Slots a thread may set aside for reads abandoned after a timeout, beyond its share.
    pub(crate) spares: usize,
    /// Where files found this large go, unread.
    pub(crate) large: Option<LargeFiles>,
}

/// What the ring threads did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Files read through the rings.
    pub(crate) ring_files: usize,
    /// Files handed to a thread with [`read_job`](reader_core::read_job).
    pub(crate) thread_files: usize,
    /// Files handed off, unread, as large ([`LargeFiles`]).
    pub(crate) handed_off: usize,
}

/// Reads the queue to its end on `rings.threads` ring threads.
pub(crate) fn run(rings: &Rings, jobs: &Jobs, out: &Emitter) -> Result<Tally, RunError> {
    let threads = rings.threads.clamp(1, rings.in_flight.max(1));
    let mut tally = Tally::default();
    let mut first_error = None;
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let share = rings.in_flight / threads + usize::from(index < rings.in_flight % threads);
            let (jobs, out) = (jobs.clone(), out.clone());
            let first_task = (0..index)
                .map(|i| rings.in_flight / threads + usize::from(i < rings.in_flight % threads))
                .sum::<usize>();
            let spawned = thread::Builder::new()
                .name(format!("reader-ring-{index}"))
                .spawn_scoped(scope, move || {
                    RingThread::new(rings, share.max(1), first_task, jobs, out)
                        .and_then(RingThread::run)
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    // The threads that did start read the queue to its end.
                    if handles.is_empty() {
                        first_error = Some(RunError::Spawn {
                            what: "a ring thread".into(),
                            source,
                        });
                    }
                    break;
                }
            }
        }
        for handle in handles {
            match handle.join() {
                Ok(Ok(done)) => {
                    tally.ring_files += done.ring_files;
                    tally.thread_files += done.thread_files;
                    tally.handed_off += done.handed_off;
                }
                Ok(Err(err)) => {
                    first_error.get_or_insert(err);
                }
                Err(payload) => {
                    first_error
                        .get_or_insert(RunError::panicked("a ring thread", payload.as_ref()));
                }
            }
        }
    });
    match first_error {
        Some(err) if tally.ring_files + tally.thread_files + tally.handed_off == 0 => Err(err),
        _ => Ok(tally),
    }
}

/// One file a slot is reading.
struct Reading {
    job: FileJob,
    path: CString,
    started: Instant,
    /// The open descriptor, once `openat` has returned it.
    fd: Option<i32>,
    /// The work on its bytes so far.
    work: SlotWork,
    /// Where it ends, by reader-core's rules, and how far it has been read: where the next
    /// read starts. Its size is the walk's (a size of 0 says nothing), then what `statx` told.
    extent: Extent,
    /// Where its look at the file (`statx`) stands.
    stat: Look,
    /// The data has ended (a read returned 0): the file is done once `statx` has answered.
    ended: bool,
    /// When its read in flight was sent, if one is.
    reading_since: Option<Instant>,
    /// The round ([`RingThread::round`]) its open or read in flight was sent in, if one is.
    sent_in: Option<u64>,
    /// What to do once its operations in flight have ended (they were cancelled).
    then: Option<Next>,
    /// Operations of this file the kernel has not completed yet.
    ops: u32,
    /// Given up on after its timeout: whatever it does from now on is dropped.
    abandoned: bool,
    /// Counts it among the process's stuck reads while its operations are in flight, once
    /// abandoned.
    stuck: Option<StuckRead>,
    /// Where the thread reading it finds the count of its stuck read, once abandoned, and
    /// drops it when its read ends.
    hold: Option<Arc<Mutex<Option<StuckRead>>>>,
    /// The file went to a thread with [`read_job`](reader_core::read_job).
    on_thread: bool,
}

impl Reading {
    /// `job`, at `path`, not started: its size as the walk found it (0 says nothing).
    fn new(job: FileJob, path: CString) -> Reading {
        Reading {
            path,
            started: Instant::now(),
            fd: None,
            work: SlotWork::of(&job),
            extent: Extent::new(Size::walked(job.size), job.max_bytes),
            stat: Look::Not,
            ended: false,
            reading_since: None,
            sent_in: None,
            then: None,
            ops: 0,
            abandoned: false,
            stuck: None,
            hold: None,
            on_thread: false,
            job,
        }
    }
}

/// The work on a slot's bytes.
enum SlotWork {
    /// A whole file's.
    File(MeasureFile),
    /// A byte range's ([`FileJob::part`]): `len` bytes from `start`, `read` of them so far.
    Range {
        state: MeasureRangeFile,
        start: u64,
        len: u64,
        read: u64,
    },
}

impl SlotWork {
    /// The work `job` asks for: of its byte range when it is one and its digests join ranges
    /// (reader-core's thread path reports why the others cannot be read), else of all of it.
    fn of(job: &FileJob) -> SlotWork {
        let measure = Measure::of(job);
        let range = job
            .part
            .and_then(|part| Some((part, measure.clone().ranges()?)));
        match range {
            Some((part, ranges)) => SlotWork::Range {
                state: ranges.start_range(part.start, part.end),
                start: part.start,
                len: part.end.saturating_sub(part.start),
                read: 0,
            },
            None => SlotWork::File(measure.start()),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        match self {
            SlotWork::File(work) => work.update(chunk),
            SlotWork::Range { state, read, .. } => {
                state.update(chunk);
                *read += chunk.len() as u64;
            }
        }
    }
}

/// Whether the ring has looked at a file with `statx` (forced onto an io-wq worker by the
/// kernel, so only when something is odd: see [`after_read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Not,
    Sent,
    Done,
}

/// A slot: a buffer and the file it reads, if any.
struct Slot {
    buf: Box<[u8]>,
    statx: Box<MaybeUninit<libc::statx>>,
    reading: Option<Reading>,
}

/// What becomes of a slot's file after an event.
enum Next {
    /// Operations are in flight; wait for them.
    Wait,
    /// Read the next chunk at this offset.
    ReadAt(u64),
    /// Look at the file with `statx`, and go on with the next step.
    Look(Box<Next>),
    /// Hand the file to a thread.
    Thread,
    /// Hand the file, unread, to whoever takes large ones ([`LargeFiles`]).
    HandOff,
    /// The file is done: read to its end, or failed.
    Done(Result<(), FileError>),
}

/// A file read on a thread, coming back: its slot and its result.
type Back = (usize, FileResult);

/// One ring thread: its ring, its slots and its share of the files in flight.
struct RingThread<'a> {
    ring: IoUring,
    rings: &'a Rings,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Slots reading a file that is not abandoned.
    active: usize,
    /// The most active slots: this thread's share of the files in flight.
    share: usize,
    /// The most active slots now: grows towards `share` while the kernel makes operations
    /// wait (a cold tree), and shrinks back while every one completes as it is submitted (a
    /// cached tree), so that few buffers stay in the core's cache (see [`RingThread::adapt`]).
    window: usize,
    /// The buffer recent files filled, on average (a moving average, in bytes).
    recent_bytes: u64,
    /// Opens and reads of files sent and not completed.
    waiting: usize,
    /// Rounds of submitting and reaping so far.
    round: u64,
    first_task: usize,
    jobs: Jobs,
    out: Emitter,
    drained: bool,
    /// Closes submitted whose completion has not come yet.
    closing: usize,
    /// Files on threads that have not come back.
    on_threads: usize,
    wake: Wake,
    back_tx: Sender<Back>,
    back_rx: Receiver<Back>,
    /// Whether the directory of the last file is on a local file system.
    local: LocalDir,
    /// Entries prepared while the submission queue was full.
    backlog: Vec<squeue::Entry>,
    tally: Tally,
}

impl<'a> RingThread<'a> {
    fn new(
        rings: &'a Rings,
        share: usize,
        first_task: usize,
        jobs: Jobs,
        out: Emitter,
    ) -> Result<RingThread<'a>, RunError> {
        let spares = if rings.timeout.is_some() {
            rings.spares.div_ceil(rings.threads.max(1))
        } else {
            0
        };
        let slots = share + spares;
        // A slot has at most two operations in flight and a cancel for each of three; then
        // the wake-up and the closes. More wait in the backlog.
        let entries = u32::try_from((2 * slots + 8).next_power_of_two()).unwrap_or(4096);
        let ring = build_ring(entries.min(4096)).map_err(|source| RunError::Spawn {
            what: "an io_uring".into(),
            source,
        })?;
        // SAFETY: eventfd takes no memory.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(RunError::Spawn {
                what: "an eventfd for the io_uring".into(),
                source: io::Error::last_os_error(),
            });
        }
        let (back_tx, back_rx) = mpsc::channel();
        Ok(RingThread {
            ring,
            rings,
            slots: (0..slots)
                .map(|_| Slot {
                    buf: Box::default(),
                    statx: Box::new(MaybeUninit::zeroed()),
                    reading: None,
                })
                .collect(),
            free: (0..slots).rev().collect(),
            active: 0,
            share,
            window: MIN_WINDOW.min(share),
            waiting: 0,
            round: 0,
            recent_bytes: rings.buffer_size as u64,
            first_task,
            jobs,
            out,
            drained: false,
            closing: 0,
            on_threads: 0,
            wake: Wake {
                fd,
                value: Box::new(0),
                armed: false,
            },
            back_tx,
            back_rx,
            backlog: Vec::new(),
            local: LocalDir::default(),
            tally: Tally::default(),
        })
    }

    fn run(mut self) -> Result<Tally, RunError> {
        let ended = self.read_all();
        if let Err(err) = &ended {
            // The ring cannot go on: what it holds is reported, as not read.
            let why = format!("the reader's io_uring failed ({err})");
            for slot in &mut self.slots {
                if let Some(reading) = slot.reading.as_mut().filter(|r| !r.abandoned) {
                    reading.abandoned = true;
                    self.out
                        .emit(FileResult::abandoned(reading.job.clone(), &why));
                }
            }
        }
        self.finish();
        ended.map(|()| self.tally)
    }

    fn read_all(&mut self) -> Result<(), RunError> {
        loop {
            self.take_jobs();
            if self.drained && self.active == 0 {
                return Ok(());
            }
            if self.on_threads > 0 && !self.wake.armed {
                self.arm_wake();
            }
            let sent = self.waiting;
            self.round += 1;
            self.submit_and_wait()?;
            self.reap();
            self.adapt(sent);
            self.take_back();
            self.check_slow_reads();
            self.check_deadlines();
        }
    }

    /// Fills the free slots from the queue, waiting for jobs only when nothing is in flight.
    fn take_jobs(&mut self) {
        while !self.drained && self.active < self.window && !self.free.is_empty() {
            let room = (self.window - self.active).min(self.free.len());
            let batch = if self.active == 0 {
                let batch = self.jobs.next_batch(room, &mut self.out);
                self.drained = batch.is_empty();
                batch
            } else {
                self.jobs.try_batch(room)
            };
            if batch.is_empty() {
                return;
            }
            for job in batch {
                self.start(job);
            }
        }
    }

    /// Starts `job` in a free slot: its `openat`, or a thread for what the ring leaves to
    /// reader-core.
    fn start(&mut self, job: FileJob) {
        if let Some(large) = &self.rings.large
            && job.part.is_none()
            && job.joins_ranges()
            && job.size.is_some_and(|size| size >= large.from)
        {
            self.tally.handed_off += 1;
            return (large.to)(job);
        }
        let Some(slot) = self.free.pop() else {
            unreachable!("take_jobs takes no more jobs than there are free slots");
        };
        self.active += 1;
        let to_thread = (job.part.is_none() && job.size.is_some_and(|size| size >= MAP_FROM))
            || faults::blocks(&job.path)
            || !self.local.holds(&job.path);
        // A path holds no NUL byte; should one, reader-core says what it makes of it.
        let path = CString::new(job.path.as_os_str().as_bytes()).ok();
        let to_thread = to_thread || path.is_none();
        let reading = Reading::new(job, path.unwrap_or_default());
        // A byte range is read here when one read can take it (a duplicate search's prefix
        // or suffix): a longer one goes to reader-core, which maps or streams it.
        let to_thread = to_thread
            || match &reading.work {
                SlotWork::Range { len, .. } => *len > self.rings.buffer_size as u64,
                SlotWork::File(_) => reading.job.part.is_some(),
            };
        let job = &reading.job;
        let early = match reading.extent.over() {
            Some(limit) => Some(limit.error(&job.path)),
            None if to_thread => None,
            // Faults the tests inject (a panic) happen where a read begins.
            None => panic::catch_unwind(AssertUnwindSafe(|| faults::before_read(&job.path)))
                .err()
                .map(|payload| FileError::panicked(&job.path, payload.as_ref())),
        };
        let open = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), reading.path.as_ptr())
            .flags(libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .build()
            .user_data(user_data(slot, Op::Open));
        if self.slots[slot].buf.is_empty() {
            self.slots[slot].buf = vec![0; self.rings.buffer_size].into_boxed_slice();
        }
        self.slots[slot].reading = Some(reading);
        if let Some(err) = early {
            return self.follow(slot, Next::Done(Err(err)));
        }
        if to_thread {
            return self.hand_to_thread(slot);
        }
        self.push(slot, open);
    }

    /// Queues an operation of `slot` (counted among its operations in flight).
    fn push(&mut self, slot: usize, entry: squeue::Entry) {
        if let Some(reading) = self.slots[slot].reading.as_mut() {
            reading.ops += 1;
            // A `statx` always goes to an io-wq worker: it says nothing of the caches.
            if decode(entry.get_user_data()).1 != Op::Stat as u64 {
                self.waiting += 1;
                reading.sent_in = Some(self.round);
            }
        }
        self.queue(entry);
    }

    /// Queues an operation.
    fn queue(&mut self, entry: squeue::Entry) {
        // SAFETY: every pointer in an entry (a path, a buffer, a statx, the eventfd's value)
        // belongs to a slot or to the ring thread and stays where it is until the operation
        // completes: a slot is reused only once its operations have all completed, and at the
        // end of the run slots with operations in flight are leaked (`finish`).
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.backlog.push(entry);
        }
    }

    /// Submits what is queued and waits for a completion (or until [`Self::wait_limit`]).
    fn submit_and_wait(&mut self) -> Result<(), RunError> {
        loop {
            while let Some(entry) = self.backlog.pop() {
                // SAFETY: as in `queue`.
                if unsafe { self.ring.submission().push(&entry) }.is_err() {
                    self.backlog.push(entry);
                    break;
                }
            }
            let submitted = match self.wait_limit() {
                Some(limit) => {
                    let spec = types::Timespec::from(limit);
                    let args = types::SubmitArgs::new().timespec(&spec);
                    self.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.submit_and_wait(1),
            };
            match submitted {
                Ok(_) => {}
                // The wait timed out, a signal came, or completions must be reaped before
                // more can be submitted: the caller looks at what is due.
                Err(err)
                    if matches!(
                        err.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(source) => {
                    return Err(RunError::Spawn {
                        what: "io_uring_enter".into(),
                        source,
                    });
                }
            }
            if self.backlog.is_empty() || !self.ring.completion().is_empty() {
                return Ok(());
            }
        }
    }

    /// Handles the completions that have come.
    fn reap(&mut self) {
        let done: Vec<(u64, i32)> = self
            .ring
            .completion()
            .map(|cqe| (cqe.user_data(), cqe.result()))
            .collect();
        for (data, result) in done {
            let (slot, op) = decode(data);
            match op {
                op if op == Op::Close as u64 => self.closing -= 1,
                op if op == Op::Wake as u64 => self.wake.armed = false,
                op if op == Op::Cancel as u64 => {}
                op => self.complete(slot, op, result),
            }
        }
    }

    /// An operation of `slot` has completed with `result`.
    fn complete(&mut self, slot: usize, op: u64, result: i32) {
        let len = self.rings.buffer_size;
        let Slot {
            buf,
            statx,
            reading,
        } = &mut self.slots[slot];
        let Some(reading) = reading.as_mut() else {
            return;
        };
        reading.ops -= 1;
        if op != Op::Stat as u64 {
            self.waiting -= 1;
            reading.sent_in = None;
        }
        if op == Op::Open as u64 && result >= 0 {
            reading.fd = Some(result);
        }
        if op == Op::Read as u64 {
            reading.reading_since = None;
        }
        if reading.abandoned {
            return self.settle_abandoned(slot);
        }
        if reading.then.is_some() {
            if reading.ops == 0
                && let Some(then) = reading.then.take()
            {
                self.follow(slot, then);
            }
            return;
        }
        let next = if op == Op::Open as u64 {
            opened(reading, result)
        } else if op == Op::Stat as u64 {
            reading.stat = Look::Done;
            // A file whose work cannot be split is read here, however large.
            let large = (self.rings.large.as_ref())
                .filter(|_| reading.job.joins_ranges())
                .map(|large| large.from);
            // SAFETY: statx filled it in if it returned 0 (and it is zeroed before).
            stated(reading, result, unsafe { statx.assume_init_ref() }, large)
        } else if result < 0 {
            read_error(reading, result)
        } else {
            let n = usize::try_from(result).unwrap_or(0);
            reading.work.update(&buf[..n]);
            match reading.work {
                SlotWork::File(_) => after_read(reading, n, len),
                SlotWork::Range { .. } => after_range_read(reading, n),
            }
        };
        self.follow(slot, next);
    }

    fn follow(&mut self, slot: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::ReadAt(offset) => {
                let Slot { buf, reading, .. } = &mut self.slots[slot];
                let Some(reading) = reading.as_mut() else {
                    return;
                };
                let Some(fd) = reading.fd else {
                    return;
                };
                reading.reading_since = Some(Instant::now());
                let left = match reading.work {
                    SlotWork::Range { len, read, .. } => len - read,
                    SlotWork::File(_) => u64::MAX,
                };
                let len = u32::try_from(left.min(buf.len() as u64)).unwrap_or(u32::MAX);
                let read = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), len)
                    .offset(offset)
                    .build()
                    .user_data(user_data(slot, Op::Read));
                self.push(slot, read);
            }
            Next::Look(then) => {
                self.look(slot);
                self.follow(slot, *then);
            }
            Next::Thread | Next::HandOff | Next::Done(_) if self.in_flight(slot) => {
                // What is in flight (a read of what is not a regular file, or of a file the
                // ring leaves to a thread) is cancelled first; then this.
                if let Some(reading) = self.slots[slot].reading.as_mut() {
                    reading.then = Some(next);
                }
                self.cancel(slot);
            }
            Next::Thread => {
                self.close_fd(slot);
                self.hand_to_thread(slot);
            }
            Next::HandOff => {
                self.close_fd(slot);
                if let (Some(reading), Some(large)) =
                    (self.slots[slot].reading.take(), &self.rings.large)
                {
                    self.free.push(slot);
                    self.active -= 1;
                    self.tally.handed_off += 1;
                    (large.to)(FileJob {
                        size: reading.extent.size().bytes(),
                        ..reading.job
                    });
                }
            }
            Next::Done(outcome) => self.done(slot, outcome),
        }
    }

    fn in_flight(&self, slot: usize) -> bool {
        self.slots[slot]
            .reading
            .as_ref()
            .is_some_and(|reading| reading.ops > 0)
    }

    /// Sends the `statx` of the slot's open file, once.
    fn look(&mut self, slot: usize) {
        let Slot { statx, reading, .. } = &mut self.slots[slot];
        let Some(reading) = reading.as_mut() else {
            return;
        };
        let Some(fd) = reading.fd.filter(|_| reading.stat == Look::Not) else {
            return;
        };
        reading.stat = Look::Sent;
        let stat = opcode::Statx::new(
            types::Fd(fd),
            c"".as_ptr(),
            statx.as_mut_ptr().cast::<types::statx>(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_TYPE | libc::STATX_SIZE)
        .build()
        .user_data(user_data(slot, Op::Stat));
        self.push(slot, stat);
    }

    fn close_fd(&mut self, slot: usize) {
        if let Some(fd) = self.slots[slot].reading.as_mut().and_then(|r| r.fd.take()) {
            let close = opcode::Close::new(types::Fd(fd))
                .build()
                .user_data(user_data(0, Op::Close));
            self.closing += 1;
            self.queue(close);
        }
    }

    /// Reports the slot's file and frees the slot (nothing of it is in flight).
    fn done(&mut self, slot: usize, outcome: Result<(), FileError>) {
        self.close_fd(slot);
        let Some(reading) = self.slots[slot].reading.take() else {
            return;
        };
        self.free.push(slot);
        self.active -= 1;
        self.tally.ring_files += 1;
        let worker = self.worker(slot);
        let elapsed = reading.started.elapsed();
        let result = match reading.work {
            SlotWork::File(work) => {
                if outcome.is_ok() {
                    let filled = reading.extent.position().min(self.rings.buffer_size as u64);
                    self.recent_bytes = (self.recent_bytes * 7 + filled) / 8;
                }
                let outcome = outcome.map(|()| work.finish());
                FileResult::measured(reading.job, outcome, elapsed, worker)
            }
            SlotWork::Range { state, .. } => {
                let outcome = outcome.map(|()| state.finish());
                FileResult::measured_range(reading.job, outcome, elapsed, worker)
            }
        };
        self.out.emit(result);
    }

    fn worker(&self, slot: usize) -> Worker {
        Worker::Task(u32::try_from(self.first_task + slot).unwrap_or(u32::MAX))
    }

    /// The end of the run: waits for the closes and the ring's read of its eventfd. What the
    /// kernel or a thread may still write into — the slots of reads it could not cancel, the
    /// eventfd a thread still reading will write to — is leaked rather than freed under it.
    fn finish(&mut self) {
        while self.closing > 0 || self.wake.armed {
            if self.wake.armed {
                wake(self.wake.fd);
            }
            if self.submit_and_wait().is_err() {
                break;
            }
            self.reap();
        }
        self.out.flush();
        let busy = self
            .slots
            .iter()
            .any(|slot| slot.reading.as_ref().is_some_and(|reading| reading.ops > 0));
        if busy || self.wake.armed || self.closing > 0 {
            mem::forget(mem::take(&mut self.slots));
            mem::forget(mem::replace(&mut self.wake.value, Box::new(0)));
        }
        if self.on_threads == 0 {
            // SAFETY: our own eventfd, closed once; no read of it is armed and no thread is
            // left to write to it.
            unsafe { libc::close(self.wake.fd) };
        }
    }
}
